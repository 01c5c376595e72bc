// CPU adapters of the embedding-bag family: validate, make contiguous, pick dtypes, call core.
#include "ops/embedding_bag.h"

#include <torch/csrc/stable/library.h>

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <tuple>

#include "ops/torch_parallel.h"

namespace embedforge::ops {

PreparedBags prepare_bags(const Tensor& indices, const std::optional<Tensor>& offsets, int64_t mode,
                          const std::optional<Tensor>& per_sample_weights, int64_t num_rows, int64_t padding_idx,
                          bool include_last_offset) {
  PreparedBags p;
  EF_CHECK(num_rows >= 0, "ValueError", "num_rows=", num_rows, " must be >= 0");
  check_index_tensor(indices, "indices");
  EF_CHECK(mode >= 0 && mode <= 2, "ValueError", "mode must be 0 (sum), 1 (mean) or 2 (max), got ", mode);
  p.pool = static_cast<core::Pool>(mode);
  EF_CHECK(padding_idx >= -1 && padding_idx < num_rows, "ValueError", "padding_idx=", padding_idx,
           " is out of range for a table of ", num_rows, " rows");
  p.indices = contig(indices);
  core::BagLayout& b = p.bags;
  b.indices = p.indices.data_ptr();
  b.int64_ids = indices.scalar_type() == ScalarType::Long;
  b.num_indices = indices.numel();
  b.padding_idx = padding_idx;
  if (offsets.has_value()) {
    const Tensor& off = *offsets;
    check_dim(indices, "indices (with offsets)", 1);
    check_index_tensor(off, "offsets");
    check_dim(off, "offsets", 1);
    check_same_device(indices, "indices", off, "offsets");
    EF_CHECK(off.scalar_type() == indices.scalar_type(), "TypeError", "offsets (", scalar_type_name(off.scalar_type()),
             ") must have the dtype of indices (", scalar_type_name(indices.scalar_type()), ")");
    p.offsets = contig(off);
    p.num_offsets = off.numel();
    b.offsets = p.offsets->data_ptr();
    EF_CHECK(!include_last_offset || p.num_offsets >= 1, "ValueError",
             "offsets must hold at least one entry (the end of the last bag) when include_last_offset=True");
    b.num_bags = include_last_offset ? p.num_offsets - 1 : p.num_offsets;
    b.end = b.num_indices;  // refined by check_values once the data may be read
  } else {
    EF_CHECK(indices.dim() == 2, "ValueError", "indices must be 2-D (fixed-length bags) when offsets is None, got a ",
             indices.dim(), "-D tensor");
    b.num_bags = indices.size(0);
    b.bag_size = indices.size(1);
  }
  if (per_sample_weights.has_value()) {
    const Tensor& w = *per_sample_weights;
    EF_CHECK(p.pool != core::Pool::kMax, "ValueError",
             "per_sample_weights are only supported for mode='sum' and mode='mean', not 'max'");
    const ScalarType st = w.scalar_type();
    EF_CHECK(
        st == ScalarType::Float || st == ScalarType::BFloat16 || st == ScalarType::Half || st == ScalarType::Double,
        "TypeError", "per_sample_weights must be a floating-point tensor, got ", scalar_type_name(st));
    EF_CHECK(w.dim() == indices.dim(), "ValueError", "per_sample_weights must have the shape of indices");
    for (int64_t d = 0; d < w.dim(); ++d)
      EF_CHECK(w.size(d) == indices.size(d), "ValueError", "per_sample_weights must have the shape of indices: size ",
               w.size(d), " != ", indices.size(d), " in dimension ", d);
    check_same_device(indices, "indices", w, "per_sample_weights");
    p.per_sample_weights = contig(st == ScalarType::Float ? w : torch::stable::to(w, ScalarType::Float));
  }
  return p;
}

void check_values(const PreparedBags& p, int64_t num_rows, bool include_last_offset) {
  const core::Parallel par = torch_parallel();
  const std::string off_err = core::check_offsets(p.bags, p.num_offsets, include_last_offset);
  EF_CHECK(off_err.empty(), "ValueError", off_err);
  const std::string id_err = core::check_indices(p.bags, num_rows, par);
  EF_CHECK(id_err.empty(), "IndexError", id_err);
}

namespace {

core::BagLayout finish_layout(PreparedBags& p, bool include_last_offset) {
  core::BagLayout b = p.bags;
  if (b.offsets && include_last_offset) b.end = b.offset(p.num_offsets - 1);
  return b;
}

PreparedBags prepare_cpu(const Tensor& indices, const std::optional<Tensor>& offsets, int64_t mode,
                         const std::optional<Tensor>& psw, int64_t num_rows, int64_t padding_idx,
                         bool include_last_offset) {
  check_cpu(indices, "indices");
  PreparedBags p = prepare_bags(indices, offsets, mode, psw, num_rows, padding_idx, include_last_offset);
  check_values(p, num_rows, include_last_offset);
  p.bags = finish_layout(p, include_last_offset);
  return p;
}

std::tuple<Tensor, Tensor> embedding_bag_cpu(Tensor weight, Tensor indices, std::optional<Tensor> offsets, int64_t mode,
                                             std::optional<Tensor> per_sample_weights, int64_t padding_idx,
                                             bool include_last_offset, bool /*sparse: autograd only*/) {
  check_dim(weight, "weight", 2);
  check_cpu(weight, "weight");
  const core::DType dt = table_dtype(weight, "weight");
  const int64_t V = weight.size(0), D = weight.size(1);
  check_cpu(indices, "indices");
  PreparedBags p = prepare_bags(indices, offsets, mode, per_sample_weights, V, padding_idx, include_last_offset);
  const std::string off_err = core::check_offsets(p.bags, p.num_offsets, include_last_offset);
  EF_CHECK(off_err.empty(), "ValueError", off_err);
  p.bags = finish_layout(p, include_last_offset);
  const core::Parallel par = torch_parallel();
  const Tensor w = contig(weight);
  const int64_t B = p.bags.num_bags;
  Tensor out = torch::stable::new_empty(w, {B, D});
  Tensor max_rows = torch::stable::new_empty(
      w, {p.pool == core::Pool::kMax ? B : 0, p.pool == core::Pool::kMax ? D : 0}, ScalarType::Long);
  core::ForwardArgs a;
  a.weight = w.data_ptr();
  a.dtype = dt;
  a.num_rows = V;
  a.dim = D;
  a.bags = p.bags;
  a.per_sample_weights = p.per_sample_weights ? static_cast<const float*>(p.per_sample_weights->data_ptr()) : nullptr;
  a.pool = p.pool;
  // The ids are range-checked inside the forward, each before its row is read (one pass fewer
  // over the batch than check_values).
  const std::string id_err = core::embedding_bag_forward(
      a, out.data_ptr(), p.pool == core::Pool::kMax ? static_cast<int64_t*>(max_rows.data_ptr()) : nullptr, par);
  EF_CHECK(id_err.empty(), "IndexError", id_err);
  return {out, max_rows};
}

// A zero-filled [rows, cols] CPU tensor straight from the OS: anonymous pages are zero, so a
// V x D gradient costs no V x D memset and only the rows the backward writes become resident.
// Large buffers are 2 MiB-aligned and marked for transparent huge pages, so writing scattered
// rows costs a few hundred huge-page faults instead of one fault per 4 KiB page touched.
Tensor zeroed_cpu_tensor(int64_t rows, int64_t cols, ScalarType dtype) {
  const size_t elem = dtype == ScalarType::Float ? 4 : 2;
  const size_t bytes = static_cast<size_t>(rows) * static_cast<size_t>(cols) * elem;
  const torch::stable::Device cpu(torch::headeronly::DeviceType::CPU);
  constexpr size_t kHuge = size_t{2} << 20;
  if (bytes < 2 * kHuge) {
    void* mem = std::calloc(bytes > 0 ? bytes : 1, 1);
    EF_CHECK(mem != nullptr, "ValueError", "out of memory allocating a ", rows, " x ", cols, " gradient");
    return torch::stable::from_blob(mem, {rows, cols}, {cols, 1}, cpu, dtype, [](void* ptr) { std::free(ptr); });
  }
  const size_t total = bytes + kHuge;
  void* base = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  EF_CHECK(base != MAP_FAILED, "ValueError", "out of memory allocating a ", rows, " x ", cols, " gradient");
  const uintptr_t aligned = (reinterpret_cast<uintptr_t>(base) + kHuge - 1) & ~(kHuge - 1);
  void* data = reinterpret_cast<void*>(aligned);
#ifdef MADV_HUGEPAGE
  madvise(data, (bytes + kHuge - 1) & ~(kHuge - 1), MADV_HUGEPAGE);  // a hint: fine if refused
#endif
  return torch::stable::from_blob(data, {rows, cols}, {cols, 1}, cpu, dtype,
                                  [base, total](void*) { munmap(base, total); });
}

core::BackwardArgs backward_args(const Tensor& grad, const PreparedBags& p, int64_t num_rows, const Tensor& max_rows) {
  core::BackwardArgs a;
  a.grad_out = grad.data_ptr();
  a.dtype = table_dtype(grad, "grad");
  a.num_rows = num_rows;
  a.dim = grad.size(1);
  a.bags = p.bags;
  a.per_sample_weights = p.per_sample_weights ? static_cast<const float*>(p.per_sample_weights->data_ptr()) : nullptr;
  a.pool = p.pool;
  if (p.pool == core::Pool::kMax) {
    check_cpu(max_rows, "max_rows");
    EF_CHECK(max_rows.dim() == 2 && max_rows.size(0) == grad.size(0) && max_rows.size(1) == grad.size(1) &&
                 max_rows.scalar_type() == ScalarType::Long,
             "ValueError", "max_rows must be the int64 [num_bags, dim] tensor returned by the forward");
    a.max_rows = static_cast<const int64_t*>(max_rows.data_ptr());
  }
  return a;
}

void check_grad(const Tensor& grad, const PreparedBags& p) {
  check_dim(grad, "grad", 2);
  check_cpu(grad, "grad");
  EF_CHECK(grad.size(0) == p.bags.num_bags, "ValueError", "grad has ", grad.size(0), " rows but the batch has ",
           p.bags.num_bags, " bags");
}

Tensor embedding_bag_backward_dense_cpu(Tensor grad, Tensor indices, std::optional<Tensor> offsets, int64_t num_rows,
                                        int64_t mode, std::optional<Tensor> per_sample_weights, Tensor max_rows,
                                        int64_t padding_idx, bool include_last_offset) {
  PreparedBags p = prepare_cpu(indices, offsets, mode, per_sample_weights, num_rows, padding_idx, include_last_offset);
  check_grad(grad, p);
  const Tensor g = contig(grad);
  const Tensor mr = contig(max_rows);
  const core::BackwardArgs a = backward_args(g, p, num_rows, mr);
  checked_size(num_rows, a.dim, static_cast<int64_t>(g.element_size()), "the gradient (num_rows x dim)");
  Tensor gw = zeroed_cpu_tensor(num_rows, a.dim, g.scalar_type());
  const core::Parallel par = torch_parallel();
  thread_local core::RowGroups groups;  // reused across calls
  core::group_by_row(p.bags, num_rows, p.pool, par, groups);
  core::embedding_bag_backward_dense(a, groups, gw.data_ptr(), /*zeroed=*/true, par);
  if (groups.capacity_bytes() > (size_t{256} << 20)) groups.release();  // keep no huge batch's buffers
  return gw;
}

std::tuple<Tensor, Tensor> embedding_bag_backward_rows_cpu(Tensor grad, Tensor indices, std::optional<Tensor> offsets,
                                                           int64_t num_rows, int64_t mode,
                                                           std::optional<Tensor> per_sample_weights, Tensor max_rows,
                                                           int64_t padding_idx, bool include_last_offset) {
  PreparedBags p = prepare_cpu(indices, offsets, mode, per_sample_weights, num_rows, padding_idx, include_last_offset);
  check_grad(grad, p);
  const Tensor g = contig(grad);
  const Tensor mr = contig(max_rows);
  const core::BackwardArgs a = backward_args(g, p, num_rows, mr);
  const core::Parallel par = torch_parallel();
  thread_local core::RowGroups groups;  // reused across calls
  core::group_by_row(p.bags, num_rows, p.pool, par, groups);
  const int64_t U = groups.num_rows_touched();
  Tensor rows = torch::stable::new_empty(g, {U}, ScalarType::Long);
  std::copy(groups.rows.begin(), groups.rows.end(), static_cast<int64_t*>(rows.data_ptr()));
  // Every element is written below: memory torch's allocator already holds (warm, no page faults).
  Tensor row_grads = torch::stable::new_empty(g, {U, a.dim});
  core::embedding_bag_backward_rows(a, groups, row_grads.data_ptr(), par);
  if (groups.capacity_bytes() > (size_t{256} << 20)) groups.release();  // keep no huge batch's buffers
  return {rows, row_grads};
}

std::tuple<Tensor, Tensor> embedding_bag_backward_positions_cpu(Tensor grad, Tensor indices,
                                                                std::optional<Tensor> offsets, int64_t num_rows,
                                                                int64_t mode, std::optional<Tensor> per_sample_weights,
                                                                int64_t padding_idx, bool include_last_offset,
                                                                bool write_ids) {
  EF_CHECK(mode == 0 || mode == 1, "ValueError",
           "embedding_bag_backward_positions supports mode 0 (sum) and 1 (mean), got ", mode);
  PreparedBags p = prepare_cpu(indices, offsets, mode, per_sample_weights, num_rows, padding_idx, include_last_offset);
  check_grad(grad, p);
  const Tensor g = contig(grad);
  const core::BackwardArgs a = backward_args(g, p, num_rows, Tensor());
  const core::Parallel par = torch_parallel();
  const core::PositionPlan plan = core::plan_positions(p.bags, par);
  const int64_t M = plan.total();
  checked_size(M, a.dim, static_cast<int64_t>(g.element_size()), "the gradient values (ids x dim)");
  Tensor ids = torch::stable::new_empty(g, {write_ids ? M : 0}, ScalarType::Long);
  Tensor values = torch::stable::new_empty(g, {M, a.dim});  // every element is written
  core::embedding_bag_backward_positions(a, plan, write_ids ? static_cast<int64_t*>(ids.data_ptr()) : nullptr,
                                         values.data_ptr(), par);
  return {ids, values};
}

Tensor embedding_bag_backward_psw_cpu(Tensor grad, Tensor weight, Tensor indices, std::optional<Tensor> offsets,
                                      int64_t mode, int64_t padding_idx, bool include_last_offset) {
  check_dim(weight, "weight", 2);
  check_cpu(weight, "weight");
  const int64_t V = weight.size(0);
  PreparedBags p = prepare_cpu(indices, offsets, mode, std::nullopt, V, padding_idx, include_last_offset);
  check_grad(grad, p);
  EF_CHECK(grad.scalar_type() == weight.scalar_type(), "TypeError", "grad and weight must share a dtype");
  EF_CHECK(grad.size(1) == weight.size(1), "ValueError", "grad is [", grad.size(0), ", ", grad.size(1),
           "] but weight has ", weight.size(1), " columns: grad must be [bags, weight.size(1)]");
  const Tensor g = contig(grad);
  const Tensor w = contig(weight);
  core::BackwardArgs a = backward_args(g, p, V, Tensor());
  Tensor out = torch::stable::new_zeros(g, {p.bags.num_indices}, ScalarType::Float);
  core::embedding_bag_backward_psw(a, w.data_ptr(), static_cast<float*>(out.data_ptr()), torch_parallel());
  return out;
}

}  // namespace

STABLE_TORCH_LIBRARY_IMPL(embedforge, CPU, m) {
  m.impl("embedding_bag", TORCH_BOX(&embedding_bag_cpu));
  m.impl("embedding_bag_backward_dense", TORCH_BOX(&embedding_bag_backward_dense_cpu));
  m.impl("embedding_bag_backward_rows", TORCH_BOX(&embedding_bag_backward_rows_cpu));
  m.impl("embedding_bag_backward_psw", TORCH_BOX(&embedding_bag_backward_psw_cpu));
  m.impl("embedding_bag_backward_positions", TORCH_BOX(&embedding_bag_backward_positions_cpu));
}

}  // namespace embedforge::ops
