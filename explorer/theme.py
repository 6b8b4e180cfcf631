"""Light and dark themes for the whole application (the plots follow through the state's
``view_style``)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

_DARK = {
    QPalette.ColorRole.Window: "#2b2b2b", QPalette.ColorRole.WindowText: "#e0e0e0",
    QPalette.ColorRole.Base: "#1e1e1e", QPalette.ColorRole.AlternateBase: "#2f2f2f",
    QPalette.ColorRole.Text: "#e0e0e0", QPalette.ColorRole.Button: "#353535",
    QPalette.ColorRole.ButtonText: "#e0e0e0", QPalette.ColorRole.Highlight: "#3d6fb4",
    QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#353535",
    QPalette.ColorRole.ToolTipText: "#e0e0e0", QPalette.ColorRole.PlaceholderText: "#9a9a9a",
}
_light_palette: QPalette | None = None  # the platform's own, kept for switching back


def apply_theme(theme: str) -> None:
    """"dark": a dark palette on every window; "light": the platform's palette."""
    global _light_palette
    app = QApplication.instance()
    if _light_palette is None:
        _light_palette = QPalette(app.palette())
    if theme == "dark":
        palette = QPalette(_light_palette)
        for role, colour in _DARK.items():
            palette.setColor(role, QColor(colour))
        app.setPalette(palette)
    else:
        app.setPalette(_light_palette)
