#include "core/word2vec/unigram_sampler.h"

#include <cmath>
#include <stdexcept>

namespace embedforge::core::w2v {

UnigramSampler::UnigramSampler(const int64_t* counts, int64_t n, double power) : n_(static_cast<uint64_t>(n)) {
  if (n <= 0) throw std::invalid_argument("the negative sampler needs a non-empty vocabulary");
  prob_.resize(n);
  double total = 0;
  for (int64_t i = 0; i < n; ++i)
    total += prob_[i] = std::pow(static_cast<double>(counts[i] > 0 ? counts[i] : 0), power);
  if (!(total > 0)) {  // all counts zero: uniform
    for (auto& p : prob_) p = 1.0;
    total = static_cast<double>(n);
  }
  for (auto& p : prob_) p /= total;
  // Walker / Vose alias construction on scaled probabilities n*p.
  std::vector<double> scaled(n);
  std::vector<int32_t> small, large;
  for (int64_t i = 0; i < n; ++i) {
    scaled[i] = prob_[i] * static_cast<double>(n);
    (scaled[i] < 1.0 ? small : large).push_back(static_cast<int32_t>(i));
  }
  keep_.assign(n, 0xFFFFFFFFu);
  alias_.resize(n);
  for (int64_t i = 0; i < n; ++i) alias_[i] = static_cast<int32_t>(i);
  while (!small.empty() && !large.empty()) {
    const int32_t s = small.back();
    small.pop_back();
    const int32_t l = large.back();
    large.pop_back();
    keep_[s] = static_cast<uint32_t>(std::min(4294967295.0, std::floor(scaled[s] * 4294967296.0)));
    alias_[s] = l;
    scaled[l] = (scaled[l] + scaled[s]) - 1.0;
    (scaled[l] < 1.0 ? small : large).push_back(l);
  }
  // Leftovers are 1 up to rounding: always keep themselves.
}

double UnigramSampler::probability(int64_t i) const { return prob_.at(static_cast<size_t>(i)); }

}  // namespace embedforge::core::w2v
