// Fused losses (see ops_cuda.h and core/cpu/losses.cpp).
#include "cuda/cuda_util.h"
#include "cuda/ops_cuda.h"

namespace electra {
namespace cuda {
namespace {

constexpr int kRowThreads = 256;  // power of two
constexpr int kBceThreads = 256;  // power of two

// One block per selected row. Pass 1: max and argmax (ties: lowest index).
// Pass 2: sum of exp(x - max) in double. Pass 3: the gradient, recomputing
// exp(x - max). x[target] is read before the barrier that precedes any
// write, so dlogits may alias logits.
__global__ void crossentropy_kernel(float* __restrict__ losses, int32_t* __restrict__ argmax,
                                    float* dlogits, const float* logits,
                                    const int32_t* __restrict__ rows,
                                    const int32_t* __restrict__ targets, int64_t V,
                                    float grad_scale, const float* __restrict__ grad_scale_mem) {
  if (grad_scale_mem) grad_scale = *grad_scale_mem;  // the step's, read at run time (graph replays)
  __shared__ float sh_v[kRowThreads];
  __shared__ int64_t sh_i[kRowThreads];
  __shared__ double sh_d[kRowThreads];
  const int tid = threadIdx.x;
  const int64_t r = blockIdx.x;
  const int64_t row = rows[r];
  const float* x = logits + row * V;
  const int32_t t = targets[r];  // < 0: a padding row (loss and gradient 0)
  const float xt = t >= 0 ? x[t] : 0.0f;

  // Pass 1: per-thread max over a strided subset (increasing j, strict >:
  // the lowest index wins a tie), then a tree that prefers the lower index.
  float mx = -INFINITY;
  int64_t best = -1;
  for (int64_t j = tid; j < V; j += blockDim.x) {
    const float v = x[j];
    if (best < 0 || v > mx) {
      mx = v;
      best = j;
    }
  }
  sh_v[tid] = mx;
  sh_i[tid] = best;
  __syncthreads();
  for (int s = blockDim.x >> 1; s > 0; s >>= 1) {
    if (tid < s) {
      const float ov = sh_v[tid + s];
      const int64_t oi = sh_i[tid + s];
      const int64_t mi = sh_i[tid];
      if (oi >= 0 && (mi < 0 || ov > sh_v[tid] || (ov == sh_v[tid] && oi < mi))) {
        sh_v[tid] = ov;
        sh_i[tid] = oi;
      }
    }
    __syncthreads();
  }
  mx = sh_v[0];
  best = sh_i[0];
  __syncthreads();

  // Pass 2.
  double s = 0;
  for (int64_t j = tid; j < V; j += blockDim.x) s += double(expf(x[j] - mx));
  const double sum = block_sum(s, sh_d);  // ends with a barrier: every x[t] read is done

  if (tid == 0) {
    if (losses) losses[r] = t >= 0 ? float(log(sum) - (double(xt) - double(mx))) : 0.0f;
    if (argmax) argmax[r] = int32_t(best);
  }
  // Pass 3.
  if (dlogits && t < 0) {
    float* d = dlogits + row * V;
    for (int64_t j = tid; j < V; j += blockDim.x) d[j] = 0.0f;
  } else if (dlogits) {
    float* d = dlogits + row * V;
    const float sc = float(double(grad_scale) / sum);
    for (int64_t j = tid; j < V; j += blockDim.x) {
      const float e = __fmul_rn(expf(x[j] - mx), sc);
      d[j] = (j == t) ? e - grad_scale : e;
    }
  }
}

// Block b's partial sum to partial[b]; with counter set, the last block to
// finish then writes *loss_sum = sum_partials_kernel's sum of them.
static_assert(kBceThreads == kReduceBlocks, "the last block sums one partial per thread");
__global__ void bce_kernel(double* __restrict__ partial, float* dlogits, const float* logits,
                           const float* __restrict__ labels, const float* __restrict__ weights,
                           int64_t N, float grad_scale, const float* __restrict__ grad_scale_mem,
                           double* __restrict__ loss_sum, unsigned* __restrict__ counter) {
  if (grad_scale_mem) grad_scale = *grad_scale_mem;  // the step's, read at run time (graph replays)
  __shared__ double sh[kBceThreads];
  double acc = 0.0;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < N;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float x = logits[i], y = labels[i];
    const float w = weights ? weights[i] : 1.0f;
    const float en = expf(-fabsf(x));  // in (0, 1]: never overflows
    const double xd = x;
    acc += double(w) * (fmax(xd, 0.0) - xd * y + log1p(double(en)));
    if (dlogits) {
      const float sig = x >= 0.f ? 1.0f / (1.0f + en) : en / (1.0f + en);
      dlogits[i] = grad_scale * w * (sig - y);  // may alias logits: read above
    }
  }
  const double b = block_sum(acc, sh);
  if (threadIdx.x == 0) partial[blockIdx.x] = b;
  if (!counter) return;  // sum_partials_kernel adds the partials
  // The last block to finish adds every block's partial with block_sum's
  // tree over partial[0..kReduceBlocks), the order of sum_partials_kernel,
  // whichever block it is.
  if (!last_block_to_arrive(counter, gridDim.x)) return;
  const double s = block_sum(__ldcg(partial + threadIdx.x), sh);
  if (threadIdx.x == 0) *loss_sum = s;
}

// One block of kReduceBlocks threads: *out = sum of partial[0, kReduceBlocks).
__global__ void sum_partials_kernel(double* out, const double* __restrict__ partial) {
  __shared__ double sh[kReduceBlocks];
  const double s = block_sum(partial[threadIdx.x], sh);
  if (threadIdx.x == 0) *out = s;
}

// One thread: the regression batch is tiny, and the sum order matches the CPU's.
__global__ void mse_kernel(double* loss_sum, float* dpred, const float* pred,
                           const float* __restrict__ target, int64_t N, float grad_scale) {
  double total = 0.0;
  for (int64_t i = 0; i < N; ++i) {
    const double diff = double(pred[i]) - double(target[i]);
    total += diff * diff;
    if (dpred) dpred[i] = float(2.0 * double(grad_scale) * diff);  // may alias pred: read above
  }
  *loss_sum = total;
}

// One thread: the loss sum keeps the host metrics' order (index order, double),
// so the host reading s[] and the device deciding the update agree bit for bit.
// No FMA contraction (the host build has none): explicit _rn operations.
__global__ void step_loss_kernel(double* __restrict__ s, double* __restrict__ loss,
                                 const float* __restrict__ losses, const int32_t* __restrict__ argmax,
                                 const int32_t* __restrict__ targets, int64_t M,
                                 const double* __restrict__ disc_sum, float disc_weight, int64_t real,
                                 int64_t k, int first, const double* __restrict__ real_mem) {
  if (real_mem) real = int64_t(*real_mem);  // the step's, read at run time (graph replays)
  double sum = 0, correct = 0;
  int64_t rows = 0;
  for (int64_t r = 0; r < M; ++r) {
    if (targets[r] < 0) continue;  // padding
    sum = __dadd_rn(sum, double(losses[r]));
    correct += argmax[r] == targets[r] ? 1.0 : 0.0;
    ++rows;
  }
  const double mean = rows > 0 ? sum / double(rows) : 0.0;
  s[0] = mean;
  s[1] = correct;
  const double prev = first ? 0.0 : *loss;
  double add = mean;
  if (disc_sum) {
    const double dl = *disc_sum / double(real > 1 ? real : 1);
    add = __dadd_rn(mean, __dmul_rn(double(disc_weight), dl));
  }
  *loss = __dadd_rn(prev, add / double(k));
}

}  // namespace

Status step_loss(double* s, double* loss, const float* losses, const int32_t* argmax,
                 const int32_t* targets, int64_t M, const double* disc_sum, float disc_weight,
                 int64_t real, int64_t k, bool first, cudaStream_t stream, const double* real_mem) {
  step_loss_kernel<<<1, 1, 0, stream>>>(s, loss, losses, argmax, targets, M < 0 ? 0 : M, disc_sum,
                                        disc_weight, real, k < 1 ? 1 : k, first ? 1 : 0, real_mem);
  return launch_status("step_loss_kernel");
}

Status mse_forward_backward(double* loss_sum, float* dpred, const float* pred, const float* target,
                            int64_t N, float grad_scale, cudaStream_t stream) {
  mse_kernel<<<1, 1, 0, stream>>>(loss_sum, dpred, pred, target, N < 0 ? 0 : N, grad_scale);
  return launch_status("mse_kernel");
}

Status crossentropy_forward_backward(float* losses, int32_t* argmax, float* dlogits,
                                     const float* logits, const int32_t* rows,
                                     const int32_t* targets, int64_t R, int64_t V,
                                     float grad_scale, cudaStream_t stream, const float* grad_scale_mem) {
  if (R <= 0 || V <= 0) return Status::Ok();
  if (R > 0x7fffffff) return InvalidArgument("cuda::crossentropy: R exceeds the grid");
  crossentropy_kernel<<<unsigned(R), kRowThreads, 0, stream>>>(losses, argmax, dlogits, logits,
                                                               rows, targets, V, grad_scale,
                                                               grad_scale_mem);
  return launch_status("crossentropy_kernel");
}

Status bce_forward_backward(double* loss_sum, double* scratch, float* dlogits,
                            const float* logits, const float* labels, const float* weights,
                            int64_t N, float grad_scale, cudaStream_t stream, const float* grad_scale_mem,
                            unsigned* counter) {
  // A fixed grid (every block writes its partial, empty ones 0): the sum
  // order depends only on N, never on the GPU.
  bce_kernel<<<kReduceBlocks, kBceThreads, 0, stream>>>(scratch, dlogits, logits, labels, weights,
                                                        N < 0 ? 0 : N, grad_scale, grad_scale_mem, loss_sum, counter);
  CUDA_LAUNCH_CHECK("bce_kernel");
  if (counter) return Status::Ok();  // the kernel's last block summed the partials
  sum_partials_kernel<<<1, kReduceBlocks, 0, stream>>>(loss_sum, scratch);
  return launch_status("sum_partials_kernel(bce)");
}

}  // namespace cuda
}  // namespace electra
