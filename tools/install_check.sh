#!/usr/bin/env bash
# The install the way pip users try it, with build isolation on (no --no-build-isolation):
#   1. a fresh venv with torch, then `pip install .`                    -> smoke test
#   2. `pip wheel .` in that venv                                       -> the wheel's metadata
#   3. the sdist (python -m build --sdist) installed into another fresh venv with torch -> smoke test
#   4. a fresh venv without torch: `pip install .` fails with the message that says what to do
# Each build compiles from scratch in a temporary tree and downloads the build requirements
# (scikit-build-core, pybind11, cmake, ninja), so this stays out of CI.
#   tools/install_check.sh [TORCH_SPEC]          (default: the .venv's torch version)
set -euo pipefail
cd "$(dirname "$0")/.."

dev_py=.venv/bin/python
[ -x "$dev_py" ] || { echo "install-check: no .venv: run 'make develop' first" >&2; exit 2; }
base_py=$("$dev_py" -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))')
torch_spec=${1:-torch==$("$dev_py" -c 'import torch; print(torch.__version__.split("+")[0])')}
work=build/install-check
rm -rf "$work"
mkdir -p "$work"
log="$work/log.txt"
say() { echo "install-check: $*" | tee -a "$log"; }

fresh_venv() {  # fresh_venv DIR [PACKAGES...]
  local dir=$1; shift
  "$base_py" -m venv "$dir"
  [ $# -eq 0 ] || "$dir/bin/pip" install --disable-pip-version-check -q "$@" >>"$log" 2>&1
}

smoke() {  # smoke VENV: the op and its gradient against torch, a fused step, word2vec, info
  (cd "$work" && "../../$1/bin/python" - <<'EOF'
import os, torch, numpy as np, embedforge
assert "install-check" in os.path.abspath(embedforge.__file__), embedforge.__file__
g = torch.Generator().manual_seed(0)
w = torch.randn(50, 8, generator=g)
ids = torch.randint(0, 50, (30,), generator=g)
offsets = torch.tensor([0, 4, 4, 17])
a = w.clone().requires_grad_(); b = w.clone().requires_grad_()
out = embedforge.ops.embedding_bag(a, ids, offsets, mode="mean")
ref = torch.nn.functional.embedding_bag(ids, b, offsets, mode="mean")
gout = torch.randn(out.shape, generator=g)
out.backward(gout); ref.backward(gout)
torch.testing.assert_close(out, ref); torch.testing.assert_close(a.grad, b.grad)
bag = embedforge.nn.EmbeddingBag(50, 8, optimizer=embedforge.optim.Adam(lr=0.1))
before = bag.weight.detach().clone()
bag(ids, offsets).sum().backward()
assert not torch.equal(before, bag.weight.detach())
sents = [["a", "b", "c", "d"] * 5, ["e", "f", "g", "h"] * 5] * 20
m = embedforge.Word2Vec(sents, vector_size=8, min_count=1, epochs=2, workers=1, seed=1, progress=False)
assert m.wv["a"].shape == (8,) and np.isfinite(m.wv.vectors).all()
print("smoke: op, gradient, fused Adam step and word2vec ok with torch", torch.__version__)
EOF
  ) | tee -a "$log"
}

say "1. fresh venv with $torch_spec, then pip install . (build isolation)"
fresh_venv "$work/venv-a" "$torch_spec"
"$work/venv-a/bin/pip" install --disable-pip-version-check -q . >>"$log" 2>&1
smoke "$work/venv-a"

say "2. pip wheel . (build isolation): the wheel's metadata"
"$work/venv-a/bin/pip" wheel --disable-pip-version-check -q --no-deps -w "$work/wheel" . >>"$log" 2>&1
"$work/venv-a/bin/python" - "$work"/wheel/embedforge-*.whl <<'EOF' | tee -a "$log"
import sys, zipfile
from email.parser import Parser
with zipfile.ZipFile(sys.argv[1]) as z:
    meta = Parser().parsestr(z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode())
reqs = meta.get_all("Requires-Dist") or []
extras = set(meta.get_all("Provides-Extra") or [])
plain = [r for r in reqs if "extra ==" not in r]
print("requires:", plain)
print("extras:", sorted(extras))
assert any(r.replace(" ", "").startswith("torch>=2.11") for r in plain), plain
assert any(r.replace(" ", "").startswith("numpy>=") for r in plain), plain
missing = {"viz", "umap", "tensorboard", "progress", "tabular", "notebooks", "all"} - extras
assert not missing, f"extras missing from the metadata: {sorted(missing)}"
EOF

say "3. the sdist, installed into a fresh venv with $torch_spec"
"$dev_py" -m pip install --disable-pip-version-check -q build >>"$log" 2>&1
"$dev_py" -m build --sdist --outdir "$work/sdist" . >>"$log" 2>&1
sdist=$(ls "$work"/sdist/embedforge-*.tar.gz)
say "   $(basename "$sdist"): $(tar tzf "$sdist" | wc -l) files"
fresh_venv "$work/venv-b" "$torch_spec"
"$work/venv-b/bin/pip" install --disable-pip-version-check -q "$sdist" >>"$log" 2>&1
smoke "$work/venv-b"

say "4. a fresh venv without torch: pip install . must say what to do"
fresh_venv "$work/venv-c"
if "$work/venv-c/bin/pip" install --disable-pip-version-check . >"$work/no-torch.txt" 2>&1; then
  say "   FAILED: the build succeeded without torch"; exit 1
fi
grep -q "torch>=2.11 is needed to build embedforge" "$work/no-torch.txt" \
  || { say "   FAILED: no actionable message; see $work/no-torch.txt"; exit 1; }
say "   refused with: $(grep -o 'torch>=2.11 is needed to build embedforge[^.]*' "$work/no-torch.txt" | head -n 1)"
say "PASSED (log: $log)"
