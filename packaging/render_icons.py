"""Render packaging/icons/bert-explorer.svg to the PNG sizes desktops ask for (hicolor theme:
16 to 512 px). Run after changing the SVG: .venv/bin/python packaging/render_icons.py"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

from explorer.identity import ICON_NAME, ICON_SIZES

ICONS = Path(__file__).resolve().parent / "icons"
SOURCE = ICONS / f"{ICON_NAME}.svg"


def render(size: int) -> QImage:
    image = QImage(size, size, QImage.Format_ARGB32)
    image.fill(Qt.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.Antialiasing)
    QSvgRenderer(str(SOURCE)).render(painter)
    painter.end()
    return image


def main() -> int:
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    for size in ICON_SIZES:
        out = ICONS / f"{ICON_NAME}-{size}.png"
        if not render(size).save(str(out)):
            print(f"could not write {out}", file=sys.stderr)
            return 1
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
