"""Which input tokens made the model say what it did: gradient norm, gradient x input and
integrated gradients of one target (``engine.lab.targets``) with respect to the word embeddings.

Gradients are taken on a float32 twin of the predictor's model (``engine.lab.weights``), in the
space of the word embeddings (position and token-type embeddings are added after, unchanged);
per-token scores sum over the embedding dimension. Integrated gradients follows Captum's
``IntegratedGradients`` (same points, batching and convergence delta) and computes the last layer
only at the rows the target reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from engine.lab.integration import integration_points
from engine.lab.targets import Target, parse_target, resolve_target
from engine.lab.weights import float32_model
from engine.results import (DEFAULT_IG_STEPS, IG_BASELINES, IG_ROWS_PER_PASS, SALIENCE_METHODS,
                            InferenceError, Salience)

@dataclass(frozen=True)
class Problem:
    """One input, its target and baseline, ready for any salience method."""

    tokens: list[str]
    target: Target
    function: Callable[[torch.Tensor], torch.Tensor]  # word embeddings [B, T, H] -> target [B]
    embeds: torch.Tensor    # [1, T, H] the input's word embeddings
    baseline: torch.Tensor  # [1, T, H] the same with every non-special token replaced


def prepare(predictor, text_a: str, text_b: str | None = None, target: str | None = None,
            baseline: str = "pad") -> Problem:
    """The input's embeddings, resolved target and baseline (a key of ``IG_BASELINES``)."""
    if baseline not in IG_BASELINES:
        raise InferenceError(f"unknown baseline {baseline!r}; known: {', '.join(IG_BASELINES)}")
    spec = parse_target(target) if target is not None else None
    model = float32_model(predictor)
    encoder = getattr(model, "bert", model)
    encoding = predictor.tokenizer.encode(text_a, text_b,
                                          max_length=predictor.config.max_position_embeddings)
    ids = torch.tensor([encoding.ids], device=predictor.device)              # [1, T]
    types = torch.tensor([encoding.token_type_ids], device=predictor.device)  # [1, T]

    def run(embeds: torch.Tensor, rows: list[int] | None):
        picked = None if rows is None else torch.tensor(rows, device=embeds.device)
        return encoder(inputs_embeds=embeds, token_type_ids=types.expand(len(embeds), -1),
                       last_layer_rows=picked)

    words = encoder.embeddings.word_embeddings
    embeds = words(ids).detach()                                               # [1, T, H]

    def logits_at(rows, head):
        with torch.no_grad():
            return head(model, run(embeds, rows)).float().cpu()

    resolved = resolve_target(predictor, encoding, spec, logits_at)
    special = torch.tensor(encoding.special_tokens_mask, dtype=torch.bool,
                           device=predictor.device)[None, :, None]            # [1, T, 1]
    if baseline == "zero":
        replacement = torch.zeros_like(embeds)
    else:
        token = predictor.tokenizer.pad_id if baseline == "pad" else predictor.tokenizer.mask_id
        replacement = words(torch.full_like(ids, token)).detach()
    return Problem(encoding.tokens, resolved,
                   lambda e: resolved.readout(model, run(e, resolved.rows)),
                   embeds, torch.where(special, embeds, replacement))


def gradient(function: Callable, embeds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """embeds [B, T, H] -> (F(embeds) [B], dF/dembeds [B, T, H])."""
    with torch.enable_grad():  # also under a caller's no_grad
        embeds = embeds.detach().requires_grad_(True)
        value = function(embeds)
        (grad,) = torch.autograd.grad(value.sum(), embeds)
    return value.detach(), grad


def ig_batch(seq_len: int) -> int:
    """Path points per pass when none is asked for."""
    return max(1, IG_ROWS_PER_PASS // seq_len)


def integrated_gradients(function: Callable, embeds: torch.Tensor, baseline: torch.Tensor,
                         steps: int = DEFAULT_IG_STEPS, rule: str = "gausslegendre",
                         batch: int | None = None,
                         progress: Callable[[int, int], None] | None = None
                         ) -> tuple[torch.Tensor, float, float]:
    """embeds, baseline [1, T, H] -> (attributions [T, H], F(embeds), F(baseline)).

    The path points go through the model ``batch`` at a time (default ``ig_batch``);
    ``progress(done, steps)`` is called after each batch (a callback that raises stops the run:
    that is how to cancel).
    """
    batch = ig_batch(embeds.shape[1]) if batch is None else batch
    if batch < 1:
        raise InferenceError(f"the internal batch size must be at least 1, got {batch}")
    alphas, weights = integration_points(rule, steps)
    diff = (embeds - baseline)[0]                                              # [T, H]
    total = torch.zeros_like(diff)                                             # [T, H]
    for start in range(0, steps, batch):
        alpha = torch.tensor(alphas[start:start + batch], dtype=diff.dtype, device=diff.device)
        weight = torch.tensor(weights[start:start + batch], dtype=diff.dtype, device=diff.device)
        points = baseline + alpha[:, None, None] * diff                       # [b, T, H]
        _, grads = gradient(function, points)
        total += torch.einsum("b,bth->th", weight, grads)
        if progress is not None:
            progress(min(start + batch, steps), steps)
    with torch.no_grad():
        ends = function(torch.cat([embeds, baseline])).float()                 # [2]
    return diff * total, float(ends[0]), float(ends[1])


@torch.inference_mode(False)  # gradients, even when called inside inference mode
def explain_salience(predictor, text_a: str, text_b: str | None = None, method: str = "ig",
                     target: str | None = None, steps: int = DEFAULT_IG_STEPS,
                     baseline: str = "pad", rule: str = "gausslegendre",
                     batch: int | None = None,
                     progress: Callable[[int, int], None] | None = None) -> Salience:
    """Per-token salience of ``target`` (``--target`` form; None: the default target) by
    ``method`` (a key of ``SALIENCE_METHODS``). ``steps``, ``baseline``, ``rule``, ``batch``
    and ``progress`` concern integrated gradients only."""
    if method not in SALIENCE_METHODS:
        raise InferenceError(f"unknown salience method {method!r}; known: "
                             f"{', '.join(SALIENCE_METHODS)}")
    problem = prepare(predictor, text_a, text_b, target, baseline)
    batch = ig_batch(len(problem.tokens)) if batch is None else batch
    baseline_value = delta = None
    settings = {}
    if method == "ig":
        attributions, value, baseline_value = integrated_gradients(
            problem.function, problem.embeds, problem.baseline, steps, rule, batch, progress)
        scores = attributions.sum(dim=-1)                                      # [T]
        delta = float(scores.sum()) - (value - baseline_value)
        settings = {"steps": steps, "rule": rule, "baseline": baseline, "batch": batch}
    else:
        values, grad = gradient(problem.function, problem.embeds)
        value = float(values[0])
        scores = (grad[0].norm(dim=-1) if method == "grad"
                  else (grad[0] * problem.embeds[0]).sum(dim=-1))               # [T]
    return Salience(method, problem.tokens, scores.detach().cpu().numpy().astype(np.float32),
                    problem.target.spec, problem.target.label, value, baseline_value, delta,
                    settings)
