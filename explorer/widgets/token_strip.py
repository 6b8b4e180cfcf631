"""The token strip: one chip per token of the latest analysis, wrapped like text.

All chips are painted by one widget (``TokenCanvas``), so 512 tokens lay out and paint in a few
milliseconds; there are no per-chip child widgets to create or reuse. Click a chip to select
it as the query token (click again to clear); double-click to replace its whole word in the
text by [MASK], and double-click that [MASK] to bring the word back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (QColor, QFont, QFontMetrics, QFontMetricsF, QPainter, QPainterPath,
                           QPalette, QPen, QStaticText)
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QScrollArea, QSizePolicy, QToolTip,
                               QVBoxLayout, QWidget)

from explorer.state import ExplorerState
from explorer.text_edits import (MASK, MaskMemory, segment_text, truncation_notice, word_span)
from explorer.widgets.salience_colours import ScoreLegend, score_colours, text_colour
from explorer.widgets.task_chips import (answer_colour, answer_pen, paint_tag, tag_band,
                                         tag_font, tag_widths)
from explorer.widgets.task_common import NO_MARKS, ChipMarks, chip_marks, task_tooltip_lines
from explorer.widgets.text_widths import WidthCache

CLS, SEP, UNK = "[CLS]", "[SEP]", "[UNK]"
SEGMENT_NAMES = {0: "A", 1: "B"}


@dataclass(frozen=True)
class ChipStyle:
    background: QColor
    border: QColor
    text: QColor
    bold: bool = False
    dashed: bool = False


# Blue / orange (Okabe-Ito family): told apart with every common colour-vision deficiency.
STYLES = {
    "A": ChipStyle(QColor("#dbe8f6"), QColor("#3b78b8"), QColor("#10253d")),
    "B": ChipStyle(QColor("#fde0c4"), QColor("#c9660f"), QColor("#3d1f04")),
    "special": ChipStyle(QColor("#f0f0f0"), QColor("#8a8a8a"), QColor("#505050")),
    "mask": ChipStyle(QColor("#ffc531"), QColor("#a66f00"), QColor("#2e1f00"), bold=True),
    "unk": ChipStyle(QColor("#fdecec"), QColor("#c62828"), QColor("#a31515"), dashed=True),
}
SELECTED = {"A": QColor("#9fc4ec"), "B": QColor("#f8b67a"), "special": QColor("#d2d2d2"),
            "mask": QColor("#ffab00"), "unk": QColor("#f7c1c1")}
SELECTED_BORDER = QColor("#111111")
SEGMENT_STRIPE = {0: STYLES["A"].border, 1: STYLES["B"].border}

_PAD_X, _PAD_Y = 6, 3
_GAP, _LINE_GAP, _MARGIN = 5, 5, 4
_RADIUS = 5.0


def chip_kind(analysis, index: int) -> str:
    """'special' ([CLS]/[SEP]), 'mask', 'unk', 'A' or 'B'."""
    token = analysis.tokens[index]
    if bool(analysis.special_mask[index]) or analysis.sequence_ids[index] is None:
        return "special"
    if token == MASK:
        return "mask"
    if token == UNK:
        return "unk"
    return SEGMENT_NAMES.get(analysis.sequence_ids[index], "A")


class TokenCanvas(QWidget):
    """Paints the chips and turns mouse gestures into chip indices."""

    sig_clicked = Signal(int)
    sig_double_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, False)
        self.tokens: list[str] = []
        self.kinds: list[str] = []
        self.segments: list[int | None] = []
        self.joined: list[bool] = []     # True: a ## piece glued to the chip before it
        self.tooltips: Sequence[str] = []
        self.rects: list[QRect] = []
        self.marks: ChipMarks = NO_MARKS  # a fine-tuned model's tags or answer span
        self.score_fills: list[QColor] | None = None  # salience colours, one per chip
        self.selected = -1
        self.hovered = -1
        self._widths: list[int] = []
        self._layout_width = -1
        self._content_height = 0
        self._bold = QFont(self.font())
        self._bold.setBold(True)
        self._tag_font = tag_font(self.font())
        self._width_cache = WidthCache(self._chip_width)  # (token, bold) -> chip width
        # (label, bold) -> its QStaticText, width and height: laid out once per token
        self._static_text: dict[tuple[str, bool], tuple[QStaticText, float, float]] = {}

    # ----- data -----

    def _chip_width(self, key: tuple[str, bool]) -> int:
        """A chip's width for (token, bold): its text's advance and the padding."""
        token, bold = key
        return QFontMetrics(self._bold if bold else self.font()).horizontalAdvance(token) + 2 * _PAD_X

    def set_tokens(self, tokens, kinds, segments, joined, tooltips,
                   marks: ChipMarks = NO_MARKS) -> None:
        self.tokens, self.kinds, self.segments = list(tokens), list(kinds), list(segments)
        self.joined, self.tooltips, self.marks = list(joined), tooltips, marks
        widths = self._width_cache.widths(
            [(token, kind == "mask") for token, kind in zip(self.tokens, self.kinds)])
        if marks.tags:  # a chip is at least as wide as its tag pill
            widths = [max(w, t) for w, t in zip(widths, tag_widths(self._tag_font, marks.tags))]
        self._widths = widths
        self.score_fills = None  # they were for the previous tokens
        self.hovered = -1
        self._relayout(force=True)
        self.update()

    def set_score_fills(self, fills: list[QColor] | None) -> None:
        self.score_fills = fills
        self.update()

    def set_selected(self, index: int) -> None:
        if index != self.selected:
            self.selected = index
            self.update()

    # ----- layout -----

    def chip_height(self) -> int:
        return QFontMetrics(self.font()).height() + 2 * _PAD_Y

    def line_pitch(self) -> int:
        """From one line of chips to the next, the tag pills under them included."""
        return (self.chip_height() + _LINE_GAP
                + (tag_band(self._tag_font) if self.marks.tags else 0))

    def _relayout(self, force: bool = False) -> None:
        width = max(self.width(), 120)
        if not force and width == self._layout_width:
            return
        self._layout_width = width
        height, pitch = self.chip_height(), self.line_pitch()
        right = width - _MARGIN
        x, y = _MARGIN, _MARGIN
        rects: list[QRect] = []
        n = len(self.tokens)
        i = 0
        while i < n:
            # A word: this chip and the ## pieces glued to it wrap together when they fit a line.
            j = i + 1
            while j < n and self.joined[j]:
                j += 1
            group = sum(self._widths[i:j])
            if x > _MARGIN and x + group > right and group <= right - _MARGIN:
                x, y = _MARGIN, y + pitch
            for k in range(i, j):
                w = self._widths[k]
                if x > _MARGIN and x + w > right:  # a word longer than a line breaks in pieces
                    x, y = _MARGIN, y + pitch
                rects.append(QRect(x, y, w, height))
                x += w
            x += _GAP
            i = j
        self.rects = rects
        last = y + pitch - _LINE_GAP  # the bottom of the last line, its tag pills included
        self._content_height = (last + _MARGIN) if rects else 2 * _MARGIN + height
        if self.minimumHeight() != self._content_height:  # the size hint follows it
            self.setMinimumHeight(self._content_height)
            self.updateGeometry()

    def sizeHint(self) -> QSize:
        return QSize(400, max(self._content_height, self.chip_height() + 2 * _MARGIN))

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._content_height

    def resizeEvent(self, event) -> None:
        self._relayout()
        super().resizeEvent(event)

    def index_at(self, pos: QPoint) -> int:
        for i, rect in enumerate(self.rects):
            if rect.contains(pos):
                return i
        return -1

    # ----- painting -----

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        exposed = event.rect()
        n = len(self.rects)
        for i, rect in enumerate(self.rects):
            if not rect.intersects(exposed):
                continue
            kind = self.kinds[i]
            style = STYLES[kind]
            # Pieces of one word share a border: square inner corners, no gap.
            left_round = not self.joined[i] or rect.left() != self.rects[i - 1].right() + 1
            right_round = not (i + 1 < n and self.joined[i + 1]
                               and self.rects[i + 1].left() == rect.right() + 1)
            shape = _chip_path(QRectF(rect).adjusted(0.5, 0.5, -0.5, -0.5), left_round, right_round)
            selected = i == self.selected
            answer = answer_colour(self.marks, i)
            scored = self.score_fills[i] if self.score_fills else None
            fill = (SELECTED[kind] if selected else answer.background if answer
                    else scored or style.background)
            if i == self.hovered and not selected:
                fill = fill.darker(108)
            painter.fillPath(shape, fill)
            pen = QPen(SELECTED_BORDER if selected else style.border, 2.2 if selected else 1.0)
            if answer is not None and not selected:
                pen = answer_pen(answer)
            elif style.dashed and not selected:
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawPath(shape)
            if not left_round:  # the join: a dotted seam instead of a second border
                painter.setPen(QPen(style.border, 1.0, Qt.PenStyle.DotLine))
                painter.drawLine(rect.left(), rect.top() + 3, rect.left(), rect.bottom() - 3)
            if kind in ("mask", "unk") and self.segments[i] in SEGMENT_STRIPE:
                # Which segment a [MASK]/[UNK] is in: a stripe in the segment colour.
                stripe = QRectF(rect.left() + 4, rect.bottom() - 2.5, rect.width() - 8, 2.5)
                painter.fillRect(stripe, SEGMENT_STRIPE[self.segments[i]])
            painter.setPen(text_colour(fill) if scored and not selected else style.text)
            painter.setFont(self._bold if style.bold or selected else self.font())
            text_rect = rect.adjusted(_PAD_X - 2, 0, -(_PAD_X - 2), 0)
            label = self.tokens[i]
            if selected and not style.bold:  # bold is wider: elide rather than clip
                label = QFontMetrics(self._bold).elidedText(label, Qt.TextElideMode.ElideRight,
                                                            text_rect.width() + 4)
            self._draw_centred(painter, text_rect, label, style.bold or selected)
            if self.marks.tags:
                paint_tag(painter, rect, self.marks.tags[i], self.marks.labels, self._tag_font)
        if not self.rects:
            painter.setPen(self.palette().color(self.foregroundRole()))
            painter.drawText(self.rect().adjusted(_MARGIN, 0, 0, 0),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                             "No tokens yet: type a sentence above.")
        painter.end()

    def _draw_centred(self, painter: QPainter, rect: QRect, label: str, bold: bool) -> None:
        """``label`` centred in ``rect`` in the painter's font, from a QStaticText laid out the
        first time that label is painted (chips repaint on hover, selection and every expose)."""
        key = (label, bold)
        cached = self._static_text.get(key)
        if cached is None:
            if len(self._static_text) > 50_000:
                self._static_text.clear()
            text = QStaticText(label)
            text.setTextFormat(Qt.TextFormat.PlainText)
            text.prepare(font=painter.font())
            metrics = QFontMetricsF(painter.font())  # as drawText centres: advance, line height
            cached = self._static_text[key] = text, metrics.horizontalAdvance(label), metrics.height()
        text, width, height = cached
        painter.drawStaticText(QPointF(rect.left() + (rect.width() - width) / 2,
                                       rect.top() + (rect.height() - height) / 2), text)

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.FontChange:
            self._static_text.clear()
        super().changeEvent(event)

    # ----- mouse -----

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            index = self.index_at(event.position().toPoint())
            if index >= 0:
                self.sig_clicked.emit(index)
                event.accept()
                return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            index = self.index_at(event.position().toPoint())
            if index >= 0:
                self.sig_double_clicked.emit(index)
                event.accept()
                return
        super().mouseDoubleClickEvent(event)

    def mouseMoveEvent(self, event) -> None:
        index = self.index_at(event.position().toPoint())
        if index != self.hovered:
            old, self.hovered = self.hovered, index
            for i in (old, index):
                if 0 <= i < len(self.rects):
                    self.update(self.rects[i].adjusted(-2, -2, 2, 2))
            self.setCursor(Qt.CursorShape.PointingHandCursor if index >= 0
                           else Qt.CursorShape.ArrowCursor)
        super().mouseMoveEvent(event)

    def leaveEvent(self, event) -> None:
        if self.hovered >= 0:
            self.hovered = -1
            self.update()
        super().leaveEvent(event)

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            index = self.index_at(event.pos())
            if index >= 0:
                QToolTip.showText(event.globalPos(), self.tooltips[index], self, self.rects[index])
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)


def _chip_path(rect: QRectF, left_round: bool, right_round: bool) -> QPainterPath:
    r = _RADIUS
    path = QPainterPath()
    left, right, top, bottom = rect.left(), rect.right(), rect.top(), rect.bottom()
    path.moveTo(left + (r if left_round else 0), top)
    if right_round:
        path.lineTo(right - r, top)
        path.quadTo(right, top, right, top + r)
        path.lineTo(right, bottom - r)
        path.quadTo(right, bottom, right - r, bottom)
    else:
        path.lineTo(right, top)
        path.lineTo(right, bottom)
    if left_round:
        path.lineTo(left + r, bottom)
        path.quadTo(left, bottom, left, bottom - r)
        path.lineTo(left, top + r)
        path.quadTo(left, top, left + r, top)
    else:
        path.lineTo(left, bottom)
        path.lineTo(left, top)
    path.closeSubpath()
    return path


class LazyTooltips(Sequence):
    """Each chip's tooltip (rich text), made the first time it is read (a hover) rather than
    for every token of every analysis."""

    def __init__(self, make: Callable[[int], str], count: int):
        self._make, self._count, self._made = make, count, {}

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(index)
        tip = self._made.get(index)
        if tip is None:
            tip = self._made[index] = self._make(index)
        return tip


def _swatch(style: ChipStyle, text: str, tooltip: str) -> QLabel:
    label = QLabel(text)
    label.setToolTip(tooltip)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    border = "dashed" if style.dashed else "solid"
    weight = "bold" if style.bold else "normal"
    label.setStyleSheet(f"QLabel {{ background: {style.background.name()}; color: {style.text.name()};"
                        f" border: 1px {border} {style.border.name()}; border-radius: 4px;"
                        f" padding: 0px 5px; font-weight: {weight}; }}")
    return label


class TokenStrip(QWidget):
    """Chips for ``state.analysis``; selection and masking go back to the state.

    Public: ``canvas`` (TokenCanvas: ``rects``, ``tokens``, ``kinds``, ``index_at``),
    ``notice`` (the truncation QLabel), ``count_label``, and the slots ``toggle_token(i)`` and
    ``mask_or_restore(i)``. Signals: ``canvas.sig_clicked(int)``, ``canvas.sig_double_clicked(int)``
    (chip index); the strip itself writes to the state.
    """

    def __init__(self, state: ExplorerState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.memory = MaskMemory()
        self._known = (state.text_a, state.text_b)  # the texts the mask memory has seen

        self.canvas = TokenCanvas()
        self.scroll = QScrollArea()
        self.scroll.setWidget(self.canvas)
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setFrameShape(QFrame.Shape.StyledPanel)
        self._fit_scroll()

        title = QLabel("Tokens")
        font = title.font()
        font.setBold(True)
        title.setFont(font)
        self.count_label = QLabel("")
        self.count_label.setObjectName("token_count")
        self.count_label.setMinimumWidth(
            QFontMetrics(self.count_label.font()).horizontalAdvance("512 tokens (A 999, B 999)"))
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.setSpacing(6)
        header.addWidget(title)
        header.addWidget(self.count_label)
        header.addStretch(1)
        # The swatches get a row of their own: beside the count they need ~600 px, more than
        # the left column has in a 1024 px window.
        legend = QHBoxLayout()
        legend.setContentsMargins(0, 0, 0, 0)
        legend.setSpacing(6)
        legend.addWidget(_swatch(STYLES["A"], "Sentence A", "tokens of sentence A"))
        legend.addWidget(_swatch(STYLES["B"], "Sentence B", "tokens of sentence B"))
        legend.addWidget(_swatch(STYLES["special"], "[CLS] [SEP]", "template tokens"))
        legend.addWidget(_swatch(STYLES["mask"], "[MASK]", "masked: see predictions"))
        legend.addWidget(_swatch(STYLES["unk"], "[UNK]", "not in the vocabulary"))
        legend.addStretch(1)

        self.notice = QLabel("")
        self.notice.setObjectName("truncation_notice")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("QLabel { background: #fff4ce; color: #5c4400; "
                                  "border: 1px solid #e0b100; border-radius: 4px; padding: 3px 6px; }")
        self.notice.hide()
        self.legend = ScoreLegend()
        self.legend.setObjectName("salience_legend")
        self.legend.hide()
        self._tooltips: Sequence[str] = []  # without the salience line
        hint = QLabel("Click a token to select it; double-click to mask its word "
                      "(double-click the [MASK] again to restore it).")
        hint.setObjectName("token_hint")
        hint.setWordWrap(True)
        _dim(hint)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addLayout(legend)
        layout.addWidget(self.notice)
        layout.addWidget(self.scroll, 1)
        layout.addWidget(self.legend)
        layout.addWidget(hint)

        self.canvas.sig_clicked.connect(self.toggle_token)
        self.canvas.sig_double_clicked.connect(self.mask_or_restore)
        state.sig_analysis_changed.connect(self._show_analysis)
        state.sig_selection_changed.connect(self._selection_changed)
        state.sig_texts_changed.connect(self._texts_changed)
        state.sig_model_changed.connect(lambda _model: self._show_analysis(self.state.analysis))
        state.sig_salience_changed.connect(self._show_salience)
        self._show_analysis(state.analysis)

    # ----- state -> view -----

    def _show_salience(self, salience) -> None:
        """Colour the chips by ``salience`` (None, or one for other tokens: plain chips)."""
        fits = salience is not None and list(salience.tokens) == self.canvas.tokens
        self.canvas.set_score_fills(score_colours(salience) if fits else None)
        self.legend.set_salience(salience if fits else None)
        tips = self._tooltips
        self.canvas.tooltips = LazyTooltips(
            lambda i: f"{tips[i]}<br>{salience.method} score: {salience.scores[i]:+.4f}",
            len(tips)) if fits else tips

    def _show_analysis(self, analysis) -> None:
        if analysis is None:
            self._tooltips = []
            self.canvas.set_tokens([], [], [], [], [])
            self.legend.set_salience(None)
            self._fit_scroll()
            self.count_label.setText("")
            self.notice.hide()
            return
        tokens = list(analysis.tokens)
        n = len(tokens)
        kinds = [chip_kind(analysis, i) for i in range(n)]
        segments = list(analysis.sequence_ids)
        joined = [i > 0 and tokens[i].startswith("##") and len(tokens[i]) > 2
                  and kinds[i] in ("A", "B") and segments[i] == segments[i - 1]
                  for i in range(n)]
        self._tooltips = LazyTooltips(lambda i: self._tooltip(analysis, i, kinds[i]), n)
        self.canvas.set_tokens(tokens, kinds, segments, joined, self._tooltips,
                               chip_marks(analysis))
        self._show_salience(self.state.salience)
        self._fit_scroll()
        self.canvas.set_selected(self.state.query_token)
        n_a = sum(1 for s in segments if s == 0)
        n_b = sum(1 for s in segments if s == 1)
        self.count_label.setText(f"{n} tokens (A {n_a}, B {n_b})" if analysis.text_b is not None
                                 and n_b else f"{n} tokens")
        text = truncation_notice(int(analysis.truncated_a), int(analysis.truncated_b),
                                 self._max_positions(analysis))
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def _fit_scroll(self) -> None:
        """One line of chips always in view; two when they carry tags."""
        lines = 2 if self.canvas.marks.tags else 1
        self.scroll.setMinimumHeight(lines * self.canvas.line_pitch() - _LINE_GAP + 4 * _MARGIN)

    def _max_positions(self, analysis) -> int:
        model = self.state.model
        if model is not None and getattr(model, "max_positions", 0):
            return int(model.max_positions)
        return analysis.num_tokens  # a truncated input fills every position

    def _tooltip(self, analysis, i: int, kind: str) -> str:
        segment = analysis.sequence_ids[i]
        seg = SEGMENT_NAMES.get(segment, "template") if segment is not None else \
            f"template ({SEGMENT_NAMES.get(int(analysis.token_type_ids[i]), '?')} type)"
        lines = [f"<b>{_html(analysis.tokens[i])}</b>",
                 f"position {i} &middot; id {int(analysis.token_ids[i])} &middot; segment {seg}"]
        if segment is not None:
            start, end = (int(v) for v in analysis.offsets[i])
            text = segment_text(analysis, segment)
            lines.append(f"text: “{_html(text[start:end])}” (chars {start}–{end})")
            lines.append("double-click: restore the word" if kind == "mask"
                         else "double-click: mask this word")
        return "<br>".join(lines + task_tooltip_lines(analysis, i))

    def _selection_changed(self, _layer: int, _head: int, query: int) -> None:
        self.canvas.set_selected(query)
        if 0 <= query < len(self.canvas.rects):
            rect = self.canvas.rects[query]
            self.scroll.ensureVisible(rect.center().x(), rect.center().y(), 10, rect.height())

    def _texts_changed(self, text_a: str, text_b: str) -> None:
        old_a, old_b = self._known
        self.memory.track(0, old_a, text_a)
        self.memory.track(1, old_b, text_b)
        self._known = (text_a, text_b)

    # ----- gestures -> state -----

    def toggle_token(self, index: int) -> None:
        self.state.set_selection(query_token=-1 if self.state.query_token == index else index)

    def mask_or_restore(self, index: int) -> bool:
        """Mask the whole word of token ``index`` or restore the word a [MASK] replaced."""
        analysis = self.state.analysis
        if analysis is None or not 0 <= index < analysis.num_tokens:
            return False
        span = word_span(analysis, index)
        if span is None:
            return False
        segment, start, end = span
        texts = [self.state.text_a, self.state.text_b]
        current = texts[segment]
        if current != segment_text(analysis, segment):
            return False  # the text changed since this analysis; its offsets no longer hold
        if analysis.tokens[index] == MASK:
            new = self.memory.restore(current, segment, int(analysis.offsets[index][0]))
            if new is None:
                return False
        else:
            new = self.memory.mask_word(current, segment, start, end)
        texts[segment] = new
        self._known = (texts[0], texts[1])  # already tracked by the memory
        self.state.set_texts(texts[0], texts[1])
        return True


def _dim(label: QLabel) -> None:
    palette = label.palette()
    palette.setColor(QPalette.ColorRole.WindowText, palette.color(QPalette.ColorRole.PlaceholderText))
    label.setPalette(palette)


def _html(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\n", "⏎"))
