// Input checks, work balancing and the calls into the chosen kernel table.
#include "core/embedding_bag.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <type_traits>

#include "core/isa_table.h"

namespace embedforge::core {

const char* embedding_bag_isa() { return isa_name(kernels().isa); }

std::string check_offsets(const BagLayout& bags, int64_t num_offsets, bool include_last_offset) {
  if (!bags.offsets) return "";
  std::ostringstream msg;
  const int64_t n = bags.num_indices;
  if (num_offsets == 0) {
    if (include_last_offset)
      return "offsets must hold at least one entry (the end of the last bag) when include_last_offset=True";
    return "";
  }
  if (bags.offset(0) != 0) {
    msg << "offsets[0]=" << bags.offset(0) << " must be 0";
    return msg.str();
  }
  for (int64_t i = 1; i < num_offsets; ++i) {
    if (bags.offset(i) < bags.offset(i - 1)) {
      msg << "offsets must be non-decreasing, but offsets[" << i << "]=" << bags.offset(i) << " < offsets[" << i - 1
          << "]=" << bags.offset(i - 1);
      return msg.str();
    }
  }
  const int64_t last = bags.offset(num_offsets - 1);
  if (last > n) {
    msg << "offsets[" << num_offsets - 1 << "]=" << last << " is past the end of indices (" << n << " ids)";
    return msg.str();
  }
  if (include_last_offset && last != n) {
    // torch documents the last offset as the size of indices (CSR); ids after it belong to no bag.
    msg << "offsets[" << num_offsets - 1 << "]=" << last << " must equal the number of indices (" << n
        << ") when include_last_offset=True";
    return msg.str();
  }
  return "";
}

namespace {
// True when every id in [j0, j1) lies in [0, num_rows): one branch-free pass the compiler
// vectorises (a negative id wraps to a huge unsigned value).
template <typename Idx>
bool ids_in_range(const Idx* ids, int64_t j0, int64_t j1, int64_t num_rows) {
  const uint64_t limit = static_cast<uint64_t>(num_rows);
  bool bad = false;
  for (int64_t j = j0; j < j1; ++j) bad |= static_cast<uint64_t>(static_cast<int64_t>(ids[j])) >= limit;
  return !bad;
}
}  // namespace

std::string check_indices(const BagLayout& bags, int64_t num_rows, const Parallel& par) {
  const int64_t n = bags.num_indices;
  constexpr int64_t kChunk = 1 << 16;
  std::atomic<bool> bad{false};
  par.for_each((n + kChunk - 1) / kChunk, [&](int64_t c0, int64_t c1) {
    const int64_t j0 = c0 * kChunk, j1 = std::min(n, c1 * kChunk);
    const bool ok = bags.int64_ids ? ids_in_range(static_cast<const int64_t*>(bags.indices), j0, j1, num_rows)
                                   : ids_in_range(static_cast<const int32_t*>(bags.indices), j0, j1, num_rows);
    if (!ok) bad.store(true);
  });
  if (!bad.load()) return "";
  // Rare path: find the first offender for the message.
  int64_t j = 0;
  while (j < n && bags.id(j) >= 0 && bags.id(j) < num_rows) ++j;
  std::ostringstream msg;
  const int64_t r = bags.id(j);
  msg << "indices[" << j << "]=" << r;
  if (r < 0)
    msg << " is negative; ids must lie in [0, " << num_rows << ")";
  else
    msg << " is out of range for a table of " << num_rows << " rows";
  return msg.str();
}

std::vector<int64_t> balance_bags(const BagLayout& bags, int64_t parts) {
  const int64_t B = bags.num_bags;
  parts = std::max<int64_t>(1, std::min(parts, B));
  std::vector<int64_t> bounds(static_cast<size_t>(parts + 1));
  bounds[0] = 0;
  bounds[parts] = B;
  if (!bags.offsets) {
    for (int64_t p = 1; p < parts; ++p) bounds[p] = B * p / parts;
    return bounds;
  }
  // Work of bags [0, b) ~ ids before bag b + a fixed cost per bag; it grows with b, so each
  // bound is found by binary search.
  constexpr int64_t kBagCost = 4;
  const int64_t first = bags.bag_begin(0);
  auto work = [&](int64_t b) { return (b < B ? bags.bag_begin(b) : bags.bag_end(B - 1)) - first + kBagCost * b; };
  const int64_t total = work(B);
  for (int64_t p = 1; p < parts; ++p) {
    const int64_t target = total * p / parts;
    int64_t lo = bounds[p - 1], hi = B;
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if (work(mid) < target)
        lo = mid + 1;
      else
        hi = mid;
    }
    bounds[p] = lo;
  }
  return bounds;
}

std::string embedding_bag_forward(const ForwardArgs& args, void* out, int64_t* max_rows, const Parallel& par) {
  const BagLayout& b = args.bags;
  // Ids [0, covered) belong to bags; the kernels check those, part by part, before pooling them.
  int64_t covered = 0;
  bool ok = true;
  if (b.num_bags > 0 && args.dim > 0) {
    covered = b.bag_end(b.num_bags - 1);
    ok = kernels().bag_forward(args, out, max_rows, par);
  }
  // A bad id, or ids no bag reads (past the last offset, or nothing pooled): the full check finds
  // the first offender for the message.
  if (!ok || covered < b.num_indices) return check_indices(b, args.num_rows, par);
  return "";
}

void embedding_bag_backward_dense(const BackwardArgs& args, const RowGroups& groups, void* grad_weight, bool zeroed,
                                  const Parallel& par) {
  if (args.num_rows == 0 || args.dim == 0) return;
  kernels().bag_backward_dense(args, groups, grad_weight, zeroed, par);
}

void embedding_bag_backward_rows(const BackwardArgs& args, const RowGroups& groups, void* row_grads,
                                 const Parallel& par) {
  if (groups.rows.empty() || args.dim == 0) return;
  kernels().bag_backward_rows(args, groups, row_grads, par);
}

void embedding_bag_backward_psw(const BackwardArgs& args, const void* weight, float* grad_psw, const Parallel& par) {
  if (args.bags.num_bags == 0) return;
  kernels().bag_backward_psw(args, weight, grad_psw, par);
}

namespace {

// Fewer ids than this: one part (threads would cost more than they save).
constexpr int64_t kPositionsParallelMinIds = 1 << 13;

// One bag's entries: rows of grad_out scaled by w (per position with per-sample weights).
template <typename Idx, typename T, bool kPad>
int64_t positions_bag(const Idx* __restrict ids, int64_t s, int64_t e, Idx pad, const T* __restrict gb, int64_t D,
                      float scale, const float* psw, int64_t k, int64_t* __restrict ids_out, T* __restrict values) {
  for (int64_t j = s; j < e; ++j) {
    const Idx r = ids[j];
    if (kPad && r == pad) continue;
    if (ids_out) ids_out[k] = static_cast<int64_t>(r);
    T* __restrict v = values + k * D;
    const float w = psw ? scale * psw[j] : scale;
    for (int64_t d = 0; d < D; ++d) v[d] = from_float<T>(to_float(gb[d]) * w);
    ++k;
  }
  return k;
}

template <typename Idx, typename T>
void positions_typed(const BackwardArgs& a, const PositionPlan& plan, int64_t* ids_out, T* values,
                     const Parallel& par) {
  const BagLayout& bags = a.bags;
  const Idx* ids = static_cast<const Idx*>(bags.indices);
  const T* g = static_cast<const T*>(a.grad_out);
  const int64_t D = a.dim;
  const bool has_pad = bags.padding_idx >= 0;
  const Idx pad = static_cast<Idx>(has_pad ? bags.padding_idx : 0);
  const float* psw = a.per_sample_weights;
  const bool mean = a.pool == Pool::kMean;
  const int64_t P = static_cast<int64_t>(plan.part_bags.size()) - 1;
  par.for_each(P, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      int64_t k = plan.part_first[p];
      for (int64_t b = plan.part_bags[p], b1 = plan.part_bags[p + 1]; b < b1; ++b) {
        const int64_t s = bags.bag_begin(b), e = bags.bag_end(b);
        float scale = 1.f;
        if (mean) {
          int64_t kept = e - s;
          if (has_pad)
            for (int64_t j = s; j < e; ++j) kept -= ids[j] == pad;
          scale = kept > 0 ? 1.f / static_cast<float>(kept) : 0.f;
        }
        const T* gb = g + b * D;
        k = has_pad ? positions_bag<Idx, T, true>(ids, s, e, pad, gb, D, scale, psw, k, ids_out, values)
                    : positions_bag<Idx, T, false>(ids, s, e, pad, gb, D, scale, psw, k, ids_out, values);
      }
    }
  });
}

template <typename Idx>
int64_t kept_in(const BagLayout& bags, int64_t b0, int64_t b1) {
  if (b0 >= b1) return 0;
  const int64_t s = bags.bag_begin(b0), e = bags.bag_end(b1 - 1);
  if (bags.padding_idx < 0) return e - s;
  const Idx* ids = static_cast<const Idx*>(bags.indices);
  const Idx pad = static_cast<Idx>(bags.padding_idx);
  int64_t n = 0;
  for (int64_t j = s; j < e; ++j) n += ids[j] != pad;
  return n;
}

}  // namespace

PositionPlan plan_positions(const BagLayout& bags, const Parallel& par) {
  PositionPlan plan;
  const int64_t B = bags.num_bags;
  const int64_t n_used = B > 0 ? bags.bag_end(B - 1) - bags.bag_begin(0) : 0;
  // Several parts per thread: a thread that starts late leaves its parts to the others.
  const int64_t parts = n_used < kPositionsParallelMinIds ? 1 : 4 * int64_t{std::max(1, par.threads)};
  plan.part_bags = balance_bags(bags, parts);
  const int64_t P = static_cast<int64_t>(plan.part_bags.size()) - 1;
  plan.part_first.assign(static_cast<size_t>(P + 1), 0);
  par.for_each(P, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p)
      plan.part_first[p + 1] = bags.int64_ids ? kept_in<int64_t>(bags, plan.part_bags[p], plan.part_bags[p + 1])
                                              : kept_in<int32_t>(bags, plan.part_bags[p], plan.part_bags[p + 1]);
  });
  for (int64_t p = 0; p < P; ++p) plan.part_first[p + 1] += plan.part_first[p];
  return plan;
}

void embedding_bag_backward_positions(const BackwardArgs& args, const PositionPlan& plan, int64_t* ids_out,
                                      void* values, const Parallel& par) {
  if (plan.total() == 0) return;
  if (args.pool == Pool::kMax) throw std::invalid_argument("embedding_bag_backward_positions: sum and mean only");
  const bool i64 = args.bags.int64_ids;
  switch (args.dtype) {
    case DType::kFloat32:
      if (i64)
        positions_typed<int64_t>(args, plan, ids_out, static_cast<float*>(values), par);
      else
        positions_typed<int32_t>(args, plan, ids_out, static_cast<float*>(values), par);
      break;
    case DType::kBFloat16:
      if (i64)
        positions_typed<int64_t>(args, plan, ids_out, static_cast<bf16*>(values), par);
      else
        positions_typed<int32_t>(args, plan, ids_out, static_cast<bf16*>(values), par);
      break;
    case DType::kFloat16:
      if (i64)
        positions_typed<int64_t>(args, plan, ids_out, static_cast<f16*>(values), par);
      else
        positions_typed<int32_t>(args, plan, ids_out, static_cast<f16*>(values), par);
      break;
  }
}

}  // namespace embedforge::core
