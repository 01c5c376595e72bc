#include "core/word2vec/sgns_batch.h"

#include <cmath>
#include <cstring>

namespace embedforge::core::w2v {

namespace {
inline double log_sigmoid(double x) { return x >= 0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x)); }
}  // namespace

void sgns_batch_step(const SgnsBatch& b, float* scratch) {
  const int64_t D = b.dim, N = b.n, K = b.k, M = K + 1;
  float* g = scratch;                // [N, M]
  float* grad_in = scratch + N * M;  // [N, D]
  auto out_row = [&](int64_t i, int64_t j) { return b.out + (j == 0 ? b.centers[i] : b.negatives[j - 1]) * D; };
  for (int64_t i = 0; i < N; ++i) {
    const float* h = b.in + b.contexts[i] * D;
    double loss = 0;
    for (int64_t j = 0; j < M; ++j) {
      const float* o = out_row(i, j);
      float x = 0.f;
      for (int64_t d = 0; d < D; ++d) x += h[d] * o[d];
      const float label = j == 0 ? 1.f : 0.f;
      g[i * M + j] = b.lr * (label - 1.0f / (1.0f + std::exp(-x)));
      loss -= log_sigmoid(j == 0 ? x : -x);
    }
    if (b.loss) b.loss[i] = static_cast<float>(loss);
    float* gi = grad_in + i * D;
    std::memset(gi, 0, sizeof(float) * D);
    for (int64_t j = 0; j < M; ++j) {
      const float* o = out_row(i, j);
      const float s = g[i * M + j];
      for (int64_t d = 0; d < D; ++d) gi[d] += s * o[d];
    }
  }
  // Output rows: out_j += sum_i g_ij h_i, with the inputs still unchanged.
  for (int64_t i = 0; i < N; ++i) {
    const float* h = b.in + b.contexts[i] * D;
    for (int64_t j = 0; j < M; ++j) {
      float* o = out_row(i, j);
      const float s = g[i * M + j];
      for (int64_t d = 0; d < D; ++d) o[d] += s * h[d];
    }
  }
  for (int64_t i = 0; i < N; ++i) {
    float* h = b.in + b.contexts[i] * D;
    const float* gi = grad_in + i * D;
    for (int64_t d = 0; d < D; ++d) h[d] += gi[d];
  }
}

}  // namespace embedforge::core::w2v
