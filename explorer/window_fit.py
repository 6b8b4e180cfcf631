"""Window sizes that fit the screen: the first size clamped to the available area, and the
``--window-size WxH`` argument."""

from __future__ import annotations

import argparse

from PySide6.QtCore import QRect, QSize
from PySide6.QtWidgets import QWidget

MIN_WINDOW = QSize(1024, 700)  # the smallest size every panel is laid out for
SCREEN_MARGIN = 0.95            # a first window leaves room for panels and title bar


def parse_window_size(text: str) -> QSize:
    """'1600x1000' -> QSize(1600, 1000); argparse's error otherwise."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"{text!r}: expected WIDTHxHEIGHT, e.g. 1600x1000")
    size = QSize(int(parts[0]), int(parts[1]))
    if size.width() < 200 or size.height() < 200 or size.width() > 16384 \
            or size.height() > 16384:
        raise argparse.ArgumentTypeError(f"{text!r}: each side must be 200 to 16384 pixels")
    return size


def clamped(preferred: QSize, available: QRect) -> QSize:
    """``preferred``, shrunk to fit ``available`` (the screen less its panels) with a margin."""
    return QSize(min(preferred.width(), int(available.width() * SCREEN_MARGIN)),
                 min(preferred.height(), int(available.height() * SCREEN_MARGIN)))


def fit_to_screen(window: QWidget, preferred: QSize) -> None:
    """Resize ``window`` to ``preferred`` or the most of its screen that fits, centred there."""
    screen = window.screen()
    if screen is None:
        window.resize(preferred)
        return
    available = screen.availableGeometry()
    window.resize(clamped(preferred, available))
    frame = window.frameGeometry()
    frame.moveCenter(available.center())
    window.move(frame.topLeft())


def keep_on_screen(window: QWidget) -> None:
    """A restored geometry from a bigger screen (or another scale factor) shrinks to fit."""
    screen = window.screen()
    if screen is None:
        return
    available = screen.availableGeometry()
    if window.width() > available.width() or window.height() > available.height():
        fit_to_screen(window, window.size())
