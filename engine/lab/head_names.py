"""Heads named ``L:H`` (layer and head, both counted from 0, as the explorer shows them): parsing,
formatting and checking a set of them. Torch-free, so the GUI and the exports use it too."""

from __future__ import annotations

from collections.abc import Iterable

from engine.results import InferenceError

Head = tuple[int, int]  # (layer, head), both from 0


def parse_heads(text: str) -> tuple[Head, ...]:
    """``"0:1,2:3"`` -> ((0, 1), (2, 3)), sorted, each once; a bad name is an InferenceError."""
    heads = set()
    for name in text.split(","):
        parts = name.strip().split(":")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise InferenceError(f"bad head name {name.strip()!r}: heads are named L:H (layer "
                                 "and head, both counted from 0), e.g. 0:3,5:11")
        heads.add((int(parts[0]), int(parts[1])))
    return tuple(sorted(heads))


def format_heads(heads: Iterable[Head]) -> str:
    """The inverse of ``parse_heads``."""
    return ",".join(f"{layer}:{head}" for layer, head in sorted(heads))


def check_heads(heads: Iterable[Head], num_layers: int, num_heads: int) -> tuple[Head, ...]:
    heads = tuple(sorted(set(heads)))
    for layer, head in heads:
        if not (0 <= layer < num_layers and 0 <= head < num_heads):
            raise InferenceError(f"no head {layer}:{head} in this model: layers 0-"
                                 f"{num_layers - 1}, heads 0-{num_heads - 1}")
    return heads


def all_heads_except(keep: Iterable[Head], num_layers: int, num_heads: int) -> tuple[Head, ...]:
    """Every head but ``keep``: the mask that ablates all but these."""
    kept = set(check_heads(keep, num_layers, num_heads))
    return tuple((l, h) for l in range(num_layers) for h in range(num_heads) if (l, h) not in kept)
