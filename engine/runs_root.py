"""The runs root: the one folder whose run folders ``bert-engine runs`` and the training monitor
list, remembered in one small settings file that both read.

``settings.json`` in the user config folder, as platformdirs places it (standard library only:
the engine must not need the GUI's dependencies): ``$XDG_CONFIG_HOME/bert-explorer`` (else
``~/.config/bert-explorer``) on Linux, ``~/Library/Application Support/bert-explorer`` on macOS,
``%LOCALAPPDATA%\\bert-explorer`` on Windows. ``BERT_EXPLORER_CONFIG_DIR`` names another folder
(tests, several setups side by side). Without a remembered root the runs root is the user data
folder's ``runs``, as the monitor always had it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from engine import atomic

APP_NAME = "bert-explorer"
CONFIG_DIR_ENV = "BERT_EXPLORER_CONFIG_DIR"
SETTINGS_NAME = "settings.json"
RUNS_ROOT_SETTING = "runs_root"


def _platform_dir(xdg_variable: str, xdg_default: str) -> Path:
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = str(Path.home() / "Library" / "Application Support")
    else:
        base = os.environ.get(xdg_variable, "").strip() or str(Path.home() / xdg_default)
    return Path(base) / APP_NAME


def config_dir() -> Path:
    override = os.environ.get(CONFIG_DIR_ENV, "").strip()
    return Path(override) if override else _platform_dir("XDG_CONFIG_HOME", ".config")


def settings_path() -> Path:
    return config_dir() / SETTINGS_NAME


def default_runs_root() -> Path:
    """Where runs go when no root was chosen: the user data folder's ``runs``."""
    return _platform_dir("XDG_DATA_HOME", ".local/share") / "runs"


def _read_settings() -> dict:
    try:
        data = json.loads(settings_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet, or unreadable: the defaults
        return {}
    return data if isinstance(data, dict) else {}


def remembered_runs_root() -> Path | None:
    """The runs root chosen last (by ``--runs-root``, the monitor or :func:`remember_runs_root`)."""
    value = _read_settings().get(RUNS_ROOT_SETTING)
    return Path(value) if isinstance(value, str) and value else None


def runs_root() -> Path:
    """The runs root both the monitor and ``bert-engine runs`` list."""
    return remembered_runs_root() or default_runs_root()


def remember_runs_root(folder: str | os.PathLike) -> Path:
    """Make ``folder`` (absolute) the runs root from now on; returns it."""
    folder = Path(folder).expanduser().resolve()
    settings = {**_read_settings(), RUNS_ROOT_SETTING: str(folder)}
    settings_path().parent.mkdir(parents=True, exist_ok=True)
    atomic.write_json(settings_path(), settings)
    return folder
