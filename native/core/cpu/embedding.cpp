// Embedding sum (word + position + token type) and row gather, forward and
// backward. The backwards are scatter-adds in which rows repeat (the same id
// at many positions), so they are threaded over disjoint COLUMN ranges: every
// thread walks all rows in order but touches only its own columns. That is
// race-free, and the summation order is the row order whatever the thread
// count, so the result is bit-identical for any number of threads.
#include <algorithm>

#include "../thread_pool.h"
#include "ops.h"

namespace electra {
namespace cpu {
namespace {

// Rows per parallel_for chunk so that a chunk carries ~16K floats of work.
int64_t row_grain(int64_t cols) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, cols)); }

// Column chunk for a scatter-add over `rows` rows: a chunk is never narrower
// than 16 columns (one cache line), and small problems stay on one thread.
int64_t col_grain(int64_t rows, int64_t cols) {
  if (rows * cols < 32768) return cols;
  return std::max<int64_t>(16, cols / std::max(1, num_threads()));
}

}  // namespace

void embedding_forward(float* out, const int32_t* ids, const int32_t* types, const float* wte,
                       const float* wpe, const float* wtt, int64_t B, int64_t S, int64_t E) {
  parallel_for(B * S, row_grain(E), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* w = wte + static_cast<int64_t>(ids[r]) * E;
      const float* p = wpe + (r % S) * E;
      const float* t = wtt + static_cast<int64_t>(types[r]) * E;
      float* o = out + r * E;
      for (int64_t e = 0; e < E; ++e) o[e] = w[e] + p[e] + t[e];
    }
  });
}

void embedding_backward(float* dwte, float* dwpe, float* dwtt, const float* dout,
                        const int32_t* ids, const int32_t* types, int64_t B, int64_t S,
                        int64_t E) {
  const int64_t N = B * S;
  if (dwpe) {
    // Positions are disjoint per s: thread over positions, sum over the batch.
    parallel_for(S, row_grain(E * std::max<int64_t>(1, B)), [&](int64_t s0, int64_t s1) {
      for (int64_t s = s0; s < s1; ++s) {
        float* d = dwpe + s * E;
        for (int64_t b = 0; b < B; ++b) {
          const float* g = dout + (b * S + s) * E;
          for (int64_t e = 0; e < E; ++e) d[e] += g[e];
        }
      }
    });
  }
  if (!dwte && !dwtt) return;
  // Word and type ids repeat arbitrarily: split the columns instead.
  parallel_for(E, col_grain(N, E), [&](int64_t c0, int64_t c1) {
    for (int64_t r = 0; r < N; ++r) {
      const float* g = dout + r * E;
      if (dwte) {
        float* d = dwte + static_cast<int64_t>(ids[r]) * E;
        for (int64_t e = c0; e < c1; ++e) d[e] += g[e];
      }
      if (dwtt) {
        float* d = dwtt + static_cast<int64_t>(types[r]) * E;
        for (int64_t e = c0; e < c1; ++e) d[e] += g[e];
      }
    }
  });
}

void gather_rows(float* out, const float* inp, const int32_t* rows, int64_t R, int64_t C) {
  parallel_for(R, row_grain(C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      if (rows[r] < 0) {  // padding row
        std::fill(out + r * C, out + r * C + C, 0.0f);
        continue;
      }
      std::copy(inp + static_cast<int64_t>(rows[r]) * C, inp + static_cast<int64_t>(rows[r]) * C + C,
                out + r * C);
    }
  });
}

void gather_rows_backward(float* dinp, const float* dout, const int32_t* rows, int64_t R,
                          int64_t C) {
  // rows may repeat (summed), so split the columns as in embedding_backward.
  parallel_for(C, col_grain(R, C), [&](int64_t c0, int64_t c1) {
    for (int64_t r = 0; r < R; ++r) {
      if (rows[r] < 0) continue;  // padding row
      float* d = dinp + static_cast<int64_t>(rows[r]) * C;
      const float* g = dout + r * C;
      for (int64_t c = c0; c < c1; ++c) d[c] += g[c];
    }
  });
}

}  // namespace cpu
}  // namespace electra
