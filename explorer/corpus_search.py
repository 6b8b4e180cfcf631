"""The explorer's corpus search: the index chosen once (File ▸ Open corpus index…, kept in the
settings), "Find similar in corpus" on the selected token (a shortcut, and the token chips'
context menu), the search sent to the inference worker, and its result in the Corpus dock.
Wiring only: the search itself is engine.corpus_index, run in the worker thread."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMenu

from engine.corpus_index.store import read_manifest
from engine.results_corpus import CorpusIndexError
from explorer.inference_worker import FindInCorpus
from explorer.widgets.corpus_panel import CorpusPanel

SETTINGS_KEY = "corpus/index"


class CorpusSearchController(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.panel = CorpusPanel()
        self.dock = QDockWidget("Corpus", window)
        self.dock.setObjectName("corpus_dock")
        self.dock.setWidget(self.panel)
        self.dock.setMinimumWidth(460)
        window.addDockWidget(Qt.RightDockWidgetArea, self.dock)
        self.dock.hide()
        self._seq = 0
        self.panel.sig_open_sentence.connect(lambda text: window.state.set_texts(text, ""))
        window.worker.sig_corpus_ready.connect(self._on_ready)
        window.worker.sig_corpus_failed.connect(self._on_failed)
        canvas = window.token_strip.canvas
        canvas.setContextMenuPolicy(Qt.CustomContextMenu)
        canvas.customContextMenuRequested.connect(self._chip_menu)

    @property
    def index_path(self) -> str | None:
        value = self.window.settings.value(SETTINGS_KEY)
        return str(value) if value else None

    def choose_index(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Open corpus index",
                                                  self.index_path or "")
        if folder:
            self.set_index(folder)

    def set_index(self, folder: str) -> bool:
        """Use (and remember) the index at ``folder``; a folder that is not a finished index
        is refused with the reason."""
        try:
            manifest = read_manifest(Path(folder))
        except CorpusIndexError as exc:
            self.window.state.sig_error.emit(str(exc))
            return False
        self.window.settings.setValue(SETTINGS_KEY, folder)
        self.panel.show_message(f"Corpus index {folder}: {manifest['tokens']:,} tokens, layers "
                                f"{', '.join(map(str, manifest['layers']))}.")
        self.dock.show()
        return True

    def find_similar(self, token: int | None = None) -> None:
        """Search the corpus for ``token`` (default: the selected one) at the selected layer,
        or the nearest indexed layer below it."""
        state = self.window.state
        token = state.query_token if token is None else token
        if self.index_path is None:
            self.choose_index()
            if self.index_path is None:
                return
        if state.analysis is None or not 0 <= token < len(state.analysis.tokens):
            self.panel.show_message("Select a token first (click it), then Find similar.")
            self.dock.show()
            return
        self._seq += 1
        self.panel.show_message(f"Searching the corpus for {state.analysis.tokens[token]!r}…")
        self.dock.show()
        self.window.worker.submit(FindInCorpus(self._seq, self.index_path, state.text_a,
                                               state.text_b, token, self._layer()))

    def _layer(self) -> int:
        try:
            layers = read_manifest(Path(self.index_path))["layers"]
        except CorpusIndexError:
            return self.window.state.layer
        below = [layer for layer in layers if layer <= self.window.state.layer]
        return max(below) if below else min(layers)

    def _chip_menu(self, pos) -> None:
        index = self.window.token_strip.canvas.index_at(pos)
        if index < 0:
            return
        menu = QMenu(self.window)
        action = menu.addAction("Find similar in corpus")
        action.triggered.connect(lambda: self._find_from_chip(index))
        menu.popup(self.window.token_strip.canvas.mapToGlobal(pos))

    def _find_from_chip(self, index: int) -> None:
        self.window.state.set_selection(query_token=index)
        self.find_similar(index)

    def _on_ready(self, seq: int, result) -> None:
        if seq == self._seq:
            self.panel.show_result(result)

    def _on_failed(self, seq: int, message: str) -> None:
        if seq == self._seq:
            self.panel.show_message(message)
