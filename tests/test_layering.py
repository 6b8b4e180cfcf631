"""Layering rules: the engine never imports Qt, the GUI package, or transformers."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import engine

FORBIDDEN = ("PySide6", "pyqtgraph", "explorer", "transformers", "shiboken6")
ENGINE_DIR = Path(engine.__file__).parent


def engine_modules() -> list[str]:
    return [f"engine.{m.name}" for m in pkgutil.walk_packages([str(ENGINE_DIR)])]


def test_no_engine_source_file_imports_a_forbidden_package():
    offenders = []
    for path in ENGINE_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_importing_every_engine_module_loads_no_forbidden_package():
    modules = engine_modules()
    assert "engine.model" in modules and "engine.cli" in modules
    code = (f"import importlib, json, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"print(json.dumps(sorted(sys.modules)))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], check=True,
                                       capture_output=True, text=True).stdout)
    assert [m for m in loaded if m.split(".")[0] in FORBIDDEN] == []


def test_gui_code_never_imports_torch_except_in_the_inference_worker():
    """Widgets get numpy and dataclasses; torch runs only in explorer/inference_worker.py,
    and there only inside the worker thread (imported in its methods, not at module level)."""
    import explorer

    offenders = []
    for path in Path(explorer.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top_level = path.name == "inference_worker.py"
        nodes = tree.body if top_level else ast.walk(tree)
        for node in nodes:
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names
                          if n.split(".")[0] == "torch" or n in ("engine.infer", "engine.model",
                                                                 "engine.checkpoint")]
    assert offenders == []


def test_training_never_runs_in_the_gui_process():
    """The GUI starts training only as another process (explorer/jobs.py); no GUI module
    imports the training loop or the training CLI."""
    import explorer

    offenders = []
    for path in Path(explorer.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names
                          if n.startswith(("engine.train", "engine.cli")) or n == "engine.data.batches"]
    assert offenders == []


def _project_imports() -> dict[str, set[str]]:
    """engine and explorer modules -> the project modules each imports, anywhere in the file
    (an import inside a function closes a circle as surely as one at the top)."""
    import explorer

    files = {}
    for package in (ENGINE_DIR, Path(explorer.__file__).parent):
        for path in package.rglob("*.py"):
            parts = path.relative_to(package.parent).with_suffix("").parts
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in files.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                submodules = {f"{node.module}.{a.name}" for a in node.names} & files.keys()
                deps |= submodules or {node.module}  # `from pkg import mod` needs mod, not pkg
        graph[name] = (deps & files.keys()) - {name}
    return graph


def test_no_import_circle_in_the_tree():
    graph = _project_imports()
    assert "engine.checkpoint" in graph["engine.infer"]
    assert "explorer.state" in graph["explorer.main_window"]
    circles = []

    def visit(module: str, path: list[str]) -> None:
        for dep in sorted(graph[module]):
            if dep in path:
                circles.append(path[path.index(dep):] + [dep])
            elif dep not in done:
                visit(dep, path + [dep])
        done.add(module)

    done: set[str] = set()
    for module in sorted(graph):
        if module not in done:
            visit(module, [module])
    assert circles == []


def test_the_torch_free_modules_load_no_torch():
    """What the GUI thread and the job forms import: results, job specs, atomic writes."""
    code = ("import sys, engine.results, engine.specs, engine.atomic, engine.analysis_io\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"


def test_no_file_is_renamed_into_place_outside_engine_atomic():
    """Every "temp file, then rename" goes through engine/atomic.py (fsync, folder fsync,
    Windows retry), so no writer can forget a step."""
    import explorer

    offenders = []
    for package in (ENGINE_DIR, Path(explorer.__file__).parent):
        for path in package.rglob("*.py"):
            if path == ENGINE_DIR / "atomic.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                    continue
                called, on = node.func.attr, node.func.value
                if called == "rename" or (called in ("replace", "renames", "move")
                                          and isinstance(on, ast.Name)
                                          and on.id in ("os", "shutil")):
                    offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
