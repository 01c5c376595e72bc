// What every worker reads: the configuration, the shared tables (Hogwild: written without locks),
// the negative sampler, the Huffman tree and the subsampling probabilities.
#pragma once
#include <cstdint>
#include <vector>

#include "core/word2vec/huffman_tree.h"
#include "core/word2vec/rng.h"
#include "core/word2vec/unigram_sampler.h"

namespace embedforge::core::w2v {

struct TrainConfig {
  int64_t dim = 100;
  bool sg = false;
  bool hs = false;
  int negative = 5;
  double ns_exponent = 0.75;
  int window = 5;
  bool cbow_mean = true;
  double sample = 1e-3;
  double alpha = 0.025;
  double min_alpha = 0.0001;
  bool shrink_windows = true;
  bool compute_loss = false;
  int workers = 1;
  uint64_t seed = 1;
  bool deterministic = false;
  int64_t schedule_words = 0;  // in-vocabulary words over which alpha decays to min_alpha
  int64_t job_words = 10000;   // a job holds at least this many ids (gensim's batch_words)
  int64_t fail_at_job = -1;    // test hook: a worker throws when it reaches this job index
};

// The tables, owned by the caller (numpy arrays in the Python façade). `in` has in_rows rows: the
// vocabulary, then (FastText) the n-gram buckets. A word's input rows are sub_rows[sub_offsets[w],
// sub_offsets[w+1]) when sub_offsets is set, else just row w.
struct Tables {
  float* in = nullptr;
  int64_t in_rows = 0;
  float* out_neg = nullptr;  // vocab x dim, negative sampling outputs (syn1neg)
  float* out_hs = nullptr;   // vocab x dim, hierarchical-softmax inner nodes (syn1)
  int64_t vocab = 0;
  const int64_t* sub_offsets = nullptr;
  const int32_t* sub_rows = nullptr;
};

struct Model {
  TrainConfig cfg;
  Tables t;
  UnigramSampler sampler;
  HuffmanTree tree;
  std::vector<float> keep_prob;  // per word, frequent-word subsampling

  Model(const TrainConfig& c, const Tables& tables, const int64_t* counts);
  inline float lr_at(int64_t words) const {
    if (cfg.schedule_words <= 0) return static_cast<float>(cfg.alpha);
    double frac = static_cast<double>(words) / static_cast<double>(cfg.schedule_words);
    if (frac > 1.0) frac = 1.0;
    const double lr = cfg.alpha - (cfg.alpha - cfg.min_alpha) * frac;
    return static_cast<float>(lr < cfg.min_alpha ? cfg.min_alpha : lr);
  }
  // Frequent-word subsampling: appends the kept ids of ids[0, n) to `out` (word w is kept with
  // probability keep_prob[w]; one draw per word that may be dropped).
  inline void subsample(const int32_t* ids, int64_t n, Rng& rng, std::vector<int32_t>& out) const {
    const float* keep = keep_prob.data();
    for (int64_t k = 0; k < n; ++k) {
      const float p = keep[ids[k]];
      if (p >= 1.0f || rng.uniform() < p) out.push_back(ids[k]);
    }
  }
  // The window of one position: `window` words each side, shrunk by a uniform draw from
  // [0, window) when shrink_windows (word2vec's "reduced window").
  inline int reach(Rng& rng) const {
    return cfg.shrink_windows ? cfg.window - static_cast<int>(rng.below(static_cast<uint32_t>(cfg.window)))
                              : cfg.window;
  }
};

// One worker's private state: scratch space and its RNG. Threads share only the tables.
struct WorkerState {
  Rng rng;
  std::vector<int32_t> sentence;   // kept words of the current sentence
  std::vector<int32_t> ctx;        // context words of the current position
  std::vector<const float*> h;     // input vectors of the current block
  std::vector<float> means;        // subword means (FastText) / CBOW hidden vector
  std::vector<float> grad_in;      // gradient w.r.t. each input vector
  std::vector<float*> outs;        // output rows of the current block
  std::vector<int32_t> next_negs;  // negatives drawn ahead for the next position
  std::vector<float> labels;
  std::vector<float> g;  // B x M scaled errors
  double loss = 0;
  int64_t words = 0;     // in-vocabulary words seen (before subsampling)
  int64_t examples = 0;  // predictions made
  void reserve(const Model& m);
};

// One update block: B input vectors against M output rows with labels (1 = positive). Scaled errors
// g[i][j] = lr * (label_j - sigmoid(h_i . out_j)); grad_in[i] += sum_j g[i][j] out_j (old outputs);
// then out_j += sum_i g[i][j] h_i. Returns the loss when want_loss, else 0. Written once per ISA.
// B = 1 is exactly word2vec's per-pair update. gensim_rule: sigmoid from gensim's 1000-entry table
// and no update for a pair whose |h_i . out_j| >= 6 (g = 0), as gensim trains Word2Vec.
double block_update(int64_t dim, int B, const float* const* h, int M, float* const* outs, const float* labels, float lr,
                    float* grad_in, float* g, bool want_loss, bool gensim_rule = false);

// Trains one job (the kernel entry for workers). Both call through the kernel table (core/isa_table.h).
void train_job(const Model& m, WorkerState& ws, const struct Job& job);

}  // namespace embedforge::core::w2v
