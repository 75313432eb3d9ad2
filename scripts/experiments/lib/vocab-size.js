'use strict';
/** The size of the vocabulary `train` uses for `preset` on the embedded corpus when given no --vocab. */
const fs = require('fs');
const path = require('path');
const { ROOT } = require('./runs');

function defaultVocabSize(preset = 'tiny') {
  let file = path.join(ROOT, 'vocab', 'bert-base-uncased.txt');
  try {
    const m = require(path.join(ROOT, 'dist', 'data', 'default-corpus.js'));
    if (typeof m.defaultVocabFile === 'function') file = m.defaultVocabFile(preset);
  } catch {
    // an older build without defaultVocabFile: BERT's vocabulary is the default
  }
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0).length;
}

module.exports = { defaultVocabSize };
