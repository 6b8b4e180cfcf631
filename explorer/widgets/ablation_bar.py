"""The ablation controls above the attention views: the Ablate toggle (while on, a click on a
cell of the model view or the head lab switches that head off or back on), "Ablate all but
these" (the heads crossed out are kept, every other head goes), "Reset", and which heads are off.
Everything goes through the state (``ablated_heads``, ``ablate_mode``)."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QToolButton, QWidget

from engine.lab.head_names import all_heads_except, format_heads

SHOWN_NAMES = 8  # more heads off than this: the count and the first few


def ablated_text(heads) -> str:
    if not heads:
        return "no head ablated"
    names = format_heads(heads[:SHOWN_NAMES]).replace(",", ", ")
    more = f" … (+{len(heads) - SHOWN_NAMES})" if len(heads) > SHOWN_NAMES else ""
    return f"{len(heads)} head{'s' if len(heads) != 1 else ''} off: {names}{more}"


class AblationBar(QWidget):
    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self.toggle = QToolButton()
        self.toggle.setText("Ablate")
        self.toggle.setCheckable(True)
        self.toggle.setToolTip("While on, clicking a head in the Model tab or the Head lab "
                               "switches it off (crossed out) or back on; fill-mask and NSP "
                               "recompute at once")
        self.all_but = QPushButton("Ablate all but these")
        self.all_but.setToolTip("Keep only the crossed-out heads and ablate every other head")
        self.reset = QPushButton("Reset")
        self.reset.setToolTip("Switch every head back on: the original predictions")
        self.summary = QLabel()
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.toggle, self.all_but, self.reset):
            layout.addWidget(widget)
        layout.addWidget(self.summary, 1)
        self.toggle.toggled.connect(state.set_ablate_mode)
        self.all_but.clicked.connect(self.ablate_all_but)
        self.reset.clicked.connect(lambda: state.set_ablated_heads(()))
        state.sig_ablated_heads_changed.connect(lambda _heads: self._sync())
        state.sig_ablate_mode_changed.connect(lambda _on: self._sync())
        state.sig_model_changed.connect(lambda _model: self._sync())
        self._sync()

    def ablate_all_but(self) -> None:
        model = self.state.model
        if model is not None and self.state.ablated_heads:
            self.state.set_ablated_heads(
                all_heads_except(self.state.ablated_heads, model.layers, model.heads))

    def _sync(self) -> None:
        heads = self.state.ablated_heads
        self.toggle.setChecked(self.state.ablate_mode)
        self.all_but.setEnabled(bool(heads))
        self.reset.setEnabled(bool(heads))
        self.summary.setText(ablated_text(heads))
        self.summary.setToolTip(format_heads(heads))
