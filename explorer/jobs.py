"""Background training jobs: separate OS processes running ``bert-engine``, each owning a run
folder under one runs root. Start, pause, resume, cancel; find and reattach to jobs that another
app instance (or a terminal) started; tell a dead job from a slow one.

No Qt and no torch here: the monitor calls :meth:`JobManager.tick` and :meth:`JobManager.view`
from a timer, and they only read small files and check processes.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine import runs_root as shared_root
from engine.runlog import RunFolder, RunFolderError, list_runs
from engine.runs import STALE_AFTER_S
from explorer.processes import detached, force_kill, pid_alive, terminate

HEARTBEAT_TIMEOUT_S = STALE_AFTER_S  # a running job silent for longer is shown as failed
RATE_WINDOW = 20   # train records an ETA and a throughput average over, at most
PAUSE_FACTOR = 5   # a gap this many typical steps long is a pause, not training
CANCEL_TERM_AFTER_S = 20.0  # a cancel request unanswered this long: SIGTERM
CANCEL_KILL_AFTER_S = 20.0  # then, still alive this long after SIGTERM: SIGKILL
PROCESS_LOG = "process.log"  # the job's stdout and stderr, written by the launcher
LOG_TAIL_LINES = 12
ACTIVE_STATES = ("starting", "running")
JOB_COMMANDS = ("pretrain", "finetune", "index")  # bert-engine subcommands that write a run folder
OLD_RUNS_ROOT_KEY = "jobs/runs_root"  # where the app kept the runs root before engine.runs_root
EXTRA_RUNS_KEY = "jobs/extra_runs"


def engine_command(args: list[str]) -> list[str]:
    """The process the launcher runs: this interpreter, so the job gets this install's engine."""
    return [sys.executable, "-m", "engine.cli", *args]


def display_command(args: list[str]) -> str:
    """The same job as a command line a user can paste into a terminal or a cluster script."""
    return shlex.join(["bert-engine", *args])


@dataclass
class JobView:
    """What the monitor shows for one run folder."""

    run: RunFolder
    name: str
    kind: str
    state: str                    # the status' state, or "failed" for a dead or silent job
    step: int
    max_steps: int | None
    elapsed_s: float | None       # training wall time over every process of the run
    eta_s: float | None
    seq_per_s: float | None
    error: str | None
    log_tail: list[str] = field(default_factory=list)
    process_alive: bool | None = None  # None: unknown (a job on another host)
    task: str | None = None           # fine-tuning: classify | regress | tag | qa
    main_metric: str | None = None    # fine-tuning: the held-out metric that picks the best
    best: dict | None = None          # fine-tuning: {"metric", "value", "step", ...} so far
    hardware: str | None = None       # what the job trains on, as the job itself recorded it

    @property
    def can_pause(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def can_resume(self) -> bool:
        return self.state in ("paused", "failed", "cancelled") and not self.process_alive

    @property
    def can_cancel(self) -> bool:
        return self.state in ACTIVE_STATES or bool(self.process_alive)


def _is_job_process(pid: int, run: RunFolder) -> bool:
    """Whether pid still runs this job, not a new process that reused the number: one of its
    arguments is this run folder (``--run-dir`` or ``--resume``). Where the command line cannot
    be read (no /proc: macOS, Windows), the pid is trusted."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().decode("utf-8", "replace").split("\0")
    except FileNotFoundError:
        return not Path("/proc/self").exists() and pid_alive(pid)
    except OSError:
        return True
    try:
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        cwd = Path("/")
    target = run.path.resolve()
    return any(arg and Path(arg).name == target.name and (cwd / arg).resolve() == target
               for arg in argv)


class JobManager:
    """The jobs under one runs root, plus run folders added from elsewhere."""

    def __init__(self, runs_root: str | os.PathLike, heartbeat_timeout: float = HEARTBEAT_TIMEOUT_S,
                 extra_runs: list[str] | None = None):
        self.runs_root = Path(runs_root).expanduser().absolute()  # jobs run from another cwd
        self.heartbeat_timeout = heartbeat_timeout
        self._extra: list[Path] = [Path(p).absolute() for p in extra_runs or []]
        self._children: dict[Path, subprocess.Popen] = {}  # processes this app started
        self._launched: list[Path] = []  # listed even if the job dies before its config.json
        self._exit_codes: dict[Path, int] = {}
        self._cancels: dict[Path, tuple[float, int | None]] = {}  # run -> (asked at, pid)
        self._terminated: dict[Path, float] = {}
        self._killed: set[Path] = set()
        self.host = socket.gethostname()

    @classmethod
    def from_settings(cls, settings, runs_root: str | os.PathLike | None = None,
                      remember: bool = True) -> JobManager:
        """The jobs under ``runs_root`` (then remembered, unless not to ``remember``), else
        the remembered root (:mod:`engine.runs_root`, which ``bert-engine runs`` lists too),
        else the user's data folder; with the run folders added by hand. ``settings``: a
        QSettings (a root it still holds from an older version moves to the engine's file)."""
        old = settings.value(OLD_RUNS_ROOT_KEY)
        if old and remember and shared_root.remembered_runs_root() is None:
            shared_root.remember_runs_root(old)
        settings.remove(OLD_RUNS_ROOT_KEY)
        if runs_root and remember:
            shared_root.remember_runs_root(runs_root)
        root = runs_root or shared_root.runs_root()
        extra = settings.value(EXTRA_RUNS_KEY) or []
        return cls(root, extra_runs=[extra] if isinstance(extra, str) else list(extra))

    # ----- which runs -----

    def runs(self) -> list[RunFolder]:
        """Run folders under the root (whoever started them), then added and started ones."""
        found = list_runs(self.runs_root)
        seen = {r.path.resolve() for r in found}
        for path in [*self._extra, *self._launched]:
            if path.resolve() not in seen:
                seen.add(path.resolve())
                found.append(RunFolder(path))
        return found

    def add_run_folder(self, path: str | os.PathLike) -> RunFolder:
        """Watch a run folder from anywhere; RunFolderError if it is not one."""
        run = RunFolder(path)
        run.read_config()
        if run.path.resolve() not in {p.resolve() for p in self._extra}:
            self._extra.append(run.path)
        return run

    def forget_run_folder(self, path: str | os.PathLike) -> None:
        """Stop listing a run folder added or started here (it was deleted, say)."""
        target = Path(path).resolve()
        self._extra = [p for p in self._extra if p.resolve() != target]
        self._launched = [p for p in self._launched if p.resolve() != target]

    @property
    def extra_runs(self) -> list[str]:
        return [str(p) for p in self._extra]

    def new_run_dir(self, name: str) -> Path:
        """A fresh folder name under the root: name, name-2, name-3, ..."""
        base = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-.") or "run"
        candidate, n = self.runs_root / base, 1
        while candidate.exists():
            n += 1
            candidate = self.runs_root / f"{base}-{n}"
        return candidate

    # ----- control -----

    def start(self, run_dir: str | os.PathLike, args: list[str],
              command: str = "pretrain") -> RunFolder:
        """Launch ``bert-engine COMMAND --run-dir RUN_DIR ARGS`` (pretrain or finetune) as its
        own process."""
        if command not in JOB_COMMANDS:
            raise ValueError(f"unknown job command {command!r}")
        run_dir = Path(run_dir).absolute()
        if (run_dir / "config.json").exists():
            raise RunFolderError(run_dir, "already holds a run; choose another name")
        return self._launch(run_dir, [command, "--run-dir", str(run_dir), *args])

    def resume(self, run: RunFolder) -> RunFolder:
        """Continue a paused, cancelled or failed run from its last checkpoint."""
        if self._live_pid(run, run.read_status() or {}):
            raise RunFolderError(run.path, "its process is still running")
        self._cancels.pop(run.path, None)
        self._terminated.pop(run.path, None)
        self._killed.discard(run.path)
        kind = run.read_config().get("kind")
        return self._launch(run.path, [kind if kind in JOB_COMMANDS else "pretrain", "--resume",
                                       str(run.path)])

    def pause(self, run: RunFolder) -> None:
        """Ask the job to checkpoint and exit; it ends in state ``paused``."""
        run.request_stop("pause")

    def cancel(self, run: RunFolder) -> None:
        """Ask the job to stop; :meth:`tick` escalates to SIGTERM, then SIGKILL, if it does not."""
        status = run.read_status() or {}
        pid = self._live_pid(run, status)
        if status.get("state") in ACTIVE_STATES or pid:
            run.request_stop("cancel")
            self._cancels[run.path] = (time.monotonic(), pid)

    def tick(self) -> None:
        """Reap finished children and escalate unanswered cancels. Call it from a timer."""
        for path, proc in list(self._children.items()):
            if proc.poll() is not None:
                self._exit_codes[path] = proc.returncode
                del self._children[path]
        now = time.monotonic()
        for path, (asked, pid) in list(self._cancels.items()):
            run = RunFolder(path)
            if pid is None or not (pid_alive(pid) and _is_job_process(pid, run)):
                del self._cancels[path]
                self._terminated.pop(path, None)
                if path in self._killed and (run.read_status() or {}).get("state") in ACTIVE_STATES:
                    run.write_status(state="cancelled", error="killed after a cancel request")
                self._killed.discard(path)
                continue
            if path not in self._terminated and now - asked >= CANCEL_TERM_AFTER_S:
                terminate(pid)
                self._terminated[path] = now
            elif (path in self._terminated and path not in self._killed
                  and now - self._terminated[path] >= CANCEL_KILL_AFTER_S):
                force_kill(pid)
                self._killed.add(path)
                run.log("cancel: the job did not stop; killed")

    @property
    def has_live_jobs(self) -> bool:
        return any(self.view(r).process_alive for r in self.runs())

    # ----- what to show -----

    def view(self, run: RunFolder) -> JobView:
        try:
            config = run.read_config()
        except RunFolderError:
            config = {}
        status = run.read_status() or {}
        alive = self._process_alive(run, status)
        if status.get("state") in ACTIVE_STATES and alive is False:
            status = run.read_status() or {}  # it may have written its last state, then exited
        state = status.get("state") or "starting"
        error = status.get("error")
        heartbeat = status.get("heartbeat")
        silent_s = time.time() - heartbeat if isinstance(heartbeat, (int, float)) else None
        if state in ACTIVE_STATES:
            if alive is False:
                code = self._exit_codes.get(run.path)
                state, error = "failed", "the job's process is gone" + (
                    f" (exit status {code})" if code is not None else "")
            elif silent_s is not None and silent_s > self.heartbeat_timeout:
                state, error = "failed", f"no heartbeat for {silent_s:.0f} s (hung?)"
        step = int(status.get("step") or 0)
        max_steps = status.get("max_steps") or config.get("train", {}).get("max_steps")
        elapsed = status.get("elapsed")
        if elapsed is not None and state in ACTIVE_STATES and silent_s is not None:
            elapsed += max(0.0, silent_s)
        rate = _recent_rate(run)
        eta = ((max_steps - step) / rate[0] if rate and max_steps and state in ACTIVE_STATES
               else None)
        tail = self.log_tail(run) if state == "failed" or error else run.log_tail(LOG_TAIL_LINES)
        kind = config.get("kind", "pretrain")
        spec = config.get("task") if kind == "finetune" else None
        best, hardware = status.get("best"), config.get("hardware")
        return JobView(run=run, name=run.path.name, kind=kind,
                       state=state, step=step, max_steps=max_steps, elapsed_s=elapsed,
                       eta_s=eta, seq_per_s=rate[1] if rate else None, error=error,
                       log_tail=tail, process_alive=alive,
                       task=spec.get("task") if isinstance(spec, dict) else None,
                       main_metric=config.get("main_metric"),
                       best=best if isinstance(best, dict) else None,
                       hardware=hardware if isinstance(hardware, str) else None)

    def log_tail(self, run: RunFolder, lines: int = LOG_TAIL_LINES) -> list[str]:
        """The last lines of log.txt, then of the process' own output (errors, tracebacks)."""
        tail = run.log_tail(lines)
        try:
            with open(run.path / PROCESS_LOG, "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - 8192))
                output = f.read().decode("utf-8", "replace").splitlines()[-lines:]
        except OSError:
            output = []
        return tail + [line for line in output if line.strip() and line not in tail]

    # ----- internals -----

    def _launch(self, run_dir: Path, args: list[str]) -> RunFolder:
        run_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(run_dir / PROCESS_LOG, "ab") as out:
            out.write(f"$ {display_command(args)}\n".encode())
            out.flush()
            # Detached: closing the app (or Ctrl+C in its terminal) does not stop it.
            proc = subprocess.Popen(engine_command(args), stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, env=env, **detached(),
                                    cwd=str(Path(__file__).resolve().parent.parent))
        self._children[run_dir] = proc
        self._exit_codes.pop(run_dir, None)
        if run_dir not in self._launched:
            self._launched.append(run_dir)
        return RunFolder(run_dir)

    def _process_alive(self, run: RunFolder, status: dict) -> bool | None:
        child = self._children.get(run.path)
        if child is not None:
            return child.poll() is None
        pid = status.get("pid")
        if not isinstance(pid, int) or status.get("host") not in (None, self.host):
            return None if status else False
        return pid_alive(pid) and _is_job_process(pid, run)

    def _live_pid(self, run: RunFolder, status: dict) -> int | None:
        """The job's pid while its process runs on this host, else None."""
        if not self._process_alive(run, status):
            return None
        child = self._children.get(run.path)
        return child.pid if child is not None else status["pid"]


def _recent_rate(run: RunFolder) -> tuple[float, float | None] | None:
    """(steps per second, sequences per second) over the job's own recent steps: the last
    train records of metrics.jsonl back to where this process began (a resume writes a step
    again) or a pause (a gap far longer than a step), at most :data:`RATE_WINDOW` of them."""
    try:
        with open(run.metrics_path, "rb") as f:
            start = max(0, os.fstat(f.fileno()).st_size - 16384)
            f.seek(start)
            lines = f.read().splitlines()[1 if start else 0:]  # from mid-file: skip the cut line
    except OSError:
        return None
    records = []
    for raw in lines:
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if (isinstance(record, dict) and record.get("split") == "train"
                and isinstance(record.get("step"), int) and _number(record.get("time"))):
            records.append(record)
    pairs = list(zip(records, records[1:]))
    per_step = sorted((b["time"] - a["time"]) / (b["step"] - a["step"]) for a, b in pairs
                      if b["step"] > a["step"] and b["time"] > a["time"])
    if not per_step:
        return None
    typical = per_step[len(per_step) // 2]
    window = [records[-1]]
    for older, newer in reversed(pairs[-(RATE_WINDOW - 1):]):
        steps, seconds = newer["step"] - older["step"], newer["time"] - older["time"]
        if steps <= 0 or seconds <= 0 or seconds / steps > PAUSE_FACTOR * typical:
            break
        window.append(older)
    if len(window) < 2:
        return None
    first, last = window[-1], window[0]
    rates = [r["seq_per_s"] for r in window if _number(r.get("seq_per_s"))]
    return ((last["step"] - first["step"]) / (last["time"] - first["time"]),
            sum(rates) / len(rates) if rates else None)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
