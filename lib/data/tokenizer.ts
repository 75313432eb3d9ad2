/**
 * BERT's WordPiece tokenizer (BasicTokenizer + WordpieceTokenizer), matching
 * the slow Python tokenizer of HF transformers (`BertTokenizer` before v5,
 * `BertTokenizerLegacy` in v5; `ElectraTokenizer` is the same) with its
 * defaults: tokenize_chinese_chars, strip_accents following lowercasing,
 * punctuation splitting, max_input_chars_per_word 100, clean_up_tokenization_spaces.
 *
 * The pipeline, per text:
 *  1. split the raw text on the special tokens ([PAD] [UNK] [CLS] [SEP] [MASK],
 *     exact and case sensitive, as HF's added-token trie does); they become
 *     their own ids;
 *  2. clean: drop U+0000, U+FFFD and every code point of category C* except
 *     \t \n \r; Zs and \t \n \r are whitespace;
 *  3. pad CJK ideographs with spaces, NFC, split on whitespace (which, as in
 *     Python's str.split, also includes U+2028 and U+2029);
 *  4. per word: lowercase + NFD + drop Mn (uncased), split on punctuation
 *     (ASCII 33-47, 58-64, 91-96, 123-126 and category P*), then greedy
 *     longest-match-first WordPiece with "##" continuations; a piece longer
 *     than 100 code points, or one that cannot be covered, is [UNK].
 *
 * Speed: the text is scanned once by char code with a per-code-point class
 * table while hashing each word; the per-word work (step 4) is cached in a
 * bounded open-addressing table keyed by the raw word and compared in place
 * (no substring on a hit), and pure-ASCII words skip the Unicode normalisations.
 *
 * Character properties come from the JavaScript engine's Unicode tables
 * (ICU); Python's come from its unicodedata. They differ only for code points
 * assigned in a Unicode version newer than the older of the two (e.g. Python
 * 3.11 has Unicode 14, Node 20 has Unicode 15.1+): Python drops such a code
 * point as unassigned (Cn), this tokenizer keeps it (usually as [UNK]).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ElectraError } from '../errors';

export interface TokenizerOptions {
  /** Lowercase and strip accents (the uncased models). Default true. */
  lowercase?: boolean;
  /** Words cached (raw word -> ids; emptied when full). Default 65536; 0 disables the cache. */
  cacheSize?: number;
}

export interface EncodeOptions {
  /** Truncate (when `truncation` is not false) and/or pad to this many ids, specials included. */
  maxLength?: number;
  /** 'max_length' pads with [PAD] up to `maxLength`. Default false. */
  padding?: 'max_length' | false;
  /**
   * Longest-first truncation to `maxLength` (HF `truncation='longest_first'`).
   * Default: true when `maxLength` is given (as HF does), else false.
   */
  truncation?: boolean;
}

export interface Encoding {
  inputIds: number[];
  tokenTypeIds: number[];
  attentionMask: number[];
  tokens: string[];
}

export interface DecodeOptions {
  /** Leave out [PAD] [UNK] [CLS] [SEP] [MASK]. Default false. */
  skipSpecialTokens?: boolean;
  /** HF's clean_up_tokenization (" ." -> "." etc.). Default true, as for BertTokenizer. */
  cleanUpTokenizationSpaces?: boolean;
}

/** The special tokens of BERT, in HF's `all_special_tokens` order. */
export const SPECIAL_TOKENS = ['[UNK]', '[SEP]', '[PAD]', '[CLS]', '[MASK]'] as const;
export type SpecialToken = (typeof SPECIAL_TOKENS)[number];

/** The vocabulary shipped with the package (Google's BERT uncased vocab.txt, 30,522 tokens). */
export const BERT_UNCASED_VOCAB = path.resolve(__dirname, '..', '..', 'vocab', 'bert-base-uncased.txt');

const MAX_INPUT_CHARS_PER_WORD = 100;

// Character classes used while scanning a text.
const C_WORD = 0; // part of a word
const C_REMOVE = 1; // dropped by clean_text (NUL, U+FFFD, C* except \t\n\r)
const C_SPACE = 2; // whitespace: \t\n\r, Zs, and U+2028/U+2029 (str.split)
const C_CJK = 3; // a CJK ideograph: a word of its own

const RE_CONTROL = /^\p{C}$/u;
const RE_ZS = /^\p{Zs}$/u;
const RE_PUNCT = /^\p{P}$/u;
const RE_MN = /\p{Mn}/gu;

function isCjk(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

function classify(cp: number): number {
  if (cp === 0x20 || cp === 0x09 || cp === 0x0a || cp === 0x0d) return C_SPACE;
  if (cp === 0 || cp === 0xfffd) return C_REMOVE;
  const ch = String.fromCodePoint(cp);
  if (RE_CONTROL.test(ch)) return C_REMOVE;
  if (RE_ZS.test(ch) || cp === 0x2028 || cp === 0x2029) return C_SPACE;
  if (isCjk(cp)) return C_CJK;
  return C_WORD;
}

function isPunctuationCp(cp: number): boolean {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
    return true;
  }
  if (cp < 128) return false;
  return RE_PUNCT.test(String.fromCodePoint(cp));
}

// Lazily built tables for the BMP: class (scan) and punctuation (word split).
let bmpClass: Uint8Array | undefined;
let bmpPunct: Uint8Array | undefined;
const astralClass = new Map<number, number>();

function classTable(): Uint8Array {
  if (!bmpClass) {
    const t = new Uint8Array(0x10000);
    for (let cp = 0; cp < 0x10000; cp++) t[cp] = classify(cp);
    bmpClass = t;
  }
  return bmpClass;
}

function punctTable(): Uint8Array {
  if (!bmpPunct) {
    const t = new Uint8Array(0x10000);
    for (let cp = 0; cp < 0x10000; cp++) t[cp] = isPunctuationCp(cp) ? 1 : 0;
    bmpPunct = t;
  }
  return bmpPunct;
}

function classOfAstral(cp: number): number {
  let c = astralClass.get(cp);
  if (c === undefined) {
    c = classify(cp);
    if (astralClass.size < 65536) astralClass.set(cp, c);
  }
  return c;
}

/** Python's str.isspace set, for strip(). */
function isPySpace(c: number): boolean {
  return (
    (c >= 0x09 && c <= 0x0d) ||
    (c >= 0x1c && c <= 0x20) ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

function pyStrip(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isPySpace(s.charCodeAt(a))) a++;
  while (b > a && isPySpace(s.charCodeAt(b - 1))) b--;
  return s.slice(a, b);
}

function codePointLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** Reads a vocab.txt as Python's `open(..., encoding="utf-8").readlines()` with universal newlines does. */
export function parseVocabText(text: string): string[] {
  if (text.charCodeAt(0) === 0xfeff) {
    // Python's "utf-8" codec keeps a BOM as U+FEFF in the first token; so do we.
  }
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * The vocabulary as a trie over UTF-16 code units, edges in one
 * open-addressing table: WordPiece's longest match is one walk down from the
 * root (word-initial pieces) or from the node of "##" (continuations), with
 * no substrings made.
 */
class VocabTrie {
  private mask = 0;
  private edgeParent = new Int32Array(0); // -1 = empty slot
  private edgeUnit = new Uint16Array(0);
  private edgeChild = new Int32Array(0);
  private tokenIds: Int32Array; // per node: the token id ending here, or -1
  readonly contRoot: number; // the node of "##", or -1

  constructor(tokens: readonly string[], ids: Map<string, number>) {
    let edges = 0;
    for (const t of tokens) edges += t.length;
    let cap = 16;
    while (cap < edges * 2) cap *= 2;
    this.mask = cap - 1;
    this.edgeParent = new Int32Array(cap).fill(-1);
    this.edgeUnit = new Uint16Array(cap);
    this.edgeChild = new Int32Array(cap);
    const tokenIds: number[] = [-1];
    let nodes = 1;
    for (const [t, id] of ids) {
      let node = 0;
      for (let i = 0; i < t.length; i++) {
        const u = t.charCodeAt(i);
        let next = this.child(node, u);
        if (next < 0) {
          next = nodes++;
          tokenIds.push(-1);
          let slot = this.slotOf(node, u);
          while (this.edgeParent[slot] !== -1) slot = (slot + 1) & this.mask;
          this.edgeParent[slot] = node;
          this.edgeUnit[slot] = u;
          this.edgeChild[slot] = next;
        }
        node = next;
      }
      tokenIds[node] = id;
    }
    this.tokenIds = Int32Array.from(tokenIds);
    const h1 = this.child(0, 0x23);
    this.contRoot = h1 < 0 ? -1 : this.child(h1, 0x23);
  }

  private slotOf(node: number, unit: number): number {
    return (Math.imul(node, 0x9e3779b1) ^ Math.imul(unit, 0x85ebca6b)) & this.mask;
  }

  child(node: number, unit: number): number {
    let slot = this.slotOf(node, unit);
    for (;;) {
      const p = this.edgeParent[slot];
      if (p === -1) return -1;
      if (p === node && this.edgeUnit[slot] === unit) return this.edgeChild[slot];
      slot = (slot + 1) & this.mask;
    }
  }

  tokenAt(node: number): number {
    return this.tokenIds[node];
  }
}

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 16777619;

/** FNV-1a over the UTF-16 code units of s. */
function hashString(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h;
}

/**
 * Raw word -> ids, an open-addressing hash table whose lookups compare the
 * key with a range of the text in place (no substring is made on a hit). When
 * it holds `capacity` words it is emptied and refilled: a bounded cache with
 * no per-hit bookkeeping.
 */
class WordCache {
  private readonly mask: number;
  private readonly slots: Int32Array; // entry index + 1; 0 = empty
  private readonly hashes: Int32Array;
  private readonly starts: Int32Array; // into pool
  private readonly lengths: Int32Array;
  private readonly keys: string[];
  private pool: Int32Array;
  private poolUsed = 0;
  size = 0;

  constructor(readonly capacity: number) {
    let n = 16;
    while (n < capacity * 2) n *= 2;
    this.mask = n - 1;
    this.slots = new Int32Array(n);
    this.hashes = new Int32Array(capacity);
    this.starts = new Int32Array(capacity);
    this.lengths = new Int32Array(capacity);
    this.keys = new Array<string>(capacity);
    this.pool = new Int32Array(Math.max(1024, capacity * 4));
  }

  /** The entry of text[from, to) with hash h, or -1. */
  findRange(text: string, from: number, to: number, h: number): number {
    const len = to - from;
    let slot = h & this.mask;
    for (;;) {
      const e = this.slots[slot] - 1;
      if (e < 0) return -1;
      if (this.hashes[e] === h) {
        const k = this.keys[e];
        if (k.length === len) {
          let j = 0;
          while (j < len && k.charCodeAt(j) === text.charCodeAt(from + j)) j++;
          if (j === len) return e;
        }
      }
      slot = (slot + 1) & this.mask;
    }
  }

  find(key: string, h: number): number {
    return this.findRange(key, 0, key.length, h);
  }

  add(key: string, h: number, ids: readonly number[]): void {
    if (this.size >= this.capacity) this.clear();
    if (this.poolUsed + ids.length > this.pool.length) {
      const bigger = new Int32Array(Math.max(this.pool.length * 2, this.poolUsed + ids.length));
      bigger.set(this.pool.subarray(0, this.poolUsed));
      this.pool = bigger;
    }
    const e = this.size++;
    this.hashes[e] = h;
    this.keys[e] = key;
    this.starts[e] = this.poolUsed;
    this.lengths[e] = ids.length;
    for (let k = 0; k < ids.length; k++) this.pool[this.poolUsed++] = ids[k];
    let slot = h & this.mask;
    while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
    this.slots[slot] = e + 1;
  }

  /** Appends the ids of entry e to out. */
  emit(e: number, out: number[]): void {
    const pool = this.pool;
    const end = this.starts[e] + this.lengths[e];
    for (let k = this.starts[e]; k < end; k++) out.push(pool[k]);
  }

  clear(): void {
    this.slots.fill(0);
    this.keys.fill(undefined as unknown as string, 0, this.size);
    this.size = 0;
    this.poolUsed = 0;
  }
}

export class WordPieceTokenizer {
  /** The tokens, by id. */
  readonly vocab: readonly string[];
  /** Whether this tokenizer lowercases and strips accents (uncased). */
  readonly lowercase: boolean;

  private readonly ids: Map<string, number>;
  private readonly trie: VocabTrie;
  /** Special tokens present in the vocab -> id (never split in the text). */
  private readonly specials: Map<string, number>;
  private readonly cache: WordCache | null;
  private readonly cacheSize: number;

  constructor(tokens: readonly string[], opts: TokenizerOptions = {}) {
    if (!Array.isArray(tokens) || tokens.length === 0) {
      throw new ElectraError('ERR_INVALID_ARGUMENT', 'a WordPiece vocabulary needs at least one token');
    }
    this.vocab = Object.freeze([...tokens]);
    this.lowercase = opts.lowercase ?? true;
    this.cacheSize = opts.cacheSize ?? 65536;
    if (!Number.isInteger(this.cacheSize) || this.cacheSize < 0) {
      throw new ElectraError('ERR_INVALID_ARGUMENT', `cacheSize must be an integer >= 0, got ${opts.cacheSize}`);
    }
    this.ids = new Map();
    tokens.forEach((t, i) => {
      if (typeof t !== 'string') throw new ElectraError('ERR_INVALID_ARGUMENT', `vocabulary token ${i} is not a string`);
      this.ids.set(t, i); // like Python's dict: a duplicate token keeps its last id
    });
    this.trie = new VocabTrie(tokens, this.ids);
    this.specials = new Map();
    for (const s of SPECIAL_TOKENS) {
      const id = this.ids.get(s);
      if (id !== undefined) this.specials.set(s, id);
    }
    this.cache = this.cacheSize > 0 ? new WordCache(this.cacheSize) : null;
  }

  /** Reads a vocab.txt (one token per line; id = line number). */
  static fromVocabFile(file: string, opts: TokenizerOptions = {}): WordPieceTokenizer {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new ElectraError('ERR_IO', `could not read the vocabulary ${file}: ${(err as Error).message}`, { cause: err });
    }
    const tokens = parseVocabText(text);
    if (tokens.length === 0) throw new ElectraError('ERR_INVALID_ARGUMENT', `the vocabulary ${file} is empty`);
    return new WordPieceTokenizer(tokens, opts);
  }

  static fromTokens(tokens: string[], opts: TokenizerOptions = {}): WordPieceTokenizer {
    return new WordPieceTokenizer(tokens, opts);
  }

  /** BERT's uncased vocabulary (shipped in vocab/), lowercasing. */
  static bertUncased(opts: Omit<TokenizerOptions, 'lowercase'> = {}): WordPieceTokenizer {
    return WordPieceTokenizer.fromVocabFile(BERT_UNCASED_VOCAB, { ...opts, lowercase: true });
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  /** The id of a token, or undefined when the vocabulary lacks it. */
  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  /** The token of an id, or undefined when out of range. */
  idToToken(id: number): string | undefined {
    return Number.isInteger(id) && id >= 0 && id < this.vocab.length ? this.vocab[id] : undefined;
  }

  private special(token: SpecialToken): number {
    const id = this.ids.get(token);
    if (id === undefined) {
      throw new ElectraError('ERR_INVALID_ARGUMENT', `the vocabulary has no ${token} token (${this.vocab.length} tokens)`);
    }
    return id;
  }

  get padId(): number {
    return this.special('[PAD]');
  }
  get unkId(): number {
    return this.special('[UNK]');
  }
  get clsId(): number {
    return this.special('[CLS]');
  }
  get sepId(): number {
    return this.special('[SEP]');
  }
  get maskId(): number {
    return this.special('[MASK]');
  }

  /** The ids of the special tokens the vocabulary has. */
  get specialIds(): ReadonlySet<number> {
    return new Set(this.specials.values());
  }

  /** The WordPiece tokens of a text (no [CLS]/[SEP] added), as HF's `tokenize`. */
  tokenize(text: string): string[] {
    const ids = this.tokenizeToIds(text);
    const out = new Array<string>(ids.length);
    for (let i = 0; i < ids.length; i++) out[i] = this.vocab[ids[i]];
    return out;
  }

  /** The ids of `tokenize(text)`, without building the token strings. */
  tokenizeToIds(text: string, out: number[] = []): number[] {
    if (typeof text !== 'string') {
      throw new ElectraError('ERR_INVALID_ARGUMENT', `text must be a string, got ${typeof text}`);
    }
    if (this.specials.size === 0 || text.indexOf('[') < 0) {
      this.scan(text, 0, text.length, out);
      return out;
    }
    // Split on the special tokens (none is a prefix of another, so leftmost match is HF's trie split).
    let segStart = 0;
    let i = text.indexOf('[');
    while (i >= 0) {
      let matched = 0;
      for (const [tok, id] of this.specials) {
        if (text.startsWith(tok, i)) {
          this.scan(text, segStart, i, out);
          out.push(id);
          matched = tok.length;
          break;
        }
      }
      if (matched > 0) segStart = i + matched;
      i = text.indexOf('[', matched > 0 ? i + matched : i + 1);
    }
    this.scan(text, segStart, text.length, out);
    return out;
  }

  /** Clean + CJK padding + whitespace split of text[from, to), then each word through the cache. */
  private scan(text: string, from: number, to: number, out: number[]): void {
    const table = classTable();
    let wordStart = -1; // start of the current word in text, -1 when none
    let h = FNV_OFFSET; // FNV-1a of text[wordStart, i)
    let parts: string[] | null = null; // pieces of a word interrupted by removed characters
    let i = from;
    while (i < to) {
      let c = text.charCodeAt(i);
      let width = 1;
      let cls: number;
      if (c < 0x80) {
        // ASCII fast path.
        if (c > 0x20 && c < 0x7f) {
          if (wordStart < 0) {
            wordStart = i;
            h = FNV_OFFSET;
          }
          h = Math.imul(h ^ c, FNV_PRIME);
          i++;
          continue;
        }
        cls = c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d ? C_SPACE : C_REMOVE;
      } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < to) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
          width = 2;
          cls = classOfAstral(c);
        } else {
          cls = table[c];
        }
      } else {
        cls = table[c];
      }
      if (cls === C_WORD) {
        if (wordStart < 0) {
          wordStart = i;
          h = FNV_OFFSET;
        }
        h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
        if (width === 2) h = Math.imul(h ^ text.charCodeAt(i + 1), FNV_PRIME);
      } else {
        if (wordStart >= 0) {
          if (cls === C_REMOVE) {
            // The word goes on after the removed character.
            (parts ??= []).push(text.slice(wordStart, i));
            wordStart = -1;
            i += width;
            continue;
          }
          if (parts) {
            this.word(parts.join('') + text.slice(wordStart, i), out);
            parts = null;
          } else {
            this.wordRange(text, wordStart, i, h, out);
          }
          wordStart = -1;
        } else if (parts && cls !== C_REMOVE) {
          this.word(parts.join(''), out);
          parts = null;
        }
        if (cls === C_CJK) this.word(text.slice(i, i + width), out);
      }
      i += width;
    }
    if (wordStart >= 0) {
      if (parts) this.word(parts.join('') + text.slice(wordStart, to), out);
      else this.wordRange(text, wordStart, to, h, out);
    } else if (parts) {
      this.word(parts.join(''), out);
    }
  }

  /** Appends the ids of the word text[from, to), whose FNV-1a hash is h (cached). */
  private wordRange(text: string, from: number, to: number, h: number, out: number[]): void {
    const cache = this.cache;
    if (cache) {
      const e = cache.findRange(text, from, to, h);
      if (e >= 0) {
        cache.emit(e, out);
        return;
      }
    }
    const w = text.slice(from, to);
    const ids = this.wordIds(w);
    if (cache) cache.add(w, h, ids);
    for (let k = 0; k < ids.length; k++) out.push(ids[k]);
  }

  /** Appends the ids of one whitespace-delimited word (cached). */
  private word(w: string, out: number[]): void {
    if (w.length === 0) return;
    this.wordRange(w, 0, w.length, hashString(w), out);
  }

  /** BasicTokenizer's per-word steps and WordPiece, uncached. */
  private wordIds(raw: string): number[] {
    const out: number[] = [];
    let ascii = true;
    for (let i = 0; i < raw.length; i++) {
      if (raw.charCodeAt(i) >= 0x80) {
        ascii = false;
        break;
      }
    }
    let w = ascii ? raw : raw.normalize('NFC');
    if (this.specials.has(w)) {
      // HF's never_split: a special token spelled out after cleaning (e.g. "[CL\0S]") is
      // neither lowercased nor split on punctuation, then goes through WordPiece as is.
      this.wordPiece(w, out);
      return out;
    }
    if (this.lowercase) {
      w = w.toLowerCase();
      if (!ascii) w = w.normalize('NFD').replace(RE_MN, '');
    }
    // Split on punctuation (by code point).
    const punct = punctTable();
    let start = 0;
    let i = 0;
    while (i < w.length) {
      let c = w.charCodeAt(i);
      let width = 1;
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < w.length) {
        const d = w.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
          width = 2;
        }
      }
      const p = width === 1 ? punct[c] === 1 : isPunctuationCp(c);
      if (p) {
        if (i > start) this.wordPiece(w.slice(start, i), out);
        this.wordPiece(w.slice(i, i + width), out);
        start = i + width;
      }
      i += width;
    }
    if (start < w.length) this.wordPiece(start === 0 ? w : w.slice(start), out);
    return out;
  }

  /**
   * Greedy longest-match-first WordPiece of one basic token: the longest
   * vocabulary prefix (with "##" after the first piece) at each position; a
   * token of more than 100 code points, or one that cannot be covered, is [UNK].
   */
  private wordPiece(piece: string, out: number[]): void {
    const n = piece.length;
    if (n > MAX_INPUT_CHARS_PER_WORD && codePointLength(piece) > MAX_INPUT_CHARS_PER_WORD) {
      out.push(this.unkId);
      return;
    }
    const trie = this.trie;
    const mark = out.length;
    let start = 0;
    while (start < n) {
      let node = start === 0 ? 0 : trie.contRoot;
      let best = -1;
      let bestEnd = start;
      for (let j = start; j < n && node >= 0; j++) {
        node = trie.child(node, piece.charCodeAt(j));
        if (node < 0) break;
        const id = trie.tokenAt(node);
        if (id >= 0) {
          best = id;
          bestEnd = j + 1;
        }
      }
      if (best < 0) {
        out.length = mark;
        out.push(this.unkId);
        return;
      }
      out.push(best);
      start = bestEnd;
    }
  }

  /**
   * `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`, as HF's `tokenizer(text, pair,
   * max_length=..., truncation=..., padding=...)`.
   */
  encode(text: string, pair?: string | null, opts: EncodeOptions = {}): Encoding {
    const { maxLength, padding = false } = opts;
    if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 0)) {
      throw new ElectraError('ERR_INVALID_ARGUMENT', `maxLength must be an integer >= 0, got ${maxLength}`);
    }
    if (padding !== false && padding !== 'max_length') {
      throw new ElectraError('ERR_INVALID_ARGUMENT', `padding must be 'max_length' or false, got ${String(padding)}`);
    }
    if (padding === 'max_length' && maxLength === undefined) {
      throw new ElectraError('ERR_INVALID_ARGUMENT', "padding: 'max_length' needs maxLength");
    }
    const truncation = opts.truncation ?? maxLength !== undefined;
    const cls = this.clsId;
    const sep = this.sepId;
    let a = this.tokenizeToIds(text);
    let b = pair === undefined || pair === null ? null : this.tokenizeToIds(pair);

    const numSpecial = b ? 3 : 2;
    const total = a.length + (b ? b.length : 0) + numSpecial;
    if (truncation && maxLength !== undefined && maxLength > 0 && total > maxLength) {
      const remove = total - maxLength;
      if (!b) {
        a = a.slice(0, Math.max(0, a.length - remove));
      } else {
        // HF's truncate_sequences, 'longest_first' with a pair.
        const la = a.length;
        const lb = b.length;
        const first = Math.min(Math.abs(lb - la), remove);
        const second = remove - first;
        const half = Math.floor(second / 2);
        let fromA: number;
        let fromB: number;
        if (la > lb) {
          fromA = first + half;
          fromB = second - half;
        } else {
          fromA = half;
          fromB = first + second - half;
        }
        if (fromA > 0) a = a.slice(0, Math.max(0, la - fromA));
        if (lb > 0 && fromB > 0) b = b.slice(0, Math.max(0, lb - fromB));
      }
    }

    const inputIds = [cls, ...a, sep];
    const tokenTypeIds = new Array<number>(inputIds.length).fill(0);
    if (b) {
      for (const id of b) inputIds.push(id);
      inputIds.push(sep);
      for (let k = 0; k <= b.length; k++) tokenTypeIds.push(1);
    }
    const attentionMask = new Array<number>(inputIds.length).fill(1);
    if (padding === 'max_length' && maxLength !== undefined && inputIds.length < maxLength) {
      const pad = this.padId;
      while (inputIds.length < maxLength) {
        inputIds.push(pad);
        tokenTypeIds.push(0);
        attentionMask.push(0);
      }
    }
    const tokens = inputIds.map((id) => this.vocab[id]);
    return { inputIds, tokenTypeIds, attentionMask, tokens };
  }

  /** HF's decode: tokens joined by spaces, " ##" removed, stripped, then clean_up_tokenization. */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const skip = opts.skipSpecialTokens ?? false;
    const cleanUp = opts.cleanUpTokenizationSpaces ?? true;
    const specialIds = skip ? this.specialIds : null;
    const toks: string[] = [];
    for (const id of ids) {
      if (specialIds && specialIds.has(id)) continue;
      const t = this.idToToken(id);
      toks.push(t ?? this.vocab[this.unkId]);
    }
    let text = pyStrip(toks.join(' ').replaceAll(' ##', ''));
    if (cleanUp) {
      text = text
        .replaceAll(' .', '.')
        .replaceAll(' ?', '?')
        .replaceAll(' !', '!')
        .replaceAll(' ,', ',')
        .replaceAll(" ' ", "'")
        .replaceAll(" n't", "n't")
        .replaceAll(" 'm", "'m")
        .replaceAll(" 's", "'s")
        .replaceAll(" 've", "'ve")
        .replaceAll(" 're", "'re");
    }
    return text;
  }
}
