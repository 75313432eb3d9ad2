// The exact (erf) GELU and its derivative in fp32, for every CUDA kernel that
// evaluates them (gelu.cu's passes, the GEMM epilogues in gemm.cu): one
// formula, so a fused epilogue gives the bits of the separate pass.
//   gelu(x)  = x * Phi(x),            Phi(x) = 0.5 * erfc(-x / sqrt 2)
//   gelu'(x) = Phi(x) + x * phi(x),   phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
// (erfc rather than 1 + erf: no cancellation for negative x; core/cpu/gelu.cpp).
#pragma once
#include <cuda_runtime.h>

namespace electra {
namespace cuda {

__device__ __forceinline__ float gelu_cdf(float x) { return 0.5f * erfcf(-x * 0.70710678118654752440f); }
__device__ __forceinline__ float gelu_pdf_term(float x) { return x * 0.39894228040143267794f * expf(-0.5f * x * x); }
__device__ __forceinline__ float gelu_of(float x) { return x * gelu_cdf(x); }
__device__ __forceinline__ float gelu_grad_of(float x) { return gelu_cdf(x) + gelu_pdf_term(x); }

}  // namespace cuda
}  // namespace electra
