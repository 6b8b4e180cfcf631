"""Export an :class:`~engine.results.Analysis` to ``.npz`` (arrays) or ``.json`` (for scripts)."""

from __future__ import annotations

import importlib.metadata
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from engine import atomic
from engine.lab.head_names import Head, format_heads
from engine.results import Analysis, AttributionMaps, Salience, TaskPrediction

EXPORT_SUFFIXES = (".npz", ".json")
EXPORT_FORMAT_VERSION = 1  # of the whole export; raise it when a field changes meaning


def analysis_summary(analysis: Analysis) -> dict[str, Any]:
    """Everything but the attention tensor, as plain JSON-ready values."""
    return {
        "text_a": analysis.text_a,
        "text_b": analysis.text_b,
        "tokens": analysis.tokens,
        "token_ids": analysis.token_ids.tolist(),
        "token_type_ids": analysis.token_type_ids.tolist(),
        "special_mask": analysis.special_mask.tolist(),
        "offsets": analysis.offsets.tolist(),
        "fill_mask": [
            {"position": m.position,
             "candidates": [{"token": t, "id": int(i), "prob": float(p)}
                            for t, i, p in zip(m.tokens, m.token_ids, m.probs)]}
            for m in analysis.fill_mask
        ],
        "nsp_is_next": analysis.nsp_is_next,
        "truncated_a": analysis.truncated_a,
        "truncated_b": analysis.truncated_b,
        "warnings": list(analysis.warnings),
        "notes": list(analysis.notes),
        "attention_shape": list(analysis.attentions.shape),
        "elapsed_ms": analysis.elapsed_ms,
        "device": analysis.device,
        "task": task_summary(analysis.task),
    }


def task_summary(task: TaskPrediction | None) -> dict[str, Any] | None:
    """A fine-tuned model's reading (``TaskPrediction``) as JSON-ready values."""
    if task is None:
        return None
    out: dict[str, Any] = {"kind": task.kind}
    if task.kind in ("classify", "multi_label"):
        out["classes"] = [{"label": name, "prob": float(p)}
                          for name, p in sorted(zip(task.labels, task.probs), key=lambda c: -c[1])]
    elif task.kind == "regress":
        out["value"] = task.value
    elif task.kind == "tag":
        out["tags"] = task.tags
    elif task.answer is not None:
        a = task.answer
        out["answer"] = {"text": a.text, "score": a.score, "null_score": a.null_score,
                         "char_start": a.char_start, "char_end": a.char_end,
                         "no_answer_wins": a.no_answer_wins}
    if task.note:
        out["note"] = task.note
    return out


def engine_version() -> str:
    """The installed ``bert-explorer`` package's version ("unknown" in a tree never installed)."""
    try:
        return importlib.metadata.version("bert-explorer")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def export_meta(*, model_path: str | os.PathLike | None = None, model_name: str | None = None,
                settings: dict[str, Any] | None = None,
                masked_heads: tuple[Head, ...] = ()) -> dict[str, Any]:
    """The ``meta`` block of an export: what made it (model, engine, the heads ablated, as
    ``--mask-heads`` names them: "0:3,5:11", "" for none) and with which settings
    (``top_k``, ``device``... as the caller gives them). Fields are added here, and only here."""
    return {
        "format_version": EXPORT_FORMAT_VERSION,
        "model_path": None if model_path is None else os.path.abspath(model_path),
        "model_name": model_name,
        "engine_version": engine_version(),
        "settings": dict(settings or {}),
        "masked_heads": format_heads(masked_heads),
    }


def save_analysis(analysis: Analysis, path: str | os.PathLike, *,
                  model_path: str | os.PathLike | None = None, model_name: str | None = None,
                  settings: dict[str, Any] | None = None,
                  masked_heads: tuple[Head, ...] = ()) -> Path:
    """Write the analysis; the suffix (.npz or .json) picks the format. Written atomically.

    Both formats carry the same summary (:func:`analysis_summary`) with the :func:`export_meta`
    block under ``"meta"``: at the top level of the .json, inside ``summary_json`` of the .npz.
    """
    path = Path(path)
    if path.suffix not in EXPORT_SUFFIXES:
        raise ValueError(f"{path}: export format must be one of {', '.join(EXPORT_SUFFIXES)}")
    summary = {"meta": export_meta(model_path=model_path, model_name=model_name, settings=settings,
                                   masked_heads=masked_heads),
               **analysis_summary(analysis)}
    with atomic.atomic_open(path) as f:  # a failed export leaves nothing half-written behind
        if path.suffix == ".npz":
            np.savez_compressed(f, attentions=analysis.attentions,
                                tokens=np.asarray(analysis.tokens),
                                token_ids=analysis.token_ids,
                                token_type_ids=analysis.token_type_ids,
                                special_mask=analysis.special_mask,
                                summary_json=np.asarray(json.dumps(summary)))
        else:
            summary["attentions"] = np.round(analysis.attentions, 6).tolist()
            f.write(json.dumps(summary).encode("utf-8"))
    return path


def save_lab_result(path: str | os.PathLike, *, text_a: str, text_b: str | None,
                    maps: AttributionMaps | None = None, salience: Salience | None = None,
                    model_path: str | os.PathLike | None = None, model_name: str | None = None,
                    settings: dict[str, Any] | None = None) -> Path:
    """Write lab results of one input (``engine.lab``: a method's maps, a salience, or both)
    to .npz or .json, with the :func:`export_meta` block; ``settings`` should name the method,
    the target and the salience settings. Written atomically."""
    path = Path(path)
    if path.suffix not in EXPORT_SUFFIXES:
        raise ValueError(f"{path}: export format must be one of {', '.join(EXPORT_SUFFIXES)}")
    if maps is None and salience is None:
        raise ValueError("there is no lab result to export")
    summary: dict[str, Any] = {
        "meta": export_meta(model_path=model_path, model_name=model_name, settings=settings),
        "text_a": text_a, "text_b": text_b,
        "tokens": list((maps or salience).tokens)}
    arrays: dict[str, np.ndarray] = {}
    if maps is not None:
        summary["map_method"] = {"method": maps.method, "row_stochastic": maps.row_stochastic,
                           "shape": list(maps.maps.shape)}
        arrays.update(maps=maps.maps, layer_maps=maps.layer_maps)
    if salience is not None:
        summary["salience"] = {k: v for k, v in salience.to_dict().items()
                               if k not in ("tokens", "scores")}
        arrays["scores"] = salience.scores
    with atomic.atomic_open(path) as f:
        if path.suffix == ".npz":
            np.savez_compressed(f, tokens=np.asarray(summary["tokens"]),
                                summary_json=np.asarray(json.dumps(summary)), **arrays)
        else:
            for name, array in arrays.items():
                summary[name] = np.round(array, 6).tolist()
            f.write(json.dumps(summary).encode("utf-8"))
    return path
