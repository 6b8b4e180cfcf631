"""Benchmark: the training monitor's responsiveness. Figures printed, not asserted.

1. Timer lateness: a 10 ms QTimer in the GUI process while a real pretraining job (BERT-Mini,
   128-token pairs, another process using every core) runs and the monitor polls it and redraws
   its curves. Reference: the same timer with the same job running and no monitor open.
2. Append-to-frame: with 100,000 points on every curve, the time from appending one metrics line
   to the repainted frame (read the new line, extend the smoothing, redraw every plot).
   Reference: the stock approach, pyqtgraph without downsampling and the smoothing recomputed
   over the whole history on each point.
3. The runs table with 200 run folders (real job configs, 500 records each): open (read every
   run, fill and paint the table) and refresh while 5 of them append a record each time
   (targets: <= 1 s and <= 100 ms).

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/monitor.py [--seconds 20] [--points 100000]
        [--runs 200] [--skip-timer]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

SLICE = ROOT / "resources" / "corpus" / "slice.txt"
TIMER_MS = 10
KEYS = ("mlm_loss", "nsp_loss", "mlm_acc", "nsp_acc", "lr", "grad_norm", "seq_per_s")


def timer_lateness(seconds: float) -> list[float]:
    """Lateness (ms) of each tick of a 10 ms timer over ``seconds`` of this event loop."""
    late: list[float] = []
    clock = QElapsedTimer()
    timer = QTimer(interval=TIMER_MS)

    def tick() -> None:
        late.append(max(0.0, clock.nsecsElapsed() / 1e6 - TIMER_MS))
        clock.restart()

    timer.timeout.connect(tick)
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    clock.start()
    timer.start()
    loop.exec()
    timer.stop()
    return late[1:]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def bench_timer(seconds: float) -> None:
    from explorer.jobs import JobManager
    from explorer.job_form import JobForm
    from explorer.monitor_window import ON_CLOSE_KEY, MonitorWindow

    with tempfile.TemporaryDirectory() as tmp:
        manager = JobManager(Path(tmp) / "runs")
        form = JobForm(corpus=[str(SLICE)], vocab_size=8000, preset="mini", seq_len=128,
                       batch_size=32, max_steps=100_000, checkpoint_every=100_000, log_every=1,
                       device="cpu")
        run = manager.start(Path(tmp) / "runs" / "bench", form.args())
        deadline = time.monotonic() + 300
        while not (run.read_status() or {}).get("step"):
            if time.monotonic() > deadline:
                sys.exit("the job did not start training: " + "\n".join(manager.log_tail(run)))
            time.sleep(0.2)
        baseline = timer_lateness(seconds)
        settings = QSettings(str(Path(tmp) / "s.ini"), QSettings.IniFormat)
        settings.setValue(ON_CLOSE_KEY, "keep")  # no question box when closing with a live job
        monitor = MonitorWindow(manager, settings)
        monitor.resize(1400, 820)
        monitor.show()
        monitor.table.select_path(str(run.path))
        with_monitor = timer_lateness(seconds)
        points = max(monitor.plots.point_counts().values(), default=0)
        manager.cancel(run)
        monitor.timer.stop()
        monitor.close()
        deadline = time.monotonic() + 60
        while manager.view(run).process_alive and time.monotonic() < deadline:
            manager.tick()
            time.sleep(0.2)
    print(f"\n## 10 ms timer lateness while a BERT-Mini job trains ({seconds:.0f} s each, "
          f"{points} points per curve at the end)")
    print("| GUI process | ticks | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    for name, late in (("no monitor (reference)", baseline), ("monitor polling and plotting",
                                                                with_monitor)):
        print(f"| {name} | {len(late)} | {percentile(late, 50):.1f} | {percentile(late, 99):.1f} "
              f"| {max(late, default=float('nan')):.1f} |")
    print(f"p99 ratio monitor / reference: "
          f"{percentile(with_monitor, 99) / max(percentile(baseline, 99), 1e-3):.2f}")


def write_records(path: Path, steps: range) -> None:
    rng = np.random.default_rng(steps.start)
    with open(path, "a", encoding="utf-8") as f:
        for step in steps:
            values = dict(zip(KEYS, rng.random(len(KEYS)) + 0.5))
            f.write(json.dumps({"step": step, "time": float(step), "split": "train", **values})
                    + "\n")


def frame_times(plots, metrics, path: Path, first_step: int, count: int) -> list[float]:
    times = []
    for i in range(count):
        start = time.perf_counter()
        write_records(path, range(first_step + i, first_step + i + 1))
        metrics.poll()
        plots.refresh()
        for widget in plots.graphics:
            widget.repaint()  # paints now, synchronously
        times.append((time.perf_counter() - start) * 1000)
    return times


def bench_append(points: int, frames: int) -> None:
    from explorer.metrics_store import RunMetrics, debiased_ema
    from explorer.widgets import metric_plots
    from explorer.widgets.metric_plots import MetricPlots

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("ours", "stock"):
            path = Path(tmp) / f"{name}.jsonl"
            write_records(path, range(1, points + 1))
            metrics = RunMetrics(path)
            metrics.poll()
            if name == "stock":  # every frame: full EMA, every point drawn
                metric_plots.debiased_ema = lambda v, b, start=0, previous=None: debiased_ema(v, b)
            plots = MetricPlots()
            plots.resize(880, 760)
            plots.show()
            plots.set_runs([(name, metrics)])
            if name == "stock":
                for curve in plots._curves.values():
                    for item in (curve.raw, curve.smooth):
                        item.setDownsampling(auto=False, ds=1)
            QApplication.processEvents()
            frame_times(plots, metrics, path, points + 1, 3)  # warm up
            results[name] = frame_times(plots, metrics, path, points + 4, frames)
            curves = len(plots._curves)
            plots.close()
        metric_plots.debiased_ema = debiased_ema
    print(f"\n## Append one point -> repainted frame, {points:,} points on each of {curves} curves "
          f"({frames} frames)")
    print("| approach | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|")
    for name, label in (("ours", "ours: incremental smoothing, peak downsampling"),
                        ("stock", "stock: full smoothing, every point drawn")):
        t = results[name]
        print(f"| {label} | {percentile(t, 50):.1f} | {percentile(t, 99):.1f} | {max(t):.1f} |")
    print(f"p50 ratio ours / stock: "
          f"{percentile(results['ours'], 50) / percentile(results['stock'], 50):.2f}")


def write_run_folders(root: Path, count: int, records: int) -> list[Path]:
    """``count`` finished-looking pretraining runs, alike but their lr and seed."""
    import dataclasses

    from engine.runlog import RunFolder
    from engine.specs import PretrainSpec, TrainConfig

    folders = []
    for i in range(count):
        task = PretrainSpec(data=str(root / "data"), preset="mini", seed=i % 3)
        train = TrainConfig(max_steps=records, lr=[1e-4, 3e-4, 1e-3][i % 3])
        run = RunFolder.create(root / f"run-{i:03d}", {
            "kind": "pretrain", "task": dataclasses.asdict(task),
            "train": dataclasses.asdict(train), "command": ["bert-engine", "pretrain"]})
        run.write_status(state="finished", step=records, max_steps=records, host="bench")
        write_records(run.metrics_path, range(1, records + 1))
        with open(run.metrics_path, "a", encoding="utf-8") as f:
            for step in range(50, records + 1, 50):
                f.write(json.dumps({"step": step, "time": float(step), "split": "heldout",
                                    "mlm_acc": step / records}) + "\n")
        folders.append(run.path)
    return folders


def bench_runs_table(count: int, refreshes: int = 30) -> None:
    from engine.runlog import list_runs
    from engine.runs import RunCatalog
    from explorer.run_labels import RunLabels
    from explorer.widgets.runs_table import RunsTable

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        folders = write_run_folders(root, count, 500)
        settings = QSettings(str(Path(tmp) / "s.ini"), QSettings.IniFormat)
        start = time.perf_counter()
        catalog = RunCatalog()
        table = RunsTable(RunLabels(settings))
        table.resize(1200, 700)
        table.set_summaries(catalog.summaries(list_runs(root)))
        table.show()
        table.repaint()
        opened = (time.perf_counter() - start) * 1000
        times = []
        for i in range(refreshes):
            for folder in folders[:5]:  # five live jobs, a record each since the last refresh
                write_records(folder / "metrics.jsonl", range(501 + i, 502 + i))
            start = time.perf_counter()
            table.set_summaries(catalog.summaries(list_runs(root)))
            table.viewport().repaint()
            times.append((time.perf_counter() - start) * 1000)
        columns = table.runs.columnCount()
        table.close()
    print(f"\n## Runs table, {count} run folders (500 records each, {columns} columns)")
    print("| | ms | target |")
    print("|---|---|---|")
    print(f"| open: read every run, fill, paint | {opened:.0f} | <= 1000 |")
    print(f"| refresh (5 runs grew), p50 | {percentile(times, 50):.1f} | <= 100 |")
    print(f"| refresh (5 runs grew), p99 | {percentile(times, 99):.1f} | <= 100 |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--skip-timer", action="store_true",
                        help="leave out the timer benchmark (it trains a real job)")
    args = parser.parse_args()
    QApplication.instance() or QApplication([])
    print(f"# bench/monitor.py  {os.cpu_count()} cores, offscreen, {time.strftime('%Y-%m-%d')}")
    bench_append(args.points, args.frames)
    bench_runs_table(args.runs)
    if not args.skip_timer:
        bench_timer(args.seconds)


if __name__ == "__main__":
    main()
