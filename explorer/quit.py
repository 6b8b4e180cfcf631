"""File ▸ Quit from any explorer window: close every window, then end the application.

Windows that may refuse to close (the training monitor asks about live jobs) close first, so
the question comes once and a "Cancel" there leaves every window open."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication


def quit_application() -> bool:
    """Close every visible window, those that ask first; False (nothing quit) if one refused."""
    app = QApplication.instance()
    windows = [w for w in app.topLevelWidgets() if w.isWindow() and w.isVisible()]
    windows.sort(key=lambda w: not getattr(w, "asks_before_closing", False))
    for window in windows:
        if not window.close():
            return False
    app.quit()
    return True
