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
