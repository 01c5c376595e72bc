// fused_optim_bench: where a fused training step's time goes in the core (no torch, no Python):
// forward, group_by_row, and the fused reduce + update of each optimizer, at 1 and 2 threads, on
// the training workloads (W1, W1z, W2, W3, W4). Prints median milliseconds per phase.
//
//   build/bench/fused_optim_bench [--repeats N] [--threads 1,2] [--workloads W1,W4] [--scale S] [--min] [--huge]
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
#include "core/fused_optim.h"
#include "core/huge_pages.h"

using namespace embedforge::core;

using embedforge::bench::kWorkloads;
using embedforge::bench::Workload;
using embedforge::bench::zipf_ids;

// Median (or, with --min, the minimum: steadier on a shared machine) over `repeats` runs; each
// run first calls setup() (untimed), then f().
static bool g_use_min = false;
template <typename S, typename F>
static double median_ms(S&& setup, F&& f, int repeats) {
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    setup(i);
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return g_use_min ? t[0] : t[t.size() / 2];
}

// --huge: back the table and the optimizer state with 2 MiB pages (core::advise_huge_pages, what
// the Python modules do with their tables), to see what TLB misses cost.
static bool g_huge = false;
static void huge_pages(void* p, size_t bytes) {
  if (g_huge) (void)embedforge::core::advise_huge_pages(p, bytes);
}

struct Batch {
  std::vector<int64_t> ids, offs;
};

int main(int argc, char** argv) {
  int repeats = 15;
  double scale = 1.0;
  std::vector<int> threads = {1, 2};
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--repeats") && i + 1 < argc)
      repeats = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--scale") && i + 1 < argc)
      scale = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--min"))
      g_use_min = true;
    else if (!std::strcmp(argv[i], "--huge"))
      g_huge = true;
    else if (!std::strcmp(argv[i], "--workloads") && i + 1 < argc)
      only = std::string(",") + argv[++i] + ",";
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads.clear();
      for (char* p = std::strtok(argv[++i], ","); p; p = std::strtok(nullptr, ",")) threads.push_back(std::atoi(p));
    } else {
      std::fprintf(stderr, "usage: %s [--repeats N] [--threads 1,2] [--workloads W1,W4] [--scale S] [--min] [--huge]\n",
                   argv[0]);
      return 2;
    }
  }
  std::printf("# fused_optim_bench, kernels: %s, %s of %d runs over rotating batches (ms)\n", embedding_bag_isa(),
              g_use_min ? "minimum" : "median", repeats);
  std::printf("%-5s %3s %8s %8s %8s %8s %8s %8s %8s\n", "wl", "thr", "forward", "group", "sgd", "adagrad", "rowwise",
              "adam", "lazyadam");
  std::mt19937_64 rng(42);
  for (const Workload& w : kWorkloads) {
    if (!only.empty() && only.find(std::string(",") + w.name + ",") == std::string::npos) continue;
    const int64_t rows = std::max<int64_t>(1000, static_cast<int64_t>(w.rows * scale));
    const int64_t D = w.dim;
    constexpr int kBatches = 4;
    std::vector<Batch> batches(kBatches);
    for (Batch& bt : batches) {
      std::uniform_int_distribution<int64_t> len(w.min_len, w.max_len);
      int64_t n = 0;
      for (int64_t b = 0; b < w.bags; ++b) {
        bt.offs.push_back(n);
        n += len(rng);
      }
      if (w.zipf > 0)
        bt.ids = zipf_ids(rng, n, rows, w.zipf);
      else {
        std::uniform_int_distribution<int64_t> row(0, rows - 1);
        for (int64_t j = 0; j < n; ++j) bt.ids.push_back(row(rng));
      }
      if (w.padding_idx >= 0)
        for (int64_t j = 0; j < n; j += 10) bt.ids[j] = w.padding_idx;
    }
    std::vector<float> weight(static_cast<size_t>(rows * D)), psw(batches[0].ids.size() * 2, 0.5f);
    std::normal_distribution<float> nd;
    for (auto& x : weight) x = 0.05f * nd(rng);
    std::vector<float> s_full(weight.size(), 0.f), s_row(static_cast<size_t>(rows), 0.f), m(weight.size(), 0.f),
        v(weight.size(), 0.f);
    std::vector<int64_t> row_step(static_cast<size_t>(rows), 0);
    huge_pages(weight.data(), weight.size() * 4);
    huge_pages(s_full.data(), s_full.size() * 4);
    huge_pages(s_row.data(), s_row.size() * 4);
    huge_pages(m.data(), m.size() * 4);
    huge_pages(v.data(), v.size() * 4);
    huge_pages(row_step.data(), row_step.size() * 8);
    std::vector<float> out(static_cast<size_t>(w.bags * D)), go(out.size());
    for (auto& x : go) x = nd(rng);
    auto layout = [&](const Batch& bt) {
      BagLayout bl;
      bl.indices = bt.ids.data();
      bl.num_indices = static_cast<int64_t>(bt.ids.size());
      bl.offsets = bt.offs.data();
      bl.num_bags = w.bags;
      bl.end = bl.num_indices;
      bl.padding_idx = w.padding_idx;
      return bl;
    };
    for (int t : threads) {
      const Parallel par = t == 1 ? serial_parallel() : std_thread_parallel(t);
      BagLayout bl;
      auto pick = [&](int i) { bl = layout(batches[i % kBatches]); };
      const double f = median_ms(
          pick,
          [&] {
            ForwardArgs fa;
            fa.weight = weight.data();
            fa.num_rows = rows;
            fa.dim = D;
            fa.bags = bl;
            fa.per_sample_weights = w.psw ? psw.data() : nullptr;
            fa.pool = w.pool;
            (void)embedding_bag_forward(fa, out.data(), nullptr, par);  // ids generated in range
          },
          repeats);
      // One RowGroups reused across batches, as the ops keep one per thread (no allocation timed).
      RowGroups reused;
      const double gms = median_ms(pick, [&] { group_by_row(bl, rows, w.pool, par, reused); }, repeats);
      double step_ms[5];
      int64_t global_step = 0;
      for (int k = 0; k < 5; ++k) {
        OptimArgs o;
        o.lr = 0.01f;
        o.eps = 1e-8f;
        o.beta1 = 0.9f;
        o.beta2 = 0.999f;
        o.kind = k == 0   ? OptimKind::kSgd
                 : k == 1 ? OptimKind::kAdagrad
                 : k == 2 ? OptimKind::kRowWiseAdagrad
                          : OptimKind::kAdam;
        o.state0 = k == 1 ? s_full.data() : k == 2 ? s_row.data() : k >= 3 ? m.data() : nullptr;
        o.state1 = k >= 3 ? v.data() : nullptr;
        o.per_row_step = k == 4;
        o.row_step = row_step.data();
        RowGroups g;
        BackwardArgs ba;
        step_ms[k] = median_ms(
            [&](int i) {
              pick(i);
              g = group_by_row(bl, rows, w.pool, par);
              ba.grad_out = go.data();
              ba.num_rows = rows;
              ba.dim = D;
              ba.bags = bl;
              ba.per_sample_weights = w.psw ? psw.data() : nullptr;
              ba.pool = w.pool;
              o.global_step = ++global_step;
            },
            [&] { fused_optim_step(ba, g, weight.data(), o, par); }, repeats);
      }
      std::printf("%-5s %3d %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f\n", w.name, t, f, gms, step_ms[0], step_ms[1],
                  step_ms[2], step_ms[3], step_ms[4]);
      std::fflush(stdout);
    }
  }
  return 0;
}
