"""The training monitor: every job under the runs root, live curves, log tail, attention-entropy
map, and the buttons that start, pause, resume and cancel jobs.

Polls files on a timer (status, metrics, log: small reads, no torch); the jobs themselves are
separate processes (``explorer.jobs``), so closing this window never stops them unless the user
asks.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QLabel, QMainWindow, QMessageBox,
                               QPlainTextEdit, QSplitter, QToolBar, QVBoxLayout,
                               QWidget)

from engine.runlog import RunFolder, RunFolderError
from explorer.jobs import EXTRA_RUNS_KEY, JobManager, JobView
from explorer.metrics_store import RunMetrics
from explorer.new_job_dialog import NewJobDialog
from explorer.widgets.entropy_map import EntropyMap
from explorer.widgets.job_table import JobTable, best_text
from explorer.widgets.metric_plots import MetricPlots

POLL_MS = 500
ON_CLOSE_KEY = "jobs/on_close"  # "keep" or "stop": the answer the user asked us to remember


class MonitorWindow(QMainWindow):
    sig_open_checkpoint = Signal(str)  # a checkpoint folder for the explorer window

    def __init__(self, manager: JobManager, settings: QSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("BERT Explorer — training monitor")
        self.manager = manager
        self.settings = settings
        self._metrics: dict[str, RunMetrics] = {}
        self._views: dict[str, JobView] = {}
        self._followed: tuple[str, int] | None = None  # run path, checkpoint step last opened
        self._shown_once = False

        self.table = JobTable()
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(500)
        self.log.setFont(QFont("monospace", 9))
        self.log.setPlaceholderText("The selected job's log appears here.")
        self.log.setLineWrapMode(QPlainTextEdit.NoWrap)
        self.plots = MetricPlots()
        self.entropy = EntropyMap()
        self.plots.add_to_free_cell(self.entropy)
        self.summary = QLabel()
        self.summary.setWordWrap(True)

        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.table, 3)
        column.addWidget(self.summary)
        column.addWidget(self.log, 2)
        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.plots)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([520, 880])
        self.setCentralWidget(self.splitter)
        self._build_toolbar()
        self.statusBar().showMessage(f"runs root: {manager.runs_root}")

        self.table.sig_selection.connect(lambda _paths: self.poll())
        self.timer = QTimer(self, interval=POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.timer.start()
        geometry = settings.value("monitor/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 820)
        self.poll()

    def _build_toolbar(self) -> None:
        bar = QToolBar("Jobs")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonTextOnly)
        self.addToolBar(bar)

        def action(text: str, slot, tip: str) -> QAction:
            act = QAction(text, self)
            act.setToolTip(tip)
            act.triggered.connect(slot)
            bar.addAction(act)
            return act

        self.new_action = action("New job…", self.new_job, "Start a pretraining or fine-tuning job")
        self.add_action = action("Add run folder…", self.add_run_folder,
                                 "Watch a run folder from another place")
        self.root_action = action("Runs root…", self.choose_runs_root,
                                  "The folder where new jobs go and whose runs are listed")
        bar.addSeparator()
        self.pause_action = action("Pause", self.pause_selected,
                                   "Checkpoint, then stop; Resume continues from there")
        self.resume_action = action("Resume", self.resume_selected,
                                    "Continue from the last checkpoint")
        self.cancel_action = action("Cancel", self.cancel_selected,
                                    "Stop for good (stop request, then terminate, then kill)")
        bar.addSeparator()
        self.open_action = action("Open in explorer", self.open_selected,
                                  "Load the latest checkpoint into the explorer window")
        self.follow_action = QAction("Follow", self, checkable=True)
        self.follow_action.setToolTip("Reload each new checkpoint of the opened job")
        self.follow_action.toggled.connect(self._on_follow)
        bar.addAction(self.follow_action)

    # ----- polling -----

    def poll(self) -> None:
        self.manager.tick()
        runs = self.manager.runs()
        views = [self.manager.view(r) for r in runs]
        self._views = {str(v.run.path): v for v in views}
        self.table.set_jobs(views)
        if not self._shown_once and views:  # open on the newest running job, else the newest
            self._shown_once = True
            active = [v for v in views if v.state in ("starting", "running")] or views
            self.table.blockSignals(True)  # this poll goes on to show it
            self.table.select_path(str(active[-1].run.path))
            self.table.blockSignals(False)
        selected = [p for p in self.table.selected_paths() if p in self._views]
        for path in selected:
            self._metrics.setdefault(path, RunMetrics(RunFolder(path).metrics_path)).poll()
        first = self._views[selected[0]] if selected else None
        main = first.main_metric if first is not None and first.kind == "finetune" else None
        self.plots.set_runs([(Path(p).name, self._metrics[p]) for p in selected], main_metric=main)
        self.plots.set_best([self._views[p].best for p in selected])
        self.plots.refresh()
        self.entropy.set_records(self._metrics[selected[0]].probes if selected else [],
                                 source=selected[0] if selected else None)
        self._show_details(first)
        self._update_actions([self._views[p] for p in selected])
        self._follow_checkpoints()

    def _show_details(self, job: JobView | None) -> None:
        if job is None:
            self.summary.setText("Select a job to see its curves and log; Ctrl/Shift-click "
                                 "several to overlay them." if self._views else
                                 "No jobs yet under the runs root. Start one with New job…")
            self.log.setPlainText("")
            return
        metrics = self._metrics.get(str(job.run.path))
        bad = f" · {metrics.malformed} malformed metrics line(s) skipped" if metrics and \
            metrics.malformed else ""
        error = f"<br><b style='color:#cf222e'>{html.escape(job.error)}</b>" if job.error else ""
        best = best_text(job)
        best = f"<br>best so far: <b>{html.escape(best)}</b> (its weights: best/)" if best else ""
        hardware = f"<br>on {html.escape(job.hardware)}" if job.hardware else ""
        self.summary.setText(f"<b>{html.escape(job.name)}</b> · {job.state} · "
                             f"{html.escape(str(job.run.path))}{bad}{hardware}{best}{error}")
        text = "\n".join(job.log_tail)
        if self.log.toPlainText() != text:
            self.log.setPlainText(text)
            self.log.verticalScrollBar().setValue(self.log.verticalScrollBar().maximum())

    def _update_actions(self, jobs: list[JobView]) -> None:
        self.pause_action.setEnabled(any(j.can_pause for j in jobs))
        self.resume_action.setEnabled(any(j.can_resume for j in jobs))
        self.cancel_action.setEnabled(any(j.can_cancel for j in jobs))
        self.open_action.setEnabled(len(jobs) == 1 and jobs[0].run.latest_checkpoint() is not None)

    # ----- actions -----

    def selected_jobs(self) -> list[JobView]:
        return [self._views[p] for p in self.table.selected_paths() if p in self._views]

    def new_job(self) -> None:
        dialog = NewJobDialog(self.manager.runs_root, self.manager.new_run_dir, self)
        if dialog.exec() and dialog.form is not None:
            self.start_job(dialog.run_dir, dialog.form.args(), dialog.form.COMMAND)

    def start_job(self, run_dir: Path, args: list[str], command: str = "pretrain") -> None:
        try:
            self.manager.start(run_dir, args, command)
        except (OSError, RunFolderError) as exc:
            QMessageBox.warning(self, "Could not start the job", str(exc))
            return
        self.poll()
        self.table.select_path(str(run_dir))

    def add_run_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a run folder")
        if folder:
            self.add_run_path(folder)

    def add_run_path(self, folder: str) -> None:
        try:
            self.manager.add_run_folder(folder)
        except RunFolderError as exc:
            QMessageBox.warning(self, "Not a run folder", str(exc))
            return
        self.settings.setValue(EXTRA_RUNS_KEY, self.manager.extra_runs)
        self.poll()

    def choose_runs_root(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Runs root", str(self.manager.runs_root))
        if folder:
            self.set_runs_root(folder)

    def set_runs_root(self, folder: str) -> None:
        """List (and start new jobs in) another folder; remembered for the next start."""
        self.manager.runs_root = Path(folder)
        self.settings.setValue("jobs/runs_root", str(Path(folder).resolve()))
        self.statusBar().showMessage(f"runs root: {folder}")
        self.poll()

    def pause_selected(self) -> None:
        for job in self.selected_jobs():
            if job.can_pause:
                self.manager.pause(job.run)
        self.poll()

    def resume_selected(self) -> None:
        for job in self.selected_jobs():
            if job.can_resume:
                try:
                    self.manager.resume(job.run)
                except (OSError, RunFolderError) as exc:
                    QMessageBox.warning(self, "Could not resume", str(exc))
        self.poll()

    def cancel_selected(self) -> None:
        for job in self.selected_jobs():
            if job.can_cancel:
                self.manager.cancel(job.run)
        self.poll()

    def open_selected(self) -> None:
        jobs = self.selected_jobs()
        if len(jobs) != 1:
            return
        latest = jobs[0].run.latest_checkpoint()
        if latest is None:
            return
        self._followed = (str(jobs[0].run.path), latest[0])
        self.sig_open_checkpoint.emit(str(latest[1]))

    def _on_follow(self, on: bool) -> None:
        if on and self._followed is None:
            self.open_selected()

    def _follow_checkpoints(self) -> None:
        if not self.follow_action.isChecked() or self._followed is None:
            return
        path, step = self._followed
        latest = RunFolder(path).latest_checkpoint()
        if latest is not None and latest[0] != step:
            self._followed = (path, latest[0])
            self.sig_open_checkpoint.emit(str(latest[1]))

    # ----- closing -----

    def closeEvent(self, event) -> None:
        live = [v for v in self._views.values() if v.process_alive]
        if live and not self._confirm_close(live):
            event.ignore()
            return
        self.timer.stop()
        self.settings.setValue("monitor/geometry", self.saveGeometry())
        super().closeEvent(event)

    def showEvent(self, event) -> None:
        """Shown again from the Training menu after a close: polling starts again."""
        super().showEvent(event)
        if not self.timer.isActive():
            self.timer.start()
            self.poll()

    def _confirm_close(self, live: list[JobView]) -> bool:
        """Keep or stop the running jobs, as the user said once; False = do not close."""
        answer = self.settings.value(ON_CLOSE_KEY)
        if answer not in ("keep", "stop"):
            box = QMessageBox(QMessageBox.Question, "Jobs are running",
                              f"{len(live)} training job(s) are running. They can keep running "
                              "in the background; the monitor finds them again when it opens.",
                              parent=self)
            keep = box.addButton("Keep running", QMessageBox.AcceptRole)
            stop = box.addButton("Pause them", QMessageBox.DestructiveRole)
            box.addButton(QMessageBox.Cancel)
            remember = QCheckBox("Remember my answer")
            box.setCheckBox(remember)
            box.exec()
            if box.clickedButton() not in (keep, stop):
                return False
            answer = "keep" if box.clickedButton() is keep else "stop"
            if remember.isChecked():
                self.settings.setValue(ON_CLOSE_KEY, answer)
        if answer == "stop":
            for job in live:
                self.manager.pause(job.run)
        return True
