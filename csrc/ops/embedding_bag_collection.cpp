// CPU adapter of the collection lookup: validate every table and the jagged batch, then one core
// call pools all (feature, bag) items in one parallel region.
#include <torch/csrc/stable/library.h>

#include <cstdint>
#include <vector>

#include "core/embedding_bag_collection.h"
#include "ops/tensor_checks.h"
#include "ops/torch_parallel.h"

namespace embedforge::ops {
namespace {

Tensor embedding_bag_collection_cpu(std::vector<Tensor> weights, Tensor values, Tensor offsets,
                                    std::vector<int64_t> feature_table, std::vector<int64_t> feature_pool,
                                    std::vector<int64_t> feature_padding_idx, std::optional<Tensor> per_sample_weights,
                                    int64_t batch_size) {
  EF_CHECK(!weights.empty(), "ValueError", "weights must hold at least one table");
  const int64_t F = static_cast<int64_t>(feature_table.size());
  EF_CHECK(static_cast<int64_t>(feature_pool.size()) == F && static_cast<int64_t>(feature_padding_idx.size()) == F,
           "ValueError", "feature_table, feature_pool and feature_padding_idx must have one entry per feature");
  EF_CHECK(batch_size >= 0, "ValueError", "batch_size=", batch_size, " must be >= 0");
  {
    int64_t fb = 0;
    EF_CHECK(!__builtin_mul_overflow(F, batch_size, &fb) && fb < INT64_MAX, "ValueError", "features x batch_size + 1 (",
             F, " x ", batch_size, " + 1) overflows a 64-bit size");
    EF_CHECK(offsets.numel() == fb + 1, "ValueError", "offsets must hold features x batch_size + 1 = ", fb + 1,
             " entries, got ", offsets.numel());
  }
  core::CollectionArgs a;
  std::vector<Tensor> keep;
  a.dtype = table_dtype(weights[0], "weights[0]");
  for (size_t t = 0; t < weights.size(); ++t) {
    const Tensor& w = weights[t];
    EF_CHECK(w.dim() == 2, "ValueError", "weights[", t, "] must be 2-D, got a ", w.dim(), "-D tensor");
    check_cpu(w, "weights");
    EF_CHECK(w.scalar_type() == weights[0].scalar_type(), "TypeError", "weights[", t, "] is ",
             scalar_type_name(w.scalar_type()), " but weights[0] is ", scalar_type_name(weights[0].scalar_type()),
             "; all tables of a collection share a dtype");
    keep.push_back(contig(w));
    a.tables.push_back({keep.back().data_ptr(), w.size(0), w.size(1)});
  }
  int64_t col = 0;
  for (int64_t f = 0; f < F; ++f) {
    const int64_t t = feature_table[f];
    EF_CHECK(t >= 0 && t < static_cast<int64_t>(weights.size()), "ValueError", "feature_table[", f, "]=", t,
             " is not a table index (", weights.size(), " tables)");
    const int64_t pool = feature_pool[f];
    EF_CHECK(pool == 0 || pool == 1, "ValueError", "feature_pool[", f, "]=", pool,
             " must be 0 (sum) or 1 (mean) in a collection");
    const int64_t pad = feature_padding_idx[f];
    EF_CHECK(pad >= -1 && pad < a.tables[t].num_rows, "ValueError", "feature_padding_idx[", f, "]=", pad,
             " is out of range for a table of ", a.tables[t].num_rows, " rows");
    a.features.push_back({t, static_cast<core::Pool>(pool), pad, col});
    col += a.tables[t].dim;
  }
  check_index_tensor(values, "values");
  check_index_tensor(offsets, "offsets");
  check_dim(values, "values", 1);
  check_dim(offsets, "offsets", 1);
  check_cpu(values, "values");
  check_cpu(offsets, "offsets");
  EF_CHECK(values.scalar_type() == offsets.scalar_type(), "TypeError", "offsets must have the dtype of values");
  const Tensor v = contig(values), o = contig(offsets);
  a.values = v.data_ptr();
  a.offsets = o.data_ptr();
  a.int64_ids = values.scalar_type() == ScalarType::Long;
  a.num_values = values.numel();
  a.batch = batch_size;
  a.out_dim = col;
  std::optional<Tensor> psw;
  if (per_sample_weights.has_value()) {
    const Tensor& w = *per_sample_weights;
    check_cpu(w, "per_sample_weights");
    EF_CHECK(w.dim() == 1 && w.numel() == values.numel(), "ValueError",
             "per_sample_weights must be 1-D with one weight per value (", values.numel(), ")");
    EF_CHECK(w.scalar_type() == ScalarType::Float, "TypeError", "per_sample_weights must be float32, got ",
             scalar_type_name(w.scalar_type()));
    psw = contig(w);
    a.per_sample_weights = static_cast<const float*>(psw->data_ptr());
  }
  checked_size(batch_size, col, static_cast<int64_t>(keep[0].element_size()), "the output (batch_size x total dim)");
  const core::Parallel par = torch_parallel();
  const std::string err = core::check_collection(a, offsets.numel(), par);
  EF_CHECK(err.empty(),
           err.find("out of range") != std::string::npos || err.find("negative") != std::string::npos ? "IndexError"
                                                                                                      : "ValueError",
           err);
  Tensor out = torch::stable::new_empty(keep[0], {batch_size, col});
  core::embedding_bag_collection_forward(a, out.data_ptr(), par);
  return out;
}

}  // namespace

STABLE_TORCH_LIBRARY_IMPL(embedforge, CPU, m) {
  m.impl("embedding_bag_collection", TORCH_BOX(&embedding_bag_collection_cpu));
}

}  // namespace embedforge::ops
