// The kernels built for the baseline (x86-64 SSE2, or any other CPU) instruction set (flags in CMakeLists.txt) and
// their table.
#define EF_ISA_NS isa_base
#include "core/isa_kernels.h"

namespace embedforge::core {
extern const KernelTable kIsaBaseKernels;
const KernelTable kIsaBaseKernels = isa_base::make_kernel_table(Isa::kBaseline);
}  // namespace embedforge::core
