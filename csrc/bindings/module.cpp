// embedforge._C, the operator module. Importing it registers the operators (their static
// registrars live in ops/ and cuda/); the pybind11 functions here report the build facts and
// advise table memory onto huge pages.
// The word2vec trainer is a module of its own, embedforge._w2v (trainer_module.cpp), free of torch.
#include <pybind11/pybind11.h>

#include <string>

#include "core/embedding_bag.h"
#include "core/huge_pages.h"

namespace py = pybind11;

#ifndef EMBEDFORGE_TORCH_VERSION
#define EMBEDFORGE_TORCH_VERSION "unknown"
#endif
#ifndef EMBEDFORGE_CUDA_ARCHS
#define EMBEDFORGE_CUDA_ARCHS ""
#endif
#ifndef EMBEDFORGE_ABI_FLOOR
#error "EMBEDFORGE_ABI_FLOOR (the stable-ABI floor, set by CMakeLists.txt) is not defined"
#endif

PYBIND11_MODULE(_C, m) {
  m.doc() = "embedforge native core";
  m.def(
      "build_info",
      [] {
        py::dict d;
        d["torch_version"] = EMBEDFORGE_TORCH_VERSION;
        d["cuda"] = static_cast<bool>(EMBEDFORGE_WITH_CUDA);
        d["cuda_architectures"] = EMBEDFORGE_CUDA_ARCHS;  // e.g. "80,90"; empty without CUDA
        d["stable_abi_floor"] = EMBEDFORGE_ABI_FLOOR;
        d["cpu_isa"] = embedforge::core::embedding_bag_isa();
        d["pybind11"] = std::to_string(PYBIND11_VERSION_MAJOR) + "." + std::to_string(PYBIND11_VERSION_MINOR) + "." +
                        std::to_string(PYBIND11_VERSION_PATCH);
#if defined(__VERSION__)
        d["compiler"] = __VERSION__;
#endif
        return d;
      },
      "Facts recorded when the extension was built.");
  m.def(
      "advise_huge_pages",
      [](uintptr_t address, size_t nbytes) {
        embedforge::core::HugePageAdvice a;
        {
          py::gil_scoped_release nogil;  // collapsing a large table copies it: let other threads run
          a = embedforge::core::advise_huge_pages(reinterpret_cast<void*>(address), nbytes);
        }
        return py::make_tuple(a.advised, a.collapsed);
      },
      py::arg("address"), py::arg("nbytes"),
      "Marks the 2 MiB-aligned interior of a buffer for transparent huge pages and collapses it onto them now; "
      "returns (bytes advised, bytes collapsed). Contents and addresses are unchanged.");
}
