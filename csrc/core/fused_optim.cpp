// Hyper-parameter checks of the fused optimizers and the call into the chosen kernel table.
#include "core/fused_optim.h"

#include <cmath>
#include <sstream>

#include "core/isa_table.h"

namespace embedforge::core {

std::string check_optim_args(const OptimArgs& o) {
  std::ostringstream msg;
  auto bad = [&](const char* name, float v, const char* rule) {
    msg << name << "=" << v << " " << rule;
    return msg.str();
  };
  if (!(std::isfinite(o.lr) && o.lr >= 0.f)) return bad("lr", o.lr, "must be a finite number >= 0");
  if (!(std::isfinite(o.weight_decay) && o.weight_decay >= 0.f))
    return bad("weight_decay", o.weight_decay, "must be a finite number >= 0");
  if (o.kind != OptimKind::kSgd && !(std::isfinite(o.eps) && o.eps > 0.f))
    return bad("eps", o.eps, "must be a finite number > 0");
  if (o.kind == OptimKind::kAdam) {
    if (!(o.beta1 >= 0.f && o.beta1 < 1.f)) return bad("beta1", o.beta1, "must lie in [0, 1)");
    if (!(o.beta2 >= 0.f && o.beta2 < 1.f)) return bad("beta2", o.beta2, "must lie in [0, 1)");
    if (!o.per_row_step && o.global_step < 1) {
      msg << "step=" << o.global_step << " must be >= 1";
      return msg.str();
    }
  }
  return "";
}

void fused_optim_step(const BackwardArgs& args, const RowGroups& groups, void* weight, const OptimArgs& o,
                      const Parallel& par) {
  if (groups.rows.empty() || args.dim == 0) return;
  kernels().fused_step(args, groups, weight, o, par);
}

}  // namespace embedforge::core
