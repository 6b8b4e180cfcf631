"""A long-lived thread that runs typed requests, the newest of each kind replacing a waiting one
(typing fast queues nothing). The explorer's second-model and checkpoint-series workers are
built on it; ``explorer.inference_worker`` keeps its own loop for the first model."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable

from PySide6.QtCore import QThread

from engine.results import USER_ERRORS


class Superseded(Exception):
    """Raised inside a long request when a newer one of a kind it yields to is waiting."""


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

    def drop(self, *kinds: type) -> None:
        """Forget waiting requests of these kinds."""
        with self._wake:
            for kind in kinds:
                self._pending.pop(kind, None)

    def waiting(self, *kinds: type) -> bool:
        """Whether a request of one of these kinds waits, or the thread is stopping (a long
        handler asks this between steps and gives up: ``Superseded``)."""
        with self._wake:
            return self._stopping or any(kind in self._pending for kind in kinds)

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self.wait()

    def run(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and not self._pending:
                    self._wake.wait()
                if self._stopping:
                    return
                request = self._pending.pop(next(iter(self._pending)))
            self.handlers[type(request)](request)


def user_message(exc: Exception) -> str:
    """The user-facing line: our errors carry their own message; anything else is a bug."""
    if isinstance(exc, (*USER_ERRORS, ValueError, OSError)):
        return str(exc)
    return f"unexpected error: {exc!r}\n{traceback.format_exc(limit=3)}"
