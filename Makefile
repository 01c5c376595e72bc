# embedforge developer entry points. Every target creates .venv when it is missing.
#   make run        build, then run the main job (the demo) on built-in defaults
#   make test       build, then run the test suite
#   make bench      build with the C++ benchmarks and run the side-by-side benchmarks
#   make wheel      build a wheel into dist/
#   make cuda-check build the CUDA kernels (nvcc required, no GPU needed) and run the CUDA tests
#   make sanitize   build the core under ASan+UBSan and run the native core tests
#   make gpu-check  on a GPU machine: build with CUDA for that GPU, run the CUDA tests and the GPU benches,
#                   write out/gpu-check/report.md (uses the Python holding a CUDA torch; no downloads)
#   make lint       ruff (lint + format check) for Python, clang-format check for C++/CUDA
#   make format     apply ruff's fixes and both formatters to the tree
#   make notebooks  execute every notebook in notebooks/ and write HTML copies into out/notebooks/
#   make compat-check TORCH=2.12.1 [PYVER=3.12] [BUILD_TORCH=2.11.0]
#                   one wheel (built against the .venv's torch, or BUILD_TORCH's headers) tested in a
#                   fresh venv with another torch (downloads torch: not part of CI)
#   make install-check  `pip install .`, `pip wheel .` and the sdist installed in fresh venvs, the
#                   way pip users try it (build isolation on; downloads the build requirements)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
DEPS   := $(VENV)/.deps-3
DEV_TORCH ?= torch==2.13.0
DEV_DEPS := $(DEV_TORCH) "numpy>=1.24" "cmake>=3.26" ninja "pybind11>=2.12" "scikit-build-core>=0.10" \
            pytest hypothesis tqdm matplotlib scikit-learn pillow pandas gensim tensorboard \
            torchinfo nbclient nbformat ipykernel nbconvert
PIP_INSTALL := $(BIN)/pip install --disable-pip-version-check -q
# Serialise builds of one checkout (several shells may build at once).
LOCK   := flock build/.lock
# Builds from make keep their CMake tree in build/<wheel tag> (incremental rebuilds); plain
# `pip install .` builds in a fresh temporary tree, as build isolation expects.
BUILD_DIR := --config-settings=build-dir=build/{wheel_tag}

.PHONY: lint format fuzz run test bench wheel sdist cuda-check gpu-check sanitize develop venv clean notebooks compat-check install-check

# Lint tools are pinned: a formatter upgrade must not turn a clean tree red.
LINT_DEPS := ruff==0.17.6 clang-format==23.1.5
LINT_STAMP := $(VENV)/.lint-1
CXX_SOURCES = $(shell git ls-files 'csrc/*.h' 'csrc/*.cpp' 'csrc/*.cu' 'tests/cpp/*.cpp' 'tests/cpp/*.h' 'bench/*.cpp')

venv: $(DEPS)
$(DEPS):
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) $(DEV_DEPS)
	touch $@

develop: $(DEPS)
	@mkdir -p build
	$(LOCK) $(PIP_INSTALL) --no-build-isolation --no-deps $(BUILD_DIR) -e .

$(LINT_STAMP): $(DEPS)
	$(PIP_INSTALL) $(LINT_DEPS)
	touch $@

lint: $(LINT_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@echo "clang-format --dry-run -Werror <C++/CUDA sources>"
	@$(BIN)/clang-format --dry-run -Werror $(CXX_SOURCES)

format: $(LINT_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/clang-format -i $(CXX_SOURCES)

run: develop
	$(PY) -m embedforge demo

test: develop
	$(PY) -m pytest tests

# The fuzz targets of tests/compat/test_fuzz.py with many more cases than `make test` runs (same seed).
fuzz: develop
	EMBEDFORGE_FUZZ_EXAMPLES=$${EMBEDFORGE_FUZZ_EXAMPLES:-3000} $(PY) -m pytest tests/compat/test_fuzz.py -p no:cacheprovider --hypothesis-show-statistics

bench: develop
	@mkdir -p build
	$(LOCK) sh -c '$(BIN)/cmake -S . -B build/bench -G Ninja -DEMBEDFORGE_BENCH=ON -DEMBEDFORGE_CUDA=OFF \
	  -DPython_EXECUTABLE=$(abspath $(PY)) >/dev/null && $(BIN)/cmake --build build/bench --target embedding_bag_bench'
	build/bench/embedding_bag_bench
	$(PY) bench/compare_torch.py

wheel: $(DEPS)
	@mkdir -p build
	$(LOCK) $(BIN)/pip wheel --no-build-isolation --no-deps $(BUILD_DIR) -w dist .

sdist: $(DEPS)
	$(PIP_INSTALL) build
	$(PY) -m build --sdist --no-isolation --outdir dist .

compat-check: $(DEPS)
	@test -n "$(TORCH)" || { echo "usage: make compat-check TORCH=2.12.1 [PYVER=3.12]"; exit 2; }
	BUILD_TORCH=$(BUILD_TORCH) tools/compat_check.sh $(TORCH) $(PYVER)

install-check: $(DEPS)
	tools/install_check.sh

cuda-check: $(DEPS)
	@mkdir -p build
	$(LOCK) env EMBEDFORGE_CUDA=ON $(PIP_INSTALL) --no-build-isolation --no-deps $(BUILD_DIR) -e .
	$(PY) -c "import embedforge, torch; i = embedforge.build_info(); assert i['cuda'], i; print('CUDA kernels built:', i)"
	$(PY) -m pytest -q -m cuda -rs tests

# No $(DEPS): a GPU machine has its own CUDA torch and may have no network to build .venv.
gpu-check:
	tools/gpu_check.sh

sanitize: $(DEPS)
	@mkdir -p build
	$(LOCK) sh -c '$(BIN)/cmake -S . -B build/sanitize -G Ninja -DCMAKE_BUILD_TYPE=Debug -DEMBEDFORGE_CUDA=OFF \
	  -DEMBEDFORGE_SANITIZE=address,undefined -DPython_EXECUTABLE=$(abspath $(PY)) >/dev/null && \
	  $(BIN)/cmake --build build/sanitize --target core_tests'
	for isa in baseline avx2 avx512; do \
	  EMBEDFORGE_ISA=$$isa UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
	    build/sanitize/core_tests || exit 1; done

notebooks: develop
	$(PY) notebooks/execute.py --out out/notebooks

clean:
	rm -rf build dist
