// Shared validation for the op adapters: one message style for every caller error.
//
// Caller errors throw std::runtime_error whose text starts with "[embedforge:<PythonError>] ";
// the Python wrappers re-raise it as that Python exception type (ValueError, IndexError,
// TypeError) with the tag removed, so users see e.g.
//   IndexError: indices[17]=50000 is out of range for a table of 50000 rows
#pragma once
#include <torch/csrc/stable/ops.h>
#include <torch/csrc/stable/tensor.h>
#include <torch/headeronly/core/ScalarType.h>

#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

#include "core/dtype.h"

namespace embedforge::ops {

using torch::stable::Tensor;
using ScalarType = torch::headeronly::ScalarType;

template <typename... Args>
[[noreturn]] inline void raise(const char* kind, const Args&... args) {
  std::ostringstream oss;
  oss << "[embedforge:" << kind << "] ";
  ((oss << args), ...);
  throw std::runtime_error(oss.str());
}

#define EF_CHECK(cond, kind, ...)                             \
  do {                                                        \
    if (!(cond)) ::embedforge::ops::raise(kind, __VA_ARGS__); \
  } while (0)

inline const char* scalar_type_name(ScalarType t) {
  switch (t) {
    case ScalarType::Float: return "float32";
    case ScalarType::Double: return "float64";
    case ScalarType::BFloat16: return "bfloat16";
    case ScalarType::Half: return "float16";
    case ScalarType::Long: return "int64";
    case ScalarType::Int: return "int32";
    case ScalarType::Short: return "int16";
    case ScalarType::Char: return "int8";
    case ScalarType::Byte: return "uint8";
    case ScalarType::Bool: return "bool";
    default: return "an unsupported dtype";
  }
}

// The table dtypes the kernels support.
inline core::DType table_dtype(const Tensor& t, const char* name) {
  switch (t.scalar_type()) {
    case ScalarType::Float: return core::DType::kFloat32;
    case ScalarType::BFloat16: return core::DType::kBFloat16;
    case ScalarType::Half: return core::DType::kFloat16;
    default: raise("TypeError", name, " must be float32, bfloat16 or float16, got ", scalar_type_name(t.scalar_type()));
  }
}

inline bool is_index_dtype(const Tensor& t) {
  return t.scalar_type() == ScalarType::Long || t.scalar_type() == ScalarType::Int;
}

inline void check_index_tensor(const Tensor& t, const char* name) {
  EF_CHECK(is_index_dtype(t), "TypeError", name, " must be int32 or int64, got ", scalar_type_name(t.scalar_type()));
}

inline void check_dim(const Tensor& t, const char* name, int64_t dim) {
  EF_CHECK(t.dim() == dim, "ValueError", name, " must be ", dim, "-D, got a ", t.dim(), "-D tensor");
}

inline void check_same_device(const Tensor& a, const char* an, const Tensor& b, const char* bn) {
  EF_CHECK(a.get_device() == b.get_device() && a.is_cpu() == b.is_cpu(), "ValueError", an, " and ", bn,
           " must be on the same device");
}

inline void check_cpu(const Tensor& t, const char* name) {
  EF_CHECK(t.is_cpu(), "ValueError", name, " must be a CPU tensor here (this kernel is the CPU one)");
}

// rows x cols elements of elem_size bytes, checked for overflow before anything is allocated.
inline int64_t checked_size(int64_t rows, int64_t cols, int64_t elem_size, const char* what) {
  EF_CHECK(rows >= 0 && cols >= 0, "ValueError", what, " must have non-negative sizes, got [", rows, ", ", cols, "]");
  int64_t n = 0, bytes = 0;
  EF_CHECK(!__builtin_mul_overflow(rows, cols, &n) && !__builtin_mul_overflow(n, elem_size, &bytes), "ValueError", what,
           " of [", rows, ", ", cols, "] elements overflows a 64-bit size");
  return n;
}

// A contiguous version (no copy when already contiguous).
inline Tensor contig(const Tensor& t) { return t.is_contiguous() ? t : torch::stable::contiguous(t); }

}  // namespace embedforge::ops
