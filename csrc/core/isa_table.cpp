// The run-time choice of the kernel table.
#include "core/isa_table.h"

namespace embedforge::core {

extern const KernelTable kIsaBaseKernels;
extern const KernelTable kIsaAvx2Kernels;
extern const KernelTable kIsaAvx512Kernels;

const KernelTable& kernels_for(Isa isa) {
  switch (isa) {
    case Isa::kAvx512: return kIsaAvx512Kernels;
    case Isa::kAvx2: return kIsaAvx2Kernels;
    default: return kIsaBaseKernels;
  }
}

const KernelTable& kernels() {
  static const KernelTable& table = kernels_for(best_isa());
  return table;
}

}  // namespace embedforge::core
