"""Colours of per-token salience scores (the token chips) and their legend.

Signed scores (gradient x input, integrated gradients) use a diverging map, blue for a token
that lowers the target, red for one that raises it, white at zero; the gradient norm (never
negative) uses a sequential one. Both are symmetric in the largest |score|, so the strongest
token is fully coloured and zero is always white.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QLinearGradient, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

# ColorBrewer RdBu ends and a purple ramp: readable with the common colour-vision deficiencies.
NEGATIVE, ZERO, POSITIVE = QColor("#2166ac"), QColor("#f7f7f7"), QColor("#b2182b")
UNSIGNED_HIGH = QColor("#6a3d9a")


def is_signed(salience) -> bool:
    """The gradient norm is the one method whose scores are never negative."""
    return salience.method != "grad"


def score_scale(scores: np.ndarray) -> float:
    """The |score| that gets the full colour."""
    top = float(np.abs(scores).max()) if len(scores) else 0.0
    return top if top > 0 else 1.0


def _mix(low: QColor, high: QColor, t: float) -> QColor:
    t = min(max(t, 0.0), 1.0)
    return QColor.fromRgbF(*(a + (b - a) * t for a, b in zip(low.getRgbF()[:3],
                                                              high.getRgbF()[:3])))


def score_colours(salience) -> list[QColor]:
    """One fill per token of ``salience``."""
    scale = score_scale(salience.scores)
    if not is_signed(salience):
        return [_mix(ZERO, UNSIGNED_HIGH, float(v) / scale) for v in salience.scores]
    return [_mix(ZERO, POSITIVE if v >= 0 else NEGATIVE, abs(float(v)) / scale)
            for v in salience.scores]


def text_colour(fill: QColor) -> QColor:
    """Black on light fills, white on dark ones."""
    luminance = 0.2126 * fill.redF() + 0.7152 * fill.greenF() + 0.0722 * fill.blueF()
    return QColor("#111111") if luminance > 0.5 else QColor("white")


class ScoreLegend(QWidget):
    """The colour ramp of the shown salience with its ends and zero labelled."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.salience = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_salience(self, salience) -> None:
        self.salience = salience
        self.setVisible(salience is not None)
        self.update()

    def labels(self) -> tuple[str, str, str]:
        """(left end, middle, right end) as written under the ramp."""
        scale = score_scale(self.salience.scores)
        if is_signed(self.salience):
            return f"−{scale:.3g} lowers", "0", f"+{scale:.3g} raises the target"
        return "0", "", f"{scale:.3g} (gradient norm)"

    def sizeHint(self) -> QSize:
        return QSize(300, 2 * QFontMetrics(self.font()).height() + 8)

    def paintEvent(self, event) -> None:
        if self.salience is None:
            return
        painter = QPainter(self)
        fm = QFontMetrics(self.font())
        ramp = QRectF(4, 2, self.width() - 8, fm.height() - 2)
        gradient = QLinearGradient(ramp.topLeft(), ramp.topRight())
        if is_signed(self.salience):
            gradient.setColorAt(0.0, NEGATIVE)
            gradient.setColorAt(0.5, ZERO)
            gradient.setColorAt(1.0, POSITIVE)
        else:
            gradient.setColorAt(0.0, ZERO)
            gradient.setColorAt(1.0, UNSIGNED_HIGH)
        painter.fillRect(ramp, gradient)
        painter.setPen(self.palette().color(QPalette.ColorRole.Mid))
        painter.drawRect(ramp)
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        text = QRectF(4, ramp.bottom() + 2, self.width() - 8, fm.height() + 2)
        left, middle, right = self.labels()
        painter.drawText(text, Qt.AlignmentFlag.AlignLeft, left)
        painter.drawText(text, Qt.AlignmentFlag.AlignHCenter, middle)
        painter.drawText(text, Qt.AlignmentFlag.AlignRight, right)
        painter.end()
