#!/usr/bin/env bash
# The AVX2 / AVX-512 kernel objects (native/core/cpu/simd_avx2.cpp,
# simd_avx512.cpp) must define no symbol with external or weak linkage other
# than simd_ops_avx2 / simd_ops_avx512: an inline function or template
# instance compiled there for a wider instruction set could otherwise be
# picked by the linker for baseline code and crash a CPU without that set.
#   bash scripts/check-isa-objects.sh BUILD_DIR
set -euo pipefail
BUILD="${1:?usage: check-isa-objects.sh BUILD_DIR}"
command -v nm >/dev/null || { echo "check-isa-objects: SKIP (no nm)"; exit 0; }
objs=$(find "$BUILD" -name 'simd_avx*.o' -o -name 'simd_avx*.cpp.o' | sort -u)
[ -n "$objs" ] || { echo "check-isa-objects: no simd_avx*.o under $BUILD"; exit 1; }
bad=0
for o in $objs; do
  # defined symbols that are global (upper-case type) or weak (W/V/u)
  extra=$(nm -C --defined-only "$o" | awk '$2 ~ /^[A-Z]$|^[uvw]$/ {print}' | grep -v -E 'electra::cpu::simd_ops_avx(2|512)\(\)' || true)
  if [ -n "$extra" ]; then
    echo "check-isa-objects: $o exports more than its table getter:"; echo "$extra"; bad=1
  fi
done
[ $bad -eq 0 ] && echo "check-isa-objects: $(echo $objs | wc -w) object(s) export only simd_ops_avx*()"
exit $bad
