"""The run folder of a training job: what the job writes and what the monitor reads.

A job is a separate OS process that owns one folder::

    config.json         resolved job configuration, written once
    status.json         replaced atomically (engine.atomic) on every update
    metrics.jsonl       append-only, one JSON object per line, flushed per line
    log.txt             the job's own human-readable log
    stop_request.json   present while someone asks the job to stop ("pause" or "cancel")
    checkpoints/step-N/ complete checkpoints (a ``COMPLETE`` marker file is written last)

The GUI polls these files often, so this module uses the standard library only: it must never
import torch, numpy or Qt.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from engine import atomic

RUN_STATES = ("starting", "running", "paused", "finished", "failed", "cancelled")
TERMINAL_STATES = ("paused", "finished", "failed", "cancelled")
STOP_MODES = ("pause", "cancel")

CONFIG_NAME = "config.json"
STATUS_NAME = "status.json"
METRICS_NAME = "metrics.jsonl"
LOG_NAME = "log.txt"
CHECKPOINTS_NAME = "checkpoints"
STOP_REQUEST_NAME = "stop_request.json"
CHECKPOINT_MARKER = "COMPLETE"
_STEP_DIR = re.compile(r"step-(\d+)")

__all__ = [
    "RUN_STATES", "TERMINAL_STATES", "STOP_MODES", "CHECKPOINT_MARKER",
    "RunFolder", "RunFolderError", "MetricsWriter", "MetricsReader",
    "list_runs", "write_json_atomic", "checkpoint_dir_name",
]


class RunFolderError(Exception):
    """A run folder file is missing, corrupt or cannot be written; names the path and the reason."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


# --------------------------------------------------------------------------- helpers

def _finite_copy(value: Any, name: str, bad: list[str]) -> Any:
    """``value`` with every non-finite float replaced by None (its dotted name added to ``bad``).

    Scalars that are not plain Python numbers but have ``.item()`` (a 0-d tensor, a numpy
    scalar) are converted with it, so a caller's ``loss`` tensor never breaks a metrics line.
    """
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        bad.append(name)
        return None
    if isinstance(value, dict):
        return {k: _finite_copy(v, f"{name}.{k}" if name else str(k), bad)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_copy(v, f"{name}[{i}]", bad) for i, v in enumerate(value)]
    item = getattr(value, "item", None)
    if callable(item):
        try:
            converted = item()
        except Exception:  # e.g. a tensor with more than one element: leave it to json
            return value
        if converted is not value:
            return _finite_copy(converted, name, bad)
    return value


def _json_bytes(data: Any) -> bytes:
    return atomic.json_bytes(_finite_copy(data, "", []))


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    """Replace ``path`` with ``data`` as JSON so that a reader sees the old file or the new one
    (:func:`engine.atomic.write_bytes`: temp file, fsync, rename, folder fsync).

    Non-finite floats (NaN, inf) become ``null`` so the file is strict JSON. Raises TypeError
    for data that is not JSON-serializable (nothing is written).
    """
    atomic.write_bytes(path, _json_bytes(data))


def _read_json_file(path: Path) -> Any:
    with open(path, "rb") as f:
        return json.loads(f.read().decode("utf-8"))


def checkpoint_dir_name(step: int) -> str:
    """The folder name of the checkpoint at ``step`` inside ``checkpoints/``: ``step-N``."""
    return f"step-{int(step)}"


# --------------------------------------------------------------------------- run folder

class RunFolder:
    """One training job's folder. Constructing it touches nothing on disk."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._last_status: dict | None = None

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunFolder) and self.path == other.path

    def __hash__(self) -> int:
        return hash(self.path)

    # ---- paths
    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_NAME

    @property
    def status_path(self) -> Path:
        return self.path / STATUS_NAME

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_NAME

    @property
    def log_path(self) -> Path:
        return self.path / LOG_NAME

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / CHECKPOINTS_NAME

    @property
    def stop_request_path(self) -> Path:
        return self.path / STOP_REQUEST_NAME

    def checkpoint_path(self, step: int) -> Path:
        """Where the checkpoint at ``step`` lives (whether or not it exists yet)."""
        return self.checkpoints_dir / checkpoint_dir_name(step)

    # ---- config
    @classmethod
    def create(cls, path: str | os.PathLike, config: dict) -> RunFolder:
        """Make the folder (parents too), write ``config.json`` once and make ``checkpoints/``.

        Refuses with RunFolderError when the folder already holds a ``config.json`` (a run folder
        is never reused); the check and the write are one atomic step where the file system has
        hard links, so two jobs racing for one folder cannot both win.
        """
        run = cls(path)
        if not isinstance(config, dict):
            raise RunFolderError(run.config_path, f"config must be a dict, not {type(config).__name__}")
        if run.config_path.exists():
            raise RunFolderError(run.config_path, "already exists: this folder already holds a run")
        try:
            payload = _json_bytes(config)
        except (TypeError, ValueError) as exc:
            raise RunFolderError(run.config_path, f"config is not JSON-serializable: {exc}") from exc
        try:
            run.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunFolderError(run.path, f"cannot create the run folder: {exc}") from exc
        try:
            atomic.write_bytes(run.config_path, payload, exclusive=True)
        except FileExistsError:  # config.json appeared meanwhile
            raise RunFolderError(run.config_path,
                                 "already exists: this folder already holds a run") from None
        run.checkpoints_dir.mkdir(exist_ok=True)
        return run

    def read_config(self) -> dict:
        """The job configuration; RunFolderError naming the file when it is missing or corrupt."""
        path = self.config_path
        try:
            data = _read_json_file(path)
        except FileNotFoundError:
            raise RunFolderError(path, "missing: not a run folder (no config.json)") from None
        except UnicodeDecodeError as exc:
            raise RunFolderError(path, f"corrupt: not UTF-8 text ({exc})") from None
        except json.JSONDecodeError as exc:
            raise RunFolderError(path, f"corrupt: not valid JSON ({exc})") from None
        except OSError as exc:
            raise RunFolderError(path, f"cannot be read: {exc}") from None
        if not isinstance(data, dict):
            raise RunFolderError(path, f"corrupt: expected a JSON object, found {type(data).__name__}")
        return data

    def update_config(self, config: dict) -> None:
        """Replace the job configuration (atomically), e.g. when a resume extends ``max_steps``."""
        if not self.config_path.is_file():
            raise RunFolderError(self.config_path, "missing: not a run folder (no config.json)")
        write_json_atomic(self.config_path, config)

    # ---- status
    def write_status(self, **fields: Any) -> dict:
        """Merge ``fields`` into the current status and replace ``status.json`` atomically.

        Sets ``heartbeat`` (``time.time()``, strictly increasing across this writer's calls) and
        ``updated`` (local ISO-8601 time). A ``state`` must be one of RUN_STATES (ValueError).
        Non-finite floats are written as ``null``. Returns the status dict written.
        """
        state = fields.get("state")
        if "state" in fields and state not in RUN_STATES:
            raise ValueError(f"invalid run state {state!r}; expected one of {', '.join(RUN_STATES)}")
        status = dict(self.read_status() or {})
        status.update(fields)
        now = time.time()
        previous = status.get("heartbeat")
        if isinstance(previous, (int, float)) and not isinstance(previous, bool) and now <= previous:
            now = previous + 1e-6  # the clock did not move (or went back): keep heartbeats ordered
        status["heartbeat"] = now
        status["updated"] = datetime.fromtimestamp(now).astimezone().isoformat(timespec="seconds")
        write_json_atomic(self.status_path, status)
        self._last_status = json.loads(_json_bytes(status))
        return dict(self._last_status)

    def read_status(self) -> dict | None:
        """The current status, or None when there is none yet.

        Never raises for a torn or corrupt file: returns the last good status this object read
        or wrote (None if it has none).
        """
        try:
            data = _read_json_file(self.status_path)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):  # ValueError covers JSON and UTF-8 decoding errors
            return dict(self._last_status) if self._last_status is not None else None
        if not isinstance(data, dict):
            return dict(self._last_status) if self._last_status is not None else None
        self._last_status = data
        return dict(data)

    # ---- stop requests
    def request_stop(self, mode: str = "pause") -> None:
        """Ask the job to stop between steps: "pause" (checkpoint, resumable) or "cancel"."""
        if mode not in STOP_MODES:
            raise ValueError(f"invalid stop mode {mode!r}; expected 'pause' or 'cancel'")
        write_json_atomic(self.stop_request_path, {"mode": mode, "time": time.time()})

    def stop_requested(self) -> str | None:
        """"pause", "cancel" or None. Costs one failed open when no stop was requested.

        A request file that cannot be understood counts as "pause" (stop, but keep the work).
        """
        try:
            data = _read_json_file(self.stop_request_path)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return "pause"
        mode = data.get("mode") if isinstance(data, dict) else None
        return mode if mode in STOP_MODES else "pause"

    def clear_stop_request(self) -> None:
        try:
            os.unlink(self.stop_request_path)
        except FileNotFoundError:
            pass

    # ---- log
    def log(self, message: str) -> None:
        """Append ``"YYYY-mm-ddTHH:MM:SS message"`` as one line to ``log.txt``.

        Each call is one ``write`` on an O_APPEND descriptor, so lines from several processes
        never interleave mid-line. Continuation lines of a multi-line message are indented.
        """
        stamp = datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
        text = str(message).rstrip("\r\n").replace("\r\n", "\n").replace("\n", "\n    ")
        data = f"{stamp} {text}\n".encode("utf-8", errors="replace")
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
        fd = os.open(self.log_path, flags, 0o644)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        finally:
            os.close(fd)

    def log_tail(self, lines: int = 20) -> list[str]:
        """The last ``lines`` lines of ``log.txt`` (without newlines), read from the end."""
        if lines <= 0:
            return []
        try:
            f = open(self.log_path, "rb")
        except FileNotFoundError:
            return []
        with f:
            end = f.seek(0, os.SEEK_END)
            pos = end
            chunk_size = 8192
            data = b""
            # One newline more than needed tells where the first wanted line starts.
            while pos > 0 and data.count(b"\n") <= lines:
                step = min(chunk_size, pos)
                pos -= step
                f.seek(pos)
                data = f.read(step) + data
                chunk_size = min(chunk_size * 2, 1 << 20)
        text = data.decode("utf-8", errors="replace")
        result = text.split("\n")
        if result and result[-1] == "":
            result.pop()
        if pos > 0:
            result = result[1:]  # the first piece may be the tail of an earlier line
        return [line.rstrip("\r") for line in result[-lines:]]

    # ---- checkpoints
    def checkpoints(self) -> list[tuple[int, Path]]:
        """Complete checkpoints as ``(step, folder)`` sorted by step.

        Only ``checkpoints/step-N`` folders holding the ``COMPLETE`` marker count; temp folders
        (names starting with ".") and partial ones are ignored.
        """
        found = []
        try:
            entries = list(os.scandir(self.checkpoints_dir))
        except (FileNotFoundError, NotADirectoryError):
            return []
        for entry in entries:
            match = _STEP_DIR.fullmatch(entry.name)
            if not match or not entry.is_dir():
                continue
            folder = Path(entry.path)
            if (folder / CHECKPOINT_MARKER).is_file():
                found.append((int(match.group(1)), folder))
        found.sort(key=lambda pair: (pair[0], pair[1].name))
        return found

    def latest_checkpoint(self) -> tuple[int, Path] | None:
        found = self.checkpoints()
        return found[-1] if found else None


# --------------------------------------------------------------------------- metrics

class MetricsWriter:
    """Appends one JSON object per line to ``metrics.jsonl``, flushed per line.

    Non-finite floats (NaN, inf) are written as ``null`` and their names listed under the key
    ``"nonfinite"`` (dotted for nested values, e.g. ``"eval.loss"``), so every line is strict
    JSON. With ``fsync=True`` each line is also fsynced.
    """

    def __init__(self, path: str | os.PathLike, fsync: bool = False):
        self.path = Path(path)
        self.fsync = fsync
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
        self._fd: int | None = os.open(self.path, flags, 0o644)

    def write(self, record: dict) -> None:
        if self._fd is None:
            raise ValueError(f"{self.path}: metrics writer is closed")
        if not isinstance(record, dict):
            raise TypeError(f"a metrics record must be a dict, not {type(record).__name__}")
        bad: list[str] = []
        clean = _finite_copy(record, "", bad)
        if bad:
            previous = clean.get("nonfinite")
            names = list(previous) if isinstance(previous, list) else []
            clean["nonfinite"] = names + [n for n in bad if n not in names]
        line = json.dumps(clean, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        view = memoryview((line + "\n").encode("utf-8"))
        while view:  # one write in practice; a short write is finished, never left half
            written = os.write(self._fd, view)
            view = view[written:]
        if self.fsync:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @property
    def closed(self) -> bool:
        return self._fd is None

    def __enter__(self) -> MetricsWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


class MetricsReader:
    """Incremental, tail-safe reader of ``metrics.jsonl`` for a monitor that polls.

    Keeps a byte ``offset``; a last line without its newline is left for a later call. Complete
    lines that are not JSON objects are skipped and counted in ``malformed``; blank lines are
    skipped silently. When the file shrinks below the offset or is replaced by another file, the
    reader starts again from byte 0: ``restarted`` is True after a ``read_new`` call that did so
    (False after one that did not) and ``restarts`` counts them.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.offset = 0
        self.malformed = 0
        self.restarted = False
        self.restarts = 0
        self._identity: tuple[int, int] | None = None

    def read_new(self, wanted: Callable[[bytes], bool] | None = None) -> list[dict]:
        """The records appended since the last call. ``wanted``: given each complete line's
        bytes, whether to decode it (a reader that needs a few lines skips the rest unparsed)."""
        self.restarted = False
        try:
            f = open(self.path, "rb")
        except FileNotFoundError:
            return []
        with f:
            st = os.fstat(f.fileno())
            identity = (st.st_dev, st.st_ino)
            replaced = self._identity is not None and st.st_ino != 0 and identity != self._identity
            if replaced or st.st_size < self.offset:
                self.offset = 0
                self.restarted = True
                self.restarts += 1
            self._identity = identity
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n")
        if end < 0:
            return []
        complete = data[: end + 1]
        self.offset += len(complete)
        records = []
        for raw in complete.split(b"\n")[:-1]:
            if not raw.strip() or (wanted is not None and not wanted(raw)):
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except ValueError:  # JSON and UTF-8 errors
                self.malformed += 1
                continue
            if not isinstance(record, dict):
                self.malformed += 1
                continue
            records.append(record)
        return records


# --------------------------------------------------------------------------- discovery

def list_runs(root: str | os.PathLike) -> list[RunFolder]:
    """Run folders under ``root`` (children and grandchildren holding a ``config.json``).

    Sorted by the config file's modification time (oldest first), then path. A run folder is not
    searched further (its checkpoints hold config files of their own); hidden folders and
    folders named ``checkpoints`` are skipped. A missing root gives an empty list.
    """
    root = Path(root)
    found: list[tuple[float, str, RunFolder]] = []

    def visit(folder: Path, depth: int) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith(".") or entry.name == CHECKPOINTS_NAME:
                continue
            try:
                if not entry.is_dir():
                    continue
            except OSError:
                continue
            child = Path(entry.path)
            try:
                mtime = (child / CONFIG_NAME).stat().st_mtime
            except OSError:
                mtime = None
            if mtime is not None:
                found.append((mtime, str(child), RunFolder(child)))
            elif depth < 2:
                visit(child, depth + 1)

    visit(root, 1)
    found.sort(key=lambda item: (item[0], item[1]))
    return [run for _, _, run in found]
