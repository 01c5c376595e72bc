// CPU adapter of the batched skip-gram negative-sampling step: validate, then call core.
#include <torch/csrc/stable/library.h>

#include <cmath>
#include <vector>

#include "core/word2vec/sgns_batch.h"
#include "ops/tensor_checks.h"

namespace embedforge::ops {

namespace {

void check_table(const Tensor& t, const char* name) {
  check_cpu(t, name);
  EF_CHECK(t.scalar_type() == ScalarType::Float, "TypeError", name, " must be float32, got ",
           scalar_type_name(t.scalar_type()));
  check_dim(t, name, 2);
  EF_CHECK(t.is_contiguous(), "ValueError", name, " must be contiguous (it is updated in place)");
}

const int64_t* checked_ids(const Tensor& t, const char* name, int64_t rows, const char* table) {
  check_cpu(t, name);
  EF_CHECK(t.scalar_type() == ScalarType::Long, "TypeError", name, " must be int64, got ",
           scalar_type_name(t.scalar_type()));
  check_dim(t, name, 1);
  EF_CHECK(t.is_contiguous(), "ValueError", name, " must be contiguous");
  const int64_t* p = static_cast<const int64_t*>(t.data_ptr());
  for (int64_t i = 0; i < t.numel(); ++i)
    EF_CHECK(p[i] >= 0 && p[i] < rows, "IndexError", name, "[", i, "]=", p[i], " is out of range for ", table, " of ",
             rows, " rows");
  return p;
}

}  // namespace

Tensor sgns_step_cpu(Tensor in_table, Tensor out_table, Tensor centers, Tensor contexts, Tensor negatives, double lr) {
  EF_CHECK(std::isfinite(lr) && lr >= 0, "ValueError", "lr=", lr, " must be a finite number >= 0");
  check_table(in_table, "in_table");
  check_table(out_table, "out_table");
  EF_CHECK(in_table.size(1) == out_table.size(1), "ValueError", "in_table and out_table must have the same width, got ",
           in_table.size(1), " and ", out_table.size(1));
  core::w2v::SgnsBatch b;
  b.dim = in_table.size(1);
  b.n = centers.numel();
  b.k = negatives.numel();
  EF_CHECK(contexts.numel() == b.n, "ValueError", "centers and contexts must have the same length, got ", b.n, " and ",
           contexts.numel());
  b.centers = checked_ids(centers, "centers", out_table.size(0), "out_table");
  b.contexts = checked_ids(contexts, "contexts", in_table.size(0), "in_table");
  b.negatives = checked_ids(negatives, "negatives", out_table.size(0), "out_table");
  b.in = static_cast<float*>(in_table.data_ptr());
  b.out = static_cast<float*>(out_table.data_ptr());
  b.lr = static_cast<float>(lr);
  Tensor loss = torch::stable::new_empty(in_table, {b.n});
  b.loss = static_cast<float*>(loss.data_ptr());
  std::vector<float> scratch(static_cast<size_t>(b.n * (b.k + 1) + b.n * b.dim));
  core::w2v::sgns_batch_step(b, scratch.data());
  return loss;
}

STABLE_TORCH_LIBRARY_IMPL(embedforge, CPU, m) { m.impl("sgns_step", TORCH_BOX(&sgns_step_cpu)); }

}  // namespace embedforge::ops
