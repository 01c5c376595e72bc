// Every operator schema of embedforge, in one place: the table of contents of the native library.
// Kernels are registered per device next to their adapters (ops/<family>.cpp, cuda/<family>.cu);
// fake kernels and autograd formulas are registered in Python (python/embedforge/ops/<family>.py).
#include <torch/csrc/stable/library.h>

STABLE_TORCH_LIBRARY(embedforge, m) {
  // ---- embedding_bag family ------------------------------------------------------------------
  // mode: 0 sum, 1 mean, 2 max. padding_idx: -1 for none. Returns (output [B, D],
  // max_rows [B, D] int64 for max mode, the row that supplied each maximum; else empty).
  m.def(
      "embedding_bag("
      "Tensor weight, "
      "Tensor indices, "
      "Tensor? offsets, "
      "int mode, "
      "Tensor? per_sample_weights, "
      "int padding_idx, "
      "bool include_last_offset, "
      "bool sparse"
      ") -> (Tensor, Tensor)");
  // `sparse` selects the gradient the autograd formula returns (row-sparse COO or dense); the
  // forward kernels ignore it.
  // Dense gradient of the table, [num_rows, D]; each touched row written once, no atomics.
  m.def(
      "embedding_bag_backward_dense("
      "Tensor grad, "
      "Tensor indices, "
      "Tensor? offsets, "
      "int num_rows, "
      "int mode, "
      "Tensor? per_sample_weights, "
      "Tensor max_rows, "
      "int padding_idx, "
      "bool include_last_offset"
      ") -> Tensor");
  // Row-sparse gradient: (touched rows ascending [U] int64, their gradients [U, D]).
  m.def(
      "embedding_bag_backward_rows("
      "Tensor grad, "
      "Tensor indices, "
      "Tensor? offsets, "
      "int num_rows, "
      "int mode, "
      "Tensor? per_sample_weights, "
      "Tensor max_rows, "
      "int padding_idx, "
      "bool include_last_offset"
      ") -> (Tensor, Tensor)");
  // Gradient w.r.t. per-sample weights, float32 [N].
  m.def(
      "embedding_bag_backward_psw("
      "Tensor grad, "
      "Tensor weight, "
      "Tensor indices, "
      "Tensor? offsets, "
      "int mode, "
      "int padding_idx, "
      "bool include_last_offset"
      ") -> Tensor");
}
