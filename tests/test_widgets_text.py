"""Pair input, token strip and predictions panel, driven offscreen with real analyses.

The analyses come from a real (tiny, random) BertForPreTraining with the bert-base-uncased
vocab; the widgets themselves never import torch (checked in a subprocess).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtGui import QTextCursor  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from explorer import text_edits as te  # noqa: E402
from engine.results import Analysis, ModelSummary  # noqa: E402
from explorer.state import ExplorerState  # noqa: E402
from explorer.widgets.pair_input import PairInput  # noqa: E402
from explorer.widgets.predictions import PredictionsPanel  # noqa: E402
from explorer.widgets.token_strip import STYLES, TokenStrip  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PNG_DIR = Path("/tmp/widgets_text_png")


# ----- fixtures ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def predictor(hf_pretraining_dir):
    from engine.infer import Predictor

    return Predictor.load(hf_pretraining_dir, device="cpu")


def model_info(predictor, capabilities=None) -> ModelSummary:
    summary = predictor.summary()
    if capabilities is None:
        return summary
    return dataclasses.replace(summary, capabilities=frozenset(capabilities))


@pytest.fixture
def state(predictor):
    s = ExplorerState()
    s.set_model(model_info(predictor))
    return s


def analyze(state: ExplorerState, predictor, a: str | None = None, b: str | None = None, top_k=5):
    """What the main window does after its debounce: set texts (if given), analyse, publish."""
    if a is not None:
        state.set_texts(a, b or "")
    analysis = predictor.analyze(state.text_a, state.text_b or None, top_k=top_k)
    state.set_analysis(analysis)
    return analysis


def save_png(widget, name: str) -> Path:
    PNG_DIR.mkdir(parents=True, exist_ok=True)
    QApplication.processEvents()  # let posted layout requests run, as the event loop would
    path = PNG_DIR / name
    assert widget.grab().save(str(path))
    return path


def click_chip(qtbot, strip: TokenStrip, index: int, double: bool = False) -> None:
    center = strip.canvas.rects[index].center()
    if double:
        qtbot.mouseDClick(strip.canvas, Qt.MouseButton.LeftButton, pos=center)
    else:
        qtbot.mouseClick(strip.canvas, Qt.MouseButton.LeftButton, pos=center)


# ----- pure text helpers ------------------------------------------------------------------

def fake_analysis(text_a, text_b, tokens, offsets, word_ids, sequence_ids):
    return SimpleNamespace(text_a=text_a, text_b=text_b, tokens=tokens,
                           offsets=np.asarray(offsets).reshape(-1, 2), word_ids=word_ids,
                           sequence_ids=sequence_ids)


def test_word_span_covers_all_pieces_of_the_word():
    an = fake_analysis("hi unbelievably", "the token", [
        "[CLS]", "hi", "un", "##bel", "##ievably", "[SEP]", "the", "token", "[SEP]"],
        [(0, 0), (0, 2), (3, 5), (5, 8), (8, 15), (0, 0), (0, 3), (4, 9), (0, 0)],
        [None, 0, 1, 1, 1, None, 0, 1, None], [None, 0, 0, 0, 0, None, 1, 1, None])
    assert te.word_span(an, 3) == (0, 3, 15)
    assert te.word_span(an, 2) == (0, 3, 15)
    assert te.word_span(an, 1) == (0, 0, 2)
    assert te.word_span(an, 7) == (1, 4, 9)  # word id 1 of B, not of A
    assert te.word_span(an, 0) is None and te.word_span(an, 5) is None
    assert te.word_span(an, 99) is None


def test_mask_ordinal_and_nth_mask():
    an = fake_analysis("[MASK] a [MASK]", "[MASK]", [
        "[CLS]", "[MASK]", "a", "[MASK]", "[SEP]", "[MASK]", "[SEP]"],
        [(0, 0), (0, 6), (7, 8), (9, 15), (0, 0), (0, 6), (0, 0)],
        [None, 0, 1, 2, None, 0, None], [None, 0, 0, 0, None, 1, None])
    assert te.mask_ordinal(an, 1) == (0, 0)
    assert te.mask_ordinal(an, 3) == (0, 1)
    assert te.mask_ordinal(an, 5) == (1, 0)
    assert te.mask_ordinal(an, 2) is None
    assert te.nth_mask_span("[MASK] a [MASK]", 1) == (9, 15)
    assert te.nth_mask_span("[MASK] a [MASK]", 2) is None
    assert te.nth_mask_span("no masks", 0) is None


def test_replace_nth_mask_and_word_piece_glue():
    assert te.replace_nth_mask("a [MASK] b [MASK] c", 1, "dog") == "a [MASK] b dog c"
    assert te.replace_nth_mask("a [MASK] b", 0, "##ing") == "aing b"
    assert te.replace_nth_mask("play [MASK] now", 0, "##ing") == "playing now"
    assert te.replace_nth_mask("[MASK] now", 0, "##ing") == "ing now"
    assert te.replace_nth_mask("line\n[MASK] x", 0, "##s") == "line\ns x"  # no gluing over lines
    assert te.replace_nth_mask("a [MASK]", 0, "##") == "a ##"  # a bare "##" is a token itself
    assert te.replace_nth_mask("a [MASK]", 3, "x") is None
    assert te.insert_candidate("go [MASK]!", 3, 9, "home") == ("go home!", 3, 7)


def test_word_at_and_selection():
    text = "The cat's  [MASK] sat-down."
    assert te.word_at(text, 5) == (4, 9)       # inside "cat's"
    assert te.word_at(text, 3) == (0, 3)       # just after "The"
    assert te.word_at(text, 10) is None        # between two blanks
    assert te.word_at(text, 13) == (11, 17)    # inside [MASK]
    assert te.word_at(text, 19) == (18, 26)    # "sat-down"
    assert te.word_at("", 0) is None
    assert te.selection_word_span(text, 4, 7) == (4, 7)           # a selection as selected
    assert te.selection_word_span(text, 3, 10) == (4, 9)          # blanks trimmed
    assert te.selection_word_span(text, 5, 5) == (4, 9)           # no selection: the word
    assert te.selection_word_span("😀 hi", 2, 2) == (2, 4)


def test_diff_region():
    assert te.diff_region("abc", "abc") == (3, 3, 3)
    assert te.diff_region("a cat sat", "a dog sat") == (2, 5, 5)
    assert te.diff_region("aaa", "aaaa") == (3, 3, 4)
    assert te.diff_region("", "x") == (0, 0, 1)


def test_mask_memory_follows_edits_and_restores():
    memory = te.MaskMemory()
    text = "the quick fox jumps"
    masked = memory.mask_word(text, 0, 4, 9)
    assert masked == "the [MASK] fox jumps"
    masked2 = memory.mask_word(masked, 0, 15, 20)  # "jumps"
    assert masked2 == "the [MASK] fox [MASK]"
    # an edit before both masks shifts them
    edited = "so " + masked2
    memory.track(0, masked2, edited)
    assert memory.lookup(0, 7) == "quick" and memory.lookup(0, 18) == "jumps"
    restored = memory.restore(edited, 0, 18)
    assert restored == "so the [MASK] fox jumps"
    assert memory.restore(restored, 0, 7) == "so the quick fox jumps"
    assert len(memory) == 0
    # an edit that touches a [MASK] forgets it; the other segment is unaffected
    text = memory.mask_word("a b", 0, 0, 1)
    memory.mask_word("x y", 1, 2, 3)
    memory.track(0, text, text.replace("[MASK]", "[MASKED]"))
    assert memory.lookup(0, 0) is None and memory.lookup(1, 2) == "y"
    assert memory.restore("nothing here", 1, 2) is None


def test_format_and_notice_and_utf16():
    assert te.format_percent(0.4213) == "42.1%"
    assert te.format_percent(0.0307) == "3.07%"
    assert te.format_percent(0.000053) == "0.0053%"
    assert te.format_percent(1.0) == "100%"
    assert te.format_percent(0.0) == "0%"
    assert te.truncation_notice(0, 0, 512) == ""
    assert te.truncation_notice(37, 12, 512) == \
        "Truncated: 37 tokens of A and 12 of B did not fit 512 positions"
    assert te.truncation_notice(1, 0, 64) == "Truncated: 1 token of A did not fit 64 positions"
    assert te.truncation_notice(0, 5, 64) == "Truncated: 5 tokens of B did not fit 64 positions"
    text = "a😀b"
    assert [te.to_utf16(text, i) for i in range(4)] == [0, 1, 3, 4]
    assert [te.from_utf16(text, p) for p in (0, 1, 3, 4)] == [0, 1, 2, 3]


# ----- no torch in the widgets ------------------------------------------------------------

def test_widget_modules_do_not_import_torch():
    code = ("import sys\n"
            "import explorer.text_edits, explorer.widgets.pair_input, "
            "explorer.widgets.token_strip, explorer.widgets.predictions, "
            "explorer.widgets.task_panel, explorer.widgets.task_chips\n"
            "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.') "
            "or m == 'engine.infer')\n"
            "assert not bad, bad\n"
            "print('ok')\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


# ----- token strip ------------------------------------------------------------------------

def test_token_strip_chips_follow_the_analysis(qtbot, state, predictor):
    strip = TokenStrip(state)
    qtbot.addWidget(strip)
    strip.resize(640, 220)
    strip.show()
    an = analyze(state, predictor, "Hello unbelievably [MASK] world 😀!", "The cat sat.")
    canvas = strip.canvas
    assert canvas.tokens == an.tokens
    assert len(canvas.rects) == an.num_tokens
    kinds = canvas.kinds
    assert kinds[0] == "special" and kinds[an.tokens.index("[SEP]")] == "special"
    assert kinds[an.tokens.index("[MASK]")] == "mask"
    assert kinds[an.tokens.index("[UNK]")] == "unk"
    assert kinds[an.tokens.index("hello")] == "A" and kinds[an.tokens.index("cat")] == "B"
    assert STYLES["A"].background != STYLES["B"].background
    # ## pieces sit flush against the chip before them
    piece = next(i for i, t in enumerate(an.tokens) if t.startswith("##"))
    assert canvas.joined[piece]
    assert canvas.rects[piece].left() == canvas.rects[piece - 1].right() + 1
    assert not canvas.joined[1]
    assert "position" in canvas.tooltips[1] and "id 7592" in canvas.tooltips[1]
    assert "segment B" in canvas.tooltips[an.tokens.index("cat")]
    assert strip.count_label.text() == f"{an.num_tokens} tokens (A 10, B 4)"
    assert not strip.notice.isVisible()
    # the pixels really are the segment colours
    image = canvas.grab().toImage()
    for token, kind in (("hello", "A"), ("cat", "B")):
        rect = canvas.rects[an.tokens.index(token)]
        colour = image.pixelColor(rect.left() + 3, rect.center().y())
        assert colour.name() == STYLES[kind].background.name()
    save_png(strip, "token_strip.png")


def test_token_strip_click_selects_and_toggles(qtbot, state, predictor):
    strip = TokenStrip(state)
    qtbot.addWidget(strip)
    strip.resize(600, 200)
    strip.show()
    analyze(state, predictor, "The quick brown fox", "It ran away.")
    with qtbot.waitSignal(state.sig_selection_changed):
        click_chip(qtbot, strip, 2)
    assert state.query_token == 2 and strip.canvas.selected == 2
    click_chip(qtbot, strip, 3)
    assert state.query_token == 3 and strip.canvas.selected == 3
    click_chip(qtbot, strip, 3)
    assert state.query_token == -1 and strip.canvas.selected == -1
    state.set_selection(query_token=5)  # from elsewhere
    assert strip.canvas.selected == 5
    # a click outside every chip changes nothing
    qtbot.mouseClick(strip.canvas, Qt.MouseButton.LeftButton,
                     pos=QPoint(strip.canvas.width() - 3, strip.canvas.height() - 3))
    assert state.query_token == 5


def test_token_strip_double_click_masks_whole_word_and_restores(qtbot, state, predictor):
    strip = TokenStrip(state)
    qtbot.addWidget(strip)
    strip.resize(700, 220)
    strip.show()
    an = analyze(state, predictor, "Tokenization is unbelievably fun", "Really unbelievably fun.")
    piece = next(i for i, t in enumerate(an.tokens)
                 if t.startswith("##") and an.sequence_ids[i] == 1)  # a piece in sentence B
    click_chip(qtbot, strip, piece, double=True)
    assert state.text_a == "Tokenization is unbelievably fun"
    assert state.text_b == "Really [MASK] fun."
    an = analyze(state, predictor)
    mask = an.tokens.index("[MASK]")
    assert strip.canvas.kinds[mask] == "mask"
    # an unrelated edit before the mask: the restore still finds its word
    state.set_texts(state.text_a, "So really [MASK] fun.")
    an = analyze(state, predictor)
    click_chip(qtbot, strip, an.tokens.index("[MASK]"), double=True)
    assert state.text_b == "So really unbelievably fun."
    # mask a word of A (first piece), then restore
    an = analyze(state, predictor)
    click_chip(qtbot, strip, an.tokens.index("token"), double=True)
    assert state.text_a == "[MASK] is unbelievably fun"
    an = analyze(state, predictor)
    click_chip(qtbot, strip, 1, double=True)
    assert state.text_a == "Tokenization is unbelievably fun"
    # [CLS] and a typed [MASK] without a remembered word do nothing
    an = analyze(state, predictor, "a [MASK] b")
    before = (state.text_a, state.text_b)
    assert not strip.mask_or_restore(0)
    assert not strip.mask_or_restore(an.tokens.index("[MASK]"))
    assert (state.text_a, state.text_b) == before
    # a stale analysis (text edited since) is not used to edit the text
    state.set_texts("a different text", "")
    assert not strip.mask_or_restore(1)
    assert state.text_a == "a different text"


def test_token_strip_truncation_notice(qtbot, state, predictor):
    strip = TokenStrip(state)
    qtbot.addWidget(strip)
    strip.resize(700, 400)
    strip.show()
    an = analyze(state, predictor, " ".join(["word"] * 80), " ".join(["other"] * 70))
    assert an.truncated_a > 0 and an.truncated_b > 0
    assert strip.notice.isVisible()
    assert strip.notice.text() == (f"Truncated: {an.truncated_a} tokens of A and "
                                   f"{an.truncated_b} of B did not fit 64 positions")
    save_png(strip, "token_strip_truncated.png")
    analyze(state, predictor, "short", "")
    assert not strip.notice.isVisible()


def _big_analysis(n: int, seed: int) -> Analysis:
    rng = np.random.default_rng(seed)
    words = ["the", "model", "##ing", "[MASK]", "[UNK]", "attention", "##s", "a", "."]
    half = n // 2
    tokens = ["[CLS]", *rng.choice(words, half - 2).tolist(), "[SEP]",
              *rng.choice(words, n - half - 1).tolist(), "[SEP]"]
    seq = [None, *[0] * (half - 2), None, *[1] * (n - half - 1), None]
    tokens[1] = "the"
    return Analysis(
        text_a="x", text_b="y", tokens=tokens, token_ids=np.arange(n),
        token_type_ids=np.array([0 if s == 0 or i < half else 1 for i, s in enumerate(seq)]),
        positions=np.arange(n), special_mask=np.array([s is None for s in seq]),
        offsets=np.zeros((n, 2), dtype=np.int64),
        word_ids=[None if s is None else i for i, s in enumerate(seq)], sequence_ids=seq,
        attentions=np.full((1, 1, n, n), 1 / n, dtype=np.float32), fill_mask=[],
        nsp_is_next=None, truncated_a=0, truncated_b=0, warnings=(), elapsed_ms=0.0,
        device="cpu")


def test_token_strip_512_tokens_update_fast(qtbot, state):
    strip = TokenStrip(state)
    qtbot.addWidget(strip)
    strip.resize(900, 500)
    strip.show()
    state.set_analysis(_big_analysis(512, 0))  # warm-up
    strip.canvas.repaint()
    timings = []
    for seed in range(1, 6):
        start = time.perf_counter()
        state.set_analysis(_big_analysis(512, seed))
        strip.canvas.repaint()  # layout + a full synchronous paint
        timings.append(time.perf_counter() - start)
    assert len(strip.canvas.rects) == 512
    print("512-chip update+paint ms:", [round(t * 1000, 1) for t in timings])
    assert sorted(timings)[len(timings) // 2] < 0.1, timings
    # every chip inside the canvas, no overlaps on a line
    width = strip.canvas.width()
    assert all(r.right() < width for r in strip.canvas.rects)
    save_png(strip, "token_strip_512.png")


# ----- predictions ------------------------------------------------------------------------

def test_predictions_candidates_per_mask_sorted_and_clickable(qtbot, state, predictor):
    panel = PredictionsPanel(state)
    qtbot.addWidget(panel)
    panel.resize(420, 640)
    panel.show()
    an = analyze(state, predictor, "The [MASK] sat on the [MASK].", "It was [MASK] happy.")
    positions = [p.position for p in an.fill_mask]
    assert len(positions) == 3
    assert [g.title().split(" (")[0] for g in panel.mask_groups] == \
        [f"MASK at position {p}" for p in positions]
    for p in an.fill_mask:
        rows = panel.candidate_rows[p.position]
        assert len(rows) == 5
        probs = [r.prob for r in rows]
        assert probs == sorted(probs, reverse=True)
        assert [r.token for r in rows] == list(p.tokens)
    assert "3 masked positions" in panel.mask_hint.text()
    save_png(panel, "predictions.png")
    # click the second candidate of the second [MASK] of A
    row = panel.candidate_rows[positions[1]][1]
    token = row.token
    with qtbot.waitSignal(panel.sig_candidate_chosen) as blocker:
        qtbot.mouseClick(row, Qt.MouseButton.LeftButton)
    assert blocker.args == [positions[1], token]
    expected = te.replace_nth_mask("The [MASK] sat on the [MASK].", 1, token)
    assert state.text_a == expected and state.text_b == "It was [MASK] happy."
    # the [MASK] of B: the first [MASK] of B
    row = panel.candidate_rows[positions[2]][0]
    qtbot.mouseClick(row, Qt.MouseButton.LeftButton)
    assert state.text_b == te.replace_nth_mask("It was [MASK] happy.", 0, row.token)
    assert "[MASK]" not in state.text_b


def test_predictions_word_piece_candidate_glues(qtbot, state, predictor):
    panel = PredictionsPanel(state)
    qtbot.addWidget(panel)
    analyze(state, predictor, "play [MASK] now")
    assert panel.apply_candidate(state.analysis.fill_mask[0].position, "##ing")
    assert state.text_a == "playing now"


def test_predictions_hint_without_mask_and_nsp_states(qtbot, state, predictor):
    panel = PredictionsPanel(state)
    qtbot.addWidget(panel)
    panel.resize(420, 400)
    panel.show()
    analyze(state, predictor, "No mask here.")
    assert panel.mask_groups == []
    assert panel.mask_hint.isVisible() and "No [MASK] in the text" in panel.mask_hint.text()
    assert not panel.nsp_available()
    assert "sentence B" in panel.nsp_reason.text() and panel.nsp_reason.isVisible()
    save_png(panel, "predictions_no_b.png")

    an = analyze(state, predictor, "The man went to the store.", "He bought milk.")
    assert panel.nsp_available() and not panel.nsp_reason.isVisible()
    assert panel.nsp_bar.is_next == pytest.approx(an.nsp_is_next)
    assert te.format_percent(an.nsp_is_next) in panel.nsp_bar.toolTip()
    save_png(panel, "predictions_nsp.png")

    # a model without NSP/MLM heads: the reasons come from the analysis notes
    headless = dataclasses.replace(
        _big_analysis(8, 0), fill_mask=[], nsp_is_next=None,
        notes=("this model has no MLM head, so it cannot fill in [MASK]",
               "this model has no NSP head"))
    state.set_model(model_info(predictor, capabilities={"attention"}))
    state.set_analysis(headless)
    assert not panel.nsp_available()
    assert panel.nsp_reason.text() == "This model has no NSP head"
    assert panel.mask_hint.text() == "This model has no MLM head, so it cannot fill in [MASK]"
    # no notes at all: the model's capabilities give the reason
    state.set_analysis(dataclasses.replace(headless, notes=()))
    assert panel.nsp_reason.text() == "This model has no NSP head."
    state.set_analysis(None)
    assert not panel.nsp_available() and panel.mask_groups == []


# ----- pair input -------------------------------------------------------------------------

def test_pair_input_edits_reach_the_state_and_back(qtbot, state):
    pair = PairInput(state)
    qtbot.addWidget(pair)
    pair.show()
    qtbot.keyClicks(pair.editor_a, "hello world")
    assert state.text_a == "hello world" and state.text_b == ""
    qtbot.keyClicks(pair.editor_b, "second")
    assert state.text_b == "second"
    # a change from elsewhere: editors follow, the cursor stays where it was
    cursor = pair.editor_a.textCursor()
    cursor.setPosition(2)
    pair.editor_a.setTextCursor(cursor)
    emitted = []
    state.sig_texts_changed.connect(lambda a, b: emitted.append((a, b)))
    state.set_texts("hello [MASK]", "second")
    assert pair.editor_a.toPlainText() == "hello [MASK]"
    assert pair.editor_a.textCursor().position() == 2
    assert emitted == [("hello [MASK]", "second")]  # no echo back into the state
    state.set_texts("oh, hello [MASK]", "")
    assert pair.editor_a.textCursor().position() == 6  # moved with the inserted text
    assert pair.editor_b.toPlainText() == ""
    assert emitted[-1] == ("oh, hello [MASK]", "")
    assert (state.text_a, state.text_b) == ("oh, hello [MASK]", "")
    # emoji: Qt counts UTF-16 units, the state Python characters
    state.set_texts("😀 a b", "")
    cursor = pair.editor_a.textCursor()
    cursor.setPosition(3)  # right after "😀 "
    pair.editor_a.setTextCursor(cursor)
    qtbot.keyClicks(pair.editor_a, "x")
    assert state.text_a == "😀 xa b"


def test_pair_input_swap_and_clear_b(qtbot, state):
    pair = PairInput(state)
    qtbot.addWidget(pair)
    pair.show()
    state.set_texts("first sentence", "second sentence")
    qtbot.mouseClick(pair.swap_button, Qt.MouseButton.LeftButton)
    assert (state.text_a, state.text_b) == ("second sentence", "first sentence")
    assert pair.editor_a.toPlainText() == "second sentence"
    assert pair.editor_b.toPlainText() == "first sentence"
    qtbot.mouseClick(pair.clear_b_button, Qt.MouseButton.LeftButton)
    assert (state.text_a, state.text_b) == ("second sentence", "")
    assert pair.editor_b.toPlainText() == ""
    save_png(pair, "pair_input.png")


def test_pair_input_ctrl_m_masks_selected_word(qtbot, state):
    pair = PairInput(state)
    qtbot.addWidget(pair)
    pair.show()
    qtbot.waitExposed(pair)
    pair.activateWindow()
    state.set_texts("The quick brown fox", "jumps over the dog")
    pair.editor_b.setFocus()
    cursor = pair.editor_b.textCursor()
    cursor.setPosition(8)  # inside "over"
    pair.editor_b.setTextCursor(cursor)
    qtbot.waitUntil(pair.editor_b.hasFocus)
    qtbot.keyClick(pair.editor_b, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    assert state.text_b == "jumps [MASK] the dog"
    assert state.text_a == "The quick brown fox"
    assert pair.editor_b.textCursor().position() == len("jumps [MASK]")
    # a selection in A, through the button (which takes no focus away from the editor)
    pair.editor_a.setFocus()
    qtbot.waitUntil(pair.editor_a.hasFocus)
    cursor = pair.editor_a.textCursor()
    cursor.setPosition(4)
    cursor.setPosition(15, QTextCursor.MoveMode.KeepAnchor)  # "quick brown"
    pair.editor_a.setTextCursor(cursor)
    qtbot.mouseClick(pair.mask_button, Qt.MouseButton.LeftButton)
    assert state.text_a == "The [MASK] fox"
    # on a [MASK] or in blank space: nothing
    assert not pair.mask_selected_word()
    state.set_texts("   ", "")
    assert not pair.mask_selected_word()
    assert state.text_a == "   "


# ----- odd input, all widgets together ----------------------------------------------------

ODD = [
    ("", ""),
    ("x" * 5000, ""),
    ("word " * 1000, "more " * 1000),
    ("😀🎉 emoji 👍🏽 family 👨‍👩‍👧 [MASK]", "日本語のテキスト [MASK] 中文"),
    ("control\x00\x01\x07chars\ttab\r\nnewline\u200b\u202e rtl", "\x1b[31mred\x1b[0m"),
    ("[MASK]" * 40, "[MASK] " * 40),
    ("[MASK]", ""),
    ("   ", "   "),
]


@pytest.mark.parametrize("a,b", ODD, ids=range(len(ODD)))
def test_odd_inputs_render_without_errors(qtbot, state, predictor, a, b):
    pair, strip, panel = PairInput(state), TokenStrip(state), PredictionsPanel(state)
    for w, size in ((pair, (500, 200)), (strip, (600, 300)), (panel, (400, 500))):
        qtbot.addWidget(w)
        w.resize(*size)
        w.show()
    an = analyze(state, predictor, a, b)
    assert pair.editor_a.toPlainText() == state.text_a or "\r" in a or "\x00" in a
    assert len(strip.canvas.rects) == an.num_tokens
    assert len(panel.mask_groups) == min(len(an.fill_mask), 24)
    for w in (pair, strip, panel):
        assert not w.grab().isNull()
    for i in range(an.num_tokens):  # every chip can be selected and double-clicked
        strip.toggle_token(i)
    strip.mask_or_restore(an.num_tokens - 2)
    if an.fill_mask:
        panel.apply_candidate(an.fill_mask[-1].position, an.fill_mask[-1].tokens[0])
    analyze(state, predictor)


def test_render_all_widgets_with_real_data(qtbot, state, predictor):
    pair, strip, panel = PairInput(state), TokenStrip(state), PredictionsPanel(state)
    for w, size in ((pair, (560, 190)), (strip, (560, 220)), (panel, (380, 620))):
        qtbot.addWidget(w)
        w.resize(*size)
        w.show()
    analyze(state, predictor, "The quick brown fox jumps over the [MASK] dog. Tokenization "
                              "isn't unbelievably hard 😀!", "Then it [MASK] away quickly.")
    state.set_selection(query_token=3)
    paths = [save_png(pair, "all_pair_input.png"), save_png(strip, "all_token_strip.png"),
             save_png(panel, "all_predictions.png")]
    assert all(p.stat().st_size > 1000 for p in paths)
