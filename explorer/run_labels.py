"""Display names and tags of runs, kept in the app's own settings: a job owns its run folder,
so nothing is written there. And the monitor's filter over names and tags.

No Qt widgets; ``settings`` is a QSettings (or anything with ``value``/``setValue``).
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path

LABELS_KEY = "runs/labels"  # JSON: {resolved run path: {"name": str, "tags": [str]}}


@functools.lru_cache(maxsize=4096)  # the runs table asks for every row on each repaint
def _key(path: str | os.PathLike) -> str:
    return str(Path(path).resolve())


def parse_tags(text: str) -> list[str]:
    """Tags as typed: separated by commas, blanks trimmed, each once."""
    return list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))


class RunLabels:
    def __init__(self, settings):
        self.settings = settings
        try:
            data = json.loads(settings.value(LABELS_KEY) or "{}")
        except (TypeError, ValueError):  # a hand-edited settings file: start afresh
            data = {}
        self._labels: dict[str, dict] = data if isinstance(data, dict) else {}

    def name(self, path: str | os.PathLike) -> str:
        """The run's display name: the one given, else its folder's name."""
        given = self._labels.get(_key(path), {}).get("name")
        return given if isinstance(given, str) and given else Path(path).name

    def tags(self, path: str | os.PathLike) -> list[str]:
        tags = self._labels.get(_key(path), {}).get("tags")
        return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []

    def set_name(self, path: str | os.PathLike, name: str) -> None:
        """Name the run (an empty name goes back to the folder's name)."""
        self._update(path, name=name.strip())

    def set_tags(self, path: str | os.PathLike, tags: list[str]) -> None:
        self._update(path, tags=list(tags))

    def forget(self, path: str | os.PathLike) -> None:
        if self._labels.pop(_key(path), None) is not None:
            self._save()

    def _update(self, path: str | os.PathLike, **fields) -> None:
        entry = {**self._labels.get(_key(path), {}), **fields}
        entry = {k: v for k, v in entry.items() if v}
        if entry:
            self._labels[_key(path)] = entry
        else:
            self._labels.pop(_key(path), None)
        self._save()

    def _save(self) -> None:
        self.settings.setValue(LABELS_KEY, json.dumps(self._labels))


def run_filter(text: str):
    """A predicate over (folder name, display name, tags) for the filter box: a regular
    expression (case-insensitive) that any of them contains; text that is not a valid one is
    matched literally. An empty filter matches every run."""
    text = text.strip()
    try:
        pattern = re.compile(text, re.IGNORECASE)
    except re.error:
        pattern = re.compile(re.escape(text), re.IGNORECASE)

    def matches(folder: str, name: str, tags: list[str]) -> bool:
        return not text or any(pattern.search(s) for s in (folder, name, *tags))

    return matches
