"""Loads fine-tuned model directories with HF transformers (CPU) as the class each
config names (ElectraForSequenceClassification or ElectraForTokenClassification)
with its tokenizer, and prints, as JSON, per directory: the logits for the given
input ids, the id2label map and the tokenizer's class. Request on stdin:
{"dir": D | "dirs": [D...], "input_ids", "token_type_ids", "attention_mask",
"tokenizer": bool}; one directory answers one object, "dirs" a list (one
Python start for several checks). Used by the fine-tuning jest tests; exits 3
when torch/transformers are missing."""
import json
import sys

try:
    import torch
    import transformers
    from transformers import AutoTokenizer
except ImportError as e:  # the test skips, saying why
    print(f"missing python package: {e}", file=sys.stderr)
    sys.exit(3)


def check(d, req):
    cfg = transformers.AutoConfig.from_pretrained(d)
    cls = getattr(transformers, cfg.architectures[0])
    model = cls.from_pretrained(d).eval()
    ids = torch.tensor(req["input_ids"], dtype=torch.long)
    types = torch.tensor(req["token_type_ids"], dtype=torch.long)
    mask = torch.tensor(req["attention_mask"], dtype=torch.long)
    with torch.no_grad():
        logits = model(input_ids=ids, token_type_ids=types, attention_mask=mask).logits
    tok = AutoTokenizer.from_pretrained(d) if req.get("tokenizer") else None
    return {
        "class": type(model).__name__,
        "logits": logits.reshape(-1).tolist(),
        "id2label": {str(k): v for k, v in model.config.id2label.items()},
        "num_labels": model.config.num_labels,
        "problem_type": model.config.problem_type,
        "tokenizer": type(tok).__name__ if tok else None,
        "tokens": tok.convert_ids_to_tokens(req["input_ids"][0]) if tok else None,
    }


def main():
    req = json.load(sys.stdin)
    if "dirs" in req:
        json.dump([check(d, req) for d in req["dirs"]], sys.stdout)
    else:
        json.dump(check(req["dir"], req), sys.stdout)


if __name__ == "__main__":
    main()
