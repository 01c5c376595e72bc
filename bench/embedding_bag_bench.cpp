// embedding_bag_bench: times the core forward and backward kernels (no torch, no Python) on the
// workloads of the foundation issue, at 1 and 2 threads. Prints median milliseconds and the
// effective bandwidth (bytes of table rows gathered + output written, per second).
//
//   build/bench/embedding_bag_bench [--repeats N] [--threads 1,2] [--scale S]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "workloads.h"
#include "core/embedding_bag.h"

using namespace embedforge::core;

using embedforge::bench::kWorkloads;
using embedforge::bench::Workload;
using embedforge::bench::zipf_ids;

template <typename F>
static double median_ms(F&& f, int repeats) {
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

int main(int argc, char** argv) {
  int repeats = 15;
  double scale = 1.0;
  std::vector<int> threads = {1, 2};
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--repeats") && i + 1 < argc)
      repeats = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--scale") && i + 1 < argc)
      scale = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads.clear();
      for (char* p = std::strtok(argv[++i], ","); p; p = std::strtok(nullptr, ",")) threads.push_back(std::atoi(p));
    } else {
      std::fprintf(stderr, "usage: %s [--repeats N] [--threads 1,2] [--scale S]\n", argv[0]);
      return 2;
    }
  }
  std::printf("# embedding_bag_bench, kernels: %s, medians of %d runs\n", embedding_bag_isa(), repeats);
  std::printf("%-5s %3s %-9s %10s %10s\n", "wl", "thr", "pass", "ms", "GB/s");
  std::mt19937_64 rng(42);
  for (const Workload& w : kWorkloads) {
    const int64_t rows = std::max<int64_t>(1000, static_cast<int64_t>(w.rows * scale));
    std::uniform_int_distribution<int64_t> len(w.min_len, w.max_len);
    std::vector<int64_t> offs;
    int64_t n = 0;
    for (int64_t b = 0; b < w.bags; ++b) {
      offs.push_back(n);
      n += len(rng);
    }
    std::vector<int64_t> ids;
    if (w.zipf > 0)
      ids = zipf_ids(rng, n, rows, w.zipf);
    else {
      std::uniform_int_distribution<int64_t> row(0, rows - 1);
      for (int64_t j = 0; j < n; ++j) ids.push_back(row(rng));
    }
    if (w.padding_idx >= 0)
      for (int64_t j = 0; j < n; j += 10) ids[j] = w.padding_idx;
    std::vector<float> weight(static_cast<size_t>(rows * w.dim)), psw(static_cast<size_t>(n), 0.5f);
    std::normal_distribution<float> nd;
    for (auto& x : weight) x = nd(rng);
    BagLayout bl;
    bl.indices = ids.data();
    bl.num_indices = n;
    bl.offsets = offs.data();
    bl.num_bags = w.bags;
    bl.end = n;
    bl.padding_idx = w.padding_idx;
    ForwardArgs fa;
    fa.weight = weight.data();
    fa.num_rows = rows;
    fa.dim = w.dim;
    fa.bags = bl;
    fa.per_sample_weights = w.psw ? psw.data() : nullptr;
    fa.pool = w.pool;
    std::vector<float> out(static_cast<size_t>(w.bags * w.dim)), go(out.size(), 1.0f);
    BackwardArgs ba;
    ba.grad_out = go.data();
    ba.num_rows = rows;
    ba.dim = w.dim;
    ba.bags = bl;
    ba.per_sample_weights = fa.per_sample_weights;
    ba.pool = w.pool;
    const double fwd_bytes = double(n) * w.dim * 4 + double(out.size()) * 4;
    for (int t : threads) {
      const Parallel par = t == 1 ? serial_parallel() : std_thread_parallel(t);
      const double f = median_ms([&] { (void)embedding_bag_forward(fa, out.data(), nullptr, par); }, repeats);
      std::printf("%-5s %3d %-9s %10.3f %10.2f\n", w.name, t, "forward", f, fwd_bytes / f / 1e6);
      std::vector<float> rows_out;
      const double b = median_ms(
          [&] {
            const RowGroups g = group_by_row(bl, rows, w.pool);
            rows_out.resize(static_cast<size_t>(g.num_rows_touched() * w.dim));
            embedding_bag_backward_rows(ba, g, rows_out.data(), par);
          },
          repeats);
      std::printf("%-5s %3d %-9s %10.3f %10.2f\n", w.name, t, "bwd-rows", b,
                  (double(n) * w.dim * 4 + rows_out.size() * 4.0) / b / 1e6);
    }
  }
  return 0;
}
