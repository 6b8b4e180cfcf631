"""The analysis lab in the real explorer window, offscreen: the method selector over the three
attention views, the salience panel and chips, cancellation by an edit, exports."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from conftest import analysed, started
from engine.paths import default_model_dir
from explorer.inference_worker import ExplainMaps, ExplainSalience
from explorer.state import MEAN_HEAD

pytestmark = pytest.mark.usefixtures("qapp")

PAIR = ("The keeper lit the [MASK] every night.", "Ships relied on its light.")


@pytest.fixture
def window(qtbot, make_window, hf_pretraining_dir):
    return started(qtbot, make_window, hf_pretraining_dir)


@pytest.fixture
def default_window(qtbot, make_window):
    return started(qtbot, make_window, default_model_dir())


def with_maps(qtbot, win, method: str):
    win.state.set_view_method(method)
    qtbot.waitUntil(lambda: method in win.state.lab_maps, timeout=60_000)
    return win.state.lab_maps[method]


def shown_tiles(win) -> list[np.ndarray]:
    return [image.image for image in win.attention.head_grid.images]


def test_switching_method_updates_all_three_views(qtbot, window):
    analysis = analysed(qtbot, window, *PAIR)
    panel = window.attention
    window.state.set_selection(layer=1, head=2)
    layers, heads = analysis.attentions.shape[:2]

    alti = with_maps(qtbot, window, "alti")
    assert alti.maps.shape == (layers, analysis.num_tokens, analysis.num_tokens)
    tiles = shown_tiles(window)  # one tile per layer, cumulative
    assert len(tiles) == layers
    for layer, tile in enumerate(tiles):
        np.testing.assert_array_equal(tile, alti.maps[layer])
    np.testing.assert_array_equal(panel.head_detail.data, alti.maps[1])
    assert "ALTI" in panel.head_detail.plot.titleLabel.text
    assert not panel.head_combo.isEnabled()
    panel.tabs.setCurrentWidget(panel.model_view)
    assert panel.model_view.grid_shape == (1, layers)  # one row of layers
    window.state.set_selection(layer=0)
    np.testing.assert_array_equal(panel.model_view.thumbnail(0, 1), alti.maps[1])
    panel.tabs.setCurrentIndex(0)

    norm = with_maps(qtbot, window, "norm")
    assert panel.method_selector.currentData() == "norm"
    tiles = shown_tiles(window)  # per head again, of the selected layer
    assert len(tiles) == heads
    for head, tile in enumerate(tiles):
        np.testing.assert_array_equal(tile, norm.maps[0, head])
    np.testing.assert_array_equal(panel.head_detail.data, norm.maps[0, 2])
    assert panel.head_combo.isEnabled()
    window.state.set_selection(head=MEAN_HEAD)
    np.testing.assert_allclose(panel.head_detail.data, norm.maps[0].mean(axis=0))

    window.state.set_view_method("raw")  # back: the analysis' own attention, no new request
    for head, tile in enumerate(shown_tiles(window)):
        np.testing.assert_array_equal(tile, analysis.attentions[0, head])
    panel.tabs.setCurrentWidget(panel.model_view)
    assert panel.model_view.grid_shape == (layers, heads)


def test_each_method_says_what_it_means(window):
    selector = window.attention.method_selector
    tips = [selector.itemData(i, 3) for i in range(selector.count())]  # Qt.ToolTipRole
    assert len(set(tips)) == selector.count() and all("attention" in t or "ALTI" in t
                                                       for t in tips)
    selector.setCurrentIndex(selector.findData("rollout"))
    assert window.state.view_method == "rollout" and "Abnar" in selector.toolTip()


def test_raw_attention_asks_the_worker_for_nothing_more(qtbot, window, monkeypatch):
    kinds = []
    submit = window.worker.submit
    monkeypatch.setattr(window.worker, "submit", lambda r: (kinds.append(type(r)), submit(r)))
    analysed(qtbot, window, "A plain [MASK] sentence.", "")
    qtbot.wait(200)
    assert ExplainMaps not in kinds and ExplainSalience not in kinds
    assert window.state.lab_maps == {}


def test_a_new_text_brings_maps_of_the_new_analysis(qtbot, window):
    with_maps(qtbot, window, "rollout")
    analysis = analysed(qtbot, window, "Another text, longer than the one before it.", "")
    qtbot.waitUntil(lambda: "rollout" in window.state.lab_maps, timeout=60_000)
    assert window.state.lab_maps["rollout"].tokens == analysis.tokens
    assert window.attention.head_detail.data.shape == (analysis.num_tokens,) * 2


def explain_top_candidate(qtbot, win, steps: int = 8):
    win.salience_panel.steps_spin.setValue(steps)
    position = win.state.analysis.fill_mask[0].position
    win.predictions.explain_buttons[position][0].click()
    qtbot.waitUntil(lambda: win.state.salience is not None, timeout=60_000)
    return win.state.salience


def test_explain_on_a_candidate_colours_the_chips_and_lists_the_scores(qtbot, window):
    analysis = analysed(qtbot, window, *PAIR)
    top = analysis.fill_mask[0].tokens[int(np.argmax(analysis.fill_mask[0].probs))]
    salience = explain_top_candidate(qtbot, window)
    assert salience.method == "ig" and salience.target == f"mask:0:{top}"
    assert salience.tokens == analysis.tokens
    fills = window.token_strip.canvas.score_fills
    assert len(fills) == analysis.num_tokens
    strongest = int(np.argmax(np.abs(salience.scores)))
    assert fills[strongest] != fills[0]  # [CLS] is kept in the baseline: score 0, white
    assert window.token_strip.legend.isVisible()
    table = window.salience_panel.table
    assert table.rowCount() == analysis.num_tokens
    assert float(table.item(strongest, 1).text()) == pytest.approx(salience.scores[strongest],
                                                                   abs=1e-4)
    assert "delta" in window.salience_panel.result_label.text()
    assert f"score: {salience.scores[strongest]:+.4f}" in \
        window.token_strip.canvas.tooltips[strongest]


def test_a_plain_click_still_writes_the_candidate_and_drops_the_colours(qtbot, window):
    analysis = analysed(qtbot, window, *PAIR)
    explain_top_candidate(qtbot, window)
    position = analysis.fill_mask[0].position
    row = window.predictions.candidate_rows[position][1]
    row.click()
    assert "[MASK]" not in window.state.text_a and row.token.lstrip("#") in window.state.text_a
    assert window.state.salience is None and window.token_strip.canvas.score_fills is None
    # The live rerun on the new text has no [MASK] to explain: it says so, chips stay plain.
    qtbot.waitUntil(lambda: "no [MASK]" in window.salience_panel.status_label.text(),
                    timeout=60_000)
    assert window.token_strip.canvas.score_fills is None


def test_explain_on_the_nsp_bar_and_clear(qtbot, window):
    analysed(qtbot, window, *PAIR)
    window.salience_panel.method_combo.setCurrentIndex(
        window.salience_panel.method_combo.findData("grad-input"))
    window.predictions.nsp_explain.click()
    qtbot.waitUntil(lambda: window.state.salience is not None, timeout=60_000)
    assert window.state.salience.target == "nsp"
    assert window.state.salience.method == "grad-input"
    window.salience_panel.method_combo.setCurrentIndex(  # live: reruns with the new method
        window.salience_panel.method_combo.findData("grad"))
    qtbot.waitUntil(lambda: window.state.salience is not None
                    and window.state.salience.method == "grad", timeout=60_000)
    assert (window.state.salience.scores >= 0).all()
    assert "gradient norm" in window.token_strip.legend.labels()[2]  # one-sided colour ramp
    window.salience_panel.clear_button.click()
    assert window.state.salience_settings is None
    assert window.token_strip.canvas.score_fills is None


@pytest.mark.slow
def test_an_edit_cancels_a_running_salience_and_no_stale_colours_show(qtbot, default_window):
    win = default_window
    analysed(qtbot, win, *PAIR)
    seen = []  # (salience tokens, the analysis tokens when it was shown)
    win.state.sig_salience_changed.connect(
        lambda s: s is not None and seen.append((s.tokens, win.state.analysis.tokens)))
    edited = "The keeper lit the [MASK] again."

    def edit_once(done: int, total: int) -> None:
        if done < total and win.state.text_a != edited:
            win.state.set_texts(edited, PAIR[1])

    win.state.sig_salience_progress.connect(edit_once)
    with qtbot.waitSignal(win.worker.sig_salience_cancelled, timeout=60_000):
        win.salience_panel.steps_spin.setValue(1024)
        win.salience_panel.explain_target("mask:0")
    assert win.token_strip.canvas.score_fills is None
    win.state.sig_salience_progress.disconnect(edit_once)
    win.salience_panel.steps_spin.setValue(16)  # live: the rerun takes the new steps
    qtbot.waitUntil(lambda: win.state.salience is not None, timeout=60_000)
    assert win.state.salience.settings["steps"] == 16
    assert win.state.analysis.text_a == edited
    assert seen and all(tokens == current for tokens, current in seen)
    assert win.state.salience.tokens == win.state.analysis.tokens


@pytest.mark.slow
def test_the_window_keeps_running_while_integrated_gradients_runs(qtbot, default_window):
    win = default_window
    analysed(qtbot, win, *PAIR)
    ticks, marks = [], {}
    timer = QTimer(win, interval=5)
    timer.timeout.connect(lambda: ticks.append(1))
    win.state.sig_salience_progress.connect(
        lambda done, total: marks.setdefault("first_progress", len(ticks)))
    timer.start()
    salience = explain_top_candidate(qtbot, win, steps=128)
    timer.stop()
    assert salience.settings["steps"] == 128
    assert len(ticks) > marks["first_progress"]  # timers fired while the worker computed


@pytest.mark.slow
def test_closing_the_window_during_a_run_stops_the_worker(qtbot, default_window):
    win = default_window
    analysed(qtbot, win, *PAIR)
    with qtbot.waitSignal(win.state.sig_salience_progress, timeout=60_000):
        win.salience_panel.steps_spin.setValue(1024)
        win.salience_panel.explain_target("mask:0")
    win.close()  # the run stops at its next batch; make_window checks the thread is gone
    assert not win.worker.isRunning()


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_lab_export_records_model_method_target_and_settings(qtbot, window, tmp_path, suffix):
    analysis = analysed(qtbot, window, *PAIR)
    alti = with_maps(qtbot, window, "alti")
    salience = explain_top_candidate(qtbot, window)
    path = window.save_lab(tmp_path / f"lab{suffix}")
    if suffix == ".json":
        data = json.loads(path.read_text())
        summary, maps, scores = data, np.asarray(data["maps"]), np.asarray(data["scores"])
    else:
        with np.load(path) as npz:
            summary = json.loads(str(npz["summary_json"]))
            maps, scores = npz["maps"], npz["scores"]
    meta = summary["meta"]
    assert meta["model_name"] == window.state.model.name and meta["model_path"]
    assert meta["settings"]["view_method"] == "alti"
    assert meta["settings"]["target"] == salience.target
    assert meta["settings"]["steps"] == 8 and meta["settings"]["rule"] == "gausslegendre"
    assert summary["map_method"]["method"] == "alti" and summary["tokens"] == analysis.tokens
    assert summary["salience"]["target"] == salience.target
    np.testing.assert_allclose(maps, alti.maps, atol=1e-6)
    np.testing.assert_allclose(scores, salience.scores, atol=1e-6)


def test_exported_pngs_show_the_chosen_method_and_the_salience_chips(qtbot, window, tmp_path):
    from PySide6.QtGui import QImage

    analysed(qtbot, window, *PAIR)
    with_maps(qtbot, window, "rollout")
    view = QImage(str(window.attention.export_png(tmp_path / "rollout.png", scale=1)))
    shown = window.attention.current_view().size()  # at 1x, plus the caption line below
    assert view.width() == shown.width() and view.height() > shown.height()
    salience = explain_top_candidate(qtbot, window)
    chips = QImage(str(window.save_salience_png(tmp_path / "chips.png")))
    canvas = window.token_strip.canvas
    strongest = int(np.argmax(np.abs(salience.scores)))
    rect = canvas.rects[strongest]
    # Inside the chip, left of its label: the fill, in the score's colour.
    corner = canvas.mapTo(window.token_strip, rect.topLeft())
    pixel = chips.pixelColor(corner.x() + 3, corner.y() + rect.height() // 2)
    assert pixel.rgb() == canvas.score_fills[strongest].rgb()
