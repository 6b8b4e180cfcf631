"""Atomic writes: a reader (or the next run after a crash) sees the old file or folder, or the new
one, never a half-written one. Every file the engine writes in place goes through here.

A file is written to a hidden temp file in the same folder, flushed, fsynced and renamed over the
target, then the folder is fsynced so the rename itself survives a power cut. A folder is written
into a hidden temp folder beside the target (:func:`staged_folder`), every file in it fsynced, and
swapped in with renames (:func:`replace_folder`). Temp names start with "." and hold ``.tmp-``, so
listings skip them; a process killed mid-write leaves such a temp behind, never a torn target.

Standard library only: the GUI and the run monitor import this without torch or numpy.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["write_bytes", "write_text", "write_json", "json_bytes", "atomic_open",
           "staged_folder", "replace_folder", "delete_folder", "fsync_dir"]


def fsync_dir(directory: str | os.PathLike) -> None:
    """Make renames in ``directory`` durable where the OS allows it (not on Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _rename(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    # On Windows a reader holding dst open makes os.replace fail for a moment; retry briefly.
    for attempt in range(20):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if os.name != "nt" or attempt == 19:
                raise
            time.sleep(0.005 * (attempt + 1))


def _sibling(path: Path, tag: str) -> Path:
    """A hidden, unused name beside ``path``: ``.NAME.TAG-PID-RANDOM``."""
    return path.with_name(f".{path.name}.{tag}-{os.getpid()}-{secrets.token_hex(4)}")


def _unlink_quietly(path: str | os.PathLike) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _link_new(tmp: Path, path: Path) -> None:
    """Give the finished temp file the name ``path`` only if that name is free (FileExistsError)."""
    try:
        os.link(tmp, path)  # check and create in one step: two racing writers cannot both win
    except FileExistsError:
        raise
    except OSError:  # no hard links here (some network/FAT file systems): check, then rename
        if path.exists():
            raise FileExistsError(17, "File exists", str(path)) from None
        _rename(tmp, path)


@contextmanager
def atomic_open(path: str | os.PathLike, *, exclusive: bool = False) -> Iterator[IO[bytes]]:
    """A binary file to write ``path``'s new content into, for writers that stream (np.savez,
    torch.save, chunked writes).

    When the block ends normally the file is flushed, fsynced and renamed over ``path`` and the
    folder fsynced; when it raises (or the process dies) ``path`` keeps its old content and the
    temp file is removed (left behind only by a kill). ``exclusive=True`` refuses, with
    FileExistsError, to replace a ``path`` that exists, checking in the same step as the rename
    where the file system has hard links.
    """
    path = Path(path)
    tmp = _sibling(path, "tmp")
    # Not mkstemp: its files are private (0600); this one gets the umask's mode, as open() would.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            _link_new(tmp, path)
        else:
            _rename(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    if exclusive:
        _unlink_quietly(tmp)  # ``path`` is a second name of the same file now
    fsync_dir(path.parent)


def write_bytes(path: str | os.PathLike, data: bytes, *, exclusive: bool = False) -> None:
    """Replace ``path`` with ``data`` atomically (see :func:`atomic_open` for ``exclusive``)."""
    with atomic_open(path, exclusive=exclusive) as f:
        f.write(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Replace ``path`` with ``text`` as UTF-8, atomically; newlines are written as ``\\n``."""
    write_bytes(path, text.encode("utf-8"))


def json_bytes(data: Any, *, indent: int | None = 2) -> bytes:
    """``data`` as strict JSON (NaN and inf refused with ValueError), UTF-8, one final newline."""
    return (json.dumps(data, indent=indent, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def write_json(path: str | os.PathLike, data: Any, *, indent: int | None = 2) -> None:
    """Replace ``path`` with ``data`` as JSON, atomically. Data that is not JSON-serializable
    raises (TypeError, or ValueError for NaN/inf) before anything is written."""
    write_bytes(path, json_bytes(data, indent=indent))


def _fsync_tree(folder: Path) -> None:
    """fsync every file and folder under ``folder`` (itself included), each once."""
    for root, _, files in os.walk(folder):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                os.fsync(f.fileno())
        fsync_dir(root)


def replace_folder(new: str | os.PathLike, target: str | os.PathLike) -> None:
    """Swap the folder ``new`` into ``target``'s place with renames, so a reader sees the old
    folder or the new one, never half of either. The previous ``target`` is kept aside until the
    new one is in place (and put back if that rename fails), then deleted."""
    new, target = Path(new), Path(target)
    if not target.exists():
        _rename(new, target)
        fsync_dir(target.parent)
        return
    old = _sibling(target, "old")
    _rename(target, old)
    try:
        _rename(new, target)
    except BaseException:
        _rename(old, target)  # put the previous folder back before reporting the failure
        raise
    fsync_dir(target.parent)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def staged_folder(target: str | os.PathLike) -> Iterator[Path]:
    """An empty hidden folder beside ``target`` to write the new folder's files into.

    When the block ends normally every file in it is fsynced and it replaces ``target``
    (:func:`replace_folder`); when it raises, it is deleted and ``target`` is untouched. Files
    written inside need no atomic writes of their own. Parent folders are created as needed.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(target, "tmp")
    tmp.mkdir()
    try:
        yield tmp
        _fsync_tree(tmp)
        replace_folder(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def delete_folder(folder: str | os.PathLike) -> None:
    """Delete ``folder``, first renaming it to a hidden name, so a kill mid-delete never leaves
    a half-deleted folder under its real name (one that a reader could take as whole)."""
    folder = Path(folder)
    doomed = _sibling(folder, "deleting")
    _rename(folder, doomed)
    fsync_dir(folder.parent)
    shutil.rmtree(doomed, ignore_errors=True)
