#!/usr/bin/env python3
"""The PyTorch peer of `electra_bench step`: one ELECTRA replaced-token-detection
training step with HF transformers on the CPU, timed the same way.

  python3 scripts/bench/peer_hf.py [--preset small] [--batch 16] [--seq 128]
                                   [--threads N] [--steps N] [--warmup 2] [--seed 1]

Architecture, as the ELECTRA recipe: ElectraForMaskedLM generator +
ElectraForPreTraining discriminator, one shared embedding module (word,
position, token type, LayerNorm), the generator's output layer tied to the
word embeddings, dropout 0.1 (hidden and attention), train mode.

One step:
  masking     15% of the non-special tokens (Bernoulli per token), of those 85%
              become [MASK] and 15% keep the original id;
  generator   forward with HF's standard MLM head and labels. NOTE: HF computes
              the vocabulary projection and softmax at EVERY position
              ([B*S, V] logits; the loss ignores unmasked positions), whereas
              electra-native projects only the masked rows ([M, V]);
  sampling    Gumbel-max on the masked rows' (detached) logits;
  disc        forward on the sampled sequence, BCE over all tokens;
  loss        gen + 50 * disc, backward, clip_grad_norm_ 1.0,
              torch.optim.AdamW(lr 5e-4, betas (0.9, 0.999), eps 1e-6,
              weight decay 0.01, no decay on biases / LayerNorm).

Input: random ids like electra_bench step: [CLS] w.. [SEP], w uniform in
1000..29999, no padding. Prints one JSON object on stdout:
{tokens_per_s, ms_per_step, peak_rss_mb, torch_version, threads, ...};
progress goes to stderr. Exit code 3 when torch / transformers are missing.
"""
import argparse
import json
import math
import resource
import sys
import time

# The model sizes of lib/config.ts PRESETS (as native/bench/bench_step.cpp):
# discriminator (hidden, layers, heads, ffn), embedding size, generator fraction.
PRESETS = {
    "tiny": ((64, 2, 2, 256), 32, 0.5),
    "small": ((256, 12, 4, 1024), 128, 0.25),
    "base": ((768, 12, 12, 3072), 768, 1.0 / 3.0),
    "large": ((1024, 24, 16, 4096), 1024, 0.25),
}
VOCAB, PAD, UNK, CLS, SEP, MASK = 30522, 0, 100, 101, 102, 103


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="small", choices=sorted(PRESETS))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    ap.add_argument("--steps", type=int, default=0, help="timed steps (0: about 10 s, 3..20)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    try:
        import torch
        import transformers
        from transformers import ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining
    except Exception as e:  # ImportError, or a broken install
        print(f"peer_hf.py: needs torch and transformers ({type(e).__name__}: {e}); "
              "install them with `pip install torch transformers`", file=sys.stderr)
        sys.exit(3)

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    (H, L, A, F), E, frac = PRESETS[args.preset]
    gh = max(1, round(H * frac))
    common = dict(vocab_size=VOCAB, embedding_size=E, max_position_embeddings=512, type_vocab_size=2,
                  hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, layer_norm_eps=1e-12,
                  pad_token_id=PAD, hidden_act="gelu", tie_word_embeddings=True)
    gcfg = ElectraConfig(hidden_size=gh, num_hidden_layers=L, num_attention_heads=max(1, gh // 64),
                         intermediate_size=4 * gh, **common)
    dcfg = ElectraConfig(hidden_size=H, num_hidden_layers=L, num_attention_heads=A, intermediate_size=F, **common)
    gen = ElectraForMaskedLM(gcfg)
    disc = ElectraForPreTraining(dcfg)
    # Shared embeddings; the generator head is tied to the (now shared) word embeddings.
    disc.electra.embeddings = gen.electra.embeddings
    gen.generator_lm_head.weight = gen.electra.embeddings.word_embeddings.weight
    gen.train()
    disc.train()

    params, seen = [], set()
    for mod in (gen, disc):
        for n, p in mod.named_parameters():
            if id(p) not in seen:
                seen.add(id(p))
                params.append((n, p))
    decay = [p for n, p in params if not (n.endswith("bias") or "LayerNorm" in n)]
    no_decay = [p for n, p in params if n.endswith("bias") or "LayerNorm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=5e-4, betas=(0.9, 0.999), eps=1e-6)
    n_params = sum(p.numel() for _, p in params)

    B, S = args.batch, args.seq
    g = torch.Generator().manual_seed(args.seed)
    ids = torch.randint(1000, 30000, (B, S), generator=g)
    ids[:, 0] = CLS
    ids[:, -1] = SEP
    attn = torch.ones(B, S, dtype=torch.long)
    special = (ids == CLS) | (ids == SEP) | (ids == PAD) | (ids == MASK)
    all_params = [p for _, p in params]

    last = {}

    def step():
        # 1. masking
        prob = torch.full((B, S), 0.15)
        masked = torch.bernoulli(prob).bool() & ~special
        gen_ids = ids.clone()
        to_mask = masked & torch.bernoulli(torch.full((B, S), 0.85)).bool()
        gen_ids[to_mask] = MASK
        labels = torch.where(masked, ids, torch.full_like(ids, -100))
        # 2. generator (HF MLM head: logits at every position)
        gout = gen(input_ids=gen_ids, attention_mask=attn, labels=labels)
        # 3. Gumbel-max sampling at the masked positions
        with torch.no_grad():
            ml = gout.logits[masked].float()
            u = torch.rand_like(ml).clamp_(1e-9, 1.0 - 1e-7)
            sampled = torch.argmax(ml - torch.log(-torch.log(u)), dim=-1)
            disc_ids = ids.clone()
            disc_ids[masked] = sampled
            dlabels = (disc_ids != ids).long()
        # 4. discriminator
        dout = disc(input_ids=disc_ids, attention_mask=attn, labels=dlabels)
        loss = gout.loss + 50.0 * dout.loss
        # 5. backward, clip, AdamW
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(all_params, 1.0)
        opt.step()
        last.update(loss=loss.item(), gen_loss=gout.loss.item(), disc_loss=dout.loss.item(),
                    masked=int(masked.sum()))

    def timed():
        t0 = time.perf_counter()
        step()
        return time.perf_counter() - t0

    lastt = 0.0
    for i in range(args.warmup):
        lastt = timed()
        print(f"peer warm-up {i + 1}/{args.warmup}: {lastt * 1e3:.0f} ms", file=sys.stderr)
    steps = args.steps
    if steps <= 0:
        if lastt <= 0:
            lastt = timed()
        steps = min(20, max(3, math.ceil(10.0 / max(lastt, 1e-3))))
    ts = []
    for i in range(steps):
        ts.append(timed())
        print(f"peer step {i + 1}/{steps}: {ts[-1] * 1e3:.0f} ms", file=sys.stderr)
    srt = sorted(ts)
    n = len(srt)
    med = srt[n // 2] if n % 2 else 0.5 * (srt[n // 2 - 1] + srt[n // 2])
    out = {
        "mode": "step", "impl": "pytorch-hf", "preset": args.preset, "batch": B, "seq": S,
        "threads": torch.get_num_threads(), "params": n_params, "warmup": args.warmup, "steps": steps,
        "median_ms": round(med * 1e3, 2), "min_ms": round(srt[0] * 1e3, 2), "max_ms": round(srt[-1] * 1e3, 2),
        "mean_ms": round(sum(ts) / n * 1e3, 2), "ms_per_step": round(med * 1e3, 2),
        "tokens_per_s": round(B * S / med, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "torch_version": torch.__version__, "transformers_version": transformers.__version__,
        "attn_implementation": getattr(disc.config, "_attn_implementation", None),
        "step_ms": [round(t * 1e3, 2) for t in ts],
        **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in last.items()},
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
