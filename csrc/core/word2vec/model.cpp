#include "core/word2vec/model.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/isa_table.h"
#include "core/word2vec/job.h"

namespace embedforge::core::w2v {

Model::Model(const TrainConfig& c, const Tables& tables, const int64_t* counts) : cfg(c), t(tables) {
  if (t.vocab <= 0) throw std::invalid_argument("the vocabulary is empty");
  if (cfg.negative > 0) sampler = UnigramSampler(counts, t.vocab, cfg.ns_exponent);
  if (cfg.hs) tree = HuffmanTree(counts, t.vocab);
  // word2vec's subsampling: keep a word of count c with probability (sqrt(c/T) + 1) * T / c,
  // T = sample * (total retained words); sample <= 0 keeps everything.
  keep_prob.assign(t.vocab, 1.0f);
  if (cfg.sample > 0) {
    double total = 0;
    for (int64_t i = 0; i < t.vocab; ++i) total += static_cast<double>(counts[i]);
    const double thr = cfg.sample * total;
    for (int64_t i = 0; i < t.vocab; ++i) {
      const double v = static_cast<double>(counts[i]);
      if (v <= 0) continue;
      const double p = (std::sqrt(v / thr) + 1.0) * thr / v;
      keep_prob[i] = p >= 1.0 ? 1.0f : static_cast<float>(p);
    }
  }
}

void WorkerState::reserve(const Model& m) {
  const int64_t D = m.cfg.dim;
  const int64_t B = std::max<int64_t>(2 * m.cfg.window, 2);
  const int64_t M = std::max<int64_t>(m.cfg.negative + 1, m.tree.max_path_length() + 1);
  sentence.reserve(JobBuilder::kMaxSentence);
  ctx.reserve(B);
  h.assign(B, nullptr);
  means.assign(B * D, 0.f);
  grad_in.assign(B * D, 0.f);
  next_negs.reserve(m.cfg.negative);
  outs.reserve(m.cfg.negative + 1 + m.tree.max_path_length());
  labels.reserve(outs.capacity());
  g.assign(B * M, 0.f);
}

double block_update(int64_t dim, int B, const float* const* h, int M, float* const* outs, const float* labels, float lr,
                    float* grad_in, float* g, bool want_loss, bool gensim_rule) {
  return kernels().w2v_block_update(dim, B, h, M, outs, labels, lr, grad_in, g, want_loss, gensim_rule);
}

void train_job(const Model& m, WorkerState& ws, const Job& job) { kernels().w2v_train_job(m, ws, job); }

}  // namespace embedforge::core::w2v
