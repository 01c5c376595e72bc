// One table of kernels per instruction set. Each ISA's build of the vectorised kernels (one
// translation unit, isa_<name>.cpp, compiled with that ISA's -m flags) fills one KernelTable; the
// table of the best ISA this CPU supports (best_isa(), capped by EMBEDFORGE_ISA) is chosen once,
// on first use, and every caller calls the kernels through it.
//
// A kernel is added in two places: a field here and its entry in isa_kernels.h (shared by every
// ISA). An ISA is added as its isa_<name>.cpp, its Isa value and detection (cpu_features.cpp),
// its case in kernels_for (isa_table.cpp) and its flags in CMakeLists.txt.
#pragma once
#include <cstdint>

#include "core/cpu_features.h"
#include "core/embedding_bag.h"
#include "core/fused_optim.h"

namespace embedforge::core {

namespace w2v {
struct Model;
struct WorkerState;
struct Job;
}  // namespace w2v

struct KernelTable {
  Isa isa = Isa::kBaseline;

  // ---- embedding bag (kernels/bag_forward.h, kernels/row_reduce.h); arguments checked by the
  // callers in embedding_bag.cpp. bag_forward returns false at an id outside the table.
  bool (*bag_forward)(const ForwardArgs&, void* out, int64_t* max_rows, const Parallel&) = nullptr;
  void (*bag_backward_dense)(const BackwardArgs&, const RowGroups&, void* grad_weight, bool zeroed,
                             const Parallel&) = nullptr;
  void (*bag_backward_rows)(const BackwardArgs&, const RowGroups&, void* row_grads, const Parallel&) = nullptr;
  void (*bag_backward_psw)(const BackwardArgs&, const void* weight, float* grad_psw, const Parallel&) = nullptr;

  // ---- fused sparse optimizers (fused_optim_kernels.h)
  void (*fused_step)(const BackwardArgs&, const RowGroups&, void* weight, const OptimArgs&, const Parallel&) = nullptr;

  // ---- word2vec (word2vec/train_kernels.h; see w2v::block_update and w2v::train_job in model.h)
  double (*w2v_block_update)(int64_t dim, int B, const float* const* h, int M, float* const* outs, const float* labels,
                             float lr, float* grad_in, float* g, bool want_loss, bool gensim_rule) = nullptr;
  void (*w2v_train_job)(const w2v::Model&, w2v::WorkerState&, const w2v::Job&) = nullptr;
};

// The table of best_isa(), chosen once (each extension module linking the core chooses its own,
// the same way).
const KernelTable& kernels();

// The table built for `isa` (every build is compiled in, whatever the CPU: calling a table the
// CPU does not support faults). For tests and benches comparing builds.
const KernelTable& kernels_for(Isa isa);

}  // namespace embedforge::core
