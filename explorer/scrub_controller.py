"""Scrub checkpoints: the monitor names a run; the main window's model becomes the checkpoint
the slider is on (every view follows), while a worker of its own reads the run's checkpoint
series on the current texts (``engine.lab.series``: per-head divergence from the previous and
the first checkpoint), point by point, cached in the app's folder so the second pass is instant.
A step shown before on the same texts comes back at once from the analyses kept here (the
checkpoint still loads behind it, so that the next edit is analysed by the right model)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from engine.runlog import RunFolder, RunFolderError
from engine.runs_root import config_dir
from explorer.inference_worker import InferenceWorker, ReadSeries
from explorer.state import ExplorerState
from explorer.widgets.scrub_panel import ScrubPanel


SHOWN_BYTES = 256 * 2**20  # of attention maps kept for steps shown before
# A step shown from what was kept loads its checkpoint once the slider rests this long, so
# that dragging over steps seen before loads nothing (and no load slows the repaint).
CONFIRM_MS = 300


def series_cache_dir() -> Path:
    """The app's own cache of checkpoint series (never a run folder: the GUI only reads runs)."""
    return config_dir() / "series-cache"


class ScrubController(QObject):
    sig_load_checkpoint = Signal(str)  # a checkpoint folder for the main window to open
    sig_series_ready = Signal(object)  # CheckpointSeries of the current run and texts, whole

    def __init__(self, state: ExplorerState, panel: ScrubPanel, device: str | None = None,
                 parent=None):
        super().__init__(parent)
        self.state = state
        self.panel = panel
        self.device = device
        self.cache_dir = series_cache_dir()
        self.worker: InferenceWorker | None = None
        self.run: RunFolder | None = None
        self.paths: dict[int, Path] = {}
        self.series = None              # the newest whole series read
        self._request = 0               # the series request whose points are wanted
        self._texts: tuple[str, str] | None = None
        self.shown: dict[tuple[int, str, str], tuple] = {}  # (step, texts) -> (model, analysis)
        self._confirm = QTimer(self, singleShot=True, interval=CONFIRM_MS)
        self._confirm.timeout.connect(self._load_step)
        panel.sig_step_chosen.connect(self._on_step)
        panel.sig_close.connect(self.close)
        state.sig_analysis_changed.connect(lambda _analysis: self._on_shown())
        state.sig_model_changed.connect(lambda _model: self._on_shown())
        state.sig_texts_changed.connect(lambda *_texts: self._flush())

    @property
    def active(self) -> bool:
        return self.run is not None

    def scrub(self, run_dir: str) -> None:
        """Scrub ``run_dir``'s kept checkpoints, starting at the newest."""
        try:
            run = RunFolder(run_dir)
            kept = run.checkpoints()
        except (RunFolderError, OSError) as exc:
            self.state.report_error(f"Cannot scrub {run_dir}: {exc}")
            return
        if not kept:
            self.state.report_error(f"{run_dir} has no complete checkpoint to scrub yet")
            return
        self.run, self.paths = run, dict(kept)
        self.series, self.shown = None, {}
        self.panel.set_run(run.path.name, [step for step, _ in kept], kept[-1][0])
        self.panel.show()
        self._read_series()
        self._on_step(kept[-1][0])

    def close(self) -> None:
        self._flush()  # the model shown is the one the worker will analyse with
        self.run, self.paths, self.series, self._texts = None, {}, None, None
        self.shown = {}
        self._request += 1  # points still coming are not wanted
        self.panel.hide()

    def stop(self) -> None:
        self._confirm.stop()
        if self.worker is not None and self.worker.isRunning():
            self.worker.stop()

    def _on_step(self, step: int) -> None:
        if not self.active:
            return
        held = self.shown.get((step, self.state.text_a, self.state.text_b))
        if held is None:
            self._confirm.stop()
            self._load_step()
        else:
            if self.state.model is not held[0]:
                self.state.set_model(*held)  # painted now; the load confirms it soon
            self._confirm.start()

    def _flush(self) -> None:
        """Load the step shown from what was kept now, not after the pause (an edit is about
        to be analysed, or scrubbing ends)."""
        if self._confirm.isActive():
            self._confirm.stop()
            self._load_step()

    def _load_step(self) -> None:
        if self.active and self.panel.step in self.paths:
            self.sig_load_checkpoint.emit(str(self.paths[self.panel.step]))

    def _on_shown(self) -> None:
        """Keep what the main window shows of a step; read the series again for a new text."""
        model, analysis = self.state.model, self.state.analysis
        if not self.active or model is None or analysis is None:
            return
        step = next((s for s, path in self.paths.items() if str(path) == model.path), None)
        if step is not None:
            self.shown.pop((step, analysis.text_a, analysis.text_b or ""), None)
            self.shown[(step, analysis.text_a, analysis.text_b or "")] = (model, analysis)
            while len(self.shown) > 1 and sum(a.attentions.nbytes for _, a in
                                              self.shown.values()) > SHOWN_BYTES:
                self.shown.pop(next(iter(self.shown)))  # the oldest first
        self._follow_texts()

    def _follow_texts(self) -> None:
        """A new text: the series is read again for it (the cache keys points by input)."""
        analysis = self.state.analysis
        if self.active and analysis is not None and \
                (analysis.text_a, analysis.text_b or "") != self._texts:
            self._read_series()

    def _read_series(self) -> None:
        if self.worker is None:
            self.worker = InferenceWorker(self.device, self)
            self.worker.sig_series_point.connect(self._on_point)
            self.worker.sig_series_ready.connect(self._on_series)
            self.worker.sig_series_failed.connect(self._on_failed)
            self.worker.start()
        self._request += 1
        self._texts = (self.state.text_a, self.state.text_b)
        self.series = None
        self.panel.clear_points()
        self.panel.set_status("reading the series…")
        self.worker.submit(ReadSeries(self._request, str(self.run.path), *self._texts,
                                      str(self.cache_dir)))

    def _on_point(self, request: int, point, done: int, total: int) -> None:
        if request == self._request:
            self.panel.add_point(point, done, total)

    def _on_series(self, request: int, series) -> None:
        if request != self._request:
            return
        self.series = series
        cached = len(series.points) - series.computed
        self.panel.set_status(f"{len(series.points)} checkpoints: {series.computed} read now, "
                              f"{cached} from the cache")
        self.sig_series_ready.emit(series)

    def _on_failed(self, request: int, message: str) -> None:
        if request == self._request:
            self.panel.set_status(f"cannot read the series: {message}")
            self.state.report_error(message)
