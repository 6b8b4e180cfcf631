"""New job dialog: a pretraining job from corpus files, or a fine-tuning job from labelled data
(``FinetunePanel``), checked before it starts, with the command line shown so it can be copied
to a terminal or a cluster script. It opens on the values of the last job it started (kept in
the app's settings), or on a run's ("New job from selected")."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QDialog, QDialogButtonBox,
                               QDoubleSpinBox, QFileDialog, QFormLayout, QFrame, QGroupBox,
                               QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton,
                               QRadioButton, QScrollArea, QSizePolicy, QStackedWidget, QStyle,
                               QVBoxLayout, QWidget)

from engine.config import PRESET_SIZES
from engine.options import SpecError
from explorer.finetune_form import FinetuneForm
from explorer.jobs import display_command
from explorer.job_form import JobForm, validate
from explorer.widgets.finetune_panel import NO_COLUMN, NO_GLUE, FinetunePanel, row, spin

PATH_SEPARATOR = ";"  # several corpus paths in one line
FINETUNE_PAGE_HEIGHT = 420  # the dialog's other rows take ~230 px: it fits a 700 px screen
DEFAULT_NAMES = {"pretrain": "pretrain", "finetune": "finetune"}
LAST_JOB_KEY = "new_job/last"  # JSON: {"kind", "form": the last started job's form fields}
FORMS = {"pretrain": JobForm, "finetune": FinetuneForm}


def last_form(settings) -> JobForm | FinetuneForm | None:
    """The form of the last job the dialog started, if the settings hold a readable one."""
    try:
        saved = json.loads(settings.value(LAST_JOB_KEY) or "null")
        return FORMS[saved["kind"]](**saved["form"])
    except (TypeError, ValueError, KeyError):  # none yet, or from another version
        return None


class NewJobDialog(QDialog):
    """``run_dir`` and ``form`` hold the accepted job; nothing is started here.

    ``form``: the job to start from (a run's); else, with ``settings``, the last job started
    from this dialog, remembered there when one starts. ``name``: the job's name to start from.
    """

    def __init__(self, runs_root: Path, suggested_run_dir, parent: QWidget | None = None,
                 settings=None, form: JobForm | FinetuneForm | None = None,
                 name: str | None = None):
        super().__init__(parent)
        self.setWindowTitle("New job")
        self.runs_root = runs_root
        self._suggest = suggested_run_dir  # name -> a free folder under the runs root
        self.settings = settings
        self.run_dir: Path | None = None
        self.form: JobForm | FinetuneForm | None = None
        start = JobForm()  # the fields start as a new form does
        self._base = start  # what a pretraining form keeps beyond the fields (log_every ...)

        self.name = QLineEdit("pretrain")
        self.corpus = QLineEdit()
        self.corpus.setPlaceholderText("text files or folders; several separated by ';'")
        add_files, add_folder = QPushButton("Files…"), QPushButton("Folder…")
        add_files.clicked.connect(self._choose_files)
        add_folder.clicked.connect(self._choose_folder)

        self.train_tokenizer = QRadioButton("Train a new WordPiece vocabulary")
        self.train_tokenizer.setChecked(True)
        self.reuse_tokenizer = QRadioButton("Reuse")
        self.tokenizer = QLineEdit()
        self.tokenizer.setPlaceholderText("vocab.txt, tokenizer.json or a model folder")
        browse_tok = QPushButton("…")
        browse_tok.clicked.connect(lambda: self._choose_into(self.tokenizer))
        self.vocab_size = spin(100, 250_000, start.vocab_size, 1000)

        self.size = QComboBox()
        self.size.addItems([*PRESET_SIZES, "custom"])
        self.size.setCurrentText(start.preset)
        self.init_model = QLineEdit()
        self.init_model.setPlaceholderText("optional: continue from this model folder")
        browse_init = QPushButton("…")
        browse_init.clicked.connect(lambda: self._choose_into(self.init_model, folder=True))
        self.layers, self.hidden = spin(1, 48, start.layers), spin(8, 4096, start.hidden, 64)
        self.heads = spin(1, 64, start.heads)
        self.intermediate = spin(8, 16384, start.intermediate, 256)
        self.custom = QWidget()
        self.custom.setVisible(False)  # until "custom" is chosen
        custom = QHBoxLayout(self.custom)
        custom.setContentsMargins(0, 0, 0, 0)
        for label, box in (("layers", self.layers), ("hidden", self.hidden),
                           ("heads", self.heads), ("intermediate", self.intermediate)):
            custom.addWidget(QLabel(label))
            custom.addWidget(box)

        self.seq_len = spin(8, 4096, start.seq_len, 32)
        self.batch = spin(1, 65536, start.batch_size)
        self.steps = spin(1, 100_000_000, start.max_steps, 1000)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(6)
        self.lr.setRange(1e-6, 0.5)
        self.lr.setSingleStep(1e-5)
        self.lr.setValue(start.lr)
        self.warmup = spin(0, 10_000_000, start.warmup_steps, 100)
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        self.checkpoint_every = spin(1, 10_000_000, start.checkpoint_every, 100)

        data = QGroupBox("Data")
        data_form = QFormLayout(data)
        data_form.addRow("Corpus", row(self.corpus, add_files, add_folder, stretch=self.corpus))
        data_form.addRow("Tokenizer", row(self.train_tokenizer, QLabel("with"), self.vocab_size,
                                           QLabel("tokens")))
        data_form.addRow("", row(self.reuse_tokenizer, self.tokenizer, browse_tok,
                                  stretch=self.tokenizer))
        model = QGroupBox("Model")
        model_form = QFormLayout(model)
        model_form.addRow("Size", self.size)
        model_form.addRow("", self.custom)
        model_form.addRow("Start from", row(self.init_model, browse_init, stretch=self.init_model))
        training = QGroupBox("Training")
        train_form = QFormLayout(training)
        train_form.addRow("Sequence length", self.seq_len)
        train_form.addRow("Batch size", self.batch)
        train_form.addRow("Steps", self.steps)
        train_form.addRow("Learning rate", self.lr)
        train_form.addRow("Warm-up steps", self.warmup)
        train_form.addRow("Device", self.device)
        train_form.addRow("Checkpoint every", self.checkpoint_every)

        self.command = QPlainTextEdit()
        self.command.setReadOnly(True)
        self.command.setMaximumHeight(80)
        self.copy = QPushButton("Copy command")
        self.copy.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(self.command_text()))
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet("color:#b3261e")
        self.problems.setVisible(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Cancel)
        self.start_button = self.buttons.addButton("Start", QDialogButtonBox.AcceptRole)
        self.buttons.accepted.connect(self._try_start)
        self.buttons.rejected.connect(self.reject)

        self.pretrain_choice = QRadioButton("Pretrain a model (MLM + NSP) on a text corpus")
        self.pretrain_choice.setChecked(True)
        self.finetune_choice = QRadioButton("Fine-tune a model on labelled data")
        kinds = QButtonGroup(self)
        kinds.addButton(self.pretrain_choice)
        kinds.addButton(self.finetune_choice)
        pretrain_page = QWidget()
        page = QVBoxLayout(pretrain_page)
        page.setContentsMargins(0, 0, 0, 0)
        for group in (data, model, training):
            page.addWidget(group)
        self.finetune = FinetunePanel()
        self.pages = QStackedWidget()
        self.pages.addWidget(pretrain_page)
        # The fine-tuning form is ~870 px tall: it scrolls rather than push the dialog off a
        # 700 px screen.
        self.finetune_scroll = QScrollArea()
        self.finetune_scroll.setWidgetResizable(True)
        self.finetune_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.finetune_scroll.setWidget(self.finetune)
        self.finetune_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        bar = self.finetune_scroll.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        self.finetune_scroll.setMinimumWidth(max(self.finetune.sizeHint().width(),
                                                 self.finetune.minimumWidth()) + bar + 4)
        self.finetune_scroll.setMinimumHeight(FINETUNE_PAGE_HEIGHT)
        self.finetune_scroll.setMaximumHeight(FINETUNE_PAGE_HEIGHT)
        self.pages.addWidget(self.finetune_scroll)

        layout = QVBoxLayout(self)
        name_row = QFormLayout()
        name_row.addRow("Job", row(self.pretrain_choice, self.finetune_choice))
        name_row.addRow("Name", self.name)
        layout.addLayout(name_row)
        layout.addWidget(self.pages)
        layout.addWidget(QLabel("Command line (the job runs exactly this):"))
        layout.addWidget(self.command)
        layout.addWidget(self.copy)
        layout.addWidget(self.problems)
        layout.addWidget(self.buttons)

        for edit in (self.name, self.corpus, self.tokenizer, self.init_model):
            edit.textChanged.connect(self._update)
        for box in (self.vocab_size, self.layers, self.hidden, self.heads, self.intermediate,
                    self.seq_len, self.batch, self.steps, self.warmup, self.checkpoint_every):
            box.valueChanged.connect(self._update)
        self.lr.valueChanged.connect(self._update)
        for combo in (self.size, self.device):
            combo.currentTextChanged.connect(self._update)
        self.train_tokenizer.toggled.connect(self._update)
        self.finetune_choice.toggled.connect(self._on_kind)
        self.finetune.sig_changed.connect(self._update)
        self._on_kind()
        form = form or (last_form(settings) if settings is not None else None)
        if form is not None:
            self.set_form(form)
        if name:
            self.name.setText(name)

    def set_form(self, form: JobForm | FinetuneForm) -> None:
        """Fill the fields with ``form``'s values (and choose its kind of job)."""
        if isinstance(form, FinetuneForm):
            self.finetune_choice.setChecked(True)
            fill_finetune_panel(self.finetune, form)
            return
        self.pretrain_choice.setChecked(True)
        self._base = form
        self.corpus.setText(PATH_SEPARATOR.join(form.corpus))
        (self.reuse_tokenizer if form.tokenizer else self.train_tokenizer).setChecked(True)
        self.tokenizer.setText(form.tokenizer or "")
        self.vocab_size.setValue(form.vocab_size)
        self.size.setCurrentText(form.preset)
        self.init_model.setText(form.init_model or "")
        for box, value in ((self.layers, form.layers), (self.hidden, form.hidden),
                           (self.heads, form.heads), (self.intermediate, form.intermediate),
                           (self.seq_len, form.seq_len), (self.batch, form.batch_size),
                           (self.steps, form.max_steps), (self.warmup, form.warmup_steps),
                           (self.checkpoint_every, form.checkpoint_every)):
            box.setValue(value)
        self.lr.setValue(form.lr)
        self.device.setCurrentText(form.device)

    # ----- the job described by the fields -----

    def current_form(self) -> JobForm:
        paths = [p.strip() for p in self.corpus.text().split(PATH_SEPARATOR) if p.strip()]
        reuse = self.reuse_tokenizer.isChecked()
        return dataclasses.replace(
            self._base, corpus=paths, tokenizer=self.tokenizer.text().strip() if reuse else None,
            vocab_size=self.vocab_size.value(), init_model=self.init_model.text().strip() or None,
            preset=self.size.currentText(), layers=self.layers.value(), hidden=self.hidden.value(),
            heads=self.heads.value(), intermediate=self.intermediate.value(),
            seq_len=self.seq_len.value(), batch_size=self.batch.value(),
            max_steps=self.steps.value(), lr=self.lr.value(), warmup_steps=self.warmup.value(),
            device=self.device.currentText(), checkpoint_every=self.checkpoint_every.value())

    @property
    def kind(self) -> str:
        return "finetune" if self.finetune_choice.isChecked() else "pretrain"

    def job_form(self) -> JobForm | FinetuneForm:
        """The job the fields describe, of the chosen kind."""
        return self.finetune.current_form() if self.kind == "finetune" else self.current_form()

    def planned_run_dir(self) -> Path:
        return self._suggest(self.name.text().strip() or DEFAULT_NAMES[self.kind])

    def command_args(self) -> list[str]:
        """The ``bert-engine`` arguments of the job, subcommand first; SpecError while the
        job's spec refuses a setting."""
        form = self.job_form()
        return [form.COMMAND, "--run-dir", str(self.planned_run_dir()), *form.args()]

    def command_text(self) -> str:
        return display_command(self.command_args())

    def _on_kind(self) -> None:
        current = 1 if self.kind == "finetune" else 0
        for i in range(self.pages.count()):  # the dialog fits the shown page, not the larger
            self.pages.widget(i).setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Preferred
                                               if i == current else QSizePolicy.Ignored)
        self.pages.setCurrentIndex(current)
        other = "pretrain" if self.kind == "finetune" else "finetune"
        if self.name.text().strip() in ("", DEFAULT_NAMES[other]):
            self.name.setText(DEFAULT_NAMES[self.kind])
        self.problems.setVisible(False)
        self._update()
        if self.isVisible():  # before the first show, Qt sizes the dialog itself
            self.adjustSize()

    def _update(self, *_args) -> None:
        custom = self.size.currentText() == "custom"
        self.custom.setVisible(custom)
        starts_from_model = bool(self.init_model.text().strip())
        self.size.setEnabled(not starts_from_model)
        self.tokenizer.setEnabled(self.reuse_tokenizer.isChecked())
        self.vocab_size.setEnabled(self.train_tokenizer.isChecked() and not starts_from_model)
        try:
            command, complete = self.command_text(), True
        except SpecError as exc:  # no job, so no command line: say what it needs
            command, complete = f"(no command yet: {exc})", False
        self.command.setPlainText(command)
        self.copy.setEnabled(complete)
        if self.problems.isVisible() and self.kind == "pretrain":
            # The list from the last Start follows the fields: a filled corpus drops its line.
            problems = validate(self.current_form(), self.runs_root)
            self.problems.setText("\n".join(f"• {p}" for p in problems))
            self.problems.setVisible(bool(problems))
        # A fine-tuning job starts once its data passed the check (problems show in the panel).
        self.start_button.setEnabled(self.kind == "pretrain" or self.finetune.ready)

    def _try_start(self) -> None:
        if self.kind == "finetune":
            if self.finetune.ready:
                self.form, self.run_dir = self.finetune.current_form(), self.planned_run_dir()
                self._remember()
                self.accept()
            return
        form = self.current_form()
        problems = validate(form, self.runs_root)
        self.problems.setText("\n".join(f"• {p}" for p in problems))
        self.problems.setVisible(bool(problems))
        if problems:
            return
        self.form, self.run_dir = form, self.planned_run_dir()
        self._remember()
        self.accept()

    def _remember(self) -> None:
        if self.settings is not None:
            self.settings.setValue(LAST_JOB_KEY, json.dumps(
                {"kind": self.kind, "form": dataclasses.asdict(self.form)}))

    def done(self, result: int) -> None:
        self.finetune.shutdown()  # no data check runs on after the dialog
        super().done(result)

    # ----- file pickers -----

    def _append_paths(self, paths: list[str]) -> None:
        current = [p for p in self.corpus.text().split(PATH_SEPARATOR) if p.strip()]
        self.corpus.setText(PATH_SEPARATOR.join([*current, *paths]))

    def _choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Corpus files", "",
                                                "Text (*.txt *.txt.gz *.txt.xz *.txt.bz2);;All (*)")
        self._append_paths(files)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Corpus folder")
        if folder:
            self._append_paths([folder])

    def _choose_into(self, edit: QLineEdit, folder: bool = False) -> None:
        path = (QFileDialog.getExistingDirectory(self, "Choose a folder") if folder
                else QFileDialog.getOpenFileName(self, "Choose a file")[0])
        if path:
            edit.setText(path)


def fill_finetune_panel(panel: FinetunePanel, form: FinetuneForm) -> None:
    """Set the fine-tuning panel's fields to ``form``'s values (the columns once the training
    file's columns are offered)."""
    panel.model.setText(form.model)
    panel.task.setCurrentText(form.task)
    panel.glue.setCurrentText(form.glue_task or NO_GLUE)
    panel.glue_dir.setText(form.glue_dir)
    panel.header.setChecked(form.has_header)
    panel.train.setText(form.train)
    panel.eval.setText(form.eval)
    panel.text_a.setCurrentText(form.text_a)
    panel.text_b.setCurrentText(form.text_b or NO_COLUMN)
    panel.label.setCurrentText(form.label)
    panel.multi_label.setChecked(form.multi_label)
    panel.tag_scheme.setCurrentText(form.tag_scheme)
    (panel.by_steps if form.max_steps else panel.by_epochs).setChecked(True)
    for box, value in ((panel.word_column, form.word_column), (panel.tag_column, form.tag_column),
                       (panel.doc_stride, form.doc_stride),
                       (panel.max_answer, form.max_answer_length),
                       (panel.steps, form.max_steps or panel.steps.value()),
                       (panel.batch, form.batch_size), (panel.seq_len, form.seq_len),
                       (panel.early_stopping, form.early_stopping)):
        box.setValue(value)
    panel.epochs.setValue(form.epochs)
    panel.lr.setValue(form.lr)
    panel.device.setCurrentText(form.device)
