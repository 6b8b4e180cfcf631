"""The operating-system side of job processes: start one detached from the app, ask whether a
pid still runs, stop it. POSIX and Windows differ in all three, so each has one place here.

On Windows (not tried on a Windows machine yet): ``start_new_session`` does not exist, so a job
gets its own process group and no console; ``os.kill(pid, 0)`` would *terminate* the process
there, so liveness is asked of the kernel through ``OpenProcess``/``GetExitCodeProcess``; there
is no SIGKILL, and SIGTERM is TerminateProcess already, so stop and kill are the same call.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

WINDOWS = sys.platform == "win32"


def detached() -> dict:
    """``subprocess.Popen`` options for a job that outlives the app and its terminal (closing
    the window or Ctrl+C there does not reach it)."""
    if WINDOWS:
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW}
    return {"start_new_session": True}


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs (a zombie does not count)."""
    return _windows_pid_alive(pid) if WINDOWS else _posix_pid_alive(pid)


def terminate(pid: int) -> None:
    """Ask the process to end (SIGTERM: the trainer checkpoints first); never raises."""
    _send(pid, signal.SIGTERM)


def force_kill(pid: int) -> None:
    """End the process now (SIGKILL; on Windows TerminateProcess, as ``terminate``)."""
    _send(pid, getattr(signal, "SIGKILL", signal.SIGTERM))


def _send(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def _posix_pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    try:  # a zombie (dead, not yet reaped by its parent) still answers kill(pid, 0)
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _windows_pid_alive(pid: int) -> bool:
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.OpenProcess.restype = wintypes.HANDLE  # pointer-wide: the int default truncates
    kernel32.OpenProcess.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.DWORD)
    kernel32.GetExitCodeProcess.argtypes = (wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD))
    kernel32.CloseHandle.argtypes = (wintypes.HANDLE,)
    process_query_limited_information, still_active, access_denied = 0x1000, 259, 5
    handle = kernel32.OpenProcess(process_query_limited_information, False, pid)
    if not handle:
        return ctypes.get_last_error() == access_denied  # it exists, someone else's
    try:
        code = wintypes.DWORD()
        return bool(kernel32.GetExitCodeProcess(handle, ctypes.byref(code))) and \
            code.value == still_active
    finally:
        kernel32.CloseHandle(handle)
