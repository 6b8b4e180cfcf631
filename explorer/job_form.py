"""A pretraining job as the New job dialog describes it: its job spec and the checks the
spec cannot make (files, the model folder, disk space).

No Qt and no torch: the dialog fills a :class:`JobForm`, shows its command line
(``form.job().to_args()``) as the user types, and starts nothing until :func:`validate` finds
no problem.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from engine.config import BertConfig, ConfigError
from engine.data.corpus import DataError, expand_paths
from engine.options import SpecError, default
from engine.specs import PretrainJob, PretrainSpec, TrainConfig

CHECKPOINTS_KEPT = 3
BYTES_PER_PARAMETER = 12  # a checkpoint: fp32 weights + two AdamW moments
SPARE_BYTES = 200 * 2**20
COMPRESSED_TEXT = (".gz", ".xz", ".bz2")


@dataclass
class JobForm:
    COMMAND = "pretrain"  # the bert-engine subcommand; args() follow its --run-dir

    corpus: list[str] = field(default_factory=list)
    tokenizer: str | None = None    # None: train a new WordPiece vocabulary on the corpus
    vocab_size: int = default(PretrainJob, "vocab_size")
    init_model: str | None = None   # start from this checkpoint (its tokenizer, its sizes)
    preset: str = default(PretrainSpec, "preset")  # a PRESET_SIZES name, or "custom"
    layers: int = 4                 # the custom sizes start as the mini preset's
    hidden: int = 256
    heads: int = 4
    intermediate: int = 1024
    seq_len: int = default(PretrainSpec, "max_seq_length")
    batch_size: int = default(PretrainSpec, "batch_size")
    max_steps: int = 10_000
    lr: float = default(TrainConfig, "lr")
    warmup_steps: int = 100
    device: str = "auto"            # auto | cpu | cuda
    checkpoint_every: int = default(TrainConfig, "checkpoint_every")
    log_every: int = default(TrainConfig, "log_every")
    heldout_fraction: float = default(PretrainJob, "heldout_fraction")

    @classmethod
    def from_job(cls, job: PretrainJob) -> JobForm:
        """The form of ``job`` (a run's creating job: a new job like it); the model sizes a
        job leaves to its preset are the preset's."""
        task, train = job.task, job.train
        sizes = (task.layers, task.hidden, task.heads, task.intermediate)
        preset = BertConfig.preset(task.preset)
        return cls(corpus=list(job.corpus or []), tokenizer=job.tokenizer,
                   vocab_size=job.vocab_size, init_model=task.init_model,
                   preset="custom" if any(v is not None for v in sizes) else task.preset,
                   layers=task.layers or preset.num_hidden_layers,
                   hidden=task.hidden or preset.hidden_size,
                   heads=task.heads or preset.num_attention_heads,
                   intermediate=task.intermediate or preset.intermediate_size,
                   seq_len=task.max_seq_length, batch_size=task.batch_size,
                   max_steps=train.max_steps, lr=train.lr, warmup_steps=train.warmup_steps,
                   device=job.device or "auto", checkpoint_every=train.checkpoint_every,
                   log_every=train.log_every, heldout_fraction=job.heldout_fraction)

    def job(self) -> PretrainJob:
        """The job the form describes; SpecError when the spec refuses a setting."""
        sizes: dict = {}
        if self.init_model:
            sizes["init_model"] = self.init_model
        elif self.preset == "custom":
            sizes.update(layers=self.layers, hidden=self.hidden, heads=self.heads,
                         intermediate=self.intermediate)
        else:
            sizes["preset"] = self.preset
        vocabulary: dict = {}
        if self.tokenizer:
            vocabulary["tokenizer"] = self.tokenizer
        elif not self.init_model:  # else the init model's tokenizer
            vocabulary["vocab_size"] = self.vocab_size
        return PretrainJob(
            task=PretrainSpec(data=None, max_seq_length=self.seq_len, batch_size=self.batch_size,
                              **sizes),
            corpus=self.corpus, heldout_fraction=self.heldout_fraction, **vocabulary,
            train=TrainConfig(max_steps=self.max_steps, lr=self.lr,
                              warmup_steps=self.warmup_steps,
                              checkpoint_every=self.checkpoint_every, log_every=self.log_every,
                              keep_checkpoints=CHECKPOINTS_KEPT),
            device=None if self.device == "auto" else self.device)

    def args(self) -> list[str]:
        """``bert-engine pretrain`` arguments after ``--run-dir``; paths made absolute, so the
        command runs the same from any folder. SpecError when the spec refuses a setting."""
        return self.job().to_args()

    def model_config(self) -> BertConfig:
        """The model's sizes (vocabulary as the form says); ConfigError when they do not fit,
        SpecError when the spec refuses a setting."""
        if self.init_model:
            path = Path(self.init_model) / "config.json"
            try:
                return BertConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{path}: cannot be read as a model config ({exc})") from None
        return self.job().task.model_config(self.vocab_size)


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
    """Every problem that would stop the job, as messages for the user; [] when it can start:
    the spec's own (values), then the files', the model's and the disk's."""
    try:
        form.job()
        problems: list[str] = []
    except SpecError as exc:
        problems = list(exc.problems)
    files: list[Path] = []
    if form.corpus:
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
    config = None
    try:
        config = form.model_config()
        if config.max_position_embeddings < form.seq_len:
            problems.append(f"The model has {config.max_position_embeddings} positions, fewer "
                            f"than the sequence length {form.seq_len}.")
    except SpecError:
        pass  # listed above
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
