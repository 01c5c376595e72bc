// Fused sparse optimizer steps: the one-hot-free backward of an embedding bag, with the optimizer
// update applied to each touched row right after its gradient is reduced. No gradient tensor (dense
// or row-sparse) is ever materialised; work and scratch are O(ids + touched rows × D).
//
// The rows come from group_by_row (embedding_bag.h) and each row's gradient from the same
// reduce_row the plain backward uses, so a fused step sees bit-for-bit the gradient that
// embedding_bag_backward_rows would return. Rows are independent and each is updated by exactly
// one thread in a fixed order, so results are identical for any thread count.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

#include "core/embedding_bag.h"

namespace embedforge::core {

enum class OptimKind : int32_t {
  kSgd = 0,             // w -= lr * (g + wd*w)
  kAdagrad = 1,         // s += g²;            w -= lr * g / (sqrt(s) + eps)          (s: [V, D])
  kRowWiseAdagrad = 2,  // s += mean_k(g_k²);   w -= lr * g / (sqrt(s) + eps)          (s: [V])
  kAdam = 3,            // m, v moments [V, D]; bias correction from the step count (global or per row)
};

// Hyper-parameters and state pointers of one step. g above already includes weight decay
// (g + wd*w, L2 coupled, applied to touched rows only) for every kind except SGD, where it is the
// same formula written out.
struct OptimArgs {
  OptimKind kind = OptimKind::kSgd;
  float lr = 0.f;
  float eps = 0.f;
  float beta1 = 0.f;
  float beta2 = 0.f;
  float weight_decay = 0.f;
  float* state0 = nullptr;  // Adagrad sum [V, D] / row-wise sum [V] / Adam exp_avg [V, D]
  float* state1 = nullptr;  // Adam exp_avg_sq [V, D]
  // Adam step counts. per_row_step: [V], a row's count advances only when the row is touched and
  // its bias correction uses its own count ("lazy" Adam). Otherwise: global_step is the step
  // number of this update (already advanced by the caller), shared by every row.
  int64_t* row_step = nullptr;
  bool per_row_step = false;
  int64_t global_step = 0;
  // bfloat16 / float16 tables: round the updated row stochastically (unbiased) instead of to
  // nearest. The random bits are a hash of (seed, row, column), so a step is reproducible and
  // independent of the thread count; callers pass a fresh seed per step.
  bool stochastic_rounding = false;
  uint64_t seed = 0;
};

// Caller-error checks of the hyper-parameters ("" when fine, else a message naming the value).
std::string check_optim_args(const OptimArgs& o);

// Applies one fused step to the touched rows of `weight` ([num_rows, dim] of args.dtype, the
// dtype of the gradient too). `groups` must come from group_by_row on the same batch.
void fused_optim_step(const BackwardArgs& args, const RowGroups& groups, void* weight, const OptimArgs& o,
                      const Parallel& par);

// Stochastic rounding of one float: rounds to one of the two neighbouring representable values
// with probabilities that make the expectation exactly x. `random` is 32 uniform bits.
inline bf16 bf16_round_stochastic(float x, uint32_t random) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7f800000u) == 0x7f800000u) return from_float<bf16>(x);  // inf and NaN as usual
  // bfloat16 keeps the top half of the (sign-magnitude) float32: adding 16 random bits to the
  // dropped half carries into the kept half with probability (dropped half) / 2^16.
  u += random >> 16;
  return bf16{static_cast<uint16_t>(u >> 16)};
}

#ifndef __CUDACC__  // no _Float16 in nvcc's front end; cuda/fused_optim.cu rounds __half itself
inline f16 f16_round_stochastic(float x, uint32_t random) {
  const f16 h = static_cast<f16>(x);  // round to nearest: one of the two neighbours
  const float hf = static_cast<float>(h);
  if (hf == x || !(hf - hf == 0.f) || x != x) return h;  // exact, infinite or NaN
  uint16_t hb;
  std::memcpy(&hb, &h, sizeof hb);
  // The other neighbour is one ulp further from nearest, towards x (sign-magnitude bits).
  const bool up = hf < x;  // the other neighbour lies above
  uint16_t ob;
  if ((hb & 0x7fffu) == 0)
    ob = up ? 0x0001u : 0x8001u;
  else
    ob = static_cast<uint16_t>(((hb & 0x8000u) != 0) == up ? hb - 1 : hb + 1);
  f16 o;
  std::memcpy(&o, &ob, sizeof o);
  const float of = static_cast<float>(o);
  if (!(of - of == 0.f)) return h;  // the far neighbour is infinite: keep the finite one
  // P(o) = |x - h| / |o - h|, drawn with 24 random bits.
  const float p_other = (x - hf) / (of - hf);
  const float r = static_cast<float>(random >> 8) * (1.f / 16777216.f);
  return r < p_other ? o : h;
}
#endif

// The counter-based hash behind the rounding bits: 32 uniform bits from (seed, row, column).
inline uint32_t rounding_bits(uint64_t seed, uint64_t row, uint64_t col) {
  uint64_t z = seed ^ (row * 0x9E3779B97F4A7C15ull) ^ (col * 0xD1B54A32D192ED03ull);
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<uint32_t>(z >> 32);
}

}  // namespace embedforge::core
