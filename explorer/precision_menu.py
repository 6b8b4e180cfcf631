"""View ▸ Precision, as a mixin of ``MainWindow``: fp32, bf16 or auto as radio items, the
current one in the status bar ("precision: auto (bf16)" once the model says what auto became
here), remembered in the settings. Choosing one reloads the open model in the inference worker
(``LoadModel.precision``); no torch here: ``auto`` is resolved in the worker's thread and comes
back in ``ModelSummary.precision``."""

from __future__ import annotations

from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QLabel, QMenu

from explorer.actions import ACTIONS, PRECISION_ACTIONS

PRECISION_KEY = "inference/precision"
CHOICES = tuple(ACTIONS[name].args[0] for name in PRECISION_ACTIONS)  # fp32, bf16, auto
DEFAULT = "fp32"  # a user reads probabilities


def precision_label(setting: str, resolved: str | None) -> str:
    """The status bar's text: the setting, and for auto what it resolved to once known."""
    if setting == "auto" and resolved:
        return f"precision: auto ({resolved})"
    return f"precision: {setting}"


class PrecisionActions:
    @property
    def precision(self) -> str:
        """The chosen setting (fp32 | bf16 | auto), as remembered."""
        value = str(self.settings.value(PRECISION_KEY) or DEFAULT)
        return value if value in CHOICES else DEFAULT

    def _build_precision(self, menu: QMenu) -> None:
        sub = menu.addMenu("&Precision")
        self.precision_group = QActionGroup(self)  # exclusive: radio items
        for name in PRECISION_ACTIONS:
            action = self._action(name)
            action.setCheckable(True)
            action.setChecked(ACTIONS[name].args[0] == self.precision)
            self.precision_group.addAction(action)
            sub.addAction(action)
        self.status_precision = QLabel(precision_label(self.precision, None))
        self.status_precision.setToolTip("View ▸ Precision: what the model runs in")
        self.statusBar().addPermanentWidget(self.status_precision)

    def set_precision(self, setting: str) -> None:
        """Remember ``setting`` and reload the open model in it."""
        if setting == self.precision:
            return
        self.settings.setValue(PRECISION_KEY, setting)
        self.status_precision.setText(precision_label(setting, None))
        if self._model_path:
            self.load_model(self._model_path)

    def _show_precision(self, resolved: str) -> None:
        """After a load: the setting and what the worker resolved it to."""
        self.status_precision.setText(precision_label(self.precision, resolved))
