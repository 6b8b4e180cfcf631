"""The monitor's runs table, as TensorBoard's HParams view: one row per run with its display
name and tags (editable: kept in the app's data), state, progress, best and final metrics and
every setting, the settings that differ between the listed runs first and highlighted.
Sortable by any column (numbers as numbers), filtered by the monitor's name/tag filter.

Rows come from :class:`engine.runs.RunSummary` (the same summaries ``bert-engine runs`` prints),
updated in place: a refresh of 200 runs repaints only what the view shows.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (QAbstractTableModel, QItemSelectionModel, QModelIndex,
                            QSortFilterProxyModel, Qt, Signal)
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from engine.runs import RunSummary, differing_settings, setting_text
from explorer.run_labels import RunLabels, parse_tags, run_filter
from explorer.widgets.job_table import STATE_COLOURS

FIXED = ("Name", "Tags", "Kind", "State", "Step", "Best", "Final loss", "Final held-out")
EDITABLE = ("Name", "Tags")
DIFFERS_BACKGROUND = QColor("#fff4ce")
SORT_ROLE = Qt.UserRole + 1
RESIZE_ROWS = 20  # column widths fit the first rows' contents (all 200 rows cost seconds)


ANSWERED_ROLES = frozenset((Qt.DisplayRole, Qt.EditRole, SORT_ROLE, Qt.ForegroundRole,
                            Qt.BackgroundRole, Qt.FontRole, Qt.ToolTipRole, Qt.TextAlignmentRole))


class RunsModel(QAbstractTableModel):
    def __init__(self, labels: RunLabels, parent=None):
        super().__init__(parent)
        self.labels = labels
        self.summaries: list[RunSummary] = []
        self.settings_columns: list[str] = []
        self.differing: set[str] = set()
        self._bold = QFont()  # made here: a QFont needs the application to exist
        self._bold.setBold(True)

    # ----- contents -----

    def set_summaries(self, summaries: list[RunSummary]) -> None:
        """Rows in place when the runs and the columns stay the same, else a reset."""
        differing = differing_settings([s.settings for s in summaries])
        rest = [n for n in dict.fromkeys(n for s in summaries for n in s.settings)
                if n not in differing]
        columns = differing + rest
        if ([s.path for s in summaries] == [s.path for s in self.summaries]
                and columns == self.settings_columns and set(differing) == self.differing):
            self.summaries = summaries
            if summaries:
                self.dataChanged.emit(self.index(0, 0),
                                      self.index(len(summaries) - 1, self.columnCount() - 1))
            return
        self.beginResetModel()
        self.summaries, self.settings_columns, self.differing = summaries, columns, set(differing)
        self.endResetModel()

    def column_name(self, column: int) -> str:
        return FIXED[column] if column < len(FIXED) else self.settings_columns[column - len(FIXED)]

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.summaries)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(FIXED) + len(self.settings_columns)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation != Qt.Horizontal:
            return None
        name = self.column_name(section)
        if role == Qt.DisplayRole:
            return name
        if role == Qt.BackgroundRole and name in self.differing:
            return DIFFERS_BACKGROUND
        if role == Qt.ToolTipRole and section >= len(FIXED):
            return (f"{name}: differs between the listed runs" if name in self.differing
                    else f"{name}: the same in every listed run")
        return None

    def data(self, index: QModelIndex, role=Qt.DisplayRole):
        if not index.isValid() or role not in ANSWERED_ROLES:  # sizing asks many roles
            return None
        summary, name = self.summaries[index.row()], self.column_name(index.column())
        if role in (Qt.DisplayRole, Qt.EditRole):
            return self._text(summary, name)
        if role == SORT_ROLE:
            return self._sort_key(summary, name)
        if role == Qt.ForegroundRole and name == "State":
            return QColor(STATE_COLOURS.get(summary.state, "#333"))
        if role == Qt.BackgroundRole and name in self.differing:
            return DIFFERS_BACKGROUND
        if role == Qt.FontRole and name in self.differing:  # shows on a selected row too
            return self._bold
        if role == Qt.ToolTipRole:
            if name == "Name":
                return str(summary.path)
            if name == "State":
                return summary.error or summary.settings_error
        if role == Qt.TextAlignmentRole and name not in ("Name", "Tags", "Kind", "State"):
            return int(Qt.AlignRight | Qt.AlignVCenter)
        return None

    def _values(self, summary: RunSummary, name: str) -> Any:
        """The cell's value as it sorts: a number where the column holds numbers."""
        if name == "Name":
            return self.labels.name(summary.path)
        if name == "Tags":
            return ", ".join(self.labels.tags(summary.path))
        if name == "Kind":
            return summary.task or summary.kind
        if name == "State":
            return summary.state
        if name == "Step":
            return summary.step
        if name == "Best":
            return summary.best.value if summary.best else None
        if name == "Final loss":
            return summary.final.get("train", {}).get("loss")
        if name == "Final held-out":
            return summary.final.get("heldout", {}).get(summary.main_metric)
        return summary.settings.get(name)

    def _text(self, summary: RunSummary, name: str) -> str:
        value = self._values(summary, name)
        if name in EDITABLE:
            return value
        if name == "Step":
            return f"{summary.step:,}/{summary.max_steps:,}" if summary.max_steps else \
                f"{summary.step:,}"
        if name == "Best":
            best = summary.best
            return f"{best.metric} {best.value:.4f} @ {best.step:,}" if best else "–"
        if name == "Final held-out":
            return f"{summary.main_metric} {value:.4f}" if value is not None else "–"
        if name == "Final loss":
            return f"{value:.4f}" if value is not None else "–"
        return setting_text(value)

    def _sort_key(self, summary: RunSummary, name: str):
        value = self._values(summary, name)
        if isinstance(value, bool) or value is None or not isinstance(value, (int, float)):
            return (1, "" if value is None else setting_text(value).lower(), 0.0)
        return (0, "", float(value))  # numbers first, by value; then text; missing last

    # ----- editing: a display name and tags, in the app's data -----

    def flags(self, index: QModelIndex):
        base = super().flags(index)
        if index.isValid() and self.column_name(index.column()) in EDITABLE:
            return base | Qt.ItemIsEditable
        return base

    def setData(self, index: QModelIndex, value, role=Qt.EditRole) -> bool:
        if role != Qt.EditRole or not index.isValid():
            return False
        path, name = self.summaries[index.row()].path, self.column_name(index.column())
        if name == "Name":
            self.labels.set_name(path, str(value))
        elif name == "Tags":
            self.labels.set_tags(path, parse_tags(str(value)))
        else:
            return False
        self.dataChanged.emit(index, index)
        return True


class _RunsFilter(QSortFilterProxyModel):
    def __init__(self, model: RunsModel):
        super().__init__()
        self.setSourceModel(model)
        self.setSortRole(SORT_ROLE)
        self.matches = run_filter("")

    def filterAcceptsRow(self, row: int, parent: QModelIndex) -> bool:
        model = self.sourceModel()
        path = model.summaries[row].path
        return self.matches(path.name, model.labels.name(path), model.labels.tags(path))

    def lessThan(self, left: QModelIndex, right: QModelIndex) -> bool:
        return left.data(SORT_ROLE) < right.data(SORT_ROLE)


class RunsTable(QTableView):
    # Run folder paths (str) of the selected rows, in view order. Also sent while the model
    # filters or resets (a hidden row leaves the selection): a slot that changes the model
    # must run later, not inside that.
    sig_selection = Signal(list)

    def __init__(self, labels: RunLabels, parent=None):
        super().__init__(parent)
        self.runs = RunsModel(labels, self)
        self.proxy = _RunsFilter(self.runs)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.sortByColumn(-1, Qt.AscendingOrder)  # the runs root's order until a header click
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.DoubleClicked | QAbstractItemView.EditKeyPressed)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
        self.horizontalHeader().setHighlightSections(False)
        self.horizontalHeader().setResizeContentsPrecision(RESIZE_ROWS)
        self.setWordWrap(False)
        self._selected: list[str] = []
        self._filter = ""
        self.runs.modelReset.connect(self._after_reset)
        self.selectionModel().selectionChanged.connect(self._on_selection)

    def set_summaries(self, summaries: list[RunSummary]) -> None:
        self.runs.set_summaries(summaries)

    def set_filter(self, text: str) -> None:
        if text == self._filter:
            return
        self._filter = text
        if hasattr(self.proxy, "beginFilterChange"):  # Qt >= 6.10 (invalidate* deprecated)
            self.proxy.beginFilterChange()
            self.proxy.matches = run_filter(text)
            self.proxy.endFilterChange()
        else:
            self.proxy.matches = run_filter(text)
            self.proxy.invalidateRowsFilter()

    def selected_paths(self) -> list[str]:
        rows = sorted({i.row() for i in self.selectionModel().selectedRows()})
        return [str(self.runs.summaries[self.proxy.mapToSource(self.proxy.index(r, 0)).row()]
                    .path) for r in rows]

    def select_paths(self, paths: list[str]) -> None:
        selection = self.selectionModel()
        selection.clearSelection()
        for row, summary in enumerate(self.runs.summaries):
            if str(summary.path) in paths:
                index = self.proxy.mapFromSource(self.runs.index(row, 0))
                if index.isValid():
                    selection.select(index, QItemSelectionModel.Select | QItemSelectionModel.Rows)

    def visible_paths(self) -> list[str]:
        """The rows the filter lets through, in view order."""
        return [str(self.runs.summaries[self.proxy.mapToSource(self.proxy.index(r, 0)).row()]
                    .path) for r in range(self.proxy.rowCount())]

    def cell_text(self, path: str, column: str) -> str:
        row = next(i for i, s in enumerate(self.runs.summaries) if str(s.path) == path)
        return self.runs.data(self.runs.index(row, self._column(column)))

    def column_names(self) -> list[str]:
        return [self.runs.column_name(c) for c in range(self.runs.columnCount())]

    def _column(self, name: str) -> int:
        return self.column_names().index(name)

    def _after_reset(self) -> None:
        """Selection survives a reset (a new run, a changed column); widths fit the contents."""
        self.resizeColumnsToContents()
        for column in range(self.runs.columnCount()):
            self.setColumnWidth(column, min(self.columnWidth(column), 260))
        self.select_paths(self._selected)

    def _on_selection(self, *_args) -> None:
        paths = self.selected_paths()
        if paths != self._selected:
            self._selected = paths
            self.sig_selection.emit(paths)
