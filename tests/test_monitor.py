"""The training monitor with real jobs: separate bert-engine processes on a tiny corpus."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt

from conftest import CORPUS_SLICE
from engine import runs_root
from engine.runlog import RunFolder
from explorer.jobs import JobManager
from explorer.monitor_window import MonitorWindow
from explorer.new_job_dialog import NewJobDialog

pytestmark = pytest.mark.usefixtures("qapp")
JOB_TIMEOUT_MS = 120_000  # generous: CI machines are slow and the job imports torch


@pytest.fixture
def corpus(tmp_path) -> Path:
    """About 120 kB of the shipped slice: enough documents for NSP, quick to tokenize."""
    text = CORPUS_SLICE.read_text(encoding="utf-8")[:120_000].rsplit("\n\n", 1)[0]
    path = tmp_path / "tiny.txt"
    path.write_text(text + "\n", encoding="utf-8")
    return path


def open_monitor(qtbot, runs_root: Path, settings: QSettings) -> MonitorWindow:
    monitor = MonitorWindow(JobManager(runs_root), settings)
    qtbot.addWidget(monitor)
    monitor.show()
    return monitor


def fill_dialog(dialog: NewJobDialog, corpus: Path) -> None:
    dialog.name.setText("tiny job")
    dialog.corpus.setText(str(corpus))
    dialog.vocab_size.setValue(2000)
    dialog.size.setCurrentText("tiny")
    dialog.seq_len.setValue(32)
    dialog.batch.setValue(4)
    dialog.steps.setValue(1_000_000)
    dialog.lr.setValue(1e-3)
    dialog.warmup.setValue(10)
    dialog.device.setCurrentText("cpu")
    dialog.checkpoint_every.setValue(20)


def train_steps(run_dir: Path) -> list[int]:
    lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [r["step"] for r in map(json.loads, lines) if r.get("split") == "train"]


@pytest.mark.slow
def test_a_job_from_the_dialog_through_pause_resume_kill_reopen_and_cancel(qtbot, tmp_path, corpus,
                                                                          settings):
    runs_root = tmp_path / "runs"
    monitor = open_monitor(qtbot, runs_root, settings)
    dialog = NewJobDialog(runs_root, monitor.manager.new_run_dir, monitor)
    fill_dialog(dialog, corpus)
    assert "--corpus" in dialog.command_text() and "--preset tiny" in dialog.command_text()
    dialog._try_start()
    assert dialog.result() == NewJobDialog.Accepted
    monitor.start_job(dialog.run_dir, dialog.form.args())
    run_dir = str(dialog.run_dir)
    assert dialog.run_dir.parent == runs_root and monitor.table.selected_paths() == [run_dir]

    # Points arrive in the plots while the job runs, in its own process.
    qtbot.waitUntil(lambda: monitor.plots.point_counts().get(
        ("tiny-job", "train", "mlm_loss"), 0) >= 3, timeout=JOB_TIMEOUT_MS)
    pid = RunFolder(run_dir).read_status()["pid"]
    assert pid != os.getpid()
    assert monitor.table.state_of(run_dir) == "running"
    assert "cores, no GPU" in monitor.summary.text()  # the hardware the job recorded

    # Pause: a checkpoint, then the process exits; Resume continues from that checkpoint.
    qtbot.waitUntil(lambda: RunFolder(run_dir).latest_checkpoint() is not None,
                    timeout=JOB_TIMEOUT_MS)
    monitor.pause_selected()
    qtbot.waitUntil(lambda: monitor.table.state_of(run_dir) == "paused", timeout=JOB_TIMEOUT_MS)
    paused_at = RunFolder(run_dir).read_status()["step"]
    assert RunFolder(run_dir).latest_checkpoint()[0] == paused_at
    qtbot.waitUntil(monitor.resume_action.isEnabled, timeout=JOB_TIMEOUT_MS)  # process exited
    monitor.resume_selected()
    qtbot.waitUntil(lambda: max(train_steps(Path(run_dir))) > paused_at + 10,
                    timeout=JOB_TIMEOUT_MS)
    steps = train_steps(Path(run_dir))
    after = steps[steps.index(paused_at) + 1] if paused_at in steps else min(
        s for s in steps if s > paused_at)
    assert after == paused_at + 10 - paused_at % 10  # the next logged step, not a restart

    # Close the monitor: the job keeps running. A new monitor (a reopened app) finds it.
    monitor.close()
    assert RunFolder(run_dir).read_status()["state"] == "running"
    monitor = open_monitor(qtbot, runs_root, settings)
    assert monitor.table.state_of(run_dir) == "running"
    monitor.table.select_path(run_dir)

    # SIGKILL: no checkpoint, no last status; the monitor says failed and shows the log tail.
    job_pid = RunFolder(run_dir).read_status()["pid"]
    os.kill(job_pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: monitor.table.state_of(run_dir) == "failed", timeout=JOB_TIMEOUT_MS)
    assert RunFolder(run_dir).read_status()["state"] == "running"  # the file still says so
    assert "checkpoint" in monitor.log.toPlainText()
    assert "gone" in monitor.summary.text()

    # It resumes after the kill too, then Cancel stops it for good.
    assert monitor.resume_action.isEnabled()
    monitor.resume_selected()
    qtbot.waitUntil(lambda: monitor.table.state_of(run_dir) == "running", timeout=JOB_TIMEOUT_MS)
    monitor.cancel_selected()
    qtbot.waitUntil(lambda: monitor.table.state_of(run_dir) == "cancelled", timeout=JOB_TIMEOUT_MS)
    monitor.close()


def test_the_dialog_refuses_a_job_that_cannot_run(qtbot, tmp_path, corpus, settings):
    dialog = NewJobDialog(tmp_path / "runs", JobManager(tmp_path / "runs").new_run_dir)
    qtbot.addWidget(dialog)
    fill_dialog(dialog, corpus)
    dialog.corpus.setText(f"{corpus};{tmp_path / 'missing.txt'}")
    dialog.size.setCurrentText("custom")
    dialog.hidden.setValue(100)
    dialog.heads.setValue(3)
    dialog._try_start()
    assert dialog.result() != NewJobDialog.Accepted and dialog.form is None
    assert "missing.txt" in dialog.problems.text() and "multiple" in dialog.problems.text()
    assert not (tmp_path / "runs").exists()  # nothing started, nothing created


def write_status(run: RunFolder, **fields) -> None:
    run.write_status(**fields)
    status = json.loads(run.status_path.read_text())
    status.update(fields)  # heartbeat as given, not "now"
    run.status_path.write_text(json.dumps(status))


@pytest.mark.slow
def test_dead_and_silent_jobs_show_as_failed(tmp_path):
    manager = JobManager(tmp_path, heartbeat_timeout=30)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = RunFolder.create(tmp_path / "gone", {"kind": "pretrain"})
    write_status(gone, state="running", pid=dead.pid, host=manager.host, heartbeat=time.time())
    gone.log("checkpoint step-20")
    silent = RunFolder.create(tmp_path / "silent", {"kind": "pretrain"})  # on another machine
    write_status(silent, state="running", pid=1, host="elsewhere", heartbeat=time.time() - 31)
    fresh = RunFolder.create(tmp_path / "fresh", {"kind": "pretrain"})
    write_status(fresh, state="running", pid=1, host="elsewhere", heartbeat=time.time() - 5)
    done = RunFolder.create(tmp_path / "done", {"kind": "pretrain"})
    write_status(done, state="finished", pid=dead.pid, host=manager.host, heartbeat=0)

    views = {v.name: v for v in map(manager.view, manager.runs())}
    assert views["gone"].state == "failed" and "gone" in views["gone"].error
    assert any("checkpoint step-20" in line for line in views["gone"].log_tail)
    assert views["silent"].state == "failed" and "heartbeat" in views["silent"].error
    assert views["fresh"].state == "running" and views["fresh"].process_alive is None
    assert views["done"].state == "finished"


def test_added_run_folders_and_malformed_metrics_are_shown(qtbot, tmp_path, settings):
    elsewhere = RunFolder.create(tmp_path / "elsewhere" / "run-a", {"kind": "pretrain"})
    write_status(elsewhere, state="finished", step=3, max_steps=3, heartbeat=time.time())
    lines = [json.dumps({"step": s, "time": s, "split": "train", "mlm_loss": 5.0 - s})
             for s in (1, 2, 3)]
    elsewhere.metrics_path.write_text("\n".join(lines[:2]) + "\nnot json\n" + lines[2] + "\n"
                                      + '{"step": 4, "spl', encoding="utf-8")
    monitor = open_monitor(qtbot, tmp_path / "runs", settings)
    assert monitor.table.rowCount() == 0
    monitor.add_run_path(str(elsewhere.path))
    monitor.table.select_path(str(elsewhere.path))
    monitor.poll()
    assert monitor.plots.point_counts()[("run-a", "train", "mlm_loss")] == 3
    assert "1 malformed" in monitor.summary.text()
    monitor.close()
    again = MonitorWindow(JobManager(tmp_path / "runs", extra_runs=settings.value(
        "jobs/extra_runs")), settings)
    qtbot.addWidget(again)
    assert again.table.state_of(str(elsewhere.path)) == "finished"  # remembered
    again.close()


def test_pretraining_heldout_figures_are_drawn_as_evaluated_and_training_ones_smoothed(
        qtbot, tmp_path, settings):
    run = RunFolder.create(tmp_path / "runs" / "run-b", {"kind": "pretrain"})
    write_status(run, state="finished", step=30, max_steps=30, heartbeat=time.time())
    records = [{"step": s, "time": s, "split": "train", "nsp_acc": [0.2, 0.9][s % 2]}
               for s in range(1, 31)]
    records += [{"step": s, "time": s, "split": "heldout", "nsp_acc": a, "nsp_isnext_acc": b}
                for s, a, b in ((10, 0.5, 1.0), (20, 0.7, 0.4), (30, 0.6, 0.9))]
    run.metrics_path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    monitor = open_monitor(qtbot, tmp_path / "runs", settings)
    monitor.table.select_path(str(run.path))
    monitor.poll()
    plots = monitor.plots
    assert plots.curve_points("run-b", "heldout", "nsp_isnext_acc") == (
        "Accuracy", [10, 20, 30], [1.0, 0.4, 0.9])
    assert plots.curve_points("run-b", "heldout", "nsp_acc")[2] == [0.5, 0.7, 0.6]
    _, _, smoothed = plots.curve_points("run-b", "train", "nsp_acc")
    assert 0.2 < smoothed[-1] < 0.9  # the alternating training accuracy is averaged
    monitor.close()


@pytest.mark.slow
def test_monitor_screenshot_from_the_command_line(tmp_path):
    out = tmp_path / "monitor.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-m", "explorer", "--monitor", "--runs-root",
                           str(tmp_path / "runs"), "--screenshot", str(out)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 10_000 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def add_checkpoint(run: RunFolder, step: int) -> Path:
    folder = run.checkpoints_dir / f"step-{step}"
    folder.mkdir(parents=True)
    (folder / "COMPLETE").write_text("")
    return folder


def test_open_in_explorer_and_follow_new_checkpoints(qtbot, tmp_path, settings):
    run = RunFolder.create(tmp_path / "runs" / "job", {"kind": "pretrain"})
    write_status(run, state="finished", step=20, heartbeat=time.time())
    monitor = open_monitor(qtbot, tmp_path / "runs", settings)
    assert monitor.table.selected_paths() == [str(run.path)]  # opens on the newest job
    assert not monitor.open_action.isEnabled()  # no checkpoint yet
    first = add_checkpoint(run, 10)
    monitor.poll()
    opened: list[str] = []
    monitor.sig_open_checkpoint.connect(opened.append)
    monitor.open_action.trigger()
    assert opened == [str(first)]
    second = add_checkpoint(run, 20)
    monitor.poll()
    assert opened == [str(first)]  # not following: nothing reloads
    monitor.follow_action.setChecked(True)
    monitor.poll()
    assert opened == [str(first), str(second)]
    monitor.poll()
    assert len(opened) == 2  # each checkpoint once
    monitor.close()


def test_the_explorer_loads_what_the_monitor_opens(qtbot, tmp_path, settings, hf_pretraining_dir):
    from explorer.main_window import MainWindow

    window = MainWindow(device="cpu", settings=settings,
                        jobs=JobManager(tmp_path / "runs"))
    qtbot.addWidget(window)
    window.show()
    window.worker.start()
    window.open_monitor()
    with qtbot.waitSignal(window.worker.sig_model_loaded, timeout=60_000):
        window.monitor.sig_open_checkpoint.emit(str(hf_pretraining_dir))
    assert window.state.model.path == str(hf_pretraining_dir)
    window.monitor.close()
    window.close()


def test_changing_the_runs_root_lists_its_runs_and_is_remembered(qtbot, tmp_path, settings):
    RunFolder.create(tmp_path / "other" / "run-b", {"kind": "pretrain"})
    monitor = open_monitor(qtbot, tmp_path / "runs", settings)
    assert monitor.table.rowCount() == 0
    monitor.set_runs_root(str(tmp_path / "other"))
    assert monitor.table.state_of(str(tmp_path / "other" / "run-b")) is not None
    assert runs_root.remembered_runs_root() == (tmp_path / "other").resolve()  # for the CLI too
    monitor.close()


def test_a_job_that_dies_before_its_run_folder_exists_stays_listed_as_failed(qtbot, tmp_path):
    manager = JobManager(tmp_path / "runs")
    run = manager.start(manager.new_run_dir("bad"), ["--corpus", str(tmp_path / "missing.txt"),
                                                      "--max-steps", "1"])
    deadline = time.monotonic() + 120
    while manager.view(run).process_alive and time.monotonic() < deadline:
        manager.tick()
        time.sleep(0.1)
    manager.tick()
    view = next(v for v in map(manager.view, manager.runs()) if v.run.path == run.path)
    assert view.state == "failed" and "exit status 2" in view.error
    assert any("missing.txt" in line for line in view.log_tail)  # the job's own error message


def test_the_entropy_map_follows_the_selected_run(qtbot):
    from explorer.widgets.entropy_map import EntropyMap

    view = EntropyMap()
    qtbot.addWidget(view)
    a = [{"step": 100, "attention_entropy": [[1.0, 2.0]]}]
    b = [{"step": 100, "attention_entropy": [[0.1, 0.2]]}]
    view.set_records(a, source="run-a")
    assert "mean 1.50" in view.caption.text()
    view.set_records(b, source="run-b")  # the same steps, another run
    assert "mean 0.15" in view.caption.text()


# ----- beyond TensorBoard: axes, comparing runs, export, jobs from runs, the shared runs root

THREE_RATES = {"lr-1e-4": "1e-4", "lr-3e-4": "3e-4", "lr-1e-3": "1e-3"}


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory) -> dict[str, Path]:
    """Three finished tiny pretraining runs, alike but their learning rate (real jobs)."""
    from tiny_runs import train_tiny_runs

    return train_tiny_runs(tmp_path_factory.mktemp("three") / "runs", THREE_RATES)


def metrics_records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in
            (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]


def monitor_on(qtbot, root: Path, settings, paths: list[Path]) -> MonitorWindow:
    monitor = open_monitor(qtbot, root, settings)
    monitor.table.select_paths([str(p) for p in paths])
    monitor.poll()
    return monitor


@pytest.mark.slow
def test_time_axes_carry_the_records_times(qtbot, three_runs, settings):
    run = three_runs["lr-1e-3"]
    monitor = monitor_on(qtbot, run.parent, settings, [run])
    plots = monitor.plots
    plots.smoothing.setValue(0)
    train = [r for r in metrics_records(run) if r["split"] == "train"]
    first = metrics_records(run)[0]["time"]
    assert plots.curve_points("lr-1e-3", "train", "mlm_loss")[1] == [r["step"] for r in train]
    plots.set_x_axis("absolute")
    _, x, values = plots.curve_points("lr-1e-3", "train", "mlm_loss")
    assert x == [r["time"] for r in train] and values == [r["mlm_loss"] for r in train]
    assert plots.plots["Loss"].getAxis("bottom").labelText == "time"
    plots.set_x_axis("relative")
    _, x, _ = plots.curve_points("lr-1e-3", "train", "mlm_loss")
    assert x == [r["time"] - first for r in train]
    heldout = [r for r in metrics_records(run) if r["split"] == "heldout"]
    assert plots.curve_points("lr-1e-3", "heldout", "mlm_acc")[1] == [
        r["time"] - first for r in heldout]
    monitor.close()


@pytest.mark.slow
def test_log_scale_per_plot_legends_under_the_plots_and_wrapped_log_lines(qtbot, three_runs,
                                                                           settings):
    monitor = monitor_on(qtbot, three_runs["lr-1e-4"].parent, settings, list(three_runs.values()))
    plots = monitor.plots
    assert plots.log_y("Grad norm") and not plots.log_y("Loss")  # the defaults
    plots.set_log_y("Loss", True)
    plots.set_log_y("Grad norm", False)
    assert plots.plots["Loss"].ctrl.logYCheck.isChecked()
    assert not plots.plots["Grad norm"].ctrl.logYCheck.isChecked()
    train = [r for r in metrics_records(three_runs["lr-1e-4"]) if r["split"] == "train"]
    plots.smoothing.setValue(0)
    _, _, values = plots.curve_points("lr-1e-4", "train", "mlm_loss")
    assert values == pytest.approx([r["mlm_loss"] for r in train])  # log scale, same numbers
    legend = plots.legend_labels["Loss"]  # under the plot: each series once, runs by colour
    assert legend.isVisible() and legend.text().count("mlm_loss") == 2  # train and held-out
    assert all(name in plots.run_legend.text() for name in THREE_RATES)
    plots.legends.setChecked(False)
    assert not legend.isVisible() and not plots.run_legend.isVisible()
    assert monitor.log.lineWrapMode() == monitor.log.LineWrapMode.WidgetWidth
    monitor.close()


def test_a_log_axis_over_less_than_a_decade_keeps_two_labelled_ticks(qtbot):
    import math

    from explorer.widgets.plot_axes import LogAxis

    axis = LogAxis("left")
    axis.setLogMode(False, True)
    low, high = math.log10(0.8), math.log10(1.3)  # a grad norm that barely moves
    ticks = [v for _spacing, values in axis.tickValues(low, high, 200) for v in values]
    labels = [t for t in axis.tickStrings(ticks, 1.0, None) if t]
    assert len(labels) >= 2 and all(low <= v <= high for v in ticks)
    assert {"0.8", "0.9", "1", "1.1", "1.2", "1.3"} & set(labels)


@pytest.mark.slow
def test_the_runs_table_highlights_differing_settings_sorts_and_filters(qtbot, three_runs,
                                                                          settings):
    from explorer.widgets.runs_table import DIFFERS_BACKGROUND

    root = three_runs["lr-1e-4"].parent
    monitor = open_monitor(qtbot, root, settings)
    monitor.tabs.setCurrentWidget(monitor.runs_table)
    table = monitor.runs_table
    assert sorted(map(Path, table.visible_paths())) == sorted(three_runs.values())
    names = table.column_names()
    assert names.index("lr") < names.index("preset")  # the differing setting first
    assert table.runs.differing == {"lr"}
    lr = names.index("lr")
    assert table.runs.headerData(lr, Qt.Horizontal, Qt.BackgroundRole) == DIFFERS_BACKGROUND
    assert table.runs.headerData(names.index("preset"), Qt.Horizontal, Qt.BackgroundRole) is None
    table.sortByColumn(lr, Qt.DescendingOrder)
    assert [Path(p).name for p in table.visible_paths()] == ["lr-1e-3", "lr-3e-4", "lr-1e-4"]
    for name, run in three_runs.items():
        heldout = [r["mlm_acc"] for r in metrics_records(run) if r["split"] == "heldout"]
        assert table.cell_text(str(run), "Best") == f"mlm_acc {max(heldout):.4f} @ " \
            f"{next(r['step'] for r in metrics_records(run) if r.get('mlm_acc') == max(heldout) and r['split'] == 'heldout'):,}"
        assert table.cell_text(str(run), "Step") == "12/12"
    monitor.filter.setText(r"1e-(3|4)$")
    assert sorted(Path(p).name for p in table.visible_paths()) == ["lr-1e-3", "lr-1e-4"]
    assert sum(not monitor.table.isRowHidden(r) for r in range(monitor.table.rowCount())) == 2
    monitor.filter.setText("")
    monitor.close()


@pytest.mark.slow
def test_display_names_and_tags_live_in_the_app_settings_not_the_run_folder(qtbot, three_runs,
                                                                             settings):
    run = three_runs["lr-3e-4"]
    before = sorted(p.name for p in run.iterdir())
    monitor = open_monitor(qtbot, run.parent, settings)
    monitor.tabs.setCurrentWidget(monitor.runs_table)
    table = monitor.runs_table
    row = next(r for r in range(table.proxy.rowCount())
               if table.proxy.index(r, 0).data(Qt.ToolTipRole) == str(run))
    names = table.column_names()
    table.proxy.setData(table.proxy.index(row, names.index("Name")), "middle rate")
    table.proxy.setData(table.proxy.index(row, names.index("Tags")), "sweep, keep ,sweep")
    assert table.cell_text(str(run), "Name") == "middle rate"
    assert table.cell_text(str(run), "Tags") == "sweep, keep"
    monitor.filter.setText("keep")
    assert table.visible_paths() == [str(run)]
    monitor.filter.setText("")
    monitor.close()
    assert sorted(p.name for p in run.iterdir()) == before
    again = open_monitor(qtbot, run.parent, settings)  # remembered by the app
    again.table.select_paths([str(run)])
    again.poll()
    assert "middle rate" in again.summary.text()
    assert ("middle rate", "train", "mlm_loss") in again.plots.point_counts()
    again.close()


def copy_run(source: Path, target: Path, **status) -> RunFolder:
    import shutil

    run = RunFolder(shutil.copytree(source, target))
    write_status(run, heartbeat=time.time(), **status)
    return run


@pytest.mark.slow
def test_delete_asks_first_and_refuses_a_running_run(qtbot, three_runs, tmp_path, settings):
    root = tmp_path / "runs"
    running = copy_run(three_runs["lr-1e-4"], root / "running", state="running",
                       host="elsewhere")  # a live job on another machine
    done = copy_run(three_runs["lr-1e-3"], root / "done", state="finished")
    monitor = open_monitor(qtbot, root, settings)
    asked: list[str] = []
    monitor.confirm = lambda title, text: asked.append(text) or False

    monitor.table.select_paths([str(running.path)])
    monitor.poll()
    assert monitor.table.state_of(str(running.path)) == "running"
    assert not monitor.delete_action.isEnabled()
    monitor.delete_selected()
    assert running.path.is_dir() and asked == []
    assert "running" in monitor.statusBar().currentMessage()

    monitor.table.select_paths([str(done.path)])
    monitor.poll()
    assert monitor.delete_action.isEnabled()
    monitor.delete_selected()  # asked, and the answer is no
    assert done.path.is_dir() and "done" in asked[0]
    monitor.confirm = lambda title, text: True
    monitor.delete_selected()
    assert not done.path.exists() and monitor.table.state_of(str(done.path)) is None
    assert monitor.table.state_of(str(running.path)) == "running"
    monitor.close()


@pytest.mark.slow
def test_csv_of_the_selected_runs_has_one_row_per_record_and_plots_save_as_2x_png(
        qtbot, three_runs, tmp_path, settings):
    import csv

    from PySide6.QtGui import QImage

    runs = [three_runs["lr-1e-4"], three_runs["lr-1e-3"]]
    monitor = monitor_on(qtbot, runs[0].parent, settings, runs)
    out = tmp_path / "two.csv"
    monitor.export_csv_to(str(out))
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    in_row_order = [Path(p) for p in monitor.selected_paths()]
    assert sorted(in_row_order) == sorted(runs)
    expected = [(run.name, r) for run in in_row_order for r in metrics_records(run)
                if r["split"] != "probe"]
    assert len(rows) == len(expected)
    assert list(rows[0])[:4] == ["run", "step", "time", "split"]
    for row, (name, record) in zip(rows, expected):
        assert row["run"] == name and int(row["step"]) == record["step"]
        assert float(row["time"]) == record["time"] and row["split"] == record["split"]
        assert all(float(row[k]) == v for k, v in record.items()
                   if k not in ("step", "time", "split"))
    files = monitor.plots.save_pngs(tmp_path / "png")
    assert sorted(f.name for f in files) == sorted(
        ["loss.png", "accuracy.png", "learning-rate.png", "grad-norm.png",
         "throughput-sequences-s.png"])
    image = QImage(str(tmp_path / "png" / "loss.png"))
    holder = monitor.plots._cell_widgets[0]
    assert (image.width(), image.height()) == (2 * holder.width(), 2 * holder.height())
    monitor.close()


@pytest.mark.slow
def test_new_job_from_a_run_fills_the_dialog_with_its_settings_and_it_remembers(
        qtbot, three_runs, settings):
    run = three_runs["lr-3e-4"]
    monitor = monitor_on(qtbot, run.parent, settings, [run])
    assert monitor.clone_action.isEnabled()
    dialog = monitor.dialog_from_run(RunFolder(run))
    qtbot.addWidget(dialog)
    args = dialog.command_args()
    given = RunFolder(run).read_config()["command"]
    for flag in ("--corpus", "--vocab-size", "--preset", "--seq-len", "--batch-size",
                 "--max-steps", "--log-every", "--heldout-fraction", "--device"):
        assert args[args.index(flag) + 1] == given[given.index(flag) + 1], flag
    assert float(args[args.index("--lr") + 1]) == 3e-4
    assert Path(args[args.index("--run-dir") + 1]).name == "lr-3e-4-2"  # a fresh folder
    dialog._try_start()
    assert dialog.result() == NewJobDialog.Accepted
    dialog.close()
    fresh = NewJobDialog(run.parent, monitor.manager.new_run_dir, settings=settings)
    qtbot.addWidget(fresh)
    assert fresh.current_form().args() == dialog.form.args()  # opens on the last job's values
    fresh.close()
    monitor.close()


@pytest.mark.slow
def test_the_entropy_map_of_a_run_without_records_shows_the_notice(qtbot, three_runs, tmp_path,
                                                                  settings):
    from explorer.widgets.entropy_map import NO_RECORDS

    empty = RunFolder.create(tmp_path / "runs" / "empty", {"kind": "pretrain"})
    write_status(empty, state="finished", heartbeat=time.time())
    monitor = monitor_on(qtbot, tmp_path / "runs", settings, [three_runs["lr-1e-3"]])
    monitor.add_run_path(str(three_runs["lr-1e-3"]))
    monitor.table.select_paths([str(three_runs["lr-1e-3"])])
    monitor.poll()
    assert monitor.entropy.shown_step == 12 and "mean" in monitor.entropy.caption.text()
    monitor.table.select_paths([str(empty.path)])
    monitor.poll()
    view = monitor.entropy.view.getPlotItem().getViewBox()
    assert monitor.entropy.caption.text() == NO_RECORDS and monitor.entropy.shown_step is None
    (x_low, x_high), (y_low, y_high) = view.viewRange()
    assert -1 <= x_low and x_high <= 2 and -1 <= y_low and y_high <= 2  # not -400..400
    monitor.close()


@pytest.mark.slow
def test_the_monitor_and_bert_engine_runs_list_the_same_runs_root(qtbot, three_runs, settings,
                                                                  capsys):
    from engine.cli import main

    root = three_runs["lr-1e-4"].parent
    settings.setValue("jobs/runs_root", str(root))  # as an older version remembered it
    manager = JobManager.from_settings(settings)
    assert manager.runs_root == root.resolve() and settings.value("jobs/runs_root") is None
    assert main(["runs", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sorted(r["path"] for r in listed["runs"]) == sorted(
        str(r.path) for r in manager.runs())
    other = JobManager.from_settings(settings, runs_root=root / "elsewhere")  # --runs-root
    assert runs_root.runs_root() == (root / "elsewhere").resolve() == other.runs_root
    scripted = JobManager.from_settings(settings, runs_root=root, remember=False)
    assert scripted.runs_root == root and runs_root.runs_root() == (root / "elsewhere").resolve()


def test_eta_and_throughput_use_the_jobs_own_recent_steps(tmp_path):
    from explorer.jobs import _recent_rate

    run = RunFolder.create(tmp_path / "run", {"kind": "pretrain"})
    records = [{"step": s, "time": 100.0 + s, "split": "train", "seq_per_s": 4.0}
               for s in range(1, 11)]  # 1 step/s, then paused for an hour
    records += [{"step": s, "time": 3700.0 + 0.5 * (s - 10), "split": "train", "seq_per_s": 8.0}
                for s in range(11, 21)]  # resumed: 2 steps/s
    run.metrics_path.write_text("".join(json.dumps(r) + "\n" for r in records))
    steps_per_s, seq_per_s = _recent_rate(run)
    assert steps_per_s == pytest.approx(2.0) and seq_per_s == pytest.approx(8.0)
    rewritten = records + [{"step": s, "time": 3706.0 + (s - 15) / 4, "split": "train",
                            "seq_per_s": 16.0} for s in range(16, 22)]  # resumed at step 15
    run.metrics_path.write_text("".join(json.dumps(r) + "\n" for r in rewritten))
    steps_per_s, seq_per_s = _recent_rate(run)
    assert steps_per_s == pytest.approx(4.0) and seq_per_s == pytest.approx(16.0)
