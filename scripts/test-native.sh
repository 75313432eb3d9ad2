#!/usr/bin/env bash
# The native test program once per SIMD level this CPU and build can run
# (generic, avx2, avx512: `electra_tests --simd-levels`), so every dispatch
# path is exercised on every machine, HF golden tests included. Then checks
# that the per-ISA kernel objects export nothing but their table getters
# (scripts/check-isa-objects.sh).
#
#   bash scripts/test-native.sh [electra_tests args...]    e.g. gemm, --backend cpu
# The program is $ELECTRA_TESTS_DIR/electra_tests, by default build/Release
# (cmake-js); run from anywhere.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${ELECTRA_TESTS_DIR:-$ROOT/build/Release}"
T="$BIN_DIR/electra_tests"
[ -x "$T" ] || { echo "test-native: $T is not built (npm run build:native)"; exit 1; }
cd "$ROOT"  # the golden files are found relative to the repo root
levels=$("$T" --simd-levels)
echo "SIMD levels this machine runs: $(echo $levels)"
status=0
for level in $levels; do
  echo "== electra_tests --simd $level $*"
  "$T" --simd "$level" "$@" || status=1
done
# cmake-js puts the programs in build/Release and the objects under build/
OBJ_ROOT="$BIN_DIR"
[ "$(basename "$BIN_DIR")" = Release ] && OBJ_ROOT="$(dirname "$BIN_DIR")"
bash "$ROOT/scripts/check-isa-objects.sh" "$OBJ_ROOT" || status=1
exit $status
