// CUDA kernel of the batched skip-gram negative-sampling step (cuda_runtime and torch's stable
// headers only). Same semantics as the CPU kernel: every scaled error uses the tables as they were
// before the step, then each touched row receives the sum of its updates. Four launches: scores
// (one block per pair, block-reduced dots), input gradients from the old outputs, output updates
// (atomicAdd; rows shared by pairs, e.g. the shared negatives, accumulate), input updates.
// Float atomics make the summation order, hence the last bits, vary from run to run.
#include <torch/csrc/stable/library.h>

#include <cmath>

#include "cuda/stream.h"
#include "ops/tensor_checks.h"

namespace embedforge::cuda {
namespace {

using ops::ScalarType;
using ops::Tensor;

constexpr int kThreads = 128;

__global__ void sgns_find_bad(const int64_t* ids, int64_t n, int64_t rows, unsigned long long* first_bad) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < n; j += int64_t(gridDim.x) * blockDim.x)
    if (ids[j] < 0 || ids[j] >= rows) atomicMin(first_bad, static_cast<unsigned long long>(j));
}

__device__ __forceinline__ const float* out_row(const float* out, const int64_t* centers, const int64_t* negs,
                                                int64_t i, int64_t j, int64_t D) {
  return out + (j == 0 ? centers[i] : negs[j - 1]) * D;
}

// g[i, j] = lr * (label_j - sigmoid(h_i . o_j)); loss[i] = -log sig(pos) - sum log sig(-neg).
__global__ void sgns_scores(const float* __restrict__ in, const float* __restrict__ out, const int64_t* centers,
                            const int64_t* contexts, const int64_t* negs, int64_t N, int64_t M, int64_t D, float lr,
                            float* __restrict__ g, float* __restrict__ loss) {
  __shared__ float partial[kThreads];
  for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
    const float* h = in + contexts[i] * D;
    float total = 0.f;
    for (int64_t j = 0; j < M; ++j) {
      const float* o = out_row(out, centers, negs, i, j, D);
      float s = 0.f;
      for (int64_t d = threadIdx.x; d < D; d += blockDim.x) s += h[d] * o[d];
      partial[threadIdx.x] = s;
      __syncthreads();
      for (int w = blockDim.x / 2; w > 0; w /= 2) {
        if (threadIdx.x < w) partial[threadIdx.x] += partial[threadIdx.x + w];
        __syncthreads();
      }
      const float x = partial[0];
      __syncthreads();
      if (threadIdx.x == 0) {
        const float label = j == 0 ? 1.f : 0.f;
        g[i * M + j] = lr * (label - 1.f / (1.f + expf(-x)));
        const float z = j == 0 ? -x : x;  // -log sigmoid(-z) = softplus(z)
        total += z > 0.f ? z + log1pf(expf(-z)) : log1pf(expf(z));
      }
    }
    if (threadIdx.x == 0) loss[i] = total;
  }
}

// grad_in[i, :] = sum_j g[i, j] o_j (old outputs).
__global__ void sgns_grad_in(const float* __restrict__ out, const int64_t* centers, const int64_t* negs,
                             const float* __restrict__ g, int64_t N, int64_t M, int64_t D,
                             float* __restrict__ grad_in) {
  for (int64_t i = blockIdx.x; i < N; i += gridDim.x)
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
      float s = 0.f;
      for (int64_t j = 0; j < M; ++j) s += g[i * M + j] * out_row(out, centers, negs, i, j, D)[d];
      grad_in[i * D + d] = s;
    }
}

// o_j += g[i, j] h_i (inputs not yet updated).
__global__ void sgns_apply_out(const float* __restrict__ in, float* out, const int64_t* centers,
                               const int64_t* contexts, const int64_t* negs, const float* __restrict__ g, int64_t N,
                               int64_t M, int64_t D) {
  for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
    const float* h = in + contexts[i] * D;
    for (int64_t j = 0; j < M; ++j) {
      float* o = out + (j == 0 ? centers[i] : negs[j - 1]) * D;
      const float s = g[i * M + j];
      for (int64_t d = threadIdx.x; d < D; d += blockDim.x) atomicAdd(o + d, s * h[d]);
    }
  }
}

__global__ void sgns_apply_in(float* in, const int64_t* contexts, const float* __restrict__ grad_in, int64_t N,
                              int64_t D) {
  for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
    float* h = in + contexts[i] * D;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) atomicAdd(h + d, grad_in[i * D + d]);
  }
}

int grid_for(int64_t n) { return static_cast<int>(n < 65535 ? (n > 0 ? n : 1) : 65535); }

void check_table(const Tensor& t, const char* name) {
  EF_CHECK(t.is_cuda(), "ValueError", name, " must be a CUDA tensor here (this kernel is the CUDA one)");
  EF_CHECK(t.scalar_type() == ScalarType::Float, "TypeError", name, " must be float32, got ",
           ops::scalar_type_name(t.scalar_type()));
  ops::check_dim(t, name, 2);
  EF_CHECK(t.is_contiguous(), "ValueError", name, " must be contiguous (it is updated in place)");
}

const int64_t* checked_ids(const Tensor& t, const char* name, int64_t rows, const char* table, cudaStream_t stream,
                           const Tensor& like) {
  EF_CHECK(t.is_cuda(), "ValueError", name, " must be a CUDA tensor on the device of the tables");
  EF_CHECK(t.scalar_type() == ScalarType::Long, "TypeError", name, " must be int64, got ",
           ops::scalar_type_name(t.scalar_type()));
  ops::check_dim(t, name, 1);
  EF_CHECK(t.is_contiguous(), "ValueError", name, " must be contiguous");
  const int64_t* p = static_cast<const int64_t*>(t.data_ptr());
  const int64_t n = t.numel();
  if (n == 0) return p;
  Tensor flag = torch::stable::new_empty(like, {1}, ScalarType::Long);
  auto* first_bad = static_cast<unsigned long long*>(flag.data_ptr());
  check(cudaMemsetAsync(first_bad, 0xff, sizeof(unsigned long long), stream), "memset");
  sgns_find_bad<<<grid_for((n + kThreads - 1) / kThreads), kThreads, 0, stream>>>(p, n, rows, first_bad);
  check(cudaGetLastError(), "sgns_find_bad");
  unsigned long long bad = 0;
  check(cudaMemcpyAsync(&bad, first_bad, sizeof bad, cudaMemcpyDeviceToHost, stream), "copy flag");
  check(cudaStreamSynchronize(stream), "sync");
  if (bad != ~0ull) {
    int64_t value = 0;
    check(cudaMemcpy(&value, p + bad, sizeof value, cudaMemcpyDeviceToHost), "copy id");
    ops::raise("IndexError", name, "[", bad, "]=", value, " is out of range for ", table, " of ", rows, " rows");
  }
  return p;
}

Tensor sgns_step_cuda(Tensor in_table, Tensor out_table, Tensor centers, Tensor contexts, Tensor negatives, double lr) {
  EF_CHECK(std::isfinite(lr) && lr >= 0, "ValueError", "lr=", lr, " must be a finite number >= 0");
  check_table(in_table, "in_table");
  check_table(out_table, "out_table");
  ops::check_same_device(in_table, "in_table", out_table, "out_table");
  EF_CHECK(in_table.size(1) == out_table.size(1), "ValueError", "in_table and out_table must have the same width, got ",
           in_table.size(1), " and ", out_table.size(1));
  const int64_t D = in_table.size(1), N = centers.numel(), K = negatives.numel(), M = K + 1;
  EF_CHECK(contexts.numel() == N, "ValueError", "centers and contexts must have the same length, got ", N, " and ",
           contexts.numel());
  cudaStream_t stream = current_stream(in_table.get_device_index());
  const int64_t* c = checked_ids(centers, "centers", out_table.size(0), "out_table", stream, in_table);
  const int64_t* x = checked_ids(contexts, "contexts", in_table.size(0), "in_table", stream, in_table);
  const int64_t* ng = checked_ids(negatives, "negatives", out_table.size(0), "out_table", stream, in_table);
  Tensor loss = torch::stable::new_empty(in_table, {N});
  if (N == 0) return loss;
  Tensor g = torch::stable::new_empty(in_table, {N, M});
  Tensor grad_in = torch::stable::new_empty(in_table, {N, D});
  float* I = static_cast<float*>(in_table.data_ptr());
  float* O = static_cast<float*>(out_table.data_ptr());
  float* gp = static_cast<float*>(g.data_ptr());
  float* gi = static_cast<float*>(grad_in.data_ptr());
  const int grid = grid_for(N);
  sgns_scores<<<grid, kThreads, 0, stream>>>(I, O, c, x, ng, N, M, D, static_cast<float>(lr), gp,
                                             static_cast<float*>(loss.data_ptr()));
  check(cudaGetLastError(), "sgns_scores");
  sgns_grad_in<<<grid, kThreads, 0, stream>>>(O, c, ng, gp, N, M, D, gi);
  check(cudaGetLastError(), "sgns_grad_in");
  sgns_apply_out<<<grid, kThreads, 0, stream>>>(I, O, c, x, ng, gp, N, M, D);
  check(cudaGetLastError(), "sgns_apply_out");
  sgns_apply_in<<<grid, kThreads, 0, stream>>>(I, x, gi, N, D);
  check(cudaGetLastError(), "sgns_apply_in");
  return loss;
}

}  // namespace

STABLE_TORCH_LIBRARY_IMPL(embedforge, CUDA, m) { m.impl("sgns_step", TORCH_BOX(&sgns_step_cuda)); }

}  // namespace embedforge::cuda
