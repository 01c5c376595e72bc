// Run-time CPU feature detection for choosing a vectorised build of a kernel.
#pragma once

namespace embedforge::core {

enum class Isa { kBaseline = 0, kAvx2 = 1, kAvx512 = 2 };

// The widest instruction set this CPU supports among those we build for. The environment
// variable EMBEDFORGE_ISA=baseline|avx2|avx512 caps it (for testing every build on one machine).
Isa best_isa();
const char* isa_name(Isa isa);

}  // namespace embedforge::core
