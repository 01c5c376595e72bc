// A helping pool: parallel loops whose caller never waits for a thread that has not started.
#include "core/parallel.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace embedforge::core {
namespace {

// Tasks 0..n-1 are claimed one at a time, under a lock, by the caller and by whichever helpers wake
// up in time. The caller claims until none are left, then waits only for tasks already running: a
// helper the OS has not scheduled yet (a busy machine) costs nothing, and one that wakes late finds
// the job gone. Helper threads are started on first use and kept; at most threads-1 join a job.
class HelperPool {
 public:
  void run(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int threads) {
    std::unique_lock<std::mutex> owner(run_mutex_, std::try_to_lock);
    if (!owner.owns_lock()) {  // another caller's job (or a nested loop) holds the pool
      fn(0, n);
      return;
    }
    std::unique_lock<std::mutex> lk(m_);
    while (static_cast<int>(helpers_.size()) < threads - 1) {
      helpers_.emplace_back([this] { helper(); });
      helpers_.back().detach();
    }
    job_ = &fn;
    n_ = n;
    next_ = 0;
    running_ = 0;
    slots_ = threads - 1;
    error_ = nullptr;
    ++epoch_;
    lk.unlock();
    work_.notify_all();
    lk.lock();
    while (next_ < n_) claim_and_run(lk);
    done_.wait(lk, [this] { return running_ == 0; });
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void claim_and_run(std::unique_lock<std::mutex>& lk) {
    const int64_t i = next_++;
    ++running_;
    const auto* fn = job_;
    lk.unlock();
    std::exception_ptr err;
    try {
      (*fn)(i, i + 1);
    } catch (...) {
      err = std::current_exception();
    }
    lk.lock();
    if (err && !error_) error_ = err;
    if (--running_ == 0 && next_ >= n_) done_.notify_all();
  }

  void helper() {
    std::unique_lock<std::mutex> lk(m_);
    uint64_t seen = 0;
    for (;;) {
      work_.wait(lk, [&] { return job_ != nullptr && epoch_ != seen && slots_ > 0 && next_ < n_; });
      seen = epoch_;
      --slots_;
      while (job_ != nullptr && next_ < n_) claim_and_run(lk);
    }
  }

  std::mutex run_mutex_;  // one job at a time
  std::mutex m_;          // guards everything below
  std::condition_variable work_, done_;
  std::vector<std::thread> helpers_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t n_ = 0, next_ = 0, running_ = 0;
  int slots_ = 0;
  uint64_t epoch_ = 0;
  std::exception_ptr error_;
};

// Never destroyed (helpers may still be parked at exit). A forked child gets a fresh pool: the
// parent's helpers do not exist there.
std::atomic<HelperPool*> g_pool{nullptr};

HelperPool& pool() {
  HelperPool* p = g_pool.load(std::memory_order_acquire);
  if (p) return *p;
  static std::once_flag once;
  std::call_once(once, [] {
    g_pool.store(new HelperPool, std::memory_order_release);
    pthread_atfork(nullptr, nullptr, [] { g_pool.store(new HelperPool, std::memory_order_release); });
  });
  return *g_pool.load(std::memory_order_acquire);
}

}  // namespace

Parallel helping_parallel(int threads) {
  Parallel p;
  p.threads = threads < 1 ? 1 : threads;
  const int t = p.threads;
  p.run = [t](int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
    // Ranges are claimed one at a time under a lock: a long loop (one item per touched row, say)
    // is cut into a few contiguous chunks per thread first.
    const int64_t chunks = std::min<int64_t>(n, int64_t{8} * t);
    if (chunks == n) { pool().run(n, fn, t); return; }
    const std::function<void(int64_t, int64_t)> chunked = [&](int64_t c0, int64_t c1) {
      fn(n * c0 / chunks, n * c1 / chunks);
    };
    pool().run(chunks, chunked, t);
  };
  return p;
}

}  // namespace embedforge::core
