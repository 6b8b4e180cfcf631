"""A run's checkpoints on one fixed input: each kept checkpoint compared with the one before it
and with the first (``engine.lab.compare``), so that what changed when shows step by step.

Every point is cached as JSON in a folder the caller names (the app's own cache, never the run
folder: the GUI only reads runs), keyed by the run's path, the input and the step; a point is
valid while the checkpoints it was computed from are the same (their step and their
``COMPLETE`` marker's time). A second read of a series loads no model.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from engine import atomic
from engine.lab.compare import DEFAULT_TOP_K, Reading, compare_readings, read
from engine.results import CheckpointSeries, Comparison, InferenceError, SeriesPoint
from engine.runlog import CHECKPOINT_MARKER, RunFolder

CACHE_FORMAT = 1


class ReadingMemo:
    """The newest checkpoint readings, in memory, for a caller that reads series again and
    again (the explorer's scrub worker): a point computed later (a new checkpoint, or one left
    out before) then loads only its own checkpoint, not the previous one and the first again.
    Keyed by folder, ``COMPLETE`` time and input; the oldest go past ``max_bytes`` of arrays."""

    def __init__(self, max_bytes: int = 256 * 2**20):
        self.max_bytes = max_bytes
        self._held: dict[tuple, Reading] = {}

    @staticmethod
    def _size(reading: Reading) -> int:
        probs = 0 if reading.mask_probs is None else reading.mask_probs.nbytes
        return reading.attentions.nbytes + reading.hidden.nbytes + probs

    def get(self, key: tuple) -> Reading | None:
        return self._held.get(key)

    def put(self, key: tuple, value: Reading) -> None:
        self._held.pop(key, None)
        self._held[key] = value
        while len(self._held) > 1 and sum(map(self._size, self._held.values())) > self.max_bytes:
            self._held.pop(next(iter(self._held)))  # the oldest first


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


def cache_folder(cache_dir: str | os.PathLike, run: RunFolder, text_a: str, text_b: str | None,
                 top_k: int) -> Path:
    """Where a run's points for one input live: CACHE/<run>/<input>/step-N.json."""
    return (Path(cache_dir) / _digest(str(run.path.resolve()))
            / _digest([text_a, text_b, top_k]))


def _stamp(folder: Path) -> int:
    """When the checkpoint was completed: a rewritten step (a run retrained) reads new."""
    return (folder / CHECKPOINT_MARKER).stat().st_mtime_ns


def _check_cache_outside(cache_dir: Path, run: RunFolder) -> None:
    cache, run_path = cache_dir.resolve(), run.path.resolve()
    if cache == run_path or run_path in cache.parents:
        raise InferenceError(f"the cache folder {cache_dir} is inside the run folder "
                             f"{run.path}: give a folder of the app's own")


def checkpoint_series(run_dir: str | os.PathLike, text_a: str, text_b: str | None,
                      cache_dir: str | os.PathLike, steps: Iterable[int] | None = None,
                      device=None, top_k: int = DEFAULT_TOP_K,
                      progress: Callable[[SeriesPoint, int, int], None] | None = None,
                      memo: ReadingMemo | None = None) -> CheckpointSeries:
    """Every kept checkpoint of the run (or those of ``steps``) on the input, each against the
    previous kept checkpoint and against the first; from the cache where it holds the point.
    ``progress(point, done, total)`` hears of each point as it is ready (the explorer draws
    the series as it grows; an exception raised there stops the series). ``memo`` keeps
    readings between calls."""
    from engine.infer import Predictor  # torch loads here

    run = RunFolder(run_dir)
    cache_dir = Path(cache_dir)
    _check_cache_outside(cache_dir, run)
    kept = run.checkpoints()
    if not kept:
        raise InferenceError(f"{run.path} has no complete checkpoint to compare")
    wanted = {step for step, _ in kept} if steps is None else set(steps)
    unknown = sorted(wanted - {step for step, _ in kept})
    if unknown:
        raise InferenceError(f"{run.path} keeps no checkpoint of step {unknown[0]} (kept: "
                             f"{', '.join(str(step) for step, _ in kept)})")
    folder = cache_folder(cache_dir, run, text_a, text_b, top_k)
    memo = memo or ReadingMemo()

    def reading(step: int, path: Path) -> Reading:
        key = (str(path.resolve()), _stamp(path), text_a, text_b)
        held = memo.get(key)
        if held is None:  # a run's checkpoints share its tokenizer and shape
            held = read(Predictor.load(path, device=device), text_a, text_b)
            memo.put(key, held)
        return held

    first_step, first_path = kept[0]
    points, computed = [], 0
    total = sum(step in wanted for step, _ in kept)
    for index, (step, path) in enumerate(kept):
        if step not in wanted:
            continue
        previous = kept[index - 1] if index else None
        key = {"format": CACHE_FORMAT, "step": step, "stamp": _stamp(path),
               "previous": None if previous is None else [previous[0], _stamp(previous[1])],
               "first": [first_step, _stamp(first_path)]}
        cached = _cached_point(folder / f"step-{step}.json", key)
        if cached is None:
            this = reading(step, path)
            point = SeriesPoint(
                step=step, path=str(path),
                from_previous=None if previous is None
                else compare_readings(reading(*previous), this, top_k),
                from_first=compare_readings(reading(first_step, first_path), this, top_k))
            folder.mkdir(parents=True, exist_ok=True)
            atomic.write_json(folder / f"step-{step}.json", {"key": key, **point.to_dict()},
                              indent=None)
            computed += 1
        else:
            point = cached
        points.append(point)
        if progress is not None:
            progress(point, len(points), total)
    return CheckpointSeries(run=str(run.path), text_a=text_a, text_b=text_b, points=points,
                            computed=computed)


def _cached_point(path: Path, key: dict) -> SeriesPoint | None:
    """The point cached at ``path`` if it was computed from the same checkpoints, else None."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("key") != key:
            return None
        previous = data["from_previous"]
        return SeriesPoint(step=data["step"], path=data["path"],
                           from_previous=None if previous is None
                           else Comparison.from_dict(previous),
                           from_first=Comparison.from_dict(data["from_first"]))
    except (OSError, ValueError, KeyError, TypeError):  # absent, torn by hand, older format
        return None
