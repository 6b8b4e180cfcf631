"""Recent inputs: the sentence pairs analysed lately (an input counts once it stayed on screen
for a moment, not every keystroke), pinned ones first; kept in the settings."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from PySide6.QtCore import QSettings

HISTORY_KEY = "history/inputs"
MAX_UNPINNED = 12
SETTLE_MS = 2000  # an input shown this long (no edit after it) joins the history


@dataclass(frozen=True)
class Input:
    text_a: str
    text_b: str
    pinned: bool = False

    def label(self, width: int = 60) -> str:
        text = self.text_a + (f"  |  {self.text_b}" if self.text_b else "")
        text = " ".join(text.split())
        return ("📌 " if self.pinned else "") + (text if len(text) <= width
                                                  else text[:width - 1] + "…")


class InputHistory:
    def __init__(self, settings: QSettings):
        self.settings = settings

    def entries(self) -> list[Input]:
        try:
            raw = json.loads(str(self.settings.value(HISTORY_KEY) or "[]"))
            items = [Input(str(e["text_a"]), str(e["text_b"]), bool(e.get("pinned")))
                     for e in raw]
        except (ValueError, TypeError, KeyError):
            return []  # a damaged entry costs the history, never the start-up
        return sorted(items, key=lambda e: not e.pinned)  # stable: pinned first, newest first

    def _store(self, items: list[Input]) -> None:
        pinned = [e for e in items if e.pinned]
        recent = [e for e in items if not e.pinned][:MAX_UNPINNED]
        self.settings.setValue(HISTORY_KEY, json.dumps([asdict(e) for e in pinned + recent]))

    def add(self, text_a: str, text_b: str) -> None:
        """The pair becomes the newest entry (a pinned one stays pinned)."""
        if not (text_a.strip() or text_b.strip()):
            return
        items = self.entries()
        old = next((e for e in items if (e.text_a, e.text_b) == (text_a, text_b)), None)
        rest = [e for e in items if e is not old]
        self._store([Input(text_a, text_b, old.pinned if old else False), *rest])

    def toggle_pin(self, text_a: str, text_b: str) -> bool:
        """Pin the pair (adding it) or unpin it; True when it is pinned now."""
        items = self.entries()
        old = next((e for e in items if (e.text_a, e.text_b) == (text_a, text_b)), None)
        pinned = not (old.pinned if old else False)
        self._store([Input(text_a, text_b, pinned), *(e for e in items if e is not old)])
        return pinned
