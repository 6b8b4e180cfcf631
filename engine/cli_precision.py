"""The inference commands' ``--precision`` option (and ``--bf16``, its older spelling of bf16).
Torch-free, so ``--help`` stays fast."""

from __future__ import annotations

import argparse

from engine.specs import PRECISIONS

PRECISION_HELP = ("fp32 (default: the probabilities you read), bf16 (the encoder's value, "
                  "attention-output and FFN products in bfloat16; query/key, scores, softmax and "
                  "LayerNorm float32: less weight memory, faster on GPUs and on CPUs with AMX or "
                  "AVX-512 BF16), or auto (bf16 on CUDA and on such CPUs, else fp32)")


def add_precision_options(p: argparse.ArgumentParser, what: str = "") -> None:
    """``what``: a note on what the precision applies to (e.g. "the plain pass")."""
    note = f"; applies to {what}" if what else ""
    p.add_argument("--precision", choices=PRECISIONS, default="fp32", help=PRECISION_HELP + note)
    p.add_argument("--bf16", action="store_true", help="the same as --precision bf16")
