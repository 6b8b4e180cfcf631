"""Issue 22, defects 3 and 7: File ▸ Quit ends the app from either window (the monitor has a
menu bar with it); Cancel of a running job asks first."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import started
from engine.runlog import RunFolder
from explorer.jobs import JobManager
from explorer.monitor_window import MonitorWindow

pytestmark = pytest.mark.usefixtures("qapp")


@pytest.fixture
def window(qtbot, make_window, hf_pretraining_dir):
    return started(qtbot, make_window, hf_pretraining_dir, None)


@pytest.mark.parametrize("from_window", ["explorer", "monitor"])
def test_quit_closes_both_windows_from_either(qtbot, window, tmp_path, from_window):
    window.jobs = JobManager(tmp_path / "runs")
    window.open_monitor()
    monitor = window.monitor
    assert [a.text() for a in monitor.menuBar().actions()] == ["&File"]
    action = window.actions["quit"] if from_window == "explorer" else monitor.quit_action
    assert action.shortcut().toString() == "Ctrl+Q"
    action.trigger()
    assert not window.isVisible() and not monitor.isVisible()
    assert not window.worker.isRunning() and not monitor.timer.isActive()


def test_quit_stops_when_the_monitor_keeps_its_window(qtbot, window, tmp_path):
    """The monitor's "Cancel" to the live-jobs question keeps every window open."""
    window.jobs = JobManager(tmp_path / "runs")
    window.open_monitor()
    monitor = window.monitor
    monitor.closeEvent = lambda event: event.ignore()  # the user's "Cancel" in that question
    window.actions["quit"].trigger()
    assert window.isVisible() and monitor.isVisible()
    del monitor.closeEvent
    monitor.close()


@pytest.fixture
def running_job(tmp_path):
    """A run folder whose status says running, with a live process owning it."""
    run = RunFolder.create(tmp_path / "runs" / "live", {"kind": "pretrain"})
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)",
                             "--run-dir", str(run.path)])
    run.write_status(state="running", pid=proc.pid, step=3, max_steps=100)
    yield run
    proc.kill()
    proc.wait()


def test_cancel_asks_and_no_leaves_the_job_running(qtbot, settings, running_job):
    monitor = MonitorWindow(JobManager(running_job.path.parent), settings)
    qtbot.addWidget(monitor)
    monitor.show()
    monitor.table.select_path(running_job.path)
    asked = []
    monitor.confirm = lambda title, text: asked.append(text) or False
    assert monitor.cancel_action.isEnabled()
    monitor.cancel_action.trigger()
    assert len(asked) == 1 and "live" in asked[0]
    assert running_job.stop_requested() is None
    monitor.confirm = lambda title, text: True
    monitor.cancel_action.trigger()
    assert running_job.stop_requested() == "cancel"
    monitor.timer.stop()
    monitor.settings.setValue("jobs/on_close", "keep")
    monitor.close()
