"""BertConfig: the model's hyper-parameters, spelled exactly like HuggingFace's ``config.json``."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from typing import Any

from engine.results import ConfigError

SUPPORTED_ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "silu", "swish", "tanh")

# Google's BERT miniatures table (L layers, H hidden; heads = H / 64, FFN = 4 H).
PRESET_SIZES: dict[str, tuple[int, int]] = {
    "tiny": (2, 128),
    "mini": (4, 256),
    "small": (4, 512),
    "medium": (8, 512),
    "base": (12, 768),
    "large": (24, 1024),
}


@dataclass
class BertConfig:
    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    position_embedding_type: str = "absolute"
    classifier_dropout: float | None = None
    num_labels: int = 2
    id2label: dict[int, str] | None = None
    problem_type: str | None = None
    architectures: list[str] | None = None
    model_type: str = "bert"

    def __post_init__(self) -> None:
        self.validate()

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def label2id(self) -> dict[str, int] | None:
        return None if self.id2label is None else {name: i for i, name in self.id2label.items()}

    def validate(self) -> None:
        positive = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                    "intermediate_size", "max_position_embeddings", "type_vocab_size", "num_labels")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(f"hidden_size {self.hidden_size} is not a multiple of "
                              f"num_attention_heads {self.num_attention_heads}")
        if self.hidden_act not in SUPPORTED_ACTIVATIONS:
            raise ConfigError(f"hidden_act {self.hidden_act!r} is not supported "
                              f"(choose from {', '.join(SUPPORTED_ACTIVATIONS)})")
        if self.position_embedding_type != "absolute":
            raise ConfigError(f"position_embedding_type {self.position_embedding_type!r} is not "
                              "supported; only 'absolute' position embeddings are implemented")
        if self.model_type != "bert":
            raise ConfigError(f"model_type {self.model_type!r} is not a BERT model")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            if not 0.0 <= float(getattr(self, name)) < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")
        if not 0 <= self.pad_token_id < self.vocab_size:
            raise ConfigError(f"pad_token_id {self.pad_token_id} is outside the vocabulary "
                              f"of {self.vocab_size}")
        if self.id2label is not None and len(self.id2label) != self.num_labels:
            raise ConfigError(f"id2label has {len(self.id2label)} labels but num_labels is "
                              f"{self.num_labels}")

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> BertConfig:
        """Google's BERT sizes by name: tiny, mini, small, medium, base, large."""
        if name not in PRESET_SIZES:
            raise ConfigError(f"unknown preset {name!r} (choose from {', '.join(PRESET_SIZES)})")
        layers, hidden = PRESET_SIZES[name]
        sizes = dict(num_hidden_layers=layers, hidden_size=hidden,
                     num_attention_heads=hidden // 64, intermediate_size=4 * hidden)
        return cls(**{**sizes, **overrides})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BertConfig:
        """Build from a ``config.json`` mapping; keys we do not model are ignored."""
        if not isinstance(data, dict):
            raise ConfigError(f"a config must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if kwargs.get("id2label") is not None:
            try:
                kwargs["id2label"] = {int(k): str(v) for k, v in kwargs["id2label"].items()}
            except (AttributeError, ValueError) as exc:
                raise ConfigError(f"id2label must map integer ids to names: {exc}") from exc
            if "num_labels" not in data:
                kwargs["num_labels"] = len(kwargs["id2label"])
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ConfigError(str(exc)) from exc

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        id2label = data.pop("id2label")
        num_labels = data.pop("num_labels")
        if id2label is not None:
            # HF stores the labels (string keys) and derives num_labels from them.
            data["id2label"] = {str(i): name for i, name in sorted(id2label.items())}
            data["label2id"] = self.label2id
        elif num_labels != 2:
            data["num_labels"] = num_labels
        return {k: v for k, v in data.items() if v is not None}

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> BertConfig:
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"


__all__ = ["BertConfig", "ConfigError", "PRESET_SIZES", "SUPPORTED_ACTIVATIONS"]
