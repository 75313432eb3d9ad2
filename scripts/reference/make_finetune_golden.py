#!/usr/bin/env python3
"""Golden file for one tiny ELECTRA fine-tuning step on each head.

Builds HF transformers ElectraForSequenceClassification (3 classes, and
regression with num_labels=1) and ElectraForTokenClassification (4 tags) on
the SAME small encoder weights (embedding size != hidden size, so the
embedding projection is exercised), runs one batch with dropout off, and
records the logits, the loss and every gradient. Then it runs 3 steps (the first at learning rate 0, warm-up) of the
google-research/electra AdamW (clip by global norm, warm-up + linear decay,
no bias correction) with per-tensor layer-wise learning rates, and records
the parameters after them. Output:

    test/golden/electra_finetune_step.safetensors

Everything is computed in float64 (model.double()) and stored as float32.
Token labels are stored as -1 where ignored (the project's convention); HF
gets -100 there. Run from anywhere:  python scripts/reference/make_finetune_golden.py
"""
import argparse
import hashlib
import json
import math
import os
import re
import sys

import torch
from transformers import ElectraConfig, ElectraForSequenceClassification, ElectraForTokenClassification

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import write_safetensors  # noqa: E402  (the byte-deterministic writer)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

SEED = 20261203
B, S = 3, 12
PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4
FIRST_TOKEN = 5

COMMON = dict(
    vocab_size=64,
    embedding_size=16,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    max_position_embeddings=16,
    type_vocab_size=2,
    layer_norm_eps=1e-12,
    hidden_act="gelu",
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
    initializer_range=0.02,
    pad_token_id=PAD,
)
TASKS = {
    "cls": dict(num_labels=3, kind="classification"),
    "reg": dict(num_labels=1, kind="regression"),
    "tok": dict(num_labels=4, kind="token"),
}
HP = dict(
    learning_rate=1e-3,
    warmup_steps=1,
    num_train_steps=10,
    beta_1=0.9,
    beta_2=0.999,
    epsilon=1e-6,
    weight_decay_rate=0.01,
    exclude_from_weight_decay=["LayerNorm", "bias"],
    clip_norm=1.0,
    layer_decay=0.8,
    steps=3,
)


def layer_scale(name, n_layers, decay):
    """The project's layer-wise rule: head and top layer 1, layer i decay^(L-1-i), embeddings decay^L.
    Written independently of the C++ (a regex with an anchored, whole layer index)."""
    if name.startswith("electra.embeddings.") or name.startswith("electra.embeddings_project."):
        return decay ** n_layers
    m = re.match(r"^electra\.encoder\.layer\.(\d+)\.", name)
    if m:
        return decay ** (n_layers - 1 - int(m.group(1)))
    return 1.0


def make_config(task):
    cfg = ElectraConfig(**COMMON, num_labels=TASKS[task]["num_labels"])
    if task == "reg":
        cfg.problem_type = "regression"
    cfg._attn_implementation = "eager"
    return cfg


def build(task, encoder_state):
    torch.manual_seed(SEED + {"cls": 10, "reg": 11, "tok": 12}[task])
    cls = ElectraForTokenClassification if task == "tok" else ElectraForSequenceClassification
    model = cls(make_config(task))
    g = torch.Generator().manual_seed(SEED + 20 + {"cls": 0, "reg": 1, "tok": 2}[task])
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("electra."):
                p.copy_(encoder_state[name])
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
    model.eval()
    return model


def encoder_weights():
    """The shared encoder: HF init, then LayerNorm and biases perturbed so every path carries a value."""
    torch.manual_seed(SEED)
    model = ElectraForSequenceClassification(make_config("cls"))
    g = torch.Generator().manual_seed(SEED + 1)
    state = {}
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not name.startswith("electra."):
                continue
            if "LayerNorm.weight" in name:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            state[name] = p.detach().clone()
        w = state["electra.embeddings.word_embeddings.weight"]
        w[PAD].copy_(0.02 * torch.randn(w.shape[1], generator=g))
    return state


def make_inputs():
    g = torch.Generator().manual_seed(SEED + 2)
    V = COMMON["vocab_size"]
    lengths = [S, S - 4, S - 2]
    input_ids = torch.zeros(B, S, dtype=torch.long)
    token_type_ids = torch.zeros(B, S, dtype=torch.long)
    attention_mask = torch.zeros(B, S, dtype=torch.long)
    for b, L in enumerate(lengths):
        toks = torch.randint(FIRST_TOKEN, V, (L,), generator=g)
        toks[0] = CLS
        toks[L - 1] = SEP
        if b == 0:  # a text pair
            toks[6] = SEP
            token_type_ids[b, 7:L] = 1
        input_ids[b, :L] = toks
        attention_mask[b, :L] = 1
    cls_labels = torch.tensor([2, 0, 1], dtype=torch.long)
    reg_targets = torch.tensor([0.5, 3.25, -1.0], dtype=torch.float64)
    # Tags on "first word-pieces": every real non-special token except a few
    # (continuation pieces), -1 on [CLS]/[SEP]/padding.
    tok_labels = torch.full((B, S), -1, dtype=torch.long)
    for b, L in enumerate(lengths):
        for s in range(1, L - 1):
            if int(input_ids[b, s]) >= FIRST_TOKEN and (b + s) % 4 != 3:
                tok_labels[b, s] = int(torch.randint(0, TASKS["tok"]["num_labels"], (1,), generator=g))
    return dict(input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask,
                cls_labels=cls_labels, reg_targets=reg_targets, tok_labels=tok_labels)


def loss_of(task, model, x):
    kw = dict(input_ids=x["input_ids"], token_type_ids=x["token_type_ids"], attention_mask=x["attention_mask"])
    if task == "cls":
        out = model(**kw, labels=x["cls_labels"])
    elif task == "reg":
        out = model(**kw, labels=x["reg_targets"])
    else:
        hf = x["tok_labels"].clone()
        hf[hf == -1] = -100  # HF's ignore index
        out = model(**kw, labels=hf)
    return out.logits, out.loss


def manual_loss(task, logits, x):
    """Independent of HF's labels= path: the loss as the native code defines it."""
    if task == "cls":
        return torch.nn.functional.cross_entropy(logits, x["cls_labels"])
    if task == "reg":
        return ((logits.view(-1) - x["reg_targets"].to(logits.dtype)) ** 2).mean()
    y = x["tok_labels"].view(-1)
    keep = y != -1
    return torch.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1])[keep], y[keep])


def lr_at(t):
    lr = HP["learning_rate"] * (1.0 - min(t, HP["num_train_steps"]) / HP["num_train_steps"])
    return lr * min(1.0, t / HP["warmup_steps"])


def decays(name):
    return not any(x in name for x in HP["exclude_from_weight_decay"])


def run(task, encoder_state, x):
    model = build(task, encoder_state).double()
    params = list(model.named_parameters())
    init = {n: p.detach().to(torch.float32).clone() for n, p in params}
    master = {n: p.detach().clone() for n, p in params}
    m = {n: torch.zeros_like(v) for n, v in master.items()}
    v = {n: torch.zeros_like(t) for n, t in master.items()}
    L = COMMON["num_hidden_layers"]
    rec = dict(init=init, names=[n for n, _ in params], grad_norm=[], lr=[])
    for t in range(HP["steps"]):
        for _, p in params:
            p.grad = None
        logits, loss = loss_of(task, model, x)
        mine, hf = float(manual_loss(task, logits, x).detach()), float(loss.detach())
        assert abs(mine - hf) < 1e-12 * max(1.0, abs(hf)), (task, mine, hf)
        loss.backward()
        grads = {n: p.grad.detach().clone() for n, p in params}
        norm = math.sqrt(sum(float((g * g).sum()) for g in grads.values()))
        if t == 0:
            rec.update(logits=logits.detach().clone(), loss=float(loss.detach()), grads=grads)
        rec["grad_norm"].append(norm)
        scale = HP["clip_norm"] / max(norm, HP["clip_norm"])
        lr = lr_at(t)
        rec["lr"].append(lr)
        for n in master:
            g = grads[n] * scale
            m[n] = HP["beta_1"] * m[n] + (1.0 - HP["beta_1"]) * g
            v[n] = HP["beta_2"] * v[n] + (1.0 - HP["beta_2"]) * g * g
            upd = m[n] / (torch.sqrt(v[n]) + HP["epsilon"])
            if decays(n):
                upd = upd + HP["weight_decay_rate"] * master[n]
            master[n] = master[n] - lr * layer_scale(n, L, HP["layer_decay"]) * upd
        with torch.no_grad():
            for n, p in params:
                p.copy_(master[n])
    rec["final"] = master
    return rec


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(REPO, "test", "golden"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    enc = encoder_weights()
    x = make_inputs()
    f32 = lambda t: t.detach().to(torch.float32).contiguous()
    i32 = lambda t: t.detach().to(torch.int32).contiguous()
    T = {k: i32(x[k]) for k in ["input_ids", "token_type_ids", "attention_mask", "cls_labels", "tok_labels"]}
    T["reg_targets"] = f32(x["reg_targets"])
    names_meta = {}
    for task in TASKS:
        r = run(task, enc, x)
        names_meta[task] = r["names"]
        for n in r["names"]:
            T[f"{task}/param/{n}"] = f32(r["init"][n])
            T[f"{task}/grad/{n}"] = f32(r["grads"][n])
            T[f"{task}/param3/{n}"] = f32(r["final"][n])
        T[f"{task}/logits"] = f32(r["logits"])
        T[f"{task}/loss"] = torch.tensor([r["loss"]], dtype=torch.float32)
        T[f"{task}/grad_norm"] = torch.tensor(r["grad_norm"], dtype=torch.float32)
        T[f"{task}/lr"] = torch.tensor(r["lr"], dtype=torch.float32)
        zero = [n for n in r["names"] if float(r["grads"][n].abs().max()) == 0.0]
        print(f"{task}: loss {r['loss']:.9g}, grad norms {[f'{a:.6g}' for a in r['grad_norm']]}, "
              f"{len(r['names'])} tensors, all-zero gradients: {zero or 'none'}")
        if zero:
            sys.exit("some gradient path is not exercised")
    scales = {n: layer_scale(n, COMMON["num_hidden_layers"], HP["layer_decay"]) for n in names_meta["cls"]}
    meta = {
        "config": json.dumps(dict(COMMON, special_ids=dict(pad=PAD, unk=UNK, cls=CLS, sep=SEP, mask=MASK),
                                  batch_size=B, seq_len=S, seed=SEED), sort_keys=True),
        "tasks": json.dumps(TASKS, sort_keys=True),
        "optimizer": json.dumps(HP, sort_keys=True),
        "param_names": json.dumps(names_meta),
        "lr_scales": json.dumps(scales, sort_keys=True),
        "loss": "cls: mean CE; reg: mean squared error (num_labels=1); tok: mean CE over tok_labels != -1 "
                "(HF: -100); the encoder weights are identical for the three tasks",
        "precision": "computed in float64 (model.double(), optimizer in float64), stored as float32",
        "generator": "transformers " + __import__("transformers").__version__ + ", torch " + torch.__version__,
    }
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "electra_finetune_step.safetensors")
    write_safetensors(path, T, meta)
    size = os.path.getsize(path)
    assert size < 1024 * 1024, size
    print(f"wrote {os.path.relpath(path, REPO)}: {size} bytes, {len(T)} tensors, sha256 "
          + hashlib.sha256(open(path, "rb").read()).hexdigest()[:16])


if __name__ == "__main__":
    main()
