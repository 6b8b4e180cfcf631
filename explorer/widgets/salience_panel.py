"""The salience panel: which input tokens made the model predict what it did.

Choose the method (gradient norm, gradient x input, integrated gradients), the target (typed in
``--target`` form, or set by an "explain" button in the predictions) and, for integrated
gradients, steps, baseline and integration rule; "Explain" starts it. Once started it reruns in
the worker after every new analysis until "Clear". The chips of the token strip take the
colours; this panel lists the scores, the target's value, and for integrated gradients the
convergence delta, with a warning when it is over ``DELTA_WARNING`` of what the scores split.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QLineEdit, QProgressBar,
                               QPushButton, QSpinBox, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from engine.results import IG_BASELINES, IG_RULES, SALIENCE_METHODS
from explorer.state import ExplorerState, SalienceSettings

METHOD_NAMES = {"grad": "gradient", "grad-input": "gradient × input",
                "ig": "integrated gradients"}
DELTA_WARNING = 0.05  # |delta| / |F(x) - F(baseline)| above this: the path needs more steps
MAX_STEPS = 1024
WARNING_STYLE = "QLabel { color: #8a1c12; font-weight: bold; }"


def _combo(items: dict[str, str], names: dict[str, str] | None = None) -> QComboBox:
    """A combo over ``items`` (key -> meaning): the meaning is each item's tooltip."""
    combo = QComboBox()
    for key, meaning in items.items():
        combo.addItem((names or {}).get(key, key), key)
        combo.setItemData(combo.count() - 1, meaning, Qt.ItemDataRole.ToolTipRole)
    return combo


def describe(salience) -> tuple[str, bool]:
    """The result line under the controls, and whether it carries the convergence warning."""
    line = f"{salience.target_label}: {salience.target_value:.4f}"
    if salience.delta is None:
        return line, False
    relative = salience.relative_delta
    warn = relative is None or relative > DELTA_WARNING
    line += (f" · baseline {salience.baseline_value:.4f} · delta {salience.delta:+.4f}"
             f" ({100 * relative:.1f}% of the gap)")
    if warn:
        line += f" — over {DELTA_WARNING:.0%}: raise the steps"
    return line, warn


class SaliencePanel(QWidget):
    """Controls, progress, result line and score table for ``state.salience``.

    Public: ``method_combo``, ``target_edit``, ``steps_spin``, ``baseline_combo``,
    ``rule_combo``, ``explain_button``, ``clear_button``, ``progress``, ``result_label``,
    ``status_label``, ``table`` (token, score per row), and ``settings()``.
    """

    def __init__(self, state: ExplorerState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        title = QLabel("Salience")
        font = title.font()
        font.setBold(True)
        title.setFont(font)
        self.method_combo = _combo(SALIENCE_METHODS, METHOD_NAMES)
        self.target_edit = QLineEdit()
        self.target_edit.setPlaceholderText("target: the top [MASK] candidate")
        self.target_edit.setToolTip("mask:K, mask:K:TOKEN, mask:K:TOKEN,TOKEN2 (why TOKEN rather "
                                    "than TOKEN2), nsp, class:LABEL, start, end; empty: the "
                                    "first [MASK]'s top candidate, else the model's task, else NSP")
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(2, MAX_STEPS)
        self.steps_spin.setPrefix("steps ")
        self.steps_spin.setToolTip("integrated gradients: path points (more: a smaller delta)")
        self.baseline_combo = _combo(IG_BASELINES)
        self.baseline_combo.setToolTip("integrated gradients: the baseline input")
        self.rule_combo = _combo(IG_RULES)
        self.rule_combo.setToolTip("integrated gradients: the integration rule")
        self.explain_button = QPushButton("Explain")
        self.explain_button.setToolTip("Which input tokens made the model predict the target; "
                                       "reruns after each edit until Clear")
        self.clear_button = QPushButton("Clear")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("%v / %m path points")
        self.progress.hide()
        self.status_label = QLabel("")
        self.status_label.setObjectName("salience_status")
        self.status_label.setWordWrap(True)
        self.result_label = QLabel("")
        self.result_label.setObjectName("salience_result")
        self.result_label.setWordWrap(True)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["token", "score"])
        self.table.verticalHeader().setDefaultSectionSize(18)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setMaximumHeight(120)

        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        for widget in (title, self.method_combo, self.target_edit):
            controls.addWidget(widget, 1 if widget is self.target_edit else 0)
        path = QHBoxLayout()
        path.setContentsMargins(0, 0, 0, 0)
        for widget in (self.steps_spin, self.baseline_combo, self.rule_combo):
            path.addWidget(widget)
        path.addStretch(1)
        path.addWidget(self.explain_button)
        path.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(3)
        layout.addLayout(controls)
        layout.addLayout(path)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        layout.addWidget(self.result_label)
        layout.addWidget(self.table)

        self.explain_button.clicked.connect(self._explain)
        self.clear_button.clicked.connect(self._clear)
        for combo in (self.method_combo, self.baseline_combo, self.rule_combo):
            combo.currentIndexChanged.connect(self._controls_changed)
        self.steps_spin.valueChanged.connect(self._controls_changed)
        self.target_edit.editingFinished.connect(self._controls_changed)
        state.sig_salience_settings_changed.connect(self._sync_controls)
        state.sig_salience_changed.connect(self._show_salience)
        state.sig_salience_progress.connect(self._show_progress)
        state.sig_salience_status.connect(self.status_label.setText)
        self._sync_controls(state.salience_settings or SalienceSettings())
        self.clear_button.setEnabled(state.salience_settings is not None)
        self._show_salience(state.salience)

    # ----- controls <-> state -----

    def settings(self) -> SalienceSettings:
        """The settings the controls show."""
        target = self.target_edit.text().strip()
        return SalienceSettings(self.method_combo.currentData(), target or None,
                                self.steps_spin.value(), self.baseline_combo.currentData(),
                                self.rule_combo.currentData())

    def _sync_controls(self, settings: SalienceSettings | None) -> None:
        """Show ``settings``; None (off) leaves the controls as the user set them."""
        self.clear_button.setEnabled(settings is not None)
        if settings is None:
            return
        widgets = (self.method_combo, self.target_edit, self.steps_spin, self.baseline_combo,
                   self.rule_combo)
        blockers = [QSignalBlocker(w) for w in widgets]
        self.method_combo.setCurrentIndex(self.method_combo.findData(settings.method))
        self.target_edit.setText(settings.target or "")
        self.steps_spin.setValue(settings.steps)
        self.baseline_combo.setCurrentIndex(self.baseline_combo.findData(settings.baseline))
        self.rule_combo.setCurrentIndex(self.rule_combo.findData(settings.rule))
        del blockers
        self._enable_ig_controls()

    def _enable_ig_controls(self) -> None:
        ig = self.method_combo.currentData() == "ig"
        for widget in (self.steps_spin, self.baseline_combo, self.rule_combo):
            widget.setEnabled(ig)

    def _explain(self) -> None:
        self.state.set_salience_settings(self.settings())

    def explain_target(self, target: str) -> None:
        """Explain ``target`` (``--target`` form) with the method and settings shown."""
        self.target_edit.setText(target)
        self._explain()

    def _controls_changed(self, *_args) -> None:
        self._enable_ig_controls()
        if self.state.salience_settings is not None:  # live: a change reruns it
            self.state.set_salience_settings(self.settings())

    def _clear(self) -> None:
        self.state.set_salience_settings(None)
        self.state.set_salience(None)
        self.status_label.setText("")

    # ----- results -----

    def _show_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setVisible(done < total)

    def _show_salience(self, salience) -> None:
        self.progress.hide()
        self.table.setRowCount(0)
        self.table.setVisible(salience is not None)
        if salience is None:
            self.result_label.setText("")
            self.result_label.setStyleSheet("")
            return
        line, warn = describe(salience)
        self.result_label.setText(line)
        self.result_label.setStyleSheet(WARNING_STYLE if warn else "")
        self.status_label.setText(f"{METHOD_NAMES[salience.method]}: chips coloured by score")
        self.table.setRowCount(len(salience.tokens))
        for row, (token, score) in enumerate(zip(salience.tokens, salience.scores)):
            self.table.setItem(row, 0, QTableWidgetItem(token))
            item = QTableWidgetItem(f"{float(score):+.4f}")
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, 1, item)
