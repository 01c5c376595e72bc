// The kernels built for the AVX-512 F/BW/VL/DQ instruction set (flags in CMakeLists.txt) and their table.
#define EF_ISA_NS isa_avx512
#include "core/isa_kernels.h"

namespace embedforge::core {
extern const KernelTable kIsaAvx512Kernels;
const KernelTable kIsaAvx512Kernels = isa_avx512::make_kernel_table(Isa::kAvx512);
}  // namespace embedforge::core
