"""The attention views (HeadGrid, ModelView, HeadDetail, filter bar, panel) on real analyses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("pytestqt")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402

from explorer.attention_filter import visible_cells  # noqa: E402
from explorer.state import ATTENTION_FILTERS, MEAN_HEAD, ExplorerState  # noqa: E402
from explorer.widgets.attention import (  # noqa: E402
    AttentionFilterBar, AttentionPanel, HeadDetail, HeadGrid, ModelView,
)
from explorer.widgets.attention_common import LEVELS  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PNG_DIR = Path("/tmp")


@pytest.fixture(scope="module")
def analysis(hf_pretraining_dir):
    from engine.infer import Predictor

    return Predictor.load(hf_pretraining_dir, device="cpu").analyze(
        "The cat sat on the [MASK].", "It purred.")


@pytest.fixture
def state(analysis):
    state = ExplorerState()
    state.set_analysis(analysis)
    return state


def expected_visible(analysis, attention_filter, hide_special):
    return np.asarray(visible_cells(analysis.sequence_ids, analysis.special_mask,
                                    attention_filter, hide_special), dtype=bool)


def greyed(overlay) -> np.ndarray:
    """[H, W] bool: where the overlay paints grey (all False when it is hidden)."""
    if not overlay.isVisible() or overlay.image is None:
        return np.zeros((0, 0), bool)
    return overlay.image[..., 3] > 0


def view_point(widget_view, viewbox, x: float, y: float) -> QPoint:
    """Widget (viewport) pixel of view coordinates (x, y) in ``viewbox``."""
    scene = viewbox.mapViewToScene(QPointF(x, y))
    return widget_view.mapFromScene(scene)


def show(qtbot, widget, w=900, h=700):
    qtbot.addWidget(widget)
    widget.resize(w, h)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_widgets_import_without_torch():
    code = ("import sys; import explorer.widgets.attention; "
            "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.') "
            "or m == 'engine.infer'); print(bad); sys.exit(1 if bad else 0)")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_head_grid_shows_every_head_of_the_selected_layer(qtbot, state, analysis):
    state.set_colour_scale("fixed")  # levels 0..1 (the default log scale: tests/test_polish_scale.py)
    grid = HeadGrid(state)
    qtbot.addWidget(grid)
    layers, heads = analysis.attentions.shape[:2]
    assert len(grid.images) == heads
    assert [p.titleLabel.text for p in grid.plots] == [f"H{h}" for h in range(heads)]
    assert grid.colorbar is not None and tuple(grid.colorbar.levels()) == LEVELS
    for layer in range(layers):
        state.set_selection(layer=layer)
        assert grid.title.text == f"Layer {layer} — heads · 0..1"
        for h, image in enumerate(grid.images):
            np.testing.assert_array_equal(image.image, analysis.attentions[layer, h])
            assert tuple(image.levels) == LEVELS
    items = list(grid.images)
    state.set_analysis(analysis)  # same shape: the items are reused, only setImage'd
    assert grid.images == items


def test_head_grid_click_selects_head(qtbot, state, analysis):
    grid = show(qtbot, HeadGrid(state))
    t = analysis.num_tokens
    for h in (2, 1):
        pos = view_point(grid.view, grid.plots[h].getViewBox(), t / 2, t / 2)
        qtbot.mouseClick(grid.view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
        assert state.head == h
    assert [b.isVisible() for b in grid.head_boxes] == [h == 1 for h in range(len(grid.plots))]


def test_model_view_thumbnails_and_click(qtbot, state, analysis):
    view = show(qtbot, ModelView(state))
    layers, heads = analysis.attentions.shape[:2]
    assert view.grid_shape == (layers, heads)
    for layer in range(layers):
        for h in range(heads):  # 14 tokens: no pooling needed, thumbnails are exact
            np.testing.assert_array_equal(view.thumbnail(layer, h), analysis.attentions[layer, h])
    assert view.plot.getAxis("left").labelText == "layer"
    assert view.plot.getAxis("bottom").labelText == "head"
    qtbot.mouseClick(view.view.viewport(), Qt.MouseButton.LeftButton,
                     pos=view_point(view.view, view.plot.getViewBox(), 3.4, 1.4))
    assert (state.layer, state.head) == (1, 3)
    rect = view.selection_box.rect()
    assert view.selection_box.isVisible()
    assert rect.contains(QPointF(3.4, 1.4)) and rect.width() <= 1.0 and rect.height() <= 1.0


def test_head_detail_mean_and_single_head(qtbot, state, analysis):
    detail = HeadDetail(state)
    qtbot.addWidget(detail)
    state.set_selection(layer=1, head=MEAN_HEAD)
    np.testing.assert_allclose(detail.image.image, analysis.attentions[1].mean(axis=0),
                               rtol=1e-6)
    assert "mean of heads" in detail.plot.titleLabel.text
    state.set_selection(head=2)
    np.testing.assert_array_equal(detail.image.image, analysis.attentions[1, 2])
    assert "head 2" in detail.plot.titleLabel.text
    assert detail.left_axis.tickStrings([0.5, 2.5], 1, 1) == ["[CLS]", "cat"]


@pytest.mark.parametrize("hide_special", [False, True])
@pytest.mark.parametrize("attention_filter", ATTENTION_FILTERS)
def test_filters_grey_exactly_the_excluded_cells(qtbot, state, analysis, attention_filter,
                                                 hide_special):
    grid, detail, model = HeadGrid(state), HeadDetail(state), ModelView(state)
    for w in (grid, detail, model):
        qtbot.addWidget(w)
    state.set_selection(layer=1, head=MEAN_HEAD)
    state.set_filter(attention_filter, hide_special)
    hidden = ~expected_visible(analysis, attention_filter, hide_special)
    t = analysis.num_tokens
    if not hidden.any():
        assert not detail.overlay.isVisible()
    else:
        np.testing.assert_array_equal(greyed(detail.overlay), hidden)
        for overlay in grid.overlays:
            np.testing.assert_array_equal(greyed(overlay), hidden)
        mosaic = greyed(model.overlay)
        step = t + model.gap
        for layer, h in [(0, 0), (1, 3)]:
            np.testing.assert_array_equal(
                mosaic[layer * step:layer * step + t, h * step:h * step + t], hidden)
    # not renormalised: the heatmaps still hold the raw weights, rows still sum to 1
    np.testing.assert_allclose(detail.image.image, analysis.attentions[1].mean(0), rtol=1e-6)
    np.testing.assert_array_equal(grid.images[0].image, analysis.attentions[1, 0])
    np.testing.assert_array_equal(model.thumbnail(1, 3), analysis.attentions[1, 3])


def test_filter_bar_writes_and_follows_state(qtbot, state):
    bar = AttentionFilterBar(state)
    qtbot.addWidget(bar)
    assert bar.buttons["all"].isChecked()
    qtbot.mouseClick(bar.buttons["BA"], Qt.MouseButton.LeftButton)
    assert state.attention_filter == "BA"
    bar.hide_special.setChecked(True)
    assert state.hide_special is True
    state.set_filter("AA", False)
    assert bar.buttons["AA"].isChecked() and not bar.hide_special.isChecked()
    assert [bar.buttons[f].text() for f in ATTENTION_FILTERS] == ["All", "A→A", "A→B", "B→A",
                                                                  "B→B"]


def test_hover_readout_and_query_highlight(qtbot, state, analysis):
    detail = show(qtbot, HeadDetail(state))
    grid = HeadGrid(state)
    qtbot.addWidget(grid)
    state.set_selection(layer=0, head=1)
    row, col = analysis.tokens.index("cat"), analysis.tokens.index("sat")
    weight = analysis.attentions[0, 1, row, col]
    vb = detail.plot.getViewBox()
    qtbot.mouseMove(detail.view.viewport(), view_point(detail.view, vb, col + 0.5, row + 0.5))
    qtbot.waitUntil(lambda: detail.readout.text().startswith("cat -> sat"), timeout=2000)
    assert detail.readout.text() == f"cat -> sat: {weight:.3f}"
    state.set_filter("BB")
    assert detail.readout_for(row, col) == f"cat -> sat: {weight:.3f} (filtered out)"

    assert not detail.query_box.isVisible()
    state.set_selection(query_token=3)
    for box in [detail.query_box, *grid.query_boxes]:
        assert box.isVisible() and box.rect().top() == 3 and box.rect().height() == 1
    qtbot.mouseClick(detail.view.viewport(), Qt.MouseButton.LeftButton,
                     pos=view_point(detail.view, vb, 1.5, 5.5))
    assert state.query_token == 5 and detail.query_box.rect().top() == 5
    state.set_selection(query_token=-1)
    assert not detail.query_box.isVisible() and not grid.query_boxes[0].isVisible()


def test_panel_selectors_lazy_tabs_and_exports(qtbot, analysis, tmp_path):
    state = ExplorerState()
    panel = show(qtbot, AttentionPanel(state), 1300, 720)
    state.set_analysis(analysis)
    layers, heads = analysis.attentions.shape[:2]
    assert panel.layer_spin.maximum() == layers - 1
    assert panel.head_combo.count() == heads + 1
    assert panel.head_combo.itemText(0) == "mean of heads"
    assert panel.head_combo.itemText(1) == "head 0"
    panel.layer_spin.setValue(1)
    panel.head_combo.setCurrentIndex(3)
    assert (state.layer, state.head) == (1, 2)
    state.set_selection(head=MEAN_HEAD, query_token=2)
    assert panel.head_combo.currentIndex() == 0
    # the model tab is hidden: it waits, then catches up when shown
    assert panel.model_view._dirty and panel.model_view.thumbs is None
    panel.tabs.setCurrentWidget(panel.model_view)
    qtbot.waitUntil(lambda: not panel.model_view._dirty)
    assert panel.model_view.grid_shape == (layers, heads)

    panel.tabs.setCurrentIndex(0)
    state.set_filter("AB", False)
    out = panel.export_png(tmp_path / "view.png")
    assert out.stat().st_size > 1000
    panel.grab().save(str(PNG_DIR / "att_panel_heads.png"))
    panel.tabs.setCurrentIndex(1)
    panel.grab().save(str(PNG_DIR / "att_panel_model.png"))

    saved = panel.export_analysis(tmp_path / "analysis.npz")
    with np.load(saved) as data:
        np.testing.assert_array_equal(data["attentions"], analysis.attentions)


def large_analysis(layers=24, heads=16, tokens=512, seed=0):
    rng = np.random.default_rng(seed)
    att = rng.random((layers, heads, tokens, tokens), dtype=np.float32)
    att /= att.sum(axis=-1, keepdims=True)
    n_a = 300
    seq = [None] + [0] * n_a + [None] + [1] * (tokens - n_a - 3) + [None]
    return SimpleNamespace(tokens=[f"w{i}" for i in range(tokens)], sequence_ids=seq,
                           special_mask=np.array([s is None for s in seq]), attentions=att,
                           num_tokens=tokens)


def test_large_synthetic_analysis_updates(qtbot):
    big = large_analysis()
    state = ExplorerState()
    panel = show(qtbot, AttentionPanel(state), 1300, 720)
    state.set_analysis(big)
    state.set_selection(layer=23, head=15, query_token=400)
    state.set_filter("AB", True)
    grid, detail, model = panel.head_grid, panel.head_detail, panel.model_view
    assert len(grid.images) == 16
    np.testing.assert_array_equal(grid.images[15].image, big.attentions[23, 15])
    np.testing.assert_array_equal(detail.image.image, big.attentions[23, 15])
    panel.tabs.setCurrentWidget(model)
    qtbot.waitUntil(lambda: not model._dirty)
    assert model.grid_shape == (24, 16)
    thumb = model.thumbnail(23, 15)
    assert thumb.shape[0] <= 64 and thumb.shape[1] <= 64
    k = model.pool
    expected = big.attentions[23, 15].reshape(512 // k, k, 512 // k, k).max(axis=(1, 3))
    np.testing.assert_array_equal(thumb, expected)
    state.set_selection(layer=0, head=MEAN_HEAD)
    state.set_filter("all", False)
    panel.grab().save(str(PNG_DIR / "att_large_model.png"))
    panel.tabs.setCurrentIndex(0)
    np.testing.assert_allclose(detail.image.image, big.attentions[0].mean(axis=0), rtol=1e-5)
    panel.grab().save(str(PNG_DIR / "att_large_heads.png"))


def test_head_grid_columns_fit_the_panel_shape():
    from explorer.widgets.attention_grid import grid_columns

    assert grid_columns(16, 800, 800) == 4     # square panel: a square grid
    assert grid_columns(12, 300, 700) == 2     # tall, narrow panel: few columns
    assert grid_columns(4, 1000, 200) == 4     # wide strip: one row
    assert grid_columns(1, 50, 50) == 1
