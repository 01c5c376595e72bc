// The collection lookup: one parallel region over every (feature, bag) item of a jagged batch.
#include "core/embedding_bag_collection.h"

#include <algorithm>
#include <atomic>
#include <sstream>

namespace embedforge::core {

std::string check_collection(const CollectionArgs& a, int64_t num_offsets, const Parallel& par) {
  std::ostringstream msg;
  const int64_t F = static_cast<int64_t>(a.features.size());
  if (num_offsets != F * a.batch + 1) {
    msg << "offsets must hold features × batch + 1 = " << F * a.batch + 1 << " entries, got " << num_offsets;
    return msg.str();
  }
  if (a.offset(0) != 0) {
    msg << "offsets[0]=" << a.offset(0) << " must be 0";
    return msg.str();
  }
  for (int64_t i = 1; i < num_offsets; ++i) {
    if (a.offset(i) < a.offset(i - 1)) {
      msg << "offsets must be non-decreasing, but offsets[" << i << "]=" << a.offset(i) << " < offsets[" << i - 1
          << "]=" << a.offset(i - 1);
      return msg.str();
    }
  }
  if (a.offset(num_offsets - 1) > a.num_values) {
    msg << "offsets[" << num_offsets - 1 << "]=" << a.offset(num_offsets - 1) << " is past the end of values ("
        << a.num_values << " ids)";
    return msg.str();
  }
  // Ids, feature by feature (in parallel over features); the first bad position wins.
  const int64_t n = a.num_values;
  std::atomic<int64_t> first_bad{n};
  par.for_each(F, [&](int64_t f0, int64_t f1) {
    for (int64_t f = f0; f < f1; ++f) {
      const int64_t rows = a.tables[a.features[f].table].num_rows;
      const int64_t j1 = a.offset((f + 1) * a.batch);
      for (int64_t j = a.offset(f * a.batch); j < j1; ++j) {
        const int64_t r = a.value(j);
        if (r < 0 || r >= rows) {
          int64_t cur = first_bad.load();
          while (j < cur && !first_bad.compare_exchange_weak(cur, j)) {
          }
          break;
        }
      }
    }
  });
  const int64_t j = first_bad.load();
  if (j == n) return "";
  int64_t f = 0;
  while (f + 1 < F && a.offset((f + 1) * a.batch) <= j) ++f;
  const int64_t rows = a.tables[a.features[f].table].num_rows;
  msg << "values[" << j << "]=" << a.value(j) << " (feature " << f << ") ";
  if (a.value(j) < 0)
    msg << "is negative; ids must lie in [0, " << rows << ")";
  else
    msg << "is out of range for its table of " << rows << " rows";
  return msg.str();
}

namespace {

template <typename T>
void pool_item(const CollectionArgs& a, int64_t item, float* acc, T* out) {
  const int64_t f = item / a.batch, b = item % a.batch;
  const CollectionFeature& feat = a.features[f];
  const CollectionTable& tab = a.tables[feat.table];
  const int64_t D = tab.dim;
  const T* W = static_cast<const T*>(tab.weight);
  const int64_t s = a.offset(item), e = a.offset(item + 1);
  for (int64_t k = 0; k < D; ++k) acc[k] = 0.f;
  int64_t count = 0;
  for (int64_t j = s; j < e; ++j) {
    if (j + 4 < e) {
      const int64_t nr = a.value(j + 4);
      const char* p = reinterpret_cast<const char*>(W + nr * D);
      for (int64_t off = 0; off < D * static_cast<int64_t>(sizeof(T)); off += 64) __builtin_prefetch(p + off, 0, 1);
    }
    const int64_t r = a.value(j);
    if (r == feat.padding_idx) continue;
    const float w = a.per_sample_weights ? a.per_sample_weights[j] : 1.f;
    const T* __restrict row = W + r * D;
    for (int64_t k = 0; k < D; ++k) acc[k] += w * to_float(row[k]);
    ++count;
  }
  const float scale = (feat.pool == Pool::kMean && count > 0) ? 1.f / static_cast<float>(count) : 1.f;
  T* o = out + b * a.out_dim + feat.col_offset;
  for (int64_t k = 0; k < D; ++k) o[k] = from_float<T>(acc[k] * scale);
}

template <typename T>
void forward_typed(const CollectionArgs& a, void* out, const Parallel& par) {
  const int64_t items = static_cast<int64_t>(a.features.size()) * a.batch;
  int64_t max_dim = 0;
  for (const auto& t : a.tables) max_dim = std::max(max_dim, t.dim);
  // Contiguous item ranges of about equal work (ids + a fixed cost per bag), across all tables.
  constexpr int64_t kBagCost = 4;
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(items, std::max(1, par.threads) * 8));
  auto work = [&](int64_t i) { return a.offset(i) + kBagCost * i; };
  std::vector<int64_t> bounds(static_cast<size_t>(parts + 1));
  bounds[0] = 0;
  bounds[parts] = items;
  for (int64_t p = 1; p < parts; ++p) {
    const int64_t target = work(items) * p / parts;
    int64_t lo = bounds[p - 1], hi = items;
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if (work(mid) < target)
        lo = mid + 1;
      else
        hi = mid;
    }
    bounds[p] = lo;
  }
  par.for_each(parts, [&](int64_t p0, int64_t p1) {
    std::vector<float> acc(static_cast<size_t>(max_dim));
    for (int64_t i = bounds[p0]; i < bounds[p1]; ++i) pool_item<T>(a, i, acc.data(), static_cast<T*>(out));
  });
}

}  // namespace

void embedding_bag_collection_forward(const CollectionArgs& a, void* out, const Parallel& par) {
  if (a.batch == 0 || a.features.empty()) return;
  switch (a.dtype) {
    case DType::kFloat32: forward_typed<float>(a, out, par); break;
    case DType::kBFloat16: forward_typed<bf16>(a, out, par); break;
    case DType::kFloat16: forward_typed<f16>(a, out, par); break;
  }
}

}  // namespace embedforge::core
