#include "core/cpu_features.h"

#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "core/dtype.h"
#include "core/parallel.h"

namespace embedforge::core {

static Isa detect() {
#if defined(EMBEDFORGE_X86)
  __builtin_cpu_init();
  Isa isa = Isa::kBaseline;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
    isa = Isa::kAvx2;
  if (isa == Isa::kAvx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    isa = Isa::kAvx512;
  const char* cap = std::getenv("EMBEDFORGE_ISA");
  if (cap) {
    if (std::strcmp(cap, "baseline") == 0)
      isa = Isa::kBaseline;
    else if (std::strcmp(cap, "avx2") == 0 && isa > Isa::kAvx2)
      isa = Isa::kAvx2;
  }
  return isa;
#else
  return Isa::kBaseline;
#endif
}

Isa best_isa() {
  static const Isa isa = detect();
  return isa;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx2: return "avx2";
    default: return "baseline";
  }
}

const char* dtype_name(DType d) {
  switch (d) {
    case DType::kFloat32: return "float32";
    case DType::kBFloat16: return "bfloat16";
    case DType::kFloat16: return "float16";
  }
  return "?";
}

Parallel serial_parallel() { return Parallel{1, nullptr}; }

Parallel std_thread_parallel(int threads) {
  Parallel p;
  p.threads = threads < 1 ? 1 : threads;
  const int t = p.threads;
  p.run = [t](int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
    const int64_t k = std::min<int64_t>(t, n);
    std::vector<std::thread> pool;
    for (int64_t i = 1; i < k; ++i) pool.emplace_back([&, i] { fn(n * i / k, n * (i + 1) / k); });
    fn(0, n / k);
    for (auto& th : pool) th.join();
  };
  return p;
}

}  // namespace embedforge::core
