// Negative sampling from the unigram distribution raised to a power (word2vec uses 0.75), by
// Walker's alias method: O(1) per draw, two arrays of vocabulary size (no 10^8-entry table).
#pragma once
#include <cstdint>
#include <vector>

#include "core/word2vec/rng.h"

namespace embedforge::core::w2v {

class UnigramSampler {
 public:
  UnigramSampler() = default;
  UnigramSampler(const int64_t* counts, int64_t n, double power);

  inline int32_t draw(Rng& rng) const {
    const uint64_t r = rng.next();
    const uint32_t i = static_cast<uint32_t>(((r >> 32) * n_) >> 32);
    return static_cast<uint32_t>(r) < keep_[i] ? static_cast<int32_t>(i) : alias_[i];
  }
  int64_t size() const { return static_cast<int64_t>(n_); }
  // Probability of drawing word i (for tests).
  double probability(int64_t i) const;

 private:
  uint64_t n_ = 0;
  std::vector<uint32_t> keep_;  // threshold on 32 random bits: keep i, else take alias_[i]
  std::vector<int32_t> alias_;
  std::vector<double> prob_;
};

}  // namespace embedforge::core::w2v
