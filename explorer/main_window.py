"""The main window: composes the panels, the menus and the status bar, and wires the state to
the inference worker. Wiring only: no analysis logic, no torch."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QFrame, QLabel, QMainWindow,
                               QScrollArea, QSplitter, QVBoxLayout, QWidget)

from engine.paths import default_model_dir
from engine.results import Analysis
from explorer.actions import (ACTIONS, COLORMAPS, MENUS, PRECISION, RECENT, RECENT_INPUTS,
                              SEPARATOR)
from explorer.compare_controller import CompareController
from explorer.corpus_search import CorpusSearchController
from explorer.help_dialogs import AboutDialog, ShortcutsDialog, model_card_viewer, readme_viewer
from engine.analysis_io import save_lab_result
from explorer.inference_worker import (Analyze, ExplainMaps, ExplainSalience, InferenceWorker,
                                       LoadModel, ModelLoaded)
from explorer.jobs import JobManager
from explorer.last_folder import remember, start_path
from explorer.precision_menu import PrecisionActions
from explorer.quit import quit_application
from explorer.window_fit import fit_to_screen, keep_on_screen
from explorer.scrub_controller import ScrubController
from explorer.state import ExplorerState
from explorer.view_png import PNG_SCALES
from explorer.view_record import view_record
from explorer.window_actions import WindowActions
from explorer.widgets.attention import AttentionPanel
from explorer.widgets.compare_panel import ComparePanel
from explorer.widgets.model_bar import ModelBar
from explorer.widgets.pair_input import PairInput
from explorer.widgets.predictions import PredictionsPanel
from explorer.widgets.salience_panel import SaliencePanel
from explorer.widgets.scrub_panel import ScrubPanel
from explorer.widgets.task_common import task_summary
from explorer.widgets.task_panel import TaskPanel
from explorer.widgets.token_strip import TokenStrip

DEBOUNCE_MS = 150  # analysis reruns this long after the last keystroke
FIRST_SIZE = QSize(1400, 860)  # the first window's size where the screen has room
MAX_RECENT = 8


class MainWindow(PrecisionActions, WindowActions, QMainWindow):
    sig_analysis_applied = Signal(int)  # sequence number of the analysis now on screen

    def __init__(self, state: ExplorerState | None = None, device: str | None = None,
                 settings: QSettings | None = None, jobs=None):
        super().__init__()
        self.jobs = jobs  # explorer.jobs.JobManager for the training monitor (made on demand)
        self.monitor = None
        self.dataset_window = None  # the Dataset window, made on demand
        self.help_windows: dict[str, QWidget] = {}  # the Help menu's open windows, by action
        self.setWindowTitle("BERT Explorer")
        self.state = state or ExplorerState(self)
        self.settings = settings or QSettings("BERT Explorer", "BERT Explorer")
        self.worker = InferenceWorker(device, self)
        self._seq = 0          # the newest analysis request
        self._salience_runs = 0  # salience requests made
        self._salience_run: int | None = None  # the one whose result is wanted
        self._model_path: str | None = None

        self.model_bar = ModelBar(self.state)
        self.pair_input = PairInput(self.state)
        self.token_strip = TokenStrip(self.state)
        self.predictions = PredictionsPanel(self.state)
        self.task_panel = TaskPanel(self.state)  # shown only for fine-tuned models
        self.salience_panel = SaliencePanel(self.state)
        self.attention = AttentionPanel(self.state)
        self.compare = CompareController(self.state, device, self)
        self.compare_panel = ComparePanel(self.state)
        self.compare_panel.sig_close.connect(self.close_compare)
        self.scrub_panel = ScrubPanel(self.state)
        self.scrub = ScrubController(self.state, self.scrub_panel, device, self)
        self.scrub.sig_load_checkpoint.connect(self.load_model)
        self.error_banner = QLabel()
        self.error_banner.setWordWrap(True)
        self.error_banner.setStyleSheet("background:#fde2e1;color:#8a1c12;padding:6px;"
                                        "border:1px solid #e0a39c;border-radius:4px")
        self.error_banner.setVisible(False)
        self._build_layout()
        self._build_menus()
        self.corpus = CorpusSearchController(self)

        self._debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._debounce.timeout.connect(self._request_analysis)
        self.state.sig_texts_changed.connect(self._texts_edited)
        self.state.sig_error.connect(self._show_error)
        self.state.sig_view_method_changed.connect(lambda _method: self._request_maps())
        self.state.sig_salience_settings_changed.connect(lambda _s: self._request_salience())
        self.predictions.sig_explain.connect(self.salience_panel.explain_target)
        self.worker.sig_model_loaded.connect(self._on_model_loaded)
        self.worker.sig_model_failed.connect(self._on_model_failed)
        self.worker.sig_analysis_ready.connect(self._on_analysis)
        self.worker.sig_analysis_failed.connect(self._on_analysis_failed)
        self.worker.sig_maps_ready.connect(self._on_maps)
        self.worker.sig_maps_failed.connect(self._on_analysis_failed)
        self.worker.sig_salience_ready.connect(self._on_salience)
        self.worker.sig_salience_failed.connect(self._on_salience_failed)
        self.worker.sig_salience_progress.connect(self._on_salience_progress)
        self.worker.sig_salience_cancelled.connect(self._on_salience_cancelled)
        # Head ablation and the head lab (explorer.ablation, explorer.head_lab_requests)
        self.state.sig_ablated_heads_changed.connect(lambda _heads: self._ablation_changed())
        self.worker.sig_ablated_ready.connect(self._on_ablated)
        self.attention.head_lab.sig_request.connect(
            lambda request: self.worker.submit(replace(request, seq=self._seq)))
        self.worker.sig_head_lab_ready.connect(self.attention.head_lab.show_result)
        self.worker.sig_head_lab_failed.connect(self.attention.head_lab.show_failure)
        self._restore_settings()
        self._restore_view()

    # ----- layout and menus -----

    def _build_layout(self) -> None:
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.pair_input)
        column.addWidget(self.token_strip, 1)
        column.addWidget(self.task_panel, 3)
        column.addWidget(self.predictions, 3)
        column.addWidget(self.compare_panel, 3)
        column.addWidget(self.salience_panel)
        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.attention)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.model_bar)
        layout.addWidget(self.error_banner)
        layout.addWidget(self.splitter, 1)
        # Below the panels' minimum (1004 x 622: a small screen, a large QT_SCALE_FACTOR) the
        # window scrolls instead of clipping or growing past the screen.
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(central)
        self.setCentralWidget(scroll)
        self.status_timing = QLabel()
        self.statusBar().addPermanentWidget(self.status_timing)
        self.scrub_dock = QDockWidget("Scrub checkpoints", self)
        self.scrub_dock.setObjectName("scrub_dock")
        self.scrub_dock.setWidget(self.scrub_panel)
        self.scrub_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.scrub_dock)
        self.scrub_dock.setVisible(False)
        self.scrub_panel.sig_close.connect(lambda: self.scrub_dock.setVisible(False))

    def _build_menus(self) -> None:
        """The menus from ``explorer.actions``; each action's handler is a method named there."""
        self.actions: dict[str, QAction] = {}
        for title, entries in MENUS.items():
            menu = self.menuBar().addMenu(title)
            for name in entries:
                if name == SEPARATOR:
                    menu.addSeparator()
                elif name == RECENT:
                    self.recent_menu = menu.addMenu("Open &recent")
                elif name == RECENT_INPUTS:
                    self._build_history(menu)
                elif name == COLORMAPS:
                    self._build_colormaps(menu)
                elif name == PRECISION:
                    self._build_precision(menu)
                elif name != "open_bundled" or default_model_dir() is not None:
                    menu.addAction(self._action(name))
        self._refresh_recent()

    def _action(self, name: str) -> QAction:
        spec = ACTIONS[name]
        action = QAction(spec.text, self)
        action.setObjectName(name)
        if spec.shortcut:
            action.setShortcut(QKeySequence(spec.shortcut))
        if spec.tip:
            action.setToolTip(spec.tip)
        action.triggered.connect(lambda _checked=False, handler=spec.handler, args=spec.args:
                                 getattr(self, handler)(*args))
        self.actions[name] = action
        return action

    def open_corpus_index(self) -> None:
        self.corpus.choose_index()

    def find_similar_in_corpus(self) -> None:
        self.corpus.find_similar()

    def open_dataset_window(self) -> None:
        from explorer.dataset_window import DatasetWindow

        if self.dataset_window is None:
            self.dataset_window = DatasetWindow(self.worker, self)
            self.dataset_window.sig_open_example.connect(self.state.set_texts)
        self.dataset_window.show()
        self.dataset_window.raise_()

    def open_monitor(self) -> None:
        """The training monitor; its "Open in explorer" loads checkpoints into this window."""
        if self.monitor is None:
            from explorer.monitor_window import MonitorWindow

            self.jobs = self.jobs or JobManager.from_settings(self.settings)
            self.monitor = MonitorWindow(self.jobs, self.settings)
            self.monitor.sig_open_checkpoint.connect(self._open_from_monitor)
            self.monitor.sig_scrub_run.connect(self.scrub_run)
        self.monitor.show()
        self.monitor.raise_()

    def quit_app(self) -> None:
        quit_application()

    def _open_from_monitor(self, path: str) -> None:
        self.load_model(path)
        self.raise_()

    # ----- model loading -----

    def start(self, model: str | None = None) -> None:
        """Start the worker and load ``model``, the last one used, or the bundled default."""
        self.worker.start()
        model = model or self.settings.value("last_model") or (
            str(default_model_dir()) if default_model_dir() else None)
        if model:
            self.load_model(str(model))

    def load_model(self, path: str) -> None:
        """Load ``path``; it arrives with the analysis of the current texts, painted once."""
        self.state.set_busy(True)
        self.model_bar.show_loading(path)
        self.statusBar().showMessage(f"loading {path} …")
        self._debounce.stop()  # the load analyses the texts itself
        self.worker.submit(LoadModel(path, self._next_analysis(), self.precision))

    def choose_model(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a model folder (HF layout)",
                                                start_path(self.settings))
        if path:
            remember(self.settings, path)
            self.load_model(path)

    def open_bundled_model(self) -> None:
        self.load_model(str(default_model_dir()))

    def _on_model_loaded(self, loaded: ModelLoaded) -> None:
        self.state.set_busy(False)
        info = loaded.model
        self._model_path = info.path
        self.error_banner.setVisible(False)
        self.state.set_model(info, loaded.analysis)
        self._show_precision(info.precision)
        self.statusBar().showMessage(f"loaded {info.name}", 3000)
        recent = [info.path] + [p for p in self._recent() if p != info.path]
        self.settings.setValue("recent_models", recent[:MAX_RECENT])
        self.settings.setValue("last_model", info.path)
        self._refresh_recent()
        if loaded.analysis is not None:
            self._analysis_shown(loaded.seq, loaded.analysis)
        else:
            self._update_title()
            self._show_error(loaded.analysis_error or "the first analysis failed")

    def _on_model_failed(self, path: str, message: str) -> None:
        self.state.set_busy(False)
        kept = f" — keeping {Path(self._model_path).name}" if self._model_path else ""
        self.statusBar().showMessage(f"could not open {path}", 5000)  # no more "loading …"
        self._show_error(f"Could not open {path}: {message}{kept}")

    def _recent(self) -> list[str]:
        value = self.settings.value("recent_models") or []
        return [value] if isinstance(value, str) else list(value)

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for path in self._recent():
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.load_model(p))
        self.recent_menu.setEnabled(bool(self._recent()))

    # ----- analysis -----

    def _next_analysis(self) -> Analyze:
        self._seq += 1
        return Analyze(self._seq, self.state.text_a, self.state.text_b,
                       head_mask=self.state.ablated_heads)

    def _request_analysis(self) -> None:
        if self.state.model is None:
            return
        self.worker.submit(self._next_analysis())
        self.compare.prefetch(self.state.text_a, self.state.text_b)

    def _on_analysis(self, seq: int, analysis: Analysis) -> None:
        if seq != self._seq:
            return  # a newer request is on its way: drop the stale result
        self.state.set_analysis(analysis)
        self._analysis_shown(seq, analysis)

    def _ablation_changed(self) -> None:
        """Heads switched off or on: fill-mask and NSP again at once, not after the debounce."""
        self._debounce.stop()
        self._request_analysis()

    def _shown_heads(self) -> tuple:
        """The heads ablated in the analysis on screen: the lab explains that model."""
        return self.state.ablation.heads if self.state.ablation is not None else ()

    def toggle_ablate_mode(self) -> None:
        self.state.set_ablate_mode(not self.state.ablate_mode)

    def reset_ablation(self) -> None:
        self.state.set_ablated_heads(())

    def _on_ablated(self, seq: int, ablated) -> None:
        if seq != self._seq:
            return
        self.state.set_analysis(ablated.analysis, ablated)
        self._analysis_shown(seq, ablated.analysis)

    def _analysis_shown(self, seq: int, analysis: Analysis) -> None:
        """Title, status bar and the applied signal, for an analysis now in the state."""
        self.error_banner.setVisible(False)  # an earlier failure is no longer current
        self._update_title()
        notices = list(analysis.warnings)
        self.status_timing.setText(f"{analysis.elapsed_ms:.0f} ms · {analysis.num_tokens} tokens"
                                   f" · {analysis.device}")
        self.statusBar().showMessage("; ".join(notices))
        self.sig_analysis_applied.emit(seq)
        self._request_maps()
        self._request_salience()

    def _update_title(self) -> None:
        """'BERT Explorer — model', with the task of a fine-tuned model: '— classify: 4 labels'."""
        parts = ["BERT Explorer"]
        if self.state.model is not None:
            parts.append(self.state.model.name)
            task = self.state.analysis.task if self.state.analysis is not None else None
            if task is not None and self.task_panel.kind is not None:
                parts.append(task_summary(task))
        self.setWindowTitle(" — ".join(parts))

    # ----- lab: maps of the chosen method, salience (after the plain analysis) -----

    def _texts_edited(self, *_texts) -> None:
        self._debounce.start()
        if self._salience_run is not None:  # its result would explain the old text
            self._salience_run = None
            self.worker.cancel_salience()
            self.state.report_salience_status("cancelled: the text changed")

    def _request_maps(self) -> None:
        """The chosen method's maps for the analysis on screen, unless raw or already there."""
        analysis, method = self.state.analysis, self.state.view_method
        if analysis is None or method == "raw" or method in self.state.lab_maps:
            return
        self.worker.submit(ExplainMaps(self._seq, analysis.text_a, analysis.text_b or "", method,
                                       head_mask=self._shown_heads()))

    def _on_maps(self, seq: int, maps) -> None:
        analysis = self.state.analysis
        if seq == self._seq and analysis is not None and list(maps.tokens) == analysis.tokens:
            self.state.add_lab_maps(maps)

    def _request_salience(self) -> None:
        settings, analysis = self.state.salience_settings, self.state.analysis
        if settings is None or analysis is None:
            if self._salience_run is not None:
                self._salience_run = None
                self.worker.cancel_salience()
            return
        self._salience_runs += 1
        self._salience_run = self._salience_runs
        self.state.set_salience(None)
        self.state.report_salience_status("explaining…")
        # The bar shows from the start (0 of the steps): a run is often one batch.
        self.state.report_salience_progress(0, settings.steps if settings.method == "ig" else 0)
        self.worker.submit(ExplainSalience(self._seq, self._salience_run, analysis.text_a,
                                           analysis.text_b or "", settings,
                                           head_mask=self._shown_heads()))

    def _on_salience(self, run: int, salience) -> None:
        if run == self._salience_run:
            self._salience_run = None
            self.state.set_salience(salience)

    def _on_salience_failed(self, run: int, message: str) -> None:
        if run == self._salience_run:
            self._salience_run = None
            self.state.report_salience_status(f"cannot explain: {message}")

    def _on_salience_progress(self, run: int, done: int, total: int) -> None:
        if run == self._salience_run:
            self.state.report_salience_progress(done, total)

    def _on_salience_cancelled(self, _run: int) -> None:
        self.state.report_salience_progress(0, 0)  # hides the bar

    def _on_analysis_failed(self, seq: int, message: str) -> None:
        if seq == self._seq:
            self._show_error(message)

    def _show_error(self, message: str) -> None:
        self.error_banner.setText(message)
        self.error_banner.setVisible(True)

    # ----- compare mode -----

    def choose_compare_model(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Compare with a model folder (HF layout)")
        if path:
            self.compare.open(path)

    def close_compare(self) -> None:
        self.compare.close()

    def scrub_run(self, run_dir: str) -> None:
        """Step through ``run_dir``'s checkpoints with a slider (the monitor's "Scrub")."""
        self.scrub_dock.setVisible(True)
        self.scrub.scrub(run_dir)
        if not self.scrub.active:
            self.scrub_dock.setVisible(False)
        self.raise_()

    # ----- export -----

    def export_png(self) -> None:
        """The view as PNG; the file type chosen sets the scale (2x first)."""
        filters = {f"PNG at {k}x (*.png)": k for k in sorted(PNG_SCALES, key=lambda k: k != 2)}
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export view", start_path(self.settings, f"{self.state.view_method}.png"),
            ";;".join(filters))
        if path:
            remember(self.settings, path)
            try:
                self.attention.export_png(path, filters.get(chosen, 2))
            except OSError as exc:
                self._show_error(f"Could not export: {exc}")
                return
            self.statusBar().showMessage(f"saved to {path}", 8000)

    def export_analysis(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export analysis",
                                              start_path(self.settings, "analysis.npz"),
                                              "NumPy (*.npz);;JSON (*.json)")
        if path:
            remember(self.settings, path)
            try:
                self.attention.export_analysis(path)
            except (OSError, ValueError) as exc:
                self._show_error(f"Could not export: {exc}")
                return
            self.statusBar().showMessage(f"saved to {path}", 8000)

    def export_salience_png(self) -> None:
        if self.state.salience is None:
            self.statusBar().showMessage("No salience to export: click Explain first", 5000)
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Export salience chips",
            start_path(self.settings, f"salience-{self.state.salience.method}.png"), "PNG (*.png)")
        if path:
            remember(self.settings, path)
            try:
                self.save_salience_png(path)
            except OSError as exc:
                self._show_error(f"Could not export: {exc}")
                return
            self.statusBar().showMessage(f"saved to {path}", 8000)

    def save_salience_png(self, path) -> Path:
        """The token strip (chips in the salience colours and the legend) as PNG."""
        path = Path(path)
        if not self.token_strip.grab().save(str(path), "PNG"):
            raise OSError(f"could not write {path}")
        return path

    def export_lab(self) -> None:
        method = self.state.view_method
        path, _ = QFileDialog.getSaveFileName(self, "Export lab result",
                                              start_path(self.settings, f"{method}.npz"),
                                              "NumPy (*.npz);;JSON (*.json)")
        if path:
            remember(self.settings, path)
            try:
                self.save_lab(path)
            except (OSError, ValueError) as exc:
                self._show_error(f"Could not export: {exc}")
                return
            self.statusBar().showMessage(f"saved to {path}", 8000)

    def save_lab(self, path) -> Path:
        """Write the chosen method's maps and the salience shown, with what made them."""
        analysis, model = self.state.analysis, self.state.model
        if analysis is None:
            raise ValueError("there is no analysis to export yet")
        salience = self.state.salience
        settings = {"device": model.device if model else None, **view_record(self.state)}
        if salience is not None:
            settings.update(salience_method=salience.method, target=salience.target,
                            **salience.settings)
        return save_lab_result(path, text_a=analysis.text_a, text_b=analysis.text_b,
                               maps=self.state.lab_maps.get(self.state.view_method),
                               salience=salience, model_path=model.path if model else None,
                               model_name=model.name if model else None, settings=settings)

    # ----- help -----

    def show_about(self) -> None:
        self._show_help("about", AboutDialog(self.state.model, self))

    def show_shortcuts(self) -> None:
        self._show_help("keyboard_shortcuts", ShortcutsDialog(self))

    def open_readme(self) -> None:
        self._show_help("open_readme", readme_viewer(self),
                        "The README is not installed with this copy of BERT Explorer")

    def open_model_card(self) -> None:
        model = self.state.model
        self._show_help("open_model_card", model_card_viewer(model, self),
                        "No model is loaded" if model is None else
                        f"{model.name} has no model card (MODEL_CARD.md or README.md)")

    def _show_help(self, name: str, window: QWidget | None, missing: str = "") -> None:
        """Show ``window`` in place of the one this action opened before; ``missing`` goes to
        the status bar when there is nothing to show."""
        if window is None:
            self.statusBar().showMessage(missing, 5000)
            return
        old = self.help_windows.pop(name, None)
        if old is not None:
            old.close()
            old.deleteLater()
        self.help_windows[name] = window
        window.show()
        window.raise_()

    # ----- persistence and shutdown -----

    def _restore_settings(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
            keep_on_screen(self)
        else:
            fit_to_screen(self, FIRST_SIZE)
        splitter = self.settings.value("splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)
        self.state.set_texts(str(self.settings.value("text_a") or "The cat sat on the [MASK]."),
                             str(self.settings.value("text_b") or "It was very happy."))

    def closeEvent(self, event) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("splitter", self.splitter.saveState())
        self.settings.setValue("text_a", self.state.text_a)
        self.settings.setValue("text_b", self.state.text_b)
        self._debounce.stop()
        self._settle.stop()
        self.worker.stop()
        self.compare.stop()
        self.scrub.stop()
        super().closeEvent(event)
