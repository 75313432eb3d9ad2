// Seeded mutation of valid inputs for the parser fuzz harness: byte-level
// (bit flips, interesting bytes, deletions, insertions, duplications,
// truncation) and JSON-level (values replaced by hostile ones, keys dropped,
// types swapped). Same seed, same cases.

/** mulberry32: small, fast, seedable. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x0a, 0x2d, 0x30, 0x39, 0xc3, 0xe2, 0xf0];

export function mutateBytes(input: Buffer, r: () => number): Buffer {
  let b = Buffer.from(input);
  const n = 1 + Math.floor(r() * 4);
  const pick = (len: number) => Math.floor(r() * Math.max(1, len));
  for (let k = 0; k < n; k++) {
    const op = Math.floor(r() * 7);
    if (op === 0 && b.length > 0) b[pick(b.length)] ^= 1 << Math.floor(r() * 8);
    else if (op === 1 && b.length > 0) b[pick(b.length)] = INTERESTING_BYTES[pick(INTERESTING_BYTES.length)];
    else if (op === 2 && b.length > 0) {
      const at = pick(b.length);
      b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + pick(16)))]);
    } else if (op === 3) {
      const at = pick(b.length + 1);
      const ins = Buffer.from(Array.from({ length: 1 + pick(8) }, () => Math.floor(r() * 256)));
      b = Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
    } else if (op === 4 && b.length > 0) {
      const at = pick(b.length);
      const len = 1 + pick(32);
      b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + len), b.subarray(at)]);
    } else if (op === 5) b = b.subarray(0, pick(b.length + 1));
    else if (op === 6 && b.length >= 8) {
      // A little-endian 32/64-bit integer somewhere set to an extreme.
      const at = pick(b.length - 8);
      const v = [0n, 1n, 0xffffffffn, 0x7fffffffffffffffn, 0xffffffffffffffffn, BigInt(b.length), BigInt(b.length + 1)][pick(7)];
      b.writeBigUInt64LE(v, at);
    }
  }
  return b;
}

const HOSTILE: unknown[] = [null, true, false, 0, -1, 1.5, 1e308, -1e308, 2 ** 53, NaN, '', 'x', '../x', [], [1, 2], {}, { a: 1 }, '\u0000', 'ﬀ', 4294967296];

/** Replaces, drops or retypes values at random paths of a parsed JSON value. */
export function mutateJson(value: unknown, r: () => number): unknown {
  const v = JSON.parse(JSON.stringify(value)) as unknown;
  const n = 1 + Math.floor(r() * 3);
  let root = v;
  for (let k = 0; k < n; k++) {
    // Walk to a random container.
    const containers: { obj: Record<string, unknown> | unknown[]; key: string | number }[] = [];
    const walk = (x: unknown) => {
      if (x && typeof x === 'object') {
        for (const [key, child] of Object.entries(x as Record<string, unknown>)) {
          containers.push({ obj: x as Record<string, unknown>, key: Array.isArray(x) ? Number(key) : key });
          walk(child);
        }
      }
    };
    walk(root);
    if (containers.length === 0) {
      root = HOSTILE[Math.floor(r() * HOSTILE.length)];
      continue;
    }
    const c = containers[Math.floor(r() * containers.length)];
    const op = Math.floor(r() * 4);
    const o = c.obj as Record<string | number, unknown>;
    if (op === 0) o[c.key] = HOSTILE[Math.floor(r() * HOSTILE.length)];
    else if (op === 1 && !Array.isArray(c.obj)) delete o[c.key];
    else if (op === 2) o[c.key] = typeof o[c.key] === 'number' ? String(o[c.key]) : typeof o[c.key] === 'string' ? Number(o[c.key]) || 7 : [o[c.key]];
    else if (!Array.isArray(c.obj)) o[`${String(c.key)}x`] = o[c.key];
  }
  return root;
}

/** A JSON text mutated either structurally or at the byte level. */
export function mutateJsonText(value: unknown, r: () => number): string {
  if (r() < 0.6) return JSON.stringify(mutateJson(value, r), null, r() < 0.5 ? 2 : undefined) ?? 'undefined';
  return mutateBytes(Buffer.from(JSON.stringify(value, null, 2)), r).toString('utf8');
}
