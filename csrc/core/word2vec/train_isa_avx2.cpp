// The word2vec kernels built for the avx2 instruction set (flags set in CMakeLists.txt).
#define EF_ISA_NS isa_avx2
#include "core/word2vec/train_kernels.h"
