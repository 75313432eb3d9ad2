// The vector kernels for AVX-512F (16 lanes): simd_ops_avx512().
#define ELECTRA_ISA avx512
#define ELECTRA_ISA_TARGET "avx512f,avx2,fma"
#define ELECTRA_ISA_VEC "simd_vec_avx512.h"
#include "simd_isa.inc"
