"""Issue 22, defect 4: an empty sentence A gives no NSP result, with the reason (engine, CLI, GUI)."""

from __future__ import annotations

import json

import pytest

from conftest import analysed
from engine import cli

EMPTY_AS = ["", "   ", "\t\n", "\u200b\u200b"]  # empty, blank, only characters the tokenizer drops


@pytest.mark.parametrize("text_a", EMPTY_AS)
def test_empty_sentence_a_gives_no_nsp_and_says_why(tiny_predictor, text_a):
    analysis = tiny_predictor.analyze(text_a, "It was very happy.")
    assert analysis.nsp_is_next is None
    assert any("sentence A is empty" in note and "NSP" in note for note in analysis.notes)


def test_a_real_pair_still_gets_nsp(tiny_predictor):
    assert tiny_predictor.analyze("The cat sat.", "It was very happy.").nsp_is_next is not None


def test_cli_nsp_with_empty_a_exits_1_with_the_reason(hf_pretraining_dir, capsys):
    rc = cli.main(["nsp", "--model", str(hf_pretraining_dir), "--device", "cpu", "  ",
                   "It was very happy.", "--json"])
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert rc == 1 and err == ""
    assert data["nsp_is_next"] is None
    assert any("sentence A is empty" in n for n in data["notes"])
    rc = cli.main(["nsp", "--model", str(hf_pretraining_dir), "--device", "cpu", "",
                   "It was very happy."])
    out, _ = capsys.readouterr()
    assert rc == 1 and "sentence A is empty" in out and "IsNext" not in out


def test_gui_greys_nsp_with_the_reason_for_an_empty_a(qtbot, make_window, hf_pretraining_dir):
    win = make_window()
    with qtbot.waitSignal(win.sig_analysis_applied, timeout=60_000):
        win.start(str(hf_pretraining_dir))
    analysed(qtbot, win, " ", "It was very happy.")
    assert not win.predictions.nsp_available()
    assert "sentence a is empty" in win.predictions.nsp_reason.text().lower()
