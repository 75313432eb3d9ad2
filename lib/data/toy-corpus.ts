/**
 * A small synthetic English-like corpus from a seeded grammar, with a
 * word-level vocabulary. It ships in the package so `electra-native train`
 * and the tests can train without downloading anything; the sentences have
 * enough structure (agreement, fixed phrases) for the generator to learn and
 * for replaced tokens to be detectable. The real corpus and BERT's WordPiece
 * tokenizer arrive with the data pipeline.
 */
import type { Example } from './array-dataset';

const NOUNS = ['cat', 'dog', 'bird', 'child', 'teacher', 'farmer', 'river', 'city', 'king', 'doctor', 'horse', 'student', 'ship', 'garden', 'engine', 'painter'];
const PLURALS = ['cats', 'dogs', 'birds', 'children', 'teachers', 'farmers', 'rivers', 'cities', 'kings', 'doctors', 'horses', 'students', 'ships', 'gardens', 'engines', 'painters'];
const ADJS = ['old', 'young', 'small', 'large', 'quiet', 'happy', 'dark', 'bright', 'green', 'cold', 'brave', 'tired'];
const VERBS_S = ['sees', 'follows', 'helps', 'finds', 'watches', 'likes', 'calls', 'meets'];
const VERBS_P = ['see', 'follow', 'help', 'find', 'watch', 'like', 'call', 'meet'];
const PLACES = ['in the morning', 'near the river', 'at the market', 'after the storm', 'during the winter', 'on the hill'];

/** Mulberry32: a tiny seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` documents of 3-8 sentences each, as plain text (one sentence per line). */
export function toyCorpus(count: number, seed = 1): string[][] {
  const r = prng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const docs: string[][] = [];
  for (let d = 0; d < count; d++) {
    const sentences: string[] = [];
    const n = 3 + Math.floor(r() * 6);
    for (let s = 0; s < n; s++) {
      const plural = r() < 0.4;
      const i = Math.floor(r() * NOUNS.length);
      const subj = plural ? `the ${pick(ADJS)} ${PLURALS[i]}` : `the ${pick(ADJS)} ${NOUNS[i]}`;
      const verb = plural ? pick(VERBS_P) : pick(VERBS_S);
      const obj = r() < 0.5 ? `the ${pick(NOUNS)}` : `a ${pick(ADJS)} ${pick(NOUNS)}`;
      const tail = r() < 0.5 ? ` ${pick(PLACES)}` : '';
      sentences.push(`${subj} ${verb} ${obj}${tail} .`);
    }
    docs.push(sentences);
  }
  return docs;
}

/** A word-level vocabulary: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4, then words by frequency. */
export interface WordVocab {
  tokens: string[];
  ids: Map<string, number>;
  padId: 0;
  unkId: 1;
  clsId: 2;
  sepId: 3;
  maskId: 4;
}

export function buildWordVocab(docs: string[][]): WordVocab {
  const freq = new Map<string, number>();
  for (const doc of docs) for (const s of doc) for (const w of s.split(' ')) freq.set(w, (freq.get(w) ?? 0) + 1);
  const words = [...freq.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([w]) => w);
  const tokens = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...words];
  // Round the size up to a multiple of 8, as vocabularies usually are.
  while (tokens.length % 8 !== 0) tokens.push(`[unused${tokens.length}]`);
  return { tokens, ids: new Map(tokens.map((t, i) => [t, i])), padId: 0, unkId: 1, clsId: 2, sepId: 3, maskId: 4 };
}

/** Packs each document's sentences into `[CLS] words... [SEP]` examples of at most seqLen tokens. */
export function toyExamples(docs: string[][], vocab: WordVocab, seqLen: number): Example[] {
  const out: Example[] = [];
  for (const doc of docs) {
    let cur: number[] = [];
    const flush = () => {
      if (cur.length > 0) out.push({ ids: [vocab.clsId, ...cur, vocab.sepId] });
      cur = [];
    };
    for (const s of doc) {
      const ids = s.split(' ').map((w) => vocab.ids.get(w) ?? vocab.unkId);
      if (cur.length + ids.length > seqLen - 2) flush();
      cur.push(...ids.slice(0, seqLen - 2));
    }
    flush();
  }
  return out;
}
