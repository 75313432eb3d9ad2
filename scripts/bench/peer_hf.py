#!/usr/bin/env python3
"""The PyTorch peer of `electra_bench step`: one ELECTRA replaced-token-detection
training step with HF transformers, on the CPU or a CUDA GPU, timed the same way.

  python3 scripts/bench/peer_hf.py [--preset small] [--batch 16] [--seq 128]
                                   [--threads N] [--steps N] [--warmup 2] [--seed 1]
                                   [--device cpu|cuda] [--bf16] [--compile]
                                   [--head full|masked]
  python3 scripts/bench/peer_hf.py --gemm [--threads N] [--device cpu|cuda]

--head full (default) is stock HF training: ElectraForMaskedLM's head (dense,
GELU, LayerNorm, tied vocabulary projection) runs at every position. --head
masked is the tuned variant, as google-research/electra does it: the
generator's encoder runs at every position, then the masked positions' hidden
states are gathered and only they go through the same head modules
(generator_predictions + generator_lm_head); the loss is the mean
cross-entropy over those rows, as HF's. Sampling and the discriminator are the
same in both. `bench` times both and compares against the faster.

--gemm times torch.matmul on square 2048^3 fp32 operands instead of the step
(the same method as `electra_bench gemm`'s square peak: 2 untimed calls, then
the median of >= 0.5 s and >= 5 runs) and prints {"mode": "gemm", "gflops",
...}: PyTorch's practical sgemm peak at this thread count.

--device cuda runs everything on GPU 0 (the current device); each step is timed
from a torch.cuda.synchronize() to a torch.cuda.synchronize(), and the peak
memory is torch.cuda.max_memory_allocated() over the timed steps (the stats
are reset after the warm-up; params, grads and AdamW state persist, so they
are in it). --bf16 (CUDA only) wraps the forward passes, the sampling and the
loss in torch.autocast(device_type="cuda", dtype=torch.bfloat16); backward and
the optimizer run outside it, fp32 master weights and AdamW state, as usual.
--compile wraps the generator and the discriminator in torch.compile (default
mode; with --head masked the generator's encoder, as the gathered head's row
count changes every step); the compilation happens in the first warm-up step. When it fails the
script still prints its JSON line, with "compile": "failed" and the error, and
exits 0.

Architecture, as the ELECTRA recipe: ElectraForMaskedLM generator +
ElectraForPreTraining discriminator, one shared embedding module (word,
position, token type, LayerNorm), the generator's output layer tied to the
word embeddings, dropout 0.1 (hidden and attention), train mode.

One step:
  masking     15% of the non-special tokens (Bernoulli per token), of those 85%
              become [MASK] and 15% keep the original id;
  generator   --head full: forward with HF's standard MLM head and labels. HF
              computes the vocabulary projection and softmax at EVERY position
              ([B*S, V] logits; the loss ignores unmasked positions).
              --head masked: the head at the masked rows only ([M, V] logits),
              as electra-native does;
  sampling    Gumbel-max on the masked rows' (detached) logits;
  disc        forward on the sampled sequence, BCE over all tokens;
  loss        gen + 50 * disc, backward, clip_grad_norm_ 1.0,
              torch.optim.AdamW(lr 5e-4, betas (0.9, 0.999), eps 1e-6,
              weight decay 0.01, no decay on biases / LayerNorm).

Input: random ids like electra_bench step: [CLS] w.. [SEP], w uniform in
1000..29999, no padding. Prints one JSON object on stdout:
{tokens_per_s, ms_per_step, peak_rss_mb, device, dtype, compile, head, peak_bytes,
torch_version, threads, ...}; progress goes to stderr. Exit code 3 when torch /
transformers are missing, 4 when --device cuda finds no usable GPU, 2 on bad
arguments (--bf16 without --device cuda).
"""
import argparse
import contextlib
import json
import math
import resource
import sys
import time

# The model sizes of lib/config.ts PRESETS (as native/bench/bench_step.cpp):
# discriminator (hidden, layers, heads, ffn), embedding size, generator width
# fraction, generator depth fraction.
PRESETS = {
    "tiny": ((64, 2, 2, 256), 32, 0.25, 0.5),
    "small": ((256, 12, 4, 1024), 128, 0.25, 1.0),
    "base": ((768, 12, 12, 3072), 768, 1.0 / 3.0, 1.0),
    "large": ((1024, 24, 16, 4096), 1024, 0.25, 1.0),
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
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast around forward + loss (CUDA only)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the generator and discriminator")
    ap.add_argument("--head", default="full", choices=["full", "masked"],
                    help="generator head at every position (stock HF) or at the masked positions only")
    ap.add_argument("--gemm", action="store_true", help="time a square 2048^3 fp32 torch.matmul instead of the step")
    args = ap.parse_args()
    if args.bf16 and args.device != "cuda":
        print("peer_hf.py: --bf16 needs --device cuda (bf16 autocast is measured on the GPU only)", file=sys.stderr)
        sys.exit(2)

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
    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        print(f"peer_hf.py: --device cuda but torch {torch.__version__} sees no usable GPU "
              f"(torch.version.cuda={torch.version.cuda})", file=sys.stderr)
        sys.exit(4)
    dev = torch.device(args.device)
    torch.manual_seed(args.seed)
    if args.gemm:
        gemm_peak(torch, dev, cuda)
        return

    (H, L, A, F), E, frac, lfrac = PRESETS[args.preset]
    gh = max(1, round(H * frac))
    common = dict(vocab_size=VOCAB, embedding_size=E, max_position_embeddings=512, type_vocab_size=2,
                  hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, layer_norm_eps=1e-12,
                  pad_token_id=PAD, hidden_act="gelu", tie_word_embeddings=True)
    gcfg = ElectraConfig(hidden_size=gh, num_hidden_layers=max(1, round(L * lfrac)), num_attention_heads=max(1, gh // 64),
                         intermediate_size=4 * gh, **common)
    dcfg = ElectraConfig(hidden_size=H, num_hidden_layers=L, num_attention_heads=A, intermediate_size=F, **common)
    gen = ElectraForMaskedLM(gcfg)
    disc = ElectraForPreTraining(dcfg)
    # Shared embeddings; the generator head is tied to the (now shared) word embeddings.
    disc.electra.embeddings = gen.electra.embeddings
    gen.generator_lm_head.weight = gen.electra.embeddings.word_embeddings.weight
    gen.to(dev)
    disc.to(dev)
    assert disc.electra.embeddings is gen.electra.embeddings
    assert gen.generator_lm_head.weight is gen.electra.embeddings.word_embeddings.weight
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
    ids = ids.to(dev)
    attn = torch.ones(B, S, dtype=torch.long, device=dev)
    special = (ids == CLS) | (ids == SEP) | (ids == PAD) | (ids == MASK)
    all_params = [p for _, p in params]

    masked_head = args.head == "masked"
    gen_fwd, disc_fwd = (gen.electra if masked_head else gen), disc
    compile_state = "off"
    if args.compile:
        gen_fwd, disc_fwd = torch.compile(gen_fwd), torch.compile(disc)
        compile_state = "on"

    def generator(gen_ids, masked, labels):
        """(loss, logits at the masked positions [M, V])."""
        if not masked_head:
            out = gen_fwd(input_ids=gen_ids, attention_mask=attn, labels=labels)
            return out.loss, out.logits[masked]
        hidden = gen_fwd(input_ids=gen_ids, attention_mask=attn).last_hidden_state
        logits = gen.generator_lm_head(gen.generator_predictions(hidden[masked]))
        return torch.nn.functional.cross_entropy(logits.float(), ids[masked]), logits

    def autocast():
        if args.bf16:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def sync():
        if cuda:
            torch.cuda.synchronize()

    last = {}

    def step():
        # 1. masking
        prob = torch.full((B, S), 0.15, device=dev)
        masked = torch.bernoulli(prob).bool() & ~special
        gen_ids = ids.clone()
        to_mask = masked & torch.bernoulli(torch.full((B, S), 0.85, device=dev)).bool()
        gen_ids[to_mask] = MASK
        labels = torch.where(masked, ids, torch.full_like(ids, -100))
        with autocast():
            # 2. generator (--head full: logits at every position, loss at the masked ones)
            gen_loss, gen_logits = generator(gen_ids, masked, labels)
            # 3. Gumbel-max sampling at the masked positions, no gradient
            with torch.no_grad():
                ml = gen_logits.float()
                u = torch.rand_like(ml).clamp_(1e-9, 1.0 - 1e-7)
                sampled = torch.argmax(ml - torch.log(-torch.log(u)), dim=-1)
                disc_ids = ids.clone()
                disc_ids[masked] = sampled
                dlabels = (disc_ids != ids).long()
            # 4. discriminator (HF: BCE over the tokens with attention_mask 1, i.e. non-padding)
            dout = disc_fwd(input_ids=disc_ids, attention_mask=attn, labels=dlabels)
            loss = gen_loss.float() + 50.0 * dout.loss.float()
        # 5. backward, clip, AdamW (outside autocast)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(all_params, 1.0)
        opt.step()
        last.update(loss=loss.item(), gen_loss=gen_loss.item(), disc_loss=dout.loss.item(),
                    masked=int(masked.sum()))

    def timed():
        sync()
        t0 = time.perf_counter()
        step()
        sync()
        return time.perf_counter() - t0

    def base_info():
        info = {
            "mode": "step", "impl": "pytorch-hf", "device": args.device,
            "device_name": torch.cuda.get_device_name(dev) if cuda else "cpu",
            "dtype": "bf16" if args.bf16 else "fp32", "compile": compile_state, "head": args.head,
            "preset": args.preset, "batch": B, "seq": S,
            "threads": torch.get_num_threads(), "params": n_params, "warmup": args.warmup,
            "torch_version": torch.__version__, "transformers_version": transformers.__version__,
            "attn_implementation": getattr(disc.config, "_attn_implementation", None),
        }
        if cuda:
            info["torch_cuda"] = torch.version.cuda
            info["tf32_matmul"] = bool(torch.backends.cuda.matmul.allow_tf32)
        return info

    warm_ms = []
    try:
        lastt = 0.0
        for i in range(args.warmup):
            lastt = timed()
            warm_ms.append(round(lastt * 1e3, 2))
            print(f"peer warm-up {i + 1}/{args.warmup}: {lastt * 1e3:.0f} ms", file=sys.stderr)
        steps = args.steps
        if steps <= 0:
            if lastt <= 0:
                lastt = timed()
            steps = min(20, max(3, math.ceil(10.0 / max(lastt, 1e-3))))
        if cuda:
            torch.cuda.reset_peak_memory_stats(dev)
        ts = []
        for i in range(steps):
            ts.append(timed())
            print(f"peer step {i + 1}/{steps}: {ts[-1] * 1e3:.0f} ms", file=sys.stderr)
    except Exception as e:  # noqa: BLE001 - a failed compile is a result, not a crash
        if not args.compile:
            raise
        msg = " ".join(str(e).split())[:400]
        print(f"peer_hf.py: torch.compile failed: {type(e).__name__}: {msg}", file=sys.stderr)
        out = base_info()
        out.update(compile="failed", error=f"{type(e).__name__}: {msg}", warmup_ms=warm_ms, steps=0,
                   tokens_per_s=None, ms_per_step=None, peak_bytes=None)
        print(json.dumps(out))
        return
    srt = sorted(ts)
    n = len(srt)
    med = srt[n // 2] if n % 2 else 0.5 * (srt[n // 2 - 1] + srt[n // 2])
    out = base_info()
    out.update({
        "steps": steps,
        "median_ms": round(med * 1e3, 2), "min_ms": round(srt[0] * 1e3, 2), "max_ms": round(srt[-1] * 1e3, 2),
        "mean_ms": round(sum(ts) / n * 1e3, 2), "ms_per_step": round(med * 1e3, 2),
        "tokens_per_s": round(B * S / med, 1), "tokens_per_s_mean": round(B * S * n / sum(ts), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "peak_bytes": int(torch.cuda.max_memory_allocated(dev)) if cuda else None,
        "peak_reserved_bytes": int(torch.cuda.max_memory_reserved(dev)) if cuda else None,
        "warmup_ms": warm_ms,
        "step_ms": [round(t * 1e3, 2) for t in ts],
        **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in last.items()},
    })
    print(json.dumps(out))


def gemm_peak(torch, dev, cuda, n=2048, min_total=0.5):
    """Prints the square-sgemm peak of torch.matmul as one JSON line."""
    g = torch.Generator().manual_seed(12345)
    a = (torch.rand(n, n, generator=g) - 0.5).to(dev)
    b = (torch.rand(n, n, generator=g) - 0.5).to(dev)
    c = torch.empty(n, n, device=dev)

    def once():
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        torch.matmul(a, b, out=c)
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    once()
    once()
    ts = []
    while sum(ts) < min_total or len(ts) < 5:
        ts.append(once())
    ts.sort()
    med = ts[len(ts) // 2]
    print(json.dumps({
        "mode": "gemm", "impl": "pytorch", "op": "torch.matmul", "dtype": "fp32", "device": dev.type,
        "M": n, "N": n, "K": n, "threads": torch.get_num_threads(), "runs": len(ts),
        "median_ms": round(med * 1e3, 4), "min_ms": round(ts[0] * 1e3, 4),
        "gflops": round(2.0 * n * n * n / med * 1e-9, 2),
        "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32) if cuda else None,
        "torch_version": torch.__version__,
    }))


if __name__ == "__main__":
    main()
