// How core kernels are spread over threads, without knowing whose thread pool runs them.
#pragma once
#include <cstdint>
#include <functional>

namespace embedforge::core {

// Calls fn(begin, end) on disjoint sub-ranges covering [0, n), possibly several on one thread.
// The op adapters hand in torch's own thread team (ops/torch_parallel.h, so torch.set_num_threads
// is respected); benchmarks and tests hand in std::thread.
struct Parallel {
  int threads = 1;
  std::function<void(int64_t n, const std::function<void(int64_t, int64_t)>& fn)> run;

  void for_each(int64_t n, const std::function<void(int64_t, int64_t)>& fn) const {
    if (n <= 0) return;
    if (threads <= 1 || n == 1 || !run) {
      fn(0, n);
      return;
    }
    run(n, fn);
  }
};

Parallel serial_parallel();
Parallel std_thread_parallel(int threads);

}  // namespace embedforge::core
