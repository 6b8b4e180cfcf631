"""Issue 22, defect 2: the window fits and stays usable from 1024 x 700 up, at 512 tokens; its
first size is clamped to the screen; ``--window-size WxH --screenshot F.png``."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, QSize
from PySide6.QtWidgets import QApplication, QScrollArea

from conftest import CORPUS_SLICE, analysed
from engine.paths import default_model_dir
from explorer.window_fit import clamped, parse_window_size
from test_polish_scale import heatmap_luminance

pytestmark = pytest.mark.usefixtures("qapp")
SIZES = [(1024, 700), (1600, 1000), (1920, 1080)]


def long_pair() -> tuple[str, str]:
    """Two passages of the shipped corpus slice, together past 512 word pieces; one [MASK]."""
    words = CORPUS_SLICE.read_text(encoding="utf-8").split()
    a = words[1000:1200]
    a[12] = "[MASK]"
    return " ".join(a), " ".join(words[1200:1420])


def test_window_size_argument():
    assert parse_window_size("1600x1000") == QSize(1600, 1000)
    for bad in ("1600", "x", "16oox900", "10x10", "-5x700"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_window_size(bad)


def test_first_size_is_clamped_to_the_available_screen():
    # QT_SCALE_FACTOR=2 on 1920 x 1080 leaves 960 x 540 logical pixels, less the panel
    assert clamped(QSize(1400, 860), QRect(0, 0, 960, 510)) == QSize(912, 484)
    assert clamped(QSize(1400, 860), QRect(0, 0, 2560, 1400)) == QSize(1400, 860)


def test_a_new_window_opens_inside_the_screen(make_window):
    win = make_window()
    available = win.screen().availableGeometry()
    assert win.width() <= available.width() and win.height() <= available.height()
    assert available.contains(win.frameGeometry().topLeft())


def inside(widget, child) -> bool:
    top_left = child.mapTo(widget, child.rect().topLeft())
    return widget.rect().contains(QRect(top_left, child.size()))


@pytest.mark.slow
def test_every_panel_fits_from_1024x700_up_at_512_tokens(qtbot, make_window):
    win = make_window(SIZES[0])
    with qtbot.waitSignal(win.sig_analysis_applied, timeout=120_000):
        win.start(str(default_model_dir()))
    analysis = analysed(qtbot, win, *long_pair())
    assert analysis.num_tokens == 512
    scroll = win.centralWidget()
    assert isinstance(scroll, QScrollArea)
    filter_bar, strip = win.attention.filter_bar, win.token_strip
    detail = win.attention.head_detail
    for size in SIZES:
        win.resize(*size)
        QApplication.processEvents()
        assert (win.width(), win.height()) == size
        # nothing needs scrolling: every panel has its room
        assert scroll.horizontalScrollBar().maximum() == 0
        assert scroll.verticalScrollBar().maximum() == 0
        hide = filter_bar.hide_special
        assert hide.width() >= hide.sizeHint().width(), "'Hide [CLS]/[SEP]' is cut short"
        swatches = [w for w in strip.findChildren(type(strip.count_label))
                    if w.text() in ("Sentence A", "Sentence B")]
        count = strip.count_label.geometry()
        assert swatches and not any(count.intersects(w.geometry()) for w in swatches)
        view = detail.view
        bar = view.mapFromScene(detail.colorbar.sceneBoundingRect()).boundingRect()
        assert view.rect().contains(bar), f"the colour bar is clipped at {size}"
        assert inside(win.attention, detail.readout)
        assert heatmap_luminance(detail) > 45, f"the map is nearly black at {size}"


@pytest.mark.slow
def test_window_size_and_screenshot_flags(tmp_path):
    png = tmp_path / "shot.png"
    exe = Path(sys.executable).with_name("bert-explorer")
    a, b = long_pair()
    run = subprocess.run([str(exe), "--device", "cpu", "--text-a", a, "--text-b", b,
                          "--window-size", "1024x700", "--screenshot", str(png)],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert run.returncode == 0, run.stderr[-2000:]
    from PySide6.QtGui import QImage

    image = QImage(str(png))
    assert (image.width(), image.height()) == (1024, 700)
    bad = subprocess.run([str(exe), "--window-size", "big"], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert bad.returncode == 2 and "WIDTHxHEIGHT" in bad.stderr
