"""The Help menu: About (versions, device, the model's licence, the corpus licences), the
keyboard shortcuts window generated from explorer.actions, and readable Markdown viewers for the
model card and the README."""

from __future__ import annotations

import json

import pytest
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication

from engine.paths import CORPUS_SOURCES, default_model_dir
from engine.results import ModelSummary
from explorer import help_dialogs
from explorer.actions import ACTIONS, ActionSpec
from explorer.help_dialogs import (CARD_LINK, AboutDialog, MarkdownViewer, ShortcutsDialog,
                                   about_markdown, card_licence, corpus_licences)

pytestmark = pytest.mark.usefixtures("qapp")


def summary(path, name="some-model") -> ModelSummary:
    return ModelSummary(path=str(path), name=name, architecture="BertForPreTraining", layers=2,
                        heads=4, hidden=32, intermediate=37, max_positions=64, vocab_size=30522,
                        tokenizer_vocab=30522, lowercase=True, parameters=1234567,
                        capabilities=frozenset({"mlm", "nsp"}), task_kind=None, device="cpu")


def plain(markdown: str) -> str:
    """What a reader sees of Markdown: the rendered document's text."""
    from PySide6.QtGui import QTextDocument

    doc = QTextDocument()
    doc.setMarkdown(markdown)
    return doc.toPlainText()


def test_about_with_no_model_says_so_and_still_gives_the_versions():
    import torch
    from PySide6.QtCore import qVersion

    text = plain(about_markdown(None))
    assert "No model is loaded" in text
    assert torch.__version__ in text and qVersion() in text
    assert "Device: chosen when a model is loaded" in text


def test_about_for_a_model_without_a_card_says_its_licence_is_unknown(tmp_path):
    text = plain(about_markdown(summary(tmp_path, "my-run/step-5")))
    assert "my-run/step-5" in text and "1,234,567 parameters" in text and "Device: cpu" in text
    assert "no model card" in text and "licence is not known" in text
    assert CARD_LINK not in about_markdown(summary(tmp_path))  # no link to a card that is not there


def test_about_for_a_card_without_a_licence_says_the_card_states_none(tmp_path):
    (tmp_path / "README.md").write_text("# A model\n\nTrained on things.\n", encoding="utf-8")
    text = plain(about_markdown(summary(tmp_path)))
    assert "does not state a licence" in text


@pytest.mark.skipif(default_model_dir() is None, reason="no bundled default model")
def test_about_the_bundled_model_gives_its_licence_and_every_corpus_licence():
    text = plain(about_markdown(summary(default_model_dir(), "models/default")))
    assert "Apache-2.0" in text  # the card's "Origin and licence" section
    manifest = json.loads((CORPUS_SOURCES.parent / "manifest.json").read_text(encoding="utf-8"))
    licences = dict(corpus_licences(CORPUS_SOURCES.read_text(encoding="utf-8")))
    shipped = [name for name in manifest["files"] if name != "slice.txt"]  # the slice: a sample
    for name in shipped:
        (title,) = [t for t in licences if t.startswith(name)]
        assert licences[title].startswith(("public domain", "WordNet licence")) and title in text


def test_a_hugging_face_card_licence_comes_from_its_front_matter():
    assert card_licence("---\nlanguage: en\nlicense: mit\n---\n# Model\n") == "mit"
    assert card_licence("# Model\n\n## License\n\nCC-BY-4.0, see LICENSE.\n\n## Use\n") == \
        "CC-BY-4.0, see LICENSE."
    assert card_licence("# Model\n\nNothing about terms.\n") is None
    long_section = ("## Origin and licence\n\n- Encoder: " + "taken from a bigger model, " * 20
                    + "then trained.\n- These weights are distributed under MIT; keep this."
                    "\n\n## Model\n")
    assert card_licence(long_section) == "These weights are distributed under MIT; keep this."


@pytest.mark.skipif(default_model_dir() is None, reason="no bundled default model")
def test_the_model_card_link_opens_the_card_rendered_not_raw(qtbot):
    about = AboutDialog(summary(default_model_dir(), "models/default"))
    qtbot.addWidget(about)
    about.text.anchorClicked.emit(help_dialogs.QUrl(CARD_LINK))
    (viewer,) = about.viewers
    assert isinstance(viewer, MarkdownViewer) and viewer.isVisible()
    shown = viewer.browser.toPlainText()
    assert "BERT Explorer default model" in shown
    assert not [line for line in shown.splitlines() if line.startswith("#")]  # headings rendered
    assert "| ---" not in shown
    assert viewer.browser.document().rootFrame().childFrames()  # the tables are real tables
    viewer.close()


def test_shortcuts_window_lists_every_action_with_its_shortcut(qtbot):
    dialog = ShortcutsDialog()
    qtbot.addWidget(dialog)
    table = dialog.table
    shown = {table.item(r, 1).text(): table.item(r, 0).text() for r in range(table.rowCount())}
    assert len(shown) == len(ACTIONS)
    for spec in ACTIONS.values():
        keys = QKeySequence(spec.shortcut).toString(QKeySequence.NativeText) if spec.shortcut \
            else "—"
        assert shown[spec.text.replace("&", "").rstrip("…")] == keys
    places = {table.item(r, 1).text(): table.item(r, 2).text() for r in range(table.rowCount())}
    assert places["Quit"] == "File" and places["About BERT Explorer"] == "Help"
    assert places["Mask selected word"] == "Pair input"  # lives on the sentence editors


def test_a_new_action_shows_up_in_the_shortcuts_window_without_touching_it(qtbot, monkeypatch):
    monkeypatch.setitem(ACTIONS, "zoom_in", ActionSpec("Zoom &in", "zoom_in", "Ctrl++"))
    dialog = ShortcutsDialog()
    qtbot.addWidget(dialog)
    rows = [(dialog.table.item(r, 1).text(), dialog.table.item(r, 0).text())
            for r in range(dialog.table.rowCount())]
    assert ("Zoom in", QKeySequence("Ctrl++").toString(QKeySequence.NativeText)) in rows


def test_the_help_menu_opens_each_window_from_the_main_window(qtbot, make_window):
    win = make_window()  # no model loaded: About says so, the model card is not there
    help_menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&Help")
    names = [a.objectName() for a in help_menu.actions() if not a.isSeparator()]
    assert names == ["open_readme", "open_model_card", "keyboard_shortcuts", "about"]
    win.actions["about"].trigger()
    about = win.help_windows["about"]
    assert about.isVisible() and "No model is loaded" in about.text.toPlainText()
    win.actions["keyboard_shortcuts"].trigger()
    assert win.help_windows["keyboard_shortcuts"].table.rowCount() == len(ACTIONS)
    win.actions["open_model_card"].trigger()
    assert "open_model_card" not in win.help_windows
    assert "No model is loaded" in win.statusBar().currentMessage()
    win.actions["open_readme"].trigger()
    readme = win.help_windows["open_readme"]
    assert "Pretraining a BERT" in readme.browser.toPlainText()
    win.actions["about"].trigger()  # again: one About window, the new one
    assert win.help_windows["about"] is not about
    QApplication.processEvents()
    for window in win.help_windows.values():
        window.close()


def test_no_two_actions_share_a_shortcut():
    """Qt runs neither action of an ambiguous shortcut, so a clash silently disables both."""
    owners: dict[str, list[str]] = {}
    for name, spec in ACTIONS.items():
        if spec.shortcut:
            owners.setdefault(QKeySequence(spec.shortcut).toString(), []).append(name)
    assert {keys: names for keys, names in owners.items() if len(names) > 1} == {}
