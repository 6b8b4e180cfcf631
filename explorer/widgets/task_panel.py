"""The task panel: what a fine-tuned model says about the current input, live.

Built from the state like the other widgets; shows ``state.analysis.task`` (classes, a value,
tags or a QA answer) in the view for its kind, and hides itself for models without a task head.
"""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget

from engine.results import Analysis
from explorer.state import ExplorerState
from explorer.widgets.task_common import KIND_NAMES, task_summary
from explorer.widgets.task_views import AnswerView, ClassView, TagView, ValueView


class TaskPanel(QWidget):
    """Public: ``title``, ``summary`` (QLabel), ``stack`` and its views ``classes``
    (ClassView), ``value`` (ValueView), ``tags`` (TagView), ``answer`` (AnswerView); ``kind``
    is the task on screen (None when hidden)."""

    def __init__(self, state: ExplorerState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.kind: str | None = None
        self.title = QLabel()
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.summary = QLabel()
        self.summary.setStyleSheet("QLabel { color: #666; }")
        self.classes, self.value, self.tags, self.answer = (ClassView(), ValueView(), TagView(),
                                                            AnswerView())
        self.stack = QStackedWidget()
        for view in (self.classes, self.value, self.tags, self.answer):
            self.stack.addWidget(view)
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self.title)
        header.addStretch(1)
        header.addWidget(self.summary)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.stack, 1)

        state.sig_analysis_changed.connect(self._show_analysis)
        state.sig_model_changed.connect(lambda _model: self._show_analysis(self.state.analysis))
        self._show_analysis(state.analysis)

    def _show_analysis(self, analysis: Analysis | None) -> None:
        task = analysis.task if analysis is not None else None
        self.kind = None if task is None else task.kind
        self.setVisible(task is not None)
        if task is None:
            return
        self.title.setText(f"Task: {KIND_NAMES.get(task.kind, task.kind)}")
        self.summary.setText(task_summary(task))
        if task.kind in ("classify", "multi_label"):
            self.classes.show_task(task)
            view = self.classes
        elif task.kind == "regress":
            self.value.show_task(task)
            view = self.value
        elif task.kind == "tag":
            self.tags.show_task(task, analysis)
            view = self.tags
        else:
            self.answer.show_task(task)
            view = self.answer
        self.stack.setCurrentWidget(view)
