"""The monitor's job list: one row per run folder, updated in place from ``JobView`` objects.
The Best column (a fine-tuning run's best held-out score so far) shows only when a fine-tuning
run is listed."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from explorer.jobs import JobView

COLUMNS = ("Name", "Kind", "State", "Step", "Elapsed", "ETA", "Seq/s", "Best")
STATE_COLOURS = {"running": "#1a7f37", "starting": "#1a7f37", "paused": "#9a6700",
                 "finished": "#0969da", "failed": "#cf222e", "cancelled": "#6e7781"}


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def best_text(job: JobView, with_metric: bool = True) -> str:
    """``accuracy 0.8750 @ 400``: the best evaluation so far; "" when there is none (yet)."""
    best = job.best or {}
    value, step = best.get("value"), best.get("step")
    if not isinstance(value, (int, float)) or not isinstance(step, int):
        return ""
    metric = f"{best.get('metric') or job.main_metric} " if with_metric else ""
    return f"{metric}{value:.4f} @ {step:,}"


def row_texts(job: JobView) -> tuple[str, ...]:
    step = f"{job.step:,}/{job.max_steps:,}" if job.max_steps else f"{job.step:,}"
    rate = f"{job.seq_per_s:.1f}" if job.seq_per_s is not None else "–"
    kind = job.task or job.kind  # a fine-tuning run: its task (classify, regress, tag, qa)
    best = best_text(job, with_metric=False) or ("–" if job.kind == "finetune" else "")
    return (job.name, kind, job.state, step, format_duration(job.elapsed_s),
            format_duration(job.eta_s), rate, best)


class JobTable(QTableWidget):
    sig_selection = Signal(list)  # run folder paths (str) of the selected rows, in row order

    def __init__(self, parent=None):
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.setAlternatingRowColors(True)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        self.setColumnHidden(COLUMNS.index("Best"), True)
        self._paths: list[str] = []
        self.itemSelectionChanged.connect(lambda: self.sig_selection.emit(self.selected_paths()))

    def selected_paths(self) -> list[str]:
        rows = sorted({i.row() for i in self.selectedIndexes()})
        return [self._paths[r] for r in rows if r < len(self._paths)]

    def select_path(self, path: str) -> None:
        if path in self._paths:
            self.selectRow(self._paths.index(path))

    def show_only(self, paths: set[str]) -> None:
        """Hide the rows of other runs (the monitor's filter)."""
        for row, path in enumerate(self._paths):
            self.setRowHidden(row, path not in paths)

    def state_of(self, path: str) -> str | None:
        if path not in self._paths:
            return None
        return self.item(self._paths.index(path), COLUMNS.index("State")).text()

    def set_jobs(self, jobs: list[JobView], names: dict[str, str] | None = None) -> None:
        """Update rows in place (selection and scroll position survive), adding new runs.
        ``names``: display names by run path (the folder's name where none is given)."""
        selected = set(self.selected_paths())
        paths = [str(j.run.path) for j in jobs]
        if paths != self._paths:
            self.blockSignals(True)
            self.setRowCount(len(jobs))
            self._paths = paths
            self.clearSelection()
            self.blockSignals(False)
        self.setColumnHidden(COLUMNS.index("Best"), not any(j.kind == "finetune" for j in jobs))
        for row, job in enumerate(jobs):
            texts = list(row_texts(job))
            texts[0] = (names or {}).get(str(job.run.path), texts[0])
            for col, text in enumerate(texts):
                item = self.item(row, col)
                if item is None:
                    item = QTableWidgetItem()
                    if col >= COLUMNS.index("Step"):
                        item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                    self.setItem(row, col, item)
                if item.text() != text:
                    item.setText(text)
            self.item(row, 0).setToolTip(str(job.run.path))
            self.item(row, COLUMNS.index("Kind")).setToolTip(
                f"fine-tuning: {job.task}" if job.task else "")
            self.item(row, COLUMNS.index("Best")).setToolTip(
                f"best held-out {best_text(job)} (step)" if job.best else "")
            state = self.item(row, COLUMNS.index("State"))
            state.setForeground(QColor(STATE_COLOURS.get(job.state, "#333")))
            state.setToolTip(job.error or "")
        if selected and set(self.selected_paths()) != selected:
            self.select_paths(selected)

    def select_paths(self, paths) -> None:
        """Select exactly these runs' rows (no selection signal)."""
        self.blockSignals(True)
        model = self.selectionModel()
        model.clearSelection()
        for row, path in enumerate(self._paths):
            if path in paths:
                model.select(self.model().index(row, 0),
                             QItemSelectionModel.Select | QItemSelectionModel.Rows)
        self.blockSignals(False)
