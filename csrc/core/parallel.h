// How core kernels are spread over threads, without knowing whose thread pool runs them.
#pragma once
#include <cstdint>
#include <functional>

namespace embedforge::core {

// Calls fn(begin, end) on disjoint sub-ranges covering [0, n). The op adapters hand in the
// helping pool below with torch's thread count (so torch.set_num_threads is respected);
// benchmarks and tests hand in std::thread.
struct Parallel {
  int threads = 1;
  std::function<void(int64_t n, const std::function<void(int64_t, int64_t)>& fn)> run;

  void for_each(int64_t n, const std::function<void(int64_t, int64_t)>& fn) const {
    if (n <= 0) return;
    if (threads <= 1 || n == 1 || !run) { fn(0, n); return; }
    run(n, fn);
  }
};

Parallel serial_parallel();
Parallel std_thread_parallel(int threads);
// Up to `threads` threads (the caller and persistent helpers) claim ranges one by one (the n unit
// ranges, or for n > 8 * threads as many contiguous chunks);
// the caller returns once every range is done, without waiting for helpers that never got to
// run (on a busy machine a descheduled worker otherwise stalls the whole loop). Each range runs
// exactly once, on whichever thread claimed it.
Parallel helping_parallel(int threads);

}  // namespace embedforge::core
