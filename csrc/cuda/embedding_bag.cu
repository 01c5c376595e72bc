// CUDA adapters and kernels of the embedding-bag family (cuda_runtime, CUB and torch's stable
// headers only). Same semantics as the CPU kernels: ids bounds-checked before any kernel, one
// block per bag in the forward, and a one-hot-free deterministic backward (CUB radix sort of
// (row, position) pairs, run-length segments, one block per touched row, no atomics).
#include <cub/cub.cuh>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <torch/csrc/stable/library.h>

#include <tuple>
#include <vector>

#include "cuda/stream.h"
#include "ops/embedding_bag.h"

namespace embedforge::cuda {
namespace {

using ops::PreparedBags;
using ops::ScalarType;
using ops::Tensor;

__device__ __forceinline__ float ld(float x) { return x; }
__device__ __forceinline__ float ld(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float ld(__half x) { return __half2float(x); }
template <typename T>
__device__ __forceinline__ T st(float x);
template <>
__device__ __forceinline__ float st<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ __nv_bfloat16 st<__nv_bfloat16>(float x) {
  return __float2bfloat16(x);
}
template <>
__device__ __forceinline__ __half st<__half>(float x) {
  return __float2half(x);
}

template <typename Idx>
struct DevBags {
  const Idx* ids;
  const Idx* offs;  // nullptr: fixed-length bags of L
  int64_t n, nb, L, end, pad;
  __device__ int64_t begin(int64_t b) const { return offs ? static_cast<int64_t>(offs[b]) : b * L; }
  __device__ int64_t stop(int64_t b) const {
    if (!offs) return (b + 1) * L;
    return b + 1 < nb ? static_cast<int64_t>(offs[b + 1]) : end;
  }
};

constexpr int kThreads = 256;
inline int blocks_for(int64_t n, int64_t per = kThreads) {
  const int64_t b = (n + per - 1) / per;
  return static_cast<int>(b < 1 ? 1 : (b > 65535 ? 65535 : b));
}
inline int threads_for_dim(int64_t D) {
  int t = 32;
  while (t < D && t < kThreads) t *= 2;
  return t;
}

template <typename Idx>
__global__ void find_bad_id(const Idx* ids, int64_t n, int64_t V, unsigned long long* first_bad) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < n; j += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = ids[j];
    if (r < 0 || r >= V) atomicMin(first_bad, static_cast<unsigned long long>(j));
  }
}

template <typename T, typename Idx, int P>
__global__ void forward_kernel(DevBags<Idx> bg, const T* __restrict__ W, int64_t D, const float* __restrict__ psw,
                               T* __restrict__ out, int64_t* __restrict__ am_out) {
  for (int64_t b = blockIdx.x; b < bg.nb; b += gridDim.x) {
    const int64_t s = bg.begin(b), e = bg.stop(b);
    for (int64_t k = threadIdx.x; k < D; k += blockDim.x) {
      float acc = 0.f;
      int64_t am = -1, count = 0;
      for (int64_t j = s; j < e; ++j) {
        const int64_t r = bg.ids[j];
        if (r == bg.pad) continue;
        const float v = ld(W[r * D + k]);
        if (P == 2) {
          if (count == 0 || v > acc) {
            acc = v;
            am = r;
          }
        } else {
          acc += (psw ? psw[j] : 1.f) * v;
        }
        ++count;
      }
      if (P == 1 && count > 0) acc *= 1.f / static_cast<float>(count);
      out[b * D + k] = st<T>(acc);
      if (P == 2) am_out[b * D + k] = am;
    }
  }
}

template <typename Idx>
__global__ void bag_info_kernel(DevBags<Idx> bg, int32_t* bag_of, float* scale) {
  for (int64_t b = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; b < bg.nb; b += int64_t(gridDim.x) * blockDim.x) {
    const int64_t s = bg.begin(b), e = bg.stop(b);
    int64_t count = 0;
    for (int64_t j = s; j < e; ++j) {
      if (bag_of) bag_of[j] = static_cast<int32_t>(b);
      count += bg.ids[j] != bg.pad;
    }
    if (scale) scale[b] = count > 0 ? 1.f / static_cast<float>(count) : 0.f;
  }
}

// key = row, or V (sorts last, then dropped) for padding ids and ids outside every bag.
template <typename Idx>
__global__ void make_keys(DevBags<Idx> bg, int64_t used_begin, int64_t used_end, uint32_t V, uint32_t* keys,
                          uint32_t* vals) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < bg.n; j += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = bg.ids[j];
    keys[j] = (j < used_begin || j >= used_end || r == bg.pad) ? V : static_cast<uint32_t>(r);
    vals[j] = static_cast<uint32_t>(j);
  }
}

template <typename T>
__global__ void reduce_rows_kernel(const uint32_t* __restrict__ rows, const int64_t* __restrict__ starts,
                                   const int32_t* __restrict__ counts, const uint32_t* __restrict__ pos, int64_t U,
                                   const int32_t* __restrict__ bag_of, int64_t L, const float* __restrict__ psw,
                                   const float* __restrict__ scale, const int64_t* __restrict__ max_rows, int mode,
                                   const T* __restrict__ go, int64_t D, T* __restrict__ out, bool dense) {
  for (int64_t u = blockIdx.x; u < U; u += gridDim.x) {
    const int64_t r = rows[u];
    const int64_t q0 = starts[u], q1 = q0 + counts[u];
    T* dst = out + (dense ? r : u) * D;
    for (int64_t k = threadIdx.x; k < D; k += blockDim.x) {
      float acc = 0.f;
      int64_t prev = -1;
      for (int64_t q = q0; q < q1; ++q) {
        const int64_t j = pos[q];
        const int64_t b = bag_of ? bag_of[j] : j / L;
        if (mode == 2) {
          if (b == prev) continue;
          prev = b;
          if (max_rows[b * D + k] == r) acc += ld(go[b * D + k]);
        } else {
          float s = psw ? psw[j] : 1.f;
          if (mode == 1) s *= scale[b];
          acc += s * ld(go[b * D + k]);
        }
      }
      dst[k] = st<T>(acc);
    }
  }
}

__global__ void widen_kernel(const uint32_t* in, int64_t* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = in[i];
}

template <typename T, typename Idx>
__global__ void psw_grad_kernel(DevBags<Idx> bg, const T* __restrict__ W, const T* __restrict__ go, int64_t D,
                                const int32_t* __restrict__ bag_of, const float* __restrict__ scale, float* out) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < bg.n; j += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = bg.ids[j];
    const int64_t b = bag_of ? bag_of[j] : j / bg.L;
    if (r == bg.pad || b < 0) {
      out[j] = 0.f;
      continue;
    }
    float dot = 0.f;
    for (int64_t k = 0; k < D; ++k) dot += ld(go[b * D + k]) * ld(W[r * D + k]);
    out[j] = scale ? dot * scale[b] : dot;
  }
}

// ---- host side -------------------------------------------------------------------------------

struct Batch {
  PreparedBags p;
  std::vector<int64_t> host_offsets;
  int64_t used_begin = 0, used_end = 0;
  cudaStream_t stream = nullptr;
};

Tensor bytes_on(const Tensor& like, int64_t n) {
  return torch::stable::new_empty(like, {n > 0 ? n : 1}, ScalarType::Byte);
}

template <typename Idx>
DevBags<Idx> dev_bags(const Batch& bt) {
  const core::BagLayout& b = bt.p.bags;
  return DevBags<Idx>{static_cast<const Idx*>(b.indices),
                      static_cast<const Idx*>(b.offsets),
                      b.num_indices,
                      b.num_bags,
                      b.bag_size,
                      b.end,
                      b.padding_idx};
}

template <typename F>
void with_ids(const Batch& bt, F&& f) {
  if (bt.p.bags.int64_ids)
    f(dev_bags<int64_t>(bt));
  else
    f(dev_bags<int32_t>(bt));
}

template <typename F>
void with_table_type(ScalarType t, F&& f) {
  switch (t) {
    case ScalarType::Float: f(float{}); break;
    case ScalarType::BFloat16: f(__nv_bfloat16{}); break;
    case ScalarType::Half: f(__half{}); break;
    default: ops::raise("TypeError", "tables must be float32, bfloat16 or float16");
  }
}

// Validates on the host what must be known there (offsets, copied: they are small) and the ids
// with a kernel whose one-number answer is read back before any other kernel runs.
Batch prepare(const Tensor& indices, const std::optional<Tensor>& offsets, int64_t mode,
              const std::optional<Tensor>& psw, int64_t num_rows, int64_t padding_idx, bool include_last_offset) {
  EF_CHECK(indices.is_cuda(), "ValueError", "indices must be a CUDA tensor for the CUDA kernel");
  Batch bt;
  bt.p = ops::prepare_bags(indices, offsets, mode, psw, num_rows, padding_idx, include_last_offset);
  bt.stream = current_stream(indices.get_device_index());
  check(cudaSetDevice(indices.get_device_index()), "cudaSetDevice");
  core::BagLayout& b = bt.p.bags;
  if (b.offsets) {
    bt.host_offsets.resize(static_cast<size_t>(bt.p.num_offsets));
    const size_t es = b.int64_ids ? 8 : 4;
    std::vector<char> raw(bt.host_offsets.size() * es);
    check(cudaMemcpyAsync(raw.data(), b.offsets, raw.size(), cudaMemcpyDeviceToHost, bt.stream), "copy offsets");
    check(cudaStreamSynchronize(bt.stream), "sync");
    for (size_t i = 0; i < bt.host_offsets.size(); ++i)
      bt.host_offsets[i] =
          b.int64_ids ? reinterpret_cast<int64_t*>(raw.data())[i] : reinterpret_cast<int32_t*>(raw.data())[i];
    core::BagLayout host = b;
    host.indices = nullptr;
    host.int64_ids = true;
    host.offsets = bt.host_offsets.data();
    const std::string err = core::check_offsets(host, bt.p.num_offsets, include_last_offset);
    EF_CHECK(err.empty(), "ValueError", err);
    if (include_last_offset) b.end = bt.host_offsets.back();
    bt.used_begin = b.num_bags > 0 ? bt.host_offsets[0] : 0;
    bt.used_end = b.num_bags > 0 ? b.end : 0;
  } else {
    bt.used_begin = 0;
    bt.used_end = b.num_bags * b.bag_size;
  }
  if (b.num_indices > 0) {
    Tensor flag = torch::stable::new_empty(indices, {1}, ScalarType::Long);
    auto* first_bad = static_cast<unsigned long long*>(flag.data_ptr());
    check(cudaMemsetAsync(first_bad, 0xff, sizeof(unsigned long long), bt.stream), "memset");
    with_ids(bt, [&](auto bg) {
      find_bad_id<<<blocks_for(b.num_indices), kThreads, 0, bt.stream>>>(bg.ids, b.num_indices, num_rows, first_bad);
    });
    check(cudaGetLastError(), "find_bad_id");
    unsigned long long bad = 0;
    check(cudaMemcpyAsync(&bad, first_bad, sizeof bad, cudaMemcpyDeviceToHost, bt.stream), "copy flag");
    check(cudaStreamSynchronize(bt.stream), "sync");
    if (bad != ~0ull) {
      int64_t value = 0;
      const size_t es = b.int64_ids ? 8 : 4;
      int32_t v32 = 0;
      check(cudaMemcpy(b.int64_ids ? static_cast<void*>(&value) : static_cast<void*>(&v32),
                       static_cast<const char*>(b.indices) + bad * es, es, cudaMemcpyDeviceToHost),
            "copy id");
      if (!b.int64_ids) value = v32;
      if (value < 0)
        ops::raise("IndexError", "indices[", bad, "]=", value, " is negative; ids must lie in [0, ", num_rows, ")");
      ops::raise("IndexError", "indices[", bad, "]=", value, " is out of range for a table of ", num_rows, " rows");
    }
  }
  return bt;
}

std::tuple<Tensor, Tensor> embedding_bag_cuda(Tensor weight, Tensor indices, std::optional<Tensor> offsets,
                                              int64_t mode, std::optional<Tensor> per_sample_weights,
                                              int64_t padding_idx, bool include_last_offset, bool /*sparse*/) {
  ops::check_dim(weight, "weight", 2);
  ops::table_dtype(weight, "weight");
  ops::check_same_device(weight, "weight", indices, "indices");
  const int64_t V = weight.size(0), D = weight.size(1);
  Batch bt = prepare(indices, offsets, mode, per_sample_weights, V, padding_idx, include_last_offset);
  const Tensor w = ops::contig(weight);
  const int64_t B = bt.p.bags.num_bags;
  const bool is_max = mode == 2;
  Tensor out = torch::stable::new_empty(w, {B, D});
  Tensor max_rows = torch::stable::new_empty(w, {is_max ? B : 0, is_max ? D : 0}, ScalarType::Long);
  if (B == 0 || D == 0) return {out, max_rows};
  const float* psw = bt.p.per_sample_weights ? static_cast<const float*>(bt.p.per_sample_weights->data_ptr()) : nullptr;
  with_table_type(w.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    with_ids(bt, [&](auto bg) {
      const T* W = static_cast<const T*>(w.data_ptr());
      T* o = static_cast<T*>(out.data_ptr());
      int64_t* am = is_max ? static_cast<int64_t*>(max_rows.data_ptr()) : nullptr;
      using Idx = std::remove_const_t<std::remove_pointer_t<decltype(bg.ids)>>;
      const int blocks = blocks_for(B, 1), threads = threads_for_dim(D);
      if (mode == 0)
        forward_kernel<T, Idx, 0><<<blocks, threads, 0, bt.stream>>>(bg, W, D, psw, o, am);
      else if (mode == 1)
        forward_kernel<T, Idx, 1><<<blocks, threads, 0, bt.stream>>>(bg, W, D, psw, o, am);
      else
        forward_kernel<T, Idx, 2><<<blocks, threads, 0, bt.stream>>>(bg, W, D, psw, o, am);
    });
  });
  check(cudaGetLastError(), "embedding_bag forward");
  return {out, max_rows};
}

// Groups positions by row on the device; returns the number of touched rows.
struct Groups {
  Tensor keys_sorted, pos_sorted, unique, counts, starts, bag_of, scale, num_runs;
  int64_t U = 0;
};

Groups group_rows(const Batch& bt, const Tensor& like, int64_t num_rows, int mode) {
  const core::BagLayout& b = bt.p.bags;
  const int64_t n = b.num_indices;
  EF_CHECK(n < static_cast<int64_t>(UINT32_MAX) && num_rows < static_cast<int64_t>(UINT32_MAX), "ValueError",
           "the CUDA backward supports fewer than 2^32-1 ids per batch and rows per table");
  Groups g;
  const uint32_t V = static_cast<uint32_t>(num_rows);
  Tensor keys = bytes_on(like, n * 4), vals = bytes_on(like, n * 4);
  g.keys_sorted = bytes_on(like, n * 4);
  g.pos_sorted = bytes_on(like, n * 4);
  g.unique = bytes_on(like, n * 4);
  g.counts = bytes_on(like, n * 4);
  g.starts = torch::stable::new_empty(like, {n > 0 ? n : 1}, ScalarType::Long);
  g.num_runs = torch::stable::new_empty(like, {1}, ScalarType::Int);
  if (b.offsets) g.bag_of = bytes_on(like, n * 4);
  if (mode == 1) g.scale = torch::stable::new_empty(like, {b.num_bags > 0 ? b.num_bags : 1}, ScalarType::Float);
  if (n == 0) return g;
  with_ids(bt, [&](auto bg) {
    make_keys<<<blocks_for(n), kThreads, 0, bt.stream>>>(bg, bt.used_begin, bt.used_end, V,
                                                         static_cast<uint32_t*>(keys.data_ptr()),
                                                         static_cast<uint32_t*>(vals.data_ptr()));
    if (b.offsets || mode == 1)
      bag_info_kernel<<<blocks_for(b.num_bags), kThreads, 0, bt.stream>>>(
          bg, b.offsets ? static_cast<int32_t*>(g.bag_of.data_ptr()) : nullptr,
          mode == 1 ? static_cast<float*>(g.scale.data_ptr()) : nullptr);
  });
  check(cudaGetLastError(), "make_keys");
  int bits = 1;
  while (bits < 32 && (static_cast<uint64_t>(V) >> bits) != 0) ++bits;
  size_t sort_bytes = 0, rle_bytes = 0, scan_bytes = 0;
  auto* k_in = static_cast<uint32_t*>(keys.data_ptr());
  auto* k_out = static_cast<uint32_t*>(g.keys_sorted.data_ptr());
  auto* v_in = static_cast<uint32_t*>(vals.data_ptr());
  auto* v_out = static_cast<uint32_t*>(g.pos_sorted.data_ptr());
  auto* uniq = static_cast<uint32_t*>(g.unique.data_ptr());
  auto* cnt = static_cast<int32_t*>(g.counts.data_ptr());
  auto* runs = static_cast<int32_t*>(g.num_runs.data_ptr());
  auto* starts = static_cast<int64_t*>(g.starts.data_ptr());
  const int num = static_cast<int>(n);
  check(cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, k_in, k_out, v_in, v_out, num, 0, bits, bt.stream),
        "sort size");
  check(cub::DeviceRunLengthEncode::Encode(nullptr, rle_bytes, k_out, uniq, cnt, runs, num, bt.stream), "rle size");
  check(cub::DeviceScan::ExclusiveSum(nullptr, scan_bytes, cnt, starts, num, bt.stream), "scan size");
  Tensor tmp = bytes_on(like, static_cast<int64_t>(std::max(sort_bytes, std::max(rle_bytes, scan_bytes))));
  check(cub::DeviceRadixSort::SortPairs(tmp.data_ptr(), sort_bytes, k_in, k_out, v_in, v_out, num, 0, bits, bt.stream),
        "sort");
  check(cub::DeviceRunLengthEncode::Encode(tmp.data_ptr(), rle_bytes, k_out, uniq, cnt, runs, num, bt.stream), "rle");
  int32_t host_runs = 0;
  check(cudaMemcpyAsync(&host_runs, runs, sizeof host_runs, cudaMemcpyDeviceToHost, bt.stream), "copy runs");
  check(cudaStreamSynchronize(bt.stream), "sync");
  check(cub::DeviceScan::ExclusiveSum(tmp.data_ptr(), scan_bytes, cnt, starts, host_runs, bt.stream), "scan");
  uint32_t last = 0;
  if (host_runs > 0) {
    check(cudaMemcpyAsync(&last, uniq + host_runs - 1, sizeof last, cudaMemcpyDeviceToHost, bt.stream), "copy last");
    check(cudaStreamSynchronize(bt.stream), "sync");
  }
  g.U = host_runs > 0 && last == V ? host_runs - 1 : host_runs;  // drop the padding / unused run
  return g;
}

template <typename T>
void launch_reduce(const Batch& bt, const Groups& g, const Tensor& grad, const Tensor& max_rows, int mode, Tensor& out,
                   bool dense) {
  const int64_t D = grad.size(1);
  if (g.U == 0 || D == 0) return;
  const core::BagLayout& b = bt.p.bags;
  reduce_rows_kernel<T><<<blocks_for(g.U, 1), threads_for_dim(D), 0, bt.stream>>>(
      static_cast<const uint32_t*>(g.unique.data_ptr()), static_cast<const int64_t*>(g.starts.data_ptr()),
      static_cast<const int32_t*>(g.counts.data_ptr()), static_cast<const uint32_t*>(g.pos_sorted.data_ptr()), g.U,
      b.offsets ? static_cast<const int32_t*>(g.bag_of.data_ptr()) : nullptr, b.bag_size,
      bt.p.per_sample_weights ? static_cast<const float*>(bt.p.per_sample_weights->data_ptr()) : nullptr,
      mode == 1 ? static_cast<const float*>(g.scale.data_ptr()) : nullptr,
      mode == 2 ? static_cast<const int64_t*>(max_rows.data_ptr()) : nullptr, mode,
      static_cast<const T*>(grad.data_ptr()), D, static_cast<T*>(out.data_ptr()), dense);
  check(cudaGetLastError(), "embedding_bag backward");
}

void check_backward_inputs(const Tensor& grad, const Batch& bt, const Tensor& max_rows, int64_t mode) {
  ops::check_dim(grad, "grad", 2);
  ops::table_dtype(grad, "grad");
  EF_CHECK(grad.size(0) == bt.p.bags.num_bags, "ValueError", "grad has ", grad.size(0), " rows but the batch has ",
           bt.p.bags.num_bags, " bags");
  EF_CHECK(grad.is_cuda() && grad.get_device_index() == bt.p.indices.get_device_index(), "ValueError",
           "grad must be on the CUDA device of indices");
  if (mode == 2) {
    EF_CHECK(max_rows.dim() == 2 && max_rows.size(0) == grad.size(0) && max_rows.size(1) == grad.size(1) &&
                 max_rows.scalar_type() == ScalarType::Long,
             "ValueError", "max_rows must be the int64 [num_bags, dim] tensor returned by the forward");
    EF_CHECK(max_rows.is_cuda() && max_rows.get_device_index() == bt.p.indices.get_device_index(), "ValueError",
             "max_rows must be on the CUDA device of indices");
  }
}

Tensor embedding_bag_backward_dense_cuda(Tensor grad, Tensor indices, std::optional<Tensor> offsets, int64_t num_rows,
                                         int64_t mode, std::optional<Tensor> psw, Tensor max_rows, int64_t padding_idx,
                                         bool include_last_offset) {
  Batch bt = prepare(indices, offsets, mode, psw, num_rows, padding_idx, include_last_offset);
  check_backward_inputs(grad, bt, max_rows, mode);
  const Tensor g = ops::contig(grad);
  const Tensor mr = ops::contig(max_rows);
  ops::checked_size(num_rows, g.size(1), static_cast<int64_t>(g.element_size()), "the gradient (num_rows x dim)");
  Tensor gw = torch::stable::new_empty(g, {num_rows, g.size(1)});
  check(cudaMemsetAsync(gw.data_ptr(), 0, static_cast<size_t>(num_rows * g.size(1)) * gw.element_size(), bt.stream),
        "zero");
  const Groups groups = group_rows(bt, g, num_rows, static_cast<int>(mode));
  with_table_type(g.scalar_type(), [&](auto tag) { launch_reduce<decltype(tag)>(bt, groups, g, mr, mode, gw, true); });
  return gw;
}

std::tuple<Tensor, Tensor> embedding_bag_backward_rows_cuda(Tensor grad, Tensor indices, std::optional<Tensor> offsets,
                                                            int64_t num_rows, int64_t mode, std::optional<Tensor> psw,
                                                            Tensor max_rows, int64_t padding_idx,
                                                            bool include_last_offset) {
  Batch bt = prepare(indices, offsets, mode, psw, num_rows, padding_idx, include_last_offset);
  check_backward_inputs(grad, bt, max_rows, mode);
  const Tensor g = ops::contig(grad);
  const Tensor mr = ops::contig(max_rows);
  const Groups groups = group_rows(bt, g, num_rows, static_cast<int>(mode));
  Tensor rows = torch::stable::new_empty(g, {groups.U}, ScalarType::Long);
  if (groups.U > 0) {
    widen_kernel<<<blocks_for(groups.U), kThreads, 0, bt.stream>>>(
        static_cast<const uint32_t*>(groups.unique.data_ptr()), static_cast<int64_t*>(rows.data_ptr()), groups.U);
    check(cudaGetLastError(), "widen rows");
  }
  Tensor row_grads = torch::stable::new_empty(g, {groups.U, g.size(1)});
  with_table_type(g.scalar_type(),
                  [&](auto tag) { launch_reduce<decltype(tag)>(bt, groups, g, mr, mode, row_grads, false); });
  return {rows, row_grads};
}

Tensor embedding_bag_backward_psw_cuda(Tensor grad, Tensor weight, Tensor indices, std::optional<Tensor> offsets,
                                       int64_t mode, int64_t padding_idx, bool include_last_offset) {
  ops::check_dim(weight, "weight", 2);
  const int64_t V = weight.size(0);
  Batch bt = prepare(indices, offsets, mode, std::nullopt, V, padding_idx, include_last_offset);
  check_backward_inputs(grad, bt, Tensor(), 0);
  ops::check_same_device(weight, "weight", indices, "indices");
  EF_CHECK(grad.scalar_type() == weight.scalar_type(), "TypeError", "grad and weight must share a dtype");
  EF_CHECK(grad.size(1) == weight.size(1), "ValueError", "grad is [", grad.size(0), ", ", grad.size(1),
           "] but weight has ", weight.size(1), " columns: grad must be [bags, weight.size(1)]");
  const Tensor g = ops::contig(grad);
  const Tensor w = ops::contig(weight);
  const core::BagLayout& b = bt.p.bags;
  Tensor out = torch::stable::new_zeros(g, {b.num_indices}, ScalarType::Float);
  if (b.num_indices == 0) return out;
  Tensor bag_of = bytes_on(g, b.num_indices * 4);
  Tensor scale = torch::stable::new_empty(g, {b.num_bags > 0 ? b.num_bags : 1}, ScalarType::Float);
  // Ids outside every bag get bag -1 (their gradient stays zero).
  check(cudaMemsetAsync(bag_of.data_ptr(), 0xff, static_cast<size_t>(b.num_indices) * 4, bt.stream), "memset");
  with_table_type(g.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    with_ids(bt, [&](auto bg) {
      bag_info_kernel<<<blocks_for(b.num_bags), kThreads, 0, bt.stream>>>(
          bg, b.offsets ? static_cast<int32_t*>(bag_of.data_ptr()) : nullptr,
          mode == 1 ? static_cast<float*>(scale.data_ptr()) : nullptr);
      psw_grad_kernel<T><<<blocks_for(b.num_indices), kThreads, 0, bt.stream>>>(
          bg, static_cast<const T*>(w.data_ptr()), static_cast<const T*>(g.data_ptr()), g.size(1),
          b.offsets ? static_cast<const int32_t*>(bag_of.data_ptr()) : nullptr,
          mode == 1 ? static_cast<const float*>(scale.data_ptr()) : nullptr, static_cast<float*>(out.data_ptr()));
    });
  });
  check(cudaGetLastError(), "embedding_bag psw backward");
  return out;
}

}  // namespace

STABLE_TORCH_LIBRARY_IMPL(embedforge, CUDA, m) {
  m.impl("embedding_bag", TORCH_BOX(&embedding_bag_cuda));
  m.impl("embedding_bag_backward_dense", TORCH_BOX(&embedding_bag_backward_dense_cuda));
  m.impl("embedding_bag_backward_rows", TORCH_BOX(&embedding_bag_backward_rows_cuda));
  m.impl("embedding_bag_backward_psw", TORCH_BOX(&embedding_bag_backward_psw_cuda));
}

}  // namespace embedforge::cuda
