#!/usr/bin/env python3
"""Golden file for one tiny ELECTRA pre-training run (generator + discriminator).

Builds HF transformers ElectraForMaskedLM (generator) and ElectraForPreTraining
(discriminator) with a tiny random config, shares the embeddings as ELECTRA does,
runs the replaced-token-detection loss, its gradients, and 3 steps of the
google-research/electra AdamW (clip by global norm, warmup + linear decay, no
bias correction), and writes everything to

    test/golden/electra_tiny_step.safetensors
    test/golden/electra_tiny_hf/{generator,discriminator}/   (save_pretrained, initial weights)

Everything is computed twice: in float32 (torch default, as a sanity check) and in
float64 (model.double()). The stored golden values are the float64 results cast to
float32. Run from anywhere:  python scripts/reference/make_golden.py
"""
import argparse
import hashlib
import json
import math
import os
import shutil
import sys

import torch
from safetensors import safe_open
from transformers import ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

SEED = 20240607
B, S = 3, 12
PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4
FIRST_TOKEN = 5  # ordinary token ids are drawn from [5, vocab_size)

COMMON = dict(
    vocab_size=64,
    embedding_size=16,
    max_position_embeddings=16,
    type_vocab_size=2,
    layer_norm_eps=1e-12,
    hidden_act="gelu",
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
    initializer_range=0.02,
    pad_token_id=PAD,
)
DISC = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
GEN = dict(hidden_size=24, num_hidden_layers=2, num_attention_heads=1, intermediate_size=96)

HP = dict(
    learning_rate=1e-3,
    warmup_steps=2,
    num_train_steps=10,
    lr_decay_power=1.0,
    beta_1=0.9,
    beta_2=0.999,
    epsilon=1e-6,
    weight_decay_rate=0.01,
    exclude_from_weight_decay=["LayerNorm", "bias"],
    clip_norm=1.0,
    disc_weight=50.0,
    steps=3,
    bias_correction=False,
)
PERTURB = dict(layer_norm_weight="1 + 0.1*randn", layer_norm_bias="0.05*randn", bias="0.05*randn",
               word_embeddings_pad_row="0.02*randn")


# ----------------------------------------------------------------------------- models

def make_config(arch):
    cfg = ElectraConfig(**COMMON, **arch)
    cfg._attn_implementation = "eager"  # plain softmax attention with an additive mask
    return cfg


def build_models():
    """Fresh float32 generator + discriminator with shared embeddings, deterministic."""
    torch.manual_seed(SEED)
    disc = ElectraForPreTraining(make_config(DISC))
    gen = ElectraForMaskedLM(make_config(GEN))
    # ELECTRA: the generator's embeddings ARE the discriminator's; the LM head is tied to them.
    gen.electra.embeddings = disc.electra.embeddings
    gen.generator_lm_head.weight = gen.electra.embeddings.word_embeddings.weight
    assert gen.generator_lm_head.weight is disc.electra.embeddings.word_embeddings.weight
    # Perturb so every LayerNorm / bias path carries a non-trivial value.
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for name, p in combined_params(gen, disc):
            if "LayerNorm.weight" in name:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):  # LayerNorm biases included
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
        w = disc.electra.embeddings.word_embeddings.weight
        w[PAD].copy_(0.02 * torch.randn(w.shape[1], generator=g))  # HF zeroes the padding row; make it non-trivial
    gen.eval()  # dropout is 0 anyway
    disc.eval()
    return gen, disc


def combined_params(gen, disc):
    """The project's combined parameter table: [(name, Parameter)], each tensor once."""
    out, seen = [], set()
    for n, p in disc.named_parameters():
        out.append((n, p))
        seen.add(id(p))
    for n, p in gen.named_parameters(remove_duplicate=False):
        if id(p) in seen:  # shared embeddings and the tied LM head weight
            assert n.startswith("electra.embeddings.") or n == "generator_lm_head.weight", n
            continue
        assert n.startswith("electra.") or n.startswith("generator_"), n
        name = "generator." + n[len("electra."):] if n.startswith("electra.") else n
        out.append((name, p))
        seen.add(id(p))
    names = [n for n, _ in out]
    assert len(names) == len(set(names))
    return out


def decays(name):
    return not any(x in name for x in HP["exclude_from_weight_decay"])


# ----------------------------------------------------------------------------- inputs

def make_inputs():
    g = torch.Generator().manual_seed(SEED + 2)
    V = COMMON["vocab_size"]
    lengths = [S, S - 4, S - 2]  # seq 1: 4 pads, seq 2: 2 pads
    input_ids = torch.zeros(B, S, dtype=torch.long)
    token_type_ids = torch.zeros(B, S, dtype=torch.long)
    attention_mask = torch.zeros(B, S, dtype=torch.long)
    maskable = []  # (b, s) positions that are ordinary tokens
    for b, L in enumerate(lengths):
        toks = torch.randint(FIRST_TOKEN, V, (L,), generator=g)
        toks[0] = CLS
        toks[L - 1] = SEP
        if b == 0:  # two segments: [CLS] a a a a a [SEP] b b b b [SEP]
            toks[6] = SEP
            token_type_ids[b, 7:L] = 1
        input_ids[b, :L] = toks
        attention_mask[b, :L] = 1
        maskable.append([s for s in range(L) if int(toks[s]) >= FIRST_TOKEN])
    per_seq = [2, 2, 3]
    pos = []
    for b in range(B):
        cand = maskable[b]
        pick = torch.randperm(len(cand), generator=g)[: per_seq[b]]
        pos += [b * S + cand[int(i)] for i in pick]
    masked_positions = torch.tensor(sorted(pos), dtype=torch.long)
    M = len(masked_positions)
    flat = input_ids.view(-1)
    originals = flat[masked_positions].clone()

    # Generator input: [MASK] at most masked positions; #2 keeps its token ("unchanged"),
    # #4 gets a random different token ("random") -- the 80/10/10 rule in miniature.
    gen_in = flat.clone()
    gen_in[masked_positions] = MASK
    gen_in[masked_positions[2]] = originals[2]
    r = originals[4]
    while int(r) == int(originals[4]):
        r = torch.randint(FIRST_TOKEN, V, (1,), generator=g)[0]
    gen_in[masked_positions[4]] = r
    generator_input_ids = gen_in.view(B, S)

    # Sampled tokens: random, except #1 equals the original (label 0); all others differ.
    sampled = torch.randint(FIRST_TOKEN, V, (M,), generator=g)
    for i in range(M):
        while i != 1 and int(sampled[i]) == int(originals[i]):
            sampled[i] = torch.randint(FIRST_TOKEN, V, (1,), generator=g)[0]
    sampled[1] = originals[1]
    assert int((sampled == originals).sum()) >= 1 and int((sampled != originals).sum()) >= 2
    for p in masked_positions.tolist():
        assert attention_mask.view(-1)[p] == 1 and input_ids.view(-1)[p] >= FIRST_TOKEN
    return dict(input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask,
                masked_positions=masked_positions, generator_input_ids=generator_input_ids,
                sampled_ids=sampled)


# ----------------------------------------------------------------------------- the step

def forward(gen, disc, x):
    """Returns dict of losses/outputs; losses keep the autograd graph."""
    V = COMMON["vocab_size"]
    mp = x["masked_positions"]
    gen_out = gen(input_ids=x["generator_input_ids"], attention_mask=x["attention_mask"],
                  token_type_ids=x["token_type_ids"])
    logits_all = gen_out.logits.reshape(B * S, V)
    gen_logits = logits_all[mp]  # [M, V]
    targets = x["input_ids"].reshape(-1)[mp]
    gen_loss = torch.nn.functional.cross_entropy(gen_logits, targets)

    disc_in = x["input_ids"].reshape(-1).clone()
    disc_in[mp] = x["sampled_ids"]  # no gradient flows through the sample
    disc_in = disc_in.view(B, S)
    labels = (disc_in != x["input_ids"]).to(gen_logits.dtype)
    disc_logits = disc(input_ids=disc_in, attention_mask=x["attention_mask"],
                       token_type_ids=x["token_type_ids"]).logits  # [B, S]
    active = x["attention_mask"] == 1
    disc_loss = torch.nn.functional.binary_cross_entropy_with_logits(disc_logits[active], labels[active])
    total = gen_loss + HP["disc_weight"] * disc_loss
    return dict(gen_logits=gen_logits, disc_logits=disc_logits, disc_labels=labels, disc_input_ids=disc_in,
                gen_loss=gen_loss, disc_loss=disc_loss, total_loss=total)


def hf_loss_check(gen, disc, x, out):
    """Independent route: HF's own labels= losses must equal the manual ones."""
    with torch.no_grad():
        mlm_labels = torch.full((B * S,), -100, dtype=torch.long)
        mp = x["masked_positions"]
        mlm_labels[mp] = x["input_ids"].reshape(-1)[mp]
        hf_gen = gen(input_ids=x["generator_input_ids"], attention_mask=x["attention_mask"],
                     token_type_ids=x["token_type_ids"], labels=mlm_labels.view(B, S)).loss
        hf_disc = disc(input_ids=out["disc_input_ids"], attention_mask=x["attention_mask"],
                       token_type_ids=x["token_type_ids"], labels=out["disc_labels"].long()).loss
    return float(hf_gen), float(hf_disc)


def lr_at(t):
    """google-research/electra optimization.py: polynomial (linear) decay times linear warmup,
    evaluated at the global step BEFORE it is incremented."""
    lr = HP["learning_rate"] * (1.0 - min(t, HP["num_train_steps"]) / HP["num_train_steps"]) ** HP["lr_decay_power"]
    return lr * min(1.0, t / HP["warmup_steps"])


def run(dtype):
    gen, disc = build_models()
    params = combined_params(gen, disc)
    init = {n: p.detach().clone() for n, p in params}  # float32 initial values
    if dtype == torch.float64:
        gen.double()
        disc.double()
        # .double() converts Parameters in place: sharing and tying survive; check it.
        assert gen.electra.embeddings is disc.electra.embeddings
        assert gen.generator_lm_head.weight is disc.electra.embeddings.word_embeddings.weight
        assert gen.generator_lm_head.weight.data_ptr() == disc.electra.embeddings.word_embeddings.weight.data_ptr()
        params = combined_params(gen, disc)
    assert all(p.dtype == dtype for _, p in params)
    x = make_inputs()

    master = {n: p.detach().to(torch.float64).clone() for n, p in params}
    m = {n: torch.zeros_like(v) for n, v in master.items()}
    v = {n: torch.zeros_like(t) for n, t in master.items()}
    rec = dict(lr=[], grad_norm=[], total_loss_per_step=[])
    for t in range(HP["steps"]):
        for _, p in params:
            p.grad = None
        out = forward(gen, disc, x)
        out["total_loss"].backward()
        grads = {n: p.grad.detach().to(torch.float64).clone() for n, p in params}
        norm = math.sqrt(sum(float((g * g).sum()) for g in grads.values()))
        if t == 0:
            rec["out0"] = {k: (val.detach().clone() if torch.is_tensor(val) else val) for k, val in out.items()}
            rec["grad0"] = grads
            rec["hf"] = hf_loss_check(gen, disc, x, out)
        scale = HP["clip_norm"] / max(norm, HP["clip_norm"])  # tf.clip_by_global_norm
        lr = lr_at(t)
        rec["lr"].append(lr)
        rec["grad_norm"].append(norm)
        rec["total_loss_per_step"].append(float(out["total_loss"].detach()))
        for n in master:
            g = grads[n] * scale
            m[n] = HP["beta_1"] * m[n] + (1.0 - HP["beta_1"]) * g
            v[n] = HP["beta_2"] * v[n] + (1.0 - HP["beta_2"]) * g * g
            upd = m[n] / (torch.sqrt(v[n]) + HP["epsilon"])
            if decays(n):
                upd = upd + HP["weight_decay_rate"] * master[n]
            master[n] = master[n] - lr * upd
        with torch.no_grad():
            for n, p in params:
                p.copy_(master[n].to(dtype))
    rec.update(init=init, param3=master, m3=m, v3=v, inputs=x, names=[n for n, _ in params],
               shapes={n: list(p.shape) for n, p in params})
    return rec


def max_rel(a, b):
    a, b = a.to(torch.float64), b.to(torch.float64)
    return float((a - b).abs().max() / max(float(b.abs().max()), 1e-30))


# ----------------------------------------------------------------------------- writer

def write_safetensors(path, tensors, metadata):
    """Byte-deterministic safetensors writer. (safetensors.torch.save_file emits the
    __metadata__ map in hash order, so its bytes change from run to run.) Layout: header
    JSON with __metadata__ first, then tensors sorted by name, data in that order, header
    padded with spaces to a multiple of 8."""
    dt = {torch.float32: "F32", torch.int32: "I32"}
    header, blobs, off = {"__metadata__": dict(sorted(metadata.items()))}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        raw = t.numpy().tobytes()
        header[name] = {"dtype": dt[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, path)
    # Read it back with the reference library: same names, dtypes, shapes, values, metadata.
    with safe_open(path, "pt") as f:
        assert f.metadata() == metadata
        assert sorted(f.keys()) == sorted(tensors)
        for name, t in tensors.items():
            u = f.get_tensor(name)
            assert u.dtype == t.dtype and torch.equal(u, t), name


# ----------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(REPO, "test", "golden"))
    ap.add_argument("--no-hf-dirs", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    r64 = run(torch.float64)
    r32 = run(torch.float32)

    names = r64["names"]
    f32 = lambda t: t.detach().to(torch.float32).contiguous()
    i32 = lambda t: t.detach().to(torch.int32).contiguous()
    T = {}
    for n in names:
        T["param/" + n] = f32(r64["init"][n])
        T["grad/" + n] = f32(r64["grad0"][n])
        T["param3/" + n] = f32(r64["param3"][n])
        T["m3/" + n] = f32(r64["m3"][n])
        T["v3/" + n] = f32(r64["v3"][n])
    x = r64["inputs"]
    for k in ["input_ids", "token_type_ids", "attention_mask", "masked_positions", "generator_input_ids", "sampled_ids"]:
        T[k] = i32(x[k])
    o = r64["out0"]
    T["gen_logits"] = f32(o["gen_logits"])
    T["disc_logits"] = f32(o["disc_logits"])
    T["disc_labels"] = f32(o["disc_labels"])
    T["disc_input_ids"] = i32(o["disc_input_ids"])
    for k in ["gen_loss", "disc_loss", "total_loss"]:
        T[k] = f32(o[k].reshape(1))
    T["lr"] = torch.tensor(r64["lr"], dtype=torch.float32)
    T["grad_norm"] = torch.tensor(r64["grad_norm"], dtype=torch.float32)
    T["total_loss_per_step"] = torch.tensor(r64["total_loss_per_step"], dtype=torch.float32)

    config = dict(COMMON, special_ids=dict(pad=PAD, unk=UNK, cls=CLS, sep=SEP, mask=MASK),
                  discriminator=DISC, generator=GEN, batch_size=B, seq_len=S, seed=SEED,
                  hidden_act_note="exact erf GELU (HF 'gelu'), both networks and the generator head",
                  attention_mask_value="torch.finfo(float64).min added to masked keys (eager attention)")
    meta = {
        "config": json.dumps(config, sort_keys=True),
        "optimizer": json.dumps(HP, sort_keys=True),
        "perturbation": json.dumps(PERTURB, sort_keys=True),
        "param_names": json.dumps(names),  # combined table order: discriminator (with shared embeddings), then generator
        "decay": json.dumps({n: decays(n) for n in names}, sort_keys=True),
        "loss": "total = gen_loss + disc_weight * disc_loss; gen_loss = mean CE over masked_positions "
                "(targets input_ids); disc_loss = mean BCE-with-logits over attention_mask==1",
        "precision": "computed in float64 (model.double(), optimizer in float64), stored as float32",
        "generator": "transformers " + __import__("transformers").__version__ + ", torch " + torch.__version__,
    }
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "electra_tiny_step.safetensors")
    write_safetensors(path, T, meta)
    size = os.path.getsize(path)
    assert size < 2 * 1024 * 1024, size

    # ------------------------------------------------------------------ HF save_pretrained dirs
    hf_size = 0
    if not args.no_hf_dirs:
        hf_dir = os.path.join(args.out, "electra_tiny_hf")
        shutil.rmtree(hf_dir, ignore_errors=True)
        gen, disc = build_models()  # initial float32 weights == param/*
        disc.save_pretrained(os.path.join(hf_dir, "discriminator"), safe_serialization=True)
        gen.save_pretrained(os.path.join(hf_dir, "generator"), safe_serialization=True)
        for root, _, files in os.walk(hf_dir):
            for f in files:
                hf_size += os.path.getsize(os.path.join(root, f))
        if hf_size >= 300 * 1024:
            shutil.rmtree(hf_dir)
            print(f"HF dirs would be {hf_size} bytes (>= 300 KB): not written")
            hf_size = 0

    # ------------------------------------------------------------------ summary
    print(f"wrote {os.path.relpath(path, REPO)}: {size} bytes, {len(T)} tensors, sha256 "
          + hashlib.sha256(open(path, "rb").read()).hexdigest()[:16])
    if hf_size:
        print(f"wrote {os.path.relpath(os.path.join(args.out, 'electra_tiny_hf'), REPO)}: {hf_size} bytes")
    n_params = sum(T["param/" + n].numel() for n in names)
    print(f"parameters: {len(names)} tensors, {n_params} floats")
    print("masked_positions", x["masked_positions"].tolist())
    print("originals       ", x["input_ids"].reshape(-1)[x["masked_positions"]].tolist())
    print("generator input ", x["generator_input_ids"].reshape(-1)[x["masked_positions"]].tolist())
    print("sampled_ids     ", x["sampled_ids"].tolist())
    print("lr       ", [f"{a:.6g}" for a in r64["lr"]])
    print("grad_norm", [f"{a:.9g}" for a in r64["grad_norm"]])
    print("total per step", [f"{a:.9g}" for a in r64["total_loss_per_step"]])
    print(f"gen_loss {float(o['gen_loss']):.9g}  disc_loss {float(o['disc_loss']):.9g}  "
          f"total {float(o['total_loss']):.9g}")
    hg, hd = r64["hf"]
    dg, dd = abs(hg - float(o["gen_loss"])), abs(hd - float(o["disc_loss"]))
    print(f"HF labels= check (float64): gen {hg:.12g} (|diff| {dg:.2e}), disc {hd:.12g} (|diff| {dd:.2e})")
    # HF's ElectraForPreTraining casts labels with .float(), and BCE-with-logits on (float64 logits,
    # float32 labels) returns float32: its disc loss is only float32-exact even in float64 mode.
    assert dg < 1e-12 and dd < 1e-6 * abs(hd), "manual losses disagree with HF's own"
    hg32, hd32 = r32["hf"]
    print(f"HF labels= check (float32): gen |diff| {abs(hg32 - float(r32['out0']['gen_loss'])):.2e}, "
          f"disc |diff| {abs(hd32 - float(r32['out0']['disc_loss'])):.2e}")
    worst = {}
    for key in ["grad0", "param3", "m3", "v3"]:
        # attention key biases have an analytically zero gradient (softmax is shift-invariant),
        # so their relative error is meaningless; they are left out here.
        worst[key] = max(max_rel(r32[key][n], r64[key][n]) for n in names if not n.endswith("key.bias"))
    for key in ["gen_logits", "disc_logits"]:
        worst[key] = max_rel(r32["out0"][key], r64["out0"][key])
    print("float32 vs float64 max rel error (per tensor, worst):",
          ", ".join(f"{k} {v:.2e}" for k, v in worst.items()))
    kb = max(float(r64["grad0"][n].abs().max()) for n in names if n.endswith("key.bias"))
    print(f"max |grad| of attention key biases (analytically 0): {kb:.2e}")
    zero_grads = [n for n in names if float(r64["grad0"][n].abs().max()) == 0.0]
    print("parameters with an all-zero gradient:", zero_grads or "none")
    if zero_grads:
        sys.exit("some gradient path is not exercised")


if __name__ == "__main__":
    main()
