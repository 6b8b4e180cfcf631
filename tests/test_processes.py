"""How the app starts, watches and stops job processes (explorer.processes), on this POSIX
machine; the Windows branches are chosen by ``sys.platform`` and cannot run here."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from explorer import processes

pytestmark = [pytest.mark.slow,  # each starts a process
              pytest.mark.skipif(processes.WINDOWS, reason="the POSIX behaviour")]

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
STUBBORN = [sys.executable, "-c",
            "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(60)"]


def test_a_detached_job_has_its_own_session_so_the_app_closing_does_not_reach_it():
    proc = subprocess.Popen(SLEEPER, **processes.detached())
    try:
        assert os.getsid(proc.pid) == proc.pid != os.getsid(0)
    finally:
        proc.kill()
        proc.wait()


def test_alive_while_it_runs_not_once_it_exited_reaped_or_not():
    proc = subprocess.Popen(SLEEPER)
    assert processes.pid_alive(proc.pid) and processes.pid_alive(os.getpid())
    proc.kill()
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # dead, still a zombie
    assert not processes.pid_alive(proc.pid)
    proc.wait()
    assert not processes.pid_alive(proc.pid)


def test_terminate_asks_and_force_kill_ends_a_job_that_ignores_it():
    polite = subprocess.Popen(SLEEPER)
    processes.terminate(polite.pid)
    assert polite.wait(timeout=30) == -signal.SIGTERM
    stubborn = subprocess.Popen(STUBBORN, stdout=subprocess.PIPE, text=True)
    assert stubborn.stdout.readline().strip() == "ready"
    processes.terminate(stubborn.pid)
    assert stubborn.poll() is None and processes.pid_alive(stubborn.pid)
    processes.force_kill(stubborn.pid)
    assert stubborn.wait(timeout=30) == -signal.SIGKILL
    processes.force_kill(stubborn.pid)  # gone: no error
