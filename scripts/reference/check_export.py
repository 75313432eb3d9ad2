"""Loads an exported directory pair with HF transformers (CPU) and prints, as JSON,
the discriminator logits and the generator logits at the given positions for the
given input ids. Used by test/export.test.ts; exits 3 when torch/transformers are missing."""
import json
import sys

try:
    import torch
    from transformers import ElectraForMaskedLM, ElectraForPreTraining
except ImportError as e:  # the test skips, saying why
    print(f"missing python package: {e}", file=sys.stderr)
    sys.exit(3)


def main():
    req = json.load(sys.stdin)
    ids = torch.tensor(req["input_ids"], dtype=torch.long)
    types = torch.tensor(req["token_type_ids"], dtype=torch.long)
    mask = torch.tensor(req["attention_mask"], dtype=torch.long)
    disc = ElectraForPreTraining.from_pretrained(req["dir"] + "/discriminator").eval()
    gen = ElectraForMaskedLM.from_pretrained(req["dir"] + "/generator").eval()
    tied = gen.generator_lm_head.weight.data_ptr() == gen.electra.embeddings.word_embeddings.weight.data_ptr()
    with torch.no_grad():
        d = disc(input_ids=ids, token_type_ids=types, attention_mask=mask).logits
        g = gen(input_ids=ids, token_type_ids=types, attention_mask=mask).logits
    S = ids.shape[1]
    rows = [g[p // S, p % S].tolist() for p in req["positions"]]
    json.dump({"disc_logits": d.reshape(-1).tolist(), "gen_logits": rows, "tied": tied}, sys.stdout)


if __name__ == "__main__":
    main()
