#include "thread_pool.h"

#include <algorithm>
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

class Pool {
 public:
  explicit Pool(int n) { resize(n); }
  ~Pool() { stop_all(); }

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int n) {
    n = std::max(1, n);
    if (n == size()) return;
    stop_all();
    stop_ = false;
    // New workers must wait for the NEXT generation, not replay the last one.
    const uint64_t gen0 = generation_;
    for (int i = 0; i < n - 1; ++i) workers_.emplace_back([this, i, gen0] { loop(i, gen0); });
  }

  // Runs task(worker_index) on every worker plus the caller (index size()-1).
  void run(const std::function<void(int)>& task) {
    {
      std::unique_lock<std::mutex> lk(mu_);
      task_ = &task;
      pending_ = static_cast<int>(workers_.size());
      ++generation_;
    }
    cv_.notify_all();
    t_in_worker = true;
    task(size() - 1);
    t_in_worker = false;
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [this] { return pending_ == 0; });
    task_ = nullptr;
  }

 private:
  void loop(int idx, uint64_t seen) {
    t_in_worker = true;
    for (;;) {
      const std::function<void(int)>* task;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        task = task_;
      }
      (*task)(idx);
      std::unique_lock<std::mutex> lk(mu_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }

  void stop_all() {
    {
      std::unique_lock<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* task_ = nullptr;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
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
