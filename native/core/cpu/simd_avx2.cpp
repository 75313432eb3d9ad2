// The vector kernels for AVX2 + FMA (8 lanes): simd_ops_avx2().
#define ELECTRA_ISA avx2
#define ELECTRA_ISA_TARGET "avx2,fma"
#define ELECTRA_ISA_VEC "simd_vec_avx2.h"
#include "simd_isa.inc"
