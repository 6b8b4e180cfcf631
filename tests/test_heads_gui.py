"""Click-to-ablate and the Head lab in the real explorer window, offscreen: toggling a head
recomputes fill-mask and NSP with the change shown against the unablated model and the cell
crossed out, reset restores the original values exactly, "ablate all but these", the export's
masked heads, the dashboard, the layer-by-layer lens and the neuron view."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt, QTimer

from conftest import analysed, started
from engine.lab.heads import analysis_statistics
from engine.paths import default_model_dir

pytestmark = pytest.mark.usefixtures("qapp")

PAIR = ("The keeper lit the [MASK] every night.", "Ships relied on its light.")


@pytest.fixture
def window(qtbot, make_window, hf_pretraining_dir):
    return started(qtbot, make_window, hf_pretraining_dir, (1500, 900))


def shown_candidates(win) -> dict[int, list[tuple[str, float, float | None]]]:
    """[MASK] position -> (token, probability, unablated probability) of each row shown."""
    return {pos: [(r.token, r.prob, r.old_prob) for r in rows]
            for pos, rows in win.predictions.candidate_rows.items()}


def click_cell(qtbot, graphics_view, viewbox, layer: int, head: int) -> None:
    scene = viewbox.mapViewToScene(QPointF(head + 0.4, layer + 0.4))
    qtbot.mouseClick(graphics_view.viewport(), Qt.MouseButton.LeftButton,
                     pos=graphics_view.mapFromScene(scene))


def ablated_with(qtbot, win, heads):
    qtbot.waitUntil(lambda: win.state.ablation is not None
                    and win.state.ablation.heads == tuple(heads), timeout=60_000)
    return win.state.ablation


def unablated(qtbot, win):
    qtbot.waitUntil(lambda: win.state.ablation is None and not win.state.ablated_heads,
                    timeout=60_000)
    return win.state.analysis


def test_toggling_a_head_in_the_model_view_updates_predictions_and_reset_restores_them(
        qtbot, window):
    win = window
    original = analysed(qtbot, win, *PAIR)
    before = shown_candidates(win)
    nsp_before = win.predictions.nsp_bar.is_next
    assert all(old is None for rows in before.values() for _, _, old in rows)
    panel = win.attention
    panel.tabs.setCurrentWidget(panel.model_view)
    view = panel.model_view
    qtbot.waitUntil(lambda: view.grid_shape == (2, 4))

    click_cell(qtbot, view.view, view.plot.getViewBox(), 1, 2)  # Ablate off: a click selects
    assert (win.state.layer, win.state.head) == (1, 2) and win.state.ablated_heads == ()
    qtbot.mouseClick(panel.ablation_bar.toggle, Qt.MouseButton.LeftButton)
    assert win.state.ablate_mode
    click_cell(qtbot, view.view, view.plot.getViewBox(), 1, 2)
    ablated_with(qtbot, win, [(1, 2)])

    # the cell is crossed out, and only that one
    assert view.ablation_marks.heads == ((1, 2),)
    assert view.ablation_marks.cross.path().boundingRect().contains(QPointF(2.5, 1.5))
    assert not view.ablation_marks.cross.path().boundingRect().contains(QPointF(1.5, 1.5))
    assert "1 head off: 1:2" in panel.ablation_bar.summary.text()
    # each shown candidate: the ablated model's probability, the unablated one's beside it
    after = shown_candidates(win)
    position = original.fill_mask[0].position
    unablated_probs = dict((t, p) for t, p, _ in before[position])
    for token, prob, old in after[position]:
        if token in unablated_probs:
            assert old == pytest.approx(unablated_probs[token], abs=1e-6)
        assert old is not None
    assert [p for _, p, _ in after[position]] != [p for _, p, _ in before[position]]
    rows = win.predictions.candidate_rows[position]
    assert all(r.arrow == ("▲" if r.prob > r.old_prob else "▼" if r.prob < r.old_prob else "=")
               for r in rows)
    assert win.predictions.nsp_bar.old_is_next == pytest.approx(nsp_before, abs=1e-6)
    assert win.predictions.nsp_bar.is_next != nsp_before
    assert win.predictions.nsp_change.isVisible() and "from" in win.predictions.nsp_change.text()

    qtbot.mouseClick(panel.ablation_bar.reset, Qt.MouseButton.LeftButton)
    restored = unablated(qtbot, win)
    assert shown_candidates(win) == before  # the exact original values, no old ones
    assert win.predictions.nsp_bar.is_next == nsp_before
    np.testing.assert_array_equal(restored.attentions, original.attentions)
    assert view.ablation_marks.heads == () and view.ablation_marks.cross.path().isEmpty()
    assert not win.predictions.nsp_change.isVisible()


def test_a_second_click_switches_the_head_back_on(qtbot, window):
    win = window
    analysed(qtbot, win, *PAIR)
    before = shown_candidates(win)
    panel = win.attention
    panel.tabs.setCurrentWidget(panel.model_view)
    view = panel.model_view
    qtbot.waitUntil(lambda: view.grid_shape == (2, 4))
    win.state.set_ablate_mode(True)
    click_cell(qtbot, view.view, view.plot.getViewBox(), 0, 1)
    ablated_with(qtbot, win, [(0, 1)])
    click_cell(qtbot, view.view, view.plot.getViewBox(), 0, 1)
    unablated(qtbot, win)
    assert shown_candidates(win) == before


def test_ablate_all_but_these_keeps_only_the_crossed_out_heads(qtbot, window, tmp_path):
    win = window
    analysed(qtbot, win, *PAIR)
    bar = win.attention.ablation_bar
    assert not bar.all_but.isEnabled() and not bar.reset.isEnabled()
    win.state.set_ablated_heads([(0, 3), (1, 0)])
    ablated_with(qtbot, win, [(0, 3), (1, 0)])
    qtbot.mouseClick(bar.all_but, Qt.MouseButton.LeftButton)
    kept_others = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (1, 3)]
    ablation = ablated_with(qtbot, win, kept_others)
    assert ablation.analysis is win.state.analysis
    meta = json.loads(win.attention.export_analysis(tmp_path / "a.json").read_text())["meta"]
    assert meta["masked_heads"] == "0:0,0:1,0:2,1:1,1:2,1:3"


def test_export_of_an_unablated_analysis_names_no_heads(qtbot, window, tmp_path):
    analysed(qtbot, window, *PAIR)
    meta = json.loads(window.attention.export_analysis(tmp_path / "a.json").read_text())["meta"]
    assert meta["masked_heads"] == ""


def test_head_lab_dashboard_lens_and_neuron_view(qtbot, window):
    win = window
    analysis = analysed(qtbot, win, *PAIR)
    panel = win.attention
    lab = panel.head_lab
    win.state.set_selection(layer=1, head=3, query_token=analysis.fill_mask[0].position)
    panel.tabs.setCurrentWidget(lab)
    qtbot.waitUntil(lambda: lab.dashboard.report is not None and lab.lens_view.lens is not None
                    and lab.neuron_panel.canvas.view is not None, timeout=60_000)
    dash = lab.dashboard

    # importance (the default metric) over L x H; the statistics are those of the attention
    assert dash.current_metric() == "importance"
    assert dash.values.shape == (2, 4) and dash.values.max() == pytest.approx(1.0)
    dash.metric.setCurrentIndex(dash.metric.findData("cls"))
    expected = analysis_statistics(analysis).shares["cls"]
    np.testing.assert_allclose(dash.values, expected, atol=1e-6)
    readout = dash.readout_text(1, 3)
    assert "head 1:3" in readout and f"{expected[1, 3]:.3f}" in readout
    dash.metric.setCurrentIndex(dash.metric.findData("entropy"))
    np.testing.assert_allclose(dash.values, analysis_statistics(analysis).entropy, atol=1e-5)

    # the lens: embeddings and each layer; its last row is the fill-mask answer
    lens = lab.lens_view
    assert lens.table.rowCount() == 3
    assert lens.table.verticalHeaderItem(0).text() == "emb"
    assert lens.table.item(2, 0).text() == "1"  # the final answer ranks first at the end
    assert lens.lens.final_token == analysis.fill_mask[0].tokens[0]
    assert lens.table.item(2, 3).text().startswith(analysis.fill_mask[0].tokens[0])

    # the neuron view's softmax is the head's attention row
    view = lab.neuron_panel.canvas.view
    assert (view.layer, view.head, view.query_position) == (1, 3, analysis.fill_mask[0].position)
    np.testing.assert_allclose(view.probs, analysis.attentions[1, 3, view.query_position],
                               atol=1e-6)

    # a click in the dashboard with Ablate on switches the head off there too
    win.state.set_ablate_mode(True)
    click_cell(qtbot, dash.view, dash.plot.getViewBox(), 0, 2)
    ablated_with(qtbot, win, [(0, 2)])
    assert dash.ablation_marks.heads == ((0, 2),)
    qtbot.waitUntil(lambda: lab.neuron_panel.canvas.view is not view, timeout=60_000)
    np.testing.assert_allclose(lab.neuron_panel.canvas.view.probs,
                               win.state.analysis.attentions[1, 3, view.query_position],
                               atol=1e-6)


def test_head_lab_without_a_mask_or_a_head_says_what_to_do(qtbot, window):
    win = window
    analysed(qtbot, win, "No mask in this one.", "")
    win.attention.tabs.setCurrentWidget(win.attention.head_lab)
    lab = win.attention.head_lab
    qtbot.waitUntil(lambda: lab.dashboard.report is not None, timeout=60_000)
    assert lab.lens_view.lens is None and "[MASK]" in lab.lens_view.title.text()
    assert lab.neuron_panel.canvas.view is None and "head" in lab.neuron_panel.title.text()


@pytest.mark.slow
def test_the_window_keeps_running_while_an_ablated_analysis_computes(qtbot, make_window):
    win = started(qtbot, make_window, default_model_dir(), (1500, 900))
    analysed(qtbot, win, *PAIR)
    ticks, at_result = [], []
    timer = QTimer(win, interval=2)
    timer.timeout.connect(lambda: ticks.append(1))
    win.state.sig_analysis_changed.connect(lambda _a: at_result.append(len(ticks)))
    timer.start()
    win.state.set_ablated_heads([(5, 3)])  # a new input for the reference: two passes
    ablated_with(qtbot, win, [(5, 3)])
    timer.stop()
    assert at_result and at_result[0] > 0  # timers fired while the worker computed


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory, vocab_file):
    """A tiny random 3-class classifier (module scope: made before any window's thread check,
    as transformers' saving leaves its progress-bar thread behind)."""
    from conftest import save_hf_model

    return save_hf_model("BertForSequenceClassification", tmp_path_factory.mktemp("cls") / "m",
                         vocab_file, num_labels=3)


def test_a_classifier_without_mlm_head_explains_why_and_still_ablates(qtbot, make_window,
                                                                      classifier_dir):
    win = started(qtbot, make_window, classifier_dir, (1500, 900))
    analysis = analysed(qtbot, win, "A plain sentence.", "")
    win.attention.tabs.setCurrentWidget(win.attention.head_lab)
    lab = win.attention.head_lab
    qtbot.waitUntil(lambda: lab.dashboard.report is not None, timeout=60_000)
    dash = lab.dashboard
    assert "no MLM head" in dash.note.text()
    importance = dash.metric.model().item(dash.metric.findData("importance"))
    assert not importance.isEnabled() and dash.current_metric() == "cls"  # shows a statistic
    np.testing.assert_allclose(dash.values, analysis_statistics(analysis).shares["cls"],
                               atol=1e-6)
    assert lab.lens_view.lens is None and "MLM head" in lab.lens_view.title.text()
    win.state.set_ablated_heads([(0, 0), (1, 3)])
    ablation = ablated_with(qtbot, win, [(0, 0), (1, 3)])
    assert ablation.reference_probs == {}
    assert not np.array_equal(win.state.analysis.task.probs, analysis.task.probs)


def test_the_heads_menu_toggles_ablate_mode_and_resets(qtbot, window):
    win = window
    analysed(qtbot, win, *PAIR)
    win.actions["ablate_mode"].trigger()
    assert win.state.ablate_mode and win.attention.ablation_bar.toggle.isChecked()
    win.state.set_ablated_heads([(0, 0)])
    ablated_with(qtbot, win, [(0, 0)])
    win.actions["reset_ablation"].trigger()
    unablated(qtbot, win)
    win.actions["ablate_mode"].trigger()
    assert not win.state.ablate_mode and not win.attention.ablation_bar.toggle.isChecked()


def test_heads_stay_off_while_the_text_changes(qtbot, window, tiny_predictor):
    """An edit keeps the ablation; the old values are the unablated model's on the new text."""
    win = window
    analysed(qtbot, win, *PAIR)
    win.state.set_ablated_heads([(1, 1)])
    ablated_with(qtbot, win, [(1, 1)])
    edited = ("The keeper lit the [MASK] at dusk.", "Ships relied on its light.")
    win.state.set_texts(*edited)
    qtbot.waitUntil(lambda: win.state.analysis.text_a == edited[0], timeout=60_000)
    assert win.state.ablation is not None and win.state.ablation.heads == ((1, 1),)
    vocab = tiny_predictor.config.vocab_size
    (unablated_mask,) = tiny_predictor.analyze(*edited, top_k=vocab).fill_mask
    old = dict(zip(unablated_mask.tokens, unablated_mask.probs))
    (ablated_mask,) = tiny_predictor.analyze(*edited, head_mask=[(1, 1)]).fill_mask
    rows = win.predictions.candidate_rows[unablated_mask.position]
    assert [r.token for r in rows] == list(ablated_mask.tokens)
    for row in rows:
        assert row.old_prob == pytest.approx(float(old[row.token]), abs=1e-6)


def test_every_view_method_and_salience_explain_the_ablated_model(qtbot, window, tiny_predictor):
    import torch

    from engine.lab.maps import explain_maps
    from engine.lab.rollout import residual_attention, rollout

    win = window
    analysed(qtbot, win, *PAIR)
    win.state.set_ablated_heads([(0, 1), (1, 2)])
    ablation = ablated_with(qtbot, win, [(0, 1), (1, 2)])
    win.state.set_view_method("rollout")
    qtbot.waitUntil(lambda: "rollout" in win.state.lab_maps, timeout=60_000)
    expected = rollout(residual_attention(torch.from_numpy(ablation.analysis.attentions)))
    np.testing.assert_allclose(win.state.lab_maps["rollout"].maps, expected.numpy(), atol=1e-5)

    mask = ablation.analysis.fill_mask[0]
    top = mask.tokens[0]  # the ablated model's top candidate, shown first
    win.salience_panel.steps_spin.setValue(4)
    win.predictions.explain_buttons[mask.position][0].click()
    qtbot.waitUntil(lambda: win.state.salience is not None, timeout=60_000)
    assert win.state.salience.target == f"mask:0:{top}"
    assert win.state.salience.target_value == pytest.approx(float(np.log(mask.probs[0])),
                                                            abs=1e-5)

    for method in ("norm", "alti"):  # their decompositions take the head gate too
        win.state.set_view_method(method)
        qtbot.waitUntil(lambda method=method: method in win.state.lab_maps, timeout=60_000)
        expected = explain_maps(tiny_predictor, *PAIR, [method], head_mask=[(0, 1), (1, 2)])
        np.testing.assert_allclose(win.state.lab_maps[method].maps, expected[method].maps,
                                   atol=1e-5)
        assert not win.error_banner.isVisible()
    # Head 0:1 is ablated: it moves nothing.
    np.testing.assert_array_equal(win.state.lab_maps["norm"].maps[0, 1], 0)
