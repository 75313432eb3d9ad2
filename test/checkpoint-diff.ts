// Bit-for-bit comparison of two checkpoint directories, as written by
// Trainer.saveCheckpoint: read back from disk, so what is compared is what a
// resume would load, not what happens to be in memory.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { parseSafetensors } from '../lib/io/safetensors';

/** Every difference between two safetensors files: names, dtypes, shapes, raw bytes and metadata. */
export function safetensorsDifferences(a: string, b: string): string[] {
  const fa = parseSafetensors(fs.readFileSync(a), a);
  const fb = parseSafetensors(fs.readFileSync(b), b);
  const out: string[] = [];
  const label = path.basename(a);
  for (const name of new Set([...fa.tensors.keys(), ...fb.tensors.keys()])) {
    const x = fa.tensors.get(name);
    const y = fb.tensors.get(name);
    if (!x || !y) out.push(`${label}: ${name} only in ${x ? 'the first' : 'the second'}`);
    else if (x.dtype !== y.dtype || x.shape.join(',') !== y.shape.join(',')) out.push(`${label}: ${name}: ${x.dtype}[${x.shape}] vs ${y.dtype}[${y.shape}]`);
    else if (!x.bytes.equals(y.bytes)) out.push(`${label}: ${name}: bytes differ`);
  }
  if (JSON.stringify(fa.metadata) !== JSON.stringify(fb.metadata)) out.push(`${label}: metadata ${JSON.stringify(fa.metadata)} vs ${JSON.stringify(fb.metadata)}`);
  return out;
}

/**
 * Every difference between two checkpoints: each weight (model.safetensors),
 * each AdamW moment m/v (optimizer.safetensors, whose metadata carries the
 * step), trainer.json (step, data position, hyper-parameters) and any other
 * file, byte for byte. Also refuses checkpoints that would compare equal
 * vacuously: no moments, or moments that are all zero on both sides.
 */
export function checkpointDifferences(a: string, b: string): string[] {
  const files = [...new Set([...fs.readdirSync(a), ...fs.readdirSync(b)])].sort();
  const out: string[] = [];
  for (const f of ['model.safetensors', 'optimizer.safetensors', 'trainer.json']) if (!files.includes(f)) out.push(`${f} missing from both`);
  for (const f of files) {
    const pa = path.join(a, f);
    const pb = path.join(b, f);
    if (!fs.existsSync(pa) || !fs.existsSync(pb)) out.push(`${f} only in ${fs.existsSync(pa) ? a : b}`);
    else if (f.endsWith('.safetensors')) out.push(...safetensorsDifferences(pa, pb));
    else if (!fs.readFileSync(pa).equals(fs.readFileSync(pb))) out.push(`${f}: ${fs.readFileSync(pa, 'utf8')} vs ${fs.readFileSync(pb, 'utf8')}`);
  }
  const opt = path.join(a, 'optimizer.safetensors');
  if (fs.existsSync(opt)) {
    const st = parseSafetensors(fs.readFileSync(opt), opt);
    const model = parseSafetensors(fs.readFileSync(path.join(a, 'model.safetensors')), 'model.safetensors');
    for (const name of model.tensors.keys()) {
      for (const k of ['m', 'v']) if (!st.tensors.has(`${k}/${name}`)) out.push(`optimizer.safetensors has no ${k}/${name}`);
    }
    const step = JSON.parse(fs.readFileSync(path.join(a, 'trainer.json'), 'utf8')).step as number;
    if (step > 0 && ![...st.tensors.values()].some((t) => t.bytes.some((x) => x !== 0))) out.push('optimizer.safetensors: every moment is zero after a step');
  }
  return out;
}
