#!/usr/bin/env python3
"""Golden ids for the WordPiece tokenizer (lib/data/tokenizer.ts).

Runs HF transformers' slow (pure Python) BERT tokenizer -- `BertTokenizerLegacy`
in transformers 5, `BertTokenizer` in 4.x -- with vocab/bert-base-uncased.txt,
do_lower_case True ("uncased") and False ("cased"), over
test/golden/tokenizer_text.txt, plus a seeded set of random strings, and writes
test/golden/tokenizer_ids.json.

    pip install transformers   # tokenizers is not needed for the slow tokenizer
    python scripts/reference/make_tokenizer_golden.py

Random strings use only code points that are assigned in this Python's
unicodedata (category != Cn) and are not surrogates, so that the golden does
not depend on the Unicode version of the JavaScript engine (see tokenizer.ts).
"""
import hashlib
import json
import os
import random
import re
import sys
import unicodedata

import transformers

try:
    from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy as SlowBert
except ImportError:  # transformers 4.x: BertTokenizer is the slow one
    from transformers import BertTokenizer as SlowBert

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VOCAB = os.path.join(ROOT, "vocab", "bert-base-uncased.txt")
TEXT = os.path.join(ROOT, "test", "golden", "tokenizer_text.txt")
OUT = os.path.join(ROOT, "test", "golden", "tokenizer_ids.json")

ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|U\{[0-9a-fA-F]+\}|n|t|r|\\)")


def unescape(s):
    def sub(m):
        e = m.group(1)
        if e == "n":
            return "\n"
        if e == "t":
            return "\t"
        if e == "r":
            return "\r"
        if e == "\\":
            return "\\"
        if e[0] == "u":
            return chr(int(e[1:], 16))
        return chr(int(e[2:-1], 16))

    return ESCAPE.sub(sub, s)


def read_cases():
    sections = {"single": [], "pairs": [], "truncation": []}
    cur = "single"
    with open(TEXT, encoding="utf-8", newline="\n") as f:
        for line in f.read().split("\n"):
            if line.startswith("# ") or line == "#":
                continue
            if line.startswith("@"):
                cur = line[1:].strip()
                continue
            if cur == "single":
                if line == "" and not sections["single"]:
                    continue
                sections["single"].append(unescape(line))
            elif line.strip() == "":
                continue
            else:
                parts = [unescape(p) for p in re.split(r" ?\|\|\| ?", line)]
                sections[cur].append(parts)
    # Drop the trailing empty line the file ends with, keep an empty-text case explicitly.
    while sections["single"] and sections["single"][-1] == "":
        sections["single"].pop()
    sections["single"].append("")
    # Multi-line cases: the whole single section as one text, and a few joined lines.
    sections["single"].append("\n".join(sections["single"]))
    return sections


def random_strings(n, seed):
    rng = random.Random(seed)
    pools = [
        [chr(c) for c in range(0x20, 0x7F)],
        [chr(c) for c in range(0x00, 0x20)] + ["\x7f", "\x85", "\xa0", "\u200b", "\ufeff", "\ufffd", "\u2028", "\u3000"],
        [chr(c) for c in range(0xA0, 0x250)],
        [chr(c) for c in range(0x300, 0x370)],  # combining marks
        [chr(c) for c in range(0x370, 0x530)],  # Greek, Cyrillic
        [chr(c) for c in range(0x4E00, 0x4E80)] + [chr(c) for c in range(0xF900, 0xF920)],
        [chr(c) for c in range(0x3040, 0x3100)] + [chr(c) for c in range(0xAC00, 0xAC40)],
        [chr(c) for c in range(0x2000, 0x2070)],  # general punctuation
        [chr(c) for c in range(0x1F300, 0x1F650)] + [chr(c) for c in range(0x1F1E6, 0x1F200)],
        [chr(c) for c in range(0x20000, 0x20010)] + [chr(c) for c in range(0x10000, 0x10100)],
        ["[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "[", "]", "##", " ", "  ", "\t", "\n"],
        list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "),
    ]
    # Any assigned code point (BMP and astral), rarely.
    out = []
    for _ in range(n):
        k = rng.randint(0, 40)
        parts = []
        for _ in range(k):
            r = rng.random()
            if r < 0.08:
                while True:
                    cp = rng.randint(1, 0x2FFFF)
                    if 0xD800 <= cp <= 0xDFFF:
                        continue
                    if unicodedata.category(chr(cp)) == "Cn":
                        continue
                    break
                parts.append(chr(cp))
            else:
                pool = pools[rng.randrange(len(pools))]
                parts.append(pool[rng.randrange(len(pool))])
        s = "".join(parts)
        s = "".join(ch for ch in s if unicodedata.category(ch) != "Cn")
        out.append(s)
    return out


def main():
    with open(VOCAB, "rb") as f:
        md5 = hashlib.md5(f.read()).hexdigest()
    cases = read_cases()
    rand = random_strings(400, 20261125)
    golden = {
        "generator": "scripts/reference/make_tokenizer_golden.py",
        "transformers": transformers.__version__,
        "tokenizer_class": SlowBert.__name__,
        "python": sys.version.split()[0],
        "unicodedata": unicodedata.unidata_version,
        "vocab": "vocab/bert-base-uncased.txt",
        "vocab_md5": md5,
        "modes": {},
    }
    for mode, lower in (("uncased", True), ("cased", False)):
        tok = SlowBert(VOCAB, do_lower_case=lower)
        m = {"single": [], "pairs": [], "truncation": [], "random": []}

        def single(text):
            tokens = tok.tokenize(text)
            enc = tok(text)
            ids = enc["input_ids"]
            return {
                "text": text,
                "tokens": tokens,
                "ids": tok.convert_tokens_to_ids(tokens),
                "inputIds": ids,
                "decode": tok.decode(ids),
                "decodeSkip": tok.decode(ids, skip_special_tokens=True),
            }

        for text in cases["single"]:
            m["single"].append(single(text))
        for text in rand:
            m["random"].append(single(text))
        for a, b in cases["pairs"]:
            enc = tok(a, b, return_token_type_ids=True, return_attention_mask=True)
            m["pairs"].append(
                {
                    "text": a,
                    "pair": b,
                    "inputIds": enc["input_ids"],
                    "tokenTypeIds": enc["token_type_ids"],
                    "attentionMask": enc["attention_mask"],
                    "tokens": tok.convert_ids_to_tokens(enc["input_ids"]),
                }
            )
        for parts in cases["truncation"]:
            max_len = int(parts[0])
            a = parts[1]
            b = parts[2] if len(parts) > 2 else None
            enc = tok(a, b, max_length=max_len, truncation="longest_first", padding="max_length",
                      return_token_type_ids=True, return_attention_mask=True)
            m["truncation"].append(
                {
                    "text": a,
                    "pair": b,
                    "maxLength": max_len,
                    "inputIds": enc["input_ids"],
                    "tokenTypeIds": enc["token_type_ids"],
                    "attentionMask": enc["attention_mask"],
                    "tokens": tok.convert_ids_to_tokens(enc["input_ids"]),
                }
            )
        golden["modes"][mode] = m
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=True, indent=None, separators=(",", ":"))
        f.write("\n")
    counts = {k: {s: len(v) for s, v in m.items()} for k, m in golden["modes"].items()}
    print(f"wrote {OUT}: {counts}, vocab md5 {md5}")


if __name__ == "__main__":
    main()
