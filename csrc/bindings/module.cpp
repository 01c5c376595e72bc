// The one extension module, embedforge._C. Importing it registers the operators (their static
// registrars live in ops/ and cuda/); the pybind11 functions here expose what is not an operator:
// build facts and the word2vec trainer (numpy buffers in, no torch types).
#include <pybind11/pybind11.h>

#include "core/embedding_bag.h"

namespace py = pybind11;

void bind_word2vec(py::module_& m);  // bindings/word2vec.cpp

#ifndef EMBEDFORGE_TORCH_VERSION
#define EMBEDFORGE_TORCH_VERSION "unknown"
#endif

PYBIND11_MODULE(_C, m) {
  m.doc() = "embedforge native core";
  m.def(
      "build_info",
      [] {
        py::dict d;
        d["torch_version"] = EMBEDFORGE_TORCH_VERSION;
        d["cuda"] = static_cast<bool>(EMBEDFORGE_WITH_CUDA);
        d["stable_abi_floor"] = "2.11";
        d["cpu_isa"] = embedforge::core::embedding_bag_isa();
#if defined(__VERSION__)
        d["compiler"] = __VERSION__;
#endif
        return d;
      },
      "Facts recorded when the extension was built.");
  bind_word2vec(m);
}
