"""Issue 24: the model card's one line on what the model is good at and what not, written by the
card step and shown on first launch (model bar tooltip, About box)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from engine.model_card import SUMMARY_MARK, card_summary
from engine.paths import default_model_dir

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

pytestmark = pytest.mark.usefixtures("qapp")


def test_the_summary_is_the_marked_paragraph_on_one_line():
    card = f"# A model\n\n{SUMMARY_MARK} good at this,\n  not good at that.\n\nMore text.\n"
    assert card_summary(card) == "good at this, not good at that."
    assert card_summary("# A model\n\nGood at things.\n") is None
    assert card_summary(f"# A model\n\n{SUMMARY_MARK}\n\nText.\n") is None


def test_the_card_step_writes_a_line_the_explorer_reads_back_with_its_figures():
    from default_model.card import summary_line

    results = {"any": {"mlm_acc": 0.357, "nsp_acc": 0.879}}
    probe = {"summary": {"test": {"top1": 0.122, "top5": 0.407}}}
    line = card_summary(f"# Card\n\n{summary_line(results, probe)}\n\nRest.\n")
    assert line is not None and "\n" not in line
    assert "good at" in line and "not good at" in line
    assert "35.7%" in line and "87.9%" in line and "12.2%" in line and "40.7%" in line


@pytest.mark.skipif(default_model_dir() is None, reason="no bundled default model")
def test_the_bundled_card_says_what_the_model_is_good_at_and_what_not():
    card = (default_model_dir() / "MODEL_CARD.md").read_text(encoding="utf-8")
    line = card_summary(card)
    assert line is not None and "good at" in line and "not good at" in line


@pytest.mark.skipif(default_model_dir() is None, reason="no bundled default model")
def test_first_launch_shows_it_in_the_model_bar_tooltip_and_the_about_box(qtbot, make_window):
    from conftest import started
    from explorer.help_dialogs import about_markdown

    win = started(qtbot, make_window, default_model_dir())
    line = card_summary((default_model_dir() / "MODEL_CARD.md").read_text(encoding="utf-8"))
    assert line in win.model_bar.label.toolTip()
    assert str(default_model_dir()) in win.model_bar.label.toolTip()
    assert line in about_markdown(win.state.model)


def test_a_model_without_the_line_shows_only_its_path(qtbot, make_window, hf_pretraining_dir):
    from conftest import started

    win = started(qtbot, make_window, hf_pretraining_dir)
    assert win.model_bar.label.toolTip() == str(hf_pretraining_dir)
