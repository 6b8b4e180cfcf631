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
from PySide6.QtCore import QSettings

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

