// embedforge._w2v: the word2vec trainer as a pybind11 module that links the torch-free core only,
// so `embedforge.Word2Vec` trains without loading torch (numpy buffers in, no torch types).
#include <pybind11/pybind11.h>

#include "core/cpu_features.h"

namespace py = pybind11;

void bind_word2vec(py::module_& m);  // bindings/word2vec.cpp

PYBIND11_MODULE(_w2v, m) {
  m.doc() = "embedforge word2vec trainer (torch-free)";
  m.def(
      "cpu_isa", [] { return embedforge::core::isa_name(embedforge::core::best_isa()); },
      "The SIMD build the trainer's kernels run on (EMBEDFORGE_ISA caps it).");
  bind_word2vec(m);
}
