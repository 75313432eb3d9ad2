/**
 * Learns a WordPiece vocabulary from a text corpus, the way HF tokenizers'
 * WordPieceTrainer does: BERT pre-tokenization (clean, CJK split, optional
 * lowercase + accent strip, whitespace and punctuation split), word counts,
 * an alphabet of single characters (plus `##`-prefixed continuation forms),
 * then BPE-style merges of the most frequent adjacent pair until the vocabulary
 * has `size` entries. Ties break on the smaller pair of symbol ids, and
 * symbol ids follow a sorted alphabet, so the same corpus always gives the same
 * vocabulary.
 *
 * Pair counts are updated incrementally per merge (only the words that contain
 * the merged pair are touched) with a lazily-refreshed max-heap, so a 10 MB
 * corpus trains in seconds.
 *
 * Corpus files are streamed line by line (`.gz` files through zlib); a
 * directory stands for every regular file below it, in sorted order.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';
import * as zlib from 'zlib';

import { ElectraError } from '../errors';
import { writeFileAtomic } from '../io/atomic';

/** BERT's special tokens, in the id order the rest of the package expects (0-4). */
export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

export const CONTINUATION_PREFIX = '##';

export interface VocabProgress {
  phase: 'count' | 'merge';
  /** Bytes read (count phase; compressed bytes for .gz files) or merges done. */
  done: number;
  total: number;
}

export interface VocabBuilderOptions {
  /** Vocabulary size, special tokens included. */
  size: number;
  /** Lowercase and strip accents (BERT uncased); default true. */
  lowercase?: boolean;
  /** Stop merging once the most frequent pair occurs fewer times than this; default 2. */
  minFrequency?: number;
  /** Keep only the this many most frequent characters; default 1000 (as HF's BertWordPieceTokenizer). */
  limitAlphabet?: number;
  /** Called now and then during both phases. */
  onProgress?: (p: VocabProgress) => void;
}

export interface VocabResult {
  tokens: string[];
  /** Running words (pre-tokens) in the corpus and distinct ones. */
  words: number;
  distinctWords: number;
  /** Characters kept in the alphabet. */
  alphabet: number;
  merges: number;
  /** Why merging stopped: the size was reached, or no pair was frequent enough. */
  stoppedBy: 'size' | 'min-frequency';
}

// ---------------------------------------------------------------------------
// BERT pre-tokenizer (a private copy of BasicTokenizer's rules).

const ASCII_PUNCT = '\\x21-\\x2f\\x3a-\\x40\\x5b-\\x60\\x7b-\\x7e';
const CJK =
  '\\u{4E00}-\\u{9FFF}\\u{3400}-\\u{4DBF}\\u{20000}-\\u{2A6DF}\\u{2A700}-\\u{2B73F}' +
  '\\u{2B740}-\\u{2B81F}\\u{2B820}-\\u{2CEAF}\\u{F900}-\\u{FAFF}\\u{2F800}-\\u{2FA1F}';
/** One punctuation character, one CJK ideograph, or a run of anything else that is not whitespace. */
const PIECE = new RegExp(`[\\p{P}${ASCII_PUNCT}]|[${CJK}]|[^\\s\\p{Z}\\p{P}${ASCII_PUNCT}${CJK}]+`, 'gu');
/** Characters BERT's clean_text drops (NUL, U+FFFD, control/format other than tab/CR/LF). */
const DROPPED = /[\0\ufffd\p{Cf}\p{Co}\p{Cs}\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/gu;
const NON_ASCII = /[^\x00-\x7f]/;
const MARKS = /\p{Mn}/gu;

/** Splits text into BERT pre-tokens (words and single punctuation characters). */
export function bertPreTokenize(text: string, lowercase = true): string[] {
  let t = text;
  if (NON_ASCII.test(t)) {
    t = t.replace(DROPPED, '');
    if (lowercase) t = t.toLowerCase().normalize('NFD').replace(MARKS, '');
  } else {
    if (/[\0\x01-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(t)) t = t.replace(DROPPED, '');
    if (lowercase) t = t.toLowerCase();
  }
  return t.match(PIECE) ?? [];
}

// ---------------------------------------------------------------------------
// Corpus files.

/** Expands files and directories (recursively, sorted) into a list of regular files; ERR_IO for a missing path. */
export async function listCorpusFiles(inputs: string[]): Promise<string[]> {
  if (inputs.length === 0) throw new ElectraError('ERR_INVALID_ARGUMENT', 'no corpus files given');
  const out: string[] = [];
  const visit = async (p: string): Promise<void> => {
    let st: fs.Stats;
    try {
      st = await fs.promises.stat(p);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new ElectraError('ERR_IO', `cannot read corpus ${p}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`);
    }
    if (st.isDirectory()) {
      const names = (await fs.promises.readdir(p)).filter((n) => !n.startsWith('.')).sort();
      for (const n of names) await visit(path.join(p, n));
    } else if (st.isFile()) {
      out.push(p);
    }
  };
  for (const p of inputs) await visit(p);
  if (out.length === 0) throw new ElectraError('ERR_INVALID_ARGUMENT', `no corpus files in ${inputs.join(', ')}`);
  return out;
}

/**
 * Streams the lines of a text file (gunzipped when the name ends in .gz),
 * reporting the raw bytes read through `onBytes`.
 */
export async function* readLines(file: string, onBytes?: (n: number) => void): AsyncGenerator<string> {
  const raw = fs.createReadStream(file);
  const opened = new Promise<void>((resolve, reject) => {
    raw.once('open', () => resolve());
    raw.once('error', reject);
  });
  try {
    await opened;
  } catch (e) {
    throw new ElectraError('ERR_IO', `cannot read ${file}: ${(e as Error).message}`);
  }
  if (onBytes) raw.on('data', (chunk) => onBytes(chunk.length));
  let input: NodeJS.ReadableStream = raw;
  let failure: Error | undefined;
  if (file.endsWith('.gz')) {
    const gunzip = zlib.createGunzip();
    raw.on('error', (e) => gunzip.destroy(e));
    input = raw.pipe(gunzip);
  }
  const rl = readline.createInterface({ input, crlfDelay: Infinity });
  (input as NodeJS.EventEmitter).on('error', (e: Error) => {
    failure = e;
    rl.close();
  });
  try {
    for await (const line of rl) yield line;
  } catch (e) {
    failure = e as Error;
  } finally {
    rl.close();
    raw.destroy();
  }
  if (failure) throw new ElectraError('ERR_IO', `cannot read ${file}: ${failure.message}`);
}

/** Counts the BERT pre-tokens of every file (counting phase). */
export async function countWords(
  files: string[],
  opts: { lowercase?: boolean; onProgress?: (p: VocabProgress) => void } = {},
): Promise<{ counts: Map<string, number>; words: number }> {
  const lowercase = opts.lowercase ?? true;
  let total = 0;
  for (const f of files) total += (await fs.promises.stat(f)).size;
  let done = 0;
  let lastReport = 0;
  const report = (n: number) => {
    done += n;
    if (opts.onProgress && (done - lastReport > 1 << 20 || done === total)) {
      lastReport = done;
      opts.onProgress({ phase: 'count', done, total });
    }
  };
  const counts = new Map<string, number>();
  let words = 0;
  for (const f of files) {
    for await (const line of readLines(f, report)) {
      if (line.length === 0) continue;
      for (const w of bertPreTokenize(line, lowercase)) {
        counts.set(w, (counts.get(w) ?? 0) + 1);
        words++;
      }
    }
  }
  opts.onProgress?.({ phase: 'count', done: total, total });
  return { counts, words };
}

// ---------------------------------------------------------------------------
// Merges.

/** A max-heap of (count, pair key); ties pop the smaller key first. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  private above(i: number, j: number): boolean {
    const ci = this.counts[i];
    const cj = this.counts[j];
    return ci > cj || (ci === cj && this.keys[i] < this.keys[j]);
  }

  private swap(i: number, j: number): void {
    const c = this.counts[i];
    this.counts[i] = this.counts[j];
    this.counts[j] = c;
    const k = this.keys[i];
    this.keys[i] = this.keys[j];
    this.keys[j] = k;
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.keys.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  /** Removes the top; returns [count, key]. */
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0], this.keys[0]];
    const lastC = this.counts.pop()!;
    const lastK = this.keys.pop()!;
    const n = this.keys.length;
    if (n > 0) {
      this.counts[0] = lastC;
      this.keys[0] = lastK;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < n && this.above(l, m)) m = l;
        if (r < n && this.above(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

/** Pair keys: a * 2^24 + b (symbol ids stay below 2^24; keys stay exact doubles). */
const KEY_SCALE = 1 << 24;

/**
 * Learns the vocabulary from word counts (merge phase). Returns the tokens:
 * the special tokens, the alphabet (sorted by code point), its `##` forms
 * (sorted), then one token per merge in merge order.
 */
export function learnWordPiece(
  counts: Map<string, number>,
  opts: Omit<VocabBuilderOptions, 'lowercase'>,
): Omit<VocabResult, 'words'> {
  const size = opts.size;
  const minFrequency = opts.minFrequency ?? 2;
  const limitAlphabet = opts.limitAlphabet ?? 1000;
  if (!Number.isInteger(size) || size < 1) throw new ElectraError('ERR_INVALID_ARGUMENT', `vocabulary size must be an integer >= 1, got ${size}`);
  if (!Number.isInteger(minFrequency) || minFrequency < 1) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `min frequency must be an integer >= 1, got ${minFrequency}`);
  }
  if (!Number.isInteger(limitAlphabet) || limitAlphabet < 1) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `alphabet limit must be an integer >= 1, got ${limitAlphabet}`);
  }
  if (counts.size === 0) throw new ElectraError('ERR_INVALID_ARGUMENT', 'the corpus is empty (no words)');

  // Words in a fixed order (sorted), so every later step is deterministic.
  const wordList = [...counts.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const freqs = wordList.map((w) => counts.get(w)!);

  // Alphabet: the most frequent characters (ties: smaller code point), sorted by code point.
  const charFreq = new Map<string, number>();
  wordList.forEach((w, i) => {
    for (const ch of w) charFreq.set(ch, (charFreq.get(ch) ?? 0) + freqs[i]);
  });
  const byCodePoint = (a: string, b: string) => a.codePointAt(0)! - b.codePointAt(0)!;
  let alphabet = [...charFreq.keys()];
  if (alphabet.length > limitAlphabet) {
    alphabet = alphabet.sort((a, b) => charFreq.get(b)! - charFreq.get(a)! || byCodePoint(a, b)).slice(0, limitAlphabet);
  }
  alphabet.sort(byCodePoint);
  const kept = new Set(alphabet);

  const tokens: string[] = [...SPECIAL_TOKENS];
  const ids = new Map<string, number>();
  const add = (t: string): number => {
    let id = ids.get(t);
    if (id === undefined) {
      id = tokens.length;
      tokens.push(t);
      ids.set(t, id);
    }
    return id;
  };
  SPECIAL_TOKENS.forEach((t, i) => ids.set(t, i));
  for (const ch of alphabet) add(ch);
  // Continuation forms of the characters that occur inside words.
  const inner = new Set<string>();
  for (const w of wordList) {
    let first = true;
    for (const ch of w) {
      if (!first && kept.has(ch)) inner.add(ch);
      first = false;
    }
  }
  for (const ch of [...inner].sort(byCodePoint)) add(CONTINUATION_PREFIX + ch);
  const initial = tokens.length;
  if (size < initial) {
    throw new ElectraError(
      'ERR_INVALID_ARGUMENT',
      `vocabulary size ${size} is smaller than the ${SPECIAL_TOKENS.length} special tokens plus the corpus alphabet ` +
        `(${alphabet.length} characters + ${inner.size} ##-forms): use --size ${initial} or more`,
    );
  }

  // Words as arrays of symbol ids (characters outside the alphabet are dropped, as HF does).
  const words: number[][] = wordList.map((w) => {
    const syms: number[] = [];
    let first = true;
    for (const ch of w) {
      if (kept.has(ch)) syms.push(ids.get(first ? ch : CONTINUATION_PREFIX + ch)!);
      first = false;
    }
    return syms;
  });

  // Initial pair counts and where each pair occurs.
  const pairCount = new Map<number, number>();
  const where = new Map<number, number[]>();
  for (let wi = 0; wi < words.length; wi++) {
    const s = words[wi];
    const f = freqs[wi];
    for (let i = 0; i + 1 < s.length; i++) {
      const k = s[i] * KEY_SCALE + s[i + 1];
      pairCount.set(k, (pairCount.get(k) ?? 0) + f);
      let list = where.get(k);
      if (!list) where.set(k, (list = []));
      if (list[list.length - 1] !== wi) list.push(wi);
    }
  }
  const heap = new PairHeap();
  // Push in key order so the heap's content does not depend on Map insertion order (it does not anyway: ties break on key).
  for (const [k, c] of pairCount) heap.push(c, k);

  const totalMerges = size - initial;
  const report = (done: number) => opts.onProgress?.({ phase: 'merge', done, total: totalMerges });
  let merges = 0;
  let stoppedBy: VocabResult['stoppedBy'] = 'size';
  const delta = new Map<number, number>();
  report(0);
  while (tokens.length < size) {
    if (heap.size === 0) {
      stoppedBy = 'min-frequency';
      break;
    }
    const [c, key] = heap.pop();
    const current = pairCount.get(key) ?? 0;
    if (current !== c) {
      if (current > 0) heap.push(current, key); // stale entry: requeue with the true count
      continue;
    }
    if (c < minFrequency) {
      stoppedBy = 'min-frequency';
      break;
    }
    const a = Math.floor(key / KEY_SCALE);
    const b = key - a * KEY_SCALE;
    const tb = tokens[b];
    const merged = tokens[a] + (tb.startsWith(CONTINUATION_PREFIX) ? tb.slice(CONTINUATION_PREFIX.length) : tb);
    const existing = ids.get(merged);
    const n = existing ?? add(merged);
    if (n >= KEY_SCALE) throw new ElectraError('ERR_INVALID_ARGUMENT', `vocabulary size ${size} is too large`);
    const touched: number[] = [];
    delta.clear();
    const bump = (k: number, d: number) => delta.set(k, (delta.get(k) ?? 0) + d);
    for (const wi of where.get(key) ?? []) {
      const s = words[wi];
      const f = freqs[wi];
      let hit = false;
      const out: number[] = [];
      for (let i = 0; i < s.length; ) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          hit = true;
          if (out.length > 0) {
            const p = out[out.length - 1];
            bump(p * KEY_SCALE + a, -f);
            bump(p * KEY_SCALE + n, f);
          }
          if (i + 2 < s.length) {
            const x = s[i + 2];
            bump(b * KEY_SCALE + x, -f);
            bump(n * KEY_SCALE + x, f);
          }
          out.push(n);
          i += 2;
        } else {
          out.push(s[i]);
          i++;
        }
      }
      if (hit) {
        words[wi] = out;
        touched.push(wi);
      }
    }
    pairCount.delete(key);
    where.delete(key);
    for (const [k, d] of delta) {
      if (k === key || d === 0) continue;
      const v = (pairCount.get(k) ?? 0) + d;
      if (v > 0) pairCount.set(k, v);
      else pairCount.delete(k);
    }
    // New pairs (those with the new symbol) get queued and indexed; the others only shrank.
    for (const [k, d] of delta) {
      if (d <= 0 || k === key) continue;
      const v = pairCount.get(k);
      if (v !== undefined) heap.push(v, k);
    }
    for (const wi of touched) {
      const s = words[wi];
      for (let i = 0; i + 1 < s.length; i++) {
        if (s[i] !== n && s[i + 1] !== n) continue;
        const k = s[i] * KEY_SCALE + s[i + 1];
        let list = where.get(k);
        if (!list) where.set(k, (list = []));
        if (list[list.length - 1] !== wi) list.push(wi);
      }
    }
    merges++;
    if ((merges & 255) === 0) report(tokens.length - initial);
  }
  report(tokens.length - initial);
  return { tokens, distinctWords: wordList.length, alphabet: alphabet.length, merges, stoppedBy };
}

/** Counts the corpus and learns a vocabulary of `opts.size` tokens (fewer if merging stops at minFrequency). */
export async function buildVocab(inputs: string[], opts: VocabBuilderOptions): Promise<VocabResult> {
  const files = await listCorpusFiles(inputs);
  const { counts, words } = await countWords(files, { lowercase: opts.lowercase, onProgress: opts.onProgress });
  if (counts.size === 0) throw new ElectraError('ERR_INVALID_ARGUMENT', `the corpus is empty (no words in ${inputs.join(', ')})`);
  return { ...learnWordPiece(counts, opts), words };
}

/** Writes one token per line (the vocab.txt format of BERT), atomically. */
export async function writeVocab(file: string, tokens: string[]): Promise<void> {
  await fs.promises.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeFileAtomic(file, tokens.join('\n') + '\n');
}
