/**
 * The corpus that ships in the package (corpus/, see corpus/NOTICE): the Brown
 * corpus as plain text, one sentence per line, a blank line between documents;
 * 475 documents for training and every 20th document (25) held out.
 *
 * `ensureDataset` builds a pre-training dataset (manifest + shards) with the
 * dataset builder once per (corpus files, vocabulary, lowercase, seqLen,
 * seed, builder version) and reuses it afterwards: the build goes to a
 * temporary sibling directory that is renamed into place when complete, so
 * an interrupted or concurrent build never leaves a half-written dataset
 * where a later run would take it for a finished one.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { PRESETS, type PresetName } from '../config';
import { ElectraError } from '../errors';
import { pidAlive } from '../run-lock';
import { buildDataset, BuildProgress, listSources, vocabFileHash } from './dataset-builder';
import { BUILDER_VERSION, DatasetManifest, MANIFEST_FILE } from './dataset-format';
import { BERT_UNCASED_VOCAB } from './tokenizer';

/** The package root (this file is lib/data/*.ts under ts-jest, dist/data/*.js when compiled). */
const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');

/** The embedded Brown corpus files (gzipped text) inside the package. */
export function defaultCorpusPaths(): { train: string; heldout: string } {
  return {
    train: path.join(PACKAGE_ROOT, 'corpus', 'brown.txt.gz'),
    heldout: path.join(PACKAGE_ROOT, 'corpus', 'brown-heldout.txt.gz'),
  };
}

/**
 * The 2,048-token uncased WordPiece vocabulary learned from the embedded
 * training corpus (vocab/brown-2048.txt; vocab/NOTICE says how): the default
 * run's vocabulary. A 30,522-way generator softmax over a 1M-word corpus is
 * mostly cost, and most of its rows are never seen.
 */
export const BROWN_VOCAB = path.join(PACKAGE_ROOT, 'vocab', 'brown-2048.txt');

/** How BROWN_VOCAB is learned (electra-native vocab with these options); the tests learn it again. */
export const BROWN_VOCAB_OPTIONS = { size: 2048, lowercase: true, minFrequency: 2, limitAlphabet: 1000 } as const;

/** The vocabulary `train` uses on the embedded corpus without --vocab: the preset's choice (BROWN_VOCAB for tiny, BERT uncased for the paper's presets). */
export function defaultVocabFile(preset: PresetName = 'tiny'): string {
  const p = PRESETS[preset];
  if (!p) throw new ElectraError('ERR_INVALID_ARGUMENT', `unknown preset '${String(preset)}'`);
  return p.corpusVocab ? BROWN_VOCAB : BERT_UNCASED_VOCAB;
}

/** Where datasets built from the embedded corpus are cached (shared by runs): $TMPDIR/electra-native/datasets. */
export function defaultDatasetCacheDir(): string {
  return path.join(os.tmpdir(), 'electra-native', 'datasets');
}

export interface EnsureDatasetOptions {
  /** Corpus files and directories (as for the dataset builder). */
  inputs: string[];
  vocabFile: string;
  lowercase?: boolean;
  seqLen: number;
  seed: number;
  /** The dataset goes to `<cacheDir>/<name>-<key>`. Default: defaultDatasetCacheDir(). */
  cacheDir?: string;
  /** A readable prefix for the directory name (default "dataset"). */
  name?: string;
  /** Dataset builder worker threads (default: every core). */
  workers?: number;
  onProgress?: (p: BuildProgress) => void;
}

export interface EnsuredDataset {
  dir: string;
  manifest: DatasetManifest;
  /** False when this call built it. */
  reused: boolean;
  /** Build time (0 when reused). */
  elapsedMs: number;
}

/**
 * The cache key: everything the examples depend on. Corpus files count by
 * resolved path, size and modification time (not content: hashing a large
 * corpus on every run would cost more than it saves).
 */
export function datasetKey(opts: Pick<EnsureDatasetOptions, 'inputs' | 'vocabFile' | 'lowercase' | 'seqLen' | 'seed'>): string {
  const sources = listSources(opts.inputs).map((s) => {
    const st = fs.statSync(s.path);
    return [path.resolve(s.path), st.size, Math.floor(st.mtimeMs)];
  });
  const key = {
    builder: BUILDER_VERSION,
    vocab: vocabFileHash(opts.vocabFile),
    lowercase: opts.lowercase ?? true,
    seqLen: opts.seqLen,
    seed: opts.seed,
    sources,
  };
  return createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 16);
}

function readManifest(dir: string): DatasetManifest | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')) as DatasetManifest;
  } catch {
    return undefined;
  }
}

/** Builds the dataset for `opts` unless a finished build with the same key exists; returns where it is. */
export async function ensureDataset(opts: EnsureDatasetOptions): Promise<EnsuredDataset> {
  const lowercase = opts.lowercase ?? true;
  const key = datasetKey({ ...opts, lowercase });
  const root = path.resolve(opts.cacheDir ?? defaultDatasetCacheDir());
  const dir = path.join(root, `${opts.name ?? 'dataset'}-${key}`);
  const existing = readManifest(dir);
  if (existing) return { dir, manifest: existing, reused: true, elapsedMs: 0 };
  try {
    await fs.promises.mkdir(root, { recursive: true });
  } catch (e) {
    throw new ElectraError('ERR_IO', `cannot create the dataset cache ${root}: ${(e as Error).message}`);
  }
  removeAbandonedBuilds(root);
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  try {
    const res = await buildDataset({
      inputs: opts.inputs,
      outDir: tmp,
      vocabFile: opts.vocabFile,
      lowercase,
      seqLen: opts.seqLen,
      seed: opts.seed,
      workers: opts.workers,
      onProgress: opts.onProgress,
    });
    try {
      await fs.promises.rename(tmp, dir);
    } catch (e) {
      // Another process finished the same build first: use theirs.
      const theirs = readManifest(dir);
      if (!theirs) throw new ElectraError('ERR_IO', `cannot move the dataset into ${dir}: ${(e as Error).message}`);
      return { dir, manifest: theirs, reused: true, elapsedMs: res.elapsedMs };
    }
    return { dir, manifest: res.manifest, reused: false, elapsedMs: res.elapsedMs };
  } finally {
    await fs.promises.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * Removes partial builds (`NAME.tmp-PID-TIME`) whose building process is gone
 * (a kill, a crash, a full disk): they would otherwise stay forever. Builds of
 * live processes are left alone, so concurrent builds in a shared cache are safe.
 */
export function removeAbandonedBuilds(root: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return removed;
  }
  for (const n of names) {
    const m = /\.tmp-(\d+)-\d+$/.exec(n);
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    fs.rmSync(path.join(root, n), { recursive: true, force: true });
    removed.push(path.join(root, n));
  }
  return removed;
}
