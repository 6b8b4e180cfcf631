"""A fine-tuning job as the New job dialog describes it: its job spec, and a check of its data
with the engine's own readers, which also gives the preview (first rows, label set).

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
from engine.options import SpecError, default
from engine.paths import default_model_dir
from engine.specs import FinetuneJob, FinetuneSpec, FinetuneTraining

GLUE_NAMES = tuple(GLUE_TASKS)
PREVIEW_ROWS = 5
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
    text_a: str = default(FinetuneSpec, "text_a")  # column names (or 0-based numbers)
    text_b: str | None = None
    label: str = default(FinetuneSpec, "label")
    has_header: bool = True
    multi_label: bool = False
    word_column: int = default(FinetuneSpec, "word_column")  # CoNLL
    tag_column: int = default(FinetuneSpec, "tag_column")
    tag_scheme: str = default(FinetuneSpec, "tag_scheme")
    doc_stride: int = 128             # SQuAD: BERT's stride for its 384-token windows
    max_answer_length: int = default(FinetuneSpec, "max_answer_length")
    epochs: float = default(FinetuneTraining, "epochs")
    max_steps: int | None = None      # instead of epochs
    lr: float = default(FinetuneTraining, "lr")
    batch_size: int = default(FinetuneSpec, "batch_size")
    seq_len: int = default(FinetuneSpec, "max_seq_length")
    early_stopping: int = default(FinetuneTraining, "early_stopping")  # 0: never
    device: str = "auto"

    @classmethod
    def from_job(cls, job: FinetuneJob) -> FinetuneForm:
        """The form of ``job`` (a run's creating job: a new job like it)."""
        t, training = job.task, job.training
        data = (dict(glue_task=t.glue_task, glue_dir=t.train or "") if t.glue_task
                else dict(train=t.train or "", eval=t.eval or ""))
        return cls(task=t.task, model=t.model or "", **data, text_a=t.text_a, text_b=t.text_b,
                   label=t.label, has_header=t.has_header, multi_label=t.multi_label,
                   word_column=t.word_column, tag_column=t.tag_column, tag_scheme=t.tag_scheme,
                   doc_stride=t.doc_stride or cls.doc_stride,
                   max_answer_length=t.max_answer_length, epochs=training.epochs,
                   max_steps=training.max_steps, lr=training.lr, batch_size=t.batch_size,
                   seq_len=t.max_seq_length, early_stopping=training.early_stopping,
                   device=job.device or "auto")

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

    def job(self) -> FinetuneJob:
        """The job the form describes, with the settings its task uses; SpecError when the
        spec refuses one."""
        task: dict = {"task": self.task, "model": self.model, "max_seq_length": self.seq_len,
                      "batch_size": self.batch_size}
        if self.glue_task:
            task.update(glue_task=self.glue_task, train=self.glue_dir or None)
        else:
            task.update(train=self.train or None, eval=self.eval or None)
        if self.uses_columns:
            task.update(text_a=self.text_a, text_b=self.text_b, label=self.label,
                        # a JSONL record names its keys: no header to be without
                        has_header=self.has_header or _file_format(self.train) == "jsonl",
                        multi_label=self.multi_label and self.task == "classify")
        elif self.task == "tag":
            task.update(word_column=self.word_column, tag_column=self.tag_column,
                        tag_scheme=self.tag_scheme)
        elif self.task == "qa":
            task.update(doc_stride=self.doc_stride, max_answer_length=self.max_answer_length)
        length = {"max_steps": self.max_steps} if self.max_steps else {"epochs": self.epochs}
        return FinetuneJob(task=FinetuneSpec(**task),
                           training=FinetuneTraining(lr=self.lr, early_stopping=self.early_stopping,
                                                     **length),
                           device=None if self.device == "auto" else self.device)

    def args(self) -> list[str]:
        """``bert-engine finetune`` arguments after ``--run-dir``; paths made absolute, so the
        command runs the same from any folder. SpecError when the spec refuses a setting."""
        return self.job().to_args()


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
    """Problems with the form itself, found without reading the data files: the job spec's
    (its values and how they go together), then the model folder's."""
    try:
        form.job()
        problems: list[str] = []
    except SpecError as exc:
        problems = list(exc.problems)
    if form.model.strip():
        config = Path(form.model) / "config.json"
        positions = _model_positions(config) if config.is_file() else None
        if not config.is_file():
            problems.append(f"{form.model}: not a model folder (no config.json)")
        elif positions is not None and positions < form.seq_len:
            problems.append(f"The model has {positions} positions, fewer than the sequence "
                            f"length {form.seq_len}.")
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
