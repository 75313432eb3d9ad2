#!/usr/bin/env bash
# The native test program built with sanitizers and run once (CPU backend,
# one SIMD level: the best this CPU has, as the others share the same driver
# code), so memory errors and undefined behaviour fail CI instead of hiding.
#
#   bash scripts/sanitize-test.sh [address,undefined|thread] [electra_tests args...]
# Builds into build-asan/ (or build-tsan/ for thread); any sanitizer report is fatal.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SAN="${1:-address,undefined}"
shift || true
DIR=build-asan
[ "$SAN" = thread ] && DIR=build-tsan
JOBS="${ELECTRA_JOBS:-$(nproc 2>/dev/null || echo 2)}"
cmake -S . -B "$DIR" -DELECTRA_CUDA=OFF -DELECTRA_SANITIZE="$SAN" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$DIR" --target electra_tests -j "$JOBS" > "$DIR/build.log" 2>&1 || { cat "$DIR/build.log"; exit 1; }
level=$("$DIR/electra_tests" --simd-levels | tail -n 1)
echo "sanitizers: $SAN; SIMD level: $level"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}"
"$DIR/electra_tests" --simd "$level" --backend cpu "$@"
