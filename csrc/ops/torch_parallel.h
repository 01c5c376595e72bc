// core::Parallel for the op adapters: torch's thread count (torch.set_num_threads applies) on the
// core's helping pool. torch's own pool is fork-join: every parallel section waits for each worker,
// and on a busy machine a worker the OS has not scheduled yet stalls a sub-millisecond kernel (or
// each of the ~10 sections of a fused training step) for a whole time slice. The helping pool's
// caller keeps working and never waits for a helper that has not started.
#pragma once
#include <torch/csrc/stable/ops.h>

#include "core/parallel.h"

namespace embedforge::ops {

inline core::Parallel torch_parallel() {
  return core::helping_parallel(static_cast<int>(torch::stable::get_num_threads()));
}

}  // namespace embedforge::ops
