"""Issue 22, keyboard: layers, heads, query token, filters, focus A/B and candidates 1-9 from
the keyboard, each a menu action with its shortcut."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication

from conftest import analysed, started
from explorer.actions import ACTIONS, MENUS
from explorer.state import MEAN_HEAD

pytestmark = pytest.mark.usefixtures("qapp")


@pytest.fixture
def window(qtbot, make_window, hf_pretraining_dir):
    win = started(qtbot, make_window, hf_pretraining_dir, (1400, 860))
    analysed(qtbot, win, "The cat sat on the [MASK].", "It purred.")
    qtbot.waitExposed(win)
    win.activateWindow()
    return win


def press(qtbot, win, shortcut: str) -> None:
    """The key combination as the user types it, on the focused widget."""
    sequence = QKeySequence(shortcut)[0]
    target = QApplication.focusWidget() or win
    qtbot.keyClick(target, sequence.key(), sequence.keyboardModifiers())


def test_layer_head_and_query_token_from_the_keyboard(qtbot, window):
    state = window.state
    window.attention.head_detail.setFocus()
    press(qtbot, window, ACTIONS["next_layer"].shortcut)
    assert state.layer == 1
    press(qtbot, window, ACTIONS["next_layer"].shortcut)
    assert state.layer == 0  # two layers: round again
    press(qtbot, window, ACTIONS["previous_layer"].shortcut)
    assert state.layer == 1
    assert state.head == MEAN_HEAD
    press(qtbot, window, ACTIONS["next_head"].shortcut)
    assert state.head == 0
    press(qtbot, window, ACTIONS["previous_head"].shortcut)
    press(qtbot, window, ACTIONS["previous_head"].shortcut)
    assert state.head == 3  # mean -> last head
    assert window.attention.head_combo.currentData() == 3
    press(qtbot, window, ACTIONS["next_query"].shortcut)
    assert state.query_token == 0
    press(qtbot, window, ACTIONS["next_query"].shortcut)
    assert state.query_token == 1 and window.attention.head_detail.query_box.rect().top() == 1
    press(qtbot, window, ACTIONS["previous_query"].shortcut)
    press(qtbot, window, ACTIONS["previous_query"].shortcut)
    assert state.query_token == state.analysis.num_tokens - 1


def test_filters_cycle_and_skip_b_without_a_sentence_b(qtbot, window):
    state = window.state
    seen = []
    for _ in range(5):
        window.actions["next_filter"].trigger()
        seen.append(state.attention_filter)
    assert seen == ["AA", "AB", "BA", "BB", "all"]
    assert window.attention.filter_bar.buttons["BB"].isChecked() is False
    analysed(qtbot, window, "Only one sentence here.", "")
    window.actions["next_filter"].trigger()
    window.actions["next_filter"].trigger()
    assert state.attention_filter == "all"


def test_focus_a_and_b_and_fill_a_candidate_by_number(qtbot, window):
    press(qtbot, window, ACTIONS["focus_b"].shortcut)
    assert QApplication.focusWidget() is window.pair_input.editor_b
    press(qtbot, window, ACTIONS["focus_a"].shortcut)
    assert QApplication.focusWidget() is window.pair_input.editor_a
    tokens = window.state.analysis.fill_mask[0].tokens
    rank = next(k for k in range(2, 10) if not tokens[k - 1].startswith("##"))  # a whole word
    third = tokens[rank - 1]
    window.attention.head_detail.setFocus()
    with qtbot.waitSignal(window.sig_analysis_applied, timeout=60_000):
        press(qtbot, window, ACTIONS[f"candidate_{rank}"].shortcut)
    assert window.state.text_a == f"The cat sat on the {third}."
    window.actions["candidate_1"].trigger()  # no [MASK] left: a message, no change
    assert "No candidate" in window.statusBar().currentMessage()
    assert window.state.text_a == f"The cat sat on the {third}."


def test_every_navigation_action_is_in_a_menu_with_its_shortcut(window):
    in_menus = {name for names in MENUS.values() for name in names}
    for name in ("previous_layer", "next_layer", "previous_head", "next_head", "previous_query",
                 "next_query", "next_filter", "focus_a", "focus_b", "save_session",
                 "open_session", "toggle_theme", *(f"candidate_{k}" for k in range(1, 10))):
        assert name in in_menus
        action = window.actions[name]
        assert action.shortcut() == QKeySequence(ACTIONS[name].shortcut)
        assert action.shortcut().toString()  # shown beside the menu entry


def test_tab_order_follows_the_panels_as_drawn(qtbot, window):
    """A → B, then (past the left column) the attention controls row by row."""
    editor_a, editor_b = window.pair_input.editor_a, window.pair_input.editor_b
    editor_a.setFocus()
    qtbot.keyClick(editor_a, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is editor_b
    panel = window.attention
    panel.method_selector.setFocus()
    order = []
    for _ in range(4):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        order.append(QApplication.focusWidget())
    assert order[0] is panel.scale_selector
    assert order[1] in (panel.layer_spin, panel.layer_spin.findChild(type(order[1])))
    assert order[2] is panel.head_combo and order[3] is panel.filter_bar.buttons["all"]
