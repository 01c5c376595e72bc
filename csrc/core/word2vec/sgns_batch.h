// A batched skip-gram negative-sampling step over N (center, context) pairs that share K negatives,
// the building block of the GPU path (and its CPU reference kernel). Semantics: every scaled error
// is computed from the tables as they were before the step; then each touched row receives the sum
// of its updates. With centers/contexts/negatives as given this is a plain synchronous SGD step.
#pragma once
#include <cstdint>

namespace embedforge::core::w2v {

struct SgnsBatch {
  float* in = nullptr;   // [in_rows, D] input vectors (syn0), updated in place
  float* out = nullptr;  // [out_rows, D] output vectors (syn1neg), updated in place
  int64_t dim = 0;
  const int64_t* centers = nullptr;    // [N] predicted words (rows of out, label 1)
  const int64_t* contexts = nullptr;   // [N] input words (rows of in)
  const int64_t* negatives = nullptr;  // [K] rows of out, label 0, shared by the batch
  int64_t n = 0;
  int64_t k = 0;
  float lr = 0.f;
  float* loss = nullptr;  // [N] -log sigmoid(pos) - sum log sigmoid(-neg), per pair
};

// Runs the step; `scratch` holds n*(k+1) + n*dim floats.
void sgns_batch_step(const SgnsBatch& b, float* scratch);

}  // namespace embedforge::core::w2v
