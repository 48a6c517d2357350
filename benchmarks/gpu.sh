#!/usr/bin/env bash
# The attacks' GPU checks and timings, as one short script for a lent GPU machine (torch with CUDA
# installed there): the GPU test of the search, the search benchmark on the GPU, and the default audit
# of one 256x256 image with --device cuda. Results go to ${OUT:-gpu-results}.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-results}"
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total --format=csv > "$out/gpu.txt" 2>&1 || true
python -m pytest -q -p no:cacheprovider tests/test_stability_local.py -k gpu 2>&1 | tail -5 > "$out/test.txt"
timeout 300 python benchmarks/search.py --maps demo,control --device cuda > "$out/search.txt" 2>&1 || echo "search: exit $?" >> "$out/search.txt"
cat > "$out/shipped.py" <<'PY'
from firenets.nets import training


def unet():
    net, _ = training.load(training.shipped("unet"))
    return net
PY
start=$(date +%s)
PYTHONPATH="$out:$PYTHONPATH" timeout 240 python -m firenets audit --model shipped:unet --device cuda --out "$out/audit" --force \
    > "$out/audit.txt" 2>&1 || echo "audit: exit $?" >> "$out/audit.txt"
echo "audit wall seconds: $(( $(date +%s) - start ))" >> "$out/audit.txt"
