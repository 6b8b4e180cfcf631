"""One-pass analysis of a sentence pair: tokens, every attention map, fill-mask and NSP.

``Predictor.analyze`` runs the encoder ONCE with attention probabilities on, then the MLM
decoder only at the ``[MASK]`` rows and the NSP head only on ``[CLS]``. Results are numpy
arrays and dataclasses, so GUI code never touches a tensor.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from engine.checkpoint import LoadedCheckpoint, load_checkpoint
from engine.cpu_packing import pack_linears, packing_available
from engine.fused_gelu import fuse_gelu
from engine.infer_tasks import needs_every_row, predict_task, task_kind
from engine.lab.ablation import predictor_gate
from engine.lab.head_names import Head
from engine.onednn_linear import OneDnnLinear
from engine.precision import BF16_KINDS, cast_linears_bf16, resolve_precision
from engine.results import (Analysis, CheckpointError, InferenceError, MaskPrediction,
                            ModelSummary)
from engine.tokenizer import Encoding
from engine.trace import Trace

DEFAULT_TOP_K = 10


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The asked-for device, checked; None means CUDA when there is one, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except RuntimeError as exc:
        raise InferenceError(f"unknown device {str(device)!r} (use cpu, cuda or cuda:N)") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InferenceError("CUDA was asked for but this PyTorch sees no CUDA device "
                             f"(torch {torch.__version__}); use --device cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise InferenceError(f"{device} does not exist: {torch.cuda.device_count()} CUDA "
                             "device(s) present")
    return device


def precision_setting(precision: str, bf16: bool, device: torch.device) -> str:
    """The precision a Predictor runs in, "fp32" or "bf16"; ``bf16=True`` means "bf16"."""
    if bf16 and precision not in ("fp32", "bf16"):
        raise InferenceError(f"bf16=True and precision={precision!r} disagree; pass one")
    try:
        return resolve_precision("bf16" if bf16 else precision, device)
    except ValueError as exc:
        raise InferenceError(str(exc)) from None


def _to_host(tensor: torch.Tensor) -> torch.Tensor:
    """The tensor in CPU memory. From a GPU it goes through pinned memory (PyTorch caches those
    blocks): several times faster than a copy into pageable memory for 100+ MB of maps."""
    if tensor.device.type != "cuda":
        return tensor
    host = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
    host.copy_(tensor, non_blocking=True)
    torch.cuda.current_stream(tensor.device).synchronize()
    return host


class Predictor:
    """A loaded model and tokenizer, ready to analyse text; load once, analyse many times."""

    def __init__(self, checkpoint: LoadedCheckpoint, device: torch.device, bf16: bool = False,
                 precision: str = "fp32"):
        if checkpoint.tokenizer is None:
            raise CheckpointError(checkpoint.path, "has no tokenizer.json or vocab.txt, so text "
                                                   "cannot be encoded for it")
        self.checkpoint = checkpoint
        self.model = checkpoint.model
        self.tokenizer = checkpoint.tokenizer
        self.config = checkpoint.config
        self.device = device
        self.num_parameters = sum(p.numel() for p in self.model.parameters())
        # Every architecture keeps its encoder in ``.bert``, except a bare BertModel.
        self.encoder = getattr(self.model, "bert", self.model)
        self.heads = getattr(self.model, "cls", None)
        self.task_kind = task_kind(checkpoint.architecture, self.config)
        # "fp32" or "bf16" as resolved on this device; bf16=True is a spelling of "bf16".
        self.precision = precision_setting(precision, bf16, device)
        if self.precision == "bf16":  # BF16_KINDS' products in bf16, the rest float32
            cast_linears_bf16(self.encoder.encoder, BF16_KINDS)
        if device.type == "cpu" and packing_available():
            pack_linears(self.encoder.encoder)  # the Linear layers left in fp32
            if self.heads is not None and hasattr(self.heads, "predictions"):
                predictions = self.heads.predictions  # its weight is the word embeddings'
                predictions.decoder = OneDnnLinear(predictions.decoder)
        fuse_gelu(self.encoder.encoder, self.config.hidden_act)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device | None = None,
             bf16: bool = False, precision: str = "fp32") -> Predictor:
        """``precision``: fp32 (the default: a user reads probabilities), bf16, or auto (bf16
        on CUDA and on a CPU with AMX or AVX-512 BF16; ``engine.precision``)."""
        device = resolve_device(device)
        precision_setting(precision, bf16, device)  # a bad setting fails before the load
        return cls(load_checkpoint(path, device=device), device, bf16, precision)

    @property
    def name(self) -> str:
        """A short, telling name: the folder, with its run or package when the folder's own
        name says little ("model", "default", a run's "checkpoints/step-N")."""
        path = Path(self.checkpoint.path).resolve()
        if path.name.startswith("step-") and path.parent.name == "checkpoints":
            return f"{path.parent.parent.name}/{path.name}"
        if path.name in ("model", "default", "checkpoint", "final", "best"):
            return f"{path.parent.name}/{path.name}"
        return path.name

    @property
    def capabilities(self) -> frozenset[str]:
        return self.checkpoint.capabilities

    def summary(self) -> ModelSummary:
        cfg, ckpt = self.config, self.checkpoint
        return ModelSummary(
            path=str(ckpt.path), name=self.name, architecture=ckpt.architecture,
            layers=cfg.num_hidden_layers, heads=cfg.num_attention_heads, hidden=cfg.hidden_size,
            intermediate=cfg.intermediate_size, max_positions=cfg.max_position_embeddings,
            vocab_size=cfg.vocab_size, tokenizer_vocab=self.tokenizer.vocab_size,
            lowercase=self.tokenizer.lowercase, parameters=self.num_parameters,
            capabilities=frozenset(ckpt.capabilities), task_kind=self.task_kind,
            device=str(self.device), warnings=tuple(ckpt.warnings), precision=self.precision)

    def analyze(self, text_a: str, text_b: str | None = None,
                top_k: int = DEFAULT_TOP_K, head_mask: Iterable[Head] | None = None) -> Analysis:
        """``head_mask``: heads to ablate, as (layer, head) from 0 (``engine.lab.ablation``);
        none given, no gate is applied."""
        if not isinstance(text_a, str) or not (text_b is None or isinstance(text_b, str)):
            raise InferenceError("sentence A and B must be text")
        if top_k < 1:
            raise InferenceError(f"top_k must be at least 1, got {top_k}")
        gate = predictor_gate(self, head_mask)
        start = time.perf_counter()
        enc = self.tokenizer.encode(text_a, text_b, max_length=self.config.max_position_embeddings)
        ids = torch.tensor([enc.ids], device=self.device)              # [1, T]
        types = torch.tensor([enc.token_type_ids], device=self.device)  # [1, T]
        mask_rows = [i for i, (tok_id, special) in
                     enumerate(zip(enc.ids, enc.special_tokens_mask))
                     if tok_id == self.tokenizer.mask_id and not special]
        # The last layer is needed only at [CLS] (NSP, classes) and the masks (fill-mask),
        # unless a tagging or QA head reads every token.
        every_row = needs_every_row(self.task_kind)
        rows = None if every_row else torch.tensor([0, *mask_rows], device=self.device)
        cfg = self.config
        # Filled layer by layer, so the maps exist once, as the float32 we return; on a GPU
        # they cross to the host in one transfer at the end.
        attentions = torch.empty(cfg.num_hidden_layers, 1, cfg.num_attention_heads,
                                 len(enc.ids), len(enc.ids), device=self.device)  # [L,1,N,T,T]
        with torch.inference_mode():
            out = self.encoder(ids, token_type_ids=types, last_layer_rows=rows,
                               trace=Trace(probs_out=attentions, head_gate=gate))
            last = out.last_hidden_state[0]  # [T, H], or [1 + M, H] at the chosen rows
            fill_mask, notes = self._fill_mask(last[mask_rows] if every_row else last[1:],
                                               mask_rows, top_k)
            nsp, nsp_note = self._next_sentence(enc, out.pooler_output)
            task = (predict_task(self.task_kind, self.model, cfg, enc, text_b, last,
                                 out.pooler_output) if self.task_kind else None)
        host_attentions = _to_host(attentions[:, 0]).numpy()  # [L, N, T, T]; waits for the GPU
        elapsed_ms = (time.perf_counter() - start) * 1000
        return Analysis(
            text_a=text_a, text_b=text_b, tokens=enc.tokens,
            token_ids=np.asarray(enc.ids, dtype=np.int64),
            token_type_ids=np.asarray(enc.token_type_ids, dtype=np.int64),
            positions=np.arange(len(enc.ids), dtype=np.int64),
            special_mask=np.asarray(enc.special_tokens_mask, dtype=bool),
            offsets=np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2),
            word_ids=list(enc.word_ids), sequence_ids=list(enc.sequence_ids),
            attentions=host_attentions, fill_mask=fill_mask, nsp_is_next=nsp,
            truncated_a=enc.truncated_a, truncated_b=enc.truncated_b,
            warnings=tuple(enc.warnings), elapsed_ms=elapsed_ms, device=str(self.device),
            notes=tuple(notes + ([nsp_note] if nsp_note else [])), task=task)

    def _fill_mask(self, mask_hidden: torch.Tensor, mask_rows: list[int],
                   top_k: int) -> tuple[list[MaskPrediction], list[str]]:
        """mask_hidden [M, H], the last layer at each [MASK] -> top-k candidates per mask."""
        if not mask_rows:
            return [], ["no [MASK] in the text: type [MASK] (or mask a word) to see predictions"]
        if "mlm" not in self.capabilities:
            return [], ["this model has no MLM head, so it cannot fill in [MASK]"]
        logits = self.heads.predictions(mask_hidden).float()            # [M, V]
        probs, token_ids = torch.softmax(logits, dim=-1).topk(min(top_k, logits.shape[-1]))
        probs, token_ids = probs.cpu().numpy(), token_ids.cpu().numpy()  # [M, k]
        return [MaskPrediction(position=row, token_ids=token_ids[i],
                               tokens=self.tokenizer.convert_ids_to_tokens(token_ids[i].tolist()),
                               probs=probs[i])
                for i, row in enumerate(mask_rows)], []

    def _next_sentence(self, enc: Encoding,
                       pooled: torch.Tensor | None) -> tuple[float | None, str | None]:
        if not enc.has_pair:
            return None, "no sentence B: next-sentence prediction needs a pair"
        if 0 not in enc.sequence_ids:  # A was empty, blank or only characters the tokenizer drops
            return None, "sentence A is empty: next-sentence prediction (NSP) needs text in both"
        if "nsp" not in self.capabilities or pooled is None:
            return None, "this model has no NSP head"
        probs = torch.softmax(self.heads.seq_relationship(pooled).float(), dim=-1)  # [1, 2]
        return float(probs[0, 0]), None
