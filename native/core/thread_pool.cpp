#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace electra {
namespace {

thread_local bool t_in_worker = false;

int default_threads() {
  if (const char* env = std::getenv("ELECTRA_NUM_THREADS")) {
    int v = std::atoi(env);
    if (v > 0) return v;
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc);
}

// Hand-off between parallel_for regions: a step makes about two thousand of
// them, many only tens of microseconds long, so a futex wake-up per region
// (tens of microseconds on a VM) would leave the other cores idle for a
// large share of the step. Workers therefore spin for kSpin after each task
// before they block, and the caller spins for the stragglers the same way;
// only a sleeping worker costs a condition-variable notify.
constexpr auto kSpin = std::chrono::microseconds(100);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until done() or kSpin has passed; true when done() held.
template <class F>
bool spin_until(F done) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0;; ++i) {
    if (done()) return true;
    cpu_relax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() - t0 > kSpin) return done();
  }
}

class Pool {
 public:
  explicit Pool(int n) { resize(n); }
  ~Pool() { stop_all(); }

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int n) {
    n = std::max(1, n);
    if (n == size()) return;
    stop_all();
    stop_.store(false);
    // New workers must wait for the NEXT generation, not replay the last one.
    const uint64_t gen0 = generation_.load();
    for (int i = 0; i < n - 1; ++i) workers_.emplace_back([this, i, gen0] { loop(i, gen0); });
  }

  // Runs task(worker_index) on every worker plus the caller (index size()-1).
  void run(const std::function<void(int)>& task) {
    task_ = &task;
    pending_.store(static_cast<int>(workers_.size()));
    // seq_cst with the sleepers_ count in loop(): either this thread sees a
    // sleeper and notifies it, or the sleeper sees the new generation.
    generation_.fetch_add(1);
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lk(mu_);
      cv_.notify_all();
    }
    t_in_worker = true;
    task(size() - 1);
    t_in_worker = false;
    if (!spin_until([this] { return pending_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lk(mu_);
      done_cv_.wait(lk, [this] { return pending_.load(std::memory_order_acquire) == 0; });
    }
    task_ = nullptr;
  }

 private:
  void loop(int idx, uint64_t seen) {
    t_in_worker = true;
    for (;;) {
      auto ready = [&] { return stop_.load() || generation_.load() != seen; };
      if (!spin_until(ready)) {
        std::unique_lock<std::mutex> lk(mu_);
        sleepers_.fetch_add(1);
        cv_.wait(lk, ready);
        sleepers_.fetch_sub(1);
      }
      if (stop_.load()) return;
      seen = generation_.load();
      (*task_)(idx);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lk(mu_);  // orders this notify after a waiter's predicate check
        done_cv_.notify_one();
      }
    }
  }

  void stop_all() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_.store(true);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* task_ = nullptr;  // published by generation_'s increment
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
};

std::mutex g_pool_mu;  // one parallel_for at a time from outside the pool
int g_threads = default_threads();

Pool& pool() {
  static Pool p(g_threads);
  return p;
}

}  // namespace

int num_threads() { return g_threads; }

void set_num_threads(int n) {
  std::lock_guard<std::mutex> lk(g_pool_mu);
  g_threads = std::max(1, n);
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  int64_t max_chunks = (n + grain - 1) / grain;
  if (t_in_worker || g_threads <= 1 || max_chunks <= 1) {
    fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> lk(g_pool_mu);
  Pool& p = pool();
  p.resize(g_threads);
  const int64_t chunks = std::min<int64_t>(max_chunks, p.size());
  p.run([&](int idx) {
    if (idx >= chunks) return;
    int64_t b = n * idx / chunks, e = n * (idx + 1) / chunks;
    if (b < e) fn(b, e);
  });
}

}  // namespace electra
