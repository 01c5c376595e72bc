// Many embedding tables looked up from one jagged batch in one parallel region.
//
// A batch holds F features × B bags. Feature f is pooled from table feature_table[f]; its bags are
// items f*B .. f*B+B-1 of one offsets array over `values` (F*B+1 entries, the last the end), so
// feature f's ids are values[offsets[f*B] : offsets[(f+1)*B]]. The output is [B, sum of the
// features' dims], feature f in columns [col_offset[f], col_offset[f] + dim of its table).
// Work is split over all (feature, bag) items at once, balanced by ids, so two threads stay busy
// even when one table dominates the batch.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/embedding_bag.h"
#include "core/parallel.h"

namespace embedforge::core {

struct CollectionTable {
  const void* weight = nullptr;  // [num_rows, dim], row-contiguous, CollectionArgs::dtype
  int64_t num_rows = 0;
  int64_t dim = 0;
};

struct CollectionFeature {
  int64_t table = 0;         // index into CollectionArgs::tables
  Pool pool = Pool::kSum;    // kSum or kMean
  int64_t padding_idx = -1;  // ids equal to it are skipped (and not counted by mean); -1 for none
  int64_t col_offset = 0;    // first output column
};

struct CollectionArgs {
  std::vector<CollectionTable> tables;
  std::vector<CollectionFeature> features;
  DType dtype = DType::kFloat32;
  const void* values = nullptr;   // int32 or int64
  const void* offsets = nullptr;  // same type, F*B+1 entries
  bool int64_ids = true;
  int64_t num_values = 0;
  int64_t batch = 0;                          // B
  int64_t out_dim = 0;                        // sum of the features' dims
  const float* per_sample_weights = nullptr;  // [num_values] or nullptr

  int64_t value(int64_t j) const {
    return int64_ids ? static_cast<const int64_t*>(values)[j] : static_cast<const int32_t*>(values)[j];
  }
  int64_t offset(int64_t i) const {
    return int64_ids ? static_cast<const int64_t*>(offsets)[i] : static_cast<const int32_t*>(offsets)[i];
  }
};

// Caller-error checks ("" when fine): offsets start at 0, never decrease, end within values; every
// value lies in its feature's table. Messages name the position, the value and the feature.
std::string check_collection(const CollectionArgs& a, int64_t num_offsets, const Parallel& par);

// out: [batch, out_dim] of a.dtype.
void embedding_bag_collection_forward(const CollectionArgs& a, void* out, const Parallel& par);

}  // namespace embedforge::core
