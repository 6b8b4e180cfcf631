"""Sentence A / sentence B editors, with swap, clear and "mask selected word" (Ctrl+M).

Every edit goes to ``state.set_texts``; the main window decides when to analyse. Texts changed
elsewhere (a fill-mask candidate, a double-clicked chip) come back through
``sig_texts_changed`` and are applied as the smallest edit, so the cursor stays put.
A question-answering model's answer is highlighted in sentence B as an extra selection: it
never touches the text or the cursor, and its cursor moves with edits until the next analysis.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QFontMetrics, QKeySequence, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (QGridLayout, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton,
                               QSizePolicy, QTextEdit, QToolButton, QVBoxLayout, QWidget)

from explorer.actions import ACTIONS
from explorer.state import ExplorerState
from explorer.text_edits import MASK, diff_region, from_utf16, selection_word_span, to_utf16
from explorer.widgets.task_common import ANSWER, TASK_CAPABILITIES, WEAK_ANSWER, answer_chars

_EDITOR_LINES = 3
PLACEHOLDERS = {  # (A, B) for question answering, other fine-tuned heads, pretrained models
    "qa": ("Question: what to look for in the passage",
           "Passage: the text the answer is taken from (highlighted here)"),
    "task": ("Sentence A: the text to classify or tag",
             "Sentence B (optional): the second text of a pair"),
    None: ("Sentence A: type text; [MASK] marks a word to predict",
           "Sentence B (optional): a second sentence for NSP"),
}


class _SentenceEdit(QPlainTextEdit):
    """A plain-text editor a few lines high that tells its owner when it gets focus."""

    def __init__(self, placeholder: str, on_focus, parent=None):
        super().__init__(parent)
        self._on_focus = on_focus
        self.extra_actions: list[QAction] = []  # shown first in the context menu
        self.setPlaceholderText(placeholder)
        self.setTabChangesFocus(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        line = QFontMetrics(self.font()).lineSpacing()
        margins = self.contentsMargins()
        height = (line * _EDITOR_LINES + 2 * int(self.document().documentMargin())
                  + margins.top() + margins.bottom() + 4)
        self.setMinimumHeight(line * 2 + 12)
        self._height = height

    def sizeHint(self):
        hint = super().sizeHint()
        hint.setHeight(self._height)
        return hint

    def contextMenuEvent(self, event):
        menu = self.createStandardContextMenu(event.pos())
        if self.extra_actions:
            menu.insertSeparator(menu.actions()[0] if menu.actions() else None)
            for action in reversed(self.extra_actions):
                menu.insertAction(menu.actions()[0], action)
        menu.exec(event.globalPos())
        menu.deleteLater()

    def focusInEvent(self, event):
        self._on_focus(self)
        super().focusInEvent(event)


class PairInput(QWidget):
    """Two editors bound to ``state.text_a`` / ``state.text_b``.

    Public: ``editor_a``, ``editor_b`` (QPlainTextEdit), ``swap_button``, ``clear_b_button``,
    ``mask_button`` and ``mask_action`` (Ctrl+M), the slots ``swap()``, ``clear_b()``,
    ``mask_selected_word()``, and ``answer_range()`` (the highlighted QA answer in B). Emits no
    signals of its own: it writes to the state.
    """

    def __init__(self, state: ExplorerState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self._applying = False  # True while texts from the state are written into the editors
        self._last_editor: QPlainTextEdit | None = None

        self.editor_a = _SentenceEdit(PLACEHOLDERS[None][0], self._focused)
        self.editor_b = _SentenceEdit(PLACEHOLDERS[None][1], self._focused)
        self.editor_a.setObjectName("sentence_a")
        self.editor_b.setObjectName("sentence_b")
        self.editor_a.setAccessibleName("Sentence A")
        self.editor_b.setAccessibleName("Sentence B")
        self._last_editor = self.editor_a

        spec = ACTIONS["mask_word"]
        self.mask_action = QAction(spec.text, self)
        self.mask_action.setShortcut(QKeySequence(spec.shortcut))
        self.mask_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.mask_action.setToolTip(spec.tip)
        self.mask_action.triggered.connect(getattr(self, spec.handler))
        self.addAction(self.mask_action)  # with children: works while either editor has focus
        for editor in (self.editor_a, self.editor_b):
            editor.extra_actions = [self.mask_action]

        self.swap_button = QPushButton("Swap A/B")
        self.swap_button.setToolTip("Exchange sentence A and sentence B")
        self.clear_b_button = QPushButton("Clear B")
        self.clear_b_button.setToolTip("Empty sentence B (single-sentence input)")
        self.mask_button = QToolButton()
        self.mask_button.setDefaultAction(self.mask_action)
        self.mask_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.mask_button.setText("Mask selected word (Ctrl+M)")
        for button in (self.swap_button, self.clear_b_button, self.mask_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keep focus (and cursor) in the editor
        self.swap_button.clicked.connect(self.swap)
        self.clear_b_button.clicked.connect(self.clear_b)

        label_a, label_b = QLabel("Sentence &A"), QLabel("Sentence &B")
        label_a.setBuddy(self.editor_a)
        label_b.setBuddy(self.editor_b)
        for label in (label_a, label_b):
            label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            font = label.font()
            font.setBold(True)
            label.setFont(font)

        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(label_a, 0, 0)
        grid.addWidget(self.editor_a, 0, 1)
        grid.addWidget(label_b, 1, 0)
        grid.addWidget(self.editor_b, 1, 1)
        grid.setColumnStretch(1, 1)

        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.mask_button)
        buttons.addStretch(1)
        buttons.addWidget(self.swap_button)
        buttons.addWidget(self.clear_b_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(grid)
        layout.addLayout(buttons)

        self._apply_texts(state.text_a, state.text_b)
        self.editor_a.textChanged.connect(self._edited)
        self.editor_b.textChanged.connect(self._edited)
        state.sig_texts_changed.connect(self._apply_texts)
        state.sig_analysis_changed.connect(self._show_answer)
        state.sig_model_changed.connect(self._model_changed)

    # ----- editors -> state -----

    def _focused(self, editor: QPlainTextEdit) -> None:
        self._last_editor = editor

    def _edited(self) -> None:
        if not self._applying:
            self.state.set_texts(self.editor_a.toPlainText(), self.editor_b.toPlainText())

    # ----- state -> editors -----

    def _apply_texts(self, text_a: str, text_b: str) -> None:
        self._applying = True
        try:
            _set_text_minimal(self.editor_a, text_a)
            _set_text_minimal(self.editor_b, text_b)
        finally:
            self._applying = False

    def _model_changed(self, model) -> None:
        capabilities = model.capabilities if model is not None else frozenset()
        key = ("qa" if "qa" in capabilities else
               "task" if capabilities & TASK_CAPABILITIES else None)
        for editor, text in zip((self.editor_a, self.editor_b), PLACEHOLDERS[key]):
            editor.setPlaceholderText(text)

    def _show_answer(self, analysis) -> None:
        """Highlight the answer's chars [start, end) of B. An analysis of an older text keeps
        the current highlight, which has moved with the edits since."""
        span = answer_chars(analysis)
        text = self.editor_b.toPlainText()
        if span is None:
            self.editor_b.setExtraSelections([])
            return
        if (analysis.text_b or "") != text:
            return
        start, end, wins = span
        selection = QTextEdit.ExtraSelection()
        selection.cursor = QTextCursor(self.editor_b.document())
        selection.cursor.setPosition(to_utf16(text, start))
        selection.cursor.setPosition(to_utf16(text, end), QTextCursor.MoveMode.KeepAnchor)
        selection.format = QTextCharFormat()
        selection.format.setBackground((ANSWER if wins else WEAK_ANSWER).background)
        if not wins:  # the best span, though "no answer" scores higher
            selection.format.setUnderlineStyle(QTextCharFormat.UnderlineStyle.DotLine)
        self.editor_b.setExtraSelections([selection])

    def answer_range(self) -> tuple[int, int] | None:
        """The highlighted answer as (start, end) chars of sentence B, or None."""
        selections = self.editor_b.extraSelections()
        if not selections:
            return None
        text, cursor = self.editor_b.toPlainText(), selections[0].cursor
        return from_utf16(text, cursor.selectionStart()), from_utf16(text, cursor.selectionEnd())

    # ----- actions -----

    def swap(self) -> None:
        self.state.set_texts(self.state.text_b, self.state.text_a)

    def clear_b(self) -> None:
        self.state.set_texts(self.state.text_a, "")

    def focused_editor(self) -> QPlainTextEdit:
        """The editor with focus, else the one that had it last (buttons take no focus)."""
        for editor in (self.editor_a, self.editor_b):
            if editor.hasFocus():
                return editor
        return self._last_editor or self.editor_a

    def mask_selected_word(self) -> bool:
        """Replace the selected text, or the word at the cursor, by [MASK]; True if it did."""
        editor = self.focused_editor()
        cursor = editor.textCursor()
        text = editor.toPlainText()
        span = selection_word_span(text, from_utf16(text, cursor.selectionStart()),
                                   from_utf16(text, cursor.selectionEnd()))
        if span is None or text[span[0]:span[1]] == MASK:
            return False
        edit = QTextCursor(editor.document())
        edit.setPosition(to_utf16(text, span[0]))
        edit.setPosition(to_utf16(text, span[1]), QTextCursor.MoveMode.KeepAnchor)
        edit.insertText(MASK)  # one undoable step; textChanged writes the state
        editor.setTextCursor(edit)
        return True


def _set_text_minimal(editor: QPlainTextEdit, text: str) -> None:
    """Make the editor show ``text`` by replacing only the region that differs.

    The cursor and selection move with the text around them, and undo stays available.
    """
    old = editor.toPlainText()
    if old == text:
        return
    start, old_end, new_end = diff_region(old, text)
    cursor = QTextCursor(editor.document())
    cursor.beginEditBlock()
    cursor.setPosition(to_utf16(old, start))
    cursor.setPosition(to_utf16(old, old_end), QTextCursor.MoveMode.KeepAnchor)
    cursor.insertText(text[start:new_end])
    cursor.endEditBlock()
    if editor.toPlainText() != text:  # characters the document stores differently: start over
        editor.setPlainText(text)
