"""Job specs, once: every setting of ``bert-engine pretrain`` and ``finetune``, torch-free.

Each field carries its flag, help, group and the values it accepts (:mod:`engine.options`):
the CLI parsers are generated from these classes, the GUI's job forms build a job and call
:meth:`~engine.options.Spec.to_args`, a run's ``config.json`` reads back with
:meth:`~engine.options.Spec.from_config`, and a spec refuses a bad value when it is made,
however it is made. A new job option is one field here (and a widget if the GUI offers it).

- :class:`PretrainSpec` / :class:`FinetuneSpec`: the task (saved as config.json "task").
- :class:`TrainConfig`: the shared loop's settings (saved as "train"); pretrain's options.
- :class:`FinetuneTraining`: finetune's training options, resolved per epoch to a TrainConfig.
- :class:`PretrainJob` / :class:`FinetuneJob`: everything a new run of the command is told.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from engine.config import PRESET_SIZES, BertConfig
from engine.finetune.glue import GLUE_TASKS, glue_task
from engine.finetune.squad import SPECIAL_TOKENS_PER_FEATURE
from engine.options import REQUIRED, Option, Spec, option
from engine.paths import model_or_default

TASKS = ("classify", "regress", "tag", "qa")
TAG_SCHEMES = ("IOB2", "IOB1")
SCHEDULES = ("linear", "cosine", "constant")
PRECISIONS = ("auto", "fp32", "bf16")

DATA, MODEL, PRETRAINING, TRAINING = "data", "model", "pretraining", "training"
TABLES, TAGGING, QA = "classify / regress", "tag", "qa"

# Options that mean the same in both commands (or in a task and its training).
SEQ_LEN = Option("--seq-len", group=TRAINING, at_least=8)
BATCH_SIZE = Option("--batch-size", help="per process", group=TRAINING, at_least=1)
SEED = Option("--seed", group=TRAINING)
LR = Option("--lr", group=TRAINING, above=0)
SCHEDULE = Option("--schedule", group=TRAINING, choices=SCHEDULES)
WEIGHT_DECAY = Option("--weight-decay", group=TRAINING, at_least=0)
GRAD_ACCUM = Option("--grad-accum", group=TRAINING, at_least=1)
PRECISION = Option("--precision", help="auto: bf16 autocast on CUDA and on a CPU with AMX or "
                   "AVX-512 BF16, else fp32; decided once at the start and recorded in the "
                   "run's config.json",
                   group=TRAINING, choices=PRECISIONS)
LOG_EVERY = Option("--log-every", group=TRAINING, at_least=1)
KEEP_CHECKPOINTS = Option("--keep-checkpoints", group=TRAINING, at_least=1)
KEEP_STEPS = Option("--keep-steps", metavar="STEPS", group=TRAINING,
                    help="comma-separated steps (e.g. 100,300,1000) checkpointed and kept out "
                         "of the --keep-checkpoints rotation, so the start of training stays "
                         "visible")


def step_list(text: str | None) -> tuple[int, ...]:
    """``--keep-steps`` text, "100,300,1000", as sorted steps; ValueError naming the flag."""
    if not text:
        return ()
    try:
        steps = sorted({int(part) for part in text.split(",")})
    except ValueError:
        steps = []
    if not steps or steps[0] < 1:
        raise ValueError(f"{KEEP_STEPS.flag} must be positive whole numbers separated by "
                         f"commas (e.g. 100,300,1000), got {text!r}")
    return tuple(steps)


def _steps_problems(text: str | None) -> list[str]:
    try:
        step_list(text)
    except ValueError as exc:
        return [str(exc)]
    return []


DEVICE = Option("--device", help="cpu or cuda (default: cuda if present)", group=TRAINING)


@dataclass
class PretrainSpec(Spec):
    data: str | None = option("--data", REQUIRED, metavar="DIR", group=DATA, path=True,
                              help="a folder written by `bert-engine prepare`")
    init_model: str | None = option("--init-model", None, metavar="DIR", group=MODEL, path=True,
                                    help="start from this checkpoint; missing MLM/NSP heads are "
                                         "initialised")
    preset: str = option("--preset", "mini", group=MODEL, help=" ".join(PRESET_SIZES))
    layers: int | None = option("--layers", None, group=MODEL, at_least=1,
                                help="override the preset's layers")
    hidden: int | None = option("--hidden", None, group=MODEL, at_least=1,
                                help="override the preset's hidden")
    heads: int | None = option("--heads", None, group=MODEL, at_least=1,
                               help="override the preset's heads")
    intermediate: int | None = option("--intermediate", None, group=MODEL, at_least=1,
                                      help="override the preset's intermediate")
    dropout: float | None = option("--dropout", None, group=MODEL, at_least=0, below=1,
                                   help="hidden and attention dropout (default 0.1)")
    max_predictions: int = option("--max-predictions", 20, group=PRETRAINING, at_least=1)
    whole_word: bool = option("--whole-word", False, group=PRETRAINING, help="whole-word masking")
    short_seq_prob: float = 0.1
    near_negatives: float = option(
        "--nsp-near-negatives", 0.0, metavar="P", group=PRETRAINING, at_least=0, at_most=1,
        help="share of NotNext pairs whose B comes from a nearby document (in corpus order: the "
             "same book or collection) rather than any other; harder negatives that need "
             "continuity, not style (default 0)")
    nsp_loss_weight: float = option(
        "--nsp-loss-weight", 1.0, metavar="W", group=PRETRAINING, at_least=0,
        help="weight of the NSP loss in the objective, the MLM loss's being 1 (default 1, as "
             "in BERT); logged losses stay unweighted")
    eval_batches: int = option("--eval-batches", 20, group=PRETRAINING, at_least=1)
    max_seq_length: int = option(SEQ_LEN, 128)
    batch_size: int = option(BATCH_SIZE, 32)
    seed: int = option(SEED, 0)

    def problems(self) -> list[str]:
        if self.preset not in PRESET_SIZES:
            return [f"--preset {self.preset!r} is not a preset (choose from "
                    f"{', '.join(PRESET_SIZES)})"]
        return []

    def model_config(self, vocab_size: int) -> BertConfig:
        """The preset with this spec's sizes, dropout and positions; ConfigError if they
        clash (heads that do not divide hidden, say)."""
        overrides = {k: v for k, v in dict(num_hidden_layers=self.layers, hidden_size=self.hidden,
                                           num_attention_heads=self.heads,
                                           intermediate_size=self.intermediate).items()
                     if v is not None}
        if self.dropout is not None:
            overrides.update(hidden_dropout_prob=self.dropout,
                             attention_probs_dropout_prob=self.dropout)
        if self.hidden is not None and self.heads is None:
            overrides["num_attention_heads"] = max(1, self.hidden // 64)
        if self.hidden is not None and self.intermediate is None:
            overrides["intermediate_size"] = 4 * self.hidden
        return BertConfig.from_dict({**BertConfig.preset(self.preset).to_dict(), **overrides,
                                     "vocab_size": vocab_size,
                                     "max_position_embeddings": max(512, self.max_seq_length)})


@dataclass
class TrainConfig(Spec):
    """The training loop's settings; its options are ``bert-engine pretrain``'s."""

    max_steps: int = option("--max-steps", REQUIRED, group=TRAINING, at_least=1,
                            help="optimizer steps (with --resume: extend to)")
    lr: float = option(LR, 1e-4)
    warmup_steps: int = option("--warmup-steps", 0, group=TRAINING, at_least=0)
    schedule: str = option(SCHEDULE, "linear")
    weight_decay: float = option(WEIGHT_DECAY, 0.01)
    grad_accum: int = option(GRAD_ACCUM, 1)
    clip_norm: float = 1.0
    precision: str = option(PRECISION, "auto")
    log_every: int = option(LOG_EVERY, 10)
    eval_every: int = option("--eval-every", 0, group=TRAINING, at_least=0,
                             help="0: at checkpoints only")
    checkpoint_every: int = option("--checkpoint-every", 500, group=TRAINING, at_least=1)
    keep_checkpoints: int = option(KEEP_CHECKPOINTS, 3)
    keep_steps: str | None = option(KEEP_STEPS, None)
    seed: int = option(SEED, 0)
    heartbeat_seconds: float = 5.0
    early_stopping_patience: int = 0  # stop after this many evaluations without a new best

    def problems(self) -> list[str]:
        problems = _steps_problems(self.keep_steps)
        if self.early_stopping_patience < 0:
            problems.append(f"early stopping patience must not be negative, got "
                            f"{self.early_stopping_patience}")
        return problems

    @property
    def kept_steps(self) -> tuple[int, ...]:
        """The ``--keep-steps``, checkpointed and never rotated away."""
        return step_list(self.keep_steps)


@dataclass
class FinetuneSpec(Spec):
    task: str = option("--task", REQUIRED, choices=TASKS,
                       help="classify: texts or pairs -> labels; regress: -> a number; tag: "
                            "CoNLL words -> tags; qa: SQuAD question + context -> answer span")
    model: str | None = option("--model", None, metavar="DIR", path=True,
                               help="checkpoint to start from (default: the bundled model)")
    # A file; with glue_task, the GLUE task's folder (given as --glue-dir).
    train: str | None = option("--train", None, metavar="FILE", path=True,
                               help="CSV, TSV or JSONL (classify/regress), CoNLL (tag) or SQuAD "
                                    "JSON (qa)")
    eval: str | None = option("--eval", None, metavar="FILE", path=True,
                              help="same format; scored at every evaluation (picks the best "
                                   "checkpoint)")
    test: str | None = option("--test", None, metavar="FILE", path=True,
                              help="same format; scored once at the end with the best "
                                   "checkpoint")
    glue_task: str | None = option("--glue-task", None, metavar="NAME", group=TABLES,
                                   help=f"{' '.join(GLUE_TASKS)}: columns and metric of that "
                                        "task")
    text_a: str = option("--text-a", "text", metavar="COL", group=TABLES,
                         help="column of text A (a name, or a 0-based index with --no-header; "
                              "default 'text')")
    text_b: str | None = option("--text-b", None, metavar="COL", group=TABLES,
                                help="column of text B, for pairs")
    label: str = option("--label", "label", metavar="COL", group=TABLES,
                        help="label column (default 'label')")
    has_header: bool = option("--no-header", True, negate=True, group=TABLES,
                              help="CSV/TSV without a header row")
    multi_label: bool = option("--multi-label", False, group=TABLES,
                               help="several labels per row (a JSON list, or separated by "
                                    "--label-separator)")
    label_separator: str = option("--label-separator", ",", metavar="SEP", group=TABLES)
    word_column: int = option("--word-column", 0, group=TAGGING)
    tag_column: int = option("--tag-column", -1, group=TAGGING, help="default: the last column")
    tag_scheme: str = option("--tag-scheme", "IOB2", group=TAGGING, choices=TAG_SCHEMES,
                             help="how entities are read for entity F1")
    # QA windows; None: BERT's SQuAD defaults (64, 128, made for 384 tokens), less when a
    # shorter --seq-len leaves less room (resolved when a qa spec is made; unused otherwise).
    doc_stride: int | None = option("--doc-stride", None, group=QA, at_least=1,
                                    help="tokens between window starts (default 128, less when "
                                         "--seq-len leaves less room)")
    max_query_length: int | None = option("--max-query-length", None, group=QA, at_least=1,
                                          help="question tokens kept (default 64, at most half "
                                               "of --seq-len)")
    max_answer_length: int = option("--max-answer-length", 30, group=QA, at_least=1,
                                    help="in tokens")
    n_best: int = option("--n-best", 20, group=QA, at_least=1)
    null_threshold: float = option("--null-threshold", 0.0, group=QA,
                                   help="SQuAD v2: answer \"\" when the null score beats the "
                                        "best span by more")
    max_seq_length: int = option(SEQ_LEN, 128)
    batch_size: int = option(BATCH_SIZE, 32)
    eval_batch_size: int = option("--eval-batch-size", 64, group=TRAINING, at_least=1)
    dropout: float | None = option("--dropout", None, group=TRAINING, at_least=0, below=1,
                                   help="hidden and attention dropout (default: the model's)")
    metric_for_best: str | None = option(
        "--metric-for-best", None, metavar="NAME", group=TRAINING,
        help="default: the task's main metric (accuracy, micro_f1, pearson, entity_f1, f1; "
             "GLUE: the task's)")
    seed: int = option(SEED, 0)
    labels: list[str] | None = None    # fixed on the first start

    GLUE_DIR = Option("--glue-dir", metavar="DIR", group=TABLES,
                      help="with --glue-task: the task's folder (train.tsv, dev.tsv)")
    EXTRA_OPTIONS = {"glue_task": GLUE_DIR}

    def _normalize(self) -> None:
        if self.model is None:
            self.model = str(model_or_default(None))
        super()._normalize()
        if self.task == "qa" and isinstance(self.max_seq_length, int):  # else a check says why
            seq = self.max_seq_length
            if self.max_query_length is None:
                self.max_query_length = max(1, min(64, seq // 2 - 2))
            if self.doc_stride is None and isinstance(self.max_query_length, int):
                room = seq - self.max_query_length - SPECIAL_TOKENS_PER_FEATURE
                self.doc_stride = max(1, min(128, room // 2))

    def problems(self) -> list[str]:
        problems = [] if self.model else ["--model must name a checkpoint folder"]
        if self.glue_task:
            try:
                glue_task(self.glue_task)
            except ValueError as exc:
                problems.append(f"--glue-task: {exc}")
            if self.task not in ("classify", "regress"):
                problems.append("--glue-task goes with --task classify or regress")
            if not self.train:
                problems.append("--glue-task needs --glue-dir (the task's folder with "
                                "train.tsv)")
            if self.eval:
                problems.append("--eval goes with --train files; with --glue-task the task "
                                "folder's dev file is the evaluation set")
        elif not self.train:
            problems.append("give --train FILE (or --glue-task NAME --glue-dir DIR)")
        elif self.task in ("classify", "regress") and not (self.text_a and self.label):
            problems.append("--text-a and --label must name columns")
        if self.multi_label and self.task != "classify":
            problems.append("--multi-label goes with --task classify")
        if not self.label_separator:
            problems.append("--label-separator must not be empty")
        if self.task == "qa":
            window = self.max_seq_length - self.max_query_length - SPECIAL_TOKENS_PER_FEATURE
            if self.doc_stride >= window:
                problems.append(f"--doc-stride {self.doc_stride} must be smaller than the "
                                f"context window, --seq-len - --max-query-length - "
                                f"{SPECIAL_TOKENS_PER_FEATURE} = {window}")
        return problems

    def _cli_values(self) -> dict:
        values = super()._cli_values()
        if self.glue_task:  # the task's folder is given as --glue-dir
            values["glue_dir"], values["train"] = values["train"], None
        return values

    @classmethod
    def _from_cli(cls, values: dict):
        if values.get("glue_task"):
            values = {**values, "train": values.get("glue_dir")}
        return super()._from_cli(values)

    @property
    def problem(self) -> str:
        """single | multi | regress | tag | qa"""
        if self.task == "classify":
            return "multi" if self.multi_label else "single"
        return self.task


@dataclass
class FinetuneTraining(Spec):
    """``bert-engine finetune``'s training options: per epoch by default, resolved to a
    :class:`TrainConfig` once the training data are read (:meth:`FinetuneJob.train_config`)."""

    epochs: float = option("--epochs", 3.0, group=TRAINING)
    max_steps: int | None = option("--max-steps", None, group=TRAINING, at_least=1,
                                   help="instead of --epochs (with --resume: extend to)")
    lr: float = option(LR, 5e-5)
    warmup_ratio: float = option("--warmup-ratio", 0.1, group=TRAINING, at_least=0, below=1)
    schedule: str = option(SCHEDULE, "linear")
    weight_decay: float = option(WEIGHT_DECAY, 0.01)
    grad_accum: int = option(GRAD_ACCUM, 1)
    precision: str = option(PRECISION, "auto")
    log_every: int = option(LOG_EVERY, 10)
    eval_every: int | None = option("--eval-every", None, group=TRAINING, at_least=1,
                                    help="steps (default: once per epoch)")
    checkpoint_every: int | None = option("--checkpoint-every", None, group=TRAINING,
                                          at_least=1, help="steps (default: once per epoch)")
    keep_checkpoints: int = option(KEEP_CHECKPOINTS, 2)
    keep_steps: str | None = option(KEEP_STEPS, None)
    early_stopping: int = option("--early-stopping", 0, metavar="N", group=TRAINING, at_least=0,
                                 help="stop after N evaluations without a better main metric "
                                      "(0: never)")
    seed: int = option(SEED, 0)

    def problems(self) -> list[str]:
        problems = _steps_problems(self.keep_steps)
        if self.max_steps is None and not self.epochs > 0:
            problems.append(f"--epochs must be positive, got {self.epochs}")
        return problems


@dataclass(kw_only=True)
class PretrainJob(Spec):
    """A new ``bert-engine pretrain`` run: on prepared ``--data``, or on a text ``--corpus``
    the job prepares into its run folder first."""

    task: PretrainSpec
    corpus: list[str] | None = option("--corpus", None, metavar="PATH", group=DATA, path=True,
                                      help="instead of --data: text files or folders, prepared "
                                           "into RUN_DIR/data by the job itself")
    tokenizer: str | None = option("--tokenizer", None, metavar="PATH", group=DATA, path=True,
                                   help="with --corpus: the vocabulary to use (default: "
                                        "--init-model's, else one trained on the corpus into "
                                        "RUN_DIR/tokenizer)")
    vocab_size: int = option("--vocab-size", 30522, group=DATA, at_least=1,
                             help="with --corpus and a trained tokenizer")
    heldout_fraction: float = option("--heldout-fraction", 0.02, group=DATA, at_least=0, below=1,
                                     help="with --corpus: share of documents held out for "
                                          "evaluation")
    train: TrainConfig
    device: str | None = option(DEVICE, None)

    def problems(self) -> list[str]:
        if self.task.data and self.corpus:
            return ["give either --data (prepared) or --corpus (text), not both"]
        if not (self.task.data or self.corpus):
            return ["a new run needs --corpus (text files or folders) or --data (a prepared "
                    "folder)"]
        return []

    def task_in(self, run_dir: str | Path) -> PretrainSpec:
        """The task as it trains in ``run_dir``: a --corpus job's data are its data/ folder."""
        if not self.corpus:
            return self.task
        return replace(self.task, data=str(Path(run_dir) / "data"))


@dataclass(kw_only=True)
class FinetuneJob(Spec):
    """A new ``bert-engine finetune`` run."""

    task: FinetuneSpec
    training: FinetuneTraining
    device: str | None = option(DEVICE, None)

    def train_config(self, train_rows: int, world_size: int, has_eval: bool) -> TrainConfig:
        """The loop's settings for ``train_rows`` training rows: --epochs in steps, warm-up
        as a share of them, and evaluations and checkpoints once an epoch unless asked."""
        t = self.training
        batches = math.ceil(train_rows / (self.task.batch_size * world_size))
        steps_per_epoch = max(1, math.ceil(batches / t.grad_accum))
        max_steps = t.max_steps or max(1, math.ceil(t.epochs * steps_per_epoch))
        every = min(steps_per_epoch, max_steps)
        return TrainConfig(max_steps=max_steps, lr=t.lr,
                           warmup_steps=int(t.warmup_ratio * max_steps), schedule=t.schedule,
                           weight_decay=t.weight_decay, grad_accum=t.grad_accum,
                           precision=t.precision, log_every=t.log_every,
                           eval_every=(t.eval_every or every) if has_eval else 0,
                           checkpoint_every=t.checkpoint_every or every,
                           keep_checkpoints=t.keep_checkpoints, keep_steps=t.keep_steps,
                           seed=t.seed,
                           early_stopping_patience=t.early_stopping)

