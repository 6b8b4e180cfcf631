"""Issue 22, sessions (save, quit, open: the same state), recent inputs (pin, recall) and the
View menu (theme on the plots too, plot font size, colour map)."""

from __future__ import annotations

import json

import pyqtgraph as pg
import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QFileDialog

from conftest import analysed, started
from explorer.history import InputHistory
from explorer.session import SessionError, read_session

pytestmark = pytest.mark.usefixtures("qapp")


@pytest.fixture
def window(qtbot, make_window, hf_pretraining_dir):
    return started(qtbot, make_window, hf_pretraining_dir, (1400, 860))


def test_save_quit_open_gives_the_same_state(qtbot, make_window, window, tmp_path,
                                             monkeypatch, hf_pretraining_dir):
    analysed(qtbot, window, "The cat sat on the [MASK].", "It purred.")
    state = window.state
    state.set_selection(layer=1, head=2, query_token=4)
    state.set_filter("AB", True)
    state.set_colour_scale("row")
    path = tmp_path / "finding.bxsession"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: (str(path), ""))
    window.save_session()
    assert "saved to" in window.statusBar().currentMessage()
    saved = json.loads(path.read_text())
    assert saved["model_path"] == state.model.path and saved["ablated_heads"] == []
    window.actions["quit"].trigger()
    assert not window.isVisible()

    fresh = make_window((1400, 860))
    fresh.worker.start()  # no model yet: the session brings its own
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a: (str(path), ""))
    with qtbot.waitSignal(fresh.sig_analysis_applied, timeout=60_000):
        fresh.open_session()
    other = fresh.state
    assert other.model.path == saved["model_path"]
    assert (other.text_a, other.text_b) == ("The cat sat on the [MASK].", "It purred.")
    assert (other.layer, other.head, other.query_token) == (1, 2, 4)
    assert (other.attention_filter, other.hide_special, other.colour_scale) == ("AB", True, "row")
    assert fresh.attention.scale_selector.currentData() == "row"
    assert fresh.attention.head_detail.query_box.rect().top() == 4


def test_a_damaged_session_is_refused_with_the_reason(window, tmp_path):
    bad = tmp_path / "bad.bxsession"
    bad.write_text("{not json")
    with pytest.raises(SessionError, match="not JSON"):
        read_session(bad)
    bad.write_text(json.dumps({"format": "bert-explorer-session", "version": 1, "layer": -3}))
    with pytest.raises(SessionError, match="layer"):
        read_session(bad)
    before = (window.state.text_a, window.state.layer)
    assert not window.open_session_file(str(bad))
    assert "layer" in window.error_banner.text() and window.error_banner.isVisible()
    assert (window.state.text_a, window.state.layer) == before


def test_recent_inputs_settle_pin_and_recall(qtbot, window):
    analysed(qtbot, window, "First pair here.", "Its second half.")
    qtbot.waitUntil(lambda: any(e.text_a == "First pair here."
                                for e in InputHistory(window.settings).entries()),
                    timeout=10_000)
    window.pin_input()
    analysed(qtbot, window, "Another one.", "")
    window._settle.timeout.emit()  # as after two seconds on screen
    entries = InputHistory(window.settings).entries()
    assert entries[0].pinned and entries[0].text_a == "First pair here."  # pinned first
    assert entries[1].text_a == "Another one."
    window._refresh_recent_inputs()
    first = window.recent_inputs_menu.actions()[0]
    assert first.text().startswith("📌 First pair here.")
    with qtbot.waitSignal(window.sig_analysis_applied, timeout=60_000):
        first.trigger()
    assert (window.state.text_a, window.state.text_b) == ("First pair here.", "Its second half.")


def background(view) -> QColor:
    return view.backgroundBrush().color()


def test_view_menu_theme_font_and_colour_map_reach_the_plots(qtbot, window):
    detail = window.attention.head_detail
    assert background(detail.view).lightness() < 60  # dark plots by default
    window.actions["toggle_theme"].trigger()
    assert background(detail.view).lightness() > 200
    assert background(window.attention.head_grid.view).lightness() > 200
    window_colour = QApplication.instance().palette().color(QPalette.ColorRole.Window)
    window.actions["toggle_theme"].trigger()
    assert background(detail.view).lightness() < 60
    dark_window = QApplication.instance().palette().color(QPalette.ColorRole.Window)
    assert dark_window.lightness() < window_colour.lightness()  # the window follows
    window.actions["toggle_theme"].trigger()  # leave the light palette for the next tests
    size = detail.left_axis._font.pointSize()
    window.actions["font_larger"].trigger()
    assert detail.left_axis._font.pointSize() > size
    assert window.settings.value("view/font_size") is not None
    cividis = window.findChild(type(window.actions["quit"]), "colormap_cividis")
    cividis.trigger()
    assert window.state.view_style.colormap == "cividis"
    lut_top = detail.image.lut[-1][:3]  # the brightest colour of the log lookup table
    top = pg.colormap.get("cividis").map(1.0, mode=pg.ColorMap.BYTE)[:3]
    assert tuple(int(v) for v in lut_top) == pytest.approx(tuple(int(v) for v in top), abs=3)
