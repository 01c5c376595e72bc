// The word2vec inner loops. Compiled once per instruction set with the other kernels (through
// core/isa_kernels.h, in each core/isa_*.cpp, built with that ISA's -m flags); model.cpp calls
// them through the kernel table (core/isa_table.h). Vector loops are written in fixed
// 16-float blocks with separate accumulators so the compiler vectorises them without -ffast-math
// and the summation order is fixed (results do not depend on threads, only on the ISA build).
#pragma once
#ifndef EF_ISA_NS
#error "define EF_ISA_NS before including train_kernels.h (see core/isa_kernels.h)"
#endif
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "core/word2vec/job.h"
#include "core/word2vec/model.h"

namespace embedforge::core::w2v::EF_ISA_NS {
namespace {

constexpr int kLanes = 16;

inline float dot(const float* __restrict a, const float* __restrict b, int64_t D) {
  float acc[kLanes];
  for (int k = 0; k < kLanes; ++k) acc[k] = 0.f;
  int64_t d = 0;
  for (; d + kLanes <= D; d += kLanes)
    for (int k = 0; k < kLanes; ++k) acc[k] += a[d + k] * b[d + k];
  float tail = 0.f;
  for (; d < D; ++d) tail += a[d] * b[d];
  for (int w = kLanes / 2; w > 0; w /= 2)
    for (int k = 0; k < w; ++k) acc[k] += acc[k + w];
  return acc[0] + tail;
}

// y += sum_i a[i] * x[i], one pass over y (x: n rows).
inline void multi_axpy(int n, const float* __restrict a, const float* const* x, float* __restrict y, int64_t D) {
  int64_t d = 0;
  for (; d + kLanes <= D; d += kLanes) {
    float acc[kLanes];
    for (int k = 0; k < kLanes; ++k) acc[k] = y[d + k];
    for (int i = 0; i < n; ++i) {
      const float ai = a[i];
      const float* __restrict xi = x[i] + d;
      for (int k = 0; k < kLanes; ++k) acc[k] += ai * xi[k];
    }
    for (int k = 0; k < kLanes; ++k) y[d + k] = acc[k];
  }
  for (; d < D; ++d) {
    float acc = y[d];
    for (int i = 0; i < n; ++i) acc += a[i] * x[i][d];
    y[d] = acc;
  }
}

inline void axpy(float a, const float* __restrict x, float* __restrict y, int64_t D) {
  for (int64_t d = 0; d < D; ++d) y[d] += a * x[d];
}

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// gensim's (and word2vec.c's) sigmoid: a table of 1000 values over [-6, 6). gensim skips every pair
// whose dot is saturated (|x| >= 6: no update at all, where word2vec.c would clamp), an outlier rule
// that measurably helps its vectors (issue 16 §3). Word2Vec follows it; FastText keeps the exact
// sigmoid (fastText clamps; it does not skip).
constexpr int kSigmoidTable = 1000;
constexpr float kMaxExp = 6.f;
struct SigmoidTable {
  float v[kSigmoidTable];
  SigmoidTable() {
    for (int k = 0; k < kSigmoidTable; ++k) {
      const double x = (2.0 * k / kSigmoidTable - 1.0) * kMaxExp;
      v[k] = static_cast<float>(1.0 / (1.0 + std::exp(-x)));
    }
  }
};
inline const SigmoidTable kSigmoid;

// The scaled error lr * (label - sigmoid(x)), by the exact sigmoid or by gensim's rule.
inline float scaled_error(float x, float label, float lr, bool gensim_rule) {
  if (!gensim_rule) return lr * (label - sigmoid(x));
  if (x >= kMaxExp || x <= -kMaxExp) return 0.f;
  // The index scale is word2vec.c's and gensim's EXP_TABLE_SIZE / MAX_EXP / 2 in integer
  // arithmetic, 1000 / 6 / 2 = 83 (not 83.3): indices stop at 995 and each lookup reads the
  // sigmoid of about 0.996 x - 0.03. Taken as they have it, so that a deterministic CBOW run
  // equals gensim's to float rounding (tests/compat/test_word2vec_compat.py); quality on
  // make_corpus.sh's corpus did not move (3 seeds, sg-ns and cbow-ns).
  const int k = static_cast<int>((x + kMaxExp) * static_cast<float>(kSigmoidTable / 6 / 2));
  return lr * (label - kSigmoid.v[k < kSigmoidTable ? k : kSigmoidTable - 1]);
}

// -log sigmoid(x) for a positive label, -log sigmoid(-x) for a negative one, in double.
inline double logistic_loss(float x, float label) {
  const double z = label > 0.5f ? -static_cast<double>(x) : static_cast<double>(x);
  return z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z));
}

}  // namespace

double block_update(int64_t D, int B, const float* const* h, int M, float* const* outs, const float* labels, float lr,
                    float* grad_in, float* g, bool want_loss, bool gensim_rule) {
  // One output row at a time, so it is read once into L1 and used for the B dots, the B input
  // gradients (with its old value) and its own update. Equivalent to computing all scaled errors
  // first: the inputs only change after the block.
  double loss = 0;
  for (int j = 0; j < M; ++j) {
    float* o = outs[j];
    float* gj = g + j * B;
    for (int i = 0; i < B; ++i) {
      const float x = dot(h[i], o, D);
      gj[i] = scaled_error(x, labels[j], lr, gensim_rule);
      if (want_loss) loss += logistic_loss(x, labels[j]);
    }
    for (int i = 0; i < B; ++i) axpy(gj[i], o, grad_in + i * D, D);
    multi_axpy(B, gj, h, o, D);
  }
  return loss;
}

namespace {

// Input vector of word w: its row, or (FastText) the mean of its rows written into `scratch`.
inline const float* input_vector(const Model& m, int32_t w, float* scratch) {
  const int64_t D = m.cfg.dim;
  if (!m.t.sub_offsets) return m.t.in + static_cast<int64_t>(w) * D;
  const int64_t s = m.t.sub_offsets[w], e = m.t.sub_offsets[w + 1];
  if (e - s == 1) return m.t.in + static_cast<int64_t>(m.t.sub_rows[s]) * D;
  std::memset(scratch, 0, sizeof(float) * D);
  for (int64_t k = s; k < e; ++k) axpy(1.0f, m.t.in + static_cast<int64_t>(m.t.sub_rows[k]) * D, scratch, D);
  const float inv = 1.0f / static_cast<float>(e - s);
  for (int64_t d = 0; d < D; ++d) scratch[d] *= inv;
  return scratch;
}

// Adds grad to every input row of word w (full gradient to each subword row, as fastText does).
inline void apply_input(const Model& m, int32_t w, const float* grad) {
  const int64_t D = m.cfg.dim;
  if (!m.t.sub_offsets) {
    axpy(1.0f, grad, m.t.in + static_cast<int64_t>(w) * D, D);
    return;
  }
  for (int64_t k = m.t.sub_offsets[w]; k < m.t.sub_offsets[w + 1]; ++k)
    axpy(1.0f, grad, m.t.in + static_cast<int64_t>(m.t.sub_rows[k]) * D, D);
}

inline void prefetch_row(const float* row, int64_t D) {
  const char* p = reinterpret_cast<const char*>(row);
  for (int64_t off = 0; off < D * static_cast<int64_t>(sizeof(float)); off += 64) __builtin_prefetch(p + off, 1, 3);
}

// Draws the negatives for the next position ahead of time and pulls their rows (and the next
// center's rows) towards the cache while the current block is computed.
inline void prepare_negatives(const Model& m, WorkerState& ws, int32_t center) {
  const int64_t D = m.cfg.dim;
  ws.next_negs.clear();
  for (int k = 0; k < m.cfg.negative; ++k) {
    const int32_t t = m.sampler.draw(ws.rng);
    if (t == center) continue;  // word2vec skips a negative that is the target itself
    ws.next_negs.push_back(t);
    prefetch_row(m.t.out_neg + static_cast<int64_t>(t) * D, D);
  }
  prefetch_row(m.t.out_neg + static_cast<int64_t>(center) * D, D);
}

// Output rows and labels for predicting `center`: its row and the negatives drawn for it by
// prepare_negatives (shared by the whole block), then the Huffman path.
inline void collect_outputs(const Model& m, WorkerState& ws, int32_t center, int& n_neg, int& n_hs) {
  const int64_t D = m.cfg.dim;
  ws.outs.clear();
  ws.labels.clear();
  n_neg = n_hs = 0;
  if (m.cfg.negative > 0) {
    ws.outs.push_back(m.t.out_neg + static_cast<int64_t>(center) * D);
    ws.labels.push_back(1.f);
    for (int32_t t : ws.next_negs) {
      ws.outs.push_back(m.t.out_neg + static_cast<int64_t>(t) * D);
      ws.labels.push_back(0.f);
    }
    n_neg = static_cast<int>(ws.outs.size());
  }
  if (m.cfg.hs) {
    const int64_t L = m.tree.path_length(center);
    const int32_t* pts = m.tree.points(center);
    const uint8_t* cds = m.tree.codes(center);
    for (int64_t k = 0; k < L; ++k) {
      ws.outs.push_back(m.t.out_hs + static_cast<int64_t>(pts[k]) * D);
      ws.labels.push_back(1.f - static_cast<float>(cds[k]));
    }
    n_hs = static_cast<int>(L);
  }
}

void train_sentence(const Model& m, WorkerState& ws, float lr) {
  const int64_t D = m.cfg.dim;
  const int n = static_cast<int>(ws.sentence.size());
  const int32_t* sen = ws.sentence.data();
  const bool want_loss = m.cfg.compute_loss;
  const bool gensim_rule = m.t.sub_offsets == nullptr;  // Word2Vec; FastText keeps the exact sigmoid
  if (m.cfg.negative > 0 && n > 0) prepare_negatives(m, ws, sen[0]);
  for (int pos = 0; pos < n; ++pos) {
    const int w = m.reach(ws.rng);
    const int lo = pos - w < 0 ? 0 : pos - w;
    const int hi = pos + w >= n ? n - 1 : pos + w;
    ws.ctx.clear();
    for (int c = lo; c <= hi; ++c)
      if (c != pos) ws.ctx.push_back(sen[c]);
    const int B = static_cast<int>(ws.ctx.size());
    const int32_t center = sen[pos];
    int n_neg = 0, n_hs = 0;
    if (B > 0) collect_outputs(m, ws, center, n_neg, n_hs);
    if (m.cfg.negative > 0 && pos + 1 < n) {
      prepare_negatives(m, ws, sen[pos + 1]);
      if (pos + w + 1 < n && !m.t.sub_offsets) prefetch_row(m.t.in + static_cast<int64_t>(sen[pos + w + 1]) * D, D);
    }
    if (B == 0) continue;
    if (m.cfg.sg) {
      // Skip-gram: each context word's input predicts the center word; the block shares the
      // center's negatives, so the updates become small B x M matrix products.
      for (int i = 0; i < B; ++i) ws.h[i] = input_vector(m, ws.ctx[i], ws.means.data() + i * D);
      std::memset(ws.grad_in.data(), 0, sizeof(float) * B * D);
      const int M = n_neg + n_hs;
      if (n_neg)
        ws.loss += block_update(D, B, ws.h.data(), n_neg, ws.outs.data(), ws.labels.data(), lr, ws.grad_in.data(),
                                ws.g.data(), want_loss, gensim_rule);
      if (n_hs)
        ws.loss += block_update(D, B, ws.h.data(), n_hs, ws.outs.data() + n_neg, ws.labels.data() + n_neg, lr,
                                ws.grad_in.data(), ws.g.data(), want_loss, gensim_rule);
      (void)M;
      for (int i = 0; i < B; ++i) apply_input(m, ws.ctx[i], ws.grad_in.data() + i * D);
      ws.examples += B;
    } else {
      // CBOW: the mean (or sum) of the context inputs predicts the center word.
      float* hid = ws.means.data();
      float* tmp = ws.means.data() + D;
      std::memset(hid, 0, sizeof(float) * D);
      for (int i = 0; i < B; ++i) axpy(1.0f, input_vector(m, ws.ctx[i], tmp), hid, D);
      if (m.cfg.cbow_mean) {
        const float inv = 1.0f / static_cast<float>(B);
        for (int64_t d = 0; d < D; ++d) hid[d] *= inv;
      }
      ws.h[0] = hid;
      std::memset(ws.grad_in.data(), 0, sizeof(float) * D);
      if (n_neg)
        ws.loss += block_update(D, 1, ws.h.data(), n_neg, ws.outs.data(), ws.labels.data(), lr, ws.grad_in.data(),
                                ws.g.data(), want_loss, gensim_rule);
      if (n_hs)
        ws.loss += block_update(D, 1, ws.h.data(), n_hs, ws.outs.data() + n_neg, ws.labels.data() + n_neg, lr,
                                ws.grad_in.data(), ws.g.data(), want_loss, gensim_rule);
      if (!m.cfg.cbow_mean) {
        // gensim's rule for the summed window (cbow_mean=0): the error is divided over the B
        // context rows; with the mean each row takes the whole error (word2vec.c, gensim, fastText).
        const float inv = 1.0f / static_cast<float>(B);
        for (int64_t d = 0; d < D; ++d) ws.grad_in[d] *= inv;
      }
      for (int i = 0; i < B; ++i) apply_input(m, ws.ctx[i], ws.grad_in.data());
      ws.examples += 1;
    }
  }
}

}  // namespace

void train_job(const Model& m, WorkerState& ws, const Job& job) {
  if (m.cfg.fail_at_job >= 0 && job.index == m.cfg.fail_at_job)
    throw std::runtime_error("injected worker failure at job " + std::to_string(job.index) +
                             " (fail_at_job test hook)");
  int64_t begin = 0;
  int64_t words = job.start_word;
  for (int64_t end : job.ends) {
    const float lr = m.lr_at(words);
    ws.sentence.clear();
    m.subsample(job.ids.data() + begin, end - begin, ws.rng, ws.sentence);
    words += end - begin;
    ws.words += end - begin;
    begin = end;
    if (ws.sentence.size() > 1) train_sentence(m, ws, lr);
  }
}

}  // namespace embedforge::core::w2v::EF_ISA_NS
