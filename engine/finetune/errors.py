"""The one error type of fine-tuning data: it names the file and, where there is one, the line."""

from __future__ import annotations

import os

from engine.data.corpus import DataError


class FinetuneDataError(DataError):
    """Unusable fine-tuning data. ``str()`` reads ``path:line: reason`` (``path: reason``
    without a line), so the user can open the file at the right place."""

    def __init__(self, path: str | os.PathLike, reason: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {reason}")
