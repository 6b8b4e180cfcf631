"""Run folders summarised for a person: settings, state, progress, final and best metrics; the
differences between runs; a run's metrics as CSV. ``bert-engine runs`` and the training monitor
read run folders through this module.

Standard library only (no torch, numpy or Qt): the monitor refreshes a table of every run from
it while jobs train. :class:`RunCatalog` keeps each run's summary and reads only what changed
(a status file, the metrics lines appended since the last refresh).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import io
import json
import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import atomic
from engine.options import Spec, SpecError
from engine.runlog import MetricsReader, RunFolder, RunFolderError
from engine.specs import FinetuneJob, FinetuneSpec, PretrainJob, PretrainSpec, TrainConfig

ACTIVE_STATES = ("starting", "running")
DELETABLE_STATES = ("finished", "failed", "cancelled")
STALE_AFTER_S = 30.0  # an active run whose heartbeat is older is taken for dead
PRETRAIN_BEST = "mlm_acc"  # a pretraining run's best: its best held-out masked-token accuracy
RUN_PLACEHOLDER = "<run>"  # a setting's path inside the run's own folder (a --corpus job's data)
TASK_SPECS = {"pretrain": PretrainSpec, "finetune": FinetuneSpec}
JOB_SPECS = {"pretrain": PretrainJob, "finetune": FinetuneJob}
CSV_FIXED = ("step", "time", "split")


# --------------------------------------------------------------------------- settings

def run_settings(config: dict, run_path: Path) -> dict[str, Any]:
    """The run's settings by name, read back through its job specs: what its command gave
    the job beside the task (``--corpus``, ``--device`` ...), then the task, then training; a
    path inside the run's folder is written ``<run>/...`` so runs of one job compare equal.
    SpecError when the saved settings are not a job's."""
    kind = config.get("kind", "pretrain")
    if kind == "index":  # a corpus index job (engine.corpus_index): its settings alone
        from engine.corpus_index.spec import IndexSpec

        return dataclasses.asdict(IndexSpec.from_config(config.get("task")))
    if kind not in TASK_SPECS:
        raise SpecError([f"unknown run kind {kind!r}"])
    specs = (TASK_SPECS[kind].from_config(config.get("task")),
             TrainConfig.from_config(config.get("train")))
    settings: dict[str, Any] = {}
    job = creating_job(config)
    if job is not None:  # what the job was given beyond its task and training (--corpus ...)
        settings.update((f.name, getattr(job, f.name)) for f in dataclasses.fields(job)
                        if not isinstance(getattr(job, f.name), Spec))
    for spec in specs:
        for f in dataclasses.fields(spec):
            value = _shown_value(getattr(spec, f.name), run_path)
            name = f.name if settings.get(f.name, value) == value else f"train.{f.name}"
            settings[name] = value
    return settings


def _shown_value(value: Any, run_path: Path) -> Any:
    if isinstance(value, str) and os.path.isabs(value):
        try:
            inside = Path(value).relative_to(run_path)
        except ValueError:
            return value
        return f"{RUN_PLACEHOLDER}/{inside.as_posix()}"
    return value


def creating_job(config: dict) -> PretrainJob | FinetuneJob | None:
    """The job as its command created the run (``config.json``'s "command"): what a new job
    like it is told. None when the run has no such command (made another way) or it no longer
    parses."""
    command, kind = config.get("command"), config.get("kind", "pretrain")
    if not isinstance(command, list) or kind not in command or kind not in JOB_SPECS:
        return None
    try:
        known, _rest = _job_parser(kind).parse_known_args(
            [str(a) for a in command[command.index(kind) + 1:]])
        return JOB_SPECS[kind].from_args(known)
    except (argparse.ArgumentError, SpecError, SystemExit):
        return None


@functools.cache  # one parser per kind: the runs table reads 200 runs at a time
def _job_parser(kind: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    JOB_SPECS[kind].add_arguments(parser)
    return parser


def setting_text(value: Any) -> str:
    """A setting as the runs table and ``bert-engine runs`` show it."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return " ".join(map(str, value))
    return "–" if value is None else str(value)


def differing_settings(settings: list[dict[str, Any]]) -> list[str]:
    """The settings whose values are not the same in every run (missing counts as a value),
    in the order they first appear."""
    names = list(dict.fromkeys(name for s in settings for name in s))
    return [n for n in names if len({repr(s.get(n, _MISSING)) for s in settings}) > 1]


_MISSING = object()


# --------------------------------------------------------------------------- summaries

@dataclass
class Best:
    metric: str
    value: float
    step: int


@dataclass
class RunSummary:
    """One run folder as ``runs list`` prints it and the monitor's runs table shows it."""

    path: Path
    kind: str
    task: str | None               # fine-tuning: classify | regress | tag | qa
    state: str                     # the recorded state; "failed" for an active, silent run
    step: int
    max_steps: int | None
    heartbeat_age_s: float | None
    host: str | None
    created: float | None
    main_metric: str               # what "best" is: the fine-tune's main metric, or mlm_acc
    best: Best | None
    final: dict[str, dict[str, float]]  # split -> metric -> its last value
    records: int                   # metrics records (lines) read
    first_time: float | None       # the first and last record's time
    last_time: float | None
    settings: dict[str, Any]
    settings_error: str | None = None
    error: str | None = None       # the run's own error message
    checkpoints: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.update(path=str(self.path), name=self.name)
        return data


class _MetricsFold:
    """What a summary needs from metrics.jsonl, folded in as lines arrive. Training and probe
    lines (nearly all of a long run's) are counted, not decoded: only the first line (the start
    time), the held-out ones and the newest training one are read."""

    SKIPPED_SPLIT = re.compile(rb'"split"\s*:\s*"(train|probe)"')

    def __init__(self, path: Path, best_metric: str | None):
        self.reader = MetricsReader(path)
        self.best_metric = best_metric  # None: the run's status names its best
        self.best: Best | None = None
        self.final: dict[str, dict[str, Any]] = {}  # split -> its newest record
        self.records = 0  # metrics records, probes aside
        self.first_time: float | None = None
        self.last_time: float | None = None
        self._newest_train: bytes | None = None
        self._stamp: tuple[int, int, int] | None = None

    def _wanted(self, raw: bytes) -> bool:
        first = self.records == 0 and self.first_time is None
        skipped = self.SKIPPED_SPLIT.search(raw)
        if skipped is None:
            self.records += 1
            return True
        if skipped.group(1) == b"train":
            self.records += 1
            self._newest_train = raw
        return first

    def poll(self) -> None:
        stamp = _stamp(self.reader.path)
        if stamp is not None and stamp == self._stamp:
            return  # nothing appended: no need to open the file
        self._stamp = stamp
        self._newest_train = None
        records = self.reader.read_new(self._wanted)
        if self.reader.restarted:
            self.__init__(self.reader.path, self.best_metric)
            records = self.reader.read_new(self._wanted)
        if self._newest_train is not None:
            try:
                newest = json.loads(self._newest_train.decode("utf-8"))
            except ValueError:  # a malformed line: the reader's count says so elsewhere
                newest = None
            if isinstance(newest, dict):
                records.append(newest)
        for record in records:
            moment, split = record.get("time"), record.get("split", "train")
            if _number(moment):
                self.first_time = moment if self.first_time is None else self.first_time
                self.last_time = moment if self.last_time is None else max(self.last_time,
                                                                          moment)
            if split == "probe":
                continue
            self.final[split] = record
            value = record.get(self.best_metric) if self.best_metric else None
            if split == "heldout" and _number(value) and (self.best is None
                                                          or value > self.best.value):
                self.best = Best(self.best_metric, float(value), int(record.get("step", 0)))


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What tells a file changed (replaced, grown, rewritten); None when it is missing."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def recorded_state(status: dict, now: float | None = None) -> str:
    """The state a run's status records, except that an active run silent for longer than
    :data:`STALE_AFTER_S` is taken for failed (its process died without a word)."""
    state = status.get("state") or "starting"
    heartbeat = status.get("heartbeat")
    now = time.time() if now is None else now
    if state in ACTIVE_STATES and _number(heartbeat) and now - heartbeat > STALE_AFTER_S:
        return "failed"
    return state


class _Entry:
    def __init__(self, run: RunFolder):
        self.run = run
        self.config_stamp: tuple[int, int, int] | None = None
        self.config: dict = {}
        self.settings: dict[str, Any] = {}
        self.settings_error: str | None = None
        self.fold: _MetricsFold | None = None
        self.status_stamp: tuple[int, int, int] | None = None
        self.status: dict = {}
        self.checkpoints: list[int] = []

    def refresh_config(self) -> None:
        stamp = _stamp(self.run.config_path)
        if stamp == self.config_stamp and self.fold is not None:
            return
        self.config_stamp = stamp
        try:
            self.config = self.run.read_config()
        except RunFolderError as exc:
            self.config, self.settings, self.settings_error = {}, {}, str(exc)
        else:
            try:
                self.settings, self.settings_error = run_settings(self.config, self.run.path), None
            except SpecError as exc:
                self.settings, self.settings_error = {}, f"{self.run.config_path}: {exc}"
        kind = self.config.get("kind", "pretrain")
        best = PRETRAIN_BEST if kind == "pretrain" else None
        if self.fold is None or self.fold.best_metric != best:
            self.fold = _MetricsFold(self.run.metrics_path, best)

    def refresh_status(self) -> None:
        """The status and the checkpoints, read again only when status.json changed (a job
        writes it at every step it logs and after every checkpoint)."""
        stamp = _stamp(self.run.status_path)
        if stamp is None or stamp != self.status_stamp:
            self.status_stamp = stamp
            self.status = self.run.read_status() or {}
            self.checkpoints = [step for step, _ in self.run.checkpoints()]

    def summary(self, now: float) -> RunSummary:
        self.refresh_config()
        self.fold.poll()
        self.refresh_status()
        status, config, fold = self.status, self.config, self.fold
        kind = config.get("kind", "pretrain")
        task = config.get("task") if kind == "finetune" else None
        best = fold.best
        if kind == "finetune":  # the job's own verdict (it knows which way its metric goes)
            saved = status.get("best") or {}
            best = (Best(str(saved.get("metric")), float(saved["value"]), int(saved["step"]))
                    if _number(saved.get("value")) and isinstance(saved.get("step"), int)
                    else None)
        heartbeat = status.get("heartbeat")
        max_steps = status.get("max_steps") or (config.get("train") or {}).get("max_steps")
        return RunSummary(
            path=self.run.path, kind=kind,
            task=task.get("task") if isinstance(task, dict) else None,
            state=recorded_state(status, now), step=int(status.get("step") or 0),
            max_steps=max_steps if isinstance(max_steps, int) else None,
            heartbeat_age_s=now - heartbeat if _number(heartbeat) else None,
            host=status.get("host"), created=config.get("created"),
            main_metric=config.get("main_metric") or PRETRAIN_BEST, best=best,
            final={split: {k: v for k, v in values.items() if k not in CSV_FIXED and _number(v)}
                   for split, values in fold.final.items()},
            records=fold.records, first_time=fold.first_time, last_time=fold.last_time,
            settings=self.settings, settings_error=self.settings_error,
            error=status.get("error"), checkpoints=list(self.checkpoints))


class RunCatalog:
    """Summaries of run folders, refreshed incrementally: a run's settings are read again only
    when its config.json changes, its metrics from where the last refresh stopped."""

    def __init__(self) -> None:
        self._entries: dict[Path, _Entry] = {}

    def summaries(self, runs: list[RunFolder]) -> list[RunSummary]:
        now = time.time()
        wanted = {run.path for run in runs}
        for path in [p for p in self._entries if p not in wanted]:
            del self._entries[path]
        return [self._entries.setdefault(run.path, _Entry(run)).summary(now) for run in runs]

    def summary(self, run: RunFolder) -> RunSummary:
        return self.summaries([run])[0]


def summarize(run: RunFolder) -> RunSummary:
    """One run's summary, read once (``bert-engine runs show``)."""
    return RunCatalog().summary(run)


def delete_run(run: RunFolder) -> None:
    """Delete a finished, failed or cancelled run's folder (engine.atomic.delete_folder: a kill
    mid-delete never leaves half a run under its name); RunFolderError for any other state,
    a running run above all."""
    state = recorded_state(run.read_status() or {})
    if state not in DELETABLE_STATES:
        raise RunFolderError(run.path, f"is {state}: only a finished, failed or cancelled run "
                                       "can be deleted")
    atomic.delete_folder(run.path)


# --------------------------------------------------------------------------- metrics as CSV

def read_records(run: RunFolder) -> list[dict]:
    """Every metrics record of the run but the entropy probes (they hold maps, not numbers)."""
    return [r for r in MetricsReader(run.metrics_path).read_new() if r.get("split") != "probe"]


def write_metrics_csv(path: str | os.PathLike, runs: list[tuple[str, list[dict]]]) -> int:
    """Write the runs' records to ``path``: one row per record, columns step, time, split and
    every metric (empty where a record has none), preceded by ``run`` when there are several
    runs. Numbers are written exactly (they parse back to the same floats). Returns the rows."""
    several = len(runs) > 1
    metrics = list(dict.fromkeys(k for _, records in runs for r in records for k, v in r.items()
                                 if k not in CSV_FIXED and _number(v)))
    columns = (["run"] if several else []) + [*CSV_FIXED, *metrics]
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(columns)
    rows = 0
    for name, records in runs:
        for record in records:
            cells = [name] if several else []
            cells += [_cell(record.get(k)) for k in CSV_FIXED]
            cells += [_cell(record.get(k)) if _number(record.get(k)) else "" for k in metrics]
            writer.writerow(cells)
            rows += 1
    atomic.write_bytes(path, text.getvalue().encode("utf-8"))
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)
