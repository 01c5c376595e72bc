// core::Parallel backed by torch's intra-op thread pool, so torch.set_num_threads applies.
#pragma once
#include <torch/csrc/stable/ops.h>

#include "core/parallel.h"

namespace embedforge::ops {

inline core::Parallel torch_parallel() {
  core::Parallel p;
  p.threads = static_cast<int>(torch::stable::get_num_threads());
  p.run = [](int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
    torch::stable::parallel_for(0, n, 1, [&fn](int64_t b, int64_t e) { fn(b, e); });
  };
  return p;
}

}  // namespace embedforge::ops
