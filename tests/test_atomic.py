"""engine.atomic: a write that fails or is killed leaves the old file or folder, whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine import atomic

REPO_ROOT = Path(__file__).resolve().parent.parent


def python(code: str, *args: str, **popen) -> subprocess.Popen:
    """A child Python process running ``code`` with the repository importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env,
                            cwd=REPO_ROOT, text=True, **popen)


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ----- files

def test_json_round_trip_replaces_the_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "data.json"
    atomic.write_json(path, {"old": True})
    data = {"text": "naïve ☃", "numbers": [1, 2.5, -3], "nested": {"none": None}}
    atomic.write_json(path, data)
    assert json.loads(path.read_text(encoding="utf-8")) == data
    assert hidden(tmp_path) == []


def test_unserializable_json_writes_nothing(tmp_path):
    path = tmp_path / "data.json"
    atomic.write_json(path, {"a": 1})
    with pytest.raises(TypeError):
        atomic.write_json(path, {"a": object()})
    with pytest.raises(ValueError):  # strict JSON: NaN has no spelling
        atomic.write_json(path, {"a": float("nan")})
    assert json.loads(path.read_text()) == {"a": 1}
    assert hidden(tmp_path) == []


def test_a_failing_streamed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "blob.bin"
    atomic.write_bytes(path, b"old")
    with pytest.raises(OSError, match="No space"):
        with atomic.atomic_open(path) as f:
            f.write(b"half of the new")
            raise OSError(28, "No space left on device")
    assert path.read_bytes() == b"old"
    assert hidden(tmp_path) == []


def test_exclusive_write_refuses_an_existing_file(tmp_path):
    path = tmp_path / "config.json"
    atomic.write_bytes(path, b"first", exclusive=True)
    with pytest.raises(FileExistsError):
        atomic.write_bytes(path, b"second", exclusive=True)
    assert path.read_bytes() == b"first"
    assert hidden(tmp_path) == []


@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
def test_a_written_file_gets_the_mode_open_would_give_it(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")  # the umask's mode, e.g. 0644: others may read an export
    atomic.write_text(tmp_path / "atomic.txt", "x")
    assert (tmp_path / "atomic.txt").stat().st_mode == plain.stat().st_mode


@pytest.mark.slow
def test_a_write_killed_midway_leaves_the_old_file_readable(tmp_path):
    """A real kill (SIGKILL on POSIX) while the new content is half on disk."""
    path = tmp_path / "state.json"
    old = {"version": "old", "items": list(range(100))}
    atomic.write_json(path, old)
    chunk, chunks = "x" * (1 << 20), 8
    writer = python(f"""
        import sys
        from engine import atomic
        with atomic.atomic_open(sys.argv[1]) as f:
            f.write(b'{{"version": "new", "data": "')
            for i in range({chunks}):
                f.write(b"{chunk[:1]}" * {len(chunk)})
                if i == {chunks // 2 - 1}:
                    f.flush()
                    print("half", flush=True)
                    sys.stdin.read()  # wait here until killed
            f.write(b'"}}')
    """, str(path), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert writer.stdout.readline() == "half\n", writer.stderr.read()
        writer.kill()
    finally:
        writer.wait(timeout=60)
        writer.stdin.close()
        writer.stdout.close()
        writer.stderr.close()
    assert writer.returncode != 0
    assert json.loads(path.read_text()) == old
    # What the writer left is its hidden temp file, half of the new content.
    (leftover,) = [tmp_path / name for name in hidden(tmp_path)]
    assert leftover.stat().st_size >= chunks // 2 * len(chunk)
    atomic.write_json(path, {"version": "next"})  # a later write is not blocked by it
    assert json.loads(path.read_text()) == {"version": "next"}


# ----- folders

def make_folder(path: Path, files: dict[str, str]) -> Path:
    path.mkdir()
    for name, text in files.items():
        (path / name).write_text(text)
    return path


def contents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


def test_staged_folder_replaces_the_target_wholly(tmp_path):
    target = make_folder(tmp_path / "out", {"a.txt": "old a", "stale.txt": "old"})
    with atomic.staged_folder(target) as staged:
        assert staged.parent == tmp_path and staged.name.startswith(".")
        (staged / "a.txt").write_text("new a")
        (staged / "sub").mkdir()
        (staged / "sub" / "b.txt").write_text("new b")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt", "sub"]
    assert (target / "a.txt").read_text() == "new a" and (target / "sub" / "b.txt").read_text() == "new b"
    assert hidden(tmp_path) == []


def test_staged_folder_creates_missing_parents(tmp_path):
    target = tmp_path / "deep" / "er" / "out"
    with atomic.staged_folder(target) as staged:
        (staged / "f.txt").write_text("x")
    assert contents(target) == {"f.txt": "x"}


def test_staged_folder_on_exception_leaves_the_target_untouched(tmp_path):
    target = make_folder(tmp_path / "out", {"a.txt": "old a"})
    with pytest.raises(RuntimeError, match="writer failed"):
        with atomic.staged_folder(target) as staged:
            (staged / "a.txt").write_text("new a")
            raise RuntimeError("writer failed")
    assert contents(target) == {"a.txt": "old a"}
    assert hidden(tmp_path) == []
    with pytest.raises(RuntimeError):  # and a target that did not exist stays absent
        with atomic.staged_folder(tmp_path / "fresh"):
            raise RuntimeError("writer failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_replace_folder_restores_the_old_folder_when_the_swap_fails(tmp_path, monkeypatch):
    target = make_folder(tmp_path / "out", {"a.txt": "old a"})
    new = make_folder(tmp_path / ".new", {"a.txt": "new a"})
    real_replace, calls = os.replace, []

    def second_call_fails(src, dst):  # 1st: target aside; 2nd: new into place (fails)
        calls.append(Path(src).name)
        if len(calls) == 2:
            raise OSError(5, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", second_call_fails)
    with pytest.raises(OSError, match="Input/output"):
        atomic.replace_folder(new, target)
    monkeypatch.undo()
    assert calls[:2] == ["out", ".new"]
    assert contents(target) == {"a.txt": "old a"}
    assert contents(new) == {"a.txt": "new a"}  # the caller's to retry or delete
    assert sorted(p.name for p in tmp_path.iterdir()) == [".new", "out"]


def test_delete_folder_removes_it_and_every_trace(tmp_path):
    folder = make_folder(tmp_path / "step-5", {"COMPLETE": "5\n", "w.bin": "weights"})
    atomic.delete_folder(folder)
    assert list(tmp_path.iterdir()) == []


# ----- layering

def test_importing_atomic_loads_no_torch_or_numpy():
    child = python("""
        import json, sys
        before = set(sys.modules)
        import engine.atomic
        print(json.dumps(sorted(set(sys.modules) - before)))
    """, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    loaded = json.loads(out)
    assert "engine.atomic" in loaded
    assert [m for m in loaded if m.split(".")[0] in ("torch", "numpy", "PySide6")] == []
    assert [m for m in loaded if m.split(".")[0] not in sys.stdlib_module_names
            and m.split(".")[0] != "engine"] == []
