"""``bert-engine runs``: the run folders under the runs root, for a terminal or a script.

``runs list``, ``runs show RUN``, ``runs export RUN --csv FILE``, ``runs compare RUN RUN...``;
``--json`` prints JSON instead of text. Without ``--root`` the runs root is the training
monitor's (:mod:`engine.runs_root`), so both list the same runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engine import runs_root
from engine.runlog import RunFolder, RunFolderError, list_runs
from engine.runs import (RunCatalog, RunSummary, differing_settings, read_records,
                         setting_text, summarize, write_metrics_csv)

DESCRIPTION = ("List, show, export and compare the run folders of training jobs. Without "
               "--root: the runs root the training monitor uses (remembered by the monitor or "
               "`bert-explorer --runs-root`; default the user data folder's runs/). RUN: a run "
               "folder, or a run's name under the runs root.")


def add_runs_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("runs", help="list, show, export or compare training runs",
                       description=DESCRIPTION)
    actions = p.add_subparsers(dest="runs_command", required=True, metavar="ACTION")

    def action(name: str, func, help_text: str) -> argparse.ArgumentParser:
        a = actions.add_parser(name, help=help_text, description=help_text)
        a.add_argument("--root", metavar="DIR",
                       help=f"the runs root (default: the monitor's, now {runs_root.runs_root()})")
        a.set_defaults(func=func)
        return a

    listing = action("list", cmd_list, "every run: name, kind, state, step/total, best metric "
                                       "(a fine-tune's main metric, a pretraining run's best "
                                       "held-out masked-token accuracy), heartbeat age, host")
    listing.add_argument("--json", action="store_true", help="print JSON for scripts")
    show = action("show", cmd_show, "one run: settings, last metrics, checkpoints")
    show.add_argument("run", metavar="RUN")
    show.add_argument("--json", action="store_true", help="print JSON for scripts")
    export = action("export", cmd_export, "a run's metrics as CSV: one row per record, columns "
                                          "step, time, split and every metric")
    export.add_argument("run", metavar="RUN")
    export.add_argument("--csv", required=True, metavar="FILE", help="the CSV file to write")
    compare = action("compare", cmd_compare, "the settings that differ between runs, and their "
                                             "metrics, side by side")
    compare.add_argument("runs", metavar="RUN", nargs="+")
    compare.add_argument("--json", action="store_true", help="print JSON for scripts")


def _root(args: argparse.Namespace) -> Path:
    return Path(args.root).expanduser() if args.root else runs_root.runs_root()


def _run(args: argparse.Namespace, name: str) -> RunFolder:
    """RUN as a folder, else as a name under the runs root; RunFolderError when neither."""
    for candidate in (Path(name).expanduser(), _root(args) / name):
        if (candidate / "config.json").is_file():
            return RunFolder(candidate)
    raise RunFolderError(name, f"not a run folder, nor a run under {_root(args)}")


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
                     for row in rows)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def best_text(summary: RunSummary) -> str:
    best = summary.best
    return f"{best.metric} {best.value:.4f} @ {best.step:,}" if best else "–"


def progress_text(summary: RunSummary) -> str:
    return f"{summary.step:,}/{summary.max_steps:,}" if summary.max_steps else f"{summary.step:,}"


def cmd_list(args: argparse.Namespace) -> int:
    root = _root(args)
    summaries = RunCatalog().summaries(list_runs(root))
    if args.json:
        _print_json({"root": str(root), "runs": [s.to_json() for s in summaries]})
        return 0
    if not summaries:
        print(f"no runs under {root}")
        return 0
    rows = [["NAME", "KIND", "STATE", "STEP", "BEST", "HEARTBEAT", "HOST"]]
    rows += [[s.name, s.task or s.kind, s.state, progress_text(s), best_text(s),
              _age(s.heartbeat_age_s), s.host or "–"] for s in summaries]
    print(f"runs under {root}\n{_table(rows)}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    summary = summarize(_run(args, args.run))
    if args.json:
        _print_json(summary.to_json())
        return 0
    lines = [f"{summary.name}  ({summary.path})",
             f"  {summary.task or summary.kind} · {summary.state} · step {progress_text(summary)}"
             f" · best {best_text(summary)} · heartbeat {_age(summary.heartbeat_age_s)} ago"
             f" on {summary.host or '–'}"]
    if summary.error:
        lines.append(f"  error: {summary.error}")
    lines.append("settings:")
    if summary.settings_error:
        lines.append(f"  ({summary.settings_error})")
    lines += [f"  {name} = {setting_text(value)}" for name, value in summary.settings.items()]
    lines.append("last metrics:")
    for split, values in summary.final.items():
        lines.append(f"  {split}: " + ", ".join(f"{k} {setting_text(v)}" for k, v in values.items()))
    checkpoints = ", ".join(f"step-{s}" for s in summary.checkpoints) or "none"
    lines.append(f"checkpoints: {checkpoints}")
    print("\n".join(lines))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    run = _run(args, args.run)
    rows = write_metrics_csv(args.csv, [(run.path.name, read_records(run))])
    print(f"{rows} records of {run.path.name} written to {args.csv}", file=sys.stderr)
    return 0


def compared_metrics(summaries: list[RunSummary]) -> dict[str, list[Any]]:
    """Per metric, each run's figure: the best, then the last value of every metric."""
    rows: dict[str, list[Any]] = {"best": [best_text(s) for s in summaries]}
    names = dict.fromkeys((split, key) for s in summaries for split, v in s.final.items()
                          for key in v)
    for split, key in names:
        rows[f"final {split} {key}"] = [s.final.get(split, {}).get(key) for s in summaries]
    return rows


def cmd_compare(args: argparse.Namespace) -> int:
    summaries = [summarize(_run(args, name)) for name in args.runs]
    differing = differing_settings([s.settings for s in summaries])
    metrics = compared_metrics(summaries)
    if args.json:
        _print_json({"runs": [str(s.path) for s in summaries],
                     "settings": {n: [s.settings.get(n) for s in summaries] for n in differing},
                     "metrics": metrics})
        return 0
    rows = [["", *[s.name for s in summaries]]]
    rows += [[name, *[setting_text(s.settings.get(name)) for s in summaries]] for name in differing]
    if not differing:
        rows.append(["(no setting differs)", *["" for _ in summaries]])
    rows.append(["", *["" for _ in summaries]])
    rows += [[name, *map(setting_text, values)] for name, values in metrics.items()]
    print(_table(rows))
    return 0
