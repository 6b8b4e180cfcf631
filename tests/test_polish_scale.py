"""Issue 22, defect 1: one colour scale for every attention view (fixed, auto, log, per-row max),
the colour bar following it, and a default that keeps a 512-token map readable."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import pyqtgraph as pg

from explorer.state import ExplorerState
from explorer.widgets.attention import AttentionPanel
from explorer.widgets.attention_common import visible_mask

PNG_DIR = "/tmp"


def peaked_analysis(tokens: int = 512, n_a: int = 300, seed: int = 0):
    """Two layers x two heads as real BERT maps look at length: about half of each row's weight
    on [CLS] and [SEP], the rest spread thinly; sentence A attends more to itself than to B."""
    rng = np.random.default_rng(seed)
    seq = [None] + [0] * n_a + [None] + [1] * (tokens - n_a - 3) + [None]
    logits = rng.normal(0.0, 1.0, (2, 2, tokens, tokens)).astype(np.float32)
    in_a = np.array([s == 0 for s in seq])
    logits[..., in_a[:, None] & in_a[None, :]] += 1.5
    att = np.exp(logits)
    att /= att.sum(axis=-1, keepdims=True)
    att *= 0.5
    att[..., 0] += 0.3
    att[..., n_a + 1] += 0.2
    return SimpleNamespace(tokens=[f"w{i}" for i in range(tokens)], sequence_ids=seq,
                           special_mask=np.array([s is None for s in seq]), attentions=att,
                           num_tokens=tokens)


@pytest.fixture
def panel(qtbot):
    state = ExplorerState()
    panel = AttentionPanel(state)
    qtbot.addWidget(panel)
    panel.resize(1200, 700)
    panel.show()
    qtbot.waitExposed(panel)
    state.set_analysis(peaked_analysis())
    state.set_selection(layer=1, head=0)
    return panel


def heatmap_luminance(detail) -> float:
    """Mean luminance (0..255) of the detail heatmap's pixels as drawn on screen."""
    pg.QtWidgets.QApplication.processEvents()
    pixels = pg.imageToArray(detail.view.grab().toImage(), copy=True, transpose=False)
    rect = detail.plot.getViewBox().sceneBoundingRect().toRect()
    box = pixels[rect.top() + 2:rect.bottom() - 2, rect.left() + 2:rect.right() - 2, :3]
    return float((box.astype(np.float32) @ np.array([0.299, 0.587, 0.114])).mean())


def test_the_default_scale_makes_a_512_token_map_readable(panel):
    state, detail = panel.state, panel.head_detail
    assert state.colour_scale == "log" and panel.scale_selector.currentData() == "log"
    readable = heatmap_luminance(detail)
    panel.grab().save(f"{PNG_DIR}/polish_scale_log.png")
    state.set_colour_scale("fixed")
    black = heatmap_luminance(detail)
    panel.grab().save(f"{PNG_DIR}/polish_scale_fixed.png")
    assert black < 60, "the 0..1 scale should show what the user saw: a nearly black map"
    assert readable > 2 * black and readable > 60


def test_auto_range_is_the_min_and_max_of_the_cells_the_filter_keeps(panel):
    state, detail, grid = panel.state, panel.head_detail, panel.head_grid
    state.set_colour_scale("auto")
    state.set_filter("AB", True)
    analysis = state.analysis
    kept = visible_mask(analysis, "AB", True)
    data = analysis.attentions[1, 0]
    expected = (float(data[kept].min()), float(data[kept].max()))
    assert expected[1] < float(data.max()), "the greyed cells hold larger weights"
    assert tuple(detail.image.levels) == pytest.approx(expected)
    assert tuple(detail.colorbar.levels()) == pytest.approx(expected)
    layer = analysis.attentions[1]  # [heads, T, T]: the grid shares one range
    grid_expected = (float(layer[:, kept].min()), float(layer[:, kept].max()))
    assert tuple(grid.images[1].levels) == pytest.approx(grid_expected)
    assert tuple(grid.colorbar.levels()) == pytest.approx(grid_expected)
    np.testing.assert_array_equal(detail.image.image, data)  # the pixels stay the weights
    state.set_filter("all", False)
    assert tuple(detail.image.levels) == pytest.approx((float(data.min()), float(data.max())))


def test_log_scale_bar_spans_log10_of_the_kept_range_labelled_in_weights(panel):
    state, detail = panel.state, panel.head_detail
    state.set_filter("BB", True)
    data = panel.state.analysis.attentions[1, 0]
    kept = data[visible_mask(state.analysis, "BB", True)]
    lo, hi = max(float(kept.min()), 1e-4), float(kept.max())
    assert tuple(detail.image.levels) == pytest.approx((lo, hi))
    bar_lo, bar_hi = detail.colorbar.levels()
    assert (bar_lo, bar_hi) == pytest.approx((math.log10(lo), math.log10(hi)))
    labels = [text for value, text in detail.colorbar.axis._tickLevels[0]]
    assert "0.001" in labels and "0.01" in labels
    # the lookup table is logarithmic: the midpoint colour belongs to the geometric mean
    lut = detail.image.lut
    geometric = math.sqrt(lo * hi)
    index = round((geometric - lo) / (hi - lo) * (len(lut) - 1))
    mid = panel.head_detail.colour_map().map(0.5, mode=pg.ColorMap.BYTE)
    np.testing.assert_allclose(lut[index][:3], np.asarray(mid)[:3], atol=3)


def test_per_row_max_puts_every_kept_row_maximum_at_the_top(panel):
    state, detail = panel.state, panel.head_detail
    state.set_colour_scale("row")
    state.set_filter("AA", True)
    kept = visible_mask(state.analysis, "AA", True)
    image = detail.image.image
    rows = np.flatnonzero(kept.any(axis=1))
    np.testing.assert_allclose(np.where(kept, image, -1)[rows].max(axis=1), 1.0, rtol=1e-6)
    assert tuple(detail.colorbar.levels()) == (0.0, 1.0)
    assert detail.plot.titleLabel.text.endswith("÷ row max")


def test_one_choice_changes_every_view_and_the_selector(panel, qtbot):
    state, model = panel.state, panel.model_view
    panel.tabs.setCurrentWidget(model)
    qtbot.waitUntil(lambda: not model._dirty)
    panel.scale_selector.setCurrentIndex(panel.scale_selector.findData("auto"))
    assert state.colour_scale == "auto"
    thumbs = model.thumbs  # [L, N, s, s] max-pooled
    assert tuple(model.image.levels) == pytest.approx((float(thumbs.min()), float(thumbs.max())))
    panel.tabs.setCurrentIndex(0)
    assert panel.head_detail.plot.titleLabel.text.endswith("auto")
    assert panel.head_grid.title.text.endswith("auto")
    assert model.plot.titleLabel.text.endswith("auto")
    state.set_colour_scale("fixed")
    assert panel.scale_selector.currentData() == "fixed"
    assert tuple(panel.head_detail.image.levels) == (0.0, 1.0)
    with pytest.raises(ValueError):
        state.set_colour_scale("sqrt")
