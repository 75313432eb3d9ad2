// A small persistent thread pool for the CPU backend. One pool per process;
// parallel_for splits [0, n) into contiguous chunks, one per worker, and the
// caller's thread takes part. Work functions must not throw.
#pragma once
#include <cstdint>
#include <functional>

namespace electra {

// Number of threads parallel_for uses (>= 1). Defaults to the hardware
// concurrency, or ELECTRA_NUM_THREADS from the environment when set.
int num_threads();
// Changes the thread count; takes effect for the next parallel_for.
void set_num_threads(int n);

// Runs fn(begin, end) over disjoint chunks covering [0, n). Chunks are at
// least `grain` long, so small loops stay on the calling thread. Calls made
// from inside a worker run serially (no nested parallelism).
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace electra
