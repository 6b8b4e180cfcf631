"""Who the app is to the desktop: its name, version, desktop-file id and icon.

The id names the .desktop entry, the AppStream metainfo and the icon files that
packaging/build.sh installs; on Wayland the compositor matches windows to the .desktop entry by
it (``QGuiApplication.setDesktopFileName``), so the dock shows this icon.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon

from engine.analysis_io import engine_version

APP_NAME = "BERT Explorer"
APP_ID = "io.github.bert_explorer.BertExplorer"
ICON_NAME = "bert-explorer"  # icons/bert-explorer.svg and icons/bert-explorer-<px>.png
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)

_HERE = Path(__file__).resolve().parent


def app_version() -> str:
    """The installed package's version (pyproject.toml's), "unknown" in a tree never installed."""
    return engine_version()


def icon_dir() -> Path:
    """The icons: in the package when installed (pyproject.toml maps them there), else the
    checkout's packaging/icons, their one copy in git."""
    installed = _HERE / "icons"
    return installed if installed.is_dir() else _HERE.parent / "packaging" / "icons"


def app_icon() -> QIcon:
    """The application icon at every size shipped (a null icon if none is found)."""
    icon = QIcon()
    for size in ICON_SIZES:
        png = icon_dir() / f"{ICON_NAME}-{size}.png"
        if png.is_file():
            icon.addFile(str(png))
    return icon
