"""A job's heartbeat: ``status.json`` refreshed from a thread, so a monitor can tell a slow job
from a dead one. Standard library only, like ``engine.runlog``."""

from __future__ import annotations

import threading
from collections.abc import Callable

from engine.runlog import RunFolder, RunFolderError


class Heartbeat:
    """Refreshes ``status.json`` every ``seconds`` from a thread while the ``with`` block runs, so
    a monitor can tell a slow job (a long step, a checkpoint, data preparation) from a dead one.

    ``fields()`` gives what to merge in each time (e.g. the current step). Writers of the same
    status in this process must hold ``lock``: status.json is read, merged and replaced, and
    without it a beat could write back a state that was just replaced. Leaving the block stops
    the thread and waits for it (a daemon thread alive at interpreter exit can abort it).
    """

    def __init__(self, run: RunFolder, seconds: float, lock: threading.Lock,
                 fields: Callable[[], dict] = dict):
        self.run, self.seconds, self.lock, self.fields = run, seconds, lock, fields
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self._done.wait(self.seconds):
            with self.lock:
                if self._done.is_set():
                    return
                try:
                    self.run.write_status(**self.fields())
                except (OSError, RunFolderError):
                    pass  # the job's own writes meet the same disk problem and report it

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._done.set()
        self._thread.join()
