"""A/B benchmark of the explorer's update cost: an older commit of the GUI (default: the one
before the repaint work, 689f3cf) against this checkout, in alternating child processes, so
both see the same machine load. Same models (random weights), same texts, same edit loop as
``bench/gui_latency.py``.

Printed per side: the latency median, the model pass alone, the GUI's share (latency minus the
pass) and the GUI thread's CPU time (``time.thread_time``): on a loaded machine the last one is
the fair figure, as the wall figures include waiting for a core. ``uptime`` is printed with
every round.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_repaint_ab.py [--base 689f3cf]
        [--rounds 3] [--edits 10] [--models mini base]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

WORDS = {"~32": 12, "~128": 50}
FIGURES = ("latency", "model", "gui_share", "gui_cpu")


def child(root: str, model: str, words: int, edits: int) -> None:
    """Time ``edits`` edits with the explorer of ``root``; one JSON list of figures out."""
    import gui_latency as g  # its helpers; the explorer imported below is ``root``'s

    sys.path.insert(0, root)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    import explorer

    assert Path(explorer.__file__).resolve().is_relative_to(Path(root).resolve()), explorer.__file__
    with tempfile.TemporaryDirectory() as tmp:
        window = g.open_window(Path(tmp), model)
        pairs = g.texts(edits + 2, words)
        g.edit_latencies(window, pairs[:2])  # warm-up
        found = g.edit_latencies(window, pairs[2:])
        tokens = window.state.analysis.num_tokens
        window.close()
    print(json.dumps({"tokens": tokens, "fonts": g.font_families(),
                      "edits": [{f: getattr(e, f) for f in FIGURES} for e in found]}), flush=True)
    app.quit()


def run_child(root: Path, model: Path, words: int, edits: int) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", str(root), str(model),
                           str(words), str(edits)], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(root)})
    if done.returncode != 0:
        sys.exit(f"the child for {root} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="689f3cf", help="the commit to compare against")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--edits", type=int, default=10, help="timed edits per child")
    parser.add_argument("--models", nargs="+", default=["mini", "base"], choices=["mini", "base"])
    parser.add_argument("--child", nargs=4, metavar=("ROOT", "MODEL", "WORDS", "EDITS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        root, model, words, edits = args.child
        child(root, model, int(words), int(edits))
        return
    import gui_latency as g

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = tmp / "base"
        base.mkdir()
        archive = subprocess.run(["git", "archive", args.base], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
        sides = {args.base: base, "this checkout": ROOT}
        results: dict[tuple, list] = {}
        tokens: dict[tuple, int] = {}
        fonts = None
        (tmp / "models").mkdir()
        for preset in args.models:
            model = g.make_model(tmp / "models", preset)  # not tmp / "base": the base's tree
            for r in range(args.rounds):
                print(f"# {preset} round {r + 1}: {uptime()}", flush=True)
                order = list(sides) if r % 2 == 0 else list(sides)[::-1]
                for side in order:
                    for label, words in WORDS.items():
                        found = run_child(sides[side], model, words, args.edits)
                        results.setdefault((preset, label, side), []).extend(found["edits"])
                        tokens[(preset, label)] = found["tokens"]
                        fonts = found["fonts"]
    print(f"\n# bench/gui_repaint_ab.py  {os.cpu_count()} cores, offscreen, {args.rounds} rounds x "
          f"{args.edits} edits per side and size, {fonts} font families; medians, ms")
    print("| model | tokens | side | latency | model pass | GUI share | GUI thread CPU |")
    print("|---|---|---|---|---|---|---|")
    for preset in args.models:
        for label in WORDS:
            cpu = {}
            for side in sides:
                edits = results[(preset, label, side)]
                med = {f: statistics.median(e[f] for e in edits) for f in FIGURES}
                cpu[side] = med["gui_cpu"]
                print(f"| {preset} | {label} ({tokens[(preset, label)]}) | {side} | "
                      f"{med['latency']:.0f} | {med['model']:.0f} | {med['gui_share']:.0f} | "
                      f"{med['gui_cpu']:.1f} |")
            ours, theirs = cpu["this checkout"], cpu[args.base]
            print(f"| {preset} | {label} | GUI CPU this / {args.base} | | | | "
                  f"{ours / theirs:.2f}x |")
    print(f"\n{uptime()}")


if __name__ == "__main__":
    main()
