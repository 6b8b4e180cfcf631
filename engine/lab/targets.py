"""What a salience method explains: one number per input, a log-probability of the model.

Target forms (``--target``): ``mask:K`` (the top candidate at the K-th [MASK], counted from 0),
``mask:K:TOKEN`` (that candidate), ``mask:K:TOKEN,TOKEN2`` (log p(TOKEN) - log p(TOKEN2): "why
this rather than that"), ``nsp`` (IsNext), ``class:LABEL`` (a label name or index), ``start`` and
``end`` (of a QA model's best answer span in the window, which is the whole encoded input).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from engine.finetune.squad import best_span
from engine.infer_tasks import MAX_ANSWER_TOKENS, label_names
from engine.results import InferenceError
from engine.tokenizer import Encoding

TARGET_FORMS = ("mask:K", "mask:K:TOKEN", "mask:K:TOKEN,TOKEN2", "nsp", "class:LABEL", "start",
                "end")


@dataclass(frozen=True)
class TargetSpec:
    """A target as typed, before it meets an input."""

    kind: str                      # mask | nsp | class | start | end
    mask_index: int = 0
    tokens: tuple[str, ...] = ()   # mask: none (the top candidate), one, or two to contrast
    label: str | None = None       # class


@dataclass(frozen=True)
class Target:
    """A target resolved for one input: the rows the last layer must compute and the readout."""

    spec: str                      # in --target form, with the top candidate or label filled in
    label: str                     # in words
    rows: list[int] | None         # last_layer_rows for the encoder; None: every row
    readout: Callable[[torch.nn.Module, object], torch.Tensor]  # (model, EncoderOutput) -> [B]


def parse_target(text: str) -> TargetSpec:
    kind, _, rest = text.strip().partition(":")
    if kind in ("nsp", "start", "end") and not rest:
        return TargetSpec(kind)
    if kind == "class" and rest:
        return TargetSpec("class", label=rest)
    if kind == "mask" and rest:
        index, _, tokens = rest.partition(":")
        pair = tokens.split(",")
        # One comma between two tokens contrasts them; "," alone is the comma token.
        names = tuple(pair) if len(pair) == 2 and all(pair) else (tokens,) if tokens else ()
        if index.isdigit():
            return TargetSpec("mask", mask_index=int(index), tokens=names)
    raise InferenceError(f"cannot read target {text!r}; use one of {', '.join(TARGET_FORMS)}")


def mask_rows(encoding: Encoding, mask_id: int) -> list[int]:
    """Positions of the typed [MASK]s, left to right."""
    return [i for i, (tok, special) in enumerate(zip(encoding.ids, encoding.special_tokens_mask))
            if tok == mask_id and not special]


def default_spec(predictor, encoding: Encoding) -> TargetSpec:
    """What to explain when nothing is named: the first [MASK]'s top candidate, else the
    fine-tuned task's prediction, else NSP."""
    if mask_rows(encoding, predictor.tokenizer.mask_id) and "mlm" in predictor.capabilities:
        return TargetSpec("mask")
    if predictor.task_kind in ("classify", "multi_label"):
        return TargetSpec("class")
    if predictor.task_kind == "qa":
        return TargetSpec("start")
    if encoding.has_pair and "nsp" in predictor.capabilities:
        return TargetSpec("nsp")
    raise InferenceError("nothing to explain here: type [MASK] for a fill-mask target, give "
                         "sentence B for NSP, or use a fine-tuned classifier or QA model")


def _vocab_id(tokenizer, token: str) -> int:
    for candidate in (token, token.lower()):
        found = tokenizer.token_to_id(candidate)
        if found is not None:
            return found
    pieces = tokenizer.convert_ids_to_tokens(tokenizer.encode_pieces(token)[0])
    raise InferenceError(f"{token!r} is not one token of this model's vocabulary (it splits "
                         f"into {' '.join(pieces)}); a mask target needs a single token")


def _mask_target(predictor, encoding: Encoding, spec: TargetSpec, logits_at) -> Target:
    if "mlm" not in predictor.capabilities:
        raise InferenceError("this model has no MLM head, so it cannot explain a [MASK] target")
    rows = mask_rows(encoding, predictor.tokenizer.mask_id)
    if not rows:
        raise InferenceError("no [MASK] in the text: a mask target needs one (type [MASK])")
    if spec.mask_index >= len(rows):
        raise InferenceError(f"mask:{spec.mask_index} asks for [MASK] {spec.mask_index}, but the "
                             f"text has {len(rows)} (counted from 0)")
    row = rows[spec.mask_index]
    ids = [_vocab_id(predictor.tokenizer, t) for t in spec.tokens]
    if not ids:
        ids = [int(logits_at([0, row], lambda m, out: m.cls.predictions(
            out.last_hidden_state[:, 1]))[0].argmax())]
    names = predictor.tokenizer.convert_ids_to_tokens(ids)

    def readout(model, out) -> torch.Tensor:
        logp = F.log_softmax(model.cls.predictions(out.last_hidden_state[:, 1]).float(), -1)
        return logp[:, ids[0]] - (logp[:, ids[1]] if len(ids) == 2 else 0)  # [B]

    where = f"at [MASK] {spec.mask_index} (token {row})"
    label = (f"log p({names[0]}) - log p({names[1]}) {where}" if len(ids) == 2
             else f"log p({names[0]}) {where}")
    return Target(f"mask:{spec.mask_index}:{','.join(names)}", label, [0, row], readout)


def _nsp_target(predictor, encoding: Encoding) -> Target:
    if "nsp" not in predictor.capabilities:
        raise InferenceError("this model has no NSP head, so it cannot explain an nsp target")
    if not encoding.has_pair:
        raise InferenceError("an nsp target needs sentence B")

    def readout(model, out) -> torch.Tensor:
        return F.log_softmax(model.cls.seq_relationship(out.pooler_output).float(), -1)[:, 0]

    return Target("nsp", "log p(IsNext)", [0], readout)


def _class_target(predictor, spec: TargetSpec, logits_at) -> Target:
    if predictor.task_kind not in ("classify", "multi_label"):
        raise InferenceError("a class target needs a model fine-tuned to classify (this one "
                             f"is {predictor.task_kind or 'not fine-tuned for a task'})")
    names = label_names(predictor.config)
    if spec.label is None:
        index = int(logits_at([0], lambda m, out: m.classifier(out.pooler_output))[0].argmax())
    elif spec.label in names:
        index = names.index(spec.label)
    elif spec.label.isdigit() and int(spec.label) < len(names):
        index = int(spec.label)
    else:
        raise InferenceError(f"unknown label {spec.label!r}; this model's labels: "
                             f"{', '.join(names)} (or an index from 0 to {len(names) - 1})")
    multi = predictor.task_kind == "multi_label"

    def readout(model, out) -> torch.Tensor:
        logits = model.classifier(out.pooler_output).float()       # [B, K]
        return F.logsigmoid(logits[:, index]) if multi else F.log_softmax(logits, -1)[:, index]

    return Target(f"class:{names[index]}", f"log p({names[index]})", [0], readout)


def _span_target(predictor, encoding: Encoding, spec: TargetSpec, logits_at) -> Target:
    if predictor.task_kind != "qa":
        raise InferenceError(f"a {spec.kind} target needs a question-answering model")
    if not encoding.has_pair:
        raise InferenceError("a QA target needs the question as A and the passage as B")
    logits = logits_at(None, lambda m, out: m.qa_outputs(out.last_hidden_state))[0]  # [T, 2]
    context = [tuple(off) if seq == 1 else None
               for off, seq in zip(encoding.offsets, encoding.sequence_ids)]
    span = best_span(logits[:, 0].numpy(), logits[:, 1].numpy(), context,
                     max_answer_length=MAX_ANSWER_TOKENS)
    if span is None:
        raise InferenceError("sentence B has no token to answer with")
    column, position = (0, span[0]) if spec.kind == "start" else (1, span[1])

    def readout(model, out) -> torch.Tensor:
        scores = model.qa_outputs(out.last_hidden_state)[..., column].float()  # [B, T]
        return F.log_softmax(scores, -1)[:, position]

    token = encoding.tokens[position]
    return Target(spec.kind, f"log p({spec.kind} = {token!r} at token {position})", None, readout)


def resolve_target(predictor, encoding: Encoding, spec: TargetSpec | None,
                   logits_at: Callable) -> Target:
    """The target for this input; ``logits_at(rows, head)`` runs the model on the input itself
    (no gradient) and returns ``head(model, encoder_output)`` on the CPU, for the choices that
    depend on the prediction (top candidate, default class, the answer span)."""
    spec = spec or default_spec(predictor, encoding)
    if spec.kind == "mask":
        return _mask_target(predictor, encoding, spec, logits_at)
    if spec.kind == "nsp":
        return _nsp_target(predictor, encoding)
    if spec.kind == "class":
        return _class_target(predictor, spec, logits_at)
    return _span_target(predictor, encoding, spec, logits_at)
