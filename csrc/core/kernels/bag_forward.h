// The embedding-bag forward: pooling (sum, mean, max) of bags of table rows, in the generic
// blocked loops every build has and, on the AVX2 / AVX-512 builds, with the accumulators held in
// vector registers for a whole bag. Compiled once per instruction set (through core/isa_kernels.h,
// which defines EF_ISA_NS in each isa_*.cpp). Loops over the embedding dimension are written in
// fixed-width blocks so the compiler keeps the accumulators in vector registers.
#pragma once
#ifndef EF_ISA_NS
#error "define EF_ISA_NS before including core/kernels/bag_forward.h (see core/isa_kernels.h)"
#endif
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/embedding_bag.h"
#include "core/kernels/simd.h"

namespace embedforge::core::EF_ISA_NS {
namespace {

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

// The generic kernels' prefetch of a whole row (into L2).
template <typename T>
inline void prefetch_row(const T* row, int64_t dim) {
  prefetch_lines<1>(row, cache_lines(dim * static_cast<int64_t>(sizeof(T))));
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
#ifdef EF_HAVE_VEC
// Adds row r (columns base[0, NV*lanes) of it), weighted by psw[j] when kPsw, into the
// accumulators; the padding id is skipped and counted (pad is -1 without padding: never equal to a
// checked id). The caller has checked r against the table.
template <int NV, bool kPsw, typename T>
__attribute__((always_inline)) inline void add_row_regs(typename VecOps::V (&acc)[NV], const T* __restrict base,
                                                        int64_t D, int64_t r, const float* __restrict psw, int64_t j,
                                                        int64_t pad, int64_t& skipped) {
  constexpr int L = VecOps::kLanes;
  if (r == pad) {
    ++skipped;
  } else {
    const T* __restrict row = base + r * D;
    if constexpr (kPsw) {
      const typename VecOps::V w = VecOps::set1(psw[j]);
      for (int v = 0; v < NV; ++v) acc[v] = VecOps::fma(w, VecOps::load(row + v * L), acc[v]);
    } else {
      for (int v = 0; v < NV; ++v) acc[v] = VecOps::add(acc[v], VecOps::load(row + v * L));
    }
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
  constexpr int64_t kLines = cache_lines(NV * L * static_cast<int64_t>(sizeof(T)));
  V acc[NV];
  for (int v = 0; v < NV; ++v) acc[v] = VecOps::zero();
  int64_t skipped = 0;
  const T* __restrict base = W + c0;
  int64_t j = s;
  for (const int64_t stop = std::min(e, pf_stop); j < stop; ++j) {
    const char* p =
        reinterpret_cast<const char*>(base + row_in_table(static_cast<int64_t>(ids[j + ahead]), num_rows) * D);
    // One register for the row: without this barrier GCC keeps an address per line live across
    // the clamp (and spills them), instead of prefetching at constant offsets from p.
    __asm__("" : "+r"(p));
    prefetch_lines<3>(p, kLines);
    const int64_t r = static_cast<int64_t>(ids[j]);
    if (__builtin_expect(static_cast<uint64_t>(r) >= num_rows, 0)) return false;
    add_row_regs<NV, kPsw>(acc, base, D, r, psw, j, pad, skipped);
  }
  for (; j < e; ++j) {
    const int64_t r = static_cast<int64_t>(ids[j]);
    if (__builtin_expect(static_cast<uint64_t>(r) >= num_rows, 0)) return false;
    add_row_regs<NV, kPsw>(acc, base, D, r, psw, j, pad, skipped);
  }
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
      prefetch_lines<3>(W + r * D, cache_lines(D * static_cast<int64_t>(sizeof(T))));
    }
  }
  if constexpr (P != Pool::kMax && !kPsw && !kPad) {
    if (!a.bags.offsets && a.bags.bag_size == 1) {
      // Bags of one id (a plain lookup, as embedding() issues): each output row is a copy.
      const int64_t ahead = prefetch_ahead_regs(D * static_cast<int64_t>(sizeof(T)));
      const size_t bytes = static_cast<size_t>(D) * sizeof(T);
      const int64_t lines = cache_lines(static_cast<int64_t>(bytes));
      const int64_t stop = std::min(b1, ahead > 0 ? pf_end - ahead : b0);
      int64_t b = b0;
      const uint64_t V = static_cast<uint64_t>(a.num_rows);
      for (; b < stop; ++b) {
        prefetch_lines<3>(W + row_in_table(static_cast<int64_t>(ids[b + ahead]), V) * D, lines);
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
        // Pools the next NV vectors of columns: false at a bad id.
        auto piece = [&](auto nv) {
          constexpr int NV = decltype(nv)::value;
          if (!pool_regs_piece<NV, kPsw, T, Idx>(W, D, V, ids, s, e, pf_stop, ahead, psw, pad, mean, c, o))
            return false;
          c += NV * L;
          return true;
        };
        for (int64_t k = 0; k < full; ++k)
          if (!piece(std::integral_constant<int, M>{})) return false;
        if constexpr (M > 8) {
          if ((rem & 8) && !piece(std::integral_constant<int, 8>{})) return false;
        }
        if ((rem & 4) && !piece(std::integral_constant<int, 4>{})) return false;
        if ((rem & 2) && !piece(std::integral_constant<int, 2>{})) return false;
        if ((rem & 1) && !piece(std::integral_constant<int, 1>{})) return false;
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

}  // namespace

bool forward(const ForwardArgs& a, void* out, int64_t* max_rows, const Parallel& par) {
  switch (a.dtype) {
    case DType::kFloat32: return forward_ids<float>(a, out, max_rows, par);
    case DType::kBFloat16: return forward_ids<bf16>(a, out, max_rows, par);
    case DType::kFloat16: return forward_ids<f16>(a, out, max_rows, par);
  }
  return false;
}

}  // namespace embedforge::core::EF_ISA_NS
