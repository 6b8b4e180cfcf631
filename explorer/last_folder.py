"""File dialogs that start where the user last saved or opened something."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

LAST_FOLDER_KEY = "dialogs/last_folder"


def start_path(settings: QSettings, file_name: str = "") -> str:
    """``file_name`` in the last folder used (the home folder the first time)."""
    folder = settings.value(LAST_FOLDER_KEY) or str(Path.home())
    return str(Path(folder) / file_name) if file_name else str(folder)


def remember(settings: QSettings, path: str) -> None:
    """The folder of ``path`` (or ``path`` itself when it is a folder) starts the next dialog."""
    chosen = Path(path)
    settings.setValue(LAST_FOLDER_KEY, str(chosen if chosen.is_dir() else chosen.parent))
