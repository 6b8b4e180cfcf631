"""The fine-tuning data as the job will read it: the first parsed rows, the counts and the label
set, or the readers' problems (file and line) in red."""

from __future__ import annotations

import html

from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from engine.finetune.tables import listing
from explorer.finetune_form import PREVIEW_ROWS, Check

ERROR_STYLE = "color:#b3261e"
SHORT_COLUMNS = ("label", "answer")


class FinetunePreview(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.NoSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        row = self.table.verticalHeader().defaultSectionSize()
        self.table.horizontalHeader().setFixedHeight(row)  # so the rows fit the table exactly
        self.table.setFixedHeight(row * (PREVIEW_ROWS + 1) + 2 * self.table.frameWidth())
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.labels = QLabel()
        self.labels.setWordWrap(True)
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet(ERROR_STYLE)
        self.problems.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addWidget(self.summary)
        layout.addWidget(self.labels)
        layout.addWidget(self.problems)
        layout.addStretch(1)  # spare height goes below the texts, not between them
        self.show_check(None)

    def show_checking(self) -> None:
        self.summary.setText("Reading the data…")
        self.summary.setVisible(True)

    def show_check(self, result: Check | None) -> None:
        """A finished check; None: nothing chosen yet."""
        shown = result is not None and not result.problems
        headers, rows = (result.headers, result.rows) if shown else ((), [])
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setRowCount(len(rows))
        self.table.setHorizontalHeaderLabels(list(headers))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(r, c, item)
        header = self.table.horizontalHeader()
        for c, name in enumerate(headers):  # texts share the width; labels take what they need
            header.setSectionResizeMode(c, QHeaderView.ResizeToContents if name in SHORT_COLUMNS
                                        else QHeaderView.Stretch)
        self.summary.setText(result.summary if shown and rows else
                             "Choose the data to see its first rows here.")
        self.summary.setVisible(result is None or not result.problems)
        labels = result.labels if shown else None
        self.labels.setText(f"<b>Labels ({len(labels)}):</b> {html.escape(listing(labels))}"
                            if labels else "")
        self.labels.setVisible(bool(labels))

    def show_problems(self, problems: list[str]) -> None:
        self.problems.setText("\n".join(f"• {p}" for p in problems))
        self.problems.setVisible(bool(problems))
