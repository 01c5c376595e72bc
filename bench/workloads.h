// The benchmark workloads of the foundation issue (W1, W1z, W2, W3, W4) and their id generators,
// shared by the C++ benchmark binaries (the Python side has them in embedforge/benchmark.py).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/embedding_bag.h"

namespace embedforge::bench {

struct Workload {
  const char* name;
  int64_t rows, dim, bags, min_len, max_len;
  core::Pool pool;
  double zipf;  // 0: uniform ids, else Zipf(s) over a random permutation of the rows
  int64_t padding_idx;
  bool psw;
};

inline constexpr Workload kWorkloads[] = {
    {"W1", 1000000, 64, 2048, 40, 40, core::Pool::kSum, 0.0, -1, false},
    {"W1z", 1000000, 64, 2048, 40, 40, core::Pool::kSum, 1.05, -1, false},
    {"W2", 50000, 128, 256, 10, 200, core::Pool::kMean, 0.0, 0, false},
    {"W3", 200000, 256, 512, 20, 20, core::Pool::kSum, 0.0, -1, true},
    {"W4", 5000000, 16, 4096, 10, 10, core::Pool::kSum, 0.0, -1, false},
};

// n ids in [0, rows) drawn from Zipf(s): rank r has weight (r + 1)^-s, ranks shuffled over rows.
inline std::vector<int64_t> zipf_ids(std::mt19937_64& rng, int64_t n, int64_t rows, double s) {
  std::vector<double> cdf(static_cast<size_t>(rows));
  double acc = 0;
  for (int64_t r = 0; r < rows; ++r) cdf[r] = (acc += std::pow(double(r + 1), -s));
  std::vector<int64_t> perm(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) perm[r] = r;
  std::shuffle(perm.begin(), perm.end(), rng);
  std::uniform_real_distribution<double> u(0, acc);
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (auto& id : ids) id = perm[std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin()];
  return ids;
}

}  // namespace embedforge::bench
