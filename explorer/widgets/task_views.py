"""One view per kind of fine-tuned head, each fed a ``TaskPrediction`` (numpy and dataclasses):
class probabilities as sorted bars, a regression value, a tag legend with the per-token tags,
and a QA answer with its scores."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import (QAbstractItemView, QFrame, QHeaderView, QLabel, QScrollArea,
                               QSizePolicy, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from explorer.text_edits import format_percent
from explorer.widgets.task_common import (ANSWER, WEAK_ANSWER, entity_colour, entity_types,
                                          split_tag)

BAR_COLOUR = QColor("#3b78b8")
THRESHOLD = 0.5  # multi-label: a label is predicted when its own sigmoid passes this


def _label(text: str = "", *, scale: float = 1.0, bold: bool = False, dim: bool = False,
           wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    font = label.font()
    if font.pointSizeF() > 0:  # -1 for a font sized in pixels
        font.setPointSizeF(font.pointSizeF() * scale)
    else:
        font.setPixelSize(round(font.pixelSize() * scale))
    font.setBold(bold)
    label.setFont(font)
    if dim:
        palette = label.palette()
        palette.setColor(QPalette.ColorRole.WindowText,
                         palette.color(QPalette.ColorRole.PlaceholderText))
        label.setPalette(palette)
    return label


def _column(widget: QWidget) -> QVBoxLayout:
    layout = QVBoxLayout(widget)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(4)
    return layout


class ProbabilityRow(QWidget):
    """One class: its name, a probability bar and the percentage; multi-label rows also mark
    the 0.5 threshold on the bar."""

    def __init__(self, threshold: float | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.threshold = threshold
        self.label, self.prob, self.emphasised = "", 0.0, False
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_value(self, label: str, prob: float, emphasised: bool) -> None:
        self.label, self.prob, self.emphasised = label, float(prob), bool(emphasised)
        self.setAccessibleName(f"{label} {format_percent(prob)}")
        self.setToolTip(f"{label}: {format_percent(prob)}")
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(260, QFontMetrics(self.font()).height() + 8)

    def minimumSizeHint(self) -> QSize:
        return QSize(160, self.sizeHint().height())

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        rect, palette = self.rect(), self.palette()
        fm = QFontMetrics(self.font())
        name_w = min(max(100, rect.width() * 30 // 100), 200)
        pct_w = fm.horizontalAdvance("100.00%") + 8
        bar_w = max(rect.width() - name_w - pct_w - 10, 10)
        track = QRectF(name_w + 6, rect.height() / 2 - 6, bar_w, 12)
        font = QFont(self.font())
        font.setBold(self.emphasised)
        painter.setFont(font)
        painter.setPen(palette.color(QPalette.ColorRole.WindowText))
        name = QFontMetrics(font).elidedText(self.label, Qt.TextElideMode.ElideRight, name_w - 10)
        painter.drawText(QRectF(6, 0, name_w - 6, rect.height()),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, name)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(palette.color(QPalette.ColorRole.Mid).lighter(150))
        painter.drawRoundedRect(track, 3, 3)
        painter.setBrush(BAR_COLOUR if self.emphasised else BAR_COLOUR.lighter(140))
        painter.drawRoundedRect(QRectF(track.left(), track.top(),
                                       max(track.width() * self.prob, 1.5), track.height()), 3, 3)
        if self.threshold is not None:
            x = track.left() + track.width() * self.threshold
            painter.setPen(QPen(palette.color(QPalette.ColorRole.WindowText), 1.2,
                                Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(x, 1), QPointF(x, rect.height() - 1))
        painter.setPen(palette.color(QPalette.ColorRole.WindowText))
        painter.drawText(QRectF(rect.width() - pct_w, 0, pct_w - 6, rect.height()),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                         format_percent(self.prob))
        painter.end()


class ClassView(QWidget):
    """Every class with its probability, most probable first. Public: ``headline``, ``caption``
    and ``rows`` (ProbabilityRow, in display order)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.rows: list[ProbabilityRow] = []
        self._multi = False
        self.headline = _label(scale=1.5, bold=True)
        self.caption = _label(dim=True)
        self._host = QWidget()
        self._rows_layout = _column(self._host)
        self._rows_layout.setSpacing(0)
        self._rows_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(self._host)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = _column(self)
        layout.addWidget(self.headline)
        layout.addWidget(self.caption)
        layout.addWidget(scroll, 1)

    def show_task(self, task) -> None:
        multi = task.kind == "multi_label"
        probs = np.asarray(task.probs, dtype=np.float64)  # [K]
        if len(self.rows) != len(probs) or multi != self._multi:
            self._rebuild(len(probs), multi)
        order = np.argsort(-probs, kind="stable")          # [K] most probable first
        for rank, (row, k) in enumerate(zip(self.rows, order)):
            row.set_value(task.labels[k], probs[k],
                          probs[k] >= THRESHOLD if multi else rank == 0)
        top = order[0]
        if multi:
            chosen = [task.labels[k] for k in order if probs[k] >= THRESHOLD]
            self.headline.setText(", ".join(chosen) if chosen else "no label above 50%")
            self.caption.setText("Each label is scored on its own (sigmoid); a label is "
                                 "predicted when its bar passes the dashed 50% line.")
        else:
            self.headline.setText(f"{task.labels[top]}  ·  {format_percent(probs[top])}")
            self.caption.setText(f"Softmax over {len(probs)} classes (they sum to 100%).")

    def _rebuild(self, count: int, multi: bool) -> None:
        for row in self.rows:
            self._rows_layout.removeWidget(row)
            row.deleteLater()
        self.rows = [ProbabilityRow(THRESHOLD if multi else None) for _ in range(count)]
        for i, row in enumerate(self.rows):
            self._rows_layout.insertWidget(i, row)
        self._multi = multi


class ValueView(QWidget):
    """A regression head's one number, large. Public: ``value_label``."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.value_label = _label(scale=2.6, bold=True)
        layout = _column(self)
        layout.addWidget(self.value_label)
        layout.addWidget(_label("The regression head's output for this input (one number, "
                                "in the units of the training targets).", dim=True))
        layout.addStretch(1)

    def show_task(self, task) -> None:
        self.value_label.setText(f"{task.value:.4g}")


class TagView(QWidget):
    """The entity types with their colours, and the tag of every token.
    Public: ``legend`` (QLabel), ``table`` (token, tag, probability per row)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._labels: list[str] | None = None
        self.legend = _label()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Token", "Tag", "P(tag)"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(QFontMetrics(self.font()).height() + 6)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        layout = _column(self)
        layout.addWidget(self.legend)
        layout.addWidget(self.table, 1)

    def show_task(self, task, analysis) -> None:
        if task.labels != self._labels:
            self._labels = list(task.labels)
            self.legend.setText(_legend_html(self._labels))
        rows = [i for i, tag in enumerate(task.tags) if tag is not None]  # not [CLS]/[SEP]
        self.table.setRowCount(len(rows))
        for r, i in enumerate(rows):
            tag = task.tags[i]
            items = (QTableWidgetItem(analysis.tokens[i]), QTableWidgetItem(tag),
                     QTableWidgetItem(format_percent(float(task.probs[i].max()))))  # probs [T, K]
            colour = entity_colour(tag, self._labels)
            if colour is not None:
                items[1].setBackground(colour.background)
                items[1].setForeground(colour.border)
            items[2].setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            for c, item in enumerate(items):
                self.table.setItem(r, c, item)

    def shown_tags(self) -> list[tuple[str, str]]:
        """(token, tag) of each table row, as the user reads them."""
        return [(self.table.item(r, 0).text(), self.table.item(r, 1).text())
                for r in range(self.table.rowCount())]


def _legend_html(labels: list[str]) -> str:
    pills = []
    for entity in entity_types(labels):
        colour = entity_colour(f"B-{entity}", labels)
        pills.append(f'<span style="background:{colour.border.name()};color:'
                     f'{colour.background.name()};font-weight:bold">&nbsp;{entity}&nbsp;</span>')
    bio = any(split_tag(label)[0] for label in labels)
    note = " &nbsp; B· begins an entity, I· continues it; O: outside any entity" if bio else ""
    return " ".join(pills) + f'<span style="color:#777">{note}</span>'


class AnswerView(QWidget):
    """The QA answer in sentence B with its score and the "no answer" score, or why there is
    none. Public: ``answer_label``, ``score_label``, ``where_label``, ``hint_label``."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.answer_label = _label(scale=1.5, bold=True)
        self.answer_label.setMargin(8)
        self.score_label = _label()
        self.where_label = _label(dim=True)
        self.hint_label = _label()  # why there is no answer: what to type
        self.hint_label.setStyleSheet("QLabel { background: #fff4ce; color: #5c4400; border: 1px "
                                      "solid #e0b100; border-radius: 4px; padding: 4px 6px; }")
        layout = _column(self)
        layout.addWidget(self.answer_label)
        layout.addWidget(self.score_label)
        layout.addWidget(self.where_label)
        layout.addWidget(self.hint_label)
        layout.addStretch(1)

    def show_task(self, task) -> None:
        answer = task.answer
        has_answer = answer is not None
        for label in (self.answer_label, self.score_label, self.where_label):
            label.setVisible(has_answer)
        self.hint_label.setVisible(not has_answer)
        if not has_answer:
            self.hint_label.setText(_capital(task.note or "no answer"))
            return
        wins = not answer.no_answer_wins
        colour = ANSWER if wins else WEAK_ANSWER
        text, border = colour.border.darker(130).name(), colour.border.name()
        self.answer_label.setStyleSheet(
            f"QLabel {{ background: {colour.background.name()}; color: {text};"
            f" border: 1px solid {border}; border-radius: 5px; }}")
        self.answer_label.setText(f"“{answer.text}”" if wins else "No answer")
        verdict = ("the span beats “no answer”" if wins
                   else f"best span “{answer.text}” scores below “no answer”")
        self.score_label.setText(f"score {answer.score:.2f} · no-answer score "
                                 f"{answer.null_score:.2f} — {verdict}")
        self.where_label.setText(f"Highlighted in sentence B (characters {answer.char_start}–"
                                 f"{answer.char_end}) and on tokens {answer.token_start}–"
                                 f"{answer.token_end}. Scores are start + end logits.")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:] + ("." if text and not text.endswith(".") else "")
