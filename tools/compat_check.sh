#!/usr/bin/env bash
# One wheel, another torch: builds a wheel against the development torch (the .venv's), installs it
# into a fresh venv beside the torch named, and runs the op, module, fused-optimizer and word2vec
# tests there (and the op tests again on the baseline x86-64 kernels, as on a CPU without AVX2).
#
#   tools/compat_check.sh TORCH_VERSION [PYTHON_VERSION]     (make compat-check TORCH=2.12.1 PYVER=3.12)
#   BUILD_TORCH=2.11.0 tools/compat_check.sh 2.14.1           (built against 2.11's headers instead)
#
# PYTHON_VERSION (default: the .venv's) picks the interpreter (pythonX.Y on PATH, or pyenv's). For
# an interpreter other than the .venv's, the wheel is built by that interpreter with pip's build
# isolation, against the .venv's torch through EMBEDFORGE_TORCH_ROOT. It downloads torch (the
# registry's CPU build where it has one, else the ordinary wheel), so it stays out of CI. Appends one
# row to build/compat/results.md and exits non-zero when a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

torch_version=${1:?usage: tools/compat_check.sh TORCH_VERSION [PYTHON_VERSION]}
dev_py=.venv/bin/python
[ -x "$dev_py" ] || { echo "compat-check: no .venv: run 'make develop' first" >&2; exit 2; }
py_version=${2:-$("$dev_py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')}

find_python() {
  local v=$1 c
  for c in "python$v" "$HOME/.pyenv/versions/$v"*/bin/python"$v"; do
    if command -v "$c" >/dev/null 2>&1 || [ -x "$c" ]; then
      if [ "$("$c" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$v" ]; then
        command -v "$c" 2>/dev/null || echo "$c"; return 0
      fi
    fi
  done
  return 1
}
dev_version=$("$dev_py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$py_version" = "$dev_version" ]; then
  py=$("$dev_py" -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))')
else
  py=$(find_python "$py_version") || { echo "compat-check: no Python $py_version found (pythonX.Y on PATH or pyenv)" >&2; exit 2; }
fi

work=build/compat
tag="torch-${torch_version}-py${py_version}${BUILD_TORCH:+-built-${BUILD_TORCH}}"
venv="$work/venv-$tag"
dist="$work/dist-py${py_version}"
log="$work/$tag.log"
mkdir -p "$work"
: > "$log"
say() { echo "compat-check [$tag]: $*" | tee -a "$log"; }

# 1) the wheel, built against the development torch, or with BUILD_TORCH=X.Y.Z against the headers
#    and libtorch_cpu of that torch's wheel (downloaded without its dependencies and unpacked only
#    for them: e.g. the floor's own headers, as on a machine that carries the floor), CUDA kernels on
#    where nvcc is found
build_torch=${BUILD_TORCH:-}
if [ -n "$build_torch" ]; then
  headers="$work/headers-torch-$build_torch-py$py_version"
  if [ ! -f "$headers/torch/version.py" ]; then
    rm -rf "$headers" "$headers.dl"
    "$py" -m pip download --disable-pip-version-check -q --no-deps --only-binary=:all: -d "$headers.dl" \
      "torch==$build_torch" >>"$log" 2>&1
    mkdir -p "$headers"
    (cd "$headers" && "$py" -m zipfile -e "$(ls "../$(basename "$headers.dl")"/torch-*.whl)" . >>"../$(basename "$log")" 2>&1) || true
    find "$headers/torch" -mindepth 1 -maxdepth 1 ! -name include ! -name lib ! -name version.py -exec rm -rf {} +
    find "$headers/torch/lib" -mindepth 1 ! -name 'libtorch_cpu.so' -exec rm -rf {} +
    rm -rf "$headers.dl" "$headers"/torch-*.dist-info
  fi
  build_root=$(cd "$headers/torch" && pwd)
  build_label="torch $build_torch headers"
else
  build_root=$("$dev_py" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
  build_label="torch $("$dev_py" -c 'import torch; print(torch.__version__)')"
fi
rm -rf "$dist"
mkdir -p "$dist"
if [ "$py_version" = "$dev_version" ] && [ -z "$build_torch" ]; then
  say "building the wheel with .venv ($build_label)"
  flock build/.lock .venv/bin/pip wheel --no-build-isolation --no-deps -q -w "$dist" \
    --config-settings=build-dir=build/{wheel_tag} . >>"$log" 2>&1
else
  say "building the wheel with $py (build isolation) against $build_label at $build_root"
  rm -rf "$work/build-py${py_version}"
  EMBEDFORGE_TORCH_ROOT=$build_root "$py" -m pip wheel --no-deps -q -w "$dist" \
    --config-settings=build-dir="$work/build-py${py_version}" . >>"$log" 2>&1
fi
wheel=$(ls "$dist"/embedforge-*.whl)
say "wheel: $(basename "$wheel")"

# 2) a fresh venv with the named torch, then the wheel with its declared requirements
rm -rf "$venv"
"$py" -m venv "$venv"
pip_q() { "$venv/bin/pip" install --disable-pip-version-check -q "$@" >>"$log" 2>&1; }
say "installing torch==$torch_version"
pip_q "torch==$torch_version"
pip_q "$wheel" pytest hypothesis
runtime=$("$venv/bin/python" -c 'import torch; print(torch.__version__)')
located=$("$venv/bin/python" -c 'import embedforge, os; print(os.path.dirname(embedforge.__file__))')
case "$located" in
  *"$venv"*) ;;
  *) say "embedforge imported from $located, not from the fresh venv"; exit 1 ;;
esac
"$venv/bin/python" -m embedforge info | tee -a "$log"

# 3) the tests, against the installed wheel (the source tree is not importable: python/ holds it)
status=0
summary=""
run_tests() {  # run_tests LABEL ENV... -- PATHS...
  local label=$1 rc=0 envs=() out
  shift
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  out=$(env "${envs[@]}" timeout 1800 "$venv/bin/python" -m pytest -o addopts= -q -p no:cacheprovider "$@" 2>&1) || rc=$?
  echo "$out" >>"$log"
  summary=$(echo "$out" | grep -E '^=* ?[0-9]+ (passed|failed|error)' | tail -n 1 | sed -E 's/^=+ //; s/ =+$//')
  say "$label: ${summary:-no summary} (exit $rc)"
  [ $rc -eq 0 ] || status=1
}
run_tests "tests" -- tests/ops tests/nn tests/test_word2vec.py tests/test_fasttext.py tests/test_imports.py
main_summary=$summary
run_tests "tests/ops on the baseline kernels" EMBEDFORGE_ISA=baseline -- tests/ops
base_summary=$summary

row="| $torch_version ($runtime) | $py_version | $(basename "$wheel") built against $build_label | $main_summary | $base_summary |"
[ -f "$work/results.md" ] || {
  echo "| torch (runtime) | Python | wheel | op, module, fused-optimizer, word2vec tests | tests/ops, baseline kernels |"
  echo "| --- | --- | --- | --- | --- |"
} > "$work/results.md"
echo "$row" >> "$work/results.md"
say "$( [ $status = 0 ] && echo PASSED || echo FAILED ) (log: $log; table: $work/results.md)"
exit $status
