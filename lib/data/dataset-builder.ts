/**
 * Builds pre-training examples from text corpora with the rules of the ELECTRA
 * reference (google-research/electra build_pretraining_dataset.py,
 * ExampleBuilder): one sentence per line, blank lines between documents;
 * sentences accumulate until the target length; examples never cross
 * documents; 5% of examples get a random target length in [5, max]; 10% are
 * a single segment; a sentence that would overflow segment A still goes there
 * 50% of the time; A is cut to max-2 tokens, then B to what is left.
 *
 * Determinism: every document draws its random numbers from a generator
 * seeded by (seed, file index, byte offset of the document's first line), so
 * the examples are a pure function of (inputs, vocabulary, seqLen, seed),
 * whatever the number of workers. Files are split into fixed-size byte
 * chunks (gzip files: one chunk each); a chunk owns the documents whose
 * preceding blank line (or the file start) lies in it, so each document is
 * read by exactly one worker. Each chunk becomes one shard, numbered in
 * (file, offset) order.
 *
 * This module is also the worker script (worker_threads).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TextDecoder } from 'util';
import { Worker, isMainThread, parentPort, workerData } from 'worker_threads';
import * as zlib from 'zlib';

import { ElectraError, ElectraErrorCode, isElectraErrorCode } from '../errors';
import { describeWriteError } from '../io/append-log';
import { writeFileAtomic } from '../io/atomic';
import {
  BUILDER_VERSION,
  DATASET_FORMAT,
  DatasetManifest,
  MANIFEST_FILE,
  SHARD_HEADER_BYTES,
  SHARD_VERSION,
  encodeShardHeader,
  recordBytes,
  shardFileName,
} from './dataset-format';
import { WordPieceTokenizer } from './tokenizer';

// ---------------------------------------------------------------------------
// Random numbers: sfc32 seeded by a hash of (seed, file, offset).

export type Rng = () => number;

function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The generator of one document: uniform floats in [0, 1). */
export function documentRng(seed: number, fileIndex: number, offset: number): Rng {
  const lo = offset >>> 0;
  const hi = Math.floor(offset / 4294967296) >>> 0;
  let a = mix32((seed >>> 0) ^ 0x9e3779b9);
  let b = mix32(a ^ Math.imul(fileIndex + 1, 0x27d4eb2f));
  let c = mix32(b ^ lo ^ 0x165667b1);
  let d = mix32(c ^ hi ^ 0xd3a2646c);
  let ctr = 1;
  const next = () => {
    const t = (((a + b) | 0) + ctr) | 0;
    ctr = (ctr + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    d = t;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  void d;
  return next;
}

// ---------------------------------------------------------------------------
// The reference's example rules, one document at a time.

/** Probability that an example has a single segment (reference: 0.1). */
export const SINGLE_SEGMENT_PROB = 0.1;
/** Probability that an example's target length is random in [5, max] (reference: 0.05). */
export const SHORT_TARGET_PROB = 0.05;

/**
 * The reference ExampleBuilder, restricted to one document: call
 * startDocument, addSentence per line, endDocument. `emit` gets the ids
 * ([CLS] A [SEP] B [SEP], unpadded) and the length of [CLS] A [SEP].
 */
export class ExampleBuilder {
  private cur: ArrayLike<number>[] = [];
  private curLen = 0;
  private target: number;
  private rng: Rng = Math.random;

  constructor(
    readonly maxLength: number,
    private readonly clsId: number,
    private readonly sepId: number,
    private readonly emit: (ids: number[], lenA: number) => void,
  ) {
    this.target = maxLength;
  }

  private drawTarget(): number {
    // random.randint(5, max) is inclusive at both ends.
    return this.rng() < SHORT_TARGET_PROB ? 5 + Math.floor(this.rng() * (this.maxLength - 4)) : this.maxLength;
  }

  startDocument(rng: Rng): void {
    this.rng = rng;
    this.cur = [];
    this.curLen = 0;
    this.target = this.drawTarget();
  }

  /** A line's token ids (an empty line changes nothing, as in the reference). */
  addSentence(ids: ArrayLike<number>): void {
    if (ids.length === 0) return;
    this.cur.push(ids);
    this.curLen += ids.length;
    if (this.curLen >= this.target) this.create();
  }

  endDocument(): void {
    if (this.curLen !== 0) this.create();
    this.cur = [];
    this.curLen = 0;
  }

  private create(): void {
    const rng = this.rng;
    const firstTarget = rng() < SINGLE_SEGMENT_PROB ? 100000 : Math.floor((this.target - 3) / 2);
    const a: number[] = [];
    const b: number[] = [];
    for (const s of this.cur) {
      if (a.length === 0 || a.length + s.length < firstTarget || (b.length === 0 && a.length < firstTarget && rng() < 0.5)) {
        for (let i = 0; i < s.length; i++) a.push(s[i]);
      } else {
        for (let i = 0; i < s.length; i++) b.push(s[i]);
      }
    }
    const max = this.maxLength;
    if (a.length > max - 2) a.length = max - 2;
    const bLen = Math.min(b.length, Math.max(0, max - a.length - 3));
    this.cur = [];
    this.curLen = 0;
    this.target = this.drawTarget();
    const ids: number[] = [this.clsId];
    for (const t of a) ids.push(t);
    ids.push(this.sepId);
    const lenA = ids.length;
    if (bLen > 0) {
      for (let i = 0; i < bLen; i++) ids.push(b[i]);
      ids.push(this.sepId);
    }
    this.emit(ids, lenA);
  }
}

// ---------------------------------------------------------------------------
// Inputs.

export interface SourceFile {
  path: string;
  bytes: number;
  gzip: boolean;
}

function ioError(file: string, e: unknown): ElectraError {
  const err = e as NodeJS.ErrnoException;
  const why = err.code === 'ENOENT' ? 'file not found' : err.message;
  return new ElectraError('ERR_IO', `cannot read ${file}: ${why}`);
}

/** Expands the inputs: files as given, directories recursively in sorted order (dot-files skipped). */
export function listSources(inputs: string[]): SourceFile[] {
  const out: SourceFile[] = [];
  const seen = new Set<string>();
  const add = (p: string, explicit: boolean) => {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch (e) {
      throw ioError(p, e);
    }
    if (st.isDirectory()) {
      let names: string[];
      try {
        names = fs.readdirSync(p);
      } catch (e) {
        throw ioError(p, e);
      }
      names.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
      for (const n of names) if (!n.startsWith('.')) add(path.join(p, n), false);
    } else if (st.isFile()) {
      const abs = path.resolve(p);
      if (seen.has(abs)) return;
      seen.add(abs);
      out.push({ path: p, bytes: st.size, gzip: p.endsWith('.gz') });
    } else if (explicit) {
      throw new ElectraError('ERR_INVALID_ARGUMENT', `${p} is neither a file nor a directory`);
    }
  };
  for (const i of inputs) add(i, true);
  return out;
}

const SNIFF_BYTES = 64 * 1024;

async function readHead(src: SourceFile): Promise<Buffer> {
  const raw = fs.createReadStream(src.path, src.gzip ? {} : { end: SNIFF_BYTES - 1 });
  const stream: NodeJS.ReadableStream = src.gzip ? raw.pipe(zlib.createGunzip()) : raw;
  const parts: Buffer[] = [];
  let n = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      raw.on('error', (e) => reject(ioError(src.path, e)));
      stream.on('error', (e: Error) => reject(new ElectraError('ERR_CORRUPT_FILE', `${src.path}: not a valid gzip file (${e.message})`)));
      stream.on('data', (b: Buffer) => {
        parts.push(b);
        n += b.length;
        if (n >= SNIFF_BYTES) resolve();
      });
      stream.on('end', () => resolve());
    });
  } finally {
    raw.destroy();
  }
  return Buffer.concat(parts).subarray(0, SNIFF_BYTES);
}

/** Rejects files that look binary: NUL bytes, or mostly invalid UTF-8 lines, in the first 64 KiB. */
export async function sniffSource(src: SourceFile): Promise<void> {
  const head = await readHead(src);
  if (head.indexOf(0) >= 0) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `${src.path} looks like a binary file (NUL bytes); the corpus must be UTF-8 text`);
  }
  const dec = new TextDecoder('utf-8', { fatal: true });
  let lines = 0;
  let invalid = 0;
  let start = 0;
  for (;;) {
    const nl = head.indexOf(10, start);
    // Only complete lines (the last one may be cut mid-character), unless this is the whole file.
    const end = nl >= 0 ? nl : head.length < SNIFF_BYTES ? head.length : -1;
    if (end < 0 || start >= head.length) break;
    const line = head.subarray(start, end);
    if (line.length > 0) {
      lines++;
      try {
        dec.decode(line);
      } catch {
        invalid++;
      }
    }
    if (nl < 0) break;
    start = nl + 1;
  }
  if (invalid >= 3 && invalid > 0.3 * lines) {
    throw new ElectraError(
      'ERR_INVALID_ARGUMENT',
      `${src.path} looks like a binary file (${invalid} of the first ${lines} lines are not valid UTF-8); the corpus must be UTF-8 text`,
    );
  }
}

// ---------------------------------------------------------------------------
// One chunk of one file -> one shard.

export interface Task {
  index: number;
  file: string;
  fileIndex: number;
  gzip: boolean;
  /** Size of the file on disk. */
  bytes: number;
  /** Byte range [start, end) of the (uncompressed) file whose documents this task owns. */
  start: number;
  end: number;
}

export interface TaskStats {
  examples: number;
  tokens: number;
  documents: number;
  skippedLines: number;
  singleSegment: number;
}

export interface WorkerContext {
  vocabFile: string;
  lowercase: boolean;
  seqLen: number;
  seed: number;
  dtypeBytes: 2 | 4;
  padId: number;
  clsId: number;
  sepId: number;
  tmpDir: string;
}

export function taskFile(tmpDir: string, index: number): string {
  return path.join(tmpDir, `task-${String(index).padStart(6, '0')}.bin`);
}

const enum Line {
  Blank,
  NonBlank,
}

function isAsciiSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/** Blank = empty after Python's str.strip() (ASCII fast path; lines with only spaces and non-ASCII bytes are decoded). */
function classify(line: Buffer, dec: TextDecoder): Line {
  let high = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c >= 0x80) high = true;
    else if (!isAsciiSpace(c)) return Line.NonBlank;
  }
  if (!high) return Line.Blank;
  try {
    return dec.decode(line).trim() === '' ? Line.Blank : Line.NonBlank;
  } catch {
    return Line.NonBlank;
  }
}

/** What the builder needs of a tokenizer (WordPieceTokenizer). */
export interface TokenizerLike {
  tokenize(text: string): string[];
  tokenToId(token: string): number | undefined;
  /** Optional fast path: the ids of tokenize(text). */
  tokenizeToIds?(text: string, out?: number[]): number[];
}

/** Tokenizes the documents a task owns and writes its shard file (header + records). */
export async function processTask(
  task: Task,
  ctx: WorkerContext,
  tokenizer: TokenizerLike,
  onProgress?: (bytes: number, examples: number) => void,
): Promise<TaskStats> {
  const stats: TaskStats = { examples: 0, tokens: 0, documents: 0, skippedLines: 0, singleSegment: 0 };
  const { seqLen, dtypeBytes } = ctx;
  const rec = recordBytes(seqLen, dtypeBytes);
  const out = taskFile(ctx.tmpDir, task.index);
  const fd = fs.openSync(out, 'w');
  const OUT_BUF = 1 << 20;
  const buf = Buffer.alloc(Math.max(OUT_BUF, rec));
  let used = 0;
  let written = SHARD_HEADER_BYTES;
  // A full disk (ENOSPC) or I/O error is one ERR_IO naming the shard; the caller removes the partial build.
  const writeAt = (b: Buffer, n: number, at: number) => {
    try {
      fs.writeSync(fd, b, 0, n, at);
    } catch (e) {
      throw new ElectraError('ERR_IO', describeWriteError(out, e));
    }
  };
  const flush = () => {
    if (used > 0) writeAt(buf, used, written);
    written += used;
    used = 0;
  };
  const put = dtypeBytes === 2 ? (v: number, o: number) => buf.writeUInt16LE(v, o) : (v: number, o: number) => buf.writeUInt32LE(v, o);
  const builder = new ExampleBuilder(seqLen, ctx.clsId, ctx.sepId, (ids, lenA) => {
    if (used + rec > buf.length) flush();
    let o = used;
    for (let i = 0; i < seqLen; i++, o += dtypeBytes) put(i < ids.length ? ids[i] : ctx.padId, o);
    put(lenA, o);
    put(ids.length, o + dtypeBytes);
    used += rec;
    stats.examples++;
    stats.tokens += ids.length;
    if (lenA === ids.length) stats.singleSegment++;
  });

  const dec = new TextDecoder('utf-8', { fatal: true });
  const unk = tokenizer.tokenToId('[UNK]') ?? 0;
  const toIds = tokenizer.tokenizeToIds
    ? (text: string) => tokenizer.tokenizeToIds!(text, [])
    : (text: string) => tokenizer.tokenize(text).map((t) => tokenizer.tokenToId(t) ?? unk);

  // Ownership state machine (see the module comment).
  const readFrom = task.start > 0 ? task.start - 1 : 0;
  let skipPartial = task.start > 0;
  let prevBlank = task.start === 0;
  let prevBlankStart = 0;
  let inDoc = false;
  let docHasText = false;
  let stop = false;
  const onLine = (line: Buffer, lineStart: number): void => {
    const kind = classify(line, dec);
    if (kind === Line.Blank) {
      if (inDoc) {
        builder.endDocument();
        inDoc = false;
      }
      prevBlank = true;
      prevBlankStart = lineStart;
      return;
    }
    if (!inDoc) {
      if (!prevBlank) return; // the rest of a document owned by the previous chunk
      if (prevBlankStart >= task.end) {
        stop = true;
        return;
      }
      inDoc = true;
      docHasText = false;
      builder.startDocument(documentRng(ctx.seed, task.fileIndex, lineStart));
    }
    prevBlank = false;
    let text: string;
    try {
      text = dec.decode(line);
    } catch {
      stats.skippedLines++;
      return;
    }
    text = text.trim();
    if (text.length === 0) return;
    if (!docHasText) {
      docHasText = true;
      stats.documents++;
    }
    builder.addSentence(toIds(text));
  };

  const raw = fs.createReadStream(task.file, { start: readFrom, highWaterMark: 1 << 20 });
  const stream: NodeJS.ReadableStream = task.gzip ? raw.pipe(zlib.createGunzip({ chunkSize: 1 << 18 })) : raw;
  let errored: ElectraError | undefined;
  raw.on('error', (e) => {
    errored ??= ioError(task.file, e);
  });
  if (task.gzip) {
    stream.on('error', (e: Error) => {
      errored ??= new ElectraError('ERR_CORRUPT_FILE', `${task.file}: not a valid gzip file (${e.message})`);
    });
  }
  let carry: Buffer | null = null;
  let base = readFrom; // offset of carry[0] (or of the next chunk when no carry)
  let reported = 0;
  const ownedBytes = task.gzip ? Infinity : task.end - task.start;
  const progress = () => {
    if (!onProgress) return;
    const done = task.gzip ? raw.bytesRead : Math.min(ownedBytes, Math.max(0, base - task.start));
    onProgress(done - reported, stats.examples);
    reported = done;
  };
  let lastReport = Date.now();
  try {
    for await (const chunkAny of stream as AsyncIterable<Buffer>) {
      if (errored) break;
      const chunk: Buffer = chunkAny;
      if (chunk.indexOf(0) >= 0) {
        throw new ElectraError('ERR_INVALID_ARGUMENT', `${task.file} looks like a binary file (NUL byte near offset ${base}); the corpus must be UTF-8 text`);
      }
      const data: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
      let pos = 0;
      for (;;) {
        const nl = data.indexOf(10, pos);
        if (nl < 0) break;
        if (skipPartial) skipPartial = false;
        else {
          onLine(data.subarray(pos, nl), base + pos);
          if (stop) break;
        }
        pos = nl + 1;
      }
      if (stop) break;
      carry = pos < data.length ? data.subarray(pos) : null;
      base += pos;
      const now = Date.now();
      if (now - lastReport > 200) {
        lastReport = now;
        progress();
      }
    }
    if (errored) throw errored;
    if (!stop && carry && !skipPartial) onLine(carry, base);
    if (!stop && inDoc) builder.endDocument();
    flush();
    const header = encodeShardHeader({ dtypeBytes, seqLen, count: stats.examples, padId: ctx.padId });
    writeAt(header, header.length, 0);
  } finally {
    raw.destroy();
    fs.closeSync(fd);
  }
  if (onProgress) {
    const total = task.gzip ? raw.bytesRead : ownedBytes;
    onProgress(total - reported, stats.examples);
  }
  return stats;
}

// ---------------------------------------------------------------------------
// The worker side.

interface WorkerInit {
  electraDatasetWorker: true;
  ctx: WorkerContext;
}

type ToWorker = { type: 'task'; task: Task } | { type: 'exit' };
type FromWorker =
  | { type: 'progress'; bytes: number; examples: number }
  | { type: 'done'; index: number; stats: TaskStats }
  | { type: 'error'; code: string; message: string };

function errorMessage(e: unknown): { code: string; message: string } {
  const err = e as { code?: unknown; message?: unknown };
  return {
    code: isElectraErrorCode(err?.code) ? err.code : 'ERR_INTERNAL',
    message: typeof err?.message === 'string' ? err.message : String(e),
  };
}

function runWorker(init: WorkerInit): void {
  const port = parentPort!;
  let tokenizer: WordPieceTokenizer;
  try {
    tokenizer = WordPieceTokenizer.fromVocabFile(init.ctx.vocabFile, { lowercase: init.ctx.lowercase });
  } catch (e) {
    port.postMessage({ type: 'error', ...errorMessage(e) } satisfies FromWorker);
    return;
  }
  port.on('message', (m: ToWorker) => {
    if (m.type === 'exit') {
      port.close();
      return;
    }
    let examplesSeen = 0;
    processTask(m.task, init.ctx, tokenizer, (bytes, examples) => {
      port.postMessage({ type: 'progress', bytes, examples: examples - examplesSeen } satisfies FromWorker);
      examplesSeen = examples;
    }).then(
      (stats) => port.postMessage({ type: 'done', index: m.task.index, stats } satisfies FromWorker),
      (e) => port.postMessage({ type: 'error', ...errorMessage(e) } satisfies FromWorker),
    );
  });
}

if (!isMainThread && (workerData as Partial<WorkerInit> | null)?.electraDatasetWorker) {
  runWorker(workerData as WorkerInit);
}

/** The compiled worker script: this file when running as JavaScript, else its build in dist/. */
function workerScript(): string {
  if (__filename.endsWith('.js')) return __filename;
  const built = path.resolve(__dirname, '..', '..', 'dist', 'data', 'dataset-builder.js');
  if (!fs.existsSync(built)) {
    throw new ElectraError('ERR_INTERNAL', `worker script ${built} is missing; run \`npm run build:ts\` (or use workers: 0)`);
  }
  return built;
}

// ---------------------------------------------------------------------------
// The builder.

export interface BuildProgress {
  bytesDone: number;
  bytesTotal: number;
  examples: number;
  elapsedMs: number;
}

export interface BuildDatasetOptions {
  /** Files and directories (recursed in sorted order); `.gz` files are gunzipped. */
  inputs: string[];
  /** Output directory: created; must be empty unless `overwrite`. */
  outDir: string;
  /** WordPiece vocabulary file (one token per line). */
  vocabFile: string;
  lowercase?: boolean;
  /** Tokens per example, [CLS]/[SEP] included (default 128). */
  seqLen?: number;
  seed?: number;
  /** Worker threads (default: every core). 0 runs in this thread. The output does not depend on it. */
  workers?: number;
  /** Split plain files into chunks of this many bytes (default 4 MiB); one shard per chunk with examples. */
  chunkBytes?: number;
  /** Replace an existing dataset in outDir. */
  overwrite?: boolean;
  onProgress?: (p: BuildProgress) => void;
}

export interface BuildResult {
  outDir: string;
  manifest: DatasetManifest;
  elapsedMs: number;
}

export const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;
const REQUIRED_SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

/** sha256 of a vocabulary file's bytes (ERR_IO naming it when unreadable). */
export function vocabFileHash(vocabFile: string): string {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(vocabFile);
  } catch (e) {
    throw ioError(vocabFile, e);
  }
  return createHash('sha256').update(bytes).digest('hex');
}

/** Throws ERR_INVALID_ARGUMENT when the vocabulary lacks [PAD] [UNK] [CLS] [SEP] or [MASK]. */
export function checkSpecialTokens(tokens: readonly string[], what: string): void {
  const have = new Set(tokens);
  const missing = REQUIRED_SPECIALS.filter((t) => !have.has(t));
  if (missing.length > 0) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `vocabulary ${what} lacks the special token(s) ${missing.join(', ')}`);
  }
}

/** sha256 of the tokens joined by "\n": what a tokenizer's `vocab` is checked against. */
export function vocabTokensHash(tokens: readonly string[]): string {
  return createHash('sha256').update(tokens.join('\n'), 'utf8').digest('hex');
}

function planTasks(sources: SourceFile[], chunkBytes: number): Task[] {
  const tasks: Task[] = [];
  sources.forEach((s, fileIndex) => {
    if (s.gzip) {
      tasks.push({ index: tasks.length, file: s.path, fileIndex, gzip: true, bytes: s.bytes, start: 0, end: Infinity });
      return;
    }
    for (let start = 0; start < s.bytes; start += chunkBytes) {
      tasks.push({ index: tasks.length, file: s.path, fileIndex, gzip: false, bytes: s.bytes, start, end: Math.min(s.bytes, start + chunkBytes) });
    }
  });
  return tasks;
}

function positiveInt(name: string, v: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `${name} must be an integer in [${min}, ${max}], got ${v}`);
  }
}

async function prepareOutDir(outDir: string, overwrite: boolean): Promise<void> {
  let entries: string[] = [];
  try {
    entries = await fs.promises.readdir(outDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new ElectraError('ERR_IO', `cannot use ${outDir}: ${(e as Error).message}`);
  }
  if (entries.length > 0) {
    const ours = (n: string) => n === MANIFEST_FILE || /^shard-\d+\.bin$/.test(n) || n.startsWith('.build-');
    if (!overwrite) {
      throw new ElectraError('ERR_INVALID_ARGUMENT', `output directory ${outDir} is not empty (use --overwrite to replace a dataset there)`);
    }
    const foreign = entries.filter((n) => !ours(n));
    if (foreign.length > 0) {
      throw new ElectraError('ERR_INVALID_ARGUMENT', `output directory ${outDir} holds files that are not a dataset (${foreign.slice(0, 3).join(', ')}); refusing to overwrite`);
    }
    for (const n of entries) await fs.promises.rm(path.join(outDir, n), { recursive: true, force: true });
  }
  try {
    await fs.promises.mkdir(outDir, { recursive: true });
  } catch (e) {
    throw new ElectraError('ERR_IO', `cannot create ${outDir}: ${(e as Error).message}`);
  }
}

function taskCost(t: Task): number {
  return t.gzip ? 3 * t.bytes : t.end - t.start;
}

async function runTasksInWorkers(
  tasks: Task[],
  ctx: WorkerContext,
  nWorkers: number,
  onProgress: (bytes: number, examples: number) => void,
): Promise<TaskStats[]> {
  const script = workerScript();
  const results: TaskStats[] = new Array(tasks.length);
  let nextTask = 0;
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let remaining = tasks.length;
      let failed = false;
      const fail = (e: ElectraError) => {
        if (failed) return;
        failed = true;
        reject(e);
      };
      // Largest first (gzip files are whole-file tasks); the order of work does not change the output.
      const queue = [...tasks].sort((x, y) => taskCost(y) - taskCost(x) || x.index - y.index);
      const give = (w: Worker) => {
        if (nextTask < queue.length) w.postMessage({ type: 'task', task: queue[nextTask++] } satisfies ToWorker);
        else w.postMessage({ type: 'exit' } satisfies ToWorker);
      };
      for (let i = 0; i < nWorkers; i++) {
        const init: WorkerInit = { electraDatasetWorker: true, ctx };
        const w = new Worker(script, { workerData: init });
        workers.push(w);
        w.on('message', (m: FromWorker) => {
          if (failed) return;
          if (m.type === 'progress') onProgress(m.bytes, m.examples);
          else if (m.type === 'done') {
            results[m.index] = m.stats;
            if (--remaining === 0) resolve();
            else give(w);
          } else if (m.type === 'error') {
            fail(new ElectraError(isElectraErrorCode(m.code) ? (m.code as ElectraErrorCode) : 'ERR_INTERNAL', m.message));
          }
        });
        w.on('error', (e) => fail(new ElectraError('ERR_INTERNAL', `dataset worker failed: ${e.message}`, { cause: e })));
        w.on('exit', (code) => {
          if (code !== 0 && remaining > 0) fail(new ElectraError('ERR_INTERNAL', `dataset worker exited with code ${code}`));
        });
        give(w);
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}

/** Builds a dataset directory (manifest.json + shards) from text corpora. */
export async function buildDataset(opts: BuildDatasetOptions): Promise<BuildResult> {
  const t0 = Date.now();
  const seqLen = opts.seqLen ?? 128;
  const seed = opts.seed ?? 0;
  const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const lowercase = opts.lowercase ?? true;
  positiveInt('seqLen', seqLen, 8, 65535);
  positiveInt('seed', seed, 0, 0xffffffff);
  positiveInt('chunkBytes', chunkBytes, 1024);
  if (opts.workers !== undefined) positiveInt('workers', opts.workers, 0, 1024);
  if (!opts.inputs || opts.inputs.length === 0) throw new ElectraError('ERR_INVALID_ARGUMENT', 'no input files given');

  const vocabSha = vocabFileHash(opts.vocabFile);
  const tokenizer = WordPieceTokenizer.fromVocabFile(opts.vocabFile, { lowercase });
  checkSpecialTokens(tokenizer.vocab, opts.vocabFile);
  const sources = listSources(opts.inputs);
  if (sources.length === 0) throw new ElectraError('ERR_INVALID_ARGUMENT', `empty corpus: no files in ${opts.inputs.join(', ')}`);
  for (const s of sources) await sniffSource(s);

  const dtypeBytes: 2 | 4 = tokenizer.vocab.length < 65536 ? 2 : 4;
  await prepareOutDir(opts.outDir, opts.overwrite ?? false);
  const tmpDir = path.join(opts.outDir, `.build-${process.pid}`);
  await fs.promises.mkdir(tmpDir, { recursive: true });
  const ctx: WorkerContext = {
    vocabFile: path.resolve(opts.vocabFile),
    lowercase,
    seqLen,
    seed,
    dtypeBytes,
    padId: tokenizer.padId,
    clsId: tokenizer.clsId,
    sepId: tokenizer.sepId,
    tmpDir,
  };
  const tasks = planTasks(sources, chunkBytes);
  const bytesTotal = sources.reduce((a, s) => a + s.bytes, 0);
  let bytesDone = 0;
  let examples = 0;
  const progress = (bytes: number, ex: number) => {
    bytesDone += bytes;
    examples += ex;
    opts.onProgress?.({ bytesDone, bytesTotal, examples, elapsedMs: Date.now() - t0 });
  };
  try {
    const nWorkers = Math.min(opts.workers ?? os.availableParallelism(), tasks.length);
    let stats: TaskStats[];
    if (nWorkers === 0) {
      stats = [];
      for (const t of tasks) {
        let seen = 0;
        stats.push(
          await processTask(t, ctx, tokenizer, (b, ex) => {
            progress(b, ex - seen);
            seen = ex;
          }),
        );
      }
    } else {
      stats = await runTasksInWorkers(tasks, ctx, nWorkers, progress);
    }
    const counts = { examples: 0, tokens: 0, documents: 0, skipped_lines: 0, single_segment: 0 };
    for (const s of stats) {
      counts.examples += s.examples;
      counts.tokens += s.tokens;
      counts.documents += s.documents;
      counts.skipped_lines += s.skippedLines;
      counts.single_segment += s.singleSegment;
    }
    if (counts.examples === 0) {
      throw new ElectraError(
        'ERR_INVALID_ARGUMENT',
        `empty corpus: ${sources.length} file(s), ${bytesTotal} bytes gave no examples` +
          (counts.skipped_lines > 0 ? ` (${counts.skipped_lines} lines skipped as invalid UTF-8)` : ''),
      );
    }
    const shards: DatasetManifest['shards'] = [];
    const rec = recordBytes(seqLen, dtypeBytes);
    for (let i = 0; i < tasks.length; i++) {
      const f = taskFile(tmpDir, i);
      if (stats[i].examples === 0) continue;
      const name = shardFileName(shards.length);
      await fs.promises.rename(f, path.join(opts.outDir, name));
      shards.push({ file: name, examples: stats[i].examples, bytes: SHARD_HEADER_BYTES + stats[i].examples * rec });
    }
    const manifest: DatasetManifest = {
      format: DATASET_FORMAT,
      format_version: SHARD_VERSION,
      builder_version: BUILDER_VERSION,
      seq_len: seqLen,
      dtype: dtypeBytes === 2 ? 'uint16' : 'uint32',
      seed,
      vocab: {
        sha256: vocabSha,
        tokens_sha256: vocabTokensHash(tokenizer.vocab),
        size: tokenizer.vocab.length,
        lowercase,
        pad_id: tokenizer.padId,
        unk_id: tokenizer.unkId,
        cls_id: tokenizer.clsId,
        sep_id: tokenizer.sepId,
        mask_id: tokenizer.maskId,
      },
      counts,
      chunk_bytes: chunkBytes,
      sources: sources.map((s) => ({ path: s.path, bytes: s.bytes, gzip: s.gzip })),
      shards,
    };
    await writeFileAtomic(path.join(opts.outDir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
    return { outDir: opts.outDir, manifest, elapsedMs: Date.now() - t0 };
  } catch (e) {
    // Leave no half-built dataset behind.
    const names = await fs.promises.readdir(opts.outDir).catch(() => [] as string[]);
    for (const n of names) if (/^shard-\d+\.bin$/.test(n)) await fs.promises.rm(path.join(opts.outDir, n), { force: true });
    throw e instanceof ElectraError ? e : new ElectraError('ERR_INTERNAL', (e as Error).message ?? String(e), { cause: e });
  } finally {
    await fs.promises.rm(tmpDir, { recursive: true, force: true });
  }
}
