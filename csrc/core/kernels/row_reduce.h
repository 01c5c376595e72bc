// The embedding-bag backward: the gradient of each touched row reduced from the output gradient
// (reduce_row, shared with the fused optimizers), written as a dense table gradient or as
// row-sparse rows, and the per-sample-weight gradient. Compiled once per instruction set
// (through core/isa_kernels.h, which defines EF_ISA_NS in each isa_*.cpp).
#pragma once
#ifndef EF_ISA_NS
#error "define EF_ISA_NS before including core/kernels/row_reduce.h (see core/isa_kernels.h)"
#endif
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/embedding_bag.h"
#include "core/kernels/simd.h"

namespace embedforge::core::EF_ISA_NS {
namespace {

// Reduces the gradient of touched row number u into acc[0, D).
template <typename T>
inline void reduce_row(const BackwardArgs& a, const RowGroups& g, int64_t u, float* __restrict acc) {
  const int64_t D = a.dim;
  const T* go = static_cast<const T*>(a.grad_out);
  for (int64_t k = 0; k < D; ++k) acc[k] = 0.f;
  const int64_t q0 = g.seg[u], q1 = g.seg[u + 1];
  if (a.pool == Pool::kMax) {
    const int64_t r = g.rows[u];
    int64_t prev = -1;
    for (int64_t q = q0; q < q1; ++q) {
      const int64_t b = g.bag(a.bags, g.pos[q]);
      if (b == prev) continue;  // the same row twice in one bag supplies each maximum once
      prev = b;
      const T* __restrict gr = go + b * D;
      const int64_t* __restrict am = a.max_rows + b * D;
      for (int64_t k = 0; k < D; ++k) acc[k] += am[k] == r ? to_float(gr[k]) : 0.f;
    }
    return;
  }
  const float* psw = a.per_sample_weights;
  const bool mean = a.pool == Pool::kMean;
  for (int64_t q = q0; q < q1; ++q) {
    const int64_t j = g.pos[q];
    const int64_t b = g.bag(a.bags, j);
    float s = psw ? psw[j] : 1.f;
    if (mean) s *= g.bag_scale[b];
    const T* __restrict gr = go + b * D;
    for (int64_t k = 0; k < D; ++k) acc[k] += s * to_float(gr[k]);
  }
}

// Output this large is written with non-temporal stores where rows allow (float32, whole
// vectors, aligned): it will not be read back from the cache, and a plain store first reads each
// line from memory (the rows-gradient write ran at half the memory bandwidth).
constexpr size_t kStreamBytes = size_t{4} << 20;

// Writes acc[0, D) to dst with streaming stores and returns true, or returns false (the caller
// stores normally) when the row does not suit them. Callers call stream_fence() before handing over.
template <typename T>
inline bool stream_row(T* __restrict dst, const float* __restrict acc, int64_t D) {
#ifdef EF_HAVE_VEC
  if constexpr (std::is_same_v<T, float>) {
    constexpr int L = VecOps::kLanes;
    if (D % L != 0 || reinterpret_cast<uintptr_t>(dst) % (sizeof(float) * L) != 0) return false;
    for (int64_t k = 0; k < D; k += L) VecOps::stream(dst + k, VecOps::load(acc + k));
    return true;
  }
#endif
  (void)dst, (void)acc, (void)D;
  return false;
}

template <typename T>
void backward_dense_typed(const BackwardArgs& a, const RowGroups& g, void* grad_weight, bool zeroed,
                          const Parallel& par) {
  const int64_t V = a.num_rows, D = a.dim;
  T* gw = static_cast<T*>(grad_weight);
  // Row space is cut into chunks; a chunk's thread writes every row in it exactly once: reduced
  // gradients for touched rows, zeros for the rest.
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(std::max(1, par.threads) * 8, V / 256));
  const bool stream = static_cast<size_t>(V) * static_cast<size_t>(D) * sizeof(T) >= kStreamBytes;
  par.for_each(parts, [&](int64_t p0, int64_t p1) {
    std::vector<float> acc(static_cast<size_t>(D));
    const int64_t r0 = V * p0 / parts, r1 = V * p1 / parts;
    int64_t u = std::lower_bound(g.rows.begin(), g.rows.end(), r0) - g.rows.begin();
    int64_t r = r0;
    const int64_t U = g.num_rows_touched();
    while (r < r1) {
      const int64_t next = (u < U && g.rows[u] < r1) ? g.rows[u] : r1;
      if (next > r && !zeroed)
        std::memset(static_cast<void*>(gw + r * D), 0, static_cast<size_t>((next - r) * D) * sizeof(T));
      if (next == r1) break;
      reduce_row<T>(a, g, u, acc.data());
      T* dst = gw + next * D;
      if (!stream || !stream_row(dst, acc.data(), D))
        for (int64_t k = 0; k < D; ++k) dst[k] = from_float<T>(acc[k]);
      r = next + 1;
      ++u;
    }
    if (stream) stream_fence();
  });
}

template <typename T>
void backward_rows_typed(const BackwardArgs& a, const RowGroups& g, void* row_grads, const Parallel& par) {
  const int64_t D = a.dim;
  T* out = static_cast<T*>(row_grads);
  const bool stream = static_cast<size_t>(g.num_rows_touched()) * static_cast<size_t>(D) * sizeof(T) >= kStreamBytes;
  par.for_each(g.num_rows_touched(), [&](int64_t u0, int64_t u1) {
    std::vector<float> acc(static_cast<size_t>(D));
    for (int64_t u = u0; u < u1; ++u) {
      reduce_row<T>(a, g, u, acc.data());
      T* dst = out + u * D;
      if (stream && stream_row(dst, acc.data(), D)) continue;
      for (int64_t k = 0; k < D; ++k) dst[k] = from_float<T>(acc[k]);
    }
    if (stream) stream_fence();
  });
}

template <typename T>
void backward_psw_typed(const BackwardArgs& a, const void* weight, float* grad_psw, const Parallel& par) {
  const int64_t D = a.dim;
  const T* W = static_cast<const T*>(weight);
  const T* go = static_cast<const T*>(a.grad_out);
  const BagLayout& bags = a.bags;
  par.for_each(bags.num_bags, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t s = bags.bag_begin(b), e = bags.bag_end(b);
      int64_t count = 0;
      if (a.pool == Pool::kMean)
        for (int64_t j = s; j < e; ++j) count += bags.id(j) != bags.padding_idx;
      const float scale = (a.pool == Pool::kMean && count > 0) ? 1.f / static_cast<float>(count) : 1.f;
      const T* __restrict gr = go + b * D;
      for (int64_t j = s; j < e; ++j) {
        const int64_t r = bags.id(j);
        if (r == bags.padding_idx) {
          grad_psw[j] = 0.f;
          continue;
        }
        const T* __restrict row = W + r * D;
        float dot = 0.f;
        for (int64_t k = 0; k < D; ++k) dot += to_float(gr[k]) * to_float(row[k]);
        grad_psw[j] = dot * scale;
      }
    }
  });
}

}  // namespace

void backward_dense(const BackwardArgs& a, const RowGroups& g, void* gw, bool zeroed, const Parallel& par) {
  switch (a.dtype) {
    case DType::kFloat32: backward_dense_typed<float>(a, g, gw, zeroed, par); break;
    case DType::kBFloat16: backward_dense_typed<bf16>(a, g, gw, zeroed, par); break;
    case DType::kFloat16: backward_dense_typed<f16>(a, g, gw, zeroed, par); break;
  }
}

void backward_rows(const BackwardArgs& a, const RowGroups& g, void* rg, const Parallel& par) {
  switch (a.dtype) {
    case DType::kFloat32: backward_rows_typed<float>(a, g, rg, par); break;
    case DType::kBFloat16: backward_rows_typed<bf16>(a, g, rg, par); break;
    case DType::kFloat16: backward_rows_typed<f16>(a, g, rg, par); break;
  }
}

void backward_psw(const BackwardArgs& a, const void* weight, float* grad_psw, const Parallel& par) {
  switch (a.dtype) {
    case DType::kFloat32: backward_psw_typed<float>(a, weight, grad_psw, par); break;
    case DType::kBFloat16: backward_psw_typed<bf16>(a, weight, grad_psw, par); break;
    case DType::kFloat16: backward_psw_typed<f16>(a, weight, grad_psw, par); break;
  }
}

}  // namespace embedforge::core::EF_ISA_NS
