"""Issue 25 item 1 leftovers: two [MASK] columns fit the fill-mask pane of the default window
(no explain button under the scroll bar), and the attention views' titles, now set only when
their words change, still follow the selection and the scale."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint

from conftest import analysed, started

pytestmark = pytest.mark.usefixtures("qapp")


@pytest.fixture
def window(qtbot, make_window, hf_pretraining_dir):
    return started(qtbot, make_window, hf_pretraining_dir, (1400, 860))


def test_every_explain_button_of_two_mask_columns_is_inside_the_pane(qtbot, window):
    analysed(qtbot, window, "She opened the [MASK] and walked into the [MASK].",
             "It was dark and quiet inside.")
    panel = window.predictions
    viewport = panel.scroll.viewport()
    assert len(panel.mask_groups) == 2
    buttons = [b for group in panel.mask_groups for b in group.buttons]
    assert buttons
    for button in buttons:
        right = button.mapTo(viewport, QPoint(button.width(), 0)).x()
        assert right <= viewport.width(), (right, viewport.width())
        assert button.width() > button.fontMetrics().horizontalAdvance(button.text())


def test_view_titles_follow_the_head_and_the_scale(qtbot, window):
    analysed(qtbot, window, "The cat sat on the [MASK].", "It purred.")
    detail, grid = window.attention.head_detail, window.attention.head_grid
    assert detail.plot.titleLabel.text == "Layer 0 · mean of heads · log"
    analysed(qtbot, window, "A dog barked at the [MASK].", "")
    assert detail.plot.titleLabel.text == "Layer 0 · mean of heads · log"
    window.state.set_selection(head=1)
    assert detail.plot.titleLabel.text == "Layer 0 · head 1 · log"
    window.state.set_colour_scale("fixed")
    assert detail.plot.titleLabel.text == "Layer 0 · head 1 · 0..1"
    assert grid.title.text == "Layer 0 — heads · 0..1"
