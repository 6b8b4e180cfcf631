"""Fine-tuned models in the real main window, offscreen: the task panel, tags on the token
chips, the QA answer highlighted in sentence B, and the way back to a pretrained model.

The checkpoints are tiny random task models written by ``engine.checkpoint.save_checkpoint``
with the bundled model's tokenizer; every assertion compares what is on screen with the
``Analysis`` the real ``Predictor`` produced (``window.state.analysis``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtGui import QTextCursor

from engine.checkpoint import save_checkpoint
from engine.config import BertConfig
from engine.model import (BertForQuestionAnswering, BertForSequenceClassification,
                          BertForTokenClassification)
from engine.tokenizer import WordPieceTokenizer
from explorer.widgets.task_common import (ANSWER, WEAK_ANSWER, chip_marks, compact_tag,
                                          entity_colour, entity_types, split_tag, task_summary)
from conftest import TINY, analysed

pytestmark = pytest.mark.usefixtures("qapp")

ROOT = Path(__file__).resolve().parent.parent
PNG_DIR = Path("/tmp/task_views_png")
TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
EMOTIONS = ["joy", "anger", "fear", "surprise"]


@pytest.fixture(scope="module")
def task_models(tmp_path_factory) -> dict[str, Path]:
    """One tiny fine-tuned checkpoint per task kind, fixed seeds."""
    tokenizer = WordPieceTokenizer.from_file(ROOT / "resources" / "models" / "default")
    folder = tmp_path_factory.mktemp("task-models")
    specs = {
        "classify": (BertForSequenceClassification, {"id2label": {0: "neg", 1: "pos"}}),
        "multi_label": (BertForSequenceClassification, {
            "id2label": dict(enumerate(EMOTIONS)), "num_labels": len(EMOTIONS),
            "problem_type": "multi_label_classification"}),
        "regress": (BertForSequenceClassification, {"num_labels": 1,
                                                    "problem_type": "regression"}),
        "tag": (BertForTokenClassification, {"id2label": dict(enumerate(TAGS)),
                                             "num_labels": len(TAGS)}),
        "qa": (BertForQuestionAnswering, {}),
    }
    paths = {}
    for kind, (model_class, overrides) in specs.items():
        torch.manual_seed(0)
        model = model_class(BertConfig(vocab_size=tokenizer.vocab_size, **TINY, **overrides))
        with torch.no_grad():  # sharper outputs than a fresh head's near-uniform ones
            head = model.qa_outputs if kind == "qa" else model.classifier
            head.weight.mul_(30)
        paths[kind] = save_checkpoint(model, folder / f"tiny-{kind}", tokenizer=tokenizer)
    return paths


@pytest.fixture
def window(make_window):
    win = make_window(size=(1200, 800))
    win.worker.start()
    return win


def opened(qtbot, win, path) -> None:
    with qtbot.waitSignal(win.sig_analysis_applied, timeout=60_000):
        win.load_model(str(path))


def save_png(win, name: str) -> None:
    PNG_DIR.mkdir(parents=True, exist_ok=True)
    assert win.grab().save(str(PNG_DIR / name))


# ----- pure helpers ---------------------------------------------------------------------------

def test_tag_names_split_and_colour_by_entity():
    assert split_tag("B-PER") == ("B", "PER") and split_tag("I_LOC") == ("I", "LOC")
    assert split_tag("O") == ("", "O") and split_tag("DATE") == ("", "DATE")
    assert compact_tag("B-PER") == "B·PER" and compact_tag("O") == "O"
    assert entity_types(TAGS) == ["PER", "LOC"]
    assert entity_colour("B-PER", TAGS) == entity_colour("I-PER", TAGS)
    assert entity_colour("B-PER", TAGS) != entity_colour("B-LOC", TAGS)
    assert entity_colour("O", TAGS) is None


# ----- the main window with fine-tuned models -------------------------------------------------

def test_classifier_shows_every_class_with_its_probability(qtbot, window, task_models):
    opened(qtbot, window, task_models["classify"])
    an = analysed(qtbot, window, "A wonderful, moving film.")
    task = an.task
    assert task.kind == "classify" and task.labels == ["neg", "pos"]
    panel = window.task_panel
    assert panel.isVisible() and panel.stack.currentWidget() is panel.classes
    rows = panel.classes.rows
    order = np.argsort(-task.probs)
    assert [r.label for r in rows] == [task.labels[k] for k in order]
    assert [r.prob for r in rows] == pytest.approx([float(task.probs[k]) for k in order])
    assert [r.emphasised for r in rows] == [True, False]
    assert panel.classes.headline.text().startswith(task.labels[order[0]])
    # the task in the model bar and the title; fill-mask and NSP give way to one short note
    assert window.model_bar.task_label.isVisible()
    assert window.model_bar.task_label.text() == "classify: 2 labels" == task_summary(task)
    assert window.windowTitle().endswith("tiny-classify — classify: 2 labels")
    predictions = window.predictions
    assert predictions.heads_note.isVisible() and "task head" in predictions.heads_note.text()
    assert not predictions.scroll.isVisible() and not predictions.nsp_box.isVisible()
    assert predictions.height() < panel.height()
    # live: new text, new probabilities, same rows
    again = analysed(qtbot, window, "Dull and far too long.")
    assert panel.classes.rows == rows
    assert sorted(r.prob for r in rows) == pytest.approx(sorted(again.task.probs.tolist()))
    save_png(window, "classify.png")


def test_multi_label_and_regression_heads(qtbot, window, task_models):
    opened(qtbot, window, task_models["multi_label"])
    task = analysed(qtbot, window, "What a surprise!").task
    rows = window.task_panel.classes.rows
    assert task.kind == "multi_label" and len(rows) == len(EMOTIONS)
    assert all(r.threshold == 0.5 for r in rows)
    assert {r.label: r.prob for r in rows} == pytest.approx(dict(zip(EMOTIONS,
                                                                     task.probs.tolist())))
    assert [r.emphasised for r in rows] == [r.prob >= 0.5 for r in rows]
    assert window.model_bar.task_label.text() == "multi-label: 4 labels"

    opened(qtbot, window, task_models["regress"])
    task = analysed(qtbot, window, "Two sentences that", "mean the same.").task
    panel = window.task_panel
    assert task.kind == "regress" and panel.stack.currentWidget() is panel.value
    assert float(panel.value.value_label.text()) == pytest.approx(task.value, rel=1e-3)


def test_tagger_puts_tags_on_the_chips(qtbot, window, task_models):
    opened(qtbot, window, task_models["tag"])
    an = analysed(qtbot, window, "John Smith lives in Paris near the river Seine.")
    task = an.task
    canvas = window.token_strip.canvas
    assert task.kind == "tag" and canvas.marks.tags == task.tags == chip_marks(an).tags
    assert task.tags[0] is None and task.tags[-1] is None  # [CLS], [SEP]
    # the table lists every word piece's tag; the legend every entity type
    view = window.task_panel.tags
    assert view.shown_tags() == [(tok, tag) for tok, tag in zip(an.tokens, task.tags) if tag]
    assert all(entity in view.legend.text() for entity in ("PER", "LOC"))
    assert window.model_bar.task_label.text() == "tag: 5 tags"
    # the pill under a chip has its entity's colour, and no chip overlaps the pills above it
    image = canvas.grab().toImage()
    tagged = next(i for i, t in enumerate(task.tags) if t and t != "O")
    rect = canvas.rects[tagged]
    row = {image.pixelColor(x, rect.bottom() + 6).name() for x in range(rect.left(), rect.right())}
    assert entity_colour(task.tags[tagged], TAGS).border.name() in row
    lines = sorted({r.top() for r in canvas.rects})
    assert all(b - a >= canvas.line_pitch() for a, b in zip(lines, lines[1:]))
    assert "tag: <b>" in canvas.tooltips[tagged]
    save_png(window, "tag.png")


def test_qa_answer_is_highlighted_in_b_and_on_the_chips(qtbot, window, task_models):
    opened(qtbot, window, task_models["qa"])
    assert "Passage" in window.pair_input.editor_b.placeholderText()
    an = analysed(qtbot, window, "Where does Anna live?",
                  "Anna lives in a small house in Lyon, near the old bridge.")
    answer = an.task.answer
    assert answer is not None and answer.text == an.text_b[answer.char_start:answer.char_end]
    assert window.pair_input.answer_range() == (answer.char_start, answer.char_end)
    marks = window.token_strip.canvas.marks
    assert marks.answer == (answer.token_start, answer.token_end)
    view = window.task_panel.answer
    shown = f"“{answer.text}”" if not answer.no_answer_wins else "No answer"
    assert view.answer_label.text() == shown
    assert f"{answer.score:.2f}" in view.score_label.text()
    assert f"{answer.null_score:.2f}" in view.score_label.text()
    if not answer.no_answer_wins:  # the chip fill is the answer colour
        rect = window.token_strip.canvas.rects[answer.token_start]
        pixel = window.token_strip.canvas.grab().toImage().pixelColor(rect.left() + 4,
                                                                     rect.center().y())
        assert pixel.name() == ANSWER.background.name()
    save_png(window, "qa.png")

    # when "no answer" scores higher, the best span is still marked, in the weaker colour
    weak = replace(answer, null_score=answer.score + 1.0)
    window.state.set_analysis(replace(an, task=replace(an.task, answer=weak)))
    assert view.answer_label.text() == "No answer" and "below" in view.score_label.text()
    assert window.token_strip.canvas.marks.answer_wins is False
    selections = window.pair_input.editor_b.extraSelections()
    char_format = selections[0].format
    assert char_format.background().color().name() == WEAK_ANSWER.background.name()
    save_png(window, "qa-no-answer.png")

    # no sentence B: the hint, and no highlight anywhere
    an = analysed(qtbot, window, "Where does Anna live?", "")
    assert an.task.answer is None
    assert "passage as B" in view.hint_label.text() and view.hint_label.isVisible()
    assert not view.answer_label.isVisible()
    assert window.pair_input.answer_range() is None
    assert window.token_strip.canvas.marks.answer is None


def test_typing_in_b_keeps_the_cursor_while_the_answer_moves(qtbot, window, task_models):
    opened(qtbot, window, task_models["qa"])
    analysed(qtbot, window, "Who built it?", "")
    editor = window.pair_input.editor_b
    editor.setFocus()
    editor.moveCursor(QTextCursor.MoveOperation.End)
    with qtbot.waitSignal(window.sig_analysis_applied, timeout=60_000):
        qtbot.keyClicks(editor, "It was built by Gustave Eiffel in Paris")
    qtbot.waitUntil(lambda: window.state.analysis.text_b == editor.toPlainText(), timeout=60_000)
    answer = window.state.analysis.task.answer
    assert window.pair_input.answer_range() == (answer.char_start, answer.char_end)
    assert editor.textCursor().position() == len(editor.toPlainText())
    assert not editor.textCursor().hasSelection()
    # an edit before the highlight moves it along at once, before the next analysis arrives
    cursor = editor.textCursor()
    cursor.setPosition(0)
    editor.setTextCursor(cursor)
    qtbot.keyClicks(editor, "Yes. ")
    assert window.pair_input.answer_range() == (answer.char_start + 5, answer.char_end + 5)
    assert editor.textCursor().position() == 5
    qtbot.waitUntil(lambda: window.state.analysis.text_b == editor.toPlainText(), timeout=60_000)


def test_back_to_a_pretrained_model_restores_fill_mask_and_nsp(qtbot, window, task_models,
                                                               hf_pretraining_dir):
    opened(qtbot, window, task_models["qa"])
    analysed(qtbot, window, "Who?", "Anna lives in Lyon.")
    assert window.pair_input.answer_range() is not None
    with qtbot.waitSignal(window.sig_analysis_applied, timeout=60_000):
        window.load_model(str(hf_pretraining_dir))
    assert not window.task_panel.isVisible() and window.task_panel.kind is None
    assert not window.model_bar.task_label.isVisible()
    assert window.windowTitle() == f"BERT Explorer — {window.state.model.name}"
    an = analysed(qtbot, window, "The [MASK] sat down.", "It purred.")
    predictions = window.predictions
    assert an.task is None and an.fill_mask and an.nsp_is_next is not None
    assert not predictions.heads_note.isVisible()
    assert predictions.scroll.isVisible() and predictions.nsp_available()
    assert len(predictions.mask_groups) == 1
    assert window.pair_input.answer_range() is None
    assert window.token_strip.canvas.marks == chip_marks(an)
    assert "NSP" in window.pair_input.editor_b.placeholderText()
    # the attention views work on as before
    assert window.state.analysis.attentions.shape[-1] == an.num_tokens
