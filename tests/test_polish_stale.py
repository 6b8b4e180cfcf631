"""Issue 22, defect 5: no stale text — the hover readout after a new analysis, the status bar
after a failed model open, the header during the first load."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF

from conftest import analysed, started
from explorer.widgets.attention_detail import READOUT_HINT

pytestmark = pytest.mark.usefixtures("qapp")


@pytest.fixture
def window(qtbot, make_window, hf_pretraining_dir):
    return started(qtbot, make_window, hf_pretraining_dir, (1400, 860))


def hover(qtbot, detail, row: int, col: int) -> None:
    vb = detail.plot.getViewBox()
    scene = vb.mapViewToScene(QPointF(col + 0.5, row + 0.5))
    qtbot.mouseMove(detail.view.viewport(), detail.view.mapFromScene(scene))


def test_the_hover_readout_is_cleared_by_a_new_analysis(qtbot, window):
    detail = window.attention.head_detail
    analysed(qtbot, window, "The cat sat on the mat.", "It purred.")
    hover(qtbot, detail, 2, 3)
    qtbot.waitUntil(lambda: "->" in detail.readout.text(), timeout=3000)
    analysed(qtbot, window, "A dog barked loudly at night.", "")
    assert detail.readout.text() == READOUT_HINT


def test_a_failed_open_leaves_no_loading_message(qtbot, window, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with qtbot.waitSignal(window.worker.sig_model_failed, timeout=30_000):
        window.load_model(str(broken))
    assert "loading" not in window.statusBar().currentMessage()
    assert "could not open" in window.statusBar().currentMessage()
    assert window.state.model.name in window.model_bar.label.text()  # the kept model


def test_the_header_says_loading_during_the_first_load(qtbot, make_window, hf_pretraining_dir):
    win = make_window()
    assert "No model loaded" in win.model_bar.label.text()
    with qtbot.waitSignal(win.sig_analysis_applied, timeout=60_000):
        win.start(str(hf_pretraining_dir))
        assert "Loading" in win.model_bar.label.text()
        assert "No model loaded" not in win.model_bar.label.text()
    assert win.state.model.name in win.model_bar.label.text()
    assert "Loading" not in win.model_bar.label.text()
