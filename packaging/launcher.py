"""The frozen bundle's one program, both ``bert-explorer`` and ``bert-engine``.

It runs as the engine when called by that name (a symlink on Linux and macOS, a second exe on
Windows) or as ``bert-explorer -m engine.cli ARGS``: the GUI starts its training jobs as
``sys.executable -m engine.cli …`` (explorer/jobs.py), and frozen, ``sys.executable`` is this
program. Anything else opens the explorer.
"""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import PureWindowsPath

ENGINE_MODULE = ["-m", "engine.cli"]


def role(argv: list[str]) -> tuple[str, list[str]]:
    """("engine" or "explorer", the arguments for it) from this process' ``sys.argv``."""
    # PureWindowsPath splits at / and \ alike; stem drops Windows' .exe.
    name = PureWindowsPath(argv[0]).stem.lower()
    if name == "bert-engine":
        return "engine", argv[1:]
    if argv[1:3] == ENGINE_MODULE:
        return "engine", argv[3:]
    return "explorer", argv[1:]


def main() -> int:
    multiprocessing.freeze_support()  # a no-op unless a frozen Windows child is being spawned
    which, args = role(sys.argv)
    if which == "engine":
        from engine.cli import main as engine_main

        return engine_main(args)
    from explorer.app import main as explorer_main

    return explorer_main(args)


if __name__ == "__main__":
    sys.exit(main())
