// Element types of embedding tables and their float32 conversions (torch-free).
#pragma once
#include <cstdint>
#include <cstring>

namespace embedforge::core {

enum class DType : int32_t { kFloat32 = 0, kBFloat16 = 1, kFloat16 = 2 };

const char* dtype_name(DType d);

// Storage types. bfloat16 is the top half of a float32; float16 uses the compiler's _Float16,
// which becomes F16C instructions in the AVX2/AVX-512 builds and a libgcc routine otherwise.
struct bf16 {
  uint16_t bits;
};
#ifndef __CUDACC__  // nvcc's front end has no _Float16; CUDA code uses __half instead
using f16 = _Float16;
#endif

inline float to_float(float x) { return x; }
inline float to_float(bf16 x) {
  uint32_t u = static_cast<uint32_t>(x.bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
#ifndef __CUDACC__
inline float to_float(f16 x) { return static_cast<float>(x); }
#endif

template <typename T>
inline T from_float(float x);
template <>
inline float from_float<float>(float x) {
  return x;
}
template <>
inline bf16 from_float<bf16>(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return bf16{static_cast<uint16_t>((u >> 16) | 0x40)};
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
  return bf16{static_cast<uint16_t>(u >> 16)};
}
#ifndef __CUDACC__
template <>
inline f16 from_float<f16>(float x) {
  return static_cast<f16>(x);
}
#endif

}  // namespace embedforge::core
