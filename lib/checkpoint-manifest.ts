/**
 * A checkpoint's manifest.json: the size and CRC-32C of every other file in
 * the checkpoint directory. It is written last (atomically), so its presence
 * marks a complete checkpoint, and it is verified on every load, so a flipped
 * bit anywhere is ERR_CORRUPT_FILE naming the file instead of weights silently
 * trained on. Checkpoints from before manifests load unverified.
 */
import * as fs from 'fs';
import * as path from 'path';

import { ElectraError } from './errors';
import { writeFileAtomic } from './io/atomic';
import { digestFile, FileDigest } from './io/checksum';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 'electra-native-manifest/1';

export interface CheckpointManifest {
  format: typeof MANIFEST_FORMAT;
  /** Every file of the checkpoint directory but the manifest itself. */
  files: Record<string, FileDigest>;
}

/** The checkpoint's files to cover: regular files, not hidden (temporary) ones, not the manifest. */
function coveredFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.startsWith('.') && e.name !== MANIFEST_FILE)
    .map((e) => e.name)
    .sort();
}

/**
 * Writes `dir`'s manifest (atomically, last): the digests in `known` (of
 * files just written, computed from memory), and every other file of `dir`
 * digested from disk.
 */
export async function writeManifest(dir: string, known: Record<string, FileDigest> = {}): Promise<CheckpointManifest> {
  const files: Record<string, FileDigest> = {};
  for (const name of coveredFiles(dir)) files[name] = known[name] ?? (await digestFile(path.join(dir, name)));
  const manifest: CheckpointManifest = { format: MANIFEST_FORMAT, files };
  await writeFileAtomic(path.join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

/** Parses a manifest strictly: ERR_CORRUPT_FILE naming it when it is not one. */
export function parseManifest(text: string, file: string): CheckpointManifest {
  const bad = (m: string): never => {
    throw new ElectraError('ERR_CORRUPT_FILE', `${file}: ${m}`);
  };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return bad(`malformed JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad('expected a JSON object');
  const o = v as Record<string, unknown>;
  if (o.format !== MANIFEST_FORMAT) bad(`format is ${JSON.stringify(o.format)}, expected "${MANIFEST_FORMAT}"`);
  if (typeof o.files !== 'object' || o.files === null || Array.isArray(o.files)) return bad('"files" must be an object');
  const files: Record<string, FileDigest> = {};
  for (const [name, d] of Object.entries(o.files as Record<string, unknown>)) {
    if (name === '' || name.includes('/') || name.includes('\\') || name === '.' || name === '..') bad(`invalid file name ${JSON.stringify(name)}`);
    const e = d as Record<string, unknown> | null;
    if (typeof e !== 'object' || e === null || !Number.isSafeInteger(e.bytes) || (e.bytes as number) < 0 || typeof e.crc32c !== 'string' || !/^[0-9a-f]{8}$/.test(e.crc32c)) {
      bad(`entry ${JSON.stringify(name)} must be {"bytes": <integer >= 0>, "crc32c": "<8 hex digits>"}`);
    }
    files[name] = { bytes: e!.bytes as number, crc32c: e!.crc32c as string };
  }
  return { format: MANIFEST_FORMAT, files };
}

/**
 * Verifies every file listed in `dir`'s manifest. Returns the manifest, or
 * null when the directory has none (a checkpoint from before manifests).
 * A missing file, or a size or digest mismatch, is ERR_CORRUPT_FILE naming the file.
 */
export async function verifyCheckpoint(dir: string): Promise<CheckpointManifest | null> {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ElectraError('ERR_IO', `cannot read ${file}: ${(e as Error).message}`);
  }
  const manifest = parseManifest(text, file);
  for (const [name, want] of Object.entries(manifest.files)) {
    const f = path.join(dir, name);
    if (!fs.existsSync(f)) throw new ElectraError('ERR_CORRUPT_FILE', `${f}: listed in ${MANIFEST_FILE} but missing`);
    const got = await digestFile(f);
    if (got.bytes !== want.bytes) {
      throw new ElectraError('ERR_CORRUPT_FILE', `${f}: ${got.bytes} bytes, but ${MANIFEST_FILE} recorded ${want.bytes} (truncated or replaced)`);
    }
    if (got.crc32c !== want.crc32c) {
      throw new ElectraError('ERR_CORRUPT_FILE', `${f}: checksum mismatch (CRC-32C ${got.crc32c}, ${MANIFEST_FILE} recorded ${want.crc32c}): the file is corrupt`);
    }
  }
  return manifest;
}
