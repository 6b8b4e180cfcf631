"""The attention views' token axes: token strings at cell centres, thinned so they never
overlap, the bottom one optionally rotated, each label measured once per font."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QGraphicsItem

from explorer.widgets.text_widths import WidthCache

MAX_LABEL_CHARS = 12  # longer tokens are elided on the axes


def tick_font(size: int = 8) -> QFont:
    font = QFont()
    font.setPointSize(size)
    return font


def elide(token: str, limit: int = MAX_LABEL_CHARS) -> str:
    return token if len(token) <= limit else token[: limit - 1] + "…"


class TokenAxis(pg.AxisItem):
    """An axis labelled with token strings at cell centres (cell i spans [i, i+1]).

    Labels are thinned to every k-th token so they never overlap (k follows the zoom); the
    bottom axis can draw them rotated by 90 degrees.
    """

    def __init__(self, orientation: str, rotate: bool = False, **kwargs):
        super().__init__(orientation, **kwargs)
        self._tokens: list[str] = []
        self._widths = WidthCache(lambda label: self._metrics.horizontalAdvance(label))
        self._widest = 10                  # the widest label's advance
        self._rotate = rotate and orientation in ("bottom", "top")
        self._font = tick_font()
        self._metrics = QFontMetrics(self._font)
        self.setStyle(tickFont=self._font, hideOverlappingLabels=False, tickLength=-3,
                      autoExpandTextSpace=False)
        self.enableAutoSIPrefix(False)
        # Its labels are drawn into a pixmap once per change (tokens, range, size), not laid
        # out again on every paint of the view.
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def set_font(self, font: QFont) -> None:
        self._font = font
        self._metrics = QFontMetrics(font)
        self._widths.clear()
        self.setStyle(tickFont=font)
        self.set_tokens(self._tokens)

    def set_tokens(self, tokens: list[str]) -> None:
        self._tokens = [elide(t) for t in tokens]
        self._widest = max(self._widths.widths(self._tokens), default=10)  # advances, per font
        widest = self._widest
        label = self.label.boundingRect().height() * 0.8 if self.label.isVisible() else 0
        if self.orientation in ("left", "right"):
            self.setWidth(int(widest + 10 + label))
        elif self._rotate:
            self.setHeight(int(widest + 10 + label))
        self.picture = None
        self.update()

    def _step(self, pixels_per_token: float) -> int:
        if self.orientation in ("left", "right") or self._rotate:
            need = self._metrics.height() + 1
        else:
            need = self._widest + 6
        return max(1, math.ceil(need / max(pixels_per_token, 1e-6)))

    def token_ticks(self, lo: float, hi: float, size: float) -> tuple[int, list[float]]:
        n = len(self._tokens)
        lo, hi = min(lo, hi), max(lo, hi)  # an inverted view (rows top-down) passes (hi, lo)
        if n == 0 or size <= 0 or hi <= lo:
            return 1, []
        step = self._step(size / (hi - lo))
        first = max(0, math.ceil((lo - 0.5) / step) * step)
        return step, [i + 0.5 for i in range(first, n, step) if i + 0.5 <= hi]

    def tickValues(self, minVal, maxVal, size):
        step, values = self.token_ticks(minVal, maxVal, size)
        return [(step, values)] if values else []

    def tickStrings(self, values, scale, spacing):
        n = len(self._tokens)
        return [self._tokens[int(v)] if 0 <= int(v) < n else "" for v in values]

    def generateDrawSpecs(self, p):
        if not (self._rotate or self.orientation == "left"):
            return super().generateDrawSpecs(p)
        # The base measures every label with QPainter.boundingRect on every new range or
        # token list; ours come from the advances measured once per label (``set_tokens``).
        shows = self.style["showValues"]
        self.style["showValues"] = False
        try:
            specs = super().generateDrawSpecs(p)
        finally:
            self.style["showValues"] = shows
        if specs is None or not shows:
            return specs
        axis_spec, tick_specs, _ = specs
        make = self._rotated_text_specs if self._rotate else self._left_text_specs
        return axis_spec, tick_specs, make(self.mapRectFromParent(self.geometry()))

    def _rotated_text_specs(self, bounds: QRectF) -> list:
        lo, hi = self.range
        if hi <= lo:
            return []
        scale = bounds.width() / (hi - lo)
        _, values = self.token_ticks(lo, hi, bounds.width())
        offset = max(0, self.style["tickLength"]) + self.style["tickTextOffset"][1]
        length = bounds.height() - offset
        line = self._metrics.height()
        text_specs = []
        for v, text in zip(values, self.tickStrings(values, 1, 1)):
            x = (v - lo) * scale
            if -1 <= x <= bounds.width() + 1:
                # rect in the rotated frame; drawPicture turns it into a vertical label at x
                text_specs.append((QRectF(x, offset, length, line), Qt.AlignmentFlag.AlignRight
                                   | Qt.AlignmentFlag.AlignVCenter, text))
        return text_specs

    def _left_text_specs(self, bounds: QRectF) -> list:
        """The base class's left-axis labels (right-aligned at the ticks, vertically centred,
        kept only inside the axis's bounding rect), with the widths from ``set_tokens``."""
        first, last = self.range
        span = last - first
        if span == 0:
            return []
        scale = -bounds.height() / span  # the base's mapping of values to local y
        shift = first * scale - bounds.height()
        top, bottom = sorted((first * scale - shift, last * scale - shift))
        _, values = self.token_ticks(first, last, bounds.height())
        right = bounds.right() - max(0, self.style["tickLength"]) - self.style["tickTextOffset"][0]
        height = self._metrics.height() * 0.8  # the base's "boundingRect is a bit too large"
        keep = self.boundingRect()
        flags = (Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                 | Qt.TextFlag.TextDontClip)
        text_specs = []
        for v, text in zip(values, self.tickStrings(values, 1, 1)):
            y = v * scale - shift
            width = self._widths.get(text, 0)
            rect = QRectF(right - width, y - height / 2, width, height)
            if top <= y <= bottom and keep & rect == rect:
                text_specs.append((rect, flags, text))
        return text_specs

    def drawPicture(self, p, axisSpec, tickSpecs, textSpecs):
        if not self._rotate:
            super().drawPicture(p, axisSpec, tickSpecs, textSpecs)
            return
        super().drawPicture(p, axisSpec, tickSpecs, [])
        p.setFont(self._font)
        p.setPen(self.textPen())
        for rect, flags, text in textSpecs:
            p.save()
            p.translate(rect.x(), rect.y())
            p.rotate(-90)
            p.drawText(QRectF(-rect.width(), -rect.height() / 2, rect.width(), rect.height()),
                       int(flags), text)
            p.restore()
