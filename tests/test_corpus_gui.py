"""The explorer's corpus search: a chosen index is remembered, "Find similar in corpus" runs in
the inference thread (the GUI thread goes on), the Corpus panel lists the matches, and a click
on one loads its sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import CORPUS_SLICE, analysed
from engine.corpus_index.build import start_index
from engine.corpus_index.spec import IndexSpec
from explorer.corpus_search import SETTINGS_KEY

TEXT = "The old man walked to the river and sat down."


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory, hf_pretraining_dir) -> Path:
    folder = tmp_path_factory.mktemp("gui-index")
    lines = CORPUS_SLICE.read_text(encoding="utf-8").splitlines()[:150]
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(l for l in lines if l.strip()) + "\n", encoding="utf-8")
    spec = IndexSpec(corpus=[str(corpus)], layers="0,1", model=str(hf_pretraining_dir),
                     device="cpu")
    return start_index(spec, str(folder / "idx")).path


@pytest.fixture
def window(qtbot, make_window, hf_pretraining_dir):
    win = make_window()
    with qtbot.waitSignal(win.worker.sig_model_loaded, timeout=60_000):
        win.start(str(hf_pretraining_dir))
    return win


def test_a_match_click_loads_its_sentence_and_the_search_leaves_the_gui_free(
        qtbot, window, tiny_index, settings, tmp_path):
    corpus = window.corpus
    assert corpus.set_index(str(tiny_index)) and settings.value(SETTINGS_KEY) == str(tiny_index)
    analysis = analysed(qtbot, window, TEXT)
    river = analysis.tokens.index("river")
    window.state.set_selection(layer=1, query_token=river)
    window.find_similar_in_corpus()
    assert corpus.panel.result is None  # the call returned before the search did: no blocking
    assert "Searching" in corpus.panel.heading.text()
    qtbot.waitUntil(lambda: corpus.panel.result is not None, timeout=60_000)
    result = corpus.panel.result
    assert result.layer == 1 and result.token == river and corpus.panel.matches.count() == 30
    assert corpus.dock.isVisible() and "river" in corpus.panel.heading.text()
    window.grab().save(str(tmp_path / "corpus.png"))
    first = corpus.panel.matches.item(0)
    rect = corpus.panel.matches.visualItemRect(first)
    from PySide6.QtCore import Qt

    qtbot.mouseClick(corpus.panel.matches.viewport(), Qt.LeftButton, pos=rect.center())
    assert window.state.text_a == result.matches[0].sentence and window.state.text_b == ""
    analysed(qtbot, window, result.matches[0].sentence)


def test_a_folder_that_is_not_an_index_is_refused_and_not_remembered(window, tmp_path, settings):
    errors = []
    window.state.sig_error.connect(errors.append)
    assert not window.corpus.set_index(str(tmp_path))
    assert settings.value(SETTINGS_KEY) is None and "not a corpus index" in errors[0]
