"""Predictions: fill-mask candidates for every [MASK], and next-sentence prediction (NSP).

Each candidate is a row with a probability bar; clicking it writes the candidate into the text
in place of that [MASK] (a ``##`` piece is glued to the word before). The "explain" button
beside each candidate, and beside the NSP bar, asks the salience panel which input tokens made
that prediction (``sig_explain``). With heads ablated (``state.ablation``), each candidate and
the NSP bar also show the change against the unablated model: an up or down arrow and the old
value greyed, a grey tick on the bar where it stood. NSP is a two-part bar,
greyed out with the reason when there is no sentence B or no NSP head. A model with neither
head (a fine-tuned one, a bare encoder) gets one compact note instead, leaving the space to
the views that do apply.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import (QAbstractButton, QFrame, QGridLayout, QGroupBox, QHBoxLayout,
                               QLabel, QScrollArea, QSizePolicy, QToolButton, QVBoxLayout,
                               QWidget)

from explorer.state import ExplorerState
from explorer.text_edits import format_percent, mask_ordinal, replace_nth_mask
from explorer.widgets.task_common import TASK_CAPABILITIES

MASK_COLUMNS = 2
MAX_MASK_GROUPS = 24     # more masks than this: the rest are summarised in one line
BAR_COLOUR = QColor("#3b78b8")
IS_NEXT_COLOUR = QColor("#1b9e77")    # teal / purple: distinct for common colour-vision types
NOT_NEXT_COLOUR = QColor("#7570b3")
SEGMENT_NAMES = {0: "A", 1: "B"}
PRETRAINING_HEADS = frozenset({"mlm", "nsp"})
UP_COLOUR = QColor("#1a7f37")
DOWN_COLOUR = QColor("#b42318")
OLD_TICK_COLOUR = QColor("#6b7280")


def change_arrow(new: float, old: float | None) -> str:
    """'▲', '▼' or '=' for a probability against the unablated model's ('' without one)."""
    if old is None:
        return ""
    return "▲" if new > old else "▼" if new < old else "="


EXPLAIN_PAD = 8  # px of an explain button beside its text: the style's default is ~16


def _explain_button(tip: str) -> QToolButton:
    button = QToolButton()
    button.setText("explain")
    button.setAutoRaise(True)
    button.setToolTip(tip)
    # As narrow as its text allows: two [MASK] columns of rows and buttons must fit the pane
    # at 1400 px, or the second column's buttons sit under the scroll bar.
    button.setFixedWidth(button.fontMetrics().horizontalAdvance("explain") + EXPLAIN_PAD)
    return button


def _is_nsp_note(note: str) -> bool:
    lowered = note.lower()
    return "nsp" in lowered or "next-sentence" in lowered or "next sentence" in lowered


def _sentence(note: str) -> str:
    note = note.strip()
    return note[:1].upper() + note[1:] if note else note


MIN_TOKEN_W, MIN_BAR_W = 56, 30  # px: a candidate row's token column and bar when it is narrow


class CandidateRow(QAbstractButton):
    """One fill-mask candidate: token, probability bar, percentage. Clickable. With
    ``old_prob`` (the unablated model's), an arrow, the old value greyed and a tick on the bar."""

    def __init__(self, token: str, prob: float, rank: int, parent: QWidget | None = None,
                 old_prob: float | None = None):
        super().__init__(parent)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._resolve_fonts()
        self.position = -1  # token position of its [MASK], set by the panel
        self.set_candidate(token, prob, rank, old_prob)

    def _resolve_fonts(self) -> None:
        """Fonts and metrics once per font, not on every paint."""
        self._bold = QFont(self.font())
        self._bold.setBold(True)
        self._metrics = QFontMetrics(self.font())
        self._bold_metrics = QFontMetrics(self._bold)
        self._pct_w = self._metrics.horizontalAdvance("100.00%") + 8
        self._old_w = self._metrics.horizontalAdvance("100.00% ▲") + 8

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.FontChange:
            self._resolve_fonts()
        super().changeEvent(event)

    def set_candidate(self, token: str, prob: float, rank: int,
                      old_prob: float | None = None) -> None:
        """Show another candidate in this row (the panel reuses its rows from one analysis to
        the next: no widgets made, laid out and connected per edit)."""
        self.token, self.prob, self.rank = token, float(prob), rank
        self.old_prob = None if old_prob is None else float(old_prob)
        self.arrow = change_arrow(self.prob, self.old_prob)
        self.setText(token)
        self.setAccessibleName(f"{token} {format_percent(prob)}" + (
            "" if old_prob is None else f" {self.arrow} from {format_percent(old_prob)}"))
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(260, self._metrics.height() + 8)

    def minimumSizeHint(self) -> QSize:
        """As narrow as ``column_widths`` lets the token column and the bar get."""
        return QSize(MIN_TOKEN_W + 10 + MIN_BAR_W + self._numbers_width(),
                     self.sizeHint().height())

    def _numbers_width(self) -> int:
        """The percentage's column, and the unablated one's while heads are off."""
        return self._pct_w + (0 if self.old_prob is None else self._old_w)

    def column_widths(self, width: int) -> tuple[int, int]:
        """The token column's and the bar's width in a row ``width`` px wide. In a narrow row
        (two [MASK] columns side by side) the token gives way before the bar vanishes."""
        rest = self._numbers_width()
        token_w = min(max(90, width * 30 // 100), 160)
        token_w = max(MIN_TOKEN_W, min(token_w, width - rest - 10 - MIN_BAR_W))
        return token_w, max(width - token_w - 6 - rest - 4, 10)

    def enterEvent(self, event):
        self.update()
        super().enterEvent(event)

    def leaveEvent(self, event):
        self.update()
        super().leaveEvent(event)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        palette = self.palette()
        rect = self.rect()
        if self.underMouse() or self.isDown():
            painter.fillRect(rect, palette.color(QPalette.ColorRole.Highlight).lighter(180)
                             if not self.isDown() else palette.color(QPalette.ColorRole.Midlight))
        pct_w = self._pct_w
        old_w = 0 if self.old_prob is None else self._old_w
        token_w, bar_w = self.column_widths(rect.width())
        bar_x = token_w + 6
        text_colour = palette.color(QPalette.ColorRole.WindowText)
        painter.setPen(text_colour)
        painter.setFont(self._bold if self.rank == 0 else self.font())
        metrics = self._bold_metrics if self.rank == 0 else self._metrics
        label = metrics.elidedText(self.token, Qt.TextElideMode.ElideRight, token_w - 10)
        painter.drawText(QRectF(6, 0, token_w - 6, rect.height()),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, label)
        track = QRectF(bar_x, rect.height() / 2 - 5, bar_w, 10)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(palette.color(QPalette.ColorRole.Mid).lighter(150))
        painter.drawRoundedRect(track, 3, 3)
        filled = QRectF(track.left(), track.top(), max(track.width() * self.prob, 1.5), track.height())
        painter.setBrush(BAR_COLOUR if self.rank == 0 else BAR_COLOUR.lighter(125))
        painter.drawRoundedRect(filled, 3, 3)
        painter.setFont(self.font())
        if self.old_prob is not None:
            x = track.left() + track.width() * self.old_prob
            painter.setPen(QPen(OLD_TICK_COLOUR, 2))
            painter.drawLine(QPointF(x, track.top() - 3), QPointF(x, track.bottom() + 3))
            right = QRectF(rect.width() - pct_w - old_w, 0, old_w - 4, rect.height())
            # "old ▲ new": the unablated value greyed, then the arrow, then the new value
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(right, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                             format_percent(self.old_prob))
            painter.setPen(UP_COLOUR if self.arrow == "▲" else DOWN_COLOUR if self.arrow == "▼"
                           else palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(right, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                             self.arrow)
        painter.setPen(text_colour)
        painter.drawText(QRectF(rect.width() - pct_w, 0, pct_w - 6, rect.height()),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                         format_percent(self.prob))
        if self.hasFocus():
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 1, Qt.PenStyle.DotLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(rect.adjusted(0, 0, -1, -1))
        painter.end()


class MaskGroup(QGroupBox):
    """The candidate rows of one [MASK] and their explain buttons (``target``: the salience
    target each asks for), kept from one analysis to the next while the shape allows."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.rows: list[CandidateRow] = []
        self.buttons: list[QToolButton] = []


class NspBar(QWidget):
    """P(IsNext) | P(NotNext) as one two-part bar with the percentages written on it."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.is_next: float | None = None
        self.old_is_next: float | None = None  # the unablated model's, while heads are off
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_value(self, is_next: float | None, old_is_next: float | None = None) -> None:
        self.is_next = None if is_next is None else min(max(float(is_next), 0.0), 1.0)
        self.old_is_next = None if old_is_next is None else float(old_is_next)
        self.setToolTip("" if self.is_next is None else
                        f"IsNext {format_percent(self.is_next)} · "
                        f"NotNext {format_percent(1 - self.is_next)}")
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(260, QFontMetrics(self.font()).height() + 12)

    def minimumSizeHint(self) -> QSize:
        return QSize(160, self.sizeHint().height())

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        rect = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        palette = self.palette()
        if self.is_next is None or not self.isEnabled():
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1, Qt.PenStyle.DashLine))
            painter.setBrush(palette.color(QPalette.ColorRole.Window).darker(104))
            painter.drawRoundedRect(rect, 4, 4)
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "IsNext / NotNext: n/a")
            painter.end()
            return
        split = rect.left() + rect.width() * self.is_next
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(NOT_NEXT_COLOUR)
        painter.drawRoundedRect(rect, 4, 4)
        painter.save()
        painter.setClipRect(QRectF(rect.left(), rect.top(), split - rect.left(), rect.height()))
        painter.setBrush(IS_NEXT_COLOUR)
        painter.drawRoundedRect(rect, 4, 4)
        painter.restore()
        if self.old_is_next is not None:  # where the unablated model split it
            x = rect.left() + rect.width() * self.old_is_next
            painter.setPen(QPen(QColor("white"), 3))
            painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
            painter.setPen(QPen(OLD_TICK_COLOUR, 1.5))
            painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
        painter.setPen(QColor("white"))
        bold = QFont(self.font())
        bold.setBold(True)
        painter.setFont(bold)
        inner = rect.adjusted(8, 0, -8, 0)
        painter.drawText(inner, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                         f"IsNext {format_percent(self.is_next)}")
        painter.drawText(inner, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                         f"NotNext {format_percent(1 - self.is_next)}")
        painter.end()


class PredictionsPanel(QWidget):
    """Fill-mask candidates and the NSP bar for ``state.analysis``.

    Public: ``mask_groups`` (QGroupBox per shown [MASK]), ``candidate_rows`` ({position:
    [CandidateRow]}), ``mask_hint`` (QLabel), ``nsp_box``, ``nsp_bar`` (disabled when NSP is
    unavailable), ``nsp_reason``, ``nsp_available()``, ``heads_note`` (the compact note shown
    instead of everything else when the model has neither head), and the slot
    ``apply_candidate(position, token)``; ``explain_buttons`` ({position: [QToolButton]}, one per
    candidate) and ``nsp_explain``. Signals ``sig_candidate_chosen(int, str)``: [MASK] position
    and the candidate written into the text; ``sig_explain(str)``: a salience target in
    ``--target`` form ("mask:0:door", "nsp").
    """

    sig_candidate_chosen = Signal(int, str)
    sig_explain = Signal(str)

    def __init__(self, state: ExplorerState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.mask_groups: list[MaskGroup] = []
        self.candidate_rows: dict[int, list[CandidateRow]] = {}
        self.explain_buttons: dict[int, list[QToolButton]] = {}

        self.title = QLabel("Fill-mask")
        bold = self.title.font()
        bold.setBold(True)
        self.title.setFont(bold)
        self.heads_note = QLabel("")
        self.heads_note.setObjectName("heads_note")
        # One line, whatever the width: a wrapped label would ask for several lines of room.
        self.heads_note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.heads_note.setStyleSheet("QLabel { background: #f3f4f6; color: #4a4f57; border: 1px "
                                      "solid #d6d8dc; border-radius: 4px; padding: 4px 6px; }")
        self.mask_hint = QLabel("")
        self.mask_hint.setObjectName("mask_hint")
        self.mask_hint.setWordWrap(True)
        _dim(self.mask_hint)

        self._groups_host = QWidget()
        # Masks side by side, so two masks' candidates are visible without scrolling.
        self._groups_layout = QGridLayout(self._groups_host)
        self._groups_layout.setContentsMargins(0, 0, 0, 0)
        self._groups_layout.setSpacing(6)
        self.scroll = QScrollArea()
        self.scroll.setWidget(self._groups_host)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.nsp_box = QGroupBox("Next sentence prediction (NSP)")
        self.nsp_box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.nsp_bar = NspBar()
        self.nsp_reason = QLabel("")
        self.nsp_reason.setObjectName("nsp_reason")
        self.nsp_reason.setWordWrap(True)
        nsp_layout = QVBoxLayout(self.nsp_box)
        nsp_layout.setContentsMargins(8, 6, 8, 8)
        self.nsp_question = QLabel("Is sentence B the sentence that follows A?")
        nsp_layout.addWidget(self.nsp_question)
        self.nsp_explain = _explain_button("Which input tokens made the model say IsNext")
        self.nsp_explain.clicked.connect(lambda: self.sig_explain.emit("nsp"))
        bar_row = QHBoxLayout()
        bar_row.setContentsMargins(0, 0, 0, 0)
        bar_row.addWidget(self.nsp_bar, 1)
        bar_row.addWidget(self.nsp_explain)
        nsp_layout.addLayout(bar_row)
        self.nsp_change = QLabel("")
        self.nsp_change.setObjectName("nsp_change")
        self.nsp_change.hide()
        nsp_layout.addWidget(self.nsp_change)
        nsp_layout.addWidget(self.nsp_reason)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addWidget(self.heads_note)
        layout.addWidget(self.mask_hint)
        layout.addWidget(self.scroll, 1)
        layout.addWidget(self.nsp_box)

        state.sig_analysis_changed.connect(self._show_analysis)
        state.sig_model_changed.connect(lambda _model: self._show_analysis(self.state.analysis))
        self._show_analysis(state.analysis)

    # ----- state -> view -----

    def _show_analysis(self, analysis) -> None:
        self._show_fill_mask(analysis)
        self._show_nsp(analysis)
        self._show_nsp_change(analysis)
        self._set_compact(self._headless_note())

    def _ablation_of(self, analysis):
        """The ``explorer.ablation.Ablated`` that ``analysis`` came with, or None (unablated)."""
        ablation = self.state.ablation
        return ablation if ablation is not None and ablation.analysis is analysis else None

    def _show_nsp_change(self, analysis) -> None:
        ablation = self._ablation_of(analysis)
        old = None if ablation is None else ablation.reference_nsp
        if old is None or analysis.nsp_is_next is None:
            self.nsp_change.hide()
            return
        new = analysis.nsp_is_next
        self.nsp_bar.set_value(new, old)
        colour = (UP_COLOUR if new > old else DOWN_COLOUR if new < old else OLD_TICK_COLOUR).name()
        self.nsp_change.setText(
            f"IsNext {format_percent(new)} <span style='color:{colour}'>"
            f"{change_arrow(new, old)}</span> <span style='color:#6b7280'>from "
            f"{format_percent(old)} with every head</span> · {len(ablation.heads)} head(s) off")
        self.nsp_change.show()

    def _headless_note(self) -> str:
        """The one line shown for a model without MLM and NSP heads; '' for any other."""
        model = self.state.model
        if model is None or model.capabilities & PRETRAINING_HEADS:
            return ""
        why = ("fine-tuning replaced them by the task head" if model.capabilities
               & TASK_CAPABILITIES else "this encoder has no pretraining heads")
        return f"No fill-mask or next-sentence prediction: {why}."

    def _set_compact(self, note: str) -> None:
        compact = bool(note)
        self.heads_note.setText(note)
        self.heads_note.setToolTip("Fill-mask needs the MLM head and next-sentence prediction "
                                   "the NSP head; attention works as for any model." if note else "")
        self.heads_note.setVisible(compact)
        for widget in (self.title, self.scroll, self.nsp_box):
            widget.setVisible(not compact)
        if compact:
            self.mask_hint.hide()
        # Compact: no taller than the note, so the column gives the room to other panels.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum if compact
                           else QSizePolicy.Policy.Preferred)

    def _clear_groups(self) -> None:
        for group in self.mask_groups:
            self._groups_layout.removeWidget(group)
            group.deleteLater()
        self.mask_groups = []
        self.candidate_rows = {}
        self.explain_buttons = {}
        while self._groups_layout.count():  # the overflow line, if any
            item = self._groups_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for row in range(self._groups_layout.rowCount()):
            self._groups_layout.setRowStretch(row, 0)

    def _show_fill_mask(self, analysis) -> None:
        if self._refill_groups(analysis):
            return
        self._clear_groups()
        if analysis is None:
            self._set_hint("No analysis yet: type a sentence with [MASK] to see predictions.")
            return
        predictions = list(analysis.fill_mask or [])
        if not predictions:
            notes = [n for n in (analysis.notes or ()) if not _is_nsp_note(n)]
            self._set_hint(" ".join(_sentence(n) for n in notes) if notes else
                           "No [MASK] in the text: type [MASK] (or double-click a token) "
                           "to see predictions.")
            return
        shown = predictions[:MAX_MASK_GROUPS]
        ablation = self._ablation_of(analysis)
        self._set_hint(self._fill_mask_hint(predictions, ablation))
        self._groups_host.setUpdatesEnabled(False)
        for i, prediction in enumerate(shown):
            group = self._mask_group(analysis, prediction, i, ablation)
            self._groups_layout.addWidget(group, i // MASK_COLUMNS, i % MASK_COLUMNS)
            group.show()  # now, not on the next event loop turn
            self.mask_groups.append(group)
        next_row = (len(shown) + MASK_COLUMNS - 1) // MASK_COLUMNS
        if len(predictions) > len(shown):
            more = QLabel(f"… and {len(predictions) - len(shown)} more [MASK] positions "
                          f"(showing the first {len(shown)})")
            _dim(more)
            self._groups_layout.addWidget(more, next_row, 0, 1, MASK_COLUMNS)
            next_row += 1
        self._groups_layout.setRowStretch(next_row, 1)  # groups stay at the top
        self._groups_host.setUpdatesEnabled(True)

    def _refill_groups(self, analysis) -> bool:
        """Show ``analysis``'s candidates in the groups and rows on screen when it has as many
        [MASK]s (no overflow line) with as many candidates each: the usual edit. False when
        the groups must be built anew."""
        predictions = list(analysis.fill_mask or []) if analysis is not None else []
        if (not predictions or len(predictions) != len(self.mask_groups)
                or [len(p.tokens) for p in predictions] != [len(g.rows) for g in self.mask_groups]):
            return False
        ablation = self._ablation_of(analysis)
        self._set_hint(self._fill_mask_hint(predictions, ablation))
        self.candidate_rows, self.explain_buttons = {}, {}
        for ordinal, (group, prediction) in enumerate(zip(self.mask_groups, predictions)):
            self._fill_group(group, analysis, prediction, ordinal, ablation)
        return True

    @staticmethod
    def _fill_mask_hint(predictions, ablation) -> str:
        return (f"{len(predictions)} masked position{'s' if len(predictions) != 1 else ''}"
                " — click a candidate to put it in the text." + (
                    "" if ablation is None else
                    f" {len(ablation.heads)} head(s) ablated: ▲/▼ against the unablated "
                    "model, its value greyed."))

    def _mask_group(self, analysis, prediction, ordinal: int, ablation=None) -> MaskGroup:
        """A group of candidate rows (each with its explain button) for the [MASK] at
        ``prediction.position``, filled by ``_fill_group``."""
        group = MaskGroup()
        rows_layout = QGridLayout(group)
        rows_layout.setContentsMargins(4, 4, 4, 4)
        rows_layout.setSpacing(0)
        rows_layout.setColumnStretch(0, 1)
        for rank in range(len(prediction.tokens)):
            row = CandidateRow("", 0.0, rank)
            row.clicked.connect(lambda _checked=False, r=row: self.apply_candidate(r.position,
                                                                                   r.token))
            explain = _explain_button("")
            explain.clicked.connect(lambda _checked=False, b=explain: self.sig_explain.emit(b.target))
            rows_layout.addWidget(row, rank, 0)
            rows_layout.addWidget(explain, rank, 1)
            group.rows.append(row)
            group.buttons.append(explain)
        self._fill_group(group, analysis, prediction, ordinal, ablation)
        return group

    def _fill_group(self, group: MaskGroup, analysis, prediction, ordinal: int,
                    ablation=None) -> None:
        """The candidates of the [MASK] at ``prediction.position``, the ``ordinal``-th [MASK]
        of the input (from 0, left to right: K of the ``mask:K`` target); with ``ablation``,
        each with the unablated model's probability."""
        position = int(prediction.position)
        segment = analysis.sequence_ids[position] if position < len(analysis.sequence_ids) else None
        seg = f" (sentence {SEGMENT_NAMES[segment]})" if segment in SEGMENT_NAMES else ""
        group.setTitle(f"MASK at position {position}{seg}")
        group.setObjectName(f"mask_group_{position}")
        order = sorted(range(len(prediction.tokens)), key=lambda k: -float(prediction.probs[k]))
        where = f"sentence {SEGMENT_NAMES.get(segment, '?')}"
        for rank, (k, row, explain) in enumerate(zip(order, group.rows, group.buttons)):
            token, prob = prediction.tokens[k], float(prediction.probs[k])
            old = (None if ablation is None else
                   ablation.old_prob(position, int(prediction.token_ids[k])))
            row.set_candidate(token, prob, rank, old_prob=old)
            row.position = position
            glue = " (glued to the word before)" if token.startswith("##") and len(token) > 2 else ""
            row.setToolTip(f"{token}: {format_percent(prob)} (id {int(prediction.token_ids[k])})\n"
                           f"Click to write it into {where} in place of this [MASK]{glue}")
            explain.target = f"mask:{ordinal}:{token}"
            explain.setToolTip(f"Which input tokens made the model predict {token!r} here")
        self.candidate_rows[position] = list(group.rows)
        self.explain_buttons[position] = list(group.buttons)

    def _set_hint(self, text: str) -> None:
        self.mask_hint.setText(text)
        self.mask_hint.setVisible(bool(text))

    def _show_nsp(self, analysis) -> None:
        if analysis is not None and analysis.nsp_is_next is not None:
            self.nsp_bar.set_value(analysis.nsp_is_next)
            self._set_nsp_enabled(True)
            self.nsp_reason.setText("")
            self.nsp_reason.hide()
            return
        self.nsp_bar.set_value(None)
        self._set_nsp_enabled(False)
        self.nsp_reason.setText(self._nsp_reason(analysis))
        self.nsp_reason.show()

    def _set_nsp_enabled(self, enabled: bool) -> None:
        # The bar and question grey out; the reason stays readable.
        self.nsp_bar.setEnabled(enabled)
        self.nsp_question.setEnabled(enabled)
        self.nsp_explain.setEnabled(enabled)

    def nsp_available(self) -> bool:
        return self.nsp_bar.isEnabled()

    def _nsp_reason(self, analysis) -> str:
        if analysis is not None:
            notes = [n for n in (analysis.notes or ()) if _is_nsp_note(n)]
            if notes:
                return " ".join(_sentence(n) for n in notes)
        model = self.state.model
        if model is not None and "nsp" not in model.capabilities:
            return "This model has no NSP head."
        if analysis is None:
            return "No analysis yet."
        if not (analysis.text_b or "").strip():
            return "No sentence B: next-sentence prediction needs a pair."
        return "Not available for this analysis."

    # ----- gestures -> state -----

    def apply_candidate(self, position: int, token: str) -> bool:
        """Write ``token`` into the text in place of the [MASK] at token ``position``."""
        analysis = self.state.analysis
        if analysis is None:
            return False
        where = mask_ordinal(analysis, position)
        if where is None:
            return False
        segment, n = where
        texts = [self.state.text_a, self.state.text_b]
        new = replace_nth_mask(texts[segment], n, token)
        if new is None:
            return False
        texts[segment] = new
        self.state.set_texts(texts[0], texts[1])
        self.sig_candidate_chosen.emit(position, token)
        return True


def _dim(label: QLabel) -> None:
    palette = label.palette()
    palette.setColor(QPalette.ColorRole.WindowText, palette.color(QPalette.ColorRole.PlaceholderText))
    label.setPalette(palette)
