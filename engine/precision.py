"""Numeric precision as a setting: which one ``auto`` means on this machine, and bf16 inference
that stays faithful to fp32.

``auto`` means bf16 on CUDA and on a CPU with AMX-BF16 or AVX-512 BF16 (``amx_bf16`` /
``avx512_bf16`` in ``/proc/cpuinfo``), else fp32. Inference defaults to fp32 (a user reads
probabilities); training's ``--precision auto`` uses the same rule for autocast.

bf16 inference (``Bf16Linear``): the matrix products of the encoder's value, attention-output and
FFN Linear layers (``BF16_KINDS``) run in bfloat16, on bf16 weights stored once (half their
memory); the query and key projections stay float32, and every Linear returns float32, so the
residual stream, the attention scores and their softmax and LayerNorm stay float32. Between the
FFN's two products the activations stay bf16 (the second takes bf16): the first product and its
GELU are one oneDNN call (``engine.fused_gelu``, GELU on the float32 accumulator): on
bert-base at 128 tokens about 3% less time per analysis, the same attention. The MLM decoder stays
float32: a bf16 copy of its weight saved another 3% but moved the top-1 candidate on 5 of the 240
probe sentences of the stage-5 default model (all 240 agree with it in float32). Casting
the whole model to bf16 instead moved the top-1 fill-mask candidate on 4 of 60 probe sentences
and the attention by up to 0.039 (issue 25).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from engine.cpu_packing import pack_weight, packed_linear, packing_available, replace_linears
from engine.specs import PRECISIONS

BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


@functools.cache
def cpu_bf16_flags() -> frozenset[str]:
    """Which of ``BF16_CPU_FLAGS`` this machine's CPU reports (empty where unknown)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = next((line.split(":", 1)[1].split() for line in f
                          if line.startswith("flags")), [])
    except OSError:
        return frozenset()
    return frozenset(BF16_CPU_FLAGS) & set(flags)


def resolve_precision(precision: str, device: torch.device,
                      cpu_flags: frozenset[str] | None = None) -> str:
    """``fp32`` or ``bf16`` for ``precision`` (one of ``PRECISIONS``) on ``device``;
    ``cpu_flags``: the CPU's flags (default: this machine's ``cpu_bf16_flags()``)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    flags = cpu_bf16_flags() if cpu_flags is None else cpu_flags
    return "bf16" if device.type == "cuda" or bool(set(BF16_CPU_FLAGS) & flags) else "fp32"


class Bf16Linear(nn.Module):
    """A frozen ``nn.Linear`` whose product runs in bfloat16 and whose output is float32; on a
    CPU with oneDNN its bf16 weight is prepacked (``engine.cpu_packing``)."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        bias = linear.bias if linear.bias is not None else torch.zeros(linear.out_features)
        weight = linear.weight.detach().to(torch.bfloat16)
        self.packed = weight.device.type == "cpu" and packing_available()
        self.register_buffer("weight", pack_weight(weight) if self.packed else weight)
        self.register_buffer("bias", bias.detach().to(torch.bfloat16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [..., in] -> [..., out] float32
        x = x.to(torch.bfloat16)
        if self.packed:
            return packed_linear(x, self.weight, self.bias).float()
        return F.linear(x, self.weight, self.bias).float()


# Each encoder Linear by the end of its dotted name (``layer.3.attention.self.query``); the
# first match wins, so ``attention.output.dense`` is attention_out, not ffn_out.
LINEAR_KINDS = {"query": "attention.self.query", "key": "attention.self.key",
                "value": "attention.self.value", "attention_out": "attention.output.dense",
                "ffn_in": "intermediate.dense", "ffn_out": "output.dense"}
ALL_KINDS = frozenset(LINEAR_KINDS)
# The Linear layers a bf16 Predictor runs in bf16. Q and K stay fp32: the scores softmax sees
# are their product, and in bf16 they move the attention most (bench/precision_variants.py:
# all six in bf16 move it by up to 0.031, all but Q/K by 0.016, at 0.35x vs 0.38x of
# transformers fp32 on bert-base where fp32 is 0.55x).
BF16_KINDS = ALL_KINDS - {"query", "key"}


def linear_kind(name: str) -> str | None:
    """Which of ``LINEAR_KINDS`` the encoder Linear ``name`` is (None for any other)."""
    return next((kind for kind, suffix in LINEAR_KINDS.items() if name.endswith(suffix)), None)


def layer_index(name: str) -> int | None:
    """The layer of the encoder module ``name`` (``layer.3.…`` -> 3)."""
    parts = name.split(".")
    return int(parts[parts.index("layer") + 1]) if "layer" in parts else None


def cast_linears_bf16(module: nn.Module, kinds: frozenset[str] = ALL_KINDS,
                      layers: frozenset[int] | None = None) -> int:
    """Replace the ``nn.Linear`` layers of ``kinds`` below ``module`` (an encoder) in place,
    in every layer or only in ``layers``; returns how many. The rest stay ``nn.Linear``."""
    return replace_linears(module, Bf16Linear, lambda name: linear_kind(name) in kinds and (
        layers is None or layer_index(name) in layers))
