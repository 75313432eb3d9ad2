// Argument checks for the ops reachable from JavaScript (and, later, the
// model/trainer entry points). The ops themselves never check (see
// cpu/ops.h); everything that crosses the boundary goes through here first.
// Every failure is kInvalidArgument with a message naming the argument, what
// was expected and what was given.
#pragma once
#include <cstdint>

#include "status.h"

namespace electra {
namespace check {

// Largest size or count accepted for one dimension (int32 range).
constexpr int64_t kMaxDim = 2147483647;
// Largest element count of one buffer (16 Gi floats; typed arrays are smaller).
constexpr int64_t kMaxElements = int64_t(1) << 34;

// `v` (a JS number) must be a finite integer in [lo, hi]; stored in *out.
Status integer(const char* name, double v, int64_t lo, int64_t hi, int64_t* out);
// A dimension: a finite integer in [1, kMaxDim].
Status size(const char* name, double v, int64_t* out);
// `v` must be finite and lo <(=) v <(=) hi (bounds inclusive when *_incl).
Status finite_in(const char* name, double v, double lo, bool lo_incl, double hi, bool hi_incl);
// got == expected, for a buffer of `what` (e.g. "M*K").
Status length(const char* name, int64_t got, int64_t expected, const char* what);
// a * b without overflow and within kMaxElements.
Status product(const char* what, int64_t a, int64_t b, int64_t* out);
// Every ids[i] in [0, limit).
Status ids_in_range(const char* name, const int32_t* ids, int64_t n, int64_t limit,
                    const char* limit_name);

// ---- one function per op exposed through the addon. Sizes arrive as JS
// numbers (double); buffer lengths in elements; the checked sizes come back
// through the out pointers.

// linear_forward: inp[M,K], weight[N,K], bias[N] or absent (bias_len < 0).
Status linear_forward(double M, double K, double N, int64_t inp_len, int64_t weight_len,
                      int64_t bias_len, int64_t* m, int64_t* k, int64_t* n);
// layernorm_forward: inp[N,C], gamma[C], beta[C], eps finite and > 0.
Status layernorm_forward(double N, double C, double eps, int64_t inp_len, int64_t gamma_len,
                         int64_t beta_len, int64_t* n, int64_t* c);
// gelu_forward: any number of elements, at most kMaxElements (0 allowed).
Status elementwise(const char* op, int64_t n);
// crossentropy_forward_backward: logits[N,V] with N = logits_len / V,
// rows[R] in [0,N), targets[R] in [0,V), R >= 1, grad_scale finite.
Status crossentropy(double V, int64_t logits_len, const int32_t* rows, int64_t rows_len,
                    const int32_t* targets, int64_t targets_len, double grad_scale,
                    int64_t* v, int64_t* n_rows);
// dropout: p finite in [0, 1).
Status dropout_p(double p);
// Thread count: integer in [1, 1024].
Status threads(double n, int64_t* out);

}  // namespace check
}  // namespace electra
