"""The fill-mask panel keeps its candidate rows from one analysis to the next (issue 25 item 1:
no widgets made per edit) and what a user sees and clicks is still the newest analysis."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402

from explorer.state import ExplorerState  # noqa: E402
from explorer.widgets.predictions import PredictionsPanel  # noqa: E402

pytestmark = pytest.mark.usefixtures("qapp")


@pytest.fixture
def panel(qtbot, tiny_predictor):
    state = ExplorerState()
    state.set_model(tiny_predictor.summary())
    widget = PredictionsPanel(state)
    qtbot.addWidget(widget)
    widget.resize(420, 640)
    widget.show()
    widget.predictor = tiny_predictor
    return widget


def show(panel, text_a: str, text_b: str = ""):
    panel.state.set_texts(text_a, text_b)
    analysis = panel.predictor.analyze(text_a, text_b or None, top_k=5)
    panel.state.set_analysis(analysis)
    return analysis


def test_the_next_analysis_refills_the_same_rows_and_clicks_act_on_it(qtbot, panel):
    show(panel, "the cat sat on the [MASK] .")
    group = panel.mask_groups[0]
    rows = list(group.rows)
    second = show(panel, "a dog ran far away to the [MASK] and back .", "it was late .")
    (prediction,) = second.fill_mask
    assert panel.mask_groups == [group] and group.rows == rows  # kept, not rebuilt
    assert group.title() == f"MASK at position {prediction.position} (sentence A)"
    assert panel.candidate_rows == {prediction.position: rows}
    order = sorted(range(5), key=lambda k: -float(prediction.probs[k]))
    assert [r.token for r in rows] == [prediction.tokens[k] for k in order]
    assert [r.prob for r in rows] == pytest.approx([float(prediction.probs[k]) for k in order])
    assert all(r.old_prob is None and r.arrow == "" for r in rows)
    assert prediction.tokens[order[0]] in rows[0].toolTip()
    # The explain button and the row of the second candidate: the new analysis's token.
    token = rows[1].token
    with qtbot.waitSignal(panel.sig_explain) as explained:
        panel.explain_buttons[prediction.position][1].click()
    assert explained.args == [f"mask:0:{token}"]
    with qtbot.waitSignal(panel.sig_candidate_chosen) as chosen:
        qtbot.mouseClick(rows[1], Qt.MouseButton.LeftButton)
    assert chosen.args == [prediction.position, token]
    assert "[MASK]" not in panel.state.text_a and panel.state.text_b == "it was late ."


def test_another_number_of_masks_builds_the_groups_anew(qtbot, panel):
    show(panel, "the cat sat on the [MASK] .")
    first = panel.mask_groups[0]
    two = show(panel, "the [MASK] sat on the [MASK] .")
    assert len(panel.mask_groups) == 2 and first not in panel.mask_groups
    assert sorted(panel.candidate_rows) == sorted(p.position for p in two.fill_mask)
    assert "2 masked positions" in panel.mask_hint.text()
    show(panel, "no mask here .")
    assert panel.mask_groups == [] and panel.candidate_rows == {}
    assert "No [MASK] in the text" in panel.mask_hint.text()


def test_two_mask_columns_keep_a_readable_bar_in_every_row(qtbot, panel):
    from explorer.widgets.predictions import MIN_BAR_W, MIN_TOKEN_W

    panel.resize(480, 640)  # the fill-mask pane's width in a 1400 x 860 window
    show(panel, "she opened the [MASK] and walked into the [MASK] .")
    qtbot.waitUntil(lambda: all(r.width() > 0 for g in panel.mask_groups for r in g.rows))
    rows = [r for group in panel.mask_groups for r in group.rows]
    assert len(panel.mask_groups) == 2 and rows
    for row in rows:
        token_w, bar_w = row.column_widths(row.width())
        assert bar_w >= MIN_BAR_W and token_w >= MIN_TOKEN_W, (row.width(), token_w, bar_w)
    wide = rows[0].column_widths(600)
    assert wide[0] == 160 and wide[1] > 300  # a wide row keeps the full token column
