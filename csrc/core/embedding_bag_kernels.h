// The vectorised embedding-bag kernels. This header is compiled once per instruction set (see
// embedding_bag_isa_*.cpp, each defining EF_ISA_NS and built with its own -m flags); the
// dispatcher in embedding_bag.cpp picks one at run time. Loops over the embedding dimension are
// written in fixed-width blocks so the compiler keeps the accumulators in vector registers.
#ifndef EF_ISA_NS
#error "define EF_ISA_NS before including embedding_bag_kernels.h"
#endif
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "core/embedding_bag.h"

namespace embedforge::core::EF_ISA_NS {
namespace {

// How many ids ahead rows are prefetched. The register kernels keep up to 128 cache lines in
// flight, at most 32 rows (16- and 64-float rows: 32 ids ahead; 256: 8): what a gather from a
// table far larger than the caches needed here to hide DRAM and page-walk latency (measured on a
// Sapphire Rapids VM against 8/16/64); the generic kernels keep 8.
// EMBEDFORGE_PREFETCH overrides both (0 disables): a tuning knob for benchmarks, read once.
inline int64_t prefetch_override() {
  static const int64_t ahead = [] {
    const char* v = std::getenv("EMBEDFORGE_PREFETCH");
    return v ? std::max<int64_t>(0, std::atoll(v)) : int64_t{-1};
  }();
  return ahead;
}

inline int64_t prefetch_ahead() {
  const int64_t o = prefetch_override();
  return o >= 0 ? o : int64_t{8};
}

inline int64_t prefetch_ahead_regs(int64_t row_bytes) {
  const int64_t o = prefetch_override();
  if (o >= 0) return o;
  const int64_t lines = std::max<int64_t>(1, (row_bytes + 63) / 64);
  return std::clamp<int64_t>(128 / lines, 2, 32);
}

// True when every id in [j0, j1) lies in [0, num_rows): one branch-free pass that this ISA's
// build vectorises (a negative id becomes a huge unsigned value).
template <typename Idx>
bool ids_in_range(const Idx* __restrict ids, int64_t j0, int64_t j1, int64_t num_rows) {
  if constexpr (sizeof(Idx) == 4) {
    const uint32_t limit = static_cast<uint32_t>(std::min<int64_t>(num_rows, int64_t{1} << 31));
    uint32_t bad = 0;
    for (int64_t j = j0; j < j1; ++j) bad |= static_cast<uint32_t>(ids[j]) >= limit;
    return bad == 0;
  } else {
    const uint64_t limit = static_cast<uint64_t>(num_rows);
    uint64_t bad = 0;
    for (int64_t j = j0; j < j1; ++j) bad |= static_cast<uint64_t>(ids[j]) >= limit;
    return bad == 0;
  }
}

template <typename T>
inline void prefetch_row(const T* row, int64_t dim) {
  const char* p = reinterpret_cast<const char*>(row);
  const int64_t bytes = dim * static_cast<int64_t>(sizeof(T));
  for (int64_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, 0, 1);
}

// Pools columns [c0, c0+BLK) of one bag. Ids j < pf_stop also prefetch the row of id j+ahead.
// Per-sample weights and padding are template flags so the inner loop carries only what it uses.
template <int BLK, Pool P, bool kPsw, bool kPad, typename T, typename Idx>
inline void pool_block(const T* __restrict W, int64_t D, const Idx* __restrict ids, int64_t s, int64_t e,
                       int64_t pf_stop, int64_t ahead, const float* __restrict psw, int64_t pad, int64_t c0,
                       T* __restrict out, int64_t* __restrict am_out) {
  float acc[BLK];
  int64_t am[BLK];
  for (int k = 0; k < BLK; ++k) {
    acc[k] = 0.f;
    am[k] = -1;
  }
  int64_t count = 0;
  const int64_t stop = std::min(e, pf_stop);
  for (int64_t j = s; j < e; ++j) {
    if (j < stop) prefetch_row(W + static_cast<int64_t>(ids[j + ahead]) * D, D);
    const int64_t r = static_cast<int64_t>(ids[j]);
    if constexpr (kPad) {
      if (r == pad) continue;
    }
    const T* __restrict row = W + r * D + c0;
    if constexpr (P == Pool::kMax) {
      if (count == 0) {
        for (int k = 0; k < BLK; ++k) {
          acc[k] = to_float(row[k]);
          am[k] = r;
        }
      } else {
        for (int k = 0; k < BLK; ++k) {
          const float v = to_float(row[k]);
          const bool gt = v > acc[k];
          acc[k] = gt ? v : acc[k];
          am[k] = gt ? r : am[k];
        }
      }
    } else if constexpr (kPsw) {
      const float w = psw[j];
      for (int k = 0; k < BLK; ++k) acc[k] += w * to_float(row[k]);
    } else {
      for (int k = 0; k < BLK; ++k) acc[k] += to_float(row[k]);
    }
    if constexpr (P != Pool::kSum) ++count;
  }
  if constexpr (P == Pool::kMean) {
    if (count > 0) {
      const float inv = 1.f / static_cast<float>(count);
      for (int k = 0; k < BLK; ++k) acc[k] *= inv;
    }
  }
  for (int k = 0; k < BLK; ++k) out[c0 + k] = from_float<T>(acc[k]);
  if constexpr (P == Pool::kMax) {
    for (int k = 0; k < BLK; ++k) am_out[c0 + k] = am[k];
  }
}

// Pools one bag of wide rows (D > kWideDim) row by row: each row is read front to back in one
// sweep (what the hardware prefetcher streams best), accumulating into an L1-resident buffer.
constexpr int64_t kWideDim = 128;

template <Pool P, bool kPsw, bool kPad, typename T, typename Idx>
inline void pool_wide(const T* __restrict W, int64_t D, const Idx* __restrict ids, int64_t s, int64_t e,
                      int64_t pf_stop, int64_t ahead, const float* __restrict psw, int64_t pad, float* __restrict acc,
                      int64_t* __restrict am, T* __restrict out, int64_t* __restrict am_out) {
  for (int64_t k = 0; k < D; ++k) acc[k] = 0.f;
  if constexpr (P == Pool::kMax) {
    for (int64_t k = 0; k < D; ++k) am[k] = -1;
  }
  int64_t count = 0;
  const int64_t stop = std::min(e, pf_stop);
  for (int64_t j = s; j < e; ++j) {
    if (j < stop) prefetch_row(W + static_cast<int64_t>(ids[j + ahead]) * D, D);
    const int64_t r = static_cast<int64_t>(ids[j]);
    if constexpr (kPad) {
      if (r == pad) continue;
    }
    const T* __restrict row = W + r * D;
    if constexpr (P == Pool::kMax) {
      if (count == 0) {
        for (int64_t k = 0; k < D; ++k) {
          acc[k] = to_float(row[k]);
          am[k] = r;
        }
      } else {
        for (int64_t k = 0; k < D; ++k) {
          const float v = to_float(row[k]);
          const bool gt = v > acc[k];
          acc[k] = gt ? v : acc[k];
          am[k] = gt ? r : am[k];
        }
      }
    } else if constexpr (kPsw) {
      const float w = psw[j];
      for (int64_t k = 0; k < D; ++k) acc[k] += w * to_float(row[k]);
    } else {
      for (int64_t k = 0; k < D; ++k) acc[k] += to_float(row[k]);
    }
    ++count;
  }
  if (P == Pool::kMean && count > 0) {
    const float inv = 1.f / static_cast<float>(count);
    for (int64_t k = 0; k < D; ++k) acc[k] *= inv;
  }
  for (int64_t k = 0; k < D; ++k) out[k] = from_float<T>(acc[k]);
  if constexpr (P == Pool::kMax) {
    for (int64_t k = 0; k < D; ++k) am_out[k] = am[k];
  }
}

// ---- register-resident pooling (sum and mean, AVX2 / AVX-512 builds) ---------------------------
// A column block of NV vectors is pooled with its NV accumulators held in vector registers for
// the whole bag (AVX-512: up to 16 zmm = 256 float columns; AVX2: 8 ymm = 64 columns); each id
// costs one load + add (or fma) per vector and, ahead of it, one prefetch per cache line.
#if defined(__AVX512F__) && defined(__AVX512BW__)
#define EF_HAVE_VEC 1
struct VecOps {
  using V = __m512;
  static constexpr int kLanes = 16;
  static constexpr int kMaxVecs = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V load(const bf16* p) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(0xFFFF, _mm512_maskz_cvtepu16_epi32(0xFFFF, h), 16));
  }
  static V load(const f16* p) {  // maskz forms: GCC 12 warns about the undefined operand of the plain ones
    return _mm512_maskz_cvtph_ps(0xFFFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
};
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define EF_HAVE_VEC 1
struct VecOps {
  using V = __m256;
  static constexpr int kLanes = 8;
  static constexpr int kMaxVecs = 8;  // 16 ymm registers: 8 accumulators, the rest for loads
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V load(const bf16* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static V load(const f16* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
};
#endif

#ifdef EF_HAVE_VEC
template <typename T>
inline void store_vec(T* dst, typename VecOps::V v) {
  if constexpr (std::is_same_v<T, float>) {
    VecOps::store(dst, v);
  } else {
    // Once per bag and block: the scalar rounding of from_float (round to nearest even, NaN kept).
    alignas(64) float tmp[VecOps::kLanes];
    VecOps::store(tmp, v);
    for (int k = 0; k < VecOps::kLanes; ++k) dst[k] = from_float<T>(tmp[k]);
  }
}

// Pools columns [c0, c0 + NV*lanes) of bag [s, e), checking each id against num_rows before its
// row is read (false at the first bad one: the caller abandons the forward). Ids j < pf_stop
// prefetch (into L1) the same columns of the row of id j + ahead, clamped into the table.
template <int NV, bool kPsw, typename T, typename Idx>
__attribute__((always_inline)) inline bool pool_regs(const T* __restrict W, int64_t D, uint64_t num_rows,
                                                     const Idx* __restrict ids, int64_t s, int64_t e, int64_t pf_stop,
                                                     int64_t ahead, const float* __restrict psw, int64_t pad, bool mean,
                                                     int64_t c0, T* __restrict out) {
  using V = typename VecOps::V;
  constexpr int L = VecOps::kLanes;
  constexpr int kLines = static_cast<int>((NV * L * sizeof(T) + 63) / 64);
  V acc[NV];
  for (int v = 0; v < NV; ++v) acc[v] = VecOps::zero();
  int64_t skipped = 0;
  const T* __restrict base = W + c0;
#define EF_POOL_ROW(j)                                                                           \
  {                                                                                              \
    const int64_t r = static_cast<int64_t>(ids[j]);                                              \
    if (__builtin_expect(static_cast<uint64_t>(r) >= num_rows, 0)) return false;                 \
    if (r == pad) { /* pad is -1 without padding: never equal to a checked id */                 \
      ++skipped;                                                                                 \
    } else {                                                                                     \
      const T* __restrict row = base + r * D;                                                    \
      if constexpr (kPsw) {                                                                      \
        const V w = VecOps::set1(psw[j]);                                                        \
        for (int v = 0; v < NV; ++v) acc[v] = VecOps::fma(w, VecOps::load(row + v * L), acc[v]); \
      } else {                                                                                   \
        for (int v = 0; v < NV; ++v) acc[v] = VecOps::add(acc[v], VecOps::load(row + v * L));    \
      }                                                                                          \
    }                                                                                            \
  }
  int64_t j = s;
  for (const int64_t stop = std::min(e, pf_stop); j < stop; ++j) {
    int64_t rp = static_cast<int64_t>(ids[j + ahead]);
    rp = static_cast<uint64_t>(rp) < num_rows ? rp : 0;
    const char* p = reinterpret_cast<const char*>(base + rp * D);
    // One register for the row: without this barrier GCC keeps an address per line live across
    // the clamp (and spills them), instead of prefetching at constant offsets from p.
    __asm__("" : "+r"(p));
    for (int l = 0; l < kLines; ++l) _mm_prefetch(p + 64 * l, _MM_HINT_T0);
    EF_POOL_ROW(j)
  }
  for (; j < e; ++j) EF_POOL_ROW(j)
#undef EF_POOL_ROW
  if (mean) {
    const int64_t count = e - s - skipped;
    if (count > 0) {
      const V inv = VecOps::set1(1.f / static_cast<float>(count));
      for (int v = 0; v < NV; ++v) acc[v] = VecOps::mul(acc[v], inv);
    }
  }
  for (int v = 0; v < NV; ++v) store_vec<T>(out + c0 + v * L, acc[v]);
  return true;
}

// Bags [b0, b1) whose columns all fit one register block (D == NV * lanes): one loop over bags,
// offsets read in their own type, the block kernel inlined.
template <int NV, bool kPsw, typename T, typename Idx>
bool pool_bags_regs(const ForwardArgs& a, T* __restrict out, int64_t b0, int64_t b1, int64_t pf_stop, int64_t ahead,
                    bool mean) {
  const T* W = static_cast<const T*>(a.weight);
  const Idx* ids = static_cast<const Idx*>(a.bags.indices);
  const Idx* offs = static_cast<const Idx*>(a.bags.offsets);
  const uint64_t V = static_cast<uint64_t>(a.num_rows);
  const int64_t D = a.dim, B = a.bags.num_bags, L = a.bags.bag_size, end = a.bags.end;
  const float* psw = a.per_sample_weights;
  const int64_t pad = a.bags.padding_idx;
  for (int64_t b = b0; b < b1; ++b) {
    int64_t s, e;
    if (offs) {
      s = static_cast<int64_t>(offs[b]);
      e = b + 1 < B ? static_cast<int64_t>(offs[b + 1]) : end;
    } else {
      s = b * L;
      e = s + L;
    }
    if (!pool_regs<NV, kPsw, T, Idx>(W, D, V, ids, s, e, pf_stop, ahead, psw, pad, mean, 0, out + b * D)) return false;
  }
  return true;
}

// Register widths compiled: 1, 2, 4, 8 (and 16 with AVX-512) vectors, each a kernel per dtype, id
// type and weighting. A row of another width is pooled as a sum of these pieces, one pass each
// over the bag's rows (in cache after the first). Every width would multiply build time by ~3.
template <bool kPsw, typename T, typename Idx>
using PoolBagsFn = bool (*)(const ForwardArgs&, T*, int64_t, int64_t, int64_t, int64_t, bool);

template <bool kPsw, typename T, typename Idx>
PoolBagsFn<kPsw, T, Idx> pick_pool_bags(int64_t nv) {
  switch (nv) {
    case 1: return &pool_bags_regs<1, kPsw, T, Idx>;
    case 2: return &pool_bags_regs<2, kPsw, T, Idx>;
    case 4: return &pool_bags_regs<4, kPsw, T, Idx>;
    case 8: return &pool_bags_regs<8, kPsw, T, Idx>;
    case 16:
      if constexpr (VecOps::kMaxVecs >= 16) return &pool_bags_regs<16, kPsw, T, Idx>;
      return nullptr;
    default: return nullptr;
  }
}

template <int NV, bool kPsw, typename T, typename Idx>
__attribute__((noinline)) bool pool_regs_piece(const T* W, int64_t D, uint64_t num_rows, const Idx* ids, int64_t s,
                                               int64_t e, int64_t pf_stop, int64_t ahead, const float* psw, int64_t pad,
                                               bool mean, int64_t c0, T* out) {
  return pool_regs<NV, kPsw, T, Idx>(W, D, num_rows, ids, s, e, pf_stop, ahead, psw, pad, mean, c0, out);
}
#endif  // EF_HAVE_VEC

// Pools bags [b0, b1) and returns true, or returns false at the first id outside the table
// (checked before that id's row is read: inline in the copy and register kernels, in one pass
// over the range's ids before the generic ones).
template <Pool P, bool kPsw, bool kPad, typename T, typename Idx>
bool forward_range_impl(const ForwardArgs& a, T* out, int64_t* max_rows, int64_t b0, int64_t b1) {
  const T* W = static_cast<const T*>(a.weight);
  const Idx* ids = static_cast<const Idx*>(a.bags.indices);
  const float* psw = a.per_sample_weights;
  const int64_t D = a.dim;
  const int64_t pad = a.bags.padding_idx;
  // Prefetching runs across bag boundaries up to the end of this range's ids.
  const int64_t pf_end = b1 > b0 ? a.bags.bag_end(b1 - 1) : 0;
  // The loops below prefetch the row `ahead` ids on: the first `ahead` rows of this range are
  // requested here, all at once, so a range (one of several parts per thread) does not start
  // with a chain of unprefetched misses.
  if (b1 > b0) {
    const int64_t s0 = a.bags.bag_begin(b0);
    const int64_t w_end = std::min(pf_end, s0 + prefetch_ahead_regs(D * static_cast<int64_t>(sizeof(T))));
    const uint64_t V = static_cast<uint64_t>(a.num_rows);
    for (int64_t j = s0; j < w_end; ++j) {
      const int64_t r = static_cast<int64_t>(ids[j]);
      if (static_cast<uint64_t>(r) >= V) continue;  // reported by the pooling loop
      const char* p = reinterpret_cast<const char*>(W + r * D);
      for (int64_t off = 0; off < D * static_cast<int64_t>(sizeof(T)); off += 64) __builtin_prefetch(p + off, 0, 3);
    }
  }
  if constexpr (P != Pool::kMax && !kPsw && !kPad) {
    if (!a.bags.offsets && a.bags.bag_size == 1) {
      // Bags of one id (a plain lookup, as embedding() issues): each output row is a copy.
      const int64_t ahead = prefetch_ahead_regs(D * static_cast<int64_t>(sizeof(T)));
      const size_t bytes = static_cast<size_t>(D) * sizeof(T);
      const int64_t lines = static_cast<int64_t>((bytes + 63) / 64);
      const int64_t stop = std::min(b1, ahead > 0 ? pf_end - ahead : b0);
      int64_t b = b0;
      const uint64_t V = static_cast<uint64_t>(a.num_rows);
      for (; b < stop; ++b) {
        int64_t rp = static_cast<int64_t>(ids[b + ahead]);
        rp = static_cast<uint64_t>(rp) < V ? rp : 0;
        const char* p = reinterpret_cast<const char*>(W + rp * D);
        for (int64_t l = 0; l < lines; ++l) __builtin_prefetch(p + 64 * l, 0, 3);
        const int64_t r = static_cast<int64_t>(ids[b]);
        if (__builtin_expect(static_cast<uint64_t>(r) >= V, 0)) return false;
        std::memcpy(out + b * D, W + r * D, bytes);
      }
      for (; b < b1; ++b) {
        const int64_t r = static_cast<int64_t>(ids[b]);
        if (static_cast<uint64_t>(r) >= V) return false;
        std::memcpy(out + b * D, W + r * D, bytes);
      }
      return true;
    }
  }
#ifdef EF_HAVE_VEC
  if constexpr (P != Pool::kMax) {
    constexpr int L = VecOps::kLanes, M = VecOps::kMaxVecs;
    const int64_t nvec = D / L;
    if (nvec > 0) {
      const int64_t ahead = prefetch_ahead_regs(D * static_cast<int64_t>(sizeof(T)));
      const int64_t pf_stop = ahead > 0 ? pf_end - ahead : INT64_MIN;
      const bool mean = P == Pool::kMean;
      if (nvec * L == D) {  // the common case: one block of a compiled width, no tail columns
        if (const PoolBagsFn<kPsw, T, Idx> fn = pick_pool_bags<kPsw, T, Idx>(nvec))
          return fn(a, out, b0, b1, pf_stop, ahead, mean);
      }
      const int64_t full = nvec / M, rem = nvec % M;
      const uint64_t V = static_cast<uint64_t>(a.num_rows);
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t s = a.bags.bag_begin(b), e = a.bags.bag_end(b);
        T* o = out + b * D;
        int64_t c = 0;
#define EF_PIECE(NV)                                                                                                \
  {                                                                                                                 \
    if (!pool_regs_piece<NV, kPsw, T, Idx>(W, D, V, ids, s, e, pf_stop, ahead, psw, pad, mean, c, o)) return false; \
    c += (NV) * L;                                                                                                  \
  }
        for (int64_t k = 0; k < full; ++k) EF_PIECE(M)
        if constexpr (M > 8) {
          if (rem & 8) EF_PIECE(8)
        }
        if (rem & 4) EF_PIECE(4)
        if (rem & 2) EF_PIECE(2)
        if (rem & 1) EF_PIECE(1)
#undef EF_PIECE
        // Columns past the last whole vector (D not a multiple of the width): rows are cached now.
        for (; c + 4 <= D; c += 4) pool_block<4, P, kPsw, kPad>(W, D, ids, s, e, s, 0, psw, pad, c, o, nullptr);
        for (; c < D; ++c) pool_block<1, P, kPsw, kPad>(W, D, ids, s, e, s, 0, psw, pad, c, o, nullptr);
      }
      return true;
    }
  }
#endif
  if (!ids_in_range(ids, a.bags.bag_begin(b0), a.bags.bag_end(b1 - 1), a.num_rows)) return false;
  const int64_t ahead = prefetch_ahead();
  const int64_t pf_stop = ahead > 0 ? pf_end - ahead : INT64_MIN;
  if (D > kWideDim) {
    std::vector<float> acc(static_cast<size_t>(D));
    std::vector<int64_t> am(P == Pool::kMax ? static_cast<size_t>(D) : 0);
    for (int64_t b = b0; b < b1; ++b)
      pool_wide<P, kPsw, kPad>(W, D, ids, a.bags.bag_begin(b), a.bags.bag_end(b), pf_stop, ahead, psw, pad, acc.data(),
                               am.data(), out + b * D, P == Pool::kMax ? max_rows + b * D : nullptr);
    return true;
  }
  for (int64_t b = b0; b < b1; ++b) {
    const int64_t s = a.bags.bag_begin(b), e = a.bags.bag_end(b);
    T* o = out + b * D;
    int64_t* am = P == Pool::kMax ? max_rows + b * D : nullptr;
    int64_t c = 0;
    // Only the first column block prefetches (whole rows); later blocks find them in cache.
    for (; c + 64 <= D; c += 64)
      pool_block<64, P, kPsw, kPad>(W, D, ids, s, e, c == 0 ? pf_stop : s, ahead, psw, pad, c, o, am);
    for (; c + 16 <= D; c += 16)
      pool_block<16, P, kPsw, kPad>(W, D, ids, s, e, c == 0 ? pf_stop : s, ahead, psw, pad, c, o, am);
    for (; c + 4 <= D; c += 4)
      pool_block<4, P, kPsw, kPad>(W, D, ids, s, e, c == 0 ? pf_stop : s, ahead, psw, pad, c, o, am);
    for (; c < D; ++c) pool_block<1, P, kPsw, kPad>(W, D, ids, s, e, c == 0 ? pf_stop : s, ahead, psw, pad, c, o, am);
  }
  return true;
}

template <Pool P, typename T, typename Idx>
bool forward_range(const ForwardArgs& a, T* out, int64_t* max_rows, int64_t b0, int64_t b1) {
  const bool pad = a.bags.padding_idx >= 0;
  if constexpr (P != Pool::kMax) {
    if (a.per_sample_weights) {
      if (pad) return forward_range_impl<P, true, true, T, Idx>(a, out, max_rows, b0, b1);
      return forward_range_impl<P, true, false, T, Idx>(a, out, max_rows, b0, b1);
    }
  }
  if (pad) return forward_range_impl<P, false, true, T, Idx>(a, out, max_rows, b0, b1);
  return forward_range_impl<P, false, false, T, Idx>(a, out, max_rows, b0, b1);
}

// Bags are cut into parts of about equal work. One thread takes them all in one sweep (the
// prefetch pipeline never restarts); several threads take 8 parts each on average from a shared
// counter, so a thread the OS deschedules on a busy machine does not hold up the others. An id
// outside the table (found before its row is read) stops the whole forward: returns false.
template <typename T, typename Idx>
bool forward_typed(const ForwardArgs& a, void* out, int64_t* max_rows, const Parallel& par) {
  const int threads = std::max(1, par.threads);
  const int64_t parts = threads == 1 ? 1 : std::min<int64_t>(a.bags.num_bags, int64_t{threads} * 8);
  const std::vector<int64_t> bounds = balance_bags(a.bags, parts);
  std::atomic<int64_t> next{0};
  std::atomic<bool> bad{false};
  auto work = [&](int64_t, int64_t) {
    for (int64_t p = next.fetch_add(1, std::memory_order_relaxed); p < parts;
         p = next.fetch_add(1, std::memory_order_relaxed)) {
      if (bad.load(std::memory_order_relaxed)) return;
      const int64_t b0 = bounds[p], b1 = bounds[p + 1];
      if (b1 <= b0) continue;
      T* o = static_cast<T*>(out);
      bool ok = false;
      switch (a.pool) {
        case Pool::kSum: ok = forward_range<Pool::kSum, T, Idx>(a, o, max_rows, b0, b1); break;
        case Pool::kMean: ok = forward_range<Pool::kMean, T, Idx>(a, o, max_rows, b0, b1); break;
        case Pool::kMax: ok = forward_range<Pool::kMax, T, Idx>(a, o, max_rows, b0, b1); break;
      }
      if (!ok) {
        bad.store(true, std::memory_order_relaxed);
        return;
      }
    }
  };
  if (parts <= 1)
    work(0, 1);
  else
    par.for_each(threads, work);
  return !bad.load();
}

template <typename T>
bool forward_ids(const ForwardArgs& a, void* out, int64_t* max_rows, const Parallel& par) {
  if (a.bags.int64_ids) return forward_typed<T, int64_t>(a, out, max_rows, par);
  return forward_typed<T, int32_t>(a, out, max_rows, par);
}

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
// stores normally) when the row does not suit them. Callers fence (_mm_sfence) before handing over.
template <typename T>
inline bool stream_row(T* __restrict dst, const float* __restrict acc, int64_t D) {
#ifdef EF_HAVE_VEC
  if constexpr (std::is_same_v<T, float>) {
    constexpr int L = VecOps::kLanes;
    if (D % L != 0 || reinterpret_cast<uintptr_t>(dst) % (sizeof(float) * L) != 0) return false;
    for (int64_t k = 0; k < D; k += L) {
#if defined(__AVX512F__)
      _mm512_stream_ps(dst + k, _mm512_loadu_ps(acc + k));
#else
      _mm256_stream_ps(dst + k, _mm256_loadu_ps(acc + k));
#endif
    }
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
#ifdef EF_HAVE_VEC
    if (stream) _mm_sfence();
#endif
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
#ifdef EF_HAVE_VEC
    if (stream) _mm_sfence();
#endif
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

bool forward(const ForwardArgs& a, void* out, int64_t* max_rows, const Parallel& par) {
  switch (a.dtype) {
    case DType::kFloat32: return forward_ids<float>(a, out, max_rows, par);
    case DType::kBFloat16: return forward_ids<bf16>(a, out, max_rows, par);
    case DType::kFloat16: return forward_ids<f16>(a, out, max_rows, par);
  }
  return false;
}

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
