"""A long-lived thread that runs typed requests, the newest of each kind replacing a waiting one
(typing fast queues nothing). The inference worker and compare mode's pair worker are built on
it; a subclass picks which waiting kind runs next and hears when one starts."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable

from PySide6.QtCore import QThread

from engine.results import USER_ERRORS


def user_message(exc: Exception) -> str:
    """The user-facing line of an error, one wording for every worker: our errors carry their
    own message; anything else is a bug."""
    if isinstance(exc, (*USER_ERRORS, ValueError, OSError)):
        return str(exc)
    return f"unexpected error: {exc!r}\n{traceback.format_exc(limit=3)}"


class RequestThread(QThread):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._wake = threading.Condition()
        self._pending: dict[type, object] = {}  # kind -> newest request, in submission order
        self._stopping = False
        self.handlers: dict[type, Callable[[object], None]] = {}

    def submit(self, request) -> None:
        with self._wake:
            self._pending.pop(type(request), None)  # re-inserted last: submission order
            self._pending[type(request)] = request
            self._wake.notify()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self.wait()

    def _next_kind(self) -> type:
        """The waiting kind to run next (called under the lock): the oldest, by default."""
        return next(iter(self._pending))

    def _starting(self, kind: type) -> None:
        """Called under the lock as a request of ``kind`` is taken from the queue."""

    def run(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and not self._pending:
                    self._wake.wait()
                if self._stopping:
                    return
                kind = self._next_kind()
                request = self._pending.pop(kind)
                self._starting(kind)
            self.handlers[kind](request)
