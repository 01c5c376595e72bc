// CUDA adapters of the fused optimizer family. The batch's row gradients come from the
// embedding_bag family's device grouping (CUB radix sort by row + run-length encode + a per-row
// reduction in position order, so deterministic), called through the dispatcher; this file then
// applies the optimizer to those touched rows, one block per row. Only U×D row gradients exist
// (U touched rows), never V×D. Every check runs before the first write, as on the CPU.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <torch/csrc/stable/library.h>
#include <torch/csrc/stable/c/shim.h>
#include <torch/headeronly/util/shim_utils.h>

#include <array>
#include <cmath>
#include <optional>

#include "core/fused_optim.h"
#include "cuda/stream.h"
#include "ops/tensor_checks.h"

namespace embedforge::cuda {
namespace {

using ops::ScalarType;
using ops::Tensor;

__device__ __forceinline__ float ld(float x) { return x; }
__device__ __forceinline__ float ld(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float ld(__half x) { return __half2float(x); }

// The same counter-based hash as core::rounding_bits, so a step rounds identically on both devices.
__device__ __forceinline__ uint32_t rounding_bits(uint64_t seed, uint64_t row, uint64_t col) {
  uint64_t z = seed ^ (row * 0x9E3779B97F4A7C15ull) ^ (col * 0xD1B54A32D192ED03ull);
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<uint32_t>(z >> 32);
}

template <typename T>
__device__ __forceinline__ T store(float x, bool sr, uint32_t bits);
template <>
__device__ __forceinline__ float store<float>(float x, bool, uint32_t) {
  return x;
}
template <>
__device__ __forceinline__ __nv_bfloat16 store<__nv_bfloat16>(float x, bool sr, uint32_t bits) {
  uint32_t u = __float_as_uint(x);
  if (!sr || (u & 0x7f800000u) == 0x7f800000u) return __float2bfloat16(x);
  u += bits >> 16;  // carries into the kept half with probability (dropped half) / 2^16
  return __ushort_as_bfloat16(static_cast<unsigned short>(u >> 16));
}
template <>
__device__ __forceinline__ __half store<__half>(float x, bool sr, uint32_t bits) {
  const __half h = __float2half_rn(x);
  const float hf = __half2float(h);
  if (!sr || hf == x || isinf(hf) || isnan(x)) return h;
  const unsigned short hb = __half_as_ushort(h);
  const bool up = hf < x;
  unsigned short ob;
  if ((hb & 0x7fffu) == 0)
    ob = up ? 0x0001u : 0x8001u;
  else
    ob = static_cast<unsigned short>(((hb & 0x8000u) != 0) == up ? hb - 1 : hb + 1);
  const __half o = __ushort_as_half(ob);
  const float of = __half2float(o);
  if (isinf(of)) return h;
  const float p_other = (x - hf) / (of - hf);
  const float r = static_cast<float>(bits >> 8) * (1.f / 16777216.f);
  return r < p_other ? o : h;
}

struct DevOptim {
  int kind;
  float lr, eps, beta1, beta2, wd;
  float* state0;
  float* state1;
  int64_t* row_step;
  bool per_row_step;
  float step_size, inv_sqrt_bc2;  // Adam with a table step count
  bool sr;
  uint64_t seed;
};

// One block per touched row (grid-stride), threads over D. Row-wise Adagrad sums g² with a fixed
// shared-memory tree, so the result does not depend on scheduling.
template <typename T>
__global__ void update_rows_kernel(T* __restrict__ W, const int64_t* __restrict__ rows, const T* __restrict__ grads,
                                   int64_t U, int64_t D, DevOptim o) {
  extern __shared__ float red[];
  __shared__ float row_scale[2];
  for (int64_t u = blockIdx.x; u < U; u += gridDim.x) {
    const int64_t r = rows[u];
    T* w = W + r * D;
    const T* g = grads + u * D;
    if (o.kind == static_cast<int>(core::OptimKind::kRowWiseAdagrad)) {
      float part = 0.f;
      for (int64_t k = threadIdx.x; k < D; k += blockDim.x) {
        const float gk = ld(g[k]) + o.wd * ld(w[k]);
        part += gk * gk;
      }
      red[threadIdx.x] = part;
      __syncthreads();
      for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) red[threadIdx.x] += red[threadIdx.x + s];
        __syncthreads();
      }
      if (threadIdx.x == 0) {
        const float sum = o.state0[r] + red[0] / static_cast<float>(D);
        o.state0[r] = sum;
        row_scale[0] = o.lr / (sqrtf(sum) + o.eps);
      }
      __syncthreads();
    } else if (o.kind == static_cast<int>(core::OptimKind::kAdam)) {
      if (threadIdx.x == 0) {
        if (o.per_row_step) {
          const int64_t t = ++o.row_step[r];
          const double bc1 = 1.0 - pow(static_cast<double>(o.beta1), static_cast<double>(t));
          const double bc2 = 1.0 - pow(static_cast<double>(o.beta2), static_cast<double>(t));
          row_scale[0] = static_cast<float>(o.lr / bc1);
          row_scale[1] = static_cast<float>(1.0 / sqrt(bc2));
        } else {
          row_scale[0] = o.step_size;
          row_scale[1] = o.inv_sqrt_bc2;
        }
      }
      __syncthreads();
    }
    for (int64_t k = threadIdx.x; k < D; k += blockDim.x) {
      float wk = ld(w[k]);
      const float gk = ld(g[k]) + o.wd * wk;
      switch (o.kind) {
        case static_cast<int>(core::OptimKind::kSgd): wk -= o.lr * gk; break;
        case static_cast<int>(core::OptimKind::kAdagrad): {
          const float s = o.state0[r * D + k] + gk * gk;
          o.state0[r * D + k] = s;
          wk -= o.lr * gk / (sqrtf(s) + o.eps);
          break;
        }
        case static_cast<int>(core::OptimKind::kRowWiseAdagrad): wk -= row_scale[0] * gk; break;
        default: {
          const float m = o.beta1 * o.state0[r * D + k] + (1.f - o.beta1) * gk;
          const float v = o.beta2 * o.state1[r * D + k] + (1.f - o.beta2) * gk * gk;
          o.state0[r * D + k] = m;
          o.state1[r * D + k] = v;
          wk -= row_scale[0] * m / (sqrtf(v) * row_scale[1] + o.eps);
        }
      }
      w[k] = store<T>(wk, o.sr, o.sr ? rounding_bits(o.seed, static_cast<uint64_t>(r), static_cast<uint64_t>(k)) : 0u);
    }
    __syncthreads();  // row_scale / red are reused by the next row
  }
}

// The touched rows and their reduced gradients, from the embedding_bag family's CUDA backward.
std::array<Tensor, 2> row_gradients(const Tensor& grad, const Tensor& indices, const std::optional<Tensor>& offsets,
                                    int64_t num_rows, int64_t pool, const std::optional<Tensor>& psw,
                                    const Tensor& max_rows, int64_t padding_idx, bool include_last_offset) {
  std::array<StableIValue, 9> stack{torch::stable::detail::from(grad),
                                    torch::stable::detail::from(indices),
                                    torch::stable::detail::from(offsets),
                                    torch::stable::detail::from(num_rows),
                                    torch::stable::detail::from(pool),
                                    torch::stable::detail::from(psw),
                                    torch::stable::detail::from(max_rows),
                                    torch::stable::detail::from(padding_idx),
                                    torch::stable::detail::from(include_last_offset)};
  TORCH_ERROR_CODE_CHECK(  // header-only: in the 2.11 headers too (the STABLE_ form is 2.13+)
      torch_call_dispatcher("embedforge::embedding_bag_backward_rows", "", stack.data(), TORCH_ABI_VERSION));
  return {torch::stable::detail::to<Tensor>(stack[0]), torch::stable::detail::to<Tensor>(stack[1])};
}

void check_table(const Tensor& weight, const Tensor& grad) {
  ops::check_dim(weight, "weight", 2);
  EF_CHECK(weight.is_cuda(), "ValueError", "weight must be a CUDA tensor for the CUDA kernel");
  ops::table_dtype(weight, "weight");
  EF_CHECK(weight.is_contiguous(), "ValueError", "weight must be contiguous: a fused step updates the table in place");
  ops::check_dim(grad, "grad", 2);
  ops::check_same_device(weight, "weight", grad, "grad");
  EF_CHECK(grad.scalar_type() == weight.scalar_type(), "TypeError", "grad must have the dtype of weight");
  EF_CHECK(grad.size(1) == weight.size(1), "ValueError", "grad must have ", weight.size(1), " columns, got ",
           grad.size(1));
}

void check_state(const Tensor& s, const char* name, const Tensor& weight, int64_t rows, int64_t cols) {
  ops::check_same_device(s, name, weight, "weight");
  EF_CHECK(s.scalar_type() == ScalarType::Float, "TypeError", name, " must be float32, got ",
           ops::scalar_type_name(s.scalar_type()));
  const bool shape_ok =
      cols < 0 ? (s.dim() == 1 && s.size(0) == rows) : (s.dim() == 2 && s.size(0) == rows && s.size(1) == cols);
  EF_CHECK(shape_ok, "ValueError", name, " has the wrong shape for a table of ", rows, " rows");
  EF_CHECK(s.is_contiguous(), "ValueError", name, " must be contiguous: a fused step updates it in place");
  EF_CHECK(s.data_ptr() != weight.data_ptr(), "ValueError", name, " shares memory with weight");
}

void run(Tensor weight, const Tensor& grad, const Tensor& indices, const std::optional<Tensor>& offsets, int64_t pool,
         const std::optional<Tensor>& psw, const Tensor& max_rows, int64_t padding_idx, bool include_last_offset,
         const core::OptimArgs& args, int64_t* host_step_to_write, int64_t* dev_step) {
  const std::string err = core::check_optim_args(args);
  EF_CHECK(err.empty(), "ValueError", err);
  // Validates the batch (ids in range, offsets) and reduces the touched rows: no write yet.
  const auto [rows, row_grads] = row_gradients(ops::contig(grad), indices, offsets, weight.size(0), pool, psw, max_rows,
                                               padding_idx, include_last_offset);
  const int64_t U = rows.size(0), D = weight.size(1);
  const cudaStream_t stream = current_stream(weight.get_device_index());
  if (host_step_to_write)  // the table's step count advances with the update
    check(cudaMemcpyAsync(dev_step, host_step_to_write, sizeof(int64_t), cudaMemcpyHostToDevice, stream), "step");
  if (U == 0 || D == 0) {
    check(cudaStreamSynchronize(stream), "sync");
    return;
  }
  DevOptim o{static_cast<int>(args.kind),
             args.lr,
             args.eps,
             args.beta1,
             args.beta2,
             args.weight_decay,
             args.state0,
             args.state1,
             args.row_step,
             args.per_row_step,
             0.f,
             0.f,
             args.stochastic_rounding,
             args.seed};
  if (args.kind == core::OptimKind::kAdam && !args.per_row_step) {
    const double bc1 = 1.0 - std::pow(static_cast<double>(args.beta1), static_cast<double>(args.global_step));
    const double bc2 = 1.0 - std::pow(static_cast<double>(args.beta2), static_cast<double>(args.global_step));
    o.step_size = static_cast<float>(args.lr / bc1);
    o.inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  }
  int threads = 32;
  while (threads < D && threads < 256) threads *= 2;
  const int blocks = static_cast<int>(U < 65535 ? U : 65535);
  const size_t shmem = static_cast<size_t>(threads) * sizeof(float);
  switch (weight.scalar_type()) {
    case ScalarType::Float:
      update_rows_kernel<float><<<blocks, threads, shmem, stream>>>(
          static_cast<float*>(weight.mutable_data_ptr()), static_cast<const int64_t*>(rows.data_ptr()),
          static_cast<const float*>(row_grads.data_ptr()), U, D, o);
      break;
    case ScalarType::BFloat16:
      update_rows_kernel<__nv_bfloat16><<<blocks, threads, shmem, stream>>>(
          static_cast<__nv_bfloat16*>(weight.mutable_data_ptr()), static_cast<const int64_t*>(rows.data_ptr()),
          static_cast<const __nv_bfloat16*>(row_grads.data_ptr()), U, D, o);
      break;
    default:
      update_rows_kernel<__half><<<blocks, threads, shmem, stream>>>(
          static_cast<__half*>(weight.mutable_data_ptr()), static_cast<const int64_t*>(rows.data_ptr()),
          static_cast<const __half*>(row_grads.data_ptr()), U, D, o);
  }
  check(cudaGetLastError(), "fused optimizer update");
  if (host_step_to_write) check(cudaStreamSynchronize(stream), "sync");  // the host step must outlive the copy
}

core::OptimArgs base(core::OptimKind kind, double lr, double wd, bool sr, int64_t seed) {
  core::OptimArgs o;
  o.kind = kind;
  o.lr = static_cast<float>(lr);
  o.weight_decay = static_cast<float>(wd);
  o.stochastic_rounding = sr;
  o.seed = static_cast<uint64_t>(seed);
  return o;
}

void fused_sgd_step_cuda(Tensor weight, Tensor grad, Tensor indices, std::optional<Tensor> offsets, int64_t pool,
                         std::optional<Tensor> psw, Tensor max_rows, int64_t padding_idx, bool include_last_offset,
                         double lr, double weight_decay, bool sr, int64_t seed) {
  check_table(weight, grad);
  run(weight, grad, indices, offsets, pool, psw, max_rows, padding_idx, include_last_offset,
      base(core::OptimKind::kSgd, lr, weight_decay, sr, seed), nullptr, nullptr);
}

void fused_adagrad_step_cuda(Tensor weight, Tensor state_sum, Tensor grad, Tensor indices,
                             std::optional<Tensor> offsets, int64_t pool, std::optional<Tensor> psw, Tensor max_rows,
                             int64_t padding_idx, bool include_last_offset, double lr, double eps, double weight_decay,
                             bool sr, int64_t seed) {
  check_table(weight, grad);
  check_state(state_sum, "state_sum", weight, weight.size(0), weight.size(1));
  core::OptimArgs o = base(core::OptimKind::kAdagrad, lr, weight_decay, sr, seed);
  o.eps = static_cast<float>(eps);
  o.state0 = static_cast<float*>(state_sum.mutable_data_ptr());
  run(weight, grad, indices, offsets, pool, psw, max_rows, padding_idx, include_last_offset, o, nullptr, nullptr);
}

void fused_rowwise_adagrad_step_cuda(Tensor weight, Tensor state_sum, Tensor grad, Tensor indices,
                                     std::optional<Tensor> offsets, int64_t pool, std::optional<Tensor> psw,
                                     Tensor max_rows, int64_t padding_idx, bool include_last_offset, double lr,
                                     double eps, double weight_decay, bool sr, int64_t seed) {
  check_table(weight, grad);
  check_state(state_sum, "state_sum", weight, weight.size(0), -1);
  core::OptimArgs o = base(core::OptimKind::kRowWiseAdagrad, lr, weight_decay, sr, seed);
  o.eps = static_cast<float>(eps);
  o.state0 = static_cast<float*>(state_sum.mutable_data_ptr());
  run(weight, grad, indices, offsets, pool, psw, max_rows, padding_idx, include_last_offset, o, nullptr, nullptr);
}

void fused_adam_step_cuda(Tensor weight, Tensor exp_avg, Tensor exp_avg_sq, Tensor step, Tensor grad, Tensor indices,
                          std::optional<Tensor> offsets, int64_t pool, std::optional<Tensor> psw, Tensor max_rows,
                          int64_t padding_idx, bool include_last_offset, double lr, double beta1, double beta2,
                          double eps, double weight_decay, bool per_row_step, bool sr, int64_t seed) {
  check_table(weight, grad);
  const int64_t V = weight.size(0), D = weight.size(1);
  check_state(exp_avg, "exp_avg", weight, V, D);
  check_state(exp_avg_sq, "exp_avg_sq", weight, V, D);
  EF_CHECK(exp_avg.data_ptr() != exp_avg_sq.data_ptr(), "ValueError", "exp_avg and exp_avg_sq share memory");
  ops::check_same_device(step, "step", weight, "weight");
  EF_CHECK(step.scalar_type() == ScalarType::Long, "TypeError", "step must be int64, got ",
           ops::scalar_type_name(step.scalar_type()));
  EF_CHECK(step.dim() == 1 && step.size(0) == (per_row_step ? V : 1) && step.is_contiguous(), "ValueError",
           "step must be contiguous and 1-D of size ", per_row_step ? V : 1);
  core::OptimArgs o = base(core::OptimKind::kAdam, lr, weight_decay, sr, seed);
  o.eps = static_cast<float>(eps);
  o.beta1 = static_cast<float>(beta1);
  o.beta2 = static_cast<float>(beta2);
  o.state0 = static_cast<float*>(exp_avg.mutable_data_ptr());
  o.state1 = static_cast<float*>(exp_avg_sq.mutable_data_ptr());
  o.per_row_step = per_row_step;
  int64_t host_step = 0;
  if (per_row_step) {
    o.row_step = static_cast<int64_t*>(step.mutable_data_ptr());
    run(weight, grad, indices, offsets, pool, psw, max_rows, padding_idx, include_last_offset, o, nullptr, nullptr);
  } else {
    const cudaStream_t stream = current_stream(weight.get_device_index());
    check(cudaMemcpyAsync(&host_step, step.data_ptr(), sizeof host_step, cudaMemcpyDeviceToHost, stream), "step");
    check(cudaStreamSynchronize(stream), "sync");
    EF_CHECK(host_step >= 0, "ValueError", "step[0]=", host_step, " is negative");
    o.global_step = ++host_step;
    run(weight, grad, indices, offsets, pool, psw, max_rows, padding_idx, include_last_offset, o, &host_step,
        static_cast<int64_t*>(step.mutable_data_ptr()));
  }
}

}  // namespace

STABLE_TORCH_LIBRARY_IMPL(embedforge, CUDA, m) {
  m.impl("fused_sgd_step", TORCH_BOX(&fused_sgd_step_cuda));
  m.impl("fused_adagrad_step", TORCH_BOX(&fused_adagrad_step_cuda));
  m.impl("fused_rowwise_adagrad_step", TORCH_BOX(&fused_rowwise_adagrad_step_cuda));
  m.impl("fused_adam_step", TORCH_BOX(&fused_adam_step_cuda));
}

}  // namespace embedforge::cuda
