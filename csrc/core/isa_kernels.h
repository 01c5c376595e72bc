// Every vectorised kernel of one instruction set, and the KernelTable listing them. Included once
// by each isa_<name>.cpp, which defines EF_ISA_NS (the namespace of that build) and is compiled
// with the ISA's -m flags (CMakeLists.txt); nothing else includes it.
#pragma once
#ifndef EF_ISA_NS
#error "define EF_ISA_NS before including core/isa_kernels.h"
#endif
#include "core/fused_optim_kernels.h"
#include "core/isa_table.h"
#include "core/kernels/bag_forward.h"
#include "core/kernels/row_reduce.h"
#include "core/word2vec/train_kernels.h"

namespace embedforge::core::EF_ISA_NS {

// The table of this build: one entry per KernelTable field.
constexpr KernelTable make_kernel_table(Isa isa) {
  KernelTable t;
  t.isa = isa;
  t.bag_forward = &forward;
  t.bag_backward_dense = &backward_dense;
  t.bag_backward_rows = &backward_rows;
  t.bag_backward_psw = &backward_psw;
  t.fused_step = &fused_step;
  t.w2v_block_update = &w2v::EF_ISA_NS::block_update;
  t.w2v_train_job = &w2v::EF_ISA_NS::train_job;
  return t;
}

}  // namespace embedforge::core::EF_ISA_NS
