"""Painting a fine-tuned model's marks on the token chips: a small tag pill under each chip
(coloured per entity type, 'B·PER' / 'I·PER'), and the QA answer span's fill and border."""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPen

from explorer.widgets.task_common import (ANSWER, OUTSIDE_TEXT, WEAK_ANSWER, ChipMarks,
                                          EntityColour, compact_tag, entity_colour)

TAG_GAP = 2        # between a chip and its tag pill
_TAG_PAD_X = 4


def tag_font(base: QFont) -> QFont:
    font = QFont(base)
    if base.pointSizeF() > 0:  # -1 for a font sized in pixels
        font.setPointSizeF(max(base.pointSizeF() * 0.78, 6.0))
    else:
        font.setPixelSize(max(round(base.pixelSize() * 0.78), 8))
    font.setBold(True)
    return font


def tag_band(font: QFont) -> int:
    """Height the tag pills (in ``font``, a ``tag_font``) add under a line of chips."""
    return QFontMetrics(font).height() + TAG_GAP + 1


def tag_widths(font: QFont, tags: list[str | None]) -> list[int]:
    """[T] the width of each tag pill in ``font`` (0 at [CLS]/[SEP])."""
    fm = QFontMetrics(font)
    known = {tag: fm.horizontalAdvance(compact_tag(tag)) + 2 * _TAG_PAD_X
             for tag in set(tags) if tag is not None}
    return [known.get(tag, 0) for tag in tags]


def paint_tag(painter: QPainter, chip: QRect, tag: str | None, labels: list[str],
              font: QFont) -> None:
    """The tag pill under ``chip``: the entity colour, or a faint 'O' outside any entity."""
    if tag is None:
        return
    fm = QFontMetrics(font)
    band = QRectF(chip.left(), chip.bottom() + 1 + TAG_GAP, chip.width(), fm.height())
    painter.setFont(font)
    colour = entity_colour(tag, labels)
    if colour is None:
        painter.setPen(OUTSIDE_TEXT)
        painter.drawText(band, Qt.AlignmentFlag.AlignCenter, compact_tag(tag))
        return
    width = min(fm.horizontalAdvance(compact_tag(tag)) + 2 * _TAG_PAD_X, chip.width())
    pill = QRectF(band.center().x() - width / 2, band.top(), width, band.height())
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour.border)
    painter.drawRoundedRect(pill, 3, 3)
    painter.setPen(colour.background)
    painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, compact_tag(tag))
    painter.setBrush(Qt.BrushStyle.NoBrush)


def answer_colour(marks: ChipMarks, index: int) -> EntityColour | None:
    """The fill and border of chip ``index`` when it lies in the QA answer span, else None."""
    if marks.answer is None or not marks.answer[0] <= index <= marks.answer[1]:
        return None
    return ANSWER if marks.answer_wins else WEAK_ANSWER


def answer_pen(colour: EntityColour) -> QPen:
    return QPen(colour.border, 2.0)
