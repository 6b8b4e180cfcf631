"""The Corpus panel: the corpus tokens nearest to the chosen token at a layer, each in its
sentence with the matched word highlighted, its cosine, and the matches' words as bars.
Clicking a match asks for its sentence to be loaded (``sig_open_sentence``). Built from a
``CorpusSearch`` (engine.results_corpus); no torch."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from engine.results_corpus import CorpusSearch
from explorer.actions import ACTIONS

BAR_PX = 140
SUMMARY_WORDS = 8


def highlighted(sentence: str, start: int, end: int) -> str:
    """The sentence as HTML with characters ``start:end`` marked."""
    return (f"{escape(sentence[:start])}<span style='background:#ffe08a;font-weight:600'>"
            f"{escape(sentence[start:end])}</span>{escape(sentence[end:])}")


def summary_html(result: CorpusSearch) -> str:
    """The matches' words, most frequent first, as a table of bars."""
    words = result.summary[:SUMMARY_WORDS]
    if not words:
        return ""
    most = words[0].count
    rows = "".join(
        f"<tr><td>{escape(w.word)}&nbsp;</td><td><table cellspacing=0 cellpadding=0><tr>"
        f"<td bgcolor='#4a7fc1' width={max(2, round(BAR_PX * w.count / most))} height=10></td>"
        f"</tr></table></td><td>&nbsp;{w.count}</td></tr>" for w in words)
    return f"<table cellspacing=2>{rows}</table>"


class CorpusPanel(QWidget):
    sig_open_sentence = Signal(str)  # a match's sentence, to load into the explorer

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        shortcut = ACTIONS["find_similar"].shortcut
        self.heading = QLabel(f"Right-click a token (or select it and press {shortcut}) to "
                              "find where the corpus uses it alike.")
        self.heading.setWordWrap(True)
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.RichText)
        self.matches = QListWidget()
        self.matches.setWordWrap(True)
        self.matches.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)  # sentences wrap
        self.matches.itemClicked.connect(self._clicked)
        self.result: CorpusSearch | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.heading)
        layout.addWidget(self.summary)
        layout.addWidget(self.matches, 1)

    def show_message(self, text: str) -> None:
        self.heading.setText(text)

    def show_result(self, result: CorpusSearch) -> None:
        self.result = result
        token = result.query_tokens[result.token]
        self.heading.setText(
            f"<b>{escape(token)}</b> (token {result.token}) at layer {result.layer}: "
            f"{len(result.matches)} nearest of {result.indexed_tokens:,} corpus tokens "
            f"({result.mode}, {result.elapsed_ms:.0f} ms). Click one to load its sentence.")
        self.summary.setText(summary_html(result))
        self.matches.clear()
        width = max(200, self.matches.viewport().width() - 6)
        for i, m in enumerate(result.matches):
            item = QListWidgetItem()
            item.setData(Qt.UserRole, i)
            label = QLabel(f"<span style='color:#555'>{m.cosine:.3f}</span>&nbsp; "
                           f"{highlighted(m.sentence, m.word_start, m.word_end)}")
            label.setWordWrap(True)
            label.setTextFormat(Qt.RichText)
            label.setAttribute(Qt.WA_TransparentForMouseEvents)
            label.setContentsMargins(4, 2, 4, 2)
            self.matches.addItem(item)
            self.matches.setItemWidget(item, label)
            item.setSizeHint(QSize(width, label.heightForWidth(width)))

    def open_match(self, row: int) -> None:
        if self.result is not None and 0 <= row < len(self.result.matches):
            self.sig_open_sentence.emit(self.result.matches[row].sentence)

    def _clicked(self, item: QListWidgetItem) -> None:
        self.open_match(int(item.data(Qt.UserRole)))
