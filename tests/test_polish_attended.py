"""Issue 22, attended tokens: the selected query token's most-attended keys, for a head, the
layer mean and a lab method, without the cells the filter greys out."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.state import MEAN_HEAD, ExplorerState
from explorer.widgets.attended_tokens import HINT, AttendedTokens

pytestmark = pytest.mark.usefixtures("qapp")
TEXT_A, TEXT_B = "The cat sat on the warm mat near the door.", "It purred and slept."


@pytest.fixture
def view(qtbot, tiny_predictor):
    state = ExplorerState()
    state.set_analysis(tiny_predictor.analyze(TEXT_A, TEXT_B))
    widget = AttendedTokens(state)
    qtbot.addWidget(widget)
    widget.resize(500, 400)
    widget.show()
    return widget


def ranked(row: np.ndarray, keys) -> list[int]:
    return sorted(keys, key=lambda k: -row[k])[:15]


def test_without_a_query_token_it_says_how_to_pick_one(view):
    assert view.title.text() == HINT and view.table.rowCount() == 0


def test_the_selected_head_ranks_the_keys_by_weight(view):
    state = view.state
    att = state.analysis.attentions
    state.set_selection(layer=1, head=2, query_token=3)
    row = att[1, 2, 3]
    assert [r[0] for r in view.rows] == ranked(row, range(len(row)))
    assert [r[3] for r in view.rows] == pytest.approx([float(row[k]) for k, *_ in view.rows])
    assert view.table.item(0, 1).text() == state.analysis.tokens[view.rows[0][0]]
    assert state.analysis.tokens[3] in view.title.text() and "head 2" in view.title.text()
    state.set_selection(head=MEAN_HEAD)
    mean = att[1, :, 3].mean(axis=0)
    assert [r[0] for r in view.rows] == ranked(mean, range(len(mean)))
    assert "mean of heads" in view.title.text()


def test_the_filter_keeps_only_its_keys(view):
    state = view.state
    seq = list(state.analysis.sequence_ids)
    state.set_selection(layer=0, head=1, query_token=2)  # a token of sentence A
    state.set_filter("AB", True)  # B's tokens, without [CLS]/[SEP]
    b_keys = [k for k, s in enumerate(seq) if s == 1]
    assert {r[0] for r in view.rows} <= set(b_keys) and {r[2] for r in view.rows} == {"B"}
    assert [r[0] for r in view.rows] == ranked(state.analysis.attentions[0, 1, 2], b_keys)
    state.set_filter("BA")  # the query is in A: nothing of its row is shown
    assert view.rows == [] and "outside the filter" in view.title.text()


def test_a_lab_method_ranks_its_own_map(view, tiny_predictor):
    from engine.lab.maps import explain_maps

    state = view.state
    state.set_selection(layer=1, query_token=4)
    state.set_view_method("rollout")
    maps = explain_maps(tiny_predictor, TEXT_A, TEXT_B, ["rollout"])["rollout"]
    state.add_lab_maps(maps)
    row = maps.maps[1, 4]
    assert [r[0] for r in view.rows] == ranked(row, range(len(row)))
    assert "rollout" in view.title.text()
