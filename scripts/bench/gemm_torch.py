#!/usr/bin/env python3
"""torch.matmul (cuBLAS) at the GEMM shapes our benchmark printed, for a side-by-side table.

  python3 scripts/bench/gemm_torch.py OURS_LOG [--iters 20]

OURS_LOG is the output of `ELECTRA_CUDA_BENCH=1 electra_tests cuda_gemm_bench`:
lines "GEMM_BENCH <layout> <precision> M N K <ms> <TFLOP/s>" (the shapes are
declared once, in native/tests/test_cuda_gemm.cpp). For each shape this times
C[M,N] = op(A) @ op(B) in bf16 on GPU 0 with the same transposes (A stored
[K,M] when the layout's first letter is T, B stored [N,K] when the second is),
then prints one table: ours bf16 and fp32 against cuBLAS bf16.
"""
import argparse
import sys


def parse(path):
    rows = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) == 8 and p[0] == "GEMM_BENCH":
                rows.append(dict(layout=p[1], prec=p[2], M=int(p[3]), N=int(p[4]), K=int(p[5]),
                                 ms=float(p[6]), tflops=float(p[7])))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours_log")
    ap.add_argument("--iters", type=int, default=20)
    a = ap.parse_args()
    ours = parse(a.ours_log)
    if not ours:
        sys.exit("gemm_torch: no GEMM_BENCH lines in " + a.ours_log)
    import torch
    if not torch.cuda.is_available():
        sys.exit("gemm_torch: torch sees no GPU")
    shapes = []
    for r in ours:
        key = (r["layout"], r["M"], r["N"], r["K"])
        if key not in shapes:
            shapes.append(key)
    dev = torch.device("cuda:0")
    print(f"{'layout':<6} {'M':>6} {'N':>6} {'K':>6} {'ours fp32 ms':>12} {'ours bf16 ms':>12} {'cuBLAS bf16 ms':>14}"
          f" {'ours bf16 TF/s':>14} {'cuBLAS TF/s':>11} {'ours/cuBLAS':>11}")
    worst = None
    for layout, M, N, K in shapes:
        a_ = torch.randn((K, M) if layout[0] == "T" else (M, K), device=dev, dtype=torch.bfloat16)
        b_ = torch.randn((N, K) if layout[1] == "T" else (K, N), device=dev, dtype=torch.bfloat16)
        opa = a_.t() if layout[0] == "T" else a_
        opb = b_.t() if layout[1] == "T" else b_
        for _ in range(3):
            torch.matmul(opa, opb)
        t0, t1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()
        t0.record()
        for _ in range(a.iters):
            torch.matmul(opa, opb)
        t1.record()
        torch.cuda.synchronize()
        ms = t0.elapsed_time(t1) / a.iters
        tf = 2.0 * M * N * K / (ms * 1e-3) / 1e12
        mine = {r["prec"]: r for r in ours if (r["layout"], r["M"], r["N"], r["K"]) == (layout, M, N, K)}
        b16, f32 = mine.get("bf16"), mine.get("fp32")
        ratio = (b16["ms"] / ms) if b16 else float("nan")
        worst = ratio if worst is None or ratio > worst else worst
        print(f"{layout:<6} {M:>6} {N:>6} {K:>6} {f32['ms'] if f32 else float('nan'):>12.4f}"
              f" {b16['ms'] if b16 else float('nan'):>12.4f} {ms:>14.4f}"
              f" {b16['tflops'] if b16 else float('nan'):>14.1f} {tf:>11.1f} {ratio:>10.2f}x")
    print(f"ours bf16 time / cuBLAS bf16 time, worst shape: {worst:.2f}x (torch {torch.__version__}, "
          f"{torch.cuda.get_device_name(0)})")


if __name__ == "__main__":
    main()
