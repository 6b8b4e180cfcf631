"""A pretraining job as the New job dialog describes it: its command line and its checks.

No Qt and no torch: the dialog fills a :class:`JobForm`, shows :meth:`JobForm.command` as the
user types, and starts nothing until :func:`validate` finds no problem.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from engine.config import PRESET_SIZES, BertConfig, ConfigError
from engine.data.corpus import DataError, expand_paths

CHECKPOINTS_KEPT = 3
BYTES_PER_PARAMETER = 12  # a checkpoint: fp32 weights + two AdamW moments
SPARE_BYTES = 200 * 2**20
COMPRESSED_TEXT = (".gz", ".xz", ".bz2")


@dataclass
class JobForm:
    COMMAND = "pretrain"  # the bert-engine subcommand; args() follow its --run-dir

    corpus: list[str] = field(default_factory=list)
    tokenizer: str | None = None    # None: train a new WordPiece vocabulary on the corpus
    vocab_size: int = 30522
    init_model: str | None = None   # start from this checkpoint (its tokenizer, its sizes)
    preset: str = "mini"            # a PRESET_SIZES name, or "custom"
    layers: int = 4
    hidden: int = 256
    heads: int = 4
    intermediate: int = 1024
    seq_len: int = 128
    batch_size: int = 32
    max_steps: int = 10_000
    lr: float = 1e-4
    warmup_steps: int = 100
    device: str = "auto"            # auto | cpu | cuda
    checkpoint_every: int = 500
    log_every: int = 10
    heldout_fraction: float = 0.02

    def args(self) -> list[str]:
        """``bert-engine pretrain`` arguments after ``--run-dir``; paths made absolute, so the
        command runs the same from any folder."""
        args = ["--corpus", *map(_absolute, self.corpus)]
        if self.init_model:
            args += ["--init-model", _absolute(self.init_model)]
        if self.tokenizer:
            args += ["--tokenizer", _absolute(self.tokenizer)]
        elif not self.init_model:
            args += ["--vocab-size", str(self.vocab_size)]
        if not self.init_model:
            if self.preset == "custom":
                args += ["--layers", str(self.layers), "--hidden", str(self.hidden),
                         "--heads", str(self.heads), "--intermediate", str(self.intermediate)]
            else:
                args += ["--preset", self.preset]
        args += ["--seq-len", str(self.seq_len), "--batch-size", str(self.batch_size),
                 "--max-steps", str(self.max_steps), "--lr", f"{self.lr:g}",
                 "--warmup-steps", str(self.warmup_steps),
                 "--checkpoint-every", str(self.checkpoint_every),
                 "--log-every", str(self.log_every),
                 "--keep-checkpoints", str(CHECKPOINTS_KEPT),
                 "--heldout-fraction", f"{self.heldout_fraction:g}"]
        if self.device != "auto":
            args += ["--device", self.device]
        return args

    def model_config(self) -> BertConfig:
        """The model's sizes (vocabulary as the form says); ConfigError when they do not fit."""
        if self.init_model:
            path = Path(self.init_model) / "config.json"
            try:
                return BertConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{path}: cannot be read as a model config ({exc})") from None
        if self.preset == "custom":
            config = BertConfig(num_hidden_layers=self.layers, hidden_size=self.hidden,
                                num_attention_heads=self.heads,
                                intermediate_size=self.intermediate)
        else:
            config = BertConfig.preset(self.preset)
        config.vocab_size = self.vocab_size
        config.max_position_embeddings = max(512, self.seq_len)
        config.validate()
        return config


def _absolute(path: str) -> str:
    return str(Path(path).expanduser().absolute())


def parameter_count(c: BertConfig) -> int:
    """Parameters of BertForPreTraining with these sizes (decoder tied to the embeddings)."""
    h, i, v = c.hidden_size, c.intermediate_size, c.vocab_size
    embeddings = (v + c.max_position_embeddings + c.type_vocab_size) * h + 2 * h
    layer = 4 * h * h + 4 * h + 2 * h * i + i + h + 4 * h
    heads = (h * h + h) + (h * h + h + 2 * h + v) + (2 * h + 2)  # pooler, MLM transform, NSP
    return embeddings + c.num_hidden_layers * layer + heads


def disk_needed(form: JobForm, config: BertConfig, corpus_bytes: int, compressed_bytes: int) -> int:
    """Prepared data (~2 bytes a token, < the text), kept checkpoints plus one being written."""
    text = corpus_bytes + 4 * compressed_bytes
    return text + (CHECKPOINTS_KEPT + 1) * BYTES_PER_PARAMETER * parameter_count(config) + SPARE_BYTES


def validate(form: JobForm, runs_root: Path) -> list[str]:
    """Every problem that would stop the job, as messages for the user; [] when it can start."""
    problems: list[str] = []
    files: list[Path] = []
    if not form.corpus:
        problems.append("Choose corpus files or a folder.")
    else:
        try:
            files = expand_paths(form.corpus)
        except DataError as exc:
            problems.append(str(exc))
        for path in files:
            try:
                with open(path, "rb") as f:
                    f.read(1)
            except OSError as exc:
                problems.append(f"{path}: cannot be read ({exc.strerror or exc})")
    if form.tokenizer is not None and not form.tokenizer.strip():
        problems.append("Choose the tokenizer to reuse (or train a new one).")
    elif form.tokenizer and not Path(form.tokenizer).exists():
        problems.append(f"{form.tokenizer}: no such tokenizer file or folder")
    if form.init_model and not (Path(form.init_model) / "config.json").is_file():
        problems.append(f"{form.init_model}: not a model folder (no config.json)")
    if not form.init_model and form.preset not in (*PRESET_SIZES, "custom"):
        problems.append(f"unknown model size {form.preset!r}")
    for name, value, low in (("sequence length", form.seq_len, 8), ("batch size", form.batch_size, 1),
                             ("steps", form.max_steps, 1),
                             ("checkpoint interval", form.checkpoint_every, 1)):
        if value < low:
            problems.append(f"The {name} must be at least {low}.")
    if not 0 < form.lr < 1:
        problems.append(f"The learning rate must be between 0 and 1, not {form.lr:g}.")
    config = None
    try:
        config = form.model_config()
        if config.max_position_embeddings < form.seq_len:
            problems.append(f"The model has {config.max_position_embeddings} positions, fewer "
                            f"than the sequence length {form.seq_len}.")
    except (ConfigError, ValueError) as exc:
        problems.append(str(exc))
    if config is not None and files:
        sizes = [p.stat().st_size for p in files if p.exists()]
        packed = sum(s for p, s in zip(files, sizes) if p.suffix in COMPRESSED_TEXT)
        need = disk_needed(form, config, sum(sizes) - packed, packed)
        probe = runs_root
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        free = shutil.disk_usage(probe).free
        if need > free:
            problems.append(f"Not enough disk space in {runs_root}: the job needs about "
                            f"{need / 2**30:.1f} GiB (data and {CHECKPOINTS_KEPT} checkpoints), "
                            f"{free / 2**30:.1f} GiB is free.")
    return problems

