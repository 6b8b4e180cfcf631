"""Fine-tuning in the New job dialog and the training monitor: the data preview and its checks,
the command line for each task, a run folder's task metrics, and one real fine-tune job."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conftest import TINY
from engine.cli import build_parser
from engine.runlog import MetricsWriter, RunFolder
from explorer.finetune_form import FinetuneForm
from explorer.jobs import JobManager
from explorer.monitor_window import MonitorWindow
from explorer.new_job_dialog import NewJobDialog
from explorer.widgets.job_table import COLUMNS

pytestmark = pytest.mark.usefixtures("qapp")
CHECK_TIMEOUT_MS = 10_000
JOB_TIMEOUT_MS = 120_000  # generous: the job imports torch in its own process


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, vocab_file) -> Path:
    """A tiny random BERT with the bert-base-uncased vocabulary, saved by the engine."""
    import torch

    from engine.checkpoint import save_checkpoint
    from engine.config import BertConfig
    from engine.model import BertForPreTraining
    from engine.tokenizer import WordPieceTokenizer

    torch.manual_seed(0)
    model = BertForPreTraining(BertConfig(vocab_size=30522, **TINY))
    return save_checkpoint(model, tmp_path_factory.mktemp("model") / "tiny",
                           WordPieceTokenizer.from_file(vocab_file))


PAIRS = [("a good film", "I liked it", "pos"), ("a bad film", "I left early", "neg"),
         ("great fun", "we laughed", "pos"), ("dull and long", "I slept", "neg"),
         ("a fine cast", "well acted", "pos"), ("a weak plot", "it made no sense", "neg")]


def write_pairs(path: Path) -> Path:
    lines = ["premise,hypothesis,label"] + [f'"{a}","{b}",{label}' for a, b, label in PAIRS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def open_dialog(qtbot, tmp_path: Path, model: Path | None = None) -> NewJobDialog:
    runs = tmp_path / "runs"
    dialog = NewJobDialog(runs, JobManager(runs).new_run_dir)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.finetune_choice.setChecked(True)
    if model is not None:
        dialog.finetune.model.setText(str(model))
        dialog.finetune.seq_len.setValue(32)  # the tiny model has 64 positions
    return dialog


def wait_checked(qtbot, dialog: NewJobDialog) -> None:
    qtbot.waitUntil(lambda: dialog.finetune._checked is not None, timeout=CHECK_TIMEOUT_MS)


def table_rows(dialog: NewJobDialog) -> list[list[str]]:
    table = dialog.finetune.preview.table
    return [[table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())]


def test_the_preview_shows_the_first_parsed_rows_and_the_labels(qtbot, tmp_path, tiny_model):
    dialog = open_dialog(qtbot, tmp_path, tiny_model)
    panel = dialog.finetune
    panel.train.setText(str(write_pairs(tmp_path / "pairs.csv")))
    # The columns come from the header; usual names are guessed (text B stays optional).
    assert [panel.text_a.itemText(i) for i in range(panel.text_a.count())] == [
        "premise", "hypothesis", "label"]
    assert panel.text_a.currentText() == "premise" and panel.label.currentText() == "label"
    assert panel.text_b.currentText() == "hypothesis"
    wait_checked(qtbot, dialog)
    header = panel.preview.table.horizontalHeaderItem
    assert [header(c).text() for c in range(3)] == ["text A", "text B", "label"]
    assert table_rows(dialog) == [list(p) for p in PAIRS[:5]]  # the first five
    assert "Labels (2)" in panel.preview.labels.text() and "neg, pos" in panel.preview.labels.text()
    assert "6 training examples" in panel.preview.summary.text()
    assert dialog.start_button.isEnabled()

    panel.text_b.setCurrentText("(none)")  # a single text: two columns
    wait_checked(qtbot, dialog)
    assert table_rows(dialog)[0] == ["a good film", "pos"]
    assert "--text-b" not in dialog.command_args()
    dialog.reject()


def test_a_row_missing_a_column_names_the_file_and_line_and_start_is_disabled(qtbot, tmp_path,
                                                                              tiny_model):
    bad = tmp_path / "short.csv"
    bad.write_text("text,label\ngood,pos\nno label on this row\nbad,neg\n", encoding="utf-8")
    dialog = open_dialog(qtbot, tmp_path, tiny_model)
    dialog.finetune.train.setText(str(bad))
    wait_checked(qtbot, dialog)
    problems = dialog.finetune.preview.problems
    assert problems.isVisibleTo(dialog) and f"{bad}:3:" in problems.text()
    assert "too few for column 'label'" in problems.text()
    assert not dialog.start_button.isEnabled()
    dialog._try_start()
    assert dialog.result() != NewJobDialog.Accepted and dialog.form is None

    # A good training file, and an evaluation file with a key missing on its second line.
    dialog.finetune.train.setText(str(write_pairs(tmp_path / "pairs.csv")))
    wait_checked(qtbot, dialog)
    assert dialog.start_button.isEnabled() and not problems.isVisibleTo(dialog)
    jsonl = tmp_path / "eval.jsonl"
    jsonl.write_text('{"premise": "fine", "hypothesis": "ok", "label": "pos"}\n'
                     '{"premise": "no", "hypothesis": "label"}\n', encoding="utf-8")
    dialog.finetune.eval.setText(str(jsonl))
    wait_checked(qtbot, dialog)
    assert f"{jsonl}:2: no key 'label'" in problems.text()
    assert not dialog.start_button.isEnabled()

    dialog.finetune.model.setText(str(tmp_path / "nowhere"))  # settings are checked too
    assert "not a model folder" in problems.text()
    dialog.reject()


def parse(args: list[str]):
    return build_parser().parse_args(args)


@pytest.mark.parametrize("form, expected", [
    (FinetuneForm(task="classify", model="m", train="t.csv", eval="e.csv", text_a="0",
                  text_b="1", label="2", has_header=False, multi_label=True, max_steps=7),
     dict(text_a="0", text_b="1", label="2", no_header=True, multi_label=True, max_steps=7)),
    (FinetuneForm(task="regress", model="m", train="t.jsonl", text_a="s", label="score",
                  has_header=False, epochs=2.5, early_stopping=3),
     dict(text_a="s", label="score", no_header=False, epochs=2.5, early_stopping=3,
          max_steps=None)),
    (FinetuneForm(task="classify", model="m", glue_task="mrpc", glue_dir="glue/MRPC"),
     dict(glue_task="mrpc", train=None, eval=None)),
    (FinetuneForm(task="tag", model="m", train="t.conll", word_column=1, tag_column=3,
                  tag_scheme="IOB1", seq_len=64),
     dict(word_column=1, tag_column=3, tag_scheme="IOB1", seq_len=64)),
    (FinetuneForm(task="qa", model="m", train="t.json", eval="d.json", doc_stride=64,
                  max_answer_length=20, seq_len=256, lr=3e-5, batch_size=12, device="cpu"),
     dict(doc_stride=64, max_answer_length=20, seq_len=256, lr=3e-5, batch_size=12,
          device="cpu")),
], ids=["classify", "regress", "glue", "tag", "qa"])
def test_each_task_builds_a_command_line_bert_engine_finetune_accepts(form, expected, tmp_path):
    args = parse([form.COMMAND, "--run-dir", str(tmp_path / "run"), *form.args()])
    assert (args.command, args.task) == ("finetune", form.task)
    assert args.run_dir == str(tmp_path / "run")
    assert args.model == str(Path("m").absolute())
    if form.glue_task:
        assert args.glue_dir == str(Path(form.glue_dir).absolute())
    else:
        assert args.train == str(Path(form.train).absolute())
        assert args.eval == (str(Path(form.eval).absolute()) if form.eval else None)
    for name, value in expected.items():
        assert getattr(args, name) == value, name


def test_the_dialog_command_line_is_the_accepted_job(qtbot, tmp_path, tiny_model):
    dialog = open_dialog(qtbot, tmp_path, tiny_model)
    dialog.name.setText("pairs")
    dialog.finetune.train.setText(str(write_pairs(tmp_path / "pairs.csv")))
    dialog.finetune.by_steps.setChecked(True)
    dialog.finetune.steps.setValue(5)
    wait_checked(qtbot, dialog)
    args = parse(dialog.command_args())
    assert (args.task, args.text_a, args.text_b, args.max_steps) == ("classify", "premise",
                                                                     "hypothesis", 5)
    assert args.run_dir == str(tmp_path / "runs" / "pairs")
    assert dialog.command.toPlainText() == dialog.command_text()
    assert dialog.command_text().startswith("bert-engine finetune --run-dir ")
    dialog._try_start()
    assert dialog.result() == NewJobDialog.Accepted
    assert dialog.form.args() == dialog.command_args()[3:] and dialog.form.COMMAND == "finetune"


def fake_finetune_run(root: Path) -> RunFolder:
    run = RunFolder.create(root / "sst-tiny", {
        "kind": "finetune", "main_metric": "accuracy",
        "task": {"task": "classify"}, "train": {"max_steps": 30}})
    with MetricsWriter(run.metrics_path) as metrics:
        for step in range(5, 31, 5):
            metrics.write({"step": step, "time": step, "split": "train", "cls_loss": 1.0 / step,
                           "cls_acc": 0.5 + step / 100, "loss": 1.0 / step, "lr": 1e-4,
                           "grad_norm": 1.0, "seq_per_s": 50.0})
        for step, accuracy, f1 in ((10, 0.6, 0.55), (20, 0.8, 0.75), (30, 0.7, 0.72)):
            metrics.write({"step": step, "time": step, "split": "heldout", "accuracy": accuracy,
                           "f1": f1, "mcc": 0.1, "eval_loss": 0.5, "examples": 40})
    run.write_status(state="finished", step=30, max_steps=30, heartbeat=time.time(),
                     best={"metric": "accuracy", "value": 0.8, "step": 20, "bad_evaluations": 1})
    return run


def test_a_finetune_run_shows_its_task_metrics_and_best_value(qtbot, tmp_path, settings):
    pretraining = RunFolder.create(tmp_path / "runs" / "a-pretrain", {"kind": "pretrain"})
    with MetricsWriter(pretraining.metrics_path) as metrics:
        metrics.write({"step": 1, "time": 1, "split": "train", "mlm_loss": 5.0})
    run = fake_finetune_run(tmp_path / "runs")
    monitor = MonitorWindow(JobManager(tmp_path / "runs"), settings)
    qtbot.addWidget(monitor)
    monitor.show()
    monitor.table.select_path(str(run.path))
    monitor.poll()
    plots = monitor.plots
    title, steps, values = plots.curve_points("sst-tiny", "heldout", "accuracy")
    assert title == plots.current_layout.panels[0].title and "accuracy" in title
    assert (steps, values) == ([10, 20, 30], [0.6, 0.8, 0.7])  # raw: one point per evaluation
    assert plots.curve_points("sst-tiny", "heldout", "f1")[0] == "Other held-out metrics"
    assert plots.curve_points("sst-tiny", "train", "cls_loss")[0] == "Loss"
    assert plots.curve_points("sst-tiny", "heldout", "eval_loss")[0] == "Loss"
    assert ("sst-tiny", "heldout", "examples") not in plots.point_counts()
    assert "best 0.8000 at step 20" in plots.main_plot.titleLabel.text
    assert [tuple(p.pos()) for p in plots.best_marks.points()] == [(20.0, 0.8)]
    assert not monitor.entropy.isVisibleTo(monitor)  # fine-tuning writes no attention probes

    best = monitor.table.item(monitor.table._paths.index(str(run.path)), COLUMNS.index("Best"))
    assert not monitor.table.isColumnHidden(COLUMNS.index("Best"))
    assert best.text() == "0.8000 @ 20" and "accuracy" in best.toolTip()
    assert "best so far: <b>accuracy 0.8000 @ 20</b>" in monitor.summary.text()
    kind = monitor.table.item(monitor.table._paths.index(str(run.path)), COLUMNS.index("Kind"))
    assert kind.text() == "classify"

    monitor.table.select_path(str(pretraining.path))  # a pretraining run: its layout as before
    monitor.poll()
    assert list(plots.plots) == ["Loss", "Accuracy", "Learning rate", "Grad norm",
                                 "Throughput (sequences/s)"]
    assert plots.main_plot is None and monitor.entropy.isVisibleTo(monitor)
    assert plots.point_counts() == {("a-pretrain", "train", "mlm_loss"): 1}
    monitor.close()


@pytest.mark.slow
def test_a_real_finetune_job_started_from_the_dialog_finishes_with_eval_metrics(
        qtbot, tmp_path, settings, tiny_model):
    data = write_pairs(tmp_path / "pairs.csv")
    monitor = MonitorWindow(JobManager(tmp_path / "runs"), settings)
    qtbot.addWidget(monitor)
    monitor.show()
    dialog = open_dialog(qtbot, tmp_path, tiny_model)
    dialog.name.setText("tiny finetune")
    panel = dialog.finetune
    panel.train.setText(str(data))
    panel.eval.setText(str(data))
    panel.by_steps.setChecked(True)
    panel.steps.setValue(2)
    panel.batch.setValue(4)
    panel.device.setCurrentText("cpu")
    qtbot.waitUntil(dialog.start_button.isEnabled, timeout=CHECK_TIMEOUT_MS)
    dialog._try_start()
    assert dialog.result() == NewJobDialog.Accepted
    monitor.start_job(dialog.run_dir, dialog.form.args(), dialog.form.COMMAND)
    run_dir = str(dialog.run_dir)
    assert monitor.table.selected_paths() == [run_dir]

    qtbot.waitUntil(lambda: monitor.table.state_of(run_dir) == "finished", timeout=JOB_TIMEOUT_MS)
    monitor.poll()
    counts = monitor.plots.point_counts()
    assert counts[("tiny-finetune", "heldout", "accuracy")] >= 1
    assert counts[("tiny-finetune", "train", "cls_loss")] >= 1
    assert "accuracy" in monitor.plots.main_plot.titleLabel.text
    config = json.loads((Path(run_dir) / "config.json").read_text())
    assert config["kind"] == "finetune" and config["task"]["text_b"] == "hypothesis"
    assert "best so far: <b>accuracy" in monitor.summary.text()
    assert (Path(run_dir) / "best" / "best.json").is_file()

    # Resume runs the fine-tuning command again (here with nothing left to do).
    run = RunFolder(run_dir)
    qtbot.waitUntil(lambda: monitor.manager.view(run).process_alive is False,
                    timeout=JOB_TIMEOUT_MS)
    monitor.manager.resume(run)
    assert "$ bert-engine finetune --resume" in (Path(run_dir) / "process.log").read_text()
    qtbot.waitUntil(lambda: monitor.manager.view(run).process_alive is False,
                    timeout=JOB_TIMEOUT_MS)
    monitor.poll()
    assert monitor.table.state_of(run_dir) == "finished"
    monitor.close()
