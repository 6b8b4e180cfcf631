"""Compare mode and checkpoint scrubbing in the real explorer window, offscreen: a second model
beside the first (A, B, B − A views, per-head divergence, both models' predictions), closing it,
a model with another vocabulary refused, and a run's checkpoints scrubbed with a slider."""

from __future__ import annotations

import subprocess
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from conftest import analysed, save_hf_model, swapped_vocab_copy
from engine.lab.divergence import head_divergence
from explorer.jobs import JobManager
from explorer.widgets.attention_common import (COLORMAP_NAME, DIVERGING_COLORMAP_NAME, colormap,
                                               log_lookup_table)
from tiny_runs import BERT_ENGINE, TINY_JOB, tiny_corpus

pytestmark = pytest.mark.usefixtures("qapp")

PAIR = ("the cat sat on the [MASK] .", "it was very happy .")


@pytest.fixture(scope="module")
def other_dir(tmp_path_factory, vocab_file):
    """A second tiny BertForPreTraining like ``hf_pretraining_dir``, other random weights."""
    return save_hf_model("BertForPreTraining", tmp_path_factory.mktemp("hf") / "other",
                         vocab_file, seed=1)


@pytest.fixture
def window(qtbot, make_window, hf_pretraining_dir):
    win = make_window((1400, 900))
    with qtbot.waitSignal(win.sig_analysis_applied, timeout=60_000):
        win.start(str(hf_pretraining_dir))
    analysed(qtbot, win, *PAIR)
    return win


def paired(qtbot, win):
    """Wait until model B's reading of the analysis on screen is in the state."""
    qtbot.waitUntil(lambda: win.state.compare_pair() is not None, timeout=60_000)
    return win.state.compare_pair()


def open_b(qtbot, win, path):
    with qtbot.waitSignal(win.state.sig_compare_model_changed, timeout=60_000):
        win.compare.open(str(path))
    return paired(qtbot, win)


def shown(win, source: str) -> np.ndarray:
    """What the head detail draws with the switch at ``source``."""
    win.state.set_compare_source(source)
    return np.array(win.attention.head_detail.data)


def colormap_name(item) -> str:
    """An image's or a colour bar's colour map."""
    cmap = item.colorMap() if hasattr(item, "colorMap") else item.getColorMap()
    return cmap.name


def test_b_minus_a_view_is_the_difference_of_the_two_single_views(qtbot, window, other_dir):
    win = window
    assert not win.attention.compare_bar.isVisible() and not win.compare_panel.isVisible()
    pair = open_b(qtbot, win, other_dir)
    assert win.attention.compare_bar.isVisible() and win.compare_panel.isVisible()
    win.state.set_selection(layer=1, head=2)
    a, b, diff = shown(win, "A"), shown(win, "B"), shown(win, "B-A")
    assert np.array_equal(a, win.state.analysis.attentions[1, 2])
    assert np.array_equal(b, pair.analysis_b.attentions[1, 2]) and not np.array_equal(a, b)
    assert np.array_equal(diff, b - a)
    detail = win.attention.head_detail
    assert colormap_name(detail.image) == DIVERGING_COLORMAP_NAME
    assert colormap_name(detail.colorbar) == DIVERGING_COLORMAP_NAME
    assert detail.image.levels[0] == pytest.approx(-detail.image.levels[1])  # symmetric
    assert "B − A" in detail.plot.titleLabel.text
    # The head grid and the model view draw the same difference, every head of the layer.
    tiles = [image.image for image in win.attention.head_grid.images]
    assert np.array_equal(tiles[2], diff)
    win.attention.tabs.setCurrentWidget(win.attention.model_view)  # refreshed when shown
    assert np.array_equal(win.attention.model_view.thumbnail(1, 2), diff)
    assert colormap_name(win.attention.model_view.image) == DIVERGING_COLORMAP_NAME
    levels = win.attention.model_view.image.levels  # its own range, about 0 like the detail's
    assert levels[0] == pytest.approx(-levels[1]) and levels[1] > 0
    win.state.set_colour_scale("fixed")  # one range for every view: B - A's percentile reach
    assert tuple(win.attention.model_view.image.levels) == pytest.approx((-pair.reach, pair.reach))
    win.attention.tabs.setCurrentIndex(0)  # the detail, hidden meanwhile, catches up when shown
    assert tuple(detail.image.levels) == pytest.approx((-pair.reach, pair.reach))
    win.state.set_selection(head=-1)  # the mean of the heads: the difference of the means
    assert np.allclose(shown(win, "B-A"), shown(win, "B") - shown(win, "A"), atol=1e-6)
    # Divergence tab: per head, A's and B's attention rows apart.
    expected = head_divergence(win.state.analysis.attentions, pair.analysis_b.attentions)
    assert np.allclose(win.attention.divergence.values, expected)
    assert np.all(win.attention.divergence.values > 0)
    # Both models' fill-mask candidates and NSP, with the change.
    text = win.compare_panel.body.text()
    assert pair.fill_mask[0].tokens[0] in text and "NSP IsNext" in text and " pt" in text


def test_back_from_b_minus_a_each_view_has_its_own_colours_again(qtbot, window, other_dir):
    """The views pick diverging colours for B − A and, back on A, the user's colour map under
    the log scale again (nothing from outside leaves a linear default map over them)."""
    win = window
    open_b(qtbot, win, other_dir)
    win.state.set_view_style(replace(win.state.view_style, colormap="magma"))
    win.state.set_colour_scale("log")
    win.state.set_selection(layer=1, head=2)
    shown(win, "B-A")
    grid, detail = win.attention.head_grid, win.attention.head_detail
    assert colormap_name(grid.colorbar) == DIVERGING_COLORMAP_NAME
    for image in (*grid.images, detail.image):
        assert image.levels[0] == pytest.approx(-image.levels[1]) and image.levels[1] > 0
    shown(win, "A")
    for image in (*grid.images, detail.image):
        levels = tuple(float(v) for v in image.levels)
        assert 0 < levels[0] < levels[1]
        assert np.array_equal(image.lut, log_lookup_table(colormap("magma"), levels))
    assert colormap_name(detail.colorbar) == colormap_name(grid.colorbar) == "magma"


def test_typing_updates_both_models(qtbot, window, other_dir):
    win = window
    open_b(qtbot, win, other_dir)
    win.state.set_compare_source("B")
    analysed(qtbot, win, "a dog ran to the [MASK] .", "")
    pair = paired(qtbot, win)
    assert pair.analysis_b.text_a == "a dog ran to the [MASK] ."
    assert pair.analysis_b.tokens == win.state.analysis.tokens
    assert np.array_equal(win.attention.head_detail.data,
                          pair.analysis_b.attentions[win.state.layer].mean(axis=0))


def test_closing_the_second_model_restores_the_single_view(qtbot, window, other_dir):
    win = window
    open_b(qtbot, win, other_dir)
    win.state.set_selection(layer=0, head=1)
    shown(win, "B-A")
    win.compare_panel.close_button.click()
    assert win.state.compare_model is None and win.state.compare_source == "A"
    assert not win.attention.compare_bar.isVisible() and not win.compare_panel.isVisible()
    detail = win.attention.head_detail
    assert np.array_equal(detail.data, win.state.analysis.attentions[0, 1])
    assert colormap_name(detail.image) == COLORMAP_NAME
    assert colormap_name(detail.colorbar) == COLORMAP_NAME
    assert win.attention.divergence.values is None
    analysed(qtbot, win, "the dog sat .", "")  # the single view goes on as before
    assert win.state.compare is None


def test_a_model_with_another_vocabulary_is_refused_naming_both(qtbot, window,
                                                                 hf_pretraining_dir, tmp_path):
    win = window
    other = swapped_vocab_copy(hf_pretraining_dir, tmp_path / "swapped")
    with qtbot.waitSignal(win.state.sig_error, timeout=60_000) as error:
        win.compare.open(str(other))
    assert "vocabularies differ" in error.args[0] and "swapped" in error.args[0]
    assert win.state.compare_model is None and win.error_banner.isVisible()


def test_a_model_compared_with_itself_changes_nothing(qtbot, window, hf_pretraining_dir):
    win = window
    pair = open_b(qtbot, win, hf_pretraining_dir)
    assert np.all(pair.js_divergence == 0) and np.all(pair.difference == 0)
    assert pair.nsp_change == 0


def test_the_window_keeps_running_while_model_b_loads_and_reads(qtbot, window, other_dir):
    win = window
    ticks = []
    timer = QTimer(win, interval=5)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    open_b(qtbot, win, other_dir)
    timer.stop()
    assert len(ticks) > 1  # the GUI thread was free while B loaded and read the text


# ----- scrubbing a run's checkpoints -----

@pytest.fixture(scope="module")
def three_checkpoint_run(tmp_path_factory):
    """A real BERT-Tiny pretraining run keeping checkpoints at steps 2, 4 and 6."""
    root = tmp_path_factory.mktemp("runs")
    job = list(TINY_JOB)
    job[job.index("--max-steps") + 1] = "6"
    job[job.index("--checkpoint-every") + 1] = "2"
    run_dir = root / "scrubbed"
    done = subprocess.run([BERT_ENGINE, "pretrain", "--run-dir", str(run_dir), "--corpus",
                           str(tiny_corpus(root)), *job, "--keep-checkpoints", "3"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir


def scrubbed(qtbot, win, run_dir):
    """Start scrubbing and wait for the whole series of the current texts."""
    with qtbot.waitSignal(win.scrub.sig_series_ready, timeout=120_000) as ready:
        win.scrub_run(str(run_dir))
    return ready.args[0]


def on_model(qtbot, win, path):
    qtbot.waitUntil(lambda: win.state.model is not None and win.state.model.path == str(path)
                    and win.state.analysis is not None, timeout=60_000)


@pytest.mark.slow
def test_scrubbing_shows_each_checkpoint_and_the_second_pass_reads_the_cache(
        qtbot, window, three_checkpoint_run, tmp_path):
    win = window
    win.scrub.cache_dir = tmp_path / "cache"
    run_files = sorted(three_checkpoint_run.rglob("*"))
    # From the monitor: "Scrub checkpoints" on the run selected in the runs table.
    win.jobs = JobManager(three_checkpoint_run.parent)
    win.open_monitor()
    monitor = win.monitor
    monitor.tabs.setCurrentWidget(monitor.runs_table)
    monitor.runs_table.select_paths([str(three_checkpoint_run)])
    monitor.poll()
    assert monitor.scrub_action.isEnabled()
    with qtbot.waitSignal(win.scrub.sig_series_ready, timeout=120_000) as ready:
        monitor.scrub_action.trigger()
    series = ready.args[0]
    monitor.close()
    panel = win.scrub_panel
    assert series.steps == [2, 4, 6] and series.computed == 3
    assert panel.steps == [2, 4, 6] and panel.slider.maximum() == 2 and win.scrub_dock.isVisible()
    steps, values = panel.curve_data()
    assert list(steps) == [2, 4, 6] and values[0] == 0 and np.all(values[1:] > 0)
    # The slider starts at the newest checkpoint: the main window shows that model.
    on_model(qtbot, win, three_checkpoint_run / "checkpoints" / "step-6")
    assert np.allclose(panel.divergence.values, series.points[2].from_previous.js_divergence)
    # Moving it loads the model at that step into every view.
    panel.choose_step(4)
    on_model(qtbot, win, three_checkpoint_run / "checkpoints" / "step-4")
    assert win.state.analysis.attentions.shape[:2] == (2, 2)  # BERT-Tiny: 2 layers x 2 heads
    assert np.allclose(panel.divergence.values, series.points[1].from_previous.js_divergence)
    win.state.set_selection(layer=1, head=0)
    assert panel.curve_data()[1][2] == pytest.approx(
        float(series.points[2].from_previous.js_divergence[1, 0]))
    panel.measure.setCurrentIndex(1)  # from the first checkpoint
    assert panel.curve_data()[1][1] == pytest.approx(
        float(series.points[1].from_first.js_divergence[1, 0]))
    # Back to a step shown before: its analysis is on screen at once, before any load.
    shown_at_4 = win.state.analysis
    panel.choose_step(6)
    on_model(qtbot, win, three_checkpoint_run / "checkpoints" / "step-6")
    panel.choose_step(4)
    assert win.state.analysis is shown_at_4
    assert win.state.model.path == str(three_checkpoint_run / "checkpoints" / "step-4")
    with qtbot.waitSignal(win.sig_analysis_applied, timeout=60_000):
        pass  # the checkpoint loads behind it once the slider rests
    assert win.state.model.path == str(three_checkpoint_run / "checkpoints" / "step-4")
    assert win.state.analysis is not shown_at_4  # the main worker's own, of the same model
    # A second pass over the same run and text: every point from the cache, no model load.
    panel.close_button.click()
    assert not win.scrub_dock.isVisible()
    again = scrubbed(qtbot, win, three_checkpoint_run)
    assert again.computed == 0 and again.steps == series.steps
    assert "3 from the cache" in panel.status.text()
    assert sorted(three_checkpoint_run.rglob("*")) == run_files  # the run folder only read


def test_scrubbing_a_folder_without_checkpoints_says_so(qtbot, window, tmp_path):
    win = window
    (tmp_path / "empty-run").mkdir()
    with qtbot.waitSignal(win.state.sig_error, timeout=10_000) as error:
        win.scrub_run(str(tmp_path / "empty-run"))
    assert "no complete checkpoint" in error.args[0] and not win.scrub_dock.isVisible()


def test_a_folder_that_is_no_model_is_refused_with_the_reason(qtbot, window, tmp_path):
    win = window
    (tmp_path / "empty").mkdir()
    with qtbot.waitSignal(win.state.sig_error, timeout=60_000) as error:
        win.compare.open(str(tmp_path / "empty"))
    assert "Could not compare with" in error.args[0] and "config.json" in error.args[0]
    assert win.state.compare_model is None


def test_a_new_model_a_that_b_does_not_fit_closes_b_with_the_reason(qtbot, window, other_dir,
                                                                   hf_pretraining_dir, tmp_path):
    win = window
    open_b(qtbot, win, other_dir)
    swapped = swapped_vocab_copy(hf_pretraining_dir, tmp_path / "swapped-a")
    with qtbot.waitSignal(win.state.sig_compare_model_changed, timeout=60_000):
        win.load_model(str(swapped))
    assert win.state.compare_model is None and win.state.compare_source == "A"
    assert "Closed the second model" in win.error_banner.text()
    assert "vocabularies differ" in win.error_banner.text()
