// The embedding-bag kernels built for the base instruction set (flags set in CMakeLists.txt).
#define EF_ISA_NS isa_base
#include "core/embedding_bag_kernels.h"
