"""The training stages behind the default model, kept as `training.json` in the model folder.

Each continued run starts from the previous stage's fp16 export, so the model's history is a
chain of runs. The run folders are working files (outside the repository); a stage record keeps
what the card and the rebuild commands need from each: recipe, steps, wall time, hardware, log.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.runlog import MetricsReader
from engine.train.distributed import cpu_hardware

STAGES_NAME = "training.json"
# What every run or stage recorded before `--nsp-loss-weight` existed trained with: BERT's 1:1.
UNRECORDED_NSP_LOSS_WEIGHT = 1.0
# What stages 1-4 trained on, recorded before stages named their files: the old corpus, in the
# order `prepare` read the training folder before WordNet joined it (issue 24).
OLD_CORPUS_FILES = ("gutenberg.txt", "jargon.txt", "web_bible.txt")
GAP_S = 600  # consecutive logged steps further apart than this were a pause, not training
HISTORY_WORDS = ("resumed", "stop requested", "finished", "cancelled")
NOTE_PREFIX = "note: "  # a history line given to `card --note`, not read from the run's log


def stage_notes(stage: dict) -> list[str]:
    """The ``card --note`` texts of a stage's history."""
    return [line.removeprefix(NOTE_PREFIX) for line in stage["history"]
            if line.startswith(NOTE_PREFIX)]


class StageError(ValueError):
    """A run folder or stages file that cannot describe a stage."""


def training_seconds(metrics_path: Path) -> float:
    """Wall time spent training: gaps between consecutive train records, pauses left out."""
    times = [r["time"] for r in MetricsReader(metrics_path).read_new() if r.get("split") == "train"]
    return sum(b - a for a, b in zip(times, times[1:]) if 0 < b - a < GAP_S)


def recorded_hardware(config: dict) -> str:
    """The hardware the run recorded when it started.

    Runs from before the engine kept that record name only their ``--device``; a CPU one ran on
    this machine (the stages were chained here), anything else is left unnamed.
    """
    if "hardware" in config:
        return config["hardware"]
    command = config.get("command", [])
    device = command[command.index("--device") + 1] if "--device" in command[:-1] else None
    return cpu_hardware() if device == "cpu" else "not recorded"


def training_files(data_dir: Path) -> list[str]:
    """The training files a prepared data folder was made from, in the order `prepare` read
    them (a file named twice was read twice: a mixture that weights it double)."""
    meta = json.loads((data_dir / "meta.json").read_text(encoding="utf-8"))
    return [Path(s["path"]).name for s in meta["sources"] if s["split"] == "train"]


def stage_from_run(run_dir: Path, step: int) -> dict:
    """The record of one run, exported at ``step``."""
    try:
        config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
        log = (run_dir / "log.txt").read_text(encoding="utf-8").splitlines()
        seconds = training_seconds(run_dir / "metrics.jsonl")
        files = training_files(Path(config["task"]["data"]))
    except (OSError, ValueError, KeyError) as exc:
        raise StageError(f"{run_dir}: not a readable run folder ({exc})") from exc
    task, train = config["task"], config["train"]
    return {
        "steps": step,
        "max_steps": train["max_steps"],
        "batch_size": task["batch_size"],
        "seq_len": task["max_seq_length"],
        "max_predictions": task["max_predictions"],
        "near_negatives": task["near_negatives"],
        "nsp_loss_weight": task.get("nsp_loss_weight", UNRECORDED_NSP_LOSS_WEIGHT),
        "lr": train["lr"],
        "warmup_steps": train["warmup_steps"],
        "schedule": train["schedule"],
        "weight_decay": train["weight_decay"],
        "clip_norm": train["clip_norm"],
        "precision": train["precision"],
        "seed": train["seed"],
        "hours": round(seconds / 3600, 2),
        "hardware": recorded_hardware(config),
        "history": [line for line in log if any(w in line for w in HISTORY_WORDS)],
        "train_files": files,
    }


def read_stages(path: Path) -> list[dict]:
    try:
        stages = json.loads(path.read_text(encoding="utf-8"))["stages"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StageError(f"{path}: not a stages file ({exc})") from exc
    if not isinstance(stages, list):
        raise StageError(f"{path}: 'stages' is not a list")
    for stage in stages:
        stage.setdefault("nsp_loss_weight", UNRECORDED_NSP_LOSS_WEIGHT)
        stage.setdefault("train_files", list(OLD_CORPUS_FILES))
    return stages


def write_stages(path: Path, stages: list[dict]) -> None:
    path.write_text(json.dumps({"stages": stages}, indent=2) + "\n", encoding="utf-8")


def data_folder(stage: dict, number: int) -> str:
    """Where the rebuild prepares stage ``number``'s training data: the old corpus's folder
    (which also holds the all-held-out measure), or the stage's own mixture."""
    return ("WORK/data-minilm" if tuple(stage["train_files"]) == OLD_CORPUS_FILES
            else f"WORK/data-stage-{number}")


def prepare_command(stage: dict, number: int) -> str:
    """The `bert-engine prepare` line that writes ``data_folder(stage, number)``."""
    files = " ".join(f"WORK/text/train/{name}" for name in stage["train_files"])
    return (f"$B prepare {files} \\\n    --heldout WORK/text/heldout --tokenizer $M "
            f"--out {data_folder(stage, number)}")


def pretrain_command(stage: dict, number: int) -> str:
    """The `bert-engine pretrain` line that reruns stage ``number`` (1-based)."""
    init = "$M" if number == 1 else f"WORK/stage-{number - 1}"
    return (f"$B pretrain --run-dir WORK/runs/stage-{number} --data {data_folder(stage, number)} "
            f"--init-model {init} \\\n"
            f"    --max-steps {stage['max_steps']} --lr {stage['lr']:g} "
            f"--warmup-steps {stage['warmup_steps']} --schedule {stage['schedule']} \\\n"
            f"    --nsp-near-negatives {stage['near_negatives']} "
            f"--nsp-loss-weight {stage['nsp_loss_weight']:g} --precision {stage['precision']} "
            f"--seed {stage['seed']} --checkpoint-every 100 --device cpu")
