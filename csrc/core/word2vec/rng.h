// A small, fast pseudo-random generator for one worker (or one job): a 64-bit LCG for speed in the
// inner loops, seeded through splitmix64 so nearby seeds give unrelated streams.
#pragma once
#include <cstdint>

namespace embedforge::core::w2v {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed = 1) : state_(splitmix64(seed)) {}
  // Seed for one job: depends only on (seed, epoch, job index), never on the thread that runs it.
  static Rng for_job(uint64_t seed, uint64_t epoch, uint64_t job) {
    return Rng(splitmix64(seed) ^ splitmix64(epoch * 0x632BE59BD9B4E019ULL + 1) ^
               splitmix64(job + 0x8CB92BA72F3D8DD7ULL));
  }
  inline uint64_t next() {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    uint64_t x = state_;
    x ^= x >> 29;  // mix the weak low bits of the LCG
    return x;
  }
  inline uint32_t next_u32() { return static_cast<uint32_t>(next() >> 32); }
  // Uniform integer in [0, n) (n < 2^32), by multiply-shift.
  inline uint32_t below(uint32_t n) { return static_cast<uint32_t>((static_cast<uint64_t>(next_u32()) * n) >> 32); }
  // Uniform float in [0, 1).
  inline float uniform() { return static_cast<float>(next_u32() >> 8) * (1.0f / 16777216.0f); }

 private:
  uint64_t state_;
};

}  // namespace embedforge::core::w2v
