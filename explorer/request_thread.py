"""A long-lived thread that runs typed requests, the newest of each kind replacing a waiting one
(typing fast queues nothing). Compare mode's pair worker is built on it;
``explorer.inference_worker`` keeps its own loop (model loads first, lab work skipped when
stale) for the models themselves."""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QThread

# The user-facing line of an error: one wording for every worker.
from explorer.inference_worker import _message as user_message  # noqa: F401


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

    def run(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and not self._pending:
                    self._wake.wait()
                if self._stopping:
                    return
                request = self._pending.pop(next(iter(self._pending)))
            self.handlers[type(request)](request)
