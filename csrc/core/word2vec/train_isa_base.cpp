// The word2vec kernels built for the base instruction set (flags set in CMakeLists.txt).
#define EF_ISA_NS isa_base
#include "core/word2vec/train_kernels.h"
