#!/usr/bin/env python3
"""Golden encodings for encodeExamples (lib/finetune/data/encode.ts).

Runs HF transformers' BERT tokenizers with vocab/bert-base-uncased.txt
(lowercase) the way HF's fine-tuning examples call them, and writes
test/golden/finetune_encode.json:
  - sentence pairs, with the slow (Python) tokenizer, which the project's
    tokenizer matches: tokenizer(a, b, truncation=True (longest_first),
    max_length=L, padding='max_length'). Its longest-first split of the cut
    equals the original ELECTRA code's _truncate_seq_pair; the fast (Rust)
    tokenizer splits differently when both segments are long (e.g. 10+10 ids
    cut to 17 keeps 9+8 in the slow one, 8+9 in the fast one); that case is
    the fourth pair below, and the script prints both;
  - tagged words (run_ner.py), with the fast tokenizer for its word_ids():
    tokenizer(words, is_split_into_words=True, truncation=True, max_length=L,
    padding='max_length'), the tag on the first piece of each word, -100
    (here -1) on the others.

    python scripts/reference/make_finetune_encode_golden.py
"""
import json
import os

import transformers

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VOCAB = os.path.join(ROOT, "vocab", "bert-base-uncased.txt")
OUT = os.path.join(ROOT, "test", "golden", "finetune_encode.json")

PAIRS = [
    ("The cat sat on the mat.", "A cat was sitting.", 16),
    ("He said the foodservice pie business doesn't fit the company's long-term growth strategy.", "Short one.", 12),
    ("Short.", "The Government Executive articles housed on the website are not able to be searched.", 10),
    ("Équipe naïve façade, déjà vu!", "Ünïcödé and CJK 中文字 mixed in.", 20),
    ("exactly fits", "here", 6),
    ("a b c d e f g", "h i j k l m n o p", 9),
]
WORDS = [
    (["The", "Fulton", "County", "Grand", "Jury", "said", "Friday"], ["DET", "NOUN", "NOUN", "ADJ", "NOUN", "VERB", "NOUN"], 16),
    (["unbelievably", "electroencephalography", "is", "hard", "."], ["ADV", "NOUN", "VERB", "ADJ", "."], 12),
    (["Atlanta's", "``", "irregularities", "''", "took", "place"], ["NOUN", ".", "NOUN", ".", "VERB", "NOUN"], 8),
    (["1-1/2", "mid-July", "don't", "naïve"], ["NUM", "NOUN", "VERB", "ADJ"], 32),
]
TAGS = ["ADJ", "ADV", "DET", "NOUN", "NUM", "VERB", "."]


def main():
    if int(transformers.__version__.split(".")[0]) >= 5:
        tok = transformers.BertTokenizer(vocab=VOCAB, do_lower_case=True)  # v5: the tokenizers-backed one
    else:
        tok = transformers.BertTokenizerFast(vocab_file=VOCAB, do_lower_case=True)
    try:
        from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy as SlowBert
    except ImportError:  # transformers 4.x: BertTokenizer is the slow one
        from transformers import BertTokenizer as SlowBert
    slow = SlowBert(VOCAB, do_lower_case=True)
    for t in (tok, slow):
        assert t.vocab_size == 30522 and t("the cat")["input_ids"] == [101, 1996, 4937, 102], "vocabulary not loaded"
    pairs = []
    for a, b, L in PAIRS:
        e = slow(a, b, truncation=True, max_length=L, padding="max_length", return_token_type_ids=True, return_attention_mask=True)
        f = tok(a, b, truncation=True, max_length=L, padding="max_length")
        if f["input_ids"] != e["input_ids"]:
            print("slow and fast tokenizers truncate differently:", a[:20], "/", b[:20], e["input_ids"], f["input_ids"])
        pairs.append({"text": a, "pair": b, "seqLen": L, "inputIds": e["input_ids"], "tokenTypeIds": e["token_type_ids"], "attentionMask": e["attention_mask"]})
    words = []
    for ws, tags, L in WORDS:
        e = tok(ws, is_split_into_words=True, truncation=True, max_length=L, padding="max_length")
        labels, prev = [], None
        for w in e.word_ids():
            labels.append(-1 if w is None or w == prev else TAGS.index(tags[w]))
            prev = w
        words.append({"words": ws, "tags": [TAGS.index(t) for t in tags], "seqLen": L, "inputIds": e["input_ids"], "attentionMask": e["attention_mask"], "labels": labels})
    with open(OUT, "w") as f:
        f.write('{"transformers": %s, "tags": %s,\n"pairs": [\n%s\n],\n"words": [\n%s\n]}\n' % (
            json.dumps(transformers.__version__), json.dumps(TAGS),
            ",\n".join(json.dumps(p, ensure_ascii=False) for p in pairs),
            ",\n".join(json.dumps(w, ensure_ascii=False) for w in words)))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
