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
  // Per-position sparse gradient, sum and mean only: (ids [M] int64, values [M, D]), one entry per
  // non-padding id in position order (the grad row of its bag times its weight and mean scale).
  // Rows repeat and are unsorted: torch's uncoalesced layout, no grouping. write_ids=false returns
  // ids empty (the caller uses indices themselves: int64 ids, no padding, every id in a bag).
  m.def(
      "embedding_bag_backward_positions("
      "Tensor grad, "
      "Tensor indices, "
      "Tensor? offsets, "
      "int num_rows, "
      "int mode, "
      "Tensor? per_sample_weights, "
      "int padding_idx, "
      "bool include_last_offset, "
      "bool write_ids"
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

  // ---- fused_optim family ---------------------------------------------------------------------
  // The backward of embedding_bag fused with an optimizer step: the batch arguments are those of
  // embedding_bag_backward_rows (grad = d loss / d output), and each touched row of `weight` is
  // updated in place right after its gradient is reduced; no gradient tensor is returned or built.
  // `pool` is embedding_bag's mode (0 sum, 1 mean, 2 max), named apart from torch's internal
  // `mode` keyword that functionalization passes alongside the op's own arguments.
  // They mutate because the update is the whole point: the table (and its optimizer state) change
  // in place, so nothing of size V x D is ever allocated. All checks run before any write.
  // stochastic_rounding (bfloat16/float16 tables): unbiased rounding of updated rows, bits from
  // a hash of (seed, row, column). Returns nothing.

  // SGD: weight(a!) -= lr * (g + weight_decay * weight) on touched rows.
  m.def(
      "fused_sgd_step("
      "Tensor(a!) weight, "
      "Tensor grad, "
      "Tensor indices, "
      "Tensor? offsets, "
      "int pool, "
      "Tensor? per_sample_weights, "
      "Tensor max_rows, "
      "int padding_idx, "
      "bool include_last_offset, "
      "float lr, "
      "float weight_decay, "
      "bool stochastic_rounding, "
      "int seed"
      ") -> ()");
  // Adagrad, element-wise: state_sum(b!) [V, D] float32 accumulates g^2 of touched rows.
  m.def(
      "fused_adagrad_step("
      "Tensor(a!) weight, "
      "Tensor(b!) state_sum, "
      "Tensor grad, "
      "Tensor indices, "
      "Tensor? offsets, "
      "int pool, "
      "Tensor? per_sample_weights, "
      "Tensor max_rows, "
      "int padding_idx, "
      "bool include_last_offset, "
      "float lr, "
      "float eps, "
      "float weight_decay, "
      "bool stochastic_rounding, "
      "int seed"
      ") -> ()");
  // Row-wise Adagrad: state_sum(b!) [V] float32 accumulates mean(g^2) of each touched row.
  m.def(
      "fused_rowwise_adagrad_step("
      "Tensor(a!) weight, "
      "Tensor(b!) state_sum, "
      "Tensor grad, "
      "Tensor indices, "
      "Tensor? offsets, "
      "int pool, "
      "Tensor? per_sample_weights, "
      "Tensor max_rows, "
      "int padding_idx, "
      "bool include_last_offset, "
      "float lr, "
      "float eps, "
      "float weight_decay, "
      "bool stochastic_rounding, "
      "int seed"
      ") -> ()");
  // Adam on touched rows: exp_avg(b!), exp_avg_sq(c!) [V, D] float32 moments; step(d!) int64,
  // [1] (the table's step count, advanced once per call) or [V] with per_row_step (each touched
  // row's own count advances and drives its bias correction: "lazy" Adam).
  m.def(
      "fused_adam_step("
      "Tensor(a!) weight, "
      "Tensor(b!) exp_avg, "
      "Tensor(c!) exp_avg_sq, "
      "Tensor(d!) step, "
      "Tensor grad, "
      "Tensor indices, "
      "Tensor? offsets, "
      "int pool, "
      "Tensor? per_sample_weights, "
      "Tensor max_rows, "
      "int padding_idx, "
      "bool include_last_offset, "
      "float lr, "
      "float beta1, "
      "float beta2, "
      "float eps, "
      "float weight_decay, "
      "bool per_row_step, "
      "bool stochastic_rounding, "
      "int seed"
      ") -> ()");

  // ---- embedding_bag_collection family -----------------------------------------------------------
  // Many tables looked up from one jagged batch: F features × B bags over `values`, bag i of
  // feature f = values[offsets[f*B+i] : offsets[f*B+i+1]] (offsets: F*B+1 entries). Feature f
  // pools (0 sum, 1 mean) rows of weights[feature_table[f]], skipping feature_padding_idx[f]
  // (-1: none). Returns [B, sum of the features' dims], features side by side in order.
  m.def(
      "embedding_bag_collection("
      "Tensor[] weights, "
      "Tensor values, "
      "Tensor offsets, "
      "int[] feature_table, "
      "int[] feature_pool, "
      "int[] feature_padding_idx, "
      "Tensor? per_sample_weights, "
      "int batch_size"
      ") -> Tensor");

  // ---- word2vec family ---------------------------------------------------------------------------
  // One batched skip-gram negative-sampling SGD step over N (center, context) pairs sharing K
  // negatives (the GPU training path). Mutates both tables in place (Tensor(a!), Tensor(b!)):
  // the word2vec update is an in-place sparse SGD step, never a gradient tensor. Returns the
  // per-pair loss [N] (float32), a fresh tensor.
  m.def(
      "sgns_step("
      "Tensor(a!) in_table, "
      "Tensor(b!) out_table, "
      "Tensor centers, "
      "Tensor contexts, "
      "Tensor negatives, "
      "float lr"
      ") -> Tensor");
}
