#!/usr/bin/env node
'use strict';
// Lists the CUDA code in a binary: the GPU targets of the SASS (native code)
// and PTX (JIT-compiled by the driver) in its fat binaries, read from the
// fatbin headers themselves, so it needs no CUDA tools (cuobjdump is not
// always installed). Usage: node scripts/cuda-targets.js FILE [--json]
//
// Fatbin layout (as nvcc writes it; the format is undocumented but stable):
// a 16-byte header (magic 0xBA55ED50, u16 version, u16 header size, u64 size
// of the entries), then entries, each a header (u16 kind: 1 PTX, 2 ELF/SASS;
// u32 header size at +4; u64 payload size at +8; u32 sm version at +28) and
// its payload. nvcc makes one fatbin per .cu file.
const fs = require('node:fs');

const MAGIC = Buffer.from([0x50, 0xed, 0x55, 0xba]);

/** { fatbins, sass: [80, ...], ptx: [120], perTarget: { 'sass sm_80': n } } of a binary's bytes. */
function cudaTargets(bytes) {
  const sass = new Set();
  const ptx = new Set();
  const perTarget = {};
  let fatbins = 0;
  for (let i = bytes.indexOf(MAGIC); i >= 0 && i + 16 <= bytes.length; i = bytes.indexOf(MAGIC, i + 4)) {
    if (bytes.readUInt16LE(i + 6) !== 16) continue; // not a fatbin header, just the same 4 bytes
    const end = i + 16 + Number(bytes.readBigUInt64LE(i + 8));
    if (end > bytes.length) continue;
    fatbins++;
    for (let p = i + 16; p + 32 <= end; ) {
      const kind = bytes.readUInt16LE(p);
      const headerSize = bytes.readUInt32LE(p + 4);
      const size = Number(bytes.readBigUInt64LE(p + 8));
      const sm = bytes.readUInt32LE(p + 28);
      if (headerSize < 32) break;
      if (kind === 1) ptx.add(sm);
      if (kind === 2) sass.add(sm);
      const key = `${kind === 1 ? 'ptx' : kind === 2 ? 'sass' : `kind${kind}`} sm_${sm}`;
      perTarget[key] = (perTarget[key] || 0) + 1;
      p += headerSize + size;
    }
  }
  const sorted = (s) => [...s].sort((a, b) => a - b);
  return { fatbins, sass: sorted(sass), ptx: sorted(ptx), perTarget };
}

/** What a CMAKE_CUDA_ARCHITECTURES list ("80-real,90" or ";"-separated) compiles: "-real" SASS only, "-virtual" PTX only, plain both. */
function expectedTargets(archs) {
  const sass = new Set();
  const ptx = new Set();
  for (const a of archs.split(/[,;]/).filter(Boolean)) {
    const m = /^(\d+)[af]?(-real|-virtual)?$/.exec(a.trim());
    if (!m) throw new Error(`cuda-targets: cannot read the CUDA architecture '${a}'`);
    if (m[2] !== '-virtual') sass.add(Number(m[1]));
    if (m[2] !== '-real') ptx.add(Number(m[1]));
  }
  const sorted = (s) => [...s].sort((a, b) => a - b);
  return { sass: sorted(sass), ptx: sorted(ptx) };
}

module.exports = { cudaTargets, expectedTargets };

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node scripts/cuda-targets.js FILE [--json]\n');
    process.exit(2);
  }
  const t = cudaTargets(fs.readFileSync(file));
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(t)}\n`);
  } else {
    const list = (xs) => (xs.length ? xs.map((x) => `sm_${x}`).join(' ') : 'none');
    process.stdout.write(`${file}: ${t.fatbins} fat binaries; SASS ${list(t.sass)}; PTX ${list(t.ptx)}\n`);
  }
}
