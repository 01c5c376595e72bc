// The kernels built for the AVX2 + FMA + F16C instruction set (flags in CMakeLists.txt) and their table.
#define EF_ISA_NS isa_avx2
#include "core/isa_kernels.h"

namespace embedforge::core {
extern const KernelTable kIsaAvx2Kernels;
const KernelTable kIsaAvx2Kernels = isa_avx2::make_kernel_table(Isa::kAvx2);
}  // namespace embedforge::core
