// Grouping a batch's index positions by table row: the one-hot-free heart of every backward.
//
// The result is fully determined by the batch (positions sorted by row, ascending positions within
// a row), so any thread count yields the same bits. It is a stable LSD radix sort of packed
// (row << 32 | position) values, each pass parallel over parts with a histogram per part (digit-
// major, part-minor prefix sums keep it stable); the first pass reads the ids straight from the
// bags (building bag_of and the mean scales on the way), and a last pass writes rows, segment
// bounds and positions at per-part prefix offsets. No data-dependent branches in the hot loops.
#include <algorithm>
#include <stdexcept>

#include "core/embedding_bag.h"

namespace embedforge::core {

namespace {

// Digits of at most this many bits: a part's histogram (4 KiB entries) and the scatter's write
// frontier (one cache line per digit value) stay in L1/L2.
constexpr int kMaxDigitBits = 12;
// Fewer ids than this: one part (the parallel passes would cost more than they save).
constexpr int64_t kParallelMinIds = 1 << 14;

int bit_width(uint64_t x) {
  int b = 0;
  while (b < 64 && (x >> b) != 0) ++b;
  return b;
}

// Turns per-part digit counts (hist[p * R + d]) into each part's first output slot per digit:
// digit-major, part-minor, so the scatter is stable.
void prefix_parts(uint32_t* hist, int64_t P, int64_t R) {
  uint32_t total = 0;
  for (int64_t d = 0; d < R; ++d)
    for (int64_t p = 0; p < P; ++p) {
      uint32_t& h = hist[p * R + d];
      const uint32_t c = h;
      h = total;
      total += c;
    }
}

template <typename Idx>
void group_typed(const BagLayout& bags, int64_t num_rows, Pool pool, const Parallel& par, RowGroups& g) {
  const int64_t B = bags.num_bags;
  const int64_t used_end = B > 0 ? bags.bag_end(B - 1) : 0;
  const int64_t n_used = used_end - (B > 0 ? bags.bag_begin(0) : 0);
  const int threads = std::max(1, par.threads);
  const Idx* ids = static_cast<const Idx*>(bags.indices);
  const int64_t pad = bags.padding_idx;

  // Radix passes over the row bits, digits of equal width.
  const int bits = bit_width(static_cast<uint64_t>(std::max<int64_t>(num_rows - 1, 0)));
  const int passes = std::max(1, (bits + kMaxDigitBits - 1) / kMaxDigitBits);
  const int dbits = std::max(1, (bits + passes - 1) / passes);
  const int64_t R = int64_t{1} << dbits;
  const uint64_t mask = static_cast<uint64_t>(R - 1);

  // Pass 0 parts: ranges of bags (contiguous positions), one per thread.
  const int64_t want_parts = n_used < kParallelMinIds ? 1 : int64_t{threads};
  const std::vector<int64_t> pb = balance_bags(bags, want_parts);
  const int64_t P0 = static_cast<int64_t>(pb.size()) - 1;

  // Buffers are resized, not cleared: every entry read later is written below (bag_of outside the
  // bags' positions is never read), and a reused RowGroups keeps its memory.
  if (bags.offsets)
    g.bag_of.resize(static_cast<size_t>(bags.num_indices));
  else
    g.bag_of.clear();
  if (pool == Pool::kMean)
    g.bag_scale.resize(static_cast<size_t>(B));
  else
    g.bag_scale.clear();
  std::vector<uint32_t>& hist = g.scratch_hist;
  hist.assign(static_cast<size_t>(std::max<int64_t>(P0, threads) * R), 0u);
  int32_t* bag_of = bags.offsets ? g.bag_of.data() : nullptr;
  float* bag_scale = pool == Pool::kMean ? g.bag_scale.data() : nullptr;
  const int shift0 = 32;  // the row sits in the high half of a packed value
  par.for_each(P0, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      uint32_t* h = hist.data() + p * R;
      for (int64_t b = pb[p]; b < pb[p + 1]; ++b) {
        const int64_t s = bags.bag_begin(b), e = bags.bag_end(b);
        if (bag_of)
          for (int64_t j = s; j < e; ++j) bag_of[j] = static_cast<int32_t>(b);
        int64_t kept = 0;
        for (int64_t j = s; j < e; ++j) {
          const int64_t r = static_cast<int64_t>(ids[j]);
          if (r == pad) continue;
          ++h[static_cast<uint64_t>(r) & mask];
          ++kept;
        }
        if (bag_scale) bag_scale[b] = kept > 0 ? 1.f / static_cast<float>(kept) : 0.f;
      }
    }
  });
  int64_t m = 0;
  for (int64_t i = 0; i < P0 * R; ++i) m += hist[i];
  prefix_parts(hist.data(), P0, R);

  std::vector<uint64_t>& buf = g.scratch_packed;
  buf.resize(static_cast<size_t>(2 * m));
  uint64_t* src = buf.data();
  uint64_t* dst = buf.data() + m;
  par.for_each(P0, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      if (pb[p] >= pb[p + 1]) continue;
      uint32_t* next = hist.data() + p * R;
      const int64_t s = bags.bag_begin(pb[p]), e = bags.bag_end(pb[p + 1] - 1);
      for (int64_t j = s; j < e; ++j) {
        const int64_t r = static_cast<int64_t>(ids[j]);
        if (r == pad) continue;
        src[next[static_cast<uint64_t>(r) & mask]++] = (static_cast<uint64_t>(r) << 32) | static_cast<uint64_t>(j);
      }
    }
  });

  // Later passes: parts are equal ranges of the packed values.
  const int64_t P = m < kParallelMinIds ? 1 : int64_t{threads};
  // (Loops take their bounds once: the compiler cannot hoist this division past their stores.)
  auto part_begin = [&](int64_t p) { return m * p / P; };
  for (int pass = 1; pass < passes; ++pass) {
    const int sh = shift0 + pass * dbits;
    std::fill(hist.begin(), hist.begin() + P * R, 0u);
    par.for_each(P, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        uint32_t* h = hist.data() + p * R;
        for (int64_t i = part_begin(p), i1 = part_begin(p + 1); i < i1; ++i) ++h[(src[i] >> sh) & mask];
      }
    });
    prefix_parts(hist.data(), P, R);
    par.for_each(P, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        uint32_t* next = hist.data() + p * R;
        for (int64_t i = part_begin(p), i1 = part_begin(p + 1); i < i1; ++i)
          dst[next[(src[i] >> sh) & mask]++] = src[i];
      }
    });
    std::swap(src, dst);
  }

  // Distinct rows: a row starts wherever the row differs from the previous value's.
  std::vector<int64_t>& starts = g.scratch_index;
  starts.assign(static_cast<size_t>(P + 1), 0);
  par.for_each(P, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      int64_t d = 0;
      for (int64_t i = part_begin(p), i1 = part_begin(p + 1); i < i1; ++i)
        d += i == 0 || (src[i] >> 32) != (src[i - 1] >> 32);
      starts[p + 1] = d;
    }
  });
  for (int64_t p = 0; p < P; ++p) starts[p + 1] += starts[p];
  const int64_t U = starts[P];
  g.rows.resize(static_cast<size_t>(U));
  g.seg.resize(static_cast<size_t>(U + 1));
  g.pos.resize(static_cast<size_t>(m));
  g.seg[U] = m;
  int64_t* rows = g.rows.data();
  int64_t* seg = g.seg.data();
  uint32_t* pos = g.pos.data();
  par.for_each(P, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      int64_t u = starts[p];
      for (int64_t i = part_begin(p), i1 = part_begin(p + 1); i < i1; ++i) {
        const uint64_t v = src[i];
        pos[i] = static_cast<uint32_t>(v);
        if (i == 0 || (v >> 32) != (src[i - 1] >> 32)) {
          rows[u] = static_cast<int64_t>(v >> 32);
          seg[u] = i;
          ++u;
        }
      }
    }
  });
}

}  // namespace

void group_by_row(const BagLayout& bags, int64_t num_rows, Pool pool, const Parallel& par, RowGroups& g) {
  const int64_t n = bags.num_indices;
  if (n > static_cast<int64_t>(UINT32_MAX) || num_rows > static_cast<int64_t>(UINT32_MAX))
    throw std::length_error("embedding_bag backward supports at most 2^32-1 ids per batch and rows per table");
  if (bags.int64_ids)
    group_typed<int64_t>(bags, num_rows, pool, par, g);
  else
    group_typed<int32_t>(bags, num_rows, pool, par, g);
}

RowGroups group_by_row(const BagLayout& bags, int64_t num_rows, Pool pool, const Parallel& par) {
  RowGroups g;
  group_by_row(bags, num_rows, pool, par, g);
  return g;
}

}  // namespace embedforge::core
