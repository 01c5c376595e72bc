// Shared by the CPU and CUDA adapters of the embedding-bag family: argument validation and the
// translation of tensors into a core::BagLayout.
#pragma once
#include <optional>

#include "core/embedding_bag.h"
#include "ops/tensor_checks.h"

namespace embedforge::ops {

// A validated batch: contiguous tensors kept alive next to the raw layout that points into them.
struct PreparedBags {
  Tensor indices;
  std::optional<Tensor> offsets;
  std::optional<Tensor> per_sample_weights;  // float32, contiguous, flat
  core::BagLayout bags;
  core::Pool pool = core::Pool::kSum;
  int64_t num_offsets = 0;
};

// Checks shapes, dtypes, mode and padding_idx (all devices). Values (ids in range, offsets
// monotone) are checked separately by check_values, which reads the data on the CPU.
PreparedBags prepare_bags(const Tensor& indices, const std::optional<Tensor>& offsets, int64_t mode,
                          const std::optional<Tensor>& per_sample_weights, int64_t num_rows, int64_t padding_idx,
                          bool include_last_offset);
void check_values(const PreparedBags& p, int64_t num_rows, bool include_last_offset);

}  // namespace embedforge::ops
