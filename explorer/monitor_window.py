"""The training monitor: every job under the runs root, live curves, log tail, attention-entropy
map, and the buttons that start, pause, resume and cancel jobs; a runs table comparing every
run's settings and metrics, a filter by name, tag or regex, display names and tags, deleting
ended runs, each plot as PNG and the selected runs' metrics as CSV, a new job from a run.

Polls files on a timer (status, metrics, log: small reads, no torch); the jobs themselves are
separate processes (``explorer.jobs``), so closing this window never stops them unless the user
asks.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QFont, QKeySequence
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QLabel, QLineEdit, QMainWindow,
                               QMessageBox, QPlainTextEdit, QSplitter, QTabWidget, QToolBar,
                               QVBoxLayout, QWidget)

from engine import runs_root as shared_root
from engine.runlog import RunFolder, RunFolderError
from engine.runs import DELETABLE_STATES, RunCatalog, creating_job, delete_run, read_records, \
    write_metrics_csv
from explorer.actions import ACTIONS
from explorer.finetune_form import FinetuneForm
from explorer.job_form import JobForm
from explorer.jobs import EXTRA_RUNS_KEY, JobManager, JobView
from explorer.metrics_store import RunMetrics
from explorer.new_job_dialog import NewJobDialog
from explorer.quit import quit_application
from explorer.run_labels import RunLabels, run_filter
from explorer.widgets.entropy_map import EntropyMap
from explorer.widgets.job_table import JobTable, best_text
from explorer.widgets.metric_plots import MetricPlots
from explorer.widgets.runs_table import RunsTable

POLL_MS = 500
ON_CLOSE_KEY = "jobs/on_close"  # "keep" or "stop": the answer the user asked us to remember


class MonitorWindow(QMainWindow):
    sig_open_checkpoint = Signal(str)  # a checkpoint folder for the explorer window
    sig_scrub_run = Signal(str)        # a run folder whose checkpoints the explorer scrubs

    def __init__(self, manager: JobManager, settings: QSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("BERT Explorer — training monitor")
        self.manager = manager
        self.settings = settings
        self._metrics: dict[str, RunMetrics] = {}
        self._views: dict[str, JobView] = {}
        self._followed: tuple[str, int] | None = None  # run path, checkpoint step last opened
        self._shown_once = False
        self.labels = RunLabels(settings)
        self.catalog = RunCatalog()
        # Asked before a delete; a test answers without a modal box: (title, text) -> yes?
        self.confirm: Callable[[str, str], bool] = self._ask

        self.table = JobTable()
        self.runs_table = RunsTable(self.labels)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.table, "Jobs")
        self.tabs.addTab(self.runs_table, "Compare runs")
        self.tabs.setTabToolTip(1, "Every run's settings (those that differ highlighted) and "
                                   "final and best metrics; sort by any column; double-click a "
                                   "name or tags to edit them")
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter runs by name, tag or regular expression")
        self.filter.setClearButtonEnabled(True)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(500)
        self.log.setFont(QFont("monospace", 9))
        self.log.setPlaceholderText("The selected job's log appears here.")
        self.log.setLineWrapMode(QPlainTextEdit.WidgetWidth)
        self.plots = MetricPlots()
        self.entropy = EntropyMap()
        self.plots.add_to_free_cell(self.entropy)
        self.summary = QLabel()
        self.summary.setWordWrap(True)

        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.filter)
        column.addWidget(self.tabs, 3)
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
        self._build_menu()
        self.statusBar().showMessage(f"runs root: {manager.runs_root}")

        self.table.sig_selection.connect(lambda _paths: self.poll())
        self.runs_table.sig_selection.connect(lambda _paths: QTimer.singleShot(0, self.poll))
        self.tabs.currentChanged.connect(self._on_tab)
        self.filter.textChanged.connect(self._on_filter)
        self.timer = QTimer(self, interval=POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.timer.start()
        geometry = settings.value("monitor/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 820)
        self.poll()

    asks_before_closing = True  # explorer.quit: live jobs make closeEvent ask first

    def _build_menu(self) -> None:
        """File ▸ Quit (as in the explorer window: every window closes, the app ends)."""
        spec = ACTIONS["quit"]
        self.quit_action = QAction(spec.text, self)
        self.quit_action.setShortcut(QKeySequence(spec.shortcut))
        self.quit_action.setToolTip(spec.tip)
        self.quit_action.triggered.connect(quit_application)
        self.menuBar().addMenu("&File").addAction(self.quit_action)

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
                                  "The folder where new jobs go and whose runs are listed "
                                  "(bert-engine runs lists the same)")
        self.clone_action = action("New job from selected…", self.new_job_from_selected,
                                   "The New job dialog filled with the selected run's settings")
        bar.addSeparator()
        self.pause_action = action("Pause", self.pause_selected,
                                   "Checkpoint, then stop; Resume continues from there")
        self.resume_action = action("Resume", self.resume_selected,
                                    "Continue from the last checkpoint")
        self.cancel_action = action("Cancel", self.ask_and_cancel_selected,
                                    "Stop for good (stop request, then terminate, then kill)")
        bar.addSeparator()
        self.open_action = action("Open in explorer", self.open_selected,
                                  "Load the latest checkpoint into the explorer window")
        self.scrub_action = action("Scrub checkpoints", self.scrub_selected,
                                   "A step slider over the run's kept checkpoints in the "
                                   "explorer: the model at each step, what changed since the "
                                   "one before")
        self.follow_action = QAction("Follow", self, checkable=True)
        self.follow_action.setToolTip("Reload each new checkpoint of the opened job")
        self.follow_action.toggled.connect(self._on_follow)
        bar.addAction(self.follow_action)
        bar.addSeparator()
        self.png_action = action("Save plots as PNG…", self.save_plots,
                                 "Each plot as a PNG at twice its size on screen")
        self.csv_action = action("Export CSV…", self.export_csv,
                                 "The selected runs' metrics: one row per record (step, time, "
                                 "split, metrics)")
        self.delete_action = action("Delete run…", self.delete_selected,
                                    "Delete the selected finished, failed or cancelled runs' "
                                    "folders (asks first)")

    # ----- polling -----

    def poll(self) -> None:
        self.manager.tick()
        runs = self.manager.runs()
        views = [self.manager.view(r) for r in runs]
        self._views = {str(v.run.path): v for v in views}
        self.table.set_jobs(views, {p: self.labels.name(p) for p in self._views})
        if self.tabs.currentWidget() is self.runs_table:
            self.runs_table.set_summaries(self.catalog.summaries(runs))
        self._apply_filter()
        if not self._shown_once and views:  # open on the newest running job, else the newest
            self._shown_once = True
            active = [v for v in views if v.state in ("starting", "running")] or views
            self.table.blockSignals(True)  # this poll goes on to show it
            self.table.select_path(str(active[-1].run.path))
            self.table.blockSignals(False)
        selected = self.selected_paths()
        for path in selected:
            self._metrics.setdefault(path, RunMetrics(RunFolder(path).metrics_path)).poll()
        first = self._views[selected[0]] if selected else None
        main = first.main_metric if first is not None and first.kind == "finetune" else None
        self.plots.set_runs([(self.labels.name(p), self._metrics[p]) for p in selected],
                            main_metric=main)
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
        name = html.escape(self.labels.name(job.run.path))
        self.summary.setText(f"<b>{name}</b> · {job.state} · "
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
        self.scrub_action.setEnabled(self.open_action.isEnabled())
        self.clone_action.setEnabled(len(jobs) == 1)
        self.csv_action.setEnabled(bool(jobs))
        self.delete_action.setEnabled(bool(jobs) and all(map(_deletable, jobs)))

    # ----- which runs -----

    def selected_paths(self) -> list[str]:
        """The selected runs of the shown tab (jobs or runs table) that are still listed."""
        table = self.runs_table if self.tabs.currentWidget() is self.runs_table else self.table
        return [p for p in table.selected_paths() if p in self._views]

    def selected_jobs(self) -> list[JobView]:
        return [self._views[p] for p in self.selected_paths()]

    def _on_tab(self, _index: int) -> None:
        """The table now shown selects the runs the other one did."""
        if self.tabs.currentWidget() is self.runs_table:
            previous = self.table.selected_paths()
            self.runs_table.set_summaries(self.catalog.summaries(self.manager.runs()))
            self.runs_table.select_paths(previous)
        else:
            self.table.select_paths(self.runs_table.selected_paths())
        self.poll()

    def _on_filter(self, _text: str) -> None:
        self._apply_filter()

    def _apply_filter(self) -> None:
        matches = run_filter(self.filter.text())
        self.table.show_only({p for p in self._views if matches(
            Path(p).name, self.labels.name(p), self.labels.tags(p))})
        self.runs_table.set_filter(self.filter.text())

    # ----- actions -----

    def new_job(self) -> None:
        self._run_dialog(NewJobDialog(self.manager.runs_root, self.manager.new_run_dir, self,
                                      settings=self.settings))

    def new_job_from_selected(self) -> None:
        """The New job dialog with the selected run's settings, as its command gave them."""
        jobs = self.selected_jobs()
        if len(jobs) != 1:
            return
        dialog = self.dialog_from_run(jobs[0].run)
        if dialog is not None:
            self._run_dialog(dialog)

    def dialog_from_run(self, run: RunFolder) -> NewJobDialog | None:
        try:
            job = creating_job(run.read_config())
        except RunFolderError as exc:
            job, reason = None, str(exc)
        else:
            reason = f"{run.config_path} names no command that created it"
        if job is None:
            self.statusBar().showMessage(f"No job to start from: {reason}")
            return None
        form = FinetuneForm.from_job(job) if run.read_config().get("kind") == "finetune" \
            else JobForm.from_job(job)
        return NewJobDialog(self.manager.runs_root, self.manager.new_run_dir, self,
                            settings=self.settings, form=form, name=run.path.name)

    def _run_dialog(self, dialog: NewJobDialog) -> None:
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
        """List (and start new jobs in) another folder; remembered for the next start and for
        ``bert-engine runs`` (engine.runs_root)."""
        self.manager.runs_root = shared_root.remember_runs_root(folder)
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

    def ask_and_cancel_selected(self) -> None:
        """The Cancel button: a running job is stopped for good only once the user says so."""
        running = [j for j in self.selected_jobs() if j.can_cancel]
        if not running:
            return
        names = "\n".join(f"• {self.labels.name(j.run.path)} ({j.state})" for j in running)
        if self.confirm("Cancel jobs", "Stop these jobs for good? A cancelled job cannot be "
                                       f"resumed (Pause keeps a checkpoint to resume).\n\n{names}"):
            self.cancel_selected()

    def cancel_selected(self) -> None:
        for job in self.selected_jobs():
            if job.can_cancel:
                self.manager.cancel(job.run)
        self.poll()

    def delete_selected(self) -> None:
        """Delete the selected runs' folders after asking; a run that is not finished, failed
        or cancelled (a running one above all) is refused, as is every other one with it."""
        jobs = self.selected_jobs()
        refused = [j for j in jobs if not _deletable(j)]
        if refused:
            self.statusBar().showMessage(
                f"Not deleted: {', '.join(self.labels.name(j.run.path) for j in refused)} "
                f"{'is' if len(refused) == 1 else 'are'} {refused[0].state}; only finished, "
                "failed or cancelled runs can be deleted")
            return
        if not jobs:
            return
        names = "\n".join(f"• {self.labels.name(j.run.path)} ({j.run.path})" for j in jobs)
        if not self.confirm("Delete runs", f"Delete these run folders, with their checkpoints "
                                           f"and metrics? This cannot be undone.\n\n{names}"):
            return
        for job in jobs:
            try:
                delete_run(job.run)
            except (OSError, RunFolderError) as exc:
                self.statusBar().showMessage(f"Not deleted: {exc}")
                continue
            self.labels.forget(job.run.path)
            self.manager.forget_run_folder(job.run.path)
            self._metrics.pop(str(job.run.path), None)
        self.settings.setValue(EXTRA_RUNS_KEY, self.manager.extra_runs)
        self.poll()

    def _ask(self, title: str, text: str) -> bool:
        return QMessageBox.question(self, title, text) == QMessageBox.Yes

    def save_plots(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save each plot as a PNG into")
        if folder:
            files = self.plots.save_pngs(folder)
            self.statusBar().showMessage(f"{len(files)} plots saved in {folder}")

    def export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export metrics", "metrics.csv",
                                              "CSV (*.csv)")
        if path:
            self.export_csv_to(path)

    def export_csv_to(self, path: str) -> int:
        """The selected runs' metrics records, one row each (a ``run`` column when several)."""
        runs = [(self.labels.name(j.run.path), read_records(j.run)) for j in self.selected_jobs()]
        rows = write_metrics_csv(path, runs)
        self.statusBar().showMessage(f"{rows} records written to {path}")
        return rows

    def open_selected(self) -> None:
        jobs = self.selected_jobs()
        if len(jobs) != 1:
            return
        latest = jobs[0].run.latest_checkpoint()
        if latest is None:
            return
        self._followed = (str(jobs[0].run.path), latest[0])
        self.sig_open_checkpoint.emit(str(latest[1]))

    def scrub_selected(self) -> None:
        jobs = self.selected_jobs()
        if len(jobs) == 1 and jobs[0].run.latest_checkpoint() is not None:
            self.sig_scrub_run.emit(str(jobs[0].run.path))

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


def _deletable(job: JobView) -> bool:
    return job.state in DELETABLE_STATES and not job.process_alive
