// SIMD primitives of the embedding-bag and optimizer kernels: the vector type of this ISA's build
// (VecOps), stores that round to the table's dtype, and the prefetch helpers. Compiled once per
// instruction set: included, through core/isa_kernels.h, by each isa_*.cpp, which defines
// EF_ISA_NS and is built with that ISA's -m flags.
#pragma once
#ifndef EF_ISA_NS
#error "define EF_ISA_NS before including core/kernels/simd.h (see core/isa_kernels.h)"
#endif
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <type_traits>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "core/dtype.h"

namespace embedforge::core::EF_ISA_NS {
namespace {

// ---- prefetching --------------------------------------------------------------------------------
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

// Cache lines (64 bytes) a row of `bytes` bytes spans.
constexpr int64_t cache_lines(int64_t bytes) { return (bytes + 63) / 64; }

// The one way rows are prefetched: `lines` cache lines from p, for reading, with
// __builtin_prefetch's locality kLocality (3: into L1, what _MM_HINT_T0 asks; 1: into L2).
// Inlined, so a constant `lines` gives a fixed sequence of prefetches at constant offsets.
template <int kLocality>
__attribute__((always_inline)) inline void prefetch_lines(const void* p, int64_t lines) {
  const char* c = static_cast<const char*>(p);
  for (int64_t l = 0; l < lines; ++l) __builtin_prefetch(c + 64 * l, 0, kLocality);
}

// Id r when it lies in [0, num_rows), else 0: prefetch addresses always inside the table, so an
// id the pooling loop will reject costs no page walk far outside it.
__attribute__((always_inline)) inline int64_t row_in_table(int64_t r, uint64_t num_rows) {
  return static_cast<uint64_t>(r) < num_rows ? r : 0;
}

// ---- the vector type of this build (sum and mean pooling, row streaming) ------------------------
// AVX-512: 16 floats a vector, up to 16 accumulators; AVX2: 8 floats, 8 accumulators (16 ymm
// registers, the rest for loads). The baseline build has no VecOps (EF_HAVE_VEC undefined) and
// uses the generic, auto-vectorised loops only.
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
  static void stream(float* p, V v) { _mm512_stream_ps(p, v); }  // p aligned to the vector
};
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define EF_HAVE_VEC 1
struct VecOps {
  using V = __m256;
  static constexpr int kLanes = 8;
  static constexpr int kMaxVecs = 8;
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
  static void stream(float* p, V v) { _mm256_stream_ps(p, v); }  // p aligned to the vector
};
#endif

#ifdef EF_HAVE_VEC
// Stores one vector of floats as T: directly for float32, else through the scalar rounding of
// from_float (round to nearest even, NaN kept), once per bag and block.
template <typename T>
inline void store_vec(T* dst, typename VecOps::V v) {
  if constexpr (std::is_same_v<T, float>) {
    VecOps::store(dst, v);
  } else {
    alignas(64) float tmp[VecOps::kLanes];
    VecOps::store(tmp, v);
    for (int k = 0; k < VecOps::kLanes; ++k) dst[k] = from_float<T>(tmp[k]);
  }
}
#endif

// Orders this thread's streaming (non-temporal) stores before the ones that follow: called once
// a thread has written its streamed rows, before the output is handed over.
inline void stream_fence() {
#ifdef EF_HAVE_VEC
  _mm_sfence();
#endif
}

}  // namespace
}  // namespace embedforge::core::EF_ISA_NS
