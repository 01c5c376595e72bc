// The fused optimizer kernels, compiled once per instruction set with the embedding-bag kernels
// (through core/isa_kernels.h, in each isa_*.cpp); they reuse reduce_row from kernels/row_reduce.h.
// fused_optim.cpp calls them through the kernel table (isa_table.h).
//
// Each optimizer is a "sink" for reduced row gradients: update_row<K> receives the gradient of one
// touched row (reduced in position order by reduce_row) and updates that row's weight and state.
#pragma once
#ifndef EF_ISA_NS
#error "define EF_ISA_NS before including fused_optim_kernels.h (see core/isa_kernels.h)"
#endif
#include <cmath>
#include <type_traits>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "core/fused_optim.h"
#include "core/kernels/row_reduce.h"

namespace embedforge::core::EF_ISA_NS {
namespace {

// Rounds an updated bfloat16 / float16 row back into the table.
template <typename T>
inline void store_row(T* __restrict dst, const float* __restrict src, int64_t D, const OptimArgs& o, int64_t r) {
  if (o.stochastic_rounding) {
    for (int64_t k = 0; k < D; ++k) {
      const uint32_t bits = rounding_bits(o.seed, static_cast<uint64_t>(r), static_cast<uint64_t>(k));
      if constexpr (std::is_same_v<T, bf16>)
        dst[k] = bf16_round_stochastic(src[k], bits);
      else
        dst[k] = f16_round_stochastic(src[k], bits);
    }
  } else {
    for (int64_t k = 0; k < D; ++k) dst[k] = from_float<T>(src[k]);
  }
}

// Bias corrections 1 - beta^t, in double so long runs do not lose them to float rounding.
struct AdamScale {
  float step_size = 0.f;     // lr / (1 - beta1^t)
  float inv_sqrt_bc2 = 0.f;  // 1 / sqrt(1 - beta2^t)
};
inline AdamScale adam_scale(const OptimArgs& o, int64_t t) {
  const double bc1 = 1.0 - std::pow(static_cast<double>(o.beta1), static_cast<double>(t));
  const double bc2 = 1.0 - std::pow(static_cast<double>(o.beta2), static_cast<double>(t));
  return {static_cast<float>(o.lr / bc1), static_cast<float>(1.0 / std::sqrt(bc2))};
}

// Per-row counts (lazy Adam) need a bias correction per touched row: small counts, the common
// case, come from a table built once per step; larger ones are computed.
struct AdamScaleTable {
  static constexpr int64_t kSize = 64;
  AdamScale by_step[kSize];
  void build(const OptimArgs& o) {
    for (int64_t t = 1; t < kSize; ++t) by_step[t] = adam_scale(o, t);
  }
  AdamScale get(const OptimArgs& o, int64_t t) const { return t < kSize ? by_step[t] : adam_scale(o, t); }
};

// Sum of g[k]² over a row in 16 interleaved partial sums folded pairwise: no serial chain of D
// dependent adds (a float sum is not reassociated by the compiler), and a fixed order.
inline float sum_squares(const float* __restrict g, int64_t D) {
  constexpr int kLanes = 16;
  float part[kLanes];
  for (int l = 0; l < kLanes; ++l) part[l] = 0.f;
  int64_t k = 0;
  for (; k + kLanes <= D; k += kLanes)
    for (int l = 0; l < kLanes; ++l) part[l] += g[k + l] * g[k + l];
  for (int l = 0; l < kLanes && k < D; ++l, ++k) part[l] += g[k] * g[k];  // the < kLanes left
  for (int w = kLanes / 2; w > 0; w /= 2)
    for (int l = 0; l < w; ++l) part[l] += part[l + w];
  return part[0];
}

#if defined(__AVX512F__)
// 1 / (sqrt(x) * a + eps) for x >= 0, from the hardware estimates refined by one Newton step each
// (a few ulp; sqrt and divide cost ~20 cycles a vector, this ~6). x = 0, +inf and NaN take the
// exact path's values (1/eps, 0, NaN).
inline __m512 recip_sqrt_affine(__m512 x, __m512 a, __m512 eps) {
  const __m512 inf = _mm512_set1_ps(INFINITY);
  const __mmask16 mid = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ) & _mm512_cmp_ps_mask(x, inf, _CMP_LT_OQ);
  __m512 y = _mm512_maskz_rsqrt14_ps(0xFFFF, x);  // maskz form: GCC 12 warns about the plain one
  const __m512 hx = _mm512_mul_ps(x, _mm512_set1_ps(0.5f));
  y = _mm512_mul_ps(y, _mm512_fnmadd_ps(_mm512_mul_ps(hx, y), y, _mm512_set1_ps(1.5f)));
  const __m512 root = _mm512_mask_mul_ps(x, mid, x, y);
  const __m512 d = _mm512_fmadd_ps(root, a, eps);
  const __m512 r = _mm512_rcp14_ps(d);
  const __mmask16 finite = _mm512_cmp_ps_mask(d, inf, _CMP_LT_OQ);
  return _mm512_mask_mul_ps(r, finite, r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.f)));
}

// Adagrad and Adam on one float32 row of compile-time width DK (a multiple of 16), g its reduced
// gradient: the same update as update_row with the reciprocal square root above.
template <int DK, OptimKind K>
inline void update_row_avx512(float* __restrict w, const float* __restrict g_in, const OptimArgs& o, int64_t r,
                              const AdamScale& global_scale, const AdamScaleTable& row_scales) {
  static_assert(DK % 16 == 0);
  const __m512 lr = _mm512_set1_ps(o.lr), eps = _mm512_set1_ps(o.eps), wd = _mm512_set1_ps(o.weight_decay);
  const bool decay = o.weight_decay != 0.f;
  if constexpr (K == OptimKind::kAdagrad) {
    float* __restrict s = o.state0 + r * DK;
    const __m512 one = _mm512_set1_ps(1.f);
    for (int k = 0; k < DK; k += 16) {
      const __m512 wk = _mm512_loadu_ps(w + k);
      __m512 gk = _mm512_loadu_ps(g_in + k);
      if (decay) gk = _mm512_fmadd_ps(wd, wk, gk);
      const __m512 sk = _mm512_fmadd_ps(gk, gk, _mm512_loadu_ps(s + k));
      _mm512_storeu_ps(s + k, sk);
      _mm512_storeu_ps(w + k, _mm512_fnmadd_ps(_mm512_mul_ps(lr, gk), recip_sqrt_affine(sk, one, eps), wk));
    }
  } else {
    static_assert(K == OptimKind::kAdam);
    AdamScale sc = global_scale;
    if (o.per_row_step) sc = row_scales.get(o, ++o.row_step[r]);
    float* __restrict m = o.state0 + r * DK;
    float* __restrict v = o.state1 + r * DK;
    const __m512 b1 = _mm512_set1_ps(o.beta1), b2 = _mm512_set1_ps(o.beta2);
    const __m512 c1 = _mm512_set1_ps(1.f - o.beta1), c2 = _mm512_set1_ps(1.f - o.beta2);
    const __m512 step = _mm512_set1_ps(sc.step_size), bc2 = _mm512_set1_ps(sc.inv_sqrt_bc2);
    for (int k = 0; k < DK; k += 16) {
      const __m512 wk = _mm512_loadu_ps(w + k);
      __m512 gk = _mm512_loadu_ps(g_in + k);
      if (decay) gk = _mm512_fmadd_ps(wd, wk, gk);
      const __m512 mk = _mm512_fmadd_ps(b1, _mm512_loadu_ps(m + k), _mm512_mul_ps(c1, gk));
      const __m512 vk = _mm512_fmadd_ps(b2, _mm512_loadu_ps(v + k), _mm512_mul_ps(_mm512_mul_ps(c2, gk), gk));
      _mm512_storeu_ps(m + k, mk);
      _mm512_storeu_ps(v + k, vk);
      _mm512_storeu_ps(w + k, _mm512_fnmadd_ps(_mm512_mul_ps(step, mk), recip_sqrt_affine(vk, bc2, eps), wk));
    }
  }
  (void)lr;
}
#endif

// One touched row r: g[0, D) is its reduced gradient (overwritten), nw[0, D) scratch.
template <OptimKind K, typename T>
inline void update_row(T* __restrict w, float* __restrict g, float* __restrict scratch, const OptimArgs& o, int64_t r,
                       int64_t D, const AdamScale& global_scale, const AdamScaleTable& row_scales) {
  // float32 rows are updated in place; narrower rows are widened into scratch and rounded back.
  float* __restrict nw;
  if constexpr (std::is_same_v<T, float>) {
    nw = w;
  } else {
    nw = scratch;
    for (int64_t k = 0; k < D; ++k) nw[k] = to_float(w[k]);
  }
  const float lr = o.lr, eps = o.eps, wd = o.weight_decay;
  if (wd != 0.f)
    for (int64_t k = 0; k < D; ++k) g[k] += wd * nw[k];
  if constexpr (K == OptimKind::kSgd) {
    for (int64_t k = 0; k < D; ++k) nw[k] -= lr * g[k];
  } else if constexpr (K == OptimKind::kAdagrad) {
    float* __restrict s = o.state0 + r * D;
    for (int64_t k = 0; k < D; ++k) {
      const float sk = s[k] + g[k] * g[k];
      s[k] = sk;
      nw[k] -= lr * g[k] / (std::sqrt(sk) + eps);
    }
  } else if constexpr (K == OptimKind::kRowWiseAdagrad) {
    const float sq = sum_squares(g, D);
    const float s = o.state0[r] + sq / static_cast<float>(D);
    o.state0[r] = s;
    const float scale = lr / (std::sqrt(s) + eps);
    for (int64_t k = 0; k < D; ++k) nw[k] -= scale * g[k];
  } else {
    static_assert(K == OptimKind::kAdam);
    AdamScale sc = global_scale;
    if (o.per_row_step) sc = row_scales.get(o, ++o.row_step[r]);
    float* __restrict m = o.state0 + r * D;
    float* __restrict v = o.state1 + r * D;
    const float b1 = o.beta1, b2 = o.beta2;
    for (int64_t k = 0; k < D; ++k) {
      const float mk = b1 * m[k] + (1.f - b1) * g[k];
      const float vk = b2 * v[k] + (1.f - b2) * g[k] * g[k];
      m[k] = mk;
      v[k] = vk;
      nw[k] -= sc.step_size * mk / (std::sqrt(vk) * sc.inv_sqrt_bc2 + eps);
    }
  }
  if constexpr (!std::is_same_v<T, float>) store_row(w, nw, D, o, r);
}

constexpr int64_t kRowsAhead = 12;

inline void prefetch_bytes(const void* p, int64_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (int64_t off = 0; off < bytes; off += 64) __builtin_prefetch(c + off, 1, 1);
}

template <OptimKind K, typename T>
inline void prefetch_state(const T* W, const OptimArgs& o, int64_t r, int64_t D) {
  const int64_t row_bytes = D * static_cast<int64_t>(sizeof(T));
  prefetch_bytes(W + r * D, row_bytes);
  if constexpr (K == OptimKind::kAdagrad) prefetch_bytes(o.state0 + r * D, D * 4);
  if constexpr (K == OptimKind::kRowWiseAdagrad) __builtin_prefetch(o.state0 + r, 1, 1);
  if constexpr (K == OptimKind::kAdam) {
    prefetch_bytes(o.state0 + r * D, D * 4);
    prefetch_bytes(o.state1 + r * D, D * 4);
    if (o.per_row_step) __builtin_prefetch(o.row_step + r, 1, 1);
  }
}

// Reduce + update of touched rows [u0, u1) of a float32 table whose dim DK is a compile-time
// constant (the common widths): the gradient accumulator lives in vector registers and every loop
// over the row is unrolled. Sum and mean pooling only (max goes through reduce_row). The
// accumulation is the expression of reduce_row, in the same order, so the bits are the same.
template <int DK, OptimKind K, bool kPsw, bool kMean>
void fused_rows_fixed(const BackwardArgs& a, const RowGroups& g, float* W, const OptimArgs& o, int64_t u0, int64_t u1,
                      const AdamScale& global_scale, const AdamScaleTable& row_scales) {
  const float* __restrict go = static_cast<const float*>(a.grad_out);
  const uint32_t* __restrict pos = g.pos.data();
  const int64_t* __restrict seg = g.seg.data();
  const int64_t* __restrict rows = g.rows.data();
  const int32_t* __restrict bag_of = a.bags.offsets ? g.bag_of.data() : nullptr;
  const int64_t L = a.bags.bag_size;
  const float* __restrict psw = a.per_sample_weights;
  const float* __restrict bag_scale = kMean ? g.bag_scale.data() : nullptr;
  for (int64_t u = u0; u < u1; ++u) {
    const int64_t r = rows[u];
    if (u + kRowsAhead < u1) prefetch_state<K>(W, o, rows[u + kRowsAhead], DK);
#if defined(__AVX512F__)
    // The row's gradient in DK/16 zmm registers (GCC keeps the float array below in 16 scalar
    // registers, one add per column). Same operations in the same order as reduce_row: the
    // fused multiply-add is what that loop compiles to here, and with s == 1 it is an exact add.
    {
      constexpr int NV = DK / 16;
      __m512 vacc[NV];
      for (int v = 0; v < NV; ++v) vacc[v] = _mm512_setzero_ps();
      const int64_t q1 = seg[u + 1];
      for (int64_t q = seg[u]; q < q1; ++q) {
        const int64_t j = pos[q];
        const int64_t b = bag_of ? bag_of[j] : j / L;
        const float* __restrict gr = go + b * DK;
        if constexpr (kPsw || kMean) {
          float sc = kPsw ? psw[j] : 1.f;
          if constexpr (kMean) sc *= bag_scale[b];
          const __m512 sv = _mm512_set1_ps(sc);
          for (int v = 0; v < NV; ++v) vacc[v] = _mm512_fmadd_ps(sv, _mm512_loadu_ps(gr + 16 * v), vacc[v]);
        } else {
          for (int v = 0; v < NV; ++v) vacc[v] = _mm512_add_ps(vacc[v], _mm512_loadu_ps(gr + 16 * v));
        }
      }
      float* __restrict wr = W + r * DK;
      if constexpr (K == OptimKind::kSgd) {  // w -= lr * (g + wd * w), as update_row
        const __m512 lr = _mm512_set1_ps(o.lr), wd = _mm512_set1_ps(o.weight_decay);
        const bool decay = o.weight_decay != 0.f;
        for (int v = 0; v < NV; ++v) {
          const __m512 wv = _mm512_loadu_ps(wr + 16 * v);
          const __m512 g = decay ? _mm512_fmadd_ps(wd, wv, vacc[v]) : vacc[v];
          _mm512_storeu_ps(wr + 16 * v, _mm512_fnmadd_ps(lr, g, wv));
        }
        continue;
      }
      alignas(64) float acc[DK];
      for (int v = 0; v < NV; ++v) _mm512_store_ps(acc + 16 * v, vacc[v]);
      if constexpr (K == OptimKind::kAdagrad || K == OptimKind::kAdam) {
        update_row_avx512<DK, K>(wr, acc, o, r, global_scale, row_scales);
      } else {
        update_row<K, float>(wr, acc, nullptr, o, r, DK, global_scale, row_scales);
      }
      continue;
    }
#endif
    float acc[DK];
    for (int k = 0; k < DK; ++k) acc[k] = 0.f;
    const int64_t q1 = seg[u + 1];
    for (int64_t q = seg[u]; q < q1; ++q) {
      const int64_t j = pos[q];
      const int64_t b = bag_of ? bag_of[j] : j / L;
      float s = kPsw ? psw[j] : 1.f;
      if constexpr (kMean) s *= bag_scale[b];
      const float* __restrict gr = go + b * DK;
      for (int k = 0; k < DK; ++k) acc[k] += s * gr[k];
    }
#if defined(__AVX512F__)
    if constexpr (K == OptimKind::kAdagrad || K == OptimKind::kAdam) {
      update_row_avx512<DK, K>(W + r * DK, acc, o, r, global_scale, row_scales);
      continue;
    }
#endif
    update_row<K, float>(W + r * DK, acc, nullptr, o, r, DK, global_scale, row_scales);
  }
}

// Picks the fixed-width kernel for this batch, or returns false (other dims, max pooling, narrow
// tables) to leave it to the generic loop.
template <OptimKind K, typename T>
bool fused_rows_fast(const BackwardArgs& a, const RowGroups& g, T* W, const OptimArgs& o, int64_t u0, int64_t u1,
                     const AdamScale& gs, const AdamScaleTable& rs) {
  if constexpr (!std::is_same_v<T, float>) {
    return false;
  } else {
    if (a.pool == Pool::kMax) return false;
    const bool psw = a.per_sample_weights != nullptr, mean = a.pool == Pool::kMean;
    auto run = [&](auto dk) {
      constexpr int DK = decltype(dk)::value;
      if (psw && mean)
        fused_rows_fixed<DK, K, true, true>(a, g, W, o, u0, u1, gs, rs);
      else if (psw)
        fused_rows_fixed<DK, K, true, false>(a, g, W, o, u0, u1, gs, rs);
      else if (mean)
        fused_rows_fixed<DK, K, false, true>(a, g, W, o, u0, u1, gs, rs);
      else
        fused_rows_fixed<DK, K, false, false>(a, g, W, o, u0, u1, gs, rs);
      return true;
    };
    switch (a.dim) {
      case 16: return run(std::integral_constant<int, 16>{});
      case 32: return run(std::integral_constant<int, 32>{});
      case 64: return run(std::integral_constant<int, 64>{});
      case 128: return run(std::integral_constant<int, 128>{});
      default: return false;
    }
  }
}

template <OptimKind K, typename T>
void fused_step_typed(const BackwardArgs& a, const RowGroups& g, void* weight, const OptimArgs& o,
                      const Parallel& par) {
  const int64_t U = g.num_rows_touched(), D = a.dim;
  T* W = static_cast<T*>(weight);
  // Touched rows are cut into parts of about equal work (ids reduced + a fixed cost per row), so a
  // hot row of a skewed (Zipf) batch does not leave the other threads idle.
  constexpr int64_t kRowCost = 2;
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(U, std::max(1, par.threads) * 8));
  std::vector<int64_t> bounds(static_cast<size_t>(parts + 1));
  auto work = [&](int64_t u) { return g.seg[u] + kRowCost * u; };
  const int64_t total = work(U);
  bounds[0] = 0;
  bounds[parts] = U;
  for (int64_t p = 1; p < parts; ++p) {
    const int64_t target = total * p / parts;
    int64_t lo = bounds[p - 1], hi = U;
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if (work(mid) < target)
        lo = mid + 1;
      else
        hi = mid;
    }
    bounds[p] = lo;
  }
  const AdamScale global_scale =
      (K == OptimKind::kAdam && !o.per_row_step) ? adam_scale(o, o.global_step) : AdamScale{};
  AdamScaleTable row_scales;
  if (K == OptimKind::kAdam && o.per_row_step) row_scales.build(o);
  par.for_each(parts, [&](int64_t p0, int64_t p1) {
    const int64_t u1 = bounds[p1];
    if (fused_rows_fast<K, T>(a, g, W, o, bounds[p0], u1, global_scale, row_scales)) return;
    std::vector<float> acc(static_cast<size_t>(D)), nw(static_cast<size_t>(D));
    for (int64_t u = bounds[p0]; u < u1; ++u) {
      const int64_t r = g.rows[u];
      // Touched rows are scattered over the table: pull a later row (and its state) towards the
      // cache now, so several misses are in flight while this row is reduced and updated.
      if (u + kRowsAhead < u1) prefetch_state<K>(W, o, g.rows[u + kRowsAhead], D);
      reduce_row<T>(a, g, u, acc.data());
      update_row<K, T>(W + r * D, acc.data(), nw.data(), o, r, D, global_scale, row_scales);
    }
  });
}

template <typename T>
void fused_step_kind(const BackwardArgs& a, const RowGroups& g, void* weight, const OptimArgs& o, const Parallel& par) {
  switch (o.kind) {
    case OptimKind::kSgd: fused_step_typed<OptimKind::kSgd, T>(a, g, weight, o, par); break;
    case OptimKind::kAdagrad: fused_step_typed<OptimKind::kAdagrad, T>(a, g, weight, o, par); break;
    case OptimKind::kRowWiseAdagrad: fused_step_typed<OptimKind::kRowWiseAdagrad, T>(a, g, weight, o, par); break;
    case OptimKind::kAdam: fused_step_typed<OptimKind::kAdam, T>(a, g, weight, o, par); break;
  }
}

}  // namespace

void fused_step(const BackwardArgs& a, const RowGroups& g, void* weight, const OptimArgs& o, const Parallel& par) {
  switch (a.dtype) {
    case DType::kFloat32: fused_step_kind<float>(a, g, weight, o, par); break;
    case DType::kBFloat16: fused_step_kind<bf16>(a, g, weight, o, par); break;
    case DType::kFloat16: fused_step_kind<f16>(a, g, weight, o, par); break;
  }
}

}  // namespace embedforge::core::EF_ISA_NS
