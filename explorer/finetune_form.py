"""A fine-tuning job as the New job dialog describes it: its command line, and a check of its
data with the engine's own readers, which also gives the preview (first rows, label set).

No Qt and no torch: the readers (``engine.finetune.tables/conll/squad/glue``) are pure Python,
so the dialog can run :func:`check` off the GUI thread and start nothing until it finds no
problem. The job itself reads the same files the same way before it creates its run folder.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from engine.data.corpus import DataError
from engine.finetune import conll, squad, tables
from engine.finetune.glue import GLUE_TASKS, glue_task, read_glue
from engine.paths import default_model_dir

TASKS = ("classify", "regress", "tag", "qa")
GLUE_NAMES = tuple(GLUE_TASKS)
TAG_SCHEMES = ("IOB2", "IOB1")
PREVIEW_ROWS = 5
MAX_QUERY_LENGTH = 64   # the engine's default --max-query-length (the form does not change it)
QA_SPECIAL_TOKENS = 3   # [CLS] question [SEP] context [SEP]
CELL_CHARS = 160        # preview cells are cut to this (a SQuAD context is a paragraph)


def default_model() -> str:
    folder = default_model_dir()
    return str(folder) if folder is not None else ""


@dataclass
class FinetuneForm:
    COMMAND = "finetune"  # the bert-engine subcommand; args() follow its --run-dir

    task: str = "classify"
    model: str = field(default_factory=default_model)
    train: str = ""
    eval: str = ""
    glue_task: str | None = None      # with glue_dir instead of train/eval files and columns
    glue_dir: str = ""
    text_a: str = "text"              # column names (or 0-based numbers without a header)
    text_b: str | None = None
    label: str = "label"
    has_header: bool = True
    multi_label: bool = False
    word_column: int = 0              # CoNLL
    tag_column: int = -1
    tag_scheme: str = "IOB2"
    doc_stride: int = 128             # SQuAD
    max_answer_length: int = 30
    epochs: float = 3.0
    max_steps: int | None = None      # instead of epochs
    lr: float = 5e-5
    batch_size: int = 32
    seq_len: int = 128
    early_stopping: int = 0           # evaluations without a better main metric; 0: never
    device: str = "auto"

    def data_fields(self) -> tuple:
        """What :func:`check` reads: a change here needs a new check, others do not."""
        return (self.task, self.train, self.eval, self.glue_task, self.glue_dir, self.text_a,
                self.text_b, self.label, self.has_header, self.multi_label, self.word_column,
                self.tag_column)

    @property
    def uses_columns(self) -> bool:
        return self.task in ("classify", "regress") and not self.glue_task

    @property
    def problem(self) -> str:
        """The tables reader's problem: single | multi | regress."""
        if self.task == "regress":
            return "regress"
        return "multi" if self.multi_label else "single"

    def args(self) -> list[str]:
        """``bert-engine finetune`` arguments after ``--run-dir``; paths made absolute, so the
        command runs the same from any folder."""
        args = ["--task", self.task, "--model", _absolute(self.model)]
        if self.glue_task:
            args += ["--glue-task", self.glue_task, "--glue-dir", _absolute(self.glue_dir)]
        else:
            args += ["--train", _absolute(self.train)]
            if self.eval:
                args += ["--eval", _absolute(self.eval)]
        if self.uses_columns:
            args += ["--text-a", self.text_a]
            if self.text_b:
                args += ["--text-b", self.text_b]
            args += ["--label", self.label]
            if not self.has_header and _file_format(self.train) != "jsonl":
                args.append("--no-header")
            if self.multi_label and self.task == "classify":
                args.append("--multi-label")
        elif self.task == "tag":
            args += ["--word-column", str(self.word_column), "--tag-column", str(self.tag_column),
                     "--tag-scheme", self.tag_scheme]
        elif self.task == "qa":
            args += ["--doc-stride", str(self.doc_stride),
                     "--max-answer-length", str(self.max_answer_length)]
        if self.max_steps:
            args += ["--max-steps", str(self.max_steps)]
        else:
            args += ["--epochs", f"{self.epochs:g}"]
        args += ["--lr", f"{self.lr:g}", "--batch-size", str(self.batch_size),
                 "--seq-len", str(self.seq_len), "--early-stopping", str(self.early_stopping)]
        if self.device != "auto":
            args += ["--device", self.device]
        return args


def _absolute(path: str) -> str:
    return str(Path(path).expanduser().absolute()) if path else ""


def _file_format(path: str) -> str | None:
    return tables.FORMATS.get(Path(path).suffix.lower())


def file_columns(path: str, has_header: bool) -> list[str]:
    """The columns a texts-and-labels file offers: the header's names (CSV/TSV), the first
    record's keys (JSONL), or 0-based numbers without a header. [] when the file cannot tell
    (missing, unknown format, unreadable): :func:`check` then says why."""
    fmt = _file_format(path)
    if fmt is None:
        return []
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            if fmt == "jsonl":
                line = next((text for text in f if text.strip()), "")
                record = json.loads(line) if line else {}
                return [str(k) for k in record] if isinstance(record, dict) else []
            reader = (csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if fmt == "tsv"
                      else csv.reader(f))
            first = next((row for row in reader if row), [])
    except (OSError, UnicodeDecodeError, ValueError, csv.Error):
        return []
    return [name.strip() for name in first] if has_header else [str(i) for i in range(len(first))]


@dataclass
class Check:
    """What :func:`check` found: problems (each naming the file and line where there is one),
    else the preview of the training file and the label set."""

    problems: list[str] = field(default_factory=list)
    headers: tuple[str, ...] = ()
    rows: list[tuple[str, ...]] = field(default_factory=list)
    labels: list[str] | None = None   # class names or tags; None for regression and QA
    summary: str = ""                 # counts, label range, notes


def settings_problems(form: FinetuneForm) -> list[str]:
    """Problems with the form itself, found without reading the data files."""
    problems = []
    if not form.model.strip():
        problems.append("Choose the model to fine-tune (a checkpoint folder).")
    elif not (Path(form.model) / "config.json").is_file():
        problems.append(f"{form.model}: not a model folder (no config.json)")
    else:
        positions = _model_positions(Path(form.model) / "config.json")
        if positions is not None and positions < form.seq_len:
            problems.append(f"The model has {positions} positions, fewer than the sequence "
                            f"length {form.seq_len}.")
    if form.glue_task and form.task not in ("classify", "regress"):
        problems.append("A GLUE task goes with the classify or regress task.")
    elif form.glue_task and not form.glue_dir.strip():
        problems.append(f"Choose the GLUE {form.glue_task} folder (with train.tsv and dev.tsv).")
    elif not form.glue_task and not form.train.strip():
        problems.append("Choose the training file.")
    if form.uses_columns and not (form.text_a and form.label):
        problems.append("Choose the text A and label columns.")
    if form.task == "qa":
        room = MAX_QUERY_LENGTH + QA_SPECIAL_TOKENS
        if form.doc_stride >= form.seq_len - room:
            problems.append(f"The document stride ({form.doc_stride}) must be smaller than the "
                            f"context window, sequence length - {room} = {form.seq_len - room}.")
    if not 0 < form.lr < 1:
        problems.append(f"The learning rate must be between 0 and 1, not {form.lr:g}.")
    if not form.max_steps and not form.epochs > 0:
        problems.append("Train for a positive number of epochs or steps.")
    return problems


def _model_positions(config: Path) -> int | None:
    try:
        value = json.loads(config.read_text(encoding="utf-8")).get("max_position_embeddings")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


def names_data(form: FinetuneForm) -> bool:
    """Whether the form says enough to read its data (a file or GLUE folder, the columns)."""
    return bool((form.glue_dir if form.glue_task else form.train).strip()) and not (
        form.uses_columns and not (form.text_a and form.label))


def check(form: FinetuneForm, rows: int = PREVIEW_ROWS) -> Check:
    """Read the training (and evaluation) data as the job will, and show its first rows. An
    empty Check while the form names no data yet (:func:`settings_problems` says what is
    missing)."""
    if not names_data(form):
        return Check()
    reader = {"classify": _check_texts, "regress": _check_texts, "tag": _check_tagging,
              "qa": _check_squad}[form.task]
    try:
        return reader(form, rows)
    except (DataError, ValueError, OSError) as exc:  # FinetuneDataError: "path:line: reason"
        return Check(problems=[str(exc)])


def _cell(value: str) -> str:
    value = " ".join(value.split())
    return value if len(value) <= CELL_CHARS else value[:CELL_CHARS - 1] + "…"


def _counts(train: int, evaluated: int | None, noun: str) -> str:
    text = f"{train:,} training {noun}"
    if evaluated is None:
        return text + " · no evaluation file: no held-out metrics and no best checkpoint"
    return text + f" · {evaluated:,} evaluation {noun}"


def _check_texts(form: FinetuneForm, rows: int) -> Check:
    if form.glue_task:
        task = glue_task(form.glue_task)
        if (task.problem == "regress") != (form.task == "regress"):
            raise ValueError(f"GLUE {task.name} is a {task.problem} task: choose the "
                             f"{'regress' if task.problem == 'regress' else 'classify'} task.")
        train = read_glue(task.name, form.glue_dir, "train").examples
        evaluated = read_glue(task.name, form.glue_dir, "dev").examples
        labels = list(task.labels) if task.labels else None
        pair = task.text_b is not None
    else:
        read = dict(problem=form.problem, has_header=form.has_header)
        train = tables.read_examples(form.train, form.text_a, form.text_b, form.label, **read)
        evaluated = (tables.read_examples(form.eval, form.text_a, form.text_b, form.label, **read)
                     if form.eval.strip() else None)
        labels = None if form.task == "regress" else tables.label_vocabulary(train, form.problem)
        if evaluated is not None and labels is not None:
            tables.check_labels_known(evaluated, labels, form.eval)
        pair = form.text_b is not None
    preview = [((_cell(e.text_a), _cell(e.text_b or "")) if pair else (_cell(e.text_a),))
               + (_label_text(e.label),) for e in train[:rows]]
    summary = _counts(len(train), None if evaluated is None else len(evaluated), "examples")
    if labels is None:
        values = [e.label for e in train]
        summary += f" · labels from {min(values):g} to {max(values):g}"
    return Check(headers=("text A", "text B", "label") if pair else ("text A", "label"),
                 rows=preview, labels=labels, summary=summary)


def _label_text(label) -> str:
    if isinstance(label, tuple):
        return ", ".join(label) or "(none)"
    return f"{label:g}" if isinstance(label, float) else str(label)


def _check_tagging(form: FinetuneForm, rows: int) -> Check:
    train = conll.read_conll(form.train, form.word_column, form.tag_column)
    tags = conll.tag_vocabulary(train)
    evaluated = None
    if form.eval.strip():
        evaluated = conll.read_conll(form.eval, form.word_column, form.tag_column)
        conll.check_tags_known(evaluated, tags, form.eval)
    preview = [(_cell(" ".join(s.words)), _cell(" ".join(s.tags))) for s in train[:rows]]
    return Check(headers=("words", "tags"), rows=preview, labels=tags,
                 summary=_counts(len(train), None if evaluated is None else len(evaluated),
                                 "sentences"))


def _check_squad(form: FinetuneForm, rows: int) -> Check:
    train, version_2 = squad.read_squad(form.train)
    evaluated = squad.read_squad(form.eval)[0] if form.eval.strip() else None
    preview = [(_cell(e.question), _cell(e.context),
                _cell(e.answers[0][0]) if e.answers else "(no answer)") for e in train[:rows]]
    summary = _counts(len(train), None if evaluated is None else len(evaluated), "questions")
    unanswerable = sum(e.is_impossible for e in train)
    if version_2 or unanswerable:
        summary += f" · SQuAD v2.0: {unanswerable:,} unanswerable"
    return Check(headers=("question", "context", "answer"), rows=preview, summary=summary)


def glue_task_problem(name: str) -> str:
    """classify or regress: the task a GLUE task goes with."""
    return "regress" if glue_task(name).problem == "regress" else "classify"
