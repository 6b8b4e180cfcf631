"""Before/after for the attention views' GUI-thread work: CPU time to apply a new analysis to
the attention panel (grid, detail; the model view on its tab) and repaint it, in two checkouts
of this project, in alternating child processes.

The part of ``bench/gui_latency.py`` that issue 22 changed (colour scales, log lookup table,
titles) runs here alone, torch-free, on synthetic BERT-Base-shaped maps (12 layers x 12
heads) at 32, 128 and 512 tokens. One process's CPU time moves far less with other load on a
shared machine than the wall clock does.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/attention_paint_ab.py BEFORE AFTER [--rounds 3]
        [--window]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, os, statistics, sys, time
sys.path.insert(0, sys.argv[1])
from types import SimpleNamespace
import numpy as np
from PySide6.QtWidgets import QApplication
app = QApplication([])
from explorer.state import ExplorerState
from explorer.widgets.attention import AttentionPanel

def analysis(tokens, seed):
    rng = np.random.default_rng(seed)
    att = rng.random((12, 12, tokens, tokens), dtype=np.float32) ** 4
    att /= att.sum(axis=-1, keepdims=True)
    n_a = tokens // 2
    seq = [None] + [0] * (n_a - 1) + [None] + [1] * (tokens - n_a - 2) + [None]
    return SimpleNamespace(tokens=[f"w{i}" for i in range(tokens)], sequence_ids=seq,
                           special_mask=np.array([s is None for s in seq]), attentions=att,
                           num_tokens=tokens)

state = ExplorerState()
panel = AttentionPanel(state)
panel.resize(1000, 760)
panel.show()
out = {}
for tokens, count in ((32, 12), (128, 12), (512, 4)):
    times = []
    for tab in (0, 1):  # Heads (grid + detail), then Model
        panel.tabs.setCurrentIndex(tab)
        for i in range(count + 1):
            item = analysis(tokens, i)  # made before the clock starts; one at a time in memory
            app.processEvents()
            start = time.process_time()
            state.set_analysis(item)
            panel.repaint()
            app.processEvents()
            if i:  # the first is a warm-up
                times.append((time.process_time() - start) * 1000)
        out[f"{tokens} tokens, {'heads' if tab == 0 else 'model'} tab"] = statistics.median(times)
        times = []
print(json.dumps(out))
"""


# --window: the whole main window on a random BERT-Base (bench/gui_latency.py's model and
# texts), GUI-thread CPU time (time.thread_time) from the request to every view repainted: the
# worker thread's torch time, which load inflates most, is not counted.
WINDOW_CHILD = r"""
import json, statistics, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[1] + "/bench")
import gui_latency as g
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
app = QApplication([])
from explorer.main_window import MainWindow
out = {}
with tempfile.TemporaryDirectory() as tmp:
    model = g.make_model(Path(tmp), "base")
    window = MainWindow(device="cpu", settings=QSettings(str(Path(tmp) / "s.ini"),
                                                          QSettings.IniFormat))
    window.resize(1400, 860)
    window.show()
    window.start(str(model))
    g.wait_for(window.sig_analysis_applied)
    for words, label in ((12, "~32"), (50, "~128")):
        times = []
        for i, (a, b) in enumerate(g.texts(11, words)):
            window.state.set_texts(a, b)
            window._debounce.stop()
            start = time.thread_time()
            window._request_analysis()
            g.wait_for(window.sig_analysis_applied)
            window.repaint()
            app.processEvents()
            if i:
                times.append((time.thread_time() - start) * 1000)
        out[f"window, base, {label} tokens"] = statistics.median(times)
    window.close()
print(json.dumps(out))
"""


def run(checkout: str, code: str = CHILD) -> dict[str, float]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": checkout}
    done = subprocess.run([sys.executable, "-c", code, checkout], capture_output=True,
                          text=True, env=env, cwd=checkout, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", action="store_true",
                        help="the whole window's GUI-thread CPU time per edit (BERT-Base)")
    args = parser.parse_args()
    code = WINDOW_CHILD if args.window else CHILD
    results: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    for _ in range(args.rounds):
        for side in ("before", "after"):
            for key, ms in run(getattr(args, side), code).items():
                results[side].setdefault(key, []).append(ms)
    print(f"# bench/attention_paint_ab.py  {args.rounds} alternating rounds, "
          f"load {os.getloadavg()[0]:.1f}, CPU ms per analysis applied (median of rounds)")
    print("| view | before ms | after ms | after / before |")
    print("|---|---|---|---|")
    for key in results["before"]:
        b, a = (statistics.median(results[s][key]) for s in ("before", "after"))
        print(f"| {key} | {b:.1f} | {a:.1f} | {a / b:.2f} |")


if __name__ == "__main__":
    main()
