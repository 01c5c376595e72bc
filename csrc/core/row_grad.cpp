// Grouping a batch's index positions by table row: the one-hot-free heart of every backward.
#include <algorithm>
#include <stdexcept>

#include "core/embedding_bag.h"

namespace embedforge::core {

namespace {

// Stable LSD radix sort of (key, value) pairs by key, `bits` significant key bits, 11-bit digits
// (a 2048-entry histogram stays in L1). Stability keeps positions ascending within a key.
void radix_sort_pairs(std::vector<uint32_t>& keys, std::vector<uint32_t>& vals, int bits) {
  constexpr int kDigit = 11;
  constexpr uint32_t kBuckets = 1u << kDigit;
  const size_t n = keys.size();
  std::vector<uint32_t> k2(n), v2(n);
  std::vector<size_t> hist(kBuckets);
  for (int shift = 0; shift < bits; shift += kDigit) {
    std::fill(hist.begin(), hist.end(), 0);
    for (size_t i = 0; i < n; ++i) ++hist[(keys[i] >> shift) & (kBuckets - 1)];
    size_t sum = 0;
    for (auto& h : hist) { const size_t c = h; h = sum; sum += c; }
    for (size_t i = 0; i < n; ++i) {
      const size_t dst = hist[(keys[i] >> shift) & (kBuckets - 1)]++;
      k2[dst] = keys[i];
      v2[dst] = vals[i];
    }
    keys.swap(k2);
    vals.swap(v2);
  }
}

}  // namespace

RowGroups group_by_row(const BagLayout& bags, int64_t num_rows, Pool pool) {
  const int64_t n = bags.num_indices;
  if (n > static_cast<int64_t>(UINT32_MAX) || num_rows > static_cast<int64_t>(UINT32_MAX))
    throw std::length_error("embedding_bag backward supports at most 2^32-1 ids per batch and rows per table");
  RowGroups g;
  if (bags.offsets) {
    g.bag_of.assign(static_cast<size_t>(n), 0);
    for (int64_t b = 0; b < bags.num_bags; ++b) {
      const int64_t s = bags.bag_begin(b), e = bags.bag_end(b);
      for (int64_t j = s; j < e; ++j) g.bag_of[j] = static_cast<int32_t>(b);
    }
  }
  // Only positions inside some bag contribute (with include_last_offset, ids past the last
  // offset belong to none).
  const int64_t used_end = bags.num_bags > 0 ? bags.bag_end(bags.num_bags - 1) : 0;
  const int64_t used_begin = bags.num_bags > 0 ? bags.bag_begin(0) : 0;
  std::vector<uint32_t> keys, vals;
  keys.reserve(static_cast<size_t>(used_end - used_begin));
  vals.reserve(static_cast<size_t>(used_end - used_begin));
  for (int64_t j = used_begin; j < used_end; ++j) {
    const int64_t r = bags.id(j);
    if (r == bags.padding_idx) continue;
    keys.push_back(static_cast<uint32_t>(r));
    vals.push_back(static_cast<uint32_t>(j));
  }
  int bits = 0;
  while (bits < 32 && (static_cast<uint64_t>(num_rows - 1) >> bits) != 0) ++bits;
  radix_sort_pairs(keys, vals, bits);

  g.seg.push_back(0);
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i > 0 && keys[i] != keys[i - 1]) g.seg.push_back(static_cast<int64_t>(i));
    if (i == 0 || keys[i] != keys[i - 1]) g.rows.push_back(keys[i]);
  }
  g.seg.push_back(static_cast<int64_t>(keys.size()));
  if (keys.empty()) g.seg.assign(1, 0);
  g.pos = std::move(vals);

  if (pool == Pool::kMean) {
    g.bag_scale.assign(static_cast<size_t>(bags.num_bags), 0.f);
    for (int64_t b = 0; b < bags.num_bags; ++b) {
      int64_t count = 0;
      for (int64_t j = bags.bag_begin(b); j < bags.bag_end(b); ++j) count += bags.id(j) != bags.padding_idx;
      g.bag_scale[b] = count > 0 ? 1.f / static_cast<float>(count) : 0.f;
    }
  }
  return g;
}

}  // namespace embedforge::core
