// The one place that asks torch for the current CUDA stream.
//
// torch >= 2.13 offers torch::stable::accelerator's current stream. Older torch (the 2.11 floor a
// GPU machine may carry) only has the C shim aoti_torch_get_current_cuda_stream, which lives in
// libtorch_cuda.so: linking it directly would make the package fail to import on CPU-only torch,
// so it is looked up at run time in the already-loaded libtorch_cuda.
#pragma once
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <torch/csrc/stable/version.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#if defined(TORCH_VERSION_2_13_0) && TORCH_FEATURE_VERSION >= TORCH_VERSION_2_13_0  // undefined in 2.11-2.12 headers
#include <torch/csrc/stable/accelerator.h>
#endif

namespace embedforge::cuda {

inline cudaStream_t current_stream(int32_t device_index) {
#if defined(TORCH_VERSION_2_13_0) && TORCH_FEATURE_VERSION >= TORCH_VERSION_2_13_0  // undefined in 2.11-2.12 headers
  return static_cast<cudaStream_t>(torch::stable::accelerator::getCurrentStream(device_index).nativeHandle());
#else
  using GetStream = int32_t (*)(int32_t, void**);
  static const GetStream get_stream = [] {
    void* lib = dlopen("libtorch_cuda.so", RTLD_LAZY | RTLD_NOLOAD);
    return lib ? reinterpret_cast<GetStream>(dlsym(lib, "aoti_torch_get_current_cuda_stream")) : nullptr;
  }();
  if (!get_stream) throw std::runtime_error("embedforge: this torch has no CUDA support loaded (libtorch_cuda.so)");
  void* stream = nullptr;
  if (get_stream(device_index, &stream) != 0)
    throw std::runtime_error("embedforge: could not get the current CUDA stream from torch");
  return static_cast<cudaStream_t>(stream);
#endif
}

inline void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("embedforge CUDA error in ") + what + ": " + cudaGetErrorString(err));
}

}  // namespace embedforge::cuda
