"""The fine-tuning half of the New job dialog: base model, task, data files and columns, a
preview of the data as the job will read it, and the training settings.

The data are checked off the GUI thread (``FinetuneChecker``) whenever what is read changes;
:attr:`FinetunePanel.ready` is True only once the current data passed the check and the
settings have no problem, so Start waits for it.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QGridLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QRadioButton, QSpinBox, QVBoxLayout, QWidget)

from engine.specs import TAG_SCHEMES, TASKS
from explorer.finetune_checker import FinetuneChecker
from explorer.finetune_form import (GLUE_NAMES, Check, FinetuneForm, default_model,
                                    file_columns, glue_task_problem, names_data,
                                    settings_problems)
from explorer.widgets.finetune_preview import FinetunePreview

CHECK_DELAY_MS = 250  # typing a path: check once it pauses
MINIMUM_WIDTH = 720   # room for the preview's texts
SEQ_LEN_DEFAULTS = {"qa": 384}  # else 128: BERT's recipes (a SQuAD window needs the room)
NO_COLUMN = "(none)"
NO_GLUE = "(none)"
# Column names tried first, in order, when a file's columns are filled in.
GUESSES = {"text_a": ("text", "sentence", "sentence1", "text_a", "question", "question1",
                      "premise"),
           "text_b": ("text_b", "sentence2", "question2", "hypothesis"),
           "label": ("label", "labels", "score", "gold_label", "is_duplicate")}
FILE_FILTERS = {"classify": "Tables (*.csv *.tsv *.jsonl *.ndjson);;All files (*)",
                "regress": "Tables (*.csv *.tsv *.jsonl *.ndjson);;All files (*)",
                "tag": "CoNLL (*.conll *.txt *.tsv *.iob *.bio);;All files (*)",
                "qa": "SQuAD (*.json);;All files (*)"}


def spin(low: int, high: int, value: int, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    box.setGroupSeparatorShown(True)
    return box


def row(*widgets: QWidget | str, stretch: QWidget | None = None) -> QWidget:
    """Widgets (a string: a label) side by side; ``stretch`` takes the spare width (else it goes
    to the end)."""
    line = QWidget()
    layout = QHBoxLayout(line)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(QLabel(widget) if isinstance(widget, str) else widget,
                         1 if widget is stretch else 0)
    if stretch is None:
        layout.addStretch(1)
    return line


class FinetunePanel(QWidget):
    sig_changed = Signal()  # the form, or what is known about its data, changed

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = QLineEdit(default_model())
        self.model.setPlaceholderText("a checkpoint folder (config.json, weights, vocab)")
        self.task = QComboBox()
        self.task.addItems(TASKS)
        self.task.setToolTip("classify: texts or pairs → labels · regress: → a number · "
                             "tag: CoNLL words → tags · qa: SQuAD question + context → answer")
        self.glue = QComboBox()
        self.glue.addItems([NO_GLUE, *GLUE_NAMES])
        self.glue.setToolTip("A GLUE task: its columns, labels and metric; give its folder")
        self.glue_dir = QLineEdit()
        self.glue_dir.setPlaceholderText("the task's folder in the GLUE download (train.tsv, "
                                         "dev.tsv)")
        self.train = QLineEdit()
        self.eval = QLineEdit()
        self.eval.setPlaceholderText("optional: scored at each evaluation; picks the best "
                                     "checkpoint")
        self.text_a, self.text_b, self.label = QComboBox(), QComboBox(), QComboBox()
        for combo in (self.text_a, self.text_b, self.label):
            combo.setMinimumContentsLength(10)
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.header = QCheckBox("Header row")
        self.header.setChecked(True)
        self.multi_label = QCheckBox("Several labels per row")
        self.word_column, self.tag_column = spin(0, 99, 0), spin(-99, 99, -1)
        self.tag_column.setToolTip("0-based; negative counts from the end (-1: the last)")
        self.tag_scheme = QComboBox()
        self.tag_scheme.addItems(TAG_SCHEMES)
        self.doc_stride, self.max_answer = spin(8, 4096, 128, 16), spin(1, 1024, 30)
        self.preview = FinetunePreview()

        self.by_epochs, self.by_steps = QRadioButton("Epochs"), QRadioButton("Steps")
        self.by_epochs.setChecked(True)
        self.epochs = QDoubleSpinBox()
        self.epochs.setRange(0.1, 1000.0)
        self.epochs.setValue(3.0)
        self.steps = spin(1, 100_000_000, 1000, 100)
        self.steps.setEnabled(False)
        self.by_epochs.toggled.connect(self.epochs.setEnabled)
        self.by_steps.toggled.connect(self.steps.setEnabled)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(6)
        self.lr.setRange(1e-6, 0.5)
        self.lr.setSingleStep(1e-5)
        self.lr.setValue(5e-5)
        self.batch, self.seq_len = spin(1, 65536, 32), spin(8, 4096, 128, 32)
        self.early_stopping = spin(0, 1000, 0)
        self.early_stopping.setSpecialValueText("off")
        self.early_stopping.setSuffix(" evaluations")
        self.early_stopping.setToolTip("Stop after this many evaluations without a better main "
                                       "metric")
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])

        self.setMinimumWidth(MINIMUM_WIDTH)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._model_group())
        layout.addWidget(self._data_group())
        layout.addWidget(self._training_group())

        self._checker = FinetuneChecker(self)
        self._checker.sig_checked.connect(self._on_checked)
        self._timer = QTimer(self, singleShot=True, interval=CHECK_DELAY_MS)
        self._timer.timeout.connect(self._request_check)
        self._number = 0                      # of the newest data fields
        self._requested: tuple | None = None  # the newest data fields
        self._checked: Check | None = None    # its result, once in
        self._task = self.task.currentText()
        for edit in (self.model, self.glue_dir, self.eval):
            edit.textChanged.connect(self._changed)
        self.train.textChanged.connect(self._fill_columns)
        self.header.toggled.connect(self._fill_columns)
        for combo in (self.text_a, self.text_b, self.label, self.tag_scheme, self.device):
            combo.currentTextChanged.connect(self._changed)
        self.task.currentTextChanged.connect(self._on_task)
        self.glue.currentTextChanged.connect(self._on_glue)
        for box in (self.multi_label, self.by_epochs):
            box.toggled.connect(self._changed)
        for box in (self.word_column, self.tag_column, self.doc_stride, self.max_answer,
                    self.steps, self.batch, self.seq_len, self.early_stopping):
            box.valueChanged.connect(self._changed)
        self.epochs.valueChanged.connect(self._changed)
        self.lr.valueChanged.connect(self._changed)
        self._on_task()

    # ----- layout -----

    def _browse(self, edit: QLineEdit, folder: bool) -> QPushButton:
        button = QPushButton("…")
        button.setToolTip("Browse")
        button.setMaximumWidth(36)
        button.clicked.connect(lambda: self._choose_into(edit, folder))
        return button

    def _model_group(self) -> QGroupBox:
        group = QGroupBox("Model and task")
        form = QFormLayout(group)
        form.addRow("Base model", row(self.model, self._browse(self.model, True),
                                       stretch=self.model))
        self.glue_label = QLabel("GLUE task")
        form.addRow("Task", row(self.task, self.glue_label, self.glue))
        self.glue_row = row(self.glue_dir, self._browse(self.glue_dir, True), stretch=self.glue_dir)
        form.addRow("GLUE folder", self.glue_row)
        self.model_form = form
        return group

    def _data_group(self) -> QGroupBox:
        group = QGroupBox("Data")
        form = QFormLayout(group)
        self.train_row = row(self.train, self._browse(self.train, False), stretch=self.train)
        self.eval_row = row(self.eval, self._browse(self.eval, False), stretch=self.eval)
        form.addRow("Training file", self.train_row)
        form.addRow("Evaluation file", self.eval_row)
        self.columns_row = row("text A", self.text_a, "text B", self.text_b, "label", self.label)
        self.options_row = row(self.header, self.multi_label)
        self.tag_row = row("word column", self.word_column, "tag column", self.tag_column,
                            "scheme", self.tag_scheme)
        self.qa_row = row("document stride", self.doc_stride, "max answer length",
                           self.max_answer, "tokens")
        for label, line in (("Columns", self.columns_row), ("", self.options_row),
                            ("Columns", self.tag_row), ("Windows", self.qa_row)):
            form.addRow(label, line)
        form.addRow(self.preview)
        self.data_form = form
        return group

    def _training_group(self) -> QGroupBox:
        group = QGroupBox("Training")
        grid = QGridLayout(group)
        cells = ((self.by_epochs, self.epochs, self.by_steps, self.steps),
                 ("Learning rate", self.lr, "Batch size", self.batch),
                 ("Sequence length", self.seq_len, "Early stopping", self.early_stopping),
                 ("Device", self.device))
        for r, line in enumerate(cells):
            for c, cell in enumerate(line):
                grid.addWidget(QLabel(cell) if isinstance(cell, str) else cell, r, c)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        return group

    # ----- the form -----

    def current_form(self) -> FinetuneForm:
        task = self.task.currentText()
        glue = self.glue.currentText()
        glue = glue if glue != NO_GLUE and task in ("classify", "regress") else None
        text_b = self.text_b.currentText()
        return FinetuneForm(
            task=task, model=self.model.text().strip(), train=self.train.text().strip(),
            eval=self.eval.text().strip(), glue_task=glue, glue_dir=self.glue_dir.text().strip(),
            text_a=self.text_a.currentText(), text_b=text_b if text_b != NO_COLUMN else None,
            label=self.label.currentText(), has_header=self.header.isChecked(),
            multi_label=self.multi_label.isChecked() and task == "classify",
            word_column=self.word_column.value(), tag_column=self.tag_column.value(),
            tag_scheme=self.tag_scheme.currentText(), doc_stride=self.doc_stride.value(),
            max_answer_length=self.max_answer.value(), epochs=self.epochs.value(),
            max_steps=self.steps.value() if self.by_steps.isChecked() else None,
            lr=self.lr.value(), batch_size=self.batch.value(), seq_len=self.seq_len.value(),
            early_stopping=self.early_stopping.value(), device=self.device.currentText())

    def problems(self) -> list[str]:
        """Everything that stops the job now: the settings', then the data check's."""
        found = settings_problems(self.current_form())
        return found + (self._checked.problems if self._checked else [])

    @property
    def ready(self) -> bool:
        """The data were read with the current settings, and nothing stops the job."""
        return self._checked is not None and not self.problems()

    def shutdown(self) -> None:
        """Stop checking (the dialog closes): no check runs on afterwards."""
        self._timer.stop()
        self._checker.wait()

    # ----- reacting to edits -----

    def _on_task(self, *_args) -> None:
        task = self.task.currentText()
        if self.seq_len.value() == SEQ_LEN_DEFAULTS.get(self._task, 128):  # not the user's own
            self.seq_len.setValue(SEQ_LEN_DEFAULTS.get(task, 128))
        self._task = task
        texts = task in ("classify", "regress")
        glue = texts and self.glue.currentText() != NO_GLUE
        self.glue_label.setVisible(texts)
        self.glue.setVisible(texts)
        self.model_form.setRowVisible(self.glue_row, glue)
        self.data_form.setRowVisible(self.train_row, not glue)
        self.data_form.setRowVisible(self.eval_row, not glue)
        self.data_form.setRowVisible(self.columns_row, texts and not glue)
        self.data_form.setRowVisible(self.options_row, texts and not glue)
        self.multi_label.setVisible(task == "classify")
        self.data_form.setRowVisible(self.tag_row, task == "tag")
        self.data_form.setRowVisible(self.qa_row, task == "qa")
        self.train.setPlaceholderText({"classify": "CSV, TSV or JSONL", "regress": "CSV, TSV or "
                                       "JSONL", "tag": "CoNLL: a word and its tag per line",
                                       "qa": "SQuAD v1.1 or v2.0 JSON"}[task])
        self._changed()

    def _on_glue(self, name: str) -> None:
        if name != NO_GLUE:
            self.task.setCurrentText(glue_task_problem(name))
        self._on_task()

    def _fill_columns(self, *_args) -> None:
        """Offer the training file's columns, keeping the chosen ones where they still exist."""
        path = self.train.text().strip()
        columns = file_columns(path, self.header.isChecked())
        self.header.setEnabled(not path.lower().endswith((".jsonl", ".ndjson")))  # keys: no header
        for role, combo in (("text_a", self.text_a), ("text_b", self.text_b),
                            ("label", self.label)):
            current = combo.currentText()
            items = [NO_COLUMN, *columns] if role == "text_b" else columns
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(items)
            combo.setCurrentText(current if current in items else _guess(role, columns))
            combo.blockSignals(False)
        self._changed()

    def _changed(self, *_args) -> None:
        form = self.current_form()
        if form.data_fields() != self._requested:
            self._requested, self._checked = form.data_fields(), None
            self._number += 1  # a result on its way is stale now
            if names_data(form):
                self.preview.show_checking()
                self._timer.start()
            else:  # nothing to read (the settings' problems say what is missing): no thread
                self._checked = Check()
                self.preview.show_check(None)
        self.preview.show_problems(self.problems())
        self.sig_changed.emit()

    def _request_check(self) -> None:
        self._checker.request(self._number, self.current_form())

    def _on_checked(self, number: int, result: Check) -> None:
        if number != self._number:
            return  # the form changed since: a newer check follows
        self._checked = result
        self.preview.show_check(result)
        self.preview.show_problems(self.problems())
        self.sig_changed.emit()

    def _choose_into(self, edit: QLineEdit, folder: bool) -> None:
        if folder:
            path = QFileDialog.getExistingDirectory(self, "Choose a folder", edit.text())
        else:
            path = QFileDialog.getOpenFileName(self, "Choose a file", edit.text(),
                                               FILE_FILTERS[self.task.currentText()])[0]
        if path:
            edit.setText(path)


def _guess(role: str, columns: list[str]) -> str:
    """A likely column for the role: a usual name, else text A first and the label last."""
    if not columns:
        return NO_COLUMN if role == "text_b" else ""
    found = next((name for name in GUESSES[role] if name in columns), None)
    if found is not None:
        return found
    return {"text_a": columns[0], "text_b": NO_COLUMN, "label": columns[-1]}[role]
