// CPU adapters of the fused optimizer family: validate every argument (tensors, values, ids,
// hyper-parameters) first, then mutate weight and state in one core call that cannot fail. A step
// that raises leaves the table and its state exactly as they were.
#include <torch/csrc/stable/library.h>

#include <cmath>
#include <optional>

#include "core/fused_optim.h"
#include "ops/embedding_bag.h"
#include "ops/torch_parallel.h"

namespace embedforge::ops {
namespace {

// The batch half of a fused step: the same arguments as embedding_bag_backward_rows.
struct FusedBatch {
  PreparedBags p;
  Tensor grad;
  Tensor max_rows;
  core::BackwardArgs args;
};

FusedBatch prepare_batch(const Tensor& weight, const Tensor& grad, const Tensor& indices,
                         const std::optional<Tensor>& offsets, int64_t mode, const std::optional<Tensor>& psw,
                         const Tensor& max_rows, int64_t padding_idx, bool include_last_offset) {
  check_dim(weight, "weight", 2);
  check_cpu(weight, "weight");
  const core::DType dt = table_dtype(weight, "weight");
  EF_CHECK(weight.is_contiguous(), "ValueError", "weight must be contiguous: a fused step updates the table in place");
  const int64_t V = weight.size(0), D = weight.size(1);
  check_cpu(indices, "indices");
  FusedBatch f;
  f.p = prepare_bags(indices, offsets, mode, psw, V, padding_idx, include_last_offset);
  check_values(f.p, V, include_last_offset);
  if (f.p.bags.offsets && include_last_offset) f.p.bags.end = f.p.bags.offset(f.p.num_offsets - 1);

  check_dim(grad, "grad", 2);
  check_cpu(grad, "grad");
  EF_CHECK(grad.scalar_type() == weight.scalar_type(), "TypeError", "grad (", scalar_type_name(grad.scalar_type()),
           ") must have the dtype of weight (", scalar_type_name(weight.scalar_type()), ")");
  EF_CHECK(grad.size(0) == f.p.bags.num_bags && grad.size(1) == D, "ValueError", "grad must be [", f.p.bags.num_bags,
           ", ", D, "] (bags × dim), got [", grad.size(0), ", ", grad.size(1), "]");
  f.grad = contig(grad);
  core::BackwardArgs& a = f.args;
  a.grad_out = f.grad.data_ptr();
  a.dtype = dt;
  a.num_rows = V;
  a.dim = D;
  a.bags = f.p.bags;
  a.per_sample_weights =
      f.p.per_sample_weights ? static_cast<const float*>(f.p.per_sample_weights->data_ptr()) : nullptr;
  a.pool = f.p.pool;
  if (f.p.pool == core::Pool::kMax) {
    check_cpu(max_rows, "max_rows");
    EF_CHECK(max_rows.dim() == 2 && max_rows.size(0) == grad.size(0) && max_rows.size(1) == D &&
                 max_rows.scalar_type() == ScalarType::Long,
             "ValueError", "max_rows must be the int64 [num_bags, dim] tensor returned by the forward");
    f.max_rows = contig(max_rows);
    a.max_rows = static_cast<const int64_t*>(f.max_rows.data_ptr());
    // reduce_row compares max_rows against row ids; any other value would only select nothing,
    // but the forward never produces one, so a mismatch is the caller's mistake worth naming.
    const int64_t* mr = a.max_rows;
    const int64_t n = grad.size(0) * D;
    for (int64_t i = 0; i < n; ++i)
      EF_CHECK(mr[i] >= -1 && mr[i] < V, "IndexError", "max_rows[", i / std::max<int64_t>(D, 1), ", ",
               i % std::max<int64_t>(D, 1), "]=", mr[i], " is out of range for a table of ", V, " rows");
  }
  return f;
}

// Two tensors updated in place in one step must not overlap in memory.
void check_distinct(const Tensor& a, const char* an, const Tensor& b, const char* bn) {
  if (a.numel() == 0 || b.numel() == 0) return;
  const char* a0 = static_cast<const char*>(a.data_ptr());
  const char* b0 = static_cast<const char*>(b.data_ptr());
  const char* a1 = a0 + a.numel() * static_cast<int64_t>(a.element_size());
  const char* b1 = b0 + b.numel() * static_cast<int64_t>(b.element_size());
  EF_CHECK(a1 <= b0 || b1 <= a0, "ValueError", an, " and ", bn, " share memory; each must be its own tensor");
}

// A state tensor must be float32, on the CPU, contiguous, of the given shape, and must not share
// memory with the weight or another state (an in-place update through two names would corrupt both).
void check_state(const Tensor& s, const char* name, const Tensor& weight, std::initializer_list<int64_t> shape) {
  check_cpu(s, name);
  EF_CHECK(s.scalar_type() == ScalarType::Float, "TypeError", name,
           " must be float32 (optimizer state is kept in "
           "float32 whatever the table dtype), got ",
           scalar_type_name(s.scalar_type()));
  EF_CHECK(s.dim() == static_cast<int64_t>(shape.size()), "ValueError", name, " must be ", shape.size(), "-D, got a ",
           s.dim(), "-D tensor");
  int64_t d = 0;
  for (const int64_t want : shape) {
    EF_CHECK(s.size(d) == want, "ValueError", name, " has size ", s.size(d), " in dimension ", d,
             " but the table needs ", want);
    ++d;
  }
  EF_CHECK(s.is_contiguous(), "ValueError", name, " must be contiguous: a fused step updates it in place");
  check_distinct(s, name, weight, "weight");
}

core::OptimArgs base_args(core::OptimKind kind, double lr, double weight_decay, bool stochastic_rounding,
                          int64_t seed) {
  core::OptimArgs o;
  o.kind = kind;
  o.lr = static_cast<float>(lr);
  o.weight_decay = static_cast<float>(weight_decay);
  o.stochastic_rounding = stochastic_rounding;
  o.seed = static_cast<uint64_t>(seed);
  return o;
}

// A thread keeps its grouping buffers between steps unless a batch made them larger than this.
constexpr size_t kMaxCachedGroupBytes = size_t{256} << 20;

// Checks the hyper-parameters, groups the batch by row, runs `commit` (last checks that need the
// touched rows, then any scalar state change), and only then updates the table.
template <typename Commit>
void run_step(FusedBatch& f, const Tensor& weight, const core::OptimArgs& o, Commit&& commit) {
  const std::string err = core::check_optim_args(o);
  EF_CHECK(err.empty(), "ValueError", err);
  const core::Parallel par = torch_parallel();
  // One grouping buffer per calling thread, reused by every step (no per-step allocation or page
  // faults once it has grown to the batch size).
  thread_local core::RowGroups groups;
  core::group_by_row(f.p.bags, f.args.num_rows, f.p.pool, par, groups);
  commit(groups);
  // Everything is validated: from here on nothing can fail, so a step is all or nothing.
  core::fused_optim_step(f.args, groups, weight.mutable_data_ptr(), o, par);
  if (groups.capacity_bytes() > kMaxCachedGroupBytes) groups.release();
}
void run_step(FusedBatch& f, const Tensor& weight, const core::OptimArgs& o) {
  run_step(f, weight, o, [](const core::RowGroups&) {});
}

void fused_sgd_step_cpu(Tensor weight, Tensor grad, Tensor indices, std::optional<Tensor> offsets, int64_t mode,
                        std::optional<Tensor> per_sample_weights, Tensor max_rows, int64_t padding_idx,
                        bool include_last_offset, double lr, double weight_decay, bool stochastic_rounding,
                        int64_t seed) {
  FusedBatch f = prepare_batch(weight, grad, indices, offsets, mode, per_sample_weights, max_rows, padding_idx,
                               include_last_offset);
  core::OptimArgs o = base_args(core::OptimKind::kSgd, lr, weight_decay, stochastic_rounding, seed);
  run_step(f, weight, o);
}

void fused_adagrad_step_cpu(Tensor weight, Tensor state_sum, Tensor grad, Tensor indices, std::optional<Tensor> offsets,
                            int64_t mode, std::optional<Tensor> per_sample_weights, Tensor max_rows,
                            int64_t padding_idx, bool include_last_offset, double lr, double eps, double weight_decay,
                            bool stochastic_rounding, int64_t seed) {
  FusedBatch f = prepare_batch(weight, grad, indices, offsets, mode, per_sample_weights, max_rows, padding_idx,
                               include_last_offset);
  check_state(state_sum, "state_sum", weight, {weight.size(0), weight.size(1)});
  core::OptimArgs o = base_args(core::OptimKind::kAdagrad, lr, weight_decay, stochastic_rounding, seed);
  o.eps = static_cast<float>(eps);
  o.state0 = static_cast<float*>(state_sum.mutable_data_ptr());
  run_step(f, weight, o);
}

void fused_rowwise_adagrad_step_cpu(Tensor weight, Tensor state_sum, Tensor grad, Tensor indices,
                                    std::optional<Tensor> offsets, int64_t mode,
                                    std::optional<Tensor> per_sample_weights, Tensor max_rows, int64_t padding_idx,
                                    bool include_last_offset, double lr, double eps, double weight_decay,
                                    bool stochastic_rounding, int64_t seed) {
  FusedBatch f = prepare_batch(weight, grad, indices, offsets, mode, per_sample_weights, max_rows, padding_idx,
                               include_last_offset);
  check_state(state_sum, "state_sum", weight, {weight.size(0)});
  core::OptimArgs o = base_args(core::OptimKind::kRowWiseAdagrad, lr, weight_decay, stochastic_rounding, seed);
  o.eps = static_cast<float>(eps);
  o.state0 = static_cast<float*>(state_sum.mutable_data_ptr());
  run_step(f, weight, o);
}

void fused_adam_step_cpu(Tensor weight, Tensor exp_avg, Tensor exp_avg_sq, Tensor step, Tensor grad, Tensor indices,
                         std::optional<Tensor> offsets, int64_t mode, std::optional<Tensor> per_sample_weights,
                         Tensor max_rows, int64_t padding_idx, bool include_last_offset, double lr, double beta1,
                         double beta2, double eps, double weight_decay, bool per_row_step, bool stochastic_rounding,
                         int64_t seed) {
  FusedBatch f = prepare_batch(weight, grad, indices, offsets, mode, per_sample_weights, max_rows, padding_idx,
                               include_last_offset);
  const int64_t V = weight.size(0), D = weight.size(1);
  check_state(exp_avg, "exp_avg", weight, {V, D});
  check_state(exp_avg_sq, "exp_avg_sq", weight, {V, D});
  check_distinct(exp_avg, "exp_avg", exp_avg_sq, "exp_avg_sq");
  check_cpu(step, "step");
  EF_CHECK(step.scalar_type() == ScalarType::Long, "TypeError", "step must be int64, got ",
           scalar_type_name(step.scalar_type()));
  const int64_t want = per_row_step ? V : 1;
  EF_CHECK(step.dim() == 1 && step.size(0) == want, "ValueError", "step must be 1-D of size ", want,
           per_row_step ? " (one count per row)" : " (one count for the table)");
  EF_CHECK(step.is_contiguous(), "ValueError", "step must be contiguous: a fused step updates it in place");
  int64_t* steps = static_cast<int64_t*>(step.mutable_data_ptr());
  core::OptimArgs o = base_args(core::OptimKind::kAdam, lr, weight_decay, stochastic_rounding, seed);
  o.eps = static_cast<float>(eps);
  o.beta1 = static_cast<float>(beta1);
  o.beta2 = static_cast<float>(beta2);
  o.state0 = static_cast<float*>(exp_avg.mutable_data_ptr());
  o.state1 = static_cast<float*>(exp_avg_sq.mutable_data_ptr());
  o.per_row_step = per_row_step;
  check_distinct(step, "step", weight, "weight");
  if (per_row_step) {
    o.row_step = steps;
  } else {
    EF_CHECK(steps[0] >= 0, "ValueError", "step[0]=", steps[0], " is negative");
    o.global_step = steps[0] + 1;
  }
  run_step(f, weight, o, [&](const core::RowGroups& groups) {
    if (per_row_step) {
      for (const int64_t r : groups.rows)
        EF_CHECK(steps[r] >= 0, "ValueError", "step[", r, "]=", steps[r], " is negative");
    } else {
      steps[0] = o.global_step;
    }
  });
}

}  // namespace

STABLE_TORCH_LIBRARY_IMPL(embedforge, CPU, m) {
  m.impl("fused_sgd_step", TORCH_BOX(&fused_sgd_step_cpu));
  m.impl("fused_adagrad_step", TORCH_BOX(&fused_adagrad_step_cpu));
  m.impl("fused_rowwise_adagrad_step", TORCH_BOX(&fused_rowwise_adagrad_step_cpu));
  m.impl("fused_adam_step", TORCH_BOX(&fused_adam_step_cpu));
}

}  // namespace embedforge::ops
