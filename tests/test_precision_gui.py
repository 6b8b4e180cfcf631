"""View ▸ Precision on a real window: choosing one reloads the model in the inference worker in
that precision, the status bar says which (auto with what it resolved to here), and the choice
is remembered for the next window."""

from __future__ import annotations

import torch
from conftest import started

from engine.precision import Bf16Linear, resolve_precision


def bf16_linears(win) -> int:
    """How many of the worker's model's layers run in bf16 (read once the load is delivered)."""
    return sum(isinstance(m, Bf16Linear) for m in win.worker._predictor.encoder.modules())


def choose(qtbot, win, action: str) -> None:
    with qtbot.waitSignal(win.sig_analysis_applied, timeout=60_000):
        win.actions[action].trigger()


def test_choosing_a_precision_reloads_the_model_in_it_and_shows_it(qtbot, make_window,
                                                                   hf_pretraining_dir, settings):
    win = started(qtbot, make_window, hf_pretraining_dir)
    assert win.status_precision.text() == "precision: fp32"  # the default
    assert win.actions["precision_fp32"].isChecked() and bf16_linears(win) == 0
    fp32_probs = win.state.analysis.fill_mask[0].probs

    choose(qtbot, win, "precision_bf16")
    assert bf16_linears(win) > 0 and win.worker._predictor.precision == "bf16"
    assert win.status_precision.text() == "precision: bf16"
    assert win.actions["precision_bf16"].isChecked()
    assert not win.actions["precision_fp32"].isChecked()  # radio items
    assert win.state.model.precision == "bf16"
    assert abs(win.state.analysis.fill_mask[0].probs - fp32_probs).max() < 5e-2  # same model

    choose(qtbot, win, "precision_auto")
    here = resolve_precision("auto", torch.device("cpu"))
    assert win.status_precision.text() == f"precision: auto ({here})"
    assert win.worker._predictor.precision == here
    assert (bf16_linears(win) > 0) == (here == "bf16")
    assert settings.value("inference/precision") == "auto"


def test_the_chosen_precision_is_remembered_for_the_next_window(qtbot, make_window,
                                                                hf_pretraining_dir, settings):
    settings.setValue("inference/precision", "bf16")
    win = started(qtbot, make_window, hf_pretraining_dir)
    assert win.actions["precision_bf16"].isChecked()
    assert win.status_precision.text() == "precision: bf16" and bf16_linears(win) > 0


def test_a_stored_precision_that_is_not_one_falls_back_to_fp32(qtbot, make_window, settings):
    settings.setValue("inference/precision", "fp8")
    win = make_window()
    assert win.precision == "fp32" and win.actions["precision_fp32"].isChecked()
    assert win.status_precision.text() == "precision: fp32"
