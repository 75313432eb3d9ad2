#!/usr/bin/env bash
# The CUDA-vs-CPU suite (electra_tests --backend cuda) on a machine WITHOUT a
# GPU: every native/cuda/*.cu kernel compiled as plain C++ against the CUDA
# emulator in native/tests/emu (each CUDA thread a fiber, barriers and warp
# operations enforced, shared and fresh device memory garbage-filled, cross-
# stream ordering checked), linked with the whole core, the CPU oracle and the
# native tests. It checks the kernels' logic, indexing, synchronisation and the
# backend's stream ordering; it says nothing about speed, and its maths library
# (glibc) and memory model differ from a GPU's (native/tests/emu/README.md).
#
#   bash scripts/cuda-emu-test.sh [electra_tests args...]   (default: --backend cuda)
# Env: EMU_BUILD (build folder, default build-emu), EMU_JOBS (parallel compiles),
#      EMU_TARGET=tests|bench (bench: electra_bench on the emulator, run with the args),
#      EMU_LAUNCH_LOG=FILE (log every launch, copy, memset, sync), EMU_DRY_RUN=1 (log only,
#      kernels not run: native/tests/emu/README.md),
#      EMU_ORDER=rand|fwd|rev (fiber order between barriers; default rand).
set -euo pipefail
export EMU_STRICT="${EMU_STRICT:-1}"  # an unordered cross-stream access aborts the run
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
E="$ROOT/native/tests/emu"
B="${EMU_BUILD:-$ROOT/build-emu}"
J="${EMU_JOBS:-$(nproc 2>/dev/null || echo 2)}"
if [ "$(uname -m)" != "x86_64" ]; then
  echo "SKIP: the CUDA emulator's fiber switch is x86-64 only (this machine: $(uname -m))"
  exit 0
fi
mkdir -p "$B/src" "$B/obj"
CU="g++ -std=c++20 -O2 -mfma -ffp-contract=off -D__CUDACC__ -DELECTRA_HAVE_CUDA=1 -I$E/include -I$ROOT/native -include cuda_runtime.h"
CC="g++ -std=c++17 -O2 -fno-math-errno -ffp-contract=off -DELECTRA_HAVE_CUDA=1 -I$E/include -I$ROOT/native"
rm -f "$B/obj/.failed"
# The newest header of the project or the emulator: an object older than it is rebuilt
# (headers are not tracked one by one; a changed header rebuilds everything).
NEWEST_H=$(ls -t $(find "$ROOT/native" -name '*.h' -o -name '*.inc') "$E/emu.cpp" | head -n 1)
compile() {  # compile OBJ SRC CMD...: only when SRC or any header is newer than OBJ
  local obj=$1 src=$2; shift 2
  if [ -f "$obj" ] && [ "$obj" -nt "$src" ] && [ "$obj" -nt "$NEWEST_H" ]; then return 0; fi
  while [ "$(jobs -rp | wc -l)" -ge "$J" ]; do sleep 0.2; done
  ( "$@" -c "$src" -o "$obj" || { echo "FAILED: $src"; touch "$B/obj/.failed"; } ) &
}
objs=()
for f in "$ROOT"/native/cuda/*.cu; do
  n=$(basename "$f" .cu)
  python3 "$E/rewrite.py" "$f" "$B/src/$n.cpp"
  compile "$B/obj/cu_$n.o" "$B/src/$n.cpp" $CU -Wno-unknown-pragmas; objs+=("$B/obj/cu_$n.o")
done
compile "$B/obj/emu.o" "$E/emu.cpp" $CU; objs+=("$B/obj/emu.o")
for f in "$ROOT"/native/core/*.cpp "$ROOT"/native/core/cpu/*.cpp; do
  n=$(basename "$(dirname "$f")")_$(basename "$f" .cpp)
  compile "$B/obj/$n.o" "$f" $CC; objs+=("$B/obj/$n.o")
done
# EMU_TARGET=bench builds electra_bench on the emulator instead (its launch log
# of one step feeds scripts/cuda-static-report); the default is the test program.
TARGET="${EMU_TARGET:-tests}"
case "$TARGET" in
  tests) main_dir="$ROOT/native/tests"; exe="$B/electra_tests_emu" ;;
  bench) main_dir="$ROOT/native/bench"; exe="$B/electra_bench_emu" ;;
  *) echo "cuda-emu-test: EMU_TARGET must be tests or bench, not '$TARGET'"; exit 2 ;;
esac
for f in "$main_dir"/*.cpp; do
  n=$(basename "$(dirname "$f")")_$(basename "$f" .cpp)
  compile "$B/obj/$n.o" "$f" $CC; objs+=("$B/obj/$n.o")
done
wait
[ -f "$B/obj/.failed" ] && { echo "cuda-emu-test: build failed"; exit 1; }
g++ -o "$exe" "${objs[@]}" -lpthread
if [ "$TARGET" = bench ]; then
  [ $# -eq 0 ] && exit 0  # build only
  exec "$exe" "$@"
fi
echo "== electra_tests under the CUDA emulator (not a GPU)"
if [ $# -eq 0 ]; then set -- --backend cuda; fi
exec "$B/electra_tests_emu" "$@"
