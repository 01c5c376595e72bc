// The embedding-bag kernels built for the avx2 instruction set (flags set in CMakeLists.txt).
#define EF_ISA_NS isa_avx2
#include "core/embedding_bag_kernels.h"
// The fused optimizer sinks reuse reduce_row from the kernels above, so they share this unit.
#include "core/fused_optim_kernels.h"
