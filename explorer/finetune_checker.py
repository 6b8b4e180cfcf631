"""Checks fine-tuning data off the GUI thread: a GLUE training file is a few hundred thousand
rows, too long a read to freeze the dialog for on every change.

The latest request wins: a request made while a check runs replaces any waiting one, and the
result carries its request number so the dialog drops stale ones. A thread runs only while
there is work (no idle thread to forget), and :meth:`FinetuneChecker.wait` joins it. The
readers are pure Python: no torch here.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal

from explorer.finetune_form import Check, FinetuneForm, check


class FinetuneChecker(QObject):
    sig_checked = Signal(int, object)  # request number, Check

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._waiting: tuple[int, FinetuneForm] | None = None
        self._thread: threading.Thread | None = None

    def request(self, number: int, form: FinetuneForm) -> None:
        with self._lock:
            self._waiting = (number, form)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="finetune-check",
                                                daemon=True)
                self._thread.start()

    def wait(self) -> None:
        """Drop any waiting request and let the running check finish."""
        with self._lock:
            self._waiting = None
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            with self._lock:
                job, self._waiting = self._waiting, None
                if job is None:
                    self._thread = None
                    return
            number, form = job
            try:
                result = check(form)
            except Exception as exc:  # a bug, not bad data: say so rather than hang "checking"
                result = Check(problems=[f"unexpected error while reading the data: {exc!r}"])
            self.sig_checked.emit(number, result)
