// Native tests of the torch-free core, run under ASan/UBSan by `make sanitize` and plainly by
// `make test` (tests/cpp/test_core_native.py): kernels against a naive double-precision reference on
// random inputs, the input checks, thread-count determinism, and the threaded word2vec engine
// (trainer, job queue, workers, progress counter, a worker's exception on the caller's thread).
// Prints "N passed, M failed".
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/embedding_bag.h"
#include "core/fused_optim.h"
#include "core/isa_table.h"
#include "core/word2vec/corpus_reader.h"
#include "core/word2vec/job.h"
#include "core/word2vec/pair_stream.h"
#include "core/word2vec/trainer.h"
#include "core/word2vec/vocab.h"

using namespace embedforge::core;

static int passed = 0, failed = 0;
#define EXPECT(cond, ...)                              \
  do {                                                 \
    if (cond) {                                        \
      ++passed;                                        \
    } else {                                           \
      ++failed;                                        \
      std::printf("FAIL %s:%d: ", __FILE__, __LINE__); \
      std::printf(__VA_ARGS__);                        \
      std::printf("\n");                               \
    }                                                  \
  } while (0)

struct Case {
  int64_t V, D, B;
  std::vector<int64_t> ids, offs;
  std::vector<float> weight, psw;
  int64_t pad;
};

static Case make_case(std::mt19937& rng, int64_t V, int64_t D, int64_t B, int64_t max_len, int64_t pad) {
  Case c{V, D, B, {}, {}, {}, {}, pad};
  std::uniform_int_distribution<int64_t> len(0, max_len), row(0, V - 1);
  std::normal_distribution<float> nd;
  std::uniform_real_distribution<float> ud(0.f, 1.f);
  for (int64_t b = 0; b < B; ++b) {
    c.offs.push_back(static_cast<int64_t>(c.ids.size()));
    const int64_t L = len(rng);
    for (int64_t j = 0; j < L; ++j) c.ids.push_back(ud(rng) < 0.15f && pad >= 0 ? pad : row(rng));
  }
  for (int64_t i = 0; i < V * D; ++i) c.weight.push_back(nd(rng));
  for (size_t j = 0; j < c.ids.size(); ++j) c.psw.push_back(ud(rng));
  return c;
}

static BagLayout layout(const Case& c) {
  BagLayout b;
  b.indices = c.ids.data();
  b.int64_ids = true;
  b.num_indices = static_cast<int64_t>(c.ids.size());
  b.offsets = c.offs.data();
  b.num_bags = c.B;
  b.end = b.num_indices;
  b.padding_idx = c.pad;
  return b;
}

static std::vector<double> ref_forward(const Case& c, Pool pool, bool use_psw) {
  std::vector<double> out(static_cast<size_t>(c.B * c.D), 0.0);
  for (int64_t b = 0; b < c.B; ++b) {
    const int64_t s = c.offs[b], e = b + 1 < c.B ? c.offs[b + 1] : static_cast<int64_t>(c.ids.size());
    int64_t count = 0;
    for (int64_t j = s; j < e; ++j) {
      const int64_t r = c.ids[j];
      if (r == c.pad) continue;
      for (int64_t k = 0; k < c.D; ++k) {
        const double v = c.weight[r * c.D + k];
        double& o = out[b * c.D + k];
        if (pool == Pool::kMax)
          o = count == 0 ? v : std::max(o, v);
        else
          o += (use_psw ? c.psw[j] : 1.0) * v;
      }
      ++count;
    }
    if (pool == Pool::kMean && count)
      for (int64_t k = 0; k < c.D; ++k) out[b * c.D + k] /= count;
  }
  return out;
}

static std::vector<double> ref_backward(const Case& c, const std::vector<float>& go, Pool pool, bool use_psw) {
  std::vector<double> gw(static_cast<size_t>(c.V * c.D), 0.0);
  for (int64_t b = 0; b < c.B; ++b) {
    const int64_t s = c.offs[b], e = b + 1 < c.B ? c.offs[b + 1] : static_cast<int64_t>(c.ids.size());
    int64_t count = 0;
    for (int64_t j = s; j < e; ++j) count += c.ids[j] != c.pad;
    for (int64_t j = s; j < e; ++j) {
      const int64_t r = c.ids[j];
      if (r == c.pad) continue;
      double scale = use_psw ? c.psw[j] : 1.0;
      if (pool == Pool::kMean) scale /= count;
      for (int64_t k = 0; k < c.D; ++k) gw[r * c.D + k] += scale * go[b * c.D + k];
    }
  }
  return gw;
}

template <typename A, typename B>
static double max_abs_diff(const A& a, const B& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a[i]) - double(b[i])));
  return m;
}

static void test_forward_backward(std::mt19937& rng, const Parallel& par) {
  for (int64_t D : {1, 5, 16, 64, 77, 256}) {
    for (Pool pool : {Pool::kSum, Pool::kMean, Pool::kMax}) {
      for (bool use_psw : {false, true}) {
        if (pool == Pool::kMax && use_psw) continue;
        Case c = make_case(rng, 97, D, 23, 12, D % 2 ? 3 : -1);
        ForwardArgs a;
        a.weight = c.weight.data();
        a.num_rows = c.V;
        a.dim = c.D;
        a.bags = layout(c);
        a.per_sample_weights = use_psw ? c.psw.data() : nullptr;
        a.pool = pool;
        std::vector<float> out(static_cast<size_t>(c.B * c.D));
        std::vector<int64_t> am(out.size());
        const std::string err = embedding_bag_forward(a, out.data(), am.data(), par);
        EXPECT(err.empty(), "forward refused good ids: %s", err.c_str());
        EXPECT(max_abs_diff(out, ref_forward(c, pool, use_psw)) < 1e-4, "forward D=%lld pool=%d psw=%d", (long long)D,
               int(pool), int(use_psw));
        if (pool == Pool::kMax) continue;
        std::normal_distribution<float> nd;
        std::vector<float> go(out.size());
        for (auto& g : go) g = nd(rng);
        BackwardArgs ba;
        ba.grad_out = go.data();
        ba.num_rows = c.V;
        ba.dim = c.D;
        ba.bags = a.bags;
        ba.per_sample_weights = a.per_sample_weights;
        ba.pool = pool;
        const RowGroups groups = group_by_row(ba.bags, c.V, pool);
        std::vector<float> gw(static_cast<size_t>(c.V * c.D), 123.f);  // garbage: must be overwritten
        embedding_bag_backward_dense(ba, groups, gw.data(), false, par);
        EXPECT(max_abs_diff(gw, ref_backward(c, go, pool, use_psw)) < 1e-4, "backward D=%lld pool=%d psw=%d",
               (long long)D, int(pool), int(use_psw));
        std::vector<float> rows(static_cast<size_t>(groups.num_rows_touched() * c.D));
        embedding_bag_backward_rows(ba, groups, rows.data(), par);
        bool same = true;
        for (int64_t u = 0; u < groups.num_rows_touched(); ++u)
          same &= std::memcmp(&rows[u * c.D], &gw[groups.rows[u] * c.D], sizeof(float) * c.D) == 0;
        EXPECT(same, "row-sparse gradient equals the dense rows bit for bit");
      }
    }
  }
}

static void test_checks() {
  std::vector<int64_t> ids = {1, 2, 10, 3};
  std::vector<int64_t> offs = {0, 2};
  BagLayout b;
  b.indices = ids.data();
  b.num_indices = 4;
  b.offsets = offs.data();
  b.num_bags = 2;
  b.end = 4;
  const std::string e1 = check_indices(b, 10, serial_parallel());
  EXPECT(e1 == "indices[2]=10 is out of range for a table of 10 rows", "%s", e1.c_str());
  ids[2] = -4;
  const std::string e2 = check_indices(b, 10, std_thread_parallel(2));
  EXPECT(e2.find("indices[2]=-4 is negative") == 0, "%s", e2.c_str());
  {
    // The forward checks ids itself (part by part, before pooling a part): same messages.
    std::vector<float> w(10 * 16, 1.f), out(2 * 16);
    ForwardArgs fa;
    fa.weight = w.data();
    fa.num_rows = 10;
    fa.dim = 16;
    fa.bags = b;
    for (const Parallel& par : {serial_parallel(), std_thread_parallel(2)}) {
      const std::string f1 = embedding_bag_forward(fa, out.data(), nullptr, par);
      EXPECT(f1.find("indices[2]=-4 is negative") == 0, "%s", f1.c_str());
      ids[2] = 7;
      EXPECT(embedding_bag_forward(fa, out.data(), nullptr, par).empty(), "good ids pass the forward");
      ids[3] = 10;  // in the last bag
      const std::string f2 = embedding_bag_forward(fa, out.data(), nullptr, par);
      EXPECT(f2 == "indices[3]=10 is out of range for a table of 10 rows", "%s", f2.c_str());
      ids[2] = -4;
      ids[3] = 3;
    }
  }
  offs = {0, 5};
  const std::string e3 = check_offsets(b, 2, false);
  EXPECT(e3.find("offsets[1]=5 is past the end") == 0, "%s", e3.c_str());
  offs = {1, 2};
  EXPECT(check_offsets(b, 2, false) == "offsets[0]=1 must be 0", "offsets[0]");
  offs = {0, 2};
  EXPECT(check_offsets(b, 2, false).empty(), "good offsets pass");
}

static void test_determinism(std::mt19937& rng) {
  Case c = make_case(rng, 50, 33, 200, 40, -1);
  for (size_t j = 0; j < c.ids.size(); j += 3) c.ids[j] = 7;  // a hot row
  std::vector<float> go(static_cast<size_t>(c.B * c.D));
  std::normal_distribution<float> nd;
  for (auto& g : go) g = nd(rng);
  BackwardArgs ba;
  ba.grad_out = go.data();
  ba.num_rows = c.V;
  ba.dim = c.D;
  ba.bags = layout(c);
  ba.pool = Pool::kMean;
  const RowGroups groups = group_by_row(ba.bags, c.V, Pool::kMean);
  std::vector<float> g1(static_cast<size_t>(c.V * c.D)), g2(g1.size()), g3(g1.size());
  embedding_bag_backward_dense(ba, groups, g1.data(), false, serial_parallel());
  embedding_bag_backward_dense(ba, groups, g2.data(), false, std_thread_parallel(2));
  embedding_bag_backward_dense(ba, groups, g3.data(), false, std_thread_parallel(5));
  EXPECT(std::memcmp(g1.data(), g2.data(), g1.size() * 4) == 0 && std::memcmp(g1.data(), g3.data(), g1.size() * 4) == 0,
         "backward bit-identical for 1, 2 and 5 threads");
}

static void test_balance() {
  std::vector<int64_t> offs = {0, 1000, 1001, 1002, 1003, 1004, 1005, 1006};
  BagLayout b;
  b.offsets = offs.data();
  b.num_bags = 8;
  b.end = 1010;
  b.num_indices = 1010;
  const std::vector<int64_t> bounds = balance_bags(b, 2);
  EXPECT(bounds.size() == 3 && bounds[0] == 0 && bounds[1] == 1 && bounds[2] == 8,
         "one long bag gets a part of its own");
}

// ---- fused optimizer steps (core/fused_optim.h) ------------------------------------------------
// Each kind against a double-precision reference of its update on the touched rows, the same bits
// for 1 and 2 threads, and stochastic rounding of bf16 rows staying within one ulp.

static void test_fused_optim(std::mt19937& rng) {
  for (int kind = 0; kind < 5; ++kind) {
    Case c = make_case(rng, 60, 19, 25, 9, 3);
    const BagLayout bl = layout(c);
    const RowGroups g = group_by_row(bl, c.V, Pool::kSum);
    std::vector<float> go(static_cast<size_t>(c.B * c.D));
    std::normal_distribution<float> nd;
    for (auto& x : go) x = nd(rng);
    const std::vector<double> grad = ref_backward(c, go, Pool::kSum, true);
    BackwardArgs a;
    a.grad_out = go.data();
    a.num_rows = c.V;
    a.dim = c.D;
    a.bags = bl;
    a.per_sample_weights = c.psw.data();
    a.pool = Pool::kSum;
    std::vector<float> s0(static_cast<size_t>(c.V * c.D), kind >= 3 ? 0.f : 0.1f),
        s1(static_cast<size_t>(c.V * c.D), 0.f);
    std::vector<int64_t> steps(static_cast<size_t>(c.V), 0);
    OptimArgs o;
    o.kind = kind == 4 ? OptimKind::kAdam : static_cast<OptimKind>(kind);
    o.lr = 0.1f;
    o.eps = 1e-6f;
    o.beta1 = 0.9f;
    o.beta2 = 0.99f;
    o.weight_decay = 0.01f;
    o.state0 = s0.data();
    o.state1 = s1.data();
    o.per_row_step = kind == 4;
    o.row_step = steps.data();
    o.global_step = 1;
    EXPECT(check_optim_args(o).empty(), "valid args refused: %s", check_optim_args(o).c_str());
    std::vector<float> w1 = c.weight, w2 = c.weight;
    std::vector<float> s0b = s0, s1b = s1;
    std::vector<int64_t> steps_b = steps;
    fused_optim_step(a, g, w1.data(), o, serial_parallel());
    OptimArgs o2 = o;
    o2.state0 = s0b.data();
    o2.state1 = s1b.data();
    o2.row_step = steps_b.data();
    fused_optim_step(a, g, w2.data(), o2, std_thread_parallel(2));
    EXPECT(w1 == w2 && s0 == s0b && s1 == s1b && steps == steps_b, "fused kind %d differs for 1 and 2 threads", kind);
    double worst = 0;
    for (int64_t r = 0; r < c.V; ++r) {
      bool touched = false;
      for (size_t j = 0; j < c.ids.size(); ++j) touched |= c.ids[j] == r && r != c.pad;
      double rowsq = 0;
      for (int64_t k = 0; k < c.D; ++k) {
        const double gk = grad[r * c.D + k] + 0.01 * c.weight[r * c.D + k];
        rowsq += gk * gk;
      }
      for (int64_t k = 0; k < c.D; ++k) {
        const double w0 = c.weight[r * c.D + k];
        const double gk = grad[r * c.D + k] + 0.01 * w0;
        double expect = w0;
        if (touched) {
          if (o.kind == OptimKind::kSgd) expect = w0 - 0.1 * gk;
          if (o.kind == OptimKind::kAdagrad) expect = w0 - 0.1 * gk / (std::sqrt(0.1 + gk * gk) + 1e-6);
          if (o.kind == OptimKind::kRowWiseAdagrad) expect = w0 - 0.1 * gk / (std::sqrt(0.1 + rowsq / c.D) + 1e-6);
          if (o.kind == OptimKind::kAdam) {
            const double m = 0.1 * gk / (1 - 0.9), v = 0.01 * gk * gk / (1 - 0.99);
            expect = w0 - 0.1 * m / (std::sqrt(v) + 1e-6);
          }
        }
        worst = std::max(worst, std::fabs(expect - w1[r * c.D + k]));
      }
    }
    EXPECT(worst < 2e-4, "fused kind %d off the reference by %g", kind, worst);
  }
  // Stochastic rounding: both neighbours, never further than one bf16 ulp.
  std::uniform_real_distribution<float> ud(-4.f, 4.f);
  int far = 0;
  for (int i = 0; i < 20000; ++i) {
    const float x = ud(rng);
    const float y = to_float(bf16_round_stochastic(x, rounding_bits(7, i, 0)));
    const float ulp = std::ldexp(1.f, std::ilogb(x) - 7);
    far += std::fabs(y - x) >= ulp;
  }
  EXPECT(far == 0, "%d bf16 stochastic roundings moved by an ulp or more", far);
  far = 0;
  for (int i = 0; i < 20000; ++i) {
    const float x = ud(rng);
    const float y = to_float(f16_round_stochastic(x, rounding_bits(7, i, 1)));
    const float ulp = std::ldexp(1.f, std::ilogb(x) - 10);
    far += std::fabs(y - x) >= ulp;
  }
  EXPECT(far == 0, "%d float16 stochastic roundings moved by an ulp or more", far);
  OptimArgs bad;
  bad.lr = std::nanf("");
  EXPECT(!check_optim_args(bad).empty(), "NaN lr accepted");
}

// group_by_row against a naive stable sort of (row, position), for batches large enough to take
// the parallel passes, at several thread counts, with one RowGroups reused across batches.
template <typename Idx>
static void check_grouping(const std::vector<Idx>& ids, const std::vector<Idx>& offs, int64_t bag_size, int64_t V,
                           int64_t end, int64_t pad, Pool pool, RowGroups& reused, const char* what) {
  BagLayout b;
  b.indices = ids.data();
  b.int64_ids = sizeof(Idx) == 8;
  b.num_indices = static_cast<int64_t>(ids.size());
  b.offsets = offs.empty() ? nullptr : offs.data();
  b.num_bags = !offs.empty() ? static_cast<int64_t>(offs.size()) : bag_size > 0 ? b.num_indices / bag_size : 0;
  b.bag_size = bag_size;
  b.end = end;
  b.padding_idx = pad;
  const int64_t used_end = b.num_bags > 0 ? b.bag_end(b.num_bags - 1) : 0;
  std::vector<std::pair<int64_t, uint32_t>> ref;
  for (int64_t j = 0; j < used_end; ++j)
    if (static_cast<int64_t>(ids[j]) != pad) ref.emplace_back(static_cast<int64_t>(ids[j]), static_cast<uint32_t>(j));
  std::stable_sort(ref.begin(), ref.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<int64_t> rows, seg;
  for (size_t i = 0; i < ref.size(); ++i)
    if (i == 0 || ref[i].first != ref[i - 1].first) {
      rows.push_back(ref[i].first);
      seg.push_back(int64_t(i));
    }
  seg.push_back(static_cast<int64_t>(ref.size()));
  for (int t : {1, 2, 3, 5}) {
    const Parallel par = t == 1 ? serial_parallel() : std_thread_parallel(t);
    group_by_row(b, V, pool, par, reused);
    bool ok = reused.rows == rows && reused.seg == seg && reused.pos.size() == ref.size();
    for (size_t i = 0; ok && i < ref.size(); ++i) ok = reused.pos[i] == ref[i].second;
    for (int64_t bb = 0; ok && bb < b.num_bags; ++bb) {
      int64_t kept = 0;
      for (int64_t j = b.bag_begin(bb); j < b.bag_end(bb); ++j) {
        if (b.offsets) ok &= reused.bag(b, j) == bb;
        kept += static_cast<int64_t>(ids[j]) != pad;
      }
      if (pool == Pool::kMean) ok &= reused.bag_scale[bb] == (kept ? 1.f / float(kept) : 0.f);
    }
    EXPECT(ok, "group_by_row %s, %d threads", what, t);
  }
}

static void test_grouping(std::mt19937& rng) {
  RowGroups reused;
  std::uniform_int_distribution<int64_t> len(0, 60);
  for (int64_t V : {int64_t{1}, int64_t{3000}, int64_t{1000000}, int64_t{5000000}, int64_t{4000000000}}) {
    std::uniform_int_distribution<int64_t> row(0, V - 1);
    std::vector<int64_t> ids, offs;
    for (int64_t bag = 0; bag < 1500; ++bag) {
      offs.push_back(static_cast<int64_t>(ids.size()));
      const int64_t L = bag % 97 == 0 ? 0 : len(rng);                                // some empty bags
      for (int64_t j = 0; j < L; ++j) ids.push_back(j % 5 == 0 ? V / 2 : row(rng));  // a hot row
    }
    const int64_t n = static_cast<int64_t>(ids.size());
    check_grouping(ids, offs, 0, V, n, -1, Pool::kSum, reused, "int64 offsets");
    check_grouping(ids, offs, 0, V, n, V / 2, Pool::kMean, reused, "padding = the hot row, mean");
    std::vector<int64_t> head(offs.begin(), offs.end() - 1);  // include_last_offset: the tail is no bag's
    check_grouping(ids, head, 0, V, offs.back(), -1, Pool::kSum, reused, "ids past the last bag");
    if (V < (int64_t{1} << 31)) {
      std::vector<int32_t> ids32(ids.begin(), ids.end()), offs32(offs.begin(), offs.end());
      check_grouping(ids32, offs32, 0, V, n, -1, Pool::kMean, reused, "int32");
    }
    std::vector<int64_t> fixed(ids.begin(), ids.begin() + (n / 20) * 20);
    check_grouping(fixed, std::vector<int64_t>{}, 20, V, 0, -1, Pool::kSum, reused, "fixed-length bags");
  }
  std::vector<int64_t> small = {4, 1, 4, 0}, small_offs = {0, 1, 3};
  check_grouping(small, small_offs, 0, 5, 4, -1, Pool::kSum, reused, "a small batch after large ones");
  std::vector<int64_t> none, none_offs;
  check_grouping(none, none_offs, 0, 5, 0, -1, Pool::kMean, reused, "no bags");
}

// ---- the threaded word2vec engine (core/word2vec/trainer.h) ------------------------------------
// A toy corpus with planted co-occurrences: kGroups groups of kGroupWords words, every sentence
// drawn from one group. Trained vectors must put each word nearest to words of its own group.

namespace w2v = embedforge::core::w2v;

// A scratch file name outside the source tree, unique to this process.
static std::string temp_path(const char* name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/" + name + "." + std::to_string(getpid());
}

static constexpr int kGroups = 4, kGroupWords = 8, kW2vVocab = kGroups * kGroupWords;

struct ToyCorpus {
  std::vector<int32_t> ids;
  std::vector<int64_t> ends;
  std::vector<int64_t> counts = std::vector<int64_t>(kW2vVocab, 0);
};

static ToyCorpus toy_corpus(int64_t sentences, int len, uint32_t seed) {
  ToyCorpus c;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> group(0, kGroups - 1), word(0, kGroupWords - 1);
  for (int64_t s = 0; s < sentences; ++s) {
    const int g = group(rng);
    for (int k = 0; k < len; ++k) {
      const int32_t id = g * kGroupWords + word(rng);
      c.ids.push_back(id);
      ++c.counts[id];
    }
    c.ends.push_back(static_cast<int64_t>(c.ids.size()));
  }
  return c;
}

struct ToyTables {
  std::vector<float> in, out_neg, out_hs;
  w2v::Tables t;
  ToyTables(int64_t dim, uint32_t seed)
      : in(kW2vVocab * dim), out_neg(kW2vVocab * dim, 0.f), out_hs(kW2vVocab * dim, 0.f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> ud(-0.5f, 0.5f);
    for (auto& x : in) x = ud(rng) / static_cast<float>(dim);
    t.in = in.data();
    t.in_rows = kW2vVocab;
    t.out_neg = out_neg.data();
    t.out_hs = out_hs.data();
    t.vocab = kW2vVocab;
  }
};

static w2v::TrainConfig toy_config(const ToyCorpus& c, int epochs) {
  w2v::TrainConfig cfg;
  cfg.dim = 24;
  cfg.sg = true;
  cfg.negative = 5;
  cfg.window = 4;
  cfg.sample = 0;
  cfg.alpha = 0.05;
  cfg.min_alpha = 0.001;
  cfg.workers = 3;
  cfg.seed = 7;
  cfg.schedule_words = static_cast<int64_t>(c.ids.size()) * epochs;
  return cfg;
}

// One caller-fed epoch as the binding drives it; records words_done() while the workers run.
static w2v::EpochStats feed_epoch(w2v::Trainer& tr, const ToyCorpus& c, int64_t epoch, std::vector<int64_t>* seen) {
  using std::chrono::milliseconds;
  tr.begin_epoch(epoch);
  tr.add_sentences(c.ids.data(), c.ends.data(), static_cast<int64_t>(c.ends.size()));
  while (!tr.flush(milliseconds(20)))
    if (seen) seen->push_back(tr.words_done());
  tr.end_input();
  while (!tr.flush(milliseconds(20))) {
  }
  tr.close_queue();
  while (!tr.wait(milliseconds(5)))
    if (seen) seen->push_back(tr.words_done());
  return tr.join();
}

static std::vector<float> train_toy(const w2v::TrainConfig& cfg, const ToyCorpus& c, int epochs) {
  ToyTables tables(cfg.dim, 99);
  w2v::Trainer tr(cfg, tables.t, c.counts.data());
  for (int e = 0; e < epochs; ++e) feed_epoch(tr, c, e, nullptr);
  return tables.in;
}

static double cosine(const float* a, const float* b, int64_t D) {
  double ab = 0, aa = 0, bb = 0;
  for (int64_t k = 0; k < D; ++k) {
    ab += double(a[k]) * b[k];
    aa += double(a[k]) * a[k];
    bb += double(b[k]) * b[k];
  }
  return ab / (std::sqrt(aa * bb) + 1e-30);
}

static void test_w2v_planted() {
  const ToyCorpus c = toy_corpus(4000, 10, 5);  // 40000 words: 4 jobs an epoch
  for (int variant = 0; variant < 2; ++variant) {
    w2v::TrainConfig cfg = toy_config(c, 4);
    if (variant == 1) {  // CBOW with hierarchical softmax
      cfg.sg = false;
      cfg.hs = true;
      cfg.negative = 0;
    }
    const std::vector<float> in = train_toy(cfg, c, 4);
    const int64_t D = cfg.dim;
    int right = 0;
    double within = 0, across = 0;
    int n_within = 0, n_across = 0;
    for (int a = 0; a < kW2vVocab; ++a) {
      int best = -1;
      double best_cos = -2;
      for (int b = 0; b < kW2vVocab; ++b) {
        if (a == b) continue;
        const double cs = cosine(&in[a * D], &in[b * D], D);
        if (cs > best_cos) {
          best_cos = cs;
          best = b;
        }
        if (a / kGroupWords == b / kGroupWords) {
          within += cs;
          ++n_within;
        } else {
          across += cs;
          ++n_across;
        }
      }
      right += best / kGroupWords == a / kGroupWords;
    }
    within /= n_within;
    across /= n_across;
    EXPECT(right == kW2vVocab, "w2v %s: %d of %d words nearest to their own group", variant ? "cbow+hs" : "sg+neg",
           right, kW2vVocab);
    EXPECT(within > across + 0.3, "w2v %s: mean cosine within groups %.3f, across %.3f", variant ? "cbow+hs" : "sg+neg",
           within, across);
  }
}

// deterministic=true: one thread, jobs in order, RNG per job: the same bits whatever `workers`,
// equal to a plain one-worker run, and a different seed gives different vectors.
static void test_w2v_determinism() {
  const ToyCorpus c = toy_corpus(3000, 9, 11);
  w2v::TrainConfig cfg = toy_config(c, 2);
  cfg.deterministic = true;
  cfg.workers = 4;
  const std::vector<float> a = train_toy(cfg, c, 2), b = train_toy(cfg, c, 2);
  cfg.deterministic = false;
  cfg.workers = 1;
  const std::vector<float> one = train_toy(cfg, c, 2);
  cfg.seed = 8;
  const std::vector<float> other = train_toy(cfg, c, 2);
  EXPECT(a == b, "deterministic word2vec differs between two runs");
  EXPECT(a == one, "deterministic word2vec with 4 workers differs from 1 worker");
  EXPECT(a != other, "another seed gave the same vectors");
}

// A worker that throws stops the epoch; join() rethrows it on the caller's thread, and the trainer
// runs a further epoch afterwards.
static void test_w2v_worker_failure() {
  const ToyCorpus c = toy_corpus(5000, 10, 13);  // 5 jobs
  w2v::TrainConfig cfg = toy_config(c, 1);
  cfg.fail_at_job = 2;
  ToyTables tables(cfg.dim, 1);
  w2v::Trainer tr(cfg, tables.t, c.counts.data());
  std::string what;
  bool other_exception = false;
  try {
    feed_epoch(tr, c, 0, nullptr);
  } catch (const std::runtime_error& e) {
    what = e.what();
  } catch (...) {
    other_exception = true;
  }
  EXPECT(what.find("injected worker failure at job 2") != std::string::npos && !other_exception,
         "worker exception not rethrown by join(): '%s'", what.c_str());
  w2v::TrainConfig ok_cfg = cfg;
  ok_cfg.fail_at_job = -1;
  w2v::Trainer tr2(ok_cfg, tables.t, c.counts.data());
  bool threw = false;
  try {
    feed_epoch(tr2, c, 0, nullptr);
    feed_epoch(tr2, c, 1, nullptr);
  } catch (...) {
    threw = true;
  }
  EXPECT(!threw, "an epoch without an injected failure threw");
  // A failing job in a file epoch surfaces the same way.
  const std::string path = temp_path("core_tests_w2v_fail.txt");
  {
    std::ofstream f(path);
    for (size_t s = 0, b = 0; s < c.ends.size(); b = c.ends[s++]) {
      for (size_t k = b; k < size_t(c.ends[s]); ++k) f << "w" << c.ids[k] << (k + 1 < size_t(c.ends[s]) ? " " : "\n");
    }
  }
  w2v::Vocab vocab;
  for (int i = 0; i < kW2vVocab; ++i) vocab.insert("w" + std::to_string(i));
  w2v::Trainer tr3(cfg, tables.t, c.counts.data());
  what.clear();
  try {
    tr3.begin_file_epoch(0, path, &vocab);
    while (!tr3.wait(std::chrono::milliseconds(5))) {
    }
    tr3.join();
  } catch (const std::runtime_error& e) {
    what = e.what();
  }
  EXPECT(what.find("injected worker failure at job 2") != std::string::npos, "file epoch: '%s'", what.c_str());
  std::remove(path.c_str());
}

// The progress counter: never decreasing while the workers run, never past the epoch's words, and
// at the end every in-vocabulary word counted once (out-of-vocabulary -1 ids dropped); the schedule
// position advances by the epoch's words. A file epoch of the same corpus counts the same words.
static void test_w2v_progress_and_file_epoch() {
  ToyCorpus c = toy_corpus(6000, 10, 17);
  int64_t in_vocab = 0;
  for (size_t k = 0; k < c.ids.size(); k += 7) c.ids[k] = -1;  // out of vocabulary
  for (int32_t id : c.ids) in_vocab += id >= 0;
  w2v::TrainConfig cfg = toy_config(c, 2);
  ToyTables tables(cfg.dim, 2);
  w2v::Trainer tr(cfg, tables.t, c.counts.data());
  std::vector<int64_t> seen;
  const w2v::EpochStats st = feed_epoch(tr, c, 0, &seen);
  bool monotone = std::is_sorted(seen.begin(), seen.end());
  bool bounded = seen.empty() || seen.back() <= in_vocab;
  EXPECT(monotone && bounded, "words_done() went backwards or past %lld", (long long)in_vocab);
  EXPECT(st.words == in_vocab && tr.words_done() == in_vocab, "epoch counted %lld words (%lld done), corpus has %lld",
         (long long)st.words, (long long)tr.words_done(), (long long)in_vocab);
  EXPECT(st.examples > 0 && tr.words_before() == in_vocab, "examples %lld, words_before %lld", (long long)st.examples,
         (long long)tr.words_before());
  EXPECT(tr.current_lr() < cfg.alpha && tr.current_lr() > cfg.min_alpha, "lr after half the schedule: %g",
         double(tr.current_lr()));

  const std::string path = temp_path("core_tests_w2v_corpus.txt");
  {
    std::ofstream f(path);
    int64_t b = 0;
    for (int64_t e : c.ends) {
      for (int64_t k = b; k < e; ++k)
        f << (c.ids[k] >= 0 ? "w" + std::to_string(c.ids[k]) : std::string("unknown")) << ' ';
      f << '\n';
      b = e;
    }
  }
  w2v::Vocab vocab;
  for (int i = 0; i < kW2vVocab; ++i) vocab.insert("w" + std::to_string(i));
  tr.begin_file_epoch(1, path, &vocab);
  std::vector<int64_t> seen_file;
  while (!tr.wait(std::chrono::milliseconds(5))) seen_file.push_back(tr.words_done());
  const w2v::EpochStats fs = tr.join();
  EXPECT(
      std::is_sorted(seen_file.begin(), seen_file.end()) && fs.words == in_vocab && tr.words_before() == 2 * in_vocab,
      "file epoch counted %lld words, corpus has %lld", (long long)fs.words, (long long)in_vocab);
  std::remove(path.c_str());
}

// The corpus reader against a plain reference: random lines of random words (ASCII, two- and three-byte
// UTF-8 letters) separated by runs of ASCII and Unicode spaces, read whole and in byte ranges that
// tile the file at random cuts. Small chunks are not configurable, so the file is made longer than
// one 1 MiB chunk, with three-byte spaces placed across the chunk boundary.
static void test_corpus_reader(std::mt19937& rng) {
  const std::vector<std::string> spaces = {" ",
                                           "\t",
                                           "\r",
                                           "\v",
                                           "\f",
                                           "\x1c",
                                           "\x1f",
                                           "\xc2\x85",
                                           "\xc2\xa0",
                                           "\xe1\x9a\x80",
                                           "\xe2\x80\x80",
                                           "\xe2\x80\x8a",
                                           "\xe2\x80\xa8",
                                           "\xe2\x80\xa9",
                                           "\xe2\x80\xaf",
                                           "\xe2\x81\x9f",
                                           "\xe3\x80\x80"};
  // Letters that share lead bytes with the spaces but are not spaces (U+00A1, U+1681, U+2010, U+3001).
  const std::vector<std::string> letters = {"a", "b", "z", "\xc2\xa1", "\xe1\x9a\x81", "\xe2\x80\x90", "\xe3\x80\x81"};
  const size_t chunk = w2v::LineTokenizer::kChunkBytes;
  auto random_word = [&]() {
    std::string word;
    const int len = std::uniform_int_distribution<int>(1, 4)(rng);
    for (int k = 0; k < len; ++k) word += letters[rng() % letters.size()];
    return word;
  };
  for (size_t cut : {1, 2}) {  // a three-byte space cut after its first byte, then after its second
    std::vector<std::vector<std::string>> ref_lines;
    std::string text;
    bool straddled = false;
    while (text.size() < chunk + 5000) {
      std::vector<std::string> line;
      if (rng() % 2) text += spaces[rng() % spaces.size()];
      if (!straddled && text.size() + 200 > chunk) {
        // One word ending exactly `cut` bytes before the boundary, then U+3000 across it.
        const std::string pad(chunk - cut - text.size(), 'a');
        text += pad + "\xe3\x80\x80" + "zz\n";
        ref_lines.push_back({pad, "zz"});
        straddled = true;
        continue;
      }
      const int words = std::uniform_int_distribution<int>(0, 6)(rng);
      for (int w = 0; w < words; ++w) {
        line.push_back(random_word());
        text += line.back();
        const int run = std::uniform_int_distribution<int>(1, 2)(rng);
        for (int r = 0; r < run; ++r) text += spaces[rng() % spaces.size()];
      }
      ref_lines.push_back(line);
      text += '\n';
    }
    text += "last\xe2\x80";  // ends inside a would-be space, no newline: one token "last\xe2\x80"
    ref_lines.push_back({"last\xe2\x80"});
    const std::string path = temp_path("core_tests_reader.txt");
    {
      std::ofstream f(path, std::ios::binary);
      f << text;
    }
    auto read = [&](int64_t b, int64_t e) {
      std::vector<std::vector<std::string>> lines(1);
      w2v::LineTokenizer tok(path, b, e);
      tok.run([&](std::string_view t) { lines.back().emplace_back(t); }, [&]() { lines.emplace_back(); }, nullptr);
      lines.pop_back();
      return lines;
    };
    const auto whole = read(0, w2v::LineTokenizer::kToEnd);
    EXPECT(whole == ref_lines, "corpus reader: %zu lines read, %zu written (or tokens differ)", whole.size(),
           ref_lines.size());
    for (int trial = 0; trial < 3; ++trial) {
      std::vector<int64_t> cuts = {0};
      for (int k = 0; k < 4; ++k) cuts.push_back(int64_t(rng() % text.size()));
      cuts.push_back(int64_t(text.size()));
      std::sort(cuts.begin(), cuts.end());
      std::vector<std::vector<std::string>> joined;
      for (size_t k = 0; k + 1 < cuts.size(); ++k) {
        const auto part = read(cuts[k], cuts[k + 1]);
        joined.insert(joined.end(), part.begin(), part.end());
      }
      EXPECT(joined == ref_lines, "corpus reader: ranges at random cuts read %zu lines, the file has %zu",
             joined.size(), ref_lines.size());
    }
    bool threw = false;
    try {
      w2v::LineTokenizer bad(path, 10, 5);
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    EXPECT(threw, "corpus reader: an inverted byte range was accepted");
    std::remove(path.c_str());
  }
}

// The kernel tables: the chosen one is best_isa()'s, every table this CPU runs is complete and
// tagged with its ISA, and each one's kernels agree with the double-precision references (so a
// table cannot hold another build's or a wrong entry unnoticed), whichever ISA the run is capped to.
// word2vec's update block (B inputs h_i against M output rows, the rows of a skip-gram window
// sharing negatives) against the same update in double, in word2vec.c's order: for each output j
// in turn, g_ij = lr * (label_j - sigmoid(h_i . o_j)), every input gradient gains g_ij o_j (its
// value before this j), then o_j += sum_i g_ij h_i. An output row may repeat (it then sees its own
// earlier update). With gensim's rule (Word2Vec) the sigmoid is gensim's 1000-entry table and a
// saturated dot (|x| >= 6) changes nothing. The table's index scale is gensim's (and word2vec.c's)
// integer 1000 / 6 / 2 = 83, as gensim's generated C has it.
static double ref_sigmoid_table(double x) {
  int k = static_cast<int>((x + 6.0) * 83.0);
  if (k > 999) k = 999;
  return 1.0 / (1.0 + std::exp(-((2.0 * k / 1000.0 - 1.0) * 6.0)));
}

static void test_w2v_block_update(std::mt19937& rng) {
  for (bool gensim_rule : {false, true}) {
    for (int64_t D : {1, 7, 16, 40, 100, 131}) {
      const int B = 4, M = 5;
      // Large values under gensim's rule, so that some dots saturate and must be skipped.
      // (element spread s: a dot's spread is sqrt(D) s^2, 5 under gensim's rule)
      std::normal_distribution<float> nd(0.f, gensim_rule ? std::sqrt(5.0f / std::sqrt(float(D))) : 0.5f);
      std::vector<float> hs(B * D), os(M * D);
      for (auto& v : hs) v = nd(rng);
      for (auto& v : os) v = nd(rng);
      const std::vector<int> rows = {1, 3, 0, 1, 4};  // output row per j (row 1 twice)
      const std::vector<float> labels = {1.f, 0.f, 0.f, 1.f, 0.f};
      const float lr = 0.05f;
      std::vector<double> ref_o(os.begin(), os.end()), ref_grad(B * D, 0.0);
      int saturated = 0, updated = 0;
      for (int j = 0; j < M; ++j) {
        double* o = ref_o.data() + rows[j] * D;
        std::vector<double> g(B);
        for (int i = 0; i < B; ++i) {
          double x = 0;
          for (int64_t d = 0; d < D; ++d) x += double(hs[i * D + d]) * o[d];
          if (gensim_rule && std::fabs(x) >= 6.0) {
            g[i] = 0;
            ++saturated;
          } else {
            g[i] = lr * (labels[j] - (gensim_rule ? ref_sigmoid_table(x) : 1.0 / (1.0 + std::exp(-x))));
            ++updated;
          }
          for (int64_t d = 0; d < D; ++d) ref_grad[i * D + d] += g[i] * o[d];
        }
        for (int i = 0; i < B; ++i)
          for (int64_t d = 0; d < D; ++d) o[d] += g[i] * hs[i * D + d];
      }
      std::vector<const float*> h(B);
      std::vector<float*> outs(M);
      for (int i = 0; i < B; ++i) h[i] = hs.data() + i * D;
      for (int j = 0; j < M; ++j) outs[j] = os.data() + rows[j] * D;
      const std::vector<float> os0 = os;
      std::vector<float> grad(B * D, 0.f), gbuf(B * M);
      w2v::block_update(D, B, h.data(), M, outs.data(), labels.data(), lr, grad.data(), gbuf.data(), false,
                        gensim_rule);
      double moved = 0;
      for (size_t k = 0; k < os.size(); ++k) moved = std::max(moved, double(std::fabs(os[k] - os0[k])));
      EXPECT(max_abs_diff(os, ref_o) < 2e-5 && max_abs_diff(grad, ref_grad) < 2e-5 && (moved > 1e-4 || updated == 0),
             "word2vec block D=%lld gensim_rule=%d: out diff %g, grad diff %g, moved %g", (long long)D,
             int(gensim_rule), max_abs_diff(os, ref_o), max_abs_diff(grad, ref_grad), moved);
      if (gensim_rule && D >= 16)
        EXPECT(saturated > 0 && updated > 0, "D=%lld: the case mixes saturated (%d) and updated (%d) pairs",
               (long long)D, saturated, updated);
    }
  }
}

static void test_kernel_tables(std::mt19937& rng) {
  EXPECT(kernels().isa == best_isa(), "chosen table %s, best ISA %s", isa_name(kernels().isa), isa_name(best_isa()));
  EXPECT(&kernels() == &kernels_for(best_isa()), "kernels() is the table of best_isa()");
  for (Isa isa : {Isa::kBaseline, Isa::kAvx2, Isa::kAvx512}) {
    if (isa > best_isa()) continue;  // this CPU (or EMBEDFORGE_ISA) does not run that build
    const KernelTable& t = kernels_for(isa);
    EXPECT(t.isa == isa, "table for %s is tagged %s", isa_name(isa), isa_name(t.isa));
    EXPECT(t.bag_forward && t.bag_backward_dense && t.bag_backward_rows && t.bag_backward_psw && t.fused_step &&
               t.w2v_block_update && t.w2v_train_job,
           "table %s has every kernel", isa_name(isa));
    for (int64_t D : {16, 48, 77}) {
      for (Pool pool : {Pool::kSum, Pool::kMean, Pool::kMax}) {
        Case c = make_case(rng, 61, D, 17, 9, -1);
        ForwardArgs a;
        a.weight = c.weight.data();
        a.num_rows = c.V;
        a.dim = c.D;
        a.bags = layout(c);
        a.pool = pool;
        std::vector<float> out(static_cast<size_t>(c.B * c.D));
        std::vector<int64_t> am(out.size());
        const bool ok = t.bag_forward(a, out.data(), am.data(), serial_parallel());
        EXPECT(ok && max_abs_diff(out, ref_forward(c, pool, false)) < 1e-4, "table %s forward D=%lld pool=%d",
               isa_name(isa), (long long)D, int(pool));
      }
    }
    // One word2vec block (B inputs against M outputs) against the same update in double.
    const int64_t D = 40;
    const int B = 3, M = 4;
    std::normal_distribution<float> nd(0.f, 0.5f);
    std::vector<float> hs(B * D), os(M * D), labels = {1.f, 0.f, 0.f, 1.f};
    for (auto& v : hs) v = nd(rng);
    for (auto& v : os) v = nd(rng);
    std::vector<double> ref_o(os.begin(), os.end()), ref_grad(B * D, 0.0);
    for (int j = 0; j < M; ++j) {
      std::vector<double> g(B);
      for (int i = 0; i < B; ++i) {
        double x = 0;
        for (int64_t d = 0; d < D; ++d) x += double(hs[i * D + d]) * ref_o[j * D + d];
        g[i] = 0.1 * (labels[j] - 1.0 / (1.0 + std::exp(-x)));
        for (int64_t d = 0; d < D; ++d) ref_grad[i * D + d] += g[i] * ref_o[j * D + d];
      }
      for (int i = 0; i < B; ++i)
        for (int64_t d = 0; d < D; ++d) ref_o[j * D + d] += g[i] * hs[i * D + d];
    }
    std::vector<const float*> h(B);
    std::vector<float*> outs(M);
    for (int i = 0; i < B; ++i) h[i] = hs.data() + i * D;
    for (int j = 0; j < M; ++j) outs[j] = os.data() + j * D;
    std::vector<float> grad(B * D, 0.f), gbuf(B * M);
    t.w2v_block_update(D, B, h.data(), M, outs.data(), labels.data(), 0.1f, grad.data(), gbuf.data(), false, false);
    EXPECT(max_abs_diff(os, ref_o) < 1e-5 && max_abs_diff(grad, ref_grad) < 1e-5, "table %s word2vec block update",
           isa_name(isa));
    // gensim's rule just below saturation: the tabled sigmoid's index must stay inside the table
    // (the sanitizer build catches a read past it); the pair is updated, not skipped.
    float hx = std::nextafter(6.0f, 0.0f), ox = 1.0f, gx = 0.f, gb = 0.f, lab = 0.f;
    const float* hp = &hx;
    float* op = &ox;
    t.w2v_block_update(1, 1, &hp, 1, &op, &lab, 0.1f, &gx, &gb, false, true);
    EXPECT(ox < 1.0f && std::isfinite(ox), "table %s gensim rule at x just below 6: out row %g", isa_name(isa),
           double(ox));
  }
}

// The device path's examples: the same jobs from pushed sentences and from the file reader give the
// same pairs; every pair lies within the window; the epoch counts every in-vocabulary word; an
// abandoned file epoch stops its reader.
static void test_w2v_pair_stream() {
  ToyCorpus c = toy_corpus(3000, 10, 23);
  for (size_t k = 0; k < c.ids.size(); k += 5) c.ids[k] = -1;
  int64_t in_vocab = 0;
  for (int32_t id : c.ids) in_vocab += id >= 0;
  w2v::TrainConfig cfg = toy_config(c, 1);
  cfg.sg = true;
  cfg.hs = false;
  cfg.negative = 5;
  w2v::Tables t;
  t.vocab = kW2vVocab;
  w2v::PairStream pushed(cfg, t, c.counts.data());
  pushed.begin_epoch(0);
  pushed.add_sentences(c.ids.data(), c.ends.data(), static_cast<int64_t>(c.ends.size()));
  pushed.end_input();
  std::vector<w2v::PairBatch> a;
  for (w2v::PairBatch b; pushed.next(b);) a.push_back(b);
  int64_t words = 0, pairs = 0;
  bool in_range = true;
  for (const auto& b : a) {
    words += b.words;
    pairs += static_cast<int64_t>(b.centers.size());
    for (size_t i = 0; i < b.centers.size(); ++i)
      in_range &= b.centers[i] >= 0 && b.centers[i] < kW2vVocab && b.contexts[i] >= 0 && b.contexts[i] < kW2vVocab;
  }
  EXPECT(words == in_vocab && pairs > 0 && in_range && pushed.words_done() == in_vocab,
         "pair stream: %lld words of %lld, %lld pairs", (long long)words, (long long)in_vocab, (long long)pairs);

  const std::string path = temp_path("core_tests_pair_stream.txt");
  {
    std::ofstream f(path);
    int64_t b = 0;
    for (int64_t e : c.ends) {
      for (int64_t k = b; k < e; ++k)
        f << (c.ids[k] >= 0 ? "w" + std::to_string(c.ids[k]) : std::string("unknown")) << ' ';
      f << '\n';
      b = e;
    }
  }
  w2v::Vocab vocab;
  for (int i = 0; i < kW2vVocab; ++i) vocab.insert("w" + std::to_string(i));
  w2v::PairStream from_file(cfg, t, c.counts.data());
  from_file.begin_file_epoch(0, path, &vocab);
  size_t n = 0;
  bool same = true;
  for (w2v::PairBatch b; from_file.next(b); ++n)
    same &= n < a.size() && b.centers == a[n].centers && b.contexts == a[n].contexts && b.lr == a[n].lr;
  EXPECT(same && n == a.size(), "file and pushed sentences give the same %zu jobs of pairs (got %zu)", a.size(), n);
  from_file.begin_file_epoch(1, path, &vocab);  // abandoned after one job: the next begin stops the reader
  w2v::PairBatch one;
  EXPECT(from_file.next(one) && !one.centers.empty(), "file epoch 1 yields pairs");
  from_file.begin_epoch(2);
  EXPECT(!from_file.next(one), "a fresh pushed epoch has no job before input");
  std::remove(path.c_str());
}

int main() {
  std::mt19937 rng(1234);
  test_forward_backward(rng, serial_parallel());
  test_forward_backward(rng, std_thread_parallel(2));
  test_checks();
  test_determinism(rng);
  test_balance();
  test_fused_optim(rng);
  test_grouping(rng);
  test_kernel_tables(rng);
  test_w2v_block_update(rng);
  test_w2v_planted();
  test_w2v_determinism();
  test_w2v_worker_failure();
  test_w2v_progress_and_file_epoch();
  test_w2v_pair_stream();
  test_corpus_reader(rng);
  std::printf("core_tests (%s): %d passed, %d failed\n", embedding_bag_isa(), passed, failed);
  return failed == 0 ? 0 : 1;
}
