#!/usr/bin/env python3
"""Helper of scripts/bench/tokenizer.js: times HF `tokenizers` (Rust, Python
bindings) on one core with BERT uncased settings, over the lines of a UTF-8
file (one text per line), and prints JSON: best wall/CPU seconds of
--repeat runs after a warm-up, and the ids of every line (for the mismatch count).

    RAYON_NUM_THREADS=1 python3 tokenizer_hf_python.py VOCAB LINES_FILE REPEAT
"""
import json
import os
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import tokenizers  # noqa: E402
from tokenizers import Tokenizer, normalizers, pre_tokenizers  # noqa: E402
from tokenizers.models import WordPiece  # noqa: E402


def main():
    vocab, lines_file, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(lines_file, encoding="utf-8", newline="\n") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    tk = Tokenizer(WordPiece.from_file(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tk.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=True, lowercase=True)
    tk.pre_tokenizer = pre_tokenizers.BertPreTokenizer()

    def run_batch():
        return [e.ids for e in tk.encode_batch(lines, add_special_tokens=False)]

    def run_loop():
        return [tk.encode(l, add_special_tokens=False).ids for l in lines]

    out = {"tokenizers": tokenizers.__version__}
    for name, fn in (("batch", run_batch), ("loop", run_loop)):
        ids = fn()  # warm-up
        best = None
        for _ in range(repeat):
            c0 = time.process_time()
            t0 = time.perf_counter()
            ids = fn()
            wall = time.perf_counter() - t0
            cpu = time.process_time() - c0
            if best is None or wall < best[0]:
                best = (wall, cpu)
        out[name] = {"wall": best[0], "cpu": best[1]}
    out["ids"] = ids
    sys.stdout.write(json.dumps(out))


if __name__ == "__main__":
    main()
