#!/usr/bin/env bash
# make gpu-check: on a machine with an NVIDIA GPU, build embedforge with its CUDA kernels for that GPU,
# run the CUDA tests, then the GPU benches (bench/gpu_bench.py), and write one report.
#
#   tools/gpu_check.sh            (or: make gpu-check)
#   GPU_CHECK_OUT=dir PYTHON=python3 tools/gpu_check.sh
#
# It uses the Python that holds a CUDA torch (PYTHON, else .venv/bin/python when present, else python3),
# installs nothing from the network (the build runs without isolation: scikit-build-core, pybind11, cmake
# and ninja must be there) and builds into build/gpu-* (the .venv's editable build is left alone).
# Every step has a time limit; all of it is sized to stay under 10 minutes on one GPU. Without a GPU it
# stops at once with exit status 2 and says why. The report: $GPU_CHECK_OUT/report.md (default
# out/gpu-check), beside the logs of each step and the bench rows as JSON.
set -uo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
OUT_DIR=${GPU_CHECK_OUT:-out/gpu-check}
mkdir -p "$OUT_DIR"
REPORT=$OUT_DIR/report.md
SITE=build/gpu-site
T_BUILD=${GPU_CHECK_BUILD_S:-300}
T_TESTS=${GPU_CHECK_TESTS_S:-240}
T_BENCH=${GPU_CHECK_BENCH_S:-240}
START=$(date +%s)
failed=()

probe=$("$PY" - <<'EOF' 2>&1
import torch
if not torch.cuda.is_available():
    print(f"torch {torch.__version__} (built for CUDA {torch.version.cuda}) sees no GPU")
    raise SystemExit(3)
major, minor = torch.cuda.get_device_capability()
print(f"{major}{minor} {torch.cuda.get_device_name()} torch {torch.__version__} CUDA {torch.version.cuda}")
EOF
)
rc=$?
if [ $rc -ne 0 ]; then
  echo "gpu-check: no usable GPU here: $probe" >&2
  echo "gpu-check needs an NVIDIA GPU and a CUDA build of torch; the CUDA kernels are only compiled by make cuda-check." >&2
  exit 2
fi
ARCH=${probe%% *}
GPU=${probe#* }
echo "gpu-check: $GPU, building for sm_$ARCH with $PY"

# step NAME LIMIT_S CMD...: runs CMD under a time limit, logs to $OUT_DIR/NAME.log, records the outcome.
declare -A status seconds
step() {
  local name=$1 limit=$2
  shift 2
  local t0 rc
  t0=$(date +%s)
  echo "gpu-check: $name (limit ${limit} s)"
  timeout --kill-after=10 "$limit" "$@" >"$OUT_DIR/$name.log" 2>&1
  rc=$?
  seconds[$name]=$(($(date +%s) - t0))
  if [ $rc -eq 0 ]; then
    status[$name]=ok
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    status[$name]="timed out after ${limit} s"
    failed+=("$name")
  else
    status[$name]="failed (exit $rc)"
    failed+=("$name")
  fi
  echo "gpu-check: $name: ${status[$name]} in ${seconds[$name]} s"
  tail -n 5 "$OUT_DIR/$name.log"
}

rm -rf "$SITE"
step build "$T_BUILD" env EMBEDFORGE_CUDA=ON "$PY" -m pip install --no-index --no-build-isolation --no-deps -q \
  --target "$SITE" --config-settings=build-dir="build/gpu-{wheel_tag}" \
  --config-settings=cmake.define.CMAKE_CUDA_ARCHITECTURES="$ARCH" .

if [ "${status[build]}" = ok ]; then
  export PYTHONPATH="$PWD/$SITE${PYTHONPATH:+:$PYTHONPATH}"
  # An editable install of embedforge in this Python would shadow the fresh build: say so, stop.
  where=$("$PY" -c "import embedforge; print(embedforge.__file__)" 2>&1)
  case "$where" in
    "$PWD/$SITE"/*) ;;
    *)
      echo "gpu-check: this Python imports embedforge from $where, not from the fresh build in $SITE" >&2
      echo "gpu-check: run it with PYTHON=<a Python holding torch but no editable embedforge>" >&2
      exit 1
      ;;
  esac
  step info 60 "$PY" -m embedforge info
  # Only the files that hold CUDA cases are collected: the GPU machine need not have every test extra.
  mapfile -t cuda_files < <(grep -rlE "device_params|mark\.cuda" tests --include='test_*.py' | sort)
  # Then the cases that take "cuda" as a plain device parameter (the sgns op) and the `info` CLI rows.
  step tests "$T_TESTS" bash -c '"$0" -m pytest -p no:cacheprovider -q -rs -m cuda "${@}" &&
    "$0" -m pytest -p no:cacheprovider -q -rs -k "cuda or info" tests/ops/test_word2vec_op.py tests/test_word2vec.py tests/test_cli.py' \
    "$PY" "${cuda_files[@]}"
  step bench "$T_BENCH" env PYTHONUNBUFFERED=1 "$PY" bench/gpu_bench.py --device cuda --json "$OUT_DIR/gpu_bench.json"
else
  for s in info tests bench; do status[$s]="not run (build failed)"; seconds[$s]=0; done
fi

{
  echo "# embedforge gpu-check"
  echo
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
  echo "- GPU: $GPU, kernels built for sm_$ARCH"
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ), total $(($(date +%s) - START)) s"
  echo
  echo "| step | outcome | seconds |"
  echo "| --- | --- | --- |"
  for s in build info tests bench; do echo "| $s | ${status[$s]} | ${seconds[$s]} |"; done
  echo
  echo "## embedforge info"
  echo '```'
  cat "$OUT_DIR/info.log" 2>/dev/null
  echo '```'
  echo
  echo "## CUDA tests (summary)"
  echo '```'
  grep -E "passed|failed|error|SKIPPED|FAILED|ERROR" "$OUT_DIR/tests.log" 2>/dev/null | tail -n 40
  echo '```'
  echo
  echo "## Benches (bench/gpu_bench.py --device cuda)"
  echo '```'
  sed -n '/^workload /,$p' "$OUT_DIR/bench.log" 2>/dev/null
  echo '```'
  if [ "${status[build]}" != ok ]; then
    echo
    echo "## Build log (last 60 lines)"
    echo '```'
    tail -n 60 "$OUT_DIR/build.log"
    echo '```'
  fi
} >"$REPORT"
echo "gpu-check: report in $REPORT"
cat "$REPORT"
if [ ${#failed[@]} -gt 0 ]; then
  echo "gpu-check: FAILED steps: ${failed[*]}" >&2
  exit 1
fi
