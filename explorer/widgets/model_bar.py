"""The model bar: which model is loaded, its size, what it can do, the task of a fine-tuned
model ("classify: 4 labels"), and a busy indicator."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from engine.results import Analysis, ModelSummary
from explorer.help_dialogs import model_card_summary
from explorer.state import ExplorerState
from explorer.widgets.task_common import TASK_CAPABILITIES, task_summary

CAPABILITY_LABELS = {"mlm": "fill-mask", "nsp": "next sentence", "attention": "attention",
                     "classify": "classification", "tag": "token tags", "qa": "question answering"}


def describe(model: ModelSummary) -> str:
    caps = ", ".join(CAPABILITY_LABELS.get(c, c) for c in sorted(model.capabilities))
    return (f"<b>{model.name}</b> &nbsp; {model.layers} layers · {model.heads} heads · "
            f"hidden {model.hidden} · {model.parameters / 1e6:.1f}M params · "
            f"vocab {model.tokenizer_vocab} &nbsp; <i>{caps}</i> &nbsp; on {model.device}")


class ModelBar(QWidget):
    def __init__(self, state: ExplorerState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.label = QLabel("No model loaded — File ▸ Open model folder…")
        self.label.setTextFormat(self.label.textFormat().RichText)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # indeterminate
        self.busy.setMaximumWidth(120)
        self.busy.setVisible(False)
        self.task_label = QLabel()
        self.task_label.setObjectName("task_label")
        self.task_label.setToolTip("the task this model was fine-tuned for")
        self.task_label.setStyleSheet("QLabel { background: #2f6f4f; color: white; "
                                      "border-radius: 4px; padding: 1px 8px; font-weight: bold; }")
        self.task_label.setVisible(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.task_label)
        layout.addWidget(self.busy)
        state.sig_model_changed.connect(self._on_model)
        state.sig_busy_changed.connect(self._on_busy)
        state.sig_analysis_changed.connect(self._on_analysis)

    def show_loading(self, path: str) -> None:
        """While a model loads: its folder, and the one it replaces if any."""
        kept = f" (showing {self.state.model.name} until then)" if self.state.model else ""
        self.label.setText(f"Loading <b>{html.escape(Path(path).name or path)}</b> …{kept}")
        self.label.setToolTip(path)

    def _on_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        if not busy:
            self._describe(self.state.model)  # a failed load: back to what is loaded

    def _describe(self, model: ModelSummary | None) -> None:
        self.label.setText(describe(model) if model is not None
                           else "No model loaded — File ▸ Open model folder…")

    def _on_model(self, model: ModelSummary | None) -> None:
        self._describe(model)
        if model is not None:
            summary = model_card_summary(model.path)
            self.label.setToolTip("\n".join([model.path, *([summary] if summary else []),
                                              *model.warnings]))
        self._on_analysis(self.state.analysis)

    def _on_analysis(self, analysis: Analysis | None) -> None:
        """The task as the latest analysis read it; gone at once for a model without one."""
        task = analysis.task if analysis is not None else None
        model = self.state.model
        shown = task is not None and model is not None and bool(
            model.capabilities & TASK_CAPABILITIES)
        self.task_label.setText(task_summary(task) if shown else "")
        self.task_label.setVisible(shown)
