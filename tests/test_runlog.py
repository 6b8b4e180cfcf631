"""The run folder of a training job: config, atomic status, stop requests, log, checkpoints, metrics."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import engine.runlog as runlog
from engine.runlog import (RUN_STATES, TERMINAL_STATES, MetricsReader, MetricsWriter, RunFolder,
                           RunFolderError, list_runs, write_json_atomic)

REPO_ROOT = Path(__file__).resolve().parent.parent


def start_python(code: str, *args: str) -> subprocess.Popen:
    """A child Python process running ``code`` with the repository importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env,
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(proc: subprocess.Popen, timeout: float = 60) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out


# ---------------------------------------------------------------- config

def test_constants():
    assert RUN_STATES == ("starting", "running", "paused", "finished", "failed", "cancelled")
    assert TERMINAL_STATES == ("paused", "finished", "failed", "cancelled")


def test_constructor_creates_nothing(tmp_path):
    run = RunFolder(tmp_path / "a" / "b")
    assert run.path == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()
    assert run.read_status() is None and run.stop_requested() is None
    assert run.checkpoints() == [] and run.latest_checkpoint() is None and run.log_tail() == []


def test_paths(tmp_path):
    run = RunFolder(str(tmp_path))
    assert run.config_path == tmp_path / "config.json"
    assert run.status_path == tmp_path / "status.json"
    assert run.metrics_path == tmp_path / "metrics.jsonl"
    assert run.log_path == tmp_path / "log.txt"
    assert run.checkpoints_dir == tmp_path / "checkpoints"
    assert run.stop_request_path.parent == tmp_path


def test_create_writes_config_once_and_round_trips(tmp_path):
    config = {"model": "tiny", "lr": 1e-4, "steps": 10, "nested": {"a": [1, 2, "x"]}, "u": "é"}
    run = RunFolder.create(tmp_path / "runs" / "r1", config)
    assert run.path == tmp_path / "runs" / "r1"
    assert run.checkpoints_dir.is_dir()
    assert run.read_config() == config
    assert RunFolder(run.path).read_config() == config
    assert json.loads(run.config_path.read_text(encoding="utf-8")) == config
    assert [p.name for p in run.path.iterdir() if p.name.startswith(".")] == []  # no temp left


def test_create_refuses_a_folder_that_holds_a_run(tmp_path):
    RunFolder.create(tmp_path / "r", {"a": 1})
    with pytest.raises(RunFolderError) as info:
        RunFolder.create(tmp_path / "r", {"a": 2})
    assert "config.json" in str(info.value) and "exists" in str(info.value)
    assert RunFolder(tmp_path / "r").read_config() == {"a": 1}


def test_create_accepts_an_existing_empty_folder(tmp_path):
    (tmp_path / "r").mkdir()
    assert RunFolder.create(tmp_path / "r", {}).read_config() == {}


def test_create_rejects_unserializable_config_without_writing(tmp_path):
    with pytest.raises(RunFolderError, match="JSON"):
        RunFolder.create(tmp_path / "r", {"x": object()})
    assert not (tmp_path / "r" / "config.json").exists()


def test_read_config_missing_names_the_file(tmp_path):
    with pytest.raises(RunFolderError) as info:
        RunFolder(tmp_path).read_config()
    assert str(tmp_path / "config.json") in str(info.value)
    assert "missing" in str(info.value)
    assert info.value.path == tmp_path / "config.json"


@pytest.mark.parametrize("content", [b'{"a": 1', b"[1, 2]", b"\xff\xfe garbage", b""])
def test_read_config_corrupt_names_the_file(tmp_path, content):
    (tmp_path / "config.json").write_bytes(content)
    with pytest.raises(RunFolderError) as info:
        RunFolder(tmp_path).read_config()
    assert str(tmp_path / "config.json") in str(info.value)
    assert "corrupt" in str(info.value)


# ---------------------------------------------------------------- atomic JSON

def test_write_json_atomic_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "x.json"
    write_json_atomic(path, {"a": 1})
    write_json_atomic(path, {"b": [1, 2], "nan": float("nan")})
    assert json.loads(path.read_text()) == {"b": [1, 2], "nan": None}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_write_json_atomic_failure_keeps_the_old_file(tmp_path):
    path = tmp_path / "x.json"
    write_json_atomic(path, {"a": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


# ---------------------------------------------------------------- status

def test_status_merges_fields(tmp_path):
    run = RunFolder.create(tmp_path / "r", {})
    assert run.read_status() is None
    first = run.write_status(state="starting", pid=1234, max_steps=100)
    second = run.write_status(state="running", step=5)
    assert second["pid"] == 1234 and second["max_steps"] == 100
    assert second["state"] == "running" and second["step"] == 5
    assert isinstance(second["updated"], str) and re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d",
                                                           second["updated"])
    assert first["heartbeat"] < second["heartbeat"]
    # A fresh object (another process) sees and merges the same status.
    other = RunFolder(run.path)
    assert other.read_status() == second
    third = other.write_status(step=6, error=None)
    assert third["pid"] == 1234 and third["step"] == 6 and "error" in third
    assert run.read_status() == third


def test_heartbeat_increases_on_every_write(tmp_path):
    run = RunFolder.create(tmp_path / "r", {})
    beats = [run.write_status(state="running", step=i)["heartbeat"] for i in range(50)]
    assert all(b > a for a, b in zip(beats, beats[1:]))
    assert [run.read_status()["heartbeat"]] == beats[-1:]


def test_invalid_state_is_rejected_and_nothing_written(tmp_path):
    run = RunFolder.create(tmp_path / "r", {})
    run.write_status(state="running")
    with pytest.raises(ValueError, match="bogus"):
        run.write_status(state="bogus", step=3)
    assert run.read_status()["state"] == "running" and "step" not in run.read_status()
    for state in RUN_STATES:
        assert run.write_status(state=state)["state"] == state


def test_status_nonfinite_values_are_written_as_null(tmp_path):
    run = RunFolder.create(tmp_path / "r", {})
    written = run.write_status(state="failed", loss=float("nan"), error="loss is NaN")
    assert written["loss"] is None
    assert json.loads(run.status_path.read_text())["loss"] is None


def test_read_status_survives_a_corrupt_file(tmp_path):
    run = RunFolder.create(tmp_path / "r", {})
    good = run.write_status(state="running", step=1)
    run.status_path.write_text('{"state": "runn')
    assert run.read_status() == good  # the last good status this object knew
    assert RunFolder(run.path).read_status() is None  # a fresh reader has none: no exception
    run.status_path.write_text("[1, 2, 3]")
    assert RunFolder(run.path).read_status() is None
    assert run.read_status() == good
    # Writing again after corruption still works and keeps the known fields.
    assert run.write_status(step=2)["state"] == "running"


@pytest.mark.slow
def test_status_reads_never_see_a_torn_file(tmp_path):
    run = RunFolder.create(tmp_path / "r", {})
    writer = start_python("""
        import sys
        from engine.runlog import RunFolder
        run = RunFolder(sys.argv[1])
        for i in range(500):
            run.write_status(state="running", step=i, pad="x" * (i * 37 % 5000),
                             history=list(range(i % 200)))
        run.write_status(state="finished", step=500)
    """, str(run.path))
    reads = 0
    steps = []
    while writer.poll() is None or reads < 500:
        try:
            raw = run.status_path.read_bytes()
        except FileNotFoundError:
            continue  # the writer has not written the first status yet
        data = json.loads(raw)  # a torn file would raise here
        assert isinstance(data, dict) and data["state"] in RUN_STATES
        status = RunFolder(run.path).read_status()
        assert isinstance(status, dict) and "heartbeat" in status
        steps.append(data["step"])
        reads += 1
    finish(writer)
    assert reads >= 500
    assert steps == sorted(steps)  # never goes back in time
    assert run.read_status()["state"] == "finished"
    assert [p.name for p in run.path.iterdir() if p.name.startswith(".")] == []


# ---------------------------------------------------------------- stop requests

def test_stop_requests(tmp_path):
    run = RunFolder.create(tmp_path / "r", {})
    assert run.stop_requested() is None
    run.request_stop()
    assert run.stop_requested() == "pause"
    assert json.loads(run.stop_request_path.read_text())["mode"] == "pause"
    run.request_stop("cancel")
    assert run.stop_requested() == "cancel"
    assert RunFolder(run.path).stop_requested() == "cancel"
    run.clear_stop_request()
    assert run.stop_requested() is None
    run.clear_stop_request()  # clearing twice is fine


def test_invalid_stop_mode_is_rejected(tmp_path):
    run = RunFolder.create(tmp_path / "r", {})
    with pytest.raises(ValueError, match="stop"):
        run.request_stop("halt")
    assert run.stop_requested() is None


def test_unreadable_stop_request_means_pause(tmp_path):
    run = RunFolder.create(tmp_path / "r", {})
    run.stop_request_path.write_text("not json")
    assert run.stop_requested() == "pause"


# ---------------------------------------------------------------- log

LOG_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d (.*)")


def test_log_appends_timestamped_lines(tmp_path):
    run = RunFolder.create(tmp_path / "r", {})
    run.log("started")
    run.log("step 1 loss 2.5")
    lines = run.log_path.read_text(encoding="utf-8").splitlines()
    assert [LOG_LINE.fullmatch(line).group(1) for line in lines] == ["started", "step 1 loss 2.5"]
    assert run.log_tail() == lines
    assert run.log_tail(1) == lines[-1:]
    assert run.log_tail(0) == []


def test_log_tail_on_a_big_log_reads_only_the_end(tmp_path, monkeypatch):
    run = RunFolder.create(tmp_path / "r", {})
    with open(run.log_path, "w", encoding="utf-8") as f:
        f.writelines(f"2024-01-01T00:00:00 line {i} {'ü' * (i % 7)}\n" for i in range(100_000))
    run.log("the end")
    size = run.log_path.stat().st_size
    bytes_read = 0
    real_open = open

    class Spy:
        def __init__(self, f):
            self.f = f

        def read(self, n=-1):
            nonlocal bytes_read
            data = self.f.read(n)
            bytes_read += len(data)
            return data

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.f.close()

    monkeypatch.setattr(runlog, "open", lambda *a, **k: Spy(real_open(*a, **k)), raising=False)
    tail = run.log_tail(20)
    assert bytes_read < size // 20
    assert len(tail) == 20
    assert tail[:-1] == [f"2024-01-01T00:00:00 line {i} {'ü' * (i % 7)}" for i in range(99_981, 100_000)]
    assert LOG_LINE.fullmatch(tail[-1]).group(1) == "the end"
    monkeypatch.undo()
    # Larger than one read chunk, and more than the file holds.
    assert run.log_tail(5000)[0] == f"2024-01-01T00:00:00 line 95001 {'ü' * (95001 % 7)}"
    assert len(run.log_tail(200_000)) == 100_001


def test_log_tail_of_a_file_without_final_newline(tmp_path):
    run = RunFolder(tmp_path)
    run.log_path.write_text("a\nb\nc")
    assert run.log_tail(2) == ["b", "c"]
    assert run.log_tail(10) == ["a", "b", "c"]


@pytest.mark.slow
def test_log_from_several_processes_never_interleaves(tmp_path):
    run = RunFolder.create(tmp_path / "r", {})
    code = """
        import sys
        from engine.runlog import RunFolder
        run = RunFolder(sys.argv[1])
        for i in range(200):
            run.log(f"proc {sys.argv[2]} message {i} " + "x" * 300)
    """
    procs = [start_python(code, str(run.path), str(n)) for n in range(4)]
    for proc in procs:
        finish(proc)
    lines = run.log_path.read_text().splitlines()
    assert len(lines) == 800
    seen = {n: [] for n in range(4)}
    for line in lines:
        m = re.fullmatch(r"\S+ proc (\d) message (\d+) x{300}", line)
        assert m, line
        seen[int(m.group(1))].append(int(m.group(2)))
    assert all(v == list(range(200)) for v in seen.values())


# ---------------------------------------------------------------- checkpoints

def make_checkpoint(run: RunFolder, name: str, complete: bool = True) -> Path:
    folder = run.checkpoints_dir / name
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")
    if complete:
        (folder / "COMPLETE").write_text("")
    return folder


def test_checkpoints_lists_only_complete_step_folders_in_step_order(tmp_path):
    run = RunFolder.create(tmp_path / "r", {})
    assert run.checkpoints() == [] and run.latest_checkpoint() is None
    for step in (9, 10, 2, 100):
        make_checkpoint(run, f"step-{step}")
    make_checkpoint(run, "step-500", complete=False)  # killed mid-write
    make_checkpoint(run, ".step-600.tmp")  # a temp folder, even if it holds the marker
    make_checkpoint(run, ".tmp-step-700")
    make_checkpoint(run, "best")
    make_checkpoint(run, "step-x")
    (run.checkpoints_dir / "step-3").write_text("a file, not a folder")
    steps = run.checkpoints()
    assert [s for s, _ in steps] == [2, 9, 10, 100]
    assert [p for _, p in steps] == [run.checkpoints_dir / f"step-{s}" for s in (2, 9, 10, 100)]
    assert run.latest_checkpoint() == (100, run.checkpoints_dir / "step-100")


def test_checkpoint_path(tmp_path):
    run = RunFolder(tmp_path)
    assert run.checkpoint_path(42) == tmp_path / "checkpoints" / "step-42"


# ---------------------------------------------------------------- metrics

def test_metrics_round_trip_and_unknown_keys(tmp_path):
    path = tmp_path / "metrics.jsonl"
    reader = MetricsReader(path)
    assert reader.read_new() == []  # before the file exists
    assert reader.offset == 0 and reader.malformed == 0
    with MetricsWriter(path) as writer:
        writer.write({"step": 1, "time": 1.5, "split": "train", "loss": 2.0})
        writer.write({"step": 1, "split": "eval", "accuracy": 0.5, "custom": {"a": [1, 2]}})
    assert reader.read_new() == [
        {"step": 1, "time": 1.5, "split": "train", "loss": 2.0},
        {"step": 1, "split": "eval", "accuracy": 0.5, "custom": {"a": [1, 2]}}]
    assert reader.offset == path.stat().st_size
    assert reader.read_new() == []
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 3  # one line per record, newline-terminated


def test_metrics_writer_appends_to_an_existing_file(tmp_path):
    path = tmp_path / "metrics.jsonl"
    with MetricsWriter(path) as writer:
        writer.write({"step": 1})
    with MetricsWriter(path, fsync=True) as writer:
        writer.write({"step": 2})
    assert [r["step"] for r in MetricsReader(path).read_new()] == [1, 2]


def test_metrics_writer_rejects_non_dicts_and_writes_after_close(tmp_path):
    writer = MetricsWriter(tmp_path / "m.jsonl")
    with pytest.raises(TypeError):
        writer.write([1, 2])
    writer.close()
    writer.close()
    with pytest.raises(ValueError):
        writer.write({"step": 1})


def test_metrics_nonfinite_values_become_null_and_are_named(tmp_path):
    path = tmp_path / "metrics.jsonl"
    with MetricsWriter(path) as writer:
        writer.write({"step": 1, "loss": float("nan"), "grad_norm": float("inf"),
                      "eval": {"loss": -math.inf, "acc": 0.25}, "lr": 1e-4})
        writer.write({"step": 2, "loss": 1.0})
    raw = path.read_text()
    assert "NaN" not in raw and "Infinity" not in raw  # strict JSON
    first, second = MetricsReader(path).read_new()
    assert first == {"step": 1, "loss": None, "grad_norm": None,
                     "eval": {"loss": None, "acc": 0.25}, "lr": 1e-4,
                     "nonfinite": ["loss", "grad_norm", "eval.loss"]}
    assert second == {"step": 2, "loss": 1.0}


def test_partial_last_line_is_returned_exactly_once_when_complete(tmp_path):
    path = tmp_path / "metrics.jsonl"
    reader = MetricsReader(path)
    with open(path, "ab") as f:
        f.write(b'{"step": 1, "loss": 2.0}\n{"step": 2, "lo')
        f.flush()
        assert reader.read_new() == [{"step": 1, "loss": 2.0}]
        assert reader.read_new() == []
        assert reader.read_new() == []
        assert reader.malformed == 0
        f.write(b'ss": 1.5}')
        f.flush()
        assert reader.read_new() == []  # complete JSON but still no newline: not yet
        f.write(b"\n")
        f.flush()
        assert reader.read_new() == [{"step": 2, "loss": 1.5}]
        assert reader.read_new() == []
    assert reader.malformed == 0 and reader.offset == path.stat().st_size


def test_malformed_and_non_object_lines_are_skipped_and_counted(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b'{"step": 1}\n'
                     b'{"step": 2, broken\n'
                     b'[1, 2, 3]\n'
                     b'42\n'
                     b'\n'
                     b'\xff\xfe\n'
                     b'{"step": 3, "new_metric": "kept"}\n')
    reader = MetricsReader(path)
    assert reader.read_new() == [{"step": 1}, {"step": 3, "new_metric": "kept"}]
    assert reader.malformed == 4
    with open(path, "ab") as f:
        f.write(b'oops\n{"step": 4}\n')
    assert reader.read_new() == [{"step": 4}]
    assert reader.malformed == 5


def test_reader_restarts_when_the_file_is_truncated_or_replaced(tmp_path):
    path = tmp_path / "metrics.jsonl"
    with MetricsWriter(path) as writer:
        for step in range(10):
            writer.write({"step": step})
    reader = MetricsReader(path)
    assert len(reader.read_new()) == 10 and not reader.restarted
    # Replaced by a shorter file (a new run reusing the name).
    tmp = tmp_path / "new.jsonl"
    tmp.write_text('{"step": 100}\n')
    os.replace(tmp, path)
    assert reader.read_new() == [{"step": 100}]
    assert reader.restarted and reader.restarts == 1
    assert reader.read_new() == [] and not reader.restarted
    # Truncated in place to a shorter length.
    with open(path, "r+b") as f:
        f.truncate(0)
    with MetricsWriter(path) as writer:
        writer.write({"step": 7})
    assert reader.read_new() == [{"step": 7}]
    assert reader.restarted and reader.restarts == 2
    # Replaced by a longer file: detected by identity, not by size.
    tmp.write_text("".join(f'{{"step": {s}}}\n' for s in range(20, 30)))
    os.replace(tmp, path)
    assert [r["step"] for r in reader.read_new()] == list(range(20, 30))
    assert reader.restarted


def test_reader_while_the_file_is_deleted_and_recreated(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\n{"step": 2}\n')
    reader = MetricsReader(path)
    assert len(reader.read_new()) == 2
    path.unlink()
    assert reader.read_new() == []
    path.write_text('{"step": 3}\n')
    assert reader.read_new() == [{"step": 3}]
    assert reader.restarted


@pytest.mark.parametrize("split_writes", [False, True], ids=["MetricsWriter", "split-writes"])
@pytest.mark.slow
def test_reader_keeps_up_with_a_concurrent_writer(tmp_path, split_writes):
    path = tmp_path / "metrics.jsonl"
    writer = start_python("""
        import json, os, sys
        from engine.runlog import MetricsWriter
        path, split = sys.argv[1], sys.argv[2] == "1"
        if not split:
            with MetricsWriter(path) as w:
                for i in range(2000):
                    w.write({"step": i, "loss": 1.0 / (i + 1), "pad": "p" * (i % 300)})
        else:  # every line reaches the file in two pieces: readers see many partial lines
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            for i in range(2000):
                line = (json.dumps({"step": i, "loss": 1.0 / (i + 1), "pad": "p" * (i % 300)})
                        + "\\n").encode()
                cut = len(line) // 2
                os.write(fd, line[:cut])
                os.write(fd, line[cut:])
            os.close(fd)
    """, str(path), "1" if split_writes else "0")
    reader = MetricsReader(path)
    records = []
    polls = 0
    while writer.poll() is None:
        records += reader.read_new()
        polls += 1
    finish(writer)
    records += reader.read_new()
    assert reader.malformed == 0 and not reader.restarts
    assert [r["step"] for r in records] == list(range(2000))
    assert records[5] == {"step": 5, "loss": 1.0 / 6, "pad": "p" * 5}
    assert polls > 0


# ---------------------------------------------------------------- discovery

def test_list_runs_finds_nested_runs_sorted_by_config_mtime(tmp_path):
    root = tmp_path / "runs"
    a = RunFolder.create(root / "a", {"n": "a"})
    c = RunFolder.create(root / "group" / "c", {"n": "c"})
    b = RunFolder.create(root / "b", {"n": "b"})
    make_checkpoint(a, "step-5")
    (a.checkpoints_dir / "step-5" / "config.json").write_text("{}")  # a checkpoint is not a run
    (root / "empty").mkdir()
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("hi")
    (root / "too" / "deep" / "d").mkdir(parents=True)
    (root / "too" / "deep" / "d" / "config.json").write_text("{}")
    (root / ".trash" / "x").mkdir(parents=True)
    (root / ".trash" / "x" / "config.json").write_text("{}")
    (root / "file.txt").write_text("not a folder")
    for i, run in enumerate([b, a, c]):  # b oldest, then a, then c
        os.utime(run.config_path, (1_000_000 + i, 1_000_000 + i))
    assert list_runs(root) == [b, a, c]
    assert [r.read_config()["n"] for r in list_runs(root)] == ["b", "a", "c"]
    assert list_runs(tmp_path / "missing") == []
    assert list_runs(str(root / "group")) == [c]


# ---------------------------------------------------------------- layering

def test_runlog_imports_only_the_standard_library():
    code = """
        import json, sys
        before = set(sys.modules)
        import engine.runlog
        print(json.dumps(sorted(set(sys.modules) - before)))
    """
    loaded = json.loads(finish(start_python(code)))
    assert "engine.runlog" in loaded
    heavy = [m for m in loaded if m.split(".")[0] in ("torch", "numpy", "PySide6", "pyqtgraph",
                                                      "shiboken6", "transformers", "explorer")]
    assert heavy == []
    foreign = [m for m in loaded
               if m.split(".")[0] not in sys.stdlib_module_names and m.split(".")[0] != "engine"]
    assert foreign == []
