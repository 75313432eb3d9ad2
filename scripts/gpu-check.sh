#!/usr/bin/env bash
# One-command GPU check for a machine with an NVIDIA GPU, cmake, a C++17
# compiler, nvcc and PyTorch + HF transformers (for the peer) -- NO Node.js.
#
#   bash scripts/gpu-check.sh LOGDIR
#
# In order, each step under its own timeout, the whole run inside a time
# budget (GPU_CHECK_BUDGET_S, default 400 s; later steps get what is left, the
# essential ones keep a reserve, and torch.compile keeps a fixed share,
# GPU_CHECK_COMPILE_S, default 100 s, so the run ends in under 7 minutes):
#   0. driver.log, first: the driver against the CUDA runtime nvcc builds for
#      (CUDA 13 needs R580+; an older driver makes our static runtime see no GPU
#      while PyTorch, with its own runtime, still works), said plainly;
#   a. env.log: nvidia-smi, nvcc, cmake, compute-sanitizer, python/torch/transformers.
#      nvcc is $CUDACXX, else the one on PATH, else /usr/local/cuda*/bin/nvcc,
#      and is exported as CUDACXX for cmake;
#   b. configure with -DELECTRA_CUDA=ON for the GPU that is present: its compute
#      capability from nvidia-smi (e.g. 90), else cmake's `native`, else stop
#      with the reason (GPU_CHECK_ARCH overrides; never a guessed arch), build
#      electra_tests and electra_bench with -j $(nproc), into build-gpu-check/;
#   c. tests: `electra_tests --backend cuda` (only the cuda_* CUDA-vs-CPU tests;
#      they FAIL rather than skip without a GPU; a binary without that flag
#      runs `electra_tests cuda_` instead; in both cases a "no CUDA device"
#      SKIP line counts as a failure), the CPU suite `electra_tests --backend cpu` (all
#      tests but cuda_*; plain `electra_tests` with the older driver), and, when
#      compute-sanitizer is found (PATH, nvcc's folder, /usr/local/cuda/bin),
#      `compute-sanitizer --tool memcheck electra_tests --backend cuda cuda_step`
#      (a timeout there is inconclusive, not a failure);
#   d. benchmarks, ELECTRA-Small, batch 128 x seq 128, on GPU 0:
#      electra_bench step --backend cuda --precision bf16 (then fp32), and
#      scripts/bench/peer_hf.py --device cuda --bf16, eager and --compile;
#      the GEMM microbenchmark: our cuda::gemm at the step's shapes
#      (electra_tests cuda_gemm_bench) against torch.matmul (cuBLAS) on the same
#      shapes (scripts/bench/gemm_torch.py), as its own table;
#   e. one table last: tokens/s, ms/step, peak memory, ratios vs PyTorch eager,
#      the targets (>= 2x PyTorch eager tokens/s, peak memory <= PyTorch), and
#      the test verdicts.
# Logs: LOGDIR/<step>.log (the benchmarks' JSON in LOGDIR/<step>.json),
# LOGDIR/steps.tsv (step, status, exit code, seconds), LOGDIR/summary.txt.
# Exit status: 0 when the build, every test step and our benchmarks succeeded;
# 1 otherwise (a PyTorch peer that fails or times out does not count); 2 on usage.
#
# Environment: PYTHON (default python3), GPU_CHECK_BUDGET_S (default 400),
# GPU_CHECK_COMPILE_S (torch.compile's share, default 100), GPU_CHECK_ARCH (e.g. 90),
# CUDACXX (nvcc),
# GPU_CHECK_BUILD (default <repo>/build-gpu-check), GPU_CHECK_NO_BUILD=1 (skip
# configure + build and use the binaries already in GPU_CHECK_BUILD, e.g. to
# re-run the tests and benchmarks).
set -uo pipefail  # no -e: every step is wrapped and recorded, nothing aborts midway

if [ $# -lt 1 ] || [ -z "${1:-}" ]; then
  echo "usage: bash scripts/gpu-check.sh LOGDIR" >&2
  exit 2
fi
mkdir -p "$1" || { echo "gpu-check: cannot create $1" >&2; exit 2; }
LOGDIR="$(cd "$1" && pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${GPU_CHECK_BUILD:-$ROOT/build-gpu-check}"
PY="${PYTHON:-python3}"
JOBS="$(nproc 2>/dev/null || echo 4)"
BUDGET="${GPU_CHECK_BUDGET_S:-400}"
MIN_STEP_S=8  # a step that would get less than this is skipped
START=$SECONDS
cd "$ROOT" || exit 2
# The peer must not reach for the network (the GPU machine has none).
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false HF_HUB_DISABLE_TELEMETRY=1
: >"$LOGDIR/steps.tsv"

declare -A ST=() RC=() DUR=()
ORDER=()

elapsed() { echo $((SECONDS - START)); }
left() { echo $((BUDGET - (SECONDS - START))); }
say() { echo "[gpu-check $(printf '%3d' "$(elapsed)")s] $*"; }

# Records a step's result (also into steps.tsv, which the table reads).
record() {  # NAME STATUS RC SECONDS   (a second record of NAME replaces the first)
  if [ -n "${ST[$1]+set}" ]; then
    awk -F'\t' -v n="$1" '$1!=n' "$LOGDIR/steps.tsv" >"$LOGDIR/steps.tsv.tmp" && mv "$LOGDIR/steps.tsv.tmp" "$LOGDIR/steps.tsv"
  else
    ORDER+=("$1")
  fi
  ST[$1]="$2"; RC[$1]="$3"; DUR[$1]="$4"
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$LOGDIR/steps.tsv"
}
# Overwrites a recorded step's status (after looking at its log).
restatus() {  # NAME STATUS
  ST[$1]="$2"
  local tmp="$LOGDIR/steps.tsv.tmp"
  awk -F'\t' -v n="$1" -v s="$2" 'BEGIN{OFS="\t"} $1==n{$2=s} {print}' "$LOGDIR/steps.tsv" >"$tmp" &&
    mv "$tmp" "$LOGDIR/steps.tsv"
}

# step NAME LIMIT_S RESERVE_S MODE CMD...
#   Runs CMD under `timeout`, for at most LIMIT_S seconds and never into the
#   RESERVE_S seconds kept for the steps after it. MODE log: stdout and stderr
#   to LOGDIR/NAME.log; MODE json: stdout to LOGDIR/NAME.json, stderr to
#   NAME.log. Never fails; the outcome is in ST/RC/DUR and steps.tsv.
step() {
  local name="$1" limit="$2" reserve="$3" mode="$4"
  shift 4
  local avail=$(($(left) - reserve))
  [ "$avail" -lt "$limit" ] && limit=$avail
  if [ "$limit" -lt "$MIN_STEP_S" ]; then
    record "$name" "SKIPPED (time budget: $(left)s left)" -1 0
    say "$name: ${ST[$name]}"
    return 0
  fi
  say "$name (timeout ${limit}s): $*"
  { echo "== $*"; echo "== timeout ${limit}s, started at +$(elapsed)s"; } >"$LOGDIR/$name.log"
  local t0=$SECONDS rc=0
  if [ "$mode" = json ]; then
    : >"$LOGDIR/$name.json"
    timeout -k 5 "$limit" "$@" </dev/null >"$LOGDIR/$name.json" 2>>"$LOGDIR/$name.log" || rc=$?
    { echo "== stdout (JSON):"; cat "$LOGDIR/$name.json"; } >>"$LOGDIR/$name.log"
  else
    timeout -k 5 "$limit" "$@" </dev/null >>"$LOGDIR/$name.log" 2>&1 || rc=$?
  fi
  local dt=$((SECONDS - t0)) status
  echo "== exit $rc after ${dt}s" >>"$LOGDIR/$name.log"
  if [ "$rc" -eq 0 ]; then status="ok"
  elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then status="TIMEOUT after ${limit}s"
  else status="FAILED (exit $rc)"; fi
  record "$name" "$status" "$rc" "$dt"
  say "$name: $status (${dt}s)"
  return 0
}

# The "N passed, M failed" line of a test log, or "".
verdict() { grep -aE '^([A-Za-z_-]+: )?[0-9]+ passed, [0-9]+ failed' "$1" 2>/dev/null | tail -1; }
# Sets a test step's status from its log: no verdict line, nothing run, or failures.
check_tests() {  # NAME [SKIPS_FAIL]
  local name="$1" skips_fail="${2:-0}" log="$LOGDIR/$1.log" v skips
  [ -f "$log" ] || return 0
  case "${ST[$1]}" in SKIPPED*) return 0 ;; esac
  v="$(verdict "$log")"
  # Only "no GPU" skips (cuda_gemm_bench's "SKIP: set ELECTRA_CUDA_BENCH=1" is not one).
  skips="$(grep -acE 'SKIP.*(no CUDA device|without CUDA)' "$log" 2>/dev/null)" || skips=0
  if [ -z "$v" ]; then
    case "${ST[$1]}" in ok) restatus "$name" "FAILED (no 'N passed, M failed' line)" ;; esac
  elif echo "$v" | grep -qE '(^|: )0 passed, 0 failed'; then
    restatus "$name" "FAILED (no test matched)"
  elif [ "$skips_fail" = 1 ] && [ "$skips" -gt 0 ] && [ "${ST[$1]}" = ok ]; then
    restatus "$name" "FAILED ($skips \"no CUDA device\" SKIP line(s): the GPU was not used)"
  fi
  return 0
}

# ------------------------------------------------------- 0. nvcc and driver
say "logs: $LOGDIR; budget ${BUDGET}s; $JOBS jobs"
# nvcc: $CUDACXX, else PATH, else the usual install folders (a fresh machine
# often has the toolkit without PATH set). cmake reads CUDACXX.
NVCC=""
for c in "${CUDACXX:-}" "$(command -v nvcc 2>/dev/null || true)" /usr/local/cuda/bin/nvcc /usr/local/cuda-*/bin/nvcc; do
  [ -n "$c" ] && [ -x "$c" ] && { NVCC="$c"; break; }
done
if [ -n "$NVCC" ]; then
  export CUDACXX="$NVCC"
  export PATH="$(dirname "$NVCC"):$PATH"
fi
# The driver first: CUDA 13's runtime needs driver R580 or newer (12.x: R525,
# 11.x: R450). Too old a driver is the likeliest reason for "no GPU" below.
DRIVER="$(timeout 15 nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1 | tr -d ' ')"
CUDA_VER="$([ -n "$NVCC" ] && timeout 15 "$NVCC" --version 2>/dev/null | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p' | head -1)"
case "${CUDA_VER%%.*}" in 13) NEED=580 ;; 12) NEED=525 ;; 11) NEED=450 ;; *) NEED="" ;; esac
if [ -z "$DRIVER" ]; then
  DRIVER_STATUS="FAILED (nvidia-smi reports no driver)"
elif [ -z "$NVCC" ]; then
  DRIVER_STATUS="FAILED (no nvcc: not in \$CUDACXX, PATH or /usr/local/cuda*/bin)"
elif [ -n "$NEED" ] && [ "${DRIVER%%.*}" -lt "$NEED" ] 2>/dev/null; then
  DRIVER_STATUS="FAILED (driver $DRIVER is older than R$NEED, which CUDA $CUDA_VER needs: our build will see no GPU; PyTorch may still run on its own runtime)"
else
  DRIVER_STATUS="ok (driver $DRIVER, CUDA $CUDA_VER needs R${NEED:-?}+)"
fi
echo "nvcc: ${NVCC:-not found}; driver: ${DRIVER:-none}; CUDA (nvcc): ${CUDA_VER:-?}; $DRIVER_STATUS" >"$LOGDIR/driver.log"
case "$DRIVER_STATUS" in ok*) rc0=0 ;; *) rc0=1 ;; esac
record driver "$DRIVER_STATUS" "$rc0" 0
say "driver: $DRIVER_STATUS"

# ------------------------------------------------------------------ a. env
SANITIZER="$(command -v compute-sanitizer 2>/dev/null || true)"
if [ -z "$SANITIZER" ]; then
  NVCC_DIR="$(dirname "${NVCC:-/nonexistent/nvcc}")"
  for c in "$NVCC_DIR/compute-sanitizer" /usr/local/cuda/bin/compute-sanitizer; do
    [ -x "$c" ] && { SANITIZER="$c"; break; }
  done
fi
{
  echo "date: $(date -u +%FT%TZ)"
  echo "host: $(uname -srm); $JOBS CPUs; $(free -g 2>/dev/null | awk '/^Mem:/{print $2 " GiB RAM"}')"
  echo "git: $(timeout 10 git rev-parse HEAD 2>/dev/null || echo unknown)"
  timeout 10 git status --short 2>/dev/null | head -20 | sed 's/^/git status: /'
  echo "--- nvidia-smi"
  timeout 15 nvidia-smi --query-gpu=index,name,driver_version,memory.total,memory.used,compute_cap,clocks.max.sm \
    --format=csv 2>&1 || echo "nvidia-smi failed or missing"
  timeout 10 nvidia-smi 2>&1 | head -25
  echo "--- nvcc: ${NVCC:-not found}"
  [ -n "$NVCC" ] && timeout 15 "$NVCC" --version 2>&1 | tail -3
  echo "--- cmake"
  timeout 10 cmake --version 2>&1 | head -1 || echo "no cmake on PATH"
  echo "--- c++: $(timeout 10 c++ --version 2>&1 | head -1)"
  echo "--- compute-sanitizer: ${SANITIZER:-not found}"
  [ -n "$SANITIZER" ] && timeout 10 "$SANITIZER" --version 2>&1 | tail -1
  echo "--- python"
  timeout 45 "$PY" - <<'PY' 2>&1 || echo "python/torch check failed or timed out"
import sys
print("python", sys.version.split()[0])
ok = True
try:
    import torch
    print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
    if torch.cuda.is_available():
        print("torch device 0:", torch.cuda.get_device_name(0), torch.cuda.get_device_capability(0))
except Exception as e:
    ok = False
    print("torch: not importable:", type(e).__name__, e)
try:
    import transformers
    print("transformers", transformers.__version__)
except Exception as e:
    ok = False
    print("transformers: not importable:", type(e).__name__, e)
if ok:
    print("PEER_IMPORTS_OK")  # the peer can run
PY
} >"$LOGDIR/env.log" 2>&1
cat "$LOGDIR/env.log"
HAVE_PY=0
"$PY" -c 'import json' >/dev/null 2>&1 && HAVE_PY=1
HAVE_TORCH=0
grep -q '^PEER_IMPORTS_OK' "$LOGDIR/env.log" && HAVE_TORCH=1
# torch.compile's fixed share: every step before it keeps it in reserve.
CS=0
[ "$HAVE_TORCH" = 1 ] && CS="${GPU_CHECK_COMPILE_S:-100}"

# ----------------------------------------------------- b. configure + build
# Reserve for what must still run after the build: CUDA tests + ours bf16 + peer eager.
RES_BUILD=$((95 + CS))
# The present GPU's arch: GPU_CHECK_ARCH, else nvidia-smi's compute capability
# (9.0 -> 90), else cmake's native detection (cmake >= 3.24). Never a fallback
# guess: PTX for a newer arch cannot run on an older GPU.
CAP="$(timeout 15 nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')"
ARCH="${GPU_CHECK_ARCH:-${CAP:-native}}"
CFG=(-S . -B "$BUILD" -DELECTRA_CUDA=ON -DCMAKE_BUILD_TYPE=Release)
if [ "${GPU_CHECK_NO_BUILD:-0}" = 1 ]; then
  ARCH="$(grep -E '^CMAKE_CUDA_ARCHITECTURES' "$BUILD/CMakeCache.txt" 2>/dev/null | cut -d= -f2)"
  ARCH="${ARCH:-unknown} (existing build)"
  if [ -x "$BUILD/electra_tests" ] && [ -x "$BUILD/electra_bench" ]; then
    record build "ok (GPU_CHECK_NO_BUILD=1: reused $BUILD)" 0 0
  else
    record build "FAILED (GPU_CHECK_NO_BUILD=1 but $BUILD has no electra_tests/electra_bench)" 1 0
  fi
else
  step configure 90 "$((RES_BUILD + 60))" log cmake "${CFG[@]}" -DCMAKE_CUDA_ARCHITECTURES="$ARCH"
  if [ "${ST[configure]}" != ok ] && [ "$ARCH" = native ]; then
    restatus configure "FAILED (cmake cannot detect the GPU's arch and nvidia-smi gives no compute_cap: set GPU_CHECK_ARCH, e.g. 90)"
  fi
  case "${ST[configure]}" in
    ok) step build 240 "$RES_BUILD" log cmake --build "$BUILD" -j "$JOBS" --target electra_tests electra_bench ;;
    *) record build "not run (configure failed)" 1 0 ;;
  esac
fi
TESTS="$BUILD/electra_tests"
BENCH="$BUILD/electra_bench"
case "${ST[build]}" in ok*) ;; *) say "build did not succeed; see $LOGDIR/build.log" ;; esac
[ -x "$TESTS" ] || say "no $TESTS"
[ -x "$BENCH" ] || say "no $BENCH"

# ------------------------------------------------------------------ c. tests
CUDA_MODE="--backend cuda"
CUDA_ARGS=(--backend cuda)
if [ -x "$TESTS" ]; then
  if ! grep -aq -- '--backend' "$TESTS"; then
    CUDA_MODE="filter cuda_ (this electra_tests has no --backend flag)"
    CUDA_ARGS=(cuda_)
  fi
  step tests_cuda 90 $((75 + CS)) log "$TESTS" "${CUDA_ARGS[@]}"
  if [ "${CUDA_ARGS[0]}" = --backend ] && [ "${RC[tests_cuda]}" -ne 0 ] && [ -z "$(verdict "$LOGDIR/tests_cuda.log")" ] &&
     grep -aqiE 'unknown|unrecognized|usage|invalid' "$LOGDIR/tests_cuda.log"; then
    say "electra_tests rejected --backend cuda; falling back to the filter cuda_"
    mv "$LOGDIR/tests_cuda.log" "$LOGDIR/tests_cuda_flag.log"
    CUDA_MODE="filter cuda_ (electra_tests rejected --backend cuda)"
    CUDA_ARGS=(cuda_)
    step tests_cuda 90 $((75 + CS)) log "$TESTS" cuda_
  fi
  # A "no CUDA device" SKIP line fails the step in both modes: some cuda_* op
  # tests still skip (and pass) under --backend cuda when they see no GPU.
  check_tests tests_cuda 1
  # The CPU suite: every test but cuda_* (those ran above); an older driver runs them all.
  CPU_ARGS=()
  [ "${CUDA_ARGS[0]}" = --backend ] && CPU_ARGS=(--backend cpu)
  step tests_cpu 60 $((75 + CS)) log "$TESTS" ${CPU_ARGS[@]+"${CPU_ARGS[@]}"}
  check_tests tests_cpu 0
  if [ -n "$SANITIZER" ]; then
    # Filters are OR-ed, so the fallback passes cuda_step alone.
    MC_ARGS=(cuda_step)
    [ "${CUDA_ARGS[0]}" = --backend ] && MC_ARGS=(--backend cuda cuda_step)
    step memcheck 45 $((75 + CS)) log "$SANITIZER" --tool memcheck --error-exitcode 99 "$TESTS" "${MC_ARGS[@]}"
    case "${ST[memcheck]}" in
      ok) check_tests memcheck 1 ;;
      "FAILED (exit 99)") restatus memcheck "FAILED (memcheck found errors)" ;;
      TIMEOUT*) restatus memcheck "${ST[memcheck]} (inconclusive)" ;;
    esac
  else
    record memcheck "not run (no compute-sanitizer)" -1 0
  fi
else
  record tests_cuda "not run (no electra_tests)" -1 0
  record tests_cpu "not run (no electra_tests)" -1 0
  record memcheck "not run (no electra_tests)" -1 0
fi

# -------------------------------------------------------------- d. benchmarks
SIZE=(--preset small --batch 128 --seq 128)
if [ -x "$BENCH" ]; then
  step ours_bf16 60 $((45 + CS)) json "$BENCH" step --backend cuda --precision bf16 "${SIZE[@]}" --warmup 3 --steps 20 --json
  step ours_fp32 50 $((45 + CS)) json "$BENCH" step --backend cuda --precision fp32 "${SIZE[@]}" --warmup 2 --steps 10 --json
  # Steps back to back without metrics (Trainer metricsEvery): no host wait between them.
  step ours_bf16_nometrics 40 $((45 + CS)) json "$BENCH" step --backend cuda --precision bf16 "${SIZE[@]}" --warmup 3 --steps 20 --no-metrics --json
else
  record ours_bf16 "not run (no electra_bench)" -1 0
  record ours_fp32 "not run (no electra_bench)" -1 0
fi
PEER="$ROOT/scripts/bench/peer_hf.py"
if [ "$HAVE_TORCH" = 1 ]; then
  step torch_eager 90 "$CS" json "$PY" "$PEER" --device cuda --bf16 "${SIZE[@]}" --warmup 3 --steps 20
fi
# GEMM microbenchmark: ours at the step's shapes, then cuBLAS on the shapes ours printed.
if [ -x "$TESTS" ]; then
  ELECTRA_CUDA_BENCH=1 step gemm_ours 40 "$CS" log "$TESTS" cuda_gemm_bench
  if [ "$HAVE_TORCH" = 1 ] && grep -q '^GEMM_BENCH' "$LOGDIR/gemm_ours.log" 2>/dev/null; then
    step gemm_torch 30 "$CS" log "$PY" "$ROOT/scripts/bench/gemm_torch.py" "$LOGDIR/gemm_ours.log"
  else
    record gemm_torch "not run (no torch, or no GEMM_BENCH lines from ours)" -1 0
  fi
fi
if [ "$HAVE_TORCH" = 1 ]; then
  step torch_compile 150 0 json "$PY" "$PEER" --device cuda --bf16 --compile "${SIZE[@]}" --warmup 3 --steps 20
else
  record torch_eager "not run ($PY cannot import torch + transformers)" -1 0
  record torch_compile "not run ($PY cannot import torch + transformers)" -1 0
fi

# ------------------------------------------------------------ e. the table
echo
say "done; steps:"
for n in "${ORDER[@]}"; do printf '  %-16s %-52s %4ss\n' "$n" "${ST[$n]}" "${DUR[$n]}"; done

FAIL=0
for n in driver build tests_cuda tests_cpu memcheck ours_bf16 ours_fp32; do
  case "${ST[$n]:-}" in ok*|"not run (no compute-sanitizer)"|*inconclusive*|"") ;; *) FAIL=1 ;; esac
done

{
  echo
  echo "==================== gpu-check: ELECTRA-Small training step, batch 128 x seq 128 ===================="
  if [ "$HAVE_PY" = 1 ]; then
    "$PY" - "$LOGDIR" <<'PY' || echo "(table: python3 failed; see $LOGDIR/*.json)"
import json, os, sys
d = sys.argv[1]
st = {}
with open(os.path.join(d, "steps.tsv")) as f:
    for line in f:
        p = line.rstrip("\n").split("\t")
        if len(p) >= 4:
            st[p[0]] = (p[1], p[2], p[3])

def load(name):
    try:
        with open(os.path.join(d, name + ".json")) as f:
            lines = [l for l in f.read().splitlines() if l.strip().startswith("{")]
        return json.loads(lines[-1]) if lines else None
    except Exception:
        return None

def why(name, j):
    s = st.get(name, ("not run", "", ""))[0]
    if j and j.get("compile") == "failed":
        return "compile failed: " + str(j.get("error", ""))[:70]
    if s == "ok" and (not j or j.get("tokens_per_s") is None):
        return "no result in " + name + ".json"
    if s != "ok":
        # The last line on stderr usually says why (e.g. ERR_NO_DEVICE: ...).
        try:
            with open(os.path.join(d, name + ".log")) as f:
                tail = [l.strip() for l in f if l.strip() and not l.startswith("==")]
            if tail:
                return s + ": " + tail[-1][:150]
        except Exception:
            pass
    return s

rows = [("ours bf16", "ours_bf16", "peak_device_bytes"),
        ("ours bf16, no metrics", "ours_bf16_nometrics", "peak_device_bytes"),
        ("ours fp32", "ours_fp32", "peak_device_bytes"),
        ("PyTorch eager bf16", "torch_eager", "peak_bytes"), ("PyTorch compile bf16", "torch_compile", "peak_bytes")]
data = {}
for label, name, peak in rows:
    j = load(name)
    ok = st.get(name, ("",))[0] == "ok" and j is not None and j.get("tokens_per_s") is not None
    data[name] = (j if ok else None, peak)
eager = data["torch_eager"][0]
MiB = 1024.0 * 1024.0
print(f"{'implementation':<22} {'tokens/s':>10} {'ms/step':>9} {'peak MiB':>9} {'speed vs eager':>15} {'mem vs eager':>13}")
for label, name, peak in rows:
    j, pk = data[name]
    if j is None:
        print(f"{label:<22} {'-':>10} {'-':>9} {'-':>9} {'-':>15} {'-':>13}   {why(name, load(name))}")
        continue
    tps, ms, pb = j["tokens_per_s"], j["ms_per_step"], j.get(pk)
    mib = f"{pb / MiB:.0f}" if isinstance(pb, (int, float)) else "-"
    sp = f"{tps / eager['tokens_per_s']:.2f}x" if eager else "-"
    mem = (f"{pb / eager['peak_bytes']:.2f}x" if eager and isinstance(pb, (int, float)) and eager.get("peak_bytes")
           else "-")
    print(f"{label:<22} {tps:>10.0f} {ms:>9.2f} {mib:>9} {sp:>15} {mem:>13}")
ours = data["ours_bf16"][0]
o, e = ours, eager
if o and e:
    r = o["tokens_per_s"] / e["tokens_per_s"]
    print(f"target tokens/s >= 2x PyTorch eager: {r:.2f}x -> {'MET' if r >= 2.0 else 'NOT MET'}")
    if o.get("peak_device_bytes") is not None and e.get("peak_bytes"):
        a, b = o["peak_device_bytes"] / MiB, e["peak_bytes"] / MiB
        print(f"target peak memory <= PyTorch eager: {a:.0f} MiB vs {b:.0f} MiB -> {'MET' if a <= b else 'NOT MET'}")
else:
    print("targets: not evaluated (ours bf16 or PyTorch eager has no result)")
notes = []
if o:
    dn = o.get("device_name", "?")
    delta = o.get("device_mem_delta_bytes")
    notes.append(f"ours: {dn}; peak = backend().peak_bytes()"
                 + (f"; cudaMemGetInfo drop over the run {delta / MiB:.0f} MiB" if isinstance(delta, (int, float)) else "")
                 + f"; loss {o.get('loss')}, {o.get('steps')} timed steps, median")
if e:
    rs = e.get("peak_reserved_bytes")
    notes.append(f"PyTorch {e.get('torch_version')} (CUDA {e.get('torch_cuda')}) + HF {e.get('transformers_version')}, "
                 f"attn {e.get('attn_implementation')}; peak = max_memory_allocated over the timed steps"
                 + (f" (reserved {rs / MiB:.0f} MiB)" if isinstance(rs, (int, float)) else ""))
c = data["torch_compile"][0]
if c and c.get("warmup_ms"):
    notes.append(f"torch.compile: first (compiling) step {c['warmup_ms'][0] / 1000:.1f} s")
for n in notes:
    print("  " + n)
PY
  else
    echo "(no python3: the benchmark JSON is in $LOGDIR/ours_*.json and torch_*.json)"
  fi
  if [ -f "$LOGDIR/gemm_torch.log" ]; then
    echo "--- GEMM microbenchmark (ELECTRA-Small step shapes; ours vs torch.matmul):"
    grep -v '^==' "$LOGDIR/gemm_torch.log"
  fi
  echo "driver:     ${ST[driver]}"
  for n in build tests_cuda tests_cpu memcheck; do
    v=""
    [ -f "$LOGDIR/$n.log" ] && v="$(verdict "$LOGDIR/$n.log")"
    extra=""
    [ "$n" = build ] && extra="  (CUDA archs: $ARCH)"
    [ "$n" = tests_cuda ] && extra="  [$CUDA_MODE]"
    printf '%-11s %s%s%s\n' "$n:" "${ST[$n]:-not run}" "${v:+ -- $v}" "$extra"
  done
  echo "logs: $LOGDIR   total $(elapsed)s   overall: $([ "$FAIL" = 0 ] && echo PASS || echo FAIL)"
} | tee "$LOGDIR/summary.txt"
exit "$FAIL"
