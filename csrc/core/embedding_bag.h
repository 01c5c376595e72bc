// Fused embedding-bag lookup (gather + pool) and its one-hot-free backward, on raw pointers.
//
// Layout of a batch: `indices` holds N row ids; bag b covers positions [bag_begin(b), bag_end(b)).
// With offsets, bag b starts at offsets[b] and ends at offsets[b+1] (or `end` for the last bag);
// without, every bag holds `bag_size` consecutive ids (the 2-D input of torch's EmbeddingBag).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/parallel.h"

namespace embedforge::core {

enum class Pool : int32_t { kSum = 0, kMean = 1, kMax = 2 };

struct BagLayout {
  const void* indices = nullptr;  // int32 or int64, num_indices entries
  bool int64_ids = true;
  int64_t num_indices = 0;
  const void* offsets = nullptr;  // same integer type as indices; nullptr means fixed-length bags
  int64_t num_bags = 0;
  int64_t bag_size = 0;      // fixed-length bags only
  int64_t end = 0;           // end of the last bag (offsets only)
  int64_t padding_idx = -1;  // ids equal to this are skipped; -1 for none

  int64_t id(int64_t j) const {
    return int64_ids ? static_cast<const int64_t*>(indices)[j] : static_cast<const int32_t*>(indices)[j];
  }
  int64_t offset(int64_t b) const {
    return int64_ids ? static_cast<const int64_t*>(offsets)[b] : static_cast<const int32_t*>(offsets)[b];
  }
  int64_t bag_begin(int64_t b) const { return offsets ? offset(b) : b * bag_size; }
  int64_t bag_end(int64_t b) const {
    if (!offsets) return (b + 1) * bag_size;
    return b + 1 < num_bags ? offset(b + 1) : end;
  }
};

// Caller-error checks, run before any kernel. Each returns "" when the input is fine, else a
// message naming the argument, the bad value and its position.
std::string check_offsets(const BagLayout& bags, int64_t num_offsets, bool include_last_offset);
std::string check_indices(const BagLayout& bags, int64_t num_rows, const Parallel& par);

struct ForwardArgs {
  const void* weight = nullptr;  // [num_rows, dim], row-contiguous, `dtype`
  DType dtype = DType::kFloat32;
  int64_t num_rows = 0;
  int64_t dim = 0;
  BagLayout bags;
  const float* per_sample_weights = nullptr;  // [num_indices] or nullptr (sum and mean only)
  Pool pool = Pool::kSum;
};

// out: [num_bags, dim] of args.dtype. max_rows: [num_bags, dim] int64 for Pool::kMax (the row
// that supplied each maximum, -1 for empty bags), else unused. Offsets must have passed
// check_offsets. Ids are range-checked here, each before its row is read (in the pooling loop,
// or in one pass over a part's ids for the generic kernels): returns "" when every id lies in
// [0, num_rows), else check_indices' message (and `out` is left partly written).
[[nodiscard]] std::string embedding_bag_forward(const ForwardArgs& args, void* out, int64_t* max_rows,
                                                const Parallel& par);

// Splits bags [0, num_bags) into `parts` contiguous ranges of about equal work (ids + per-bag
// cost), so bags of very different lengths still keep every thread busy. Returns parts+1 bounds.
std::vector<int64_t> balance_bags(const BagLayout& bags, int64_t parts);

// ---- backward -------------------------------------------------------------------------------
// The gradient of a pooled lookup w.r.t. the table is delta^T * G (delta the one-hot matrix of
// ids, G the per-id output gradients). We never form delta: entries are grouped by row with a
// stable radix sort, and each touched row is reduced once, in position order, by one thread, so
// the result is deterministic and identical for any thread count.
struct RowGroups {
  std::vector<uint32_t> pos;     // index positions, grouped by row, ascending within a row
  std::vector<int64_t> rows;     // the distinct touched rows, ascending
  std::vector<int64_t> seg;      // rows.size()+1 bounds into pos
  std::vector<int32_t> bag_of;   // bag of each index position (offsets layout only)
  std::vector<float> bag_scale;  // 1/count for Pool::kMean, per bag
  // group_by_row's working memory, kept so that a reused RowGroups allocates nothing per batch.
  std::vector<uint64_t> scratch_packed;
  std::vector<uint32_t> scratch_hist;
  std::vector<int64_t> scratch_index;

  int64_t num_rows_touched() const { return static_cast<int64_t>(rows.size()); }
  // Memory held by the buffers (capacities), and a way to hand it back: callers that keep a
  // RowGroups across batches release it after an unusually large one.
  size_t capacity_bytes() const {
    return pos.capacity() * 4 + rows.capacity() * 8 + seg.capacity() * 8 + bag_of.capacity() * 4 +
           bag_scale.capacity() * 4 + scratch_packed.capacity() * 8 + scratch_hist.capacity() * 4 +
           scratch_index.capacity() * 8;
  }
  void release() { *this = RowGroups{}; }
  int64_t bag(const BagLayout& b, int64_t j) const { return b.offsets ? bag_of[j] : j / b.bag_size; }
};

// Parallel over `par` (parts of the bags, then ranges of row buckets); the result depends only on
// the batch, never on the thread count. The second form refills `out`, reusing its buffers (a
// caller that keeps one RowGroups across batches allocates only when a batch outgrows it).
RowGroups group_by_row(const BagLayout& bags, int64_t num_rows, Pool pool, const Parallel& par = Parallel{});
void group_by_row(const BagLayout& bags, int64_t num_rows, Pool pool, const Parallel& par, RowGroups& out);

struct BackwardArgs {
  const void* grad_out = nullptr;  // [num_bags, dim] of `dtype`
  DType dtype = DType::kFloat32;
  int64_t num_rows = 0;
  int64_t dim = 0;
  BagLayout bags;
  const float* per_sample_weights = nullptr;
  Pool pool = Pool::kSum;
  const int64_t* max_rows = nullptr;  // from the forward, Pool::kMax only
};

// Dense gradient [num_rows, dim]: touched rows are written once with their reduced gradient. If
// `zeroed` is false the rows between them are zero-filled by the same thread; if true the buffer is
// already zero (e.g. fresh calloc pages) and untouched rows are never written, nor even faulted in.
void embedding_bag_backward_dense(const BackwardArgs& args, const RowGroups& groups, void* grad_weight, bool zeroed,
                                  const Parallel& par);
// Row-sparse gradient: row_grads [num_rows_touched, dim] in the order of groups.rows.
void embedding_bag_backward_rows(const BackwardArgs& args, const RowGroups& groups, void* row_grads,
                                 const Parallel& par);
// Gradient w.r.t. per-sample weights: grad_psw[j] = <grad_out[bag(j)], weight[id j]> (· 1/count for
// mean); zero at padding positions.
void embedding_bag_backward_psw(const BackwardArgs& args, const void* weight, float* grad_psw, const Parallel& par);

// ---- per-position sparse gradient (torch's uncoalesced layout) ------------------------------
// Sum and mean only. Every non-padding position j of a bag b contributes one entry, in position
// order: ids_out[k] = id j, values[k] = grad_out[b] * psw[j] * (1/count of b's non-padding ids for
// mean). Rows may repeat and are not sorted; nothing is grouped, so the cost is one pass over the
// batch. plan_positions splits the bags into parts and counts each part's entries (total = the
// number of non-padding positions in bags) so that the parts write at known offsets, in parallel.
// ids_out may be nullptr (values only).
struct PositionPlan {
  std::vector<int64_t> part_bags;   // parts+1 bag bounds
  std::vector<int64_t> part_first;  // parts+1 first output entry of each part (last = total)
  int64_t total() const { return part_first.empty() ? 0 : part_first.back(); }
};
PositionPlan plan_positions(const BagLayout& bags, const Parallel& par);
void embedding_bag_backward_positions(const BackwardArgs& args, const PositionPlan& plan, int64_t* ids_out,
                                      void* values, const Parallel& par);

// Which vectorised build the dispatcher picked: "avx512", "avx2" or "baseline".
const char* embedding_bag_isa();

}  // namespace embedforge::core
