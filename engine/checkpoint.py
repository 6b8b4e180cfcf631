"""Checkpoint folders in HuggingFace layout: ``config.json``, ``model.safetensors``, vocab files.

Reads what ``transformers`` writes (and older spellings of it); writes what ``transformers``
reads. Every failure is a :class:`CheckpointError` naming the file and the reason.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from safetensors.torch import save_file

from engine.atomic import staged_folder
from engine.config import BertConfig, ConfigError
from engine.model import ARCHITECTURES, BertModel, BertPreTrainedModel
from engine.results import CheckpointError, missing_capabilities
from engine.safetensors_read import SafetensorsFormatError, read_safetensors
from engine.tokenizer import TokenizerError, WordPieceTokenizer

CONFIG_NAME = "config.json"
SAFETENSORS_NAME = "model.safetensors"
SAFETENSORS_INDEX_NAME = "model.safetensors.index.json"
PICKLE_NAME = "pytorch_model.bin"
# How torch's weights-only unpickler names a global it refused, e.g. "GLOBAL posix.system".
_BLOCKED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")

# Decoder weight and bias are tied to the word embeddings and ``cls.predictions.bias``; like
# ``transformers`` we store them once.
TIED_KEYS = ("cls.predictions.decoder.weight", "cls.predictions.decoder.bias")

# Which head (key prefix) gives which capability, and the architecture that owns it.
HEAD_CAPABILITIES = {
    "cls.predictions.": "mlm",
    "cls.seq_relationship.": "nsp",
    "classifier.": "classify",
    "qa_outputs.": "qa",
}


@dataclass
class LoadedCheckpoint:
    model: BertPreTrainedModel
    config: BertConfig
    tokenizer: WordPieceTokenizer | None
    path: Path
    architecture: str
    capabilities: frozenset[str]
    warnings: list[str] = field(default_factory=list)

    @property
    def missing_capabilities(self) -> list[str]:
        return missing_capabilities(self.capabilities)


def read_config(folder: Path) -> BertConfig:
    path = folder / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(path, "missing: a checkpoint folder needs a config.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(path, f"not valid JSON ({exc})") from exc
    except OSError as exc:
        raise CheckpointError(path, f"cannot read it ({exc.strerror or exc})") from exc
    if not isinstance(data, dict):
        raise CheckpointError(path, "not a JSON object")
    model_type = data.get("model_type", "bert")
    if model_type != "bert":
        raise CheckpointError(path, f"model_type is {model_type!r}, not 'bert': this is not a "
                                    "BERT checkpoint")
    try:
        return BertConfig.from_dict(data)
    except ConfigError as exc:
        raise CheckpointError(path, f"invalid config: {exc}") from exc


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return read_safetensors(path)
    except (SafetensorsFormatError, OSError) as exc:
        raise CheckpointError(path, f"truncated or corrupt safetensors file ({exc})") from exc


def _blocked_global(message: str) -> str | None:
    """The ``module.name`` a weights-only unpickler refused, from its error message."""
    match = _BLOCKED_GLOBAL.search(message)
    return match.group(1) if match else None


def _read_pickle(path: Path) -> dict[str, torch.Tensor]:
    try:
        # weights_only: a .bin may hold arbitrary pickled code; only tensors are accepted, and
        # nothing else in the file is ever constructed or called.
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        blocked = _blocked_global(str(exc))
        if blocked is None:  # the restricted unpickler also fails on plain garbage bytes
            raise CheckpointError(path, "truncated or corrupt PyTorch file (not a readable "
                                        "pickle of tensors)") from exc
        raise CheckpointError(path, f"holds pickled Python objects other than tensors "
                                    f"({blocked}); refusing to unpickle it (convert it to "
                                    "safetensors where you trust its origin)") from exc
    except MemoryError:
        raise
    except Exception as exc:  # torch raises RuntimeError, EOFError, KeyError... on bad bytes
        first = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(path, f"truncated or corrupt PyTorch file ({first})") from exc
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                             for k, v in data.items()):
        raise CheckpointError(path, f"is not a state dict of tensors (it holds a "
                                    f"{type(data).__name__})")
    return data


def read_state_dict(folder: Path) -> tuple[dict[str, torch.Tensor], Path]:
    """The weights of a folder, from (sharded) safetensors or a weights-only pickle."""
    single, index, pickled = (folder / SAFETENSORS_NAME, folder / SAFETENSORS_INDEX_NAME,
                              folder / PICKLE_NAME)
    if single.is_file():
        return _read_safetensors(single), single
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
            raise CheckpointError(index, f"unreadable shard index ({exc})") from exc
        if not isinstance(weight_map, dict) or not weight_map:
            raise CheckpointError(index, "unreadable shard index (no weight_map object)")
        for shard in weight_map.values():  # plain file names beside the index, never a path
            if not isinstance(shard, str) or Path(shard).name != shard or shard in ("", ".", ".."):
                raise CheckpointError(index, f"shard {shard!r} is not a file name in this folder")
        shards = sorted(set(weight_map.values()))
        state: dict[str, torch.Tensor] = {}
        for shard in shards:
            if not (folder / shard).is_file():
                raise CheckpointError(folder / shard, "missing shard named in the index")
            state.update(_read_safetensors(folder / shard))
        return state, index
    if pickled.is_file():
        return _read_pickle(pickled), pickled
    raise CheckpointError(folder, f"no weights: expected {SAFETENSORS_NAME} or {PICKLE_NAME}")


def normalize_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Today's HF names from older or bare spellings.

    ``LayerNorm.gamma/beta`` -> ``weight/bias``; stored ``position_ids``/``token_type_ids``
    buffers dropped; a bare encoder (``embeddings.…``, as sentence-transformers saves it) gets
    the ``bert.`` prefix.
    """
    out = {}
    for key, value in state.items():
        if key.endswith(("embeddings.position_ids", "embeddings.token_type_ids")):
            continue
        key = key.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta",
                                                                         "LayerNorm.bias")
        if key.startswith(("embeddings.", "encoder.", "pooler.")):
            key = "bert." + key
        out[key] = value
    return out


def detect_architecture(config: BertConfig, keys: set[str]) -> str:
    """The model class a set of weights belongs to; the config's own claim wins if it fits."""
    has = {cap for prefix, cap in HEAD_CAPABILITIES.items() if any(k.startswith(prefix) for k in keys)}
    claimed = (config.architectures or [None])[0]
    if claimed == "BertForTokenClassification" and "classify" in has:
        return claimed
    if {"mlm", "nsp"} <= has:
        return "BertForPreTraining"
    if "mlm" in has:
        return "BertForMaskedLM"
    if "qa" in has:
        return "BertForQuestionAnswering"
    if "classify" in has:
        pooled = any(k.startswith("bert.pooler.") for k in keys)
        return "BertForSequenceClassification" if pooled else "BertForTokenClassification"
    return "BertModel"


def _capabilities(model: BertPreTrainedModel) -> frozenset[str]:
    names = {name for name, _ in model.named_parameters()}
    caps = {cap for prefix, cap in HEAD_CAPABILITIES.items()
            if any(n.startswith(prefix) for n in names)}
    if type(model).__name__ == "BertForTokenClassification":
        caps = (caps - {"classify"}) | {"tag"}
    return frozenset(caps | {"attention"})


def _build_empty(arch: str, config: BertConfig) -> BertPreTrainedModel:
    """The model on the meta device: no memory and no random init for weights about to load."""
    with torch.device("meta"):
        return ARCHITECTURES[arch](config)


def _initialise_missing(model: BertPreTrainedModel) -> None:
    """Give real, freshly initialised tensors to the parameters the checkpoint did not have."""
    fresh: dict[str, set[str]] = {}
    for name, param in model.named_parameters():  # tied parameters once, under their first name
        if param.is_meta:
            owner, _, attr = name.rpartition(".")
            module = model.get_submodule(owner)
            setattr(module, attr, nn.Parameter(torch.empty_like(param, device="cpu")))
            fresh.setdefault(owner, set()).add(attr)
    for owner, attrs in fresh.items():
        module = model.get_submodule(owner)
        # A module can be half stored (a weight without its bias): keep the half that loaded.
        kept = {n: p.detach().clone() for n, p in module.named_parameters(recurse=False)
                if n not in attrs}
        model._init_module(module)
        with torch.no_grad():
            for n, value in kept.items():
                getattr(module, n).copy_(value)


def _is_encoder_key(key: str) -> bool:
    return key.startswith(("bert.embeddings", "bert.encoder", "embeddings", "encoder"))


def _load_weights(model: BertPreTrainedModel, state: dict[str, torch.Tensor], source: Path,
                  warnings: list[str], new_heads: bool = False) -> None:
    if isinstance(model, BertModel):  # a bare encoder: strip the prefix the keys now carry
        state = {k.removeprefix("bert."): v for k, v in state.items() if k.startswith("bert.")}
    expected = model.state_dict()  # meta tensors: shapes and dtypes only
    for key, value in list(state.items()):
        if key in expected and expected[key].shape != value.shape:
            if new_heads and not _is_encoder_key(key):
                # A classifier fine-tuned for other labels: its head starts afresh.
                del state[key]
                warnings.append(f"{key}: shape {tuple(value.shape)} does not fit the new "
                                f"labels {tuple(expected[key].shape)}; initialised afresh")
                continue
            raise CheckpointError(source, f"shape mismatch for {key}: the config gives "
                                          f"{tuple(expected[key].shape)}, the file holds "
                                          f"{tuple(value.shape)}")
    floating = {k: v.to(expected[k].dtype) if v.is_floating_point() else v
                for k, v in state.items() if k in expected}
    # assign: the loaded tensors become the parameters, so the weights exist once in memory.
    result = model.load_state_dict(floating, strict=False, assign=True)
    missing = [k for k in result.missing_keys if k not in TIED_KEYS]
    heads = [k for k in missing if not _is_encoder_key(k)]
    if len(heads) < len(missing):
        lost = [k for k in missing if k not in heads]
        raise CheckpointError(source, f"missing {len(lost)} encoder weights, e.g. {lost[0]}")
    if heads:
        warnings.append(f"newly initialised (not in the checkpoint): {', '.join(sorted(heads))}")
    unused = sorted(set(state) - set(expected))
    if unused:
        warnings.append(f"ignored {len(unused)} weights this model has no place for, e.g. "
                        f"{unused[0]}")
    model.tie_weights()
    _initialise_missing(model)
    model.tie_weights()  # the decoder bias may have been one of the fresh parameters


def _read_tokenizer(folder: Path, config: BertConfig,
                    warnings: list[str]) -> WordPieceTokenizer | None:
    if not any((folder / name).is_file() for name in ("tokenizer.json", "vocab.txt")):
        warnings.append("no tokenizer.json or vocab.txt: text cannot be encoded for this model")
        return None
    try:
        tokenizer = WordPieceTokenizer.from_file(folder)
    except TokenizerError as exc:
        raise CheckpointError(folder, f"unreadable tokenizer: {exc}") from exc
    if tokenizer.vocab_size > config.vocab_size:
        raise CheckpointError(folder, f"the tokenizer has {tokenizer.vocab_size} tokens but the "
                                      f"model's vocab_size is {config.vocab_size}")
    return tokenizer


def load_checkpoint(path: str | os.PathLike, architecture: str | None = None,
                    device: str | torch.device = "cpu",
                    config_overrides: dict | None = None) -> LoadedCheckpoint:
    """Load a checkpoint folder (ours or HF's) as ``architecture`` or the one its weights fit.

    Asking for an architecture whose heads the folder lacks (e.g. ``BertForPreTraining`` from
    an encoder-only folder) initialises those heads and says so in ``warnings``.
    ``config_overrides`` (labels, problem type, dropout... for fine-tuning) replace config
    fields; task-head weights that no longer fit them are initialised afresh, with a warning.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise CheckpointError(folder, "not a folder (a checkpoint is a folder with config.json "
                                      "and model.safetensors)")
    config = read_config(folder)
    if config_overrides:
        try:
            config = BertConfig.from_dict({**config.to_dict(), **config_overrides})
        except ConfigError as exc:
            raise CheckpointError(folder, f"cannot adapt its config: {exc}") from exc
    state, source = read_state_dict(folder)
    state = normalize_keys(state)
    arch = architecture or detect_architecture(config, set(state))
    if arch not in ARCHITECTURES:
        raise CheckpointError(folder, f"unknown architecture {arch!r} "
                                      f"(choose from {', '.join(ARCHITECTURES)})")
    warnings: list[str] = []
    tokenizer = _read_tokenizer(folder, config, warnings)
    model = _build_empty(arch, config)
    _load_weights(model, state, source, warnings, new_heads=bool(config_overrides))
    model.to(device).eval()
    return LoadedCheckpoint(model=model, config=config, tokenizer=tokenizer, path=folder,
                            architecture=arch, capabilities=_capabilities(model),
                            warnings=warnings)


def save_checkpoint(model: BertPreTrainedModel, folder: str | os.PathLike,
                    tokenizer: WordPieceTokenizer | None = None,
                    dtype: torch.dtype | None = None) -> Path:
    """Write ``folder`` in HF layout, atomically: a crash mid-write leaves the old folder whole."""
    folder = Path(folder)
    with staged_folder(folder) as staged:
        write_checkpoint_files(model, staged, tokenizer, dtype)
    return folder


def write_checkpoint_files(model: BertPreTrainedModel, folder: Path,
                           tokenizer: WordPieceTokenizer | None = None,
                           dtype: torch.dtype | None = None) -> None:
    """The HF-layout files of ``model`` (and ``tokenizer``) into ``folder``, an existing folder
    that is staged (:func:`engine.atomic.staged_folder`) and so needs no atomic writes itself."""
    config = model.config
    config.architectures = [type(model).__name__]
    (folder / CONFIG_NAME).write_text(config.to_json_string(), encoding="utf-8")
    state = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v)
             .detach().cpu().contiguous()
             for k, v in model.state_dict().items() if k not in TIED_KEYS}
    save_file(state, folder / SAFETENSORS_NAME, metadata={"format": "pt"})
    if tokenizer is not None:
        tokenizer.save(folder)
