// core::Parallel for the op adapters: loops run on torch's own intra-op thread team (at::parallel_for
// through the stable ABI), so torch.set_num_threads applies and no second pool of threads competes
// with torch's. That matters in a model: after each torch op, torch's OpenMP workers keep spinning
// for a while, and a pool of our own then shares the cores with them (on 2 cores, the forward
// inside a small MLP ran at 0.62-0.66x of torch's on a pool of our own, level with torch on its
// team; bench/compare_model.py measures it).
//
// Each team thread claims chunks of the loop from a shared counter (a long loop is cut into 8
// chunks per thread), so a worker the OS starts late finds the work done by the others rather than
// holding a fixed share of it.
#pragma once
#include <torch/csrc/stable/ops.h>

#include <algorithm>
#include <atomic>
#include <exception>

#include "core/parallel.h"

namespace embedforge::ops {

inline core::Parallel torch_parallel() {
  core::Parallel p;
  p.threads = std::max(1, static_cast<int>(torch::stable::get_num_threads()));
  const int t = p.threads;
  p.run = [t](int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
    const int64_t chunks = std::min<int64_t>(n, int64_t{8} * t);
    std::atomic<int64_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr err;
    // Runs on each team thread; exceptions must not cross torch's C callback.
    auto body = [&](int64_t, int64_t) {
      for (int64_t c = next.fetch_add(1, std::memory_order_relaxed); c < chunks;
           c = next.fetch_add(1, std::memory_order_relaxed)) {
        if (failed.load(std::memory_order_relaxed)) return;
        try {
          fn(n * c / chunks, n * (c + 1) / chunks);
        } catch (...) {
          if (!failed.exchange(true)) err = std::current_exception();
          return;
        }
      }
    };
    torch::stable::parallel_for(0, std::min<int64_t>(t, chunks), 1, body);
    if (err) std::rethrow_exception(err);
  };
  return p;
}

}  // namespace embedforge::ops
