"""Job specs (engine/specs.py): one place for every job option. The CLI parsers come from
them, the GUI forms' command lines are their ``to_args()``, a run's config.json reads back
into them, and they refuse bad values by flag, however they are made."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import build_parser, main
from engine.options import SpecError
from engine.specs import (FinetuneJob, FinetuneSpec, FinetuneTraining, PretrainJob,
                          PretrainSpec, TrainConfig)

ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_specs_and_the_job_forms_loads_no_torch():
    code = ("import sys, engine.specs, engine.options, explorer.job_form, "
            "explorer.finetune_form; assert 'torch' not in sys.modules, 'torch was imported'")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def parsed(command: str, args: list[str]):
    return build_parser().parse_args([command, "--run-dir", "run", *args])


JOBS = {
    "pretrain-corpus": PretrainJob(
        task=PretrainSpec(data=None, preset="tiny", dropout=0.0, max_seq_length=64,
                          whole_word=True, near_negatives=0.25, nsp_loss_weight=0.5, seed=3),
        corpus=["a.txt", "texts"], vocab_size=2000, heldout_fraction=0.1,
        train=TrainConfig(max_steps=40, lr=3e-4, warmup_steps=4, schedule="cosine",
                          precision="fp32", eval_every=10, keep_checkpoints=1, seed=3),
        device="cpu"),
    "pretrain-data": PretrainJob(
        task=PretrainSpec(data="prepared", init_model="base", batch_size=8, eval_batches=2),
        train=TrainConfig(max_steps=5, grad_accum=4, weight_decay=0.0)),
    "finetune-pairs": FinetuneJob(
        task=FinetuneSpec(task="classify", model="m", train="t.csv", eval="e.csv",
                          test="x.csv", text_a="0", text_b="1", label="2", has_header=False,
                          multi_label=True, label_separator="-", dropout=0.2,
                          metric_for_best="macro_f1"),
        training=FinetuneTraining(max_steps=9, lr=2e-5, warmup_ratio=0.0, early_stopping=2,
                                  eval_every=3, checkpoint_every=3)),
    "finetune-glue": FinetuneJob(
        task=FinetuneSpec(task="regress", model="m", glue_task="stsb", train="glue/STS-B"),
        training=FinetuneTraining(epochs=1.5)),
    "finetune-tag": FinetuneJob(
        task=FinetuneSpec(task="tag", model="m", train="t.conll", word_column=1, tag_column=3,
                          tag_scheme="IOB1", max_seq_length=64, seed=5),
        training=FinetuneTraining(schedule="constant", seed=5), device="cuda"),
    "finetune-qa": FinetuneJob(
        task=FinetuneSpec(task="qa", model="m", train="s.json", max_seq_length=256,
                          doc_stride=96, n_best=5, null_threshold=-1.5),
        training=FinetuneTraining(grad_accum=2, log_every=1)),
}


@pytest.mark.parametrize("name", JOBS)
def test_a_jobs_command_line_parses_back_into_the_same_job(name):
    job = JOBS[name]
    command = name.split("-")[0]
    assert type(job).from_args(parsed(command, job.to_args())) == job


def test_a_command_line_lists_only_what_differs_from_the_defaults():
    job = PretrainJob(task=PretrainSpec(data="prepared"), train=TrainConfig(max_steps=5))
    assert job.to_args() == ["--data", str(Path("prepared").resolve()), "--max-steps", "5"]
    job = FinetuneJob(task=FinetuneSpec(task="classify", model="m", train="t.csv"),
                      training=FinetuneTraining())
    assert job.to_args() == ["--task", "classify", "--model", str(Path("m").resolve()),
                             "--train", str(Path("t.csv").resolve())]


def test_the_glue_folder_is_given_as_glue_dir():
    args = JOBS["finetune-glue"].to_args()
    assert "--train" not in args
    assert args[args.index("--glue-dir") + 1] == str(Path("glue/STS-B").resolve())
    parsed_args = parsed("finetune", args)
    assert parsed_args.train is None and parsed_args.glue_task == "stsb"


@pytest.mark.parametrize("spec", [
    JOBS["pretrain-corpus"].task, JOBS["pretrain-data"].train, JOBS["finetune-qa"].task,
    dataclasses.replace(JOBS["finetune-pairs"].task, labels=["a", "b", "c"])],
    ids=["pretrain", "train", "finetune-qa", "finetune-labels"])
def test_a_saved_config_reads_back_into_the_same_spec(spec):
    saved = json.loads(json.dumps(dataclasses.asdict(spec)))  # as config.json holds it
    assert type(spec).from_config(saved) == spec


def test_settings_an_older_run_did_not_write_take_their_defaults():
    saved = dataclasses.asdict(PretrainSpec(data="prepared", near_negatives=0.5))
    del saved["near_negatives"], saved["nsp_loss_weight"]  # runs before these options
    spec = PretrainSpec.from_config(saved)
    assert (spec.near_negatives, spec.nsp_loss_weight) == (0.0, 1.0)
    saved = dataclasses.asdict(TrainConfig(max_steps=8))
    del saved["early_stopping_patience"]
    assert TrainConfig.from_config(saved) == TrainConfig(max_steps=8)


def test_a_saved_config_with_an_unknown_setting_or_value_is_refused_clearly():
    saved = dataclasses.asdict(TrainConfig(max_steps=8))
    with pytest.raises(SpecError, match="unknown saved setting.*warp_speed"):
        TrainConfig.from_config({**saved, "warp_speed": 9})
    with pytest.raises(SpecError, match="--precision must be one of auto, fp32, bf16, got 'fp8'"):
        TrainConfig.from_config({**saved, "precision": "fp8"})
    with pytest.raises(SpecError, match="--batch-size must be a whole number, got '32'"):
        PretrainSpec.from_config({"data": "prepared", "batch_size": "32"})
    with pytest.raises(SpecError, match="lack data"):
        PretrainSpec.from_config({"preset": "tiny"})


@pytest.mark.parametrize("make, flag", [
    (lambda: PretrainSpec(data="d", near_negatives=1.5), "--nsp-near-negatives must be in [0, 1]"),
    (lambda: PretrainSpec(data="d", nsp_loss_weight=float("inf")), "--nsp-loss-weight"),
    (lambda: PretrainSpec(data="d", preset="huge"), "--preset"),
    (lambda: PretrainSpec(data="d", max_seq_length=4), "--seq-len must be at least 8"),
    (lambda: TrainConfig(max_steps=0), "--max-steps must be at least 1"),
    (lambda: TrainConfig(max_steps=1, lr=0.0), "--lr must be positive"),
    (lambda: FinetuneSpec(task="classify", model="m", train="t", label_separator=""),
     "--label-separator"),
    (lambda: FinetuneSpec(task="tag", model="m", train="t", multi_label=True), "--multi-label"),
    (lambda: FinetuneSpec(task="summarize", model="m", train="t"), "--task must be one of"),
    (lambda: FinetuneTraining(warmup_ratio=1.0), "--warmup-ratio must be in [0, 1)"),
    (lambda: PretrainJob(task=PretrainSpec(data="d"), corpus=["c"],
                         train=TrainConfig(max_steps=1)), "either --data"),
], ids=["near-negatives", "nsp-weight", "preset", "seq-len", "max-steps", "lr", "separator",
        "multi-label", "task", "warmup", "data-and-corpus"])
def test_a_bad_value_is_refused_by_the_spec_naming_its_flag(make, flag):
    with pytest.raises(SpecError) as refused:
        make()
    assert flag in str(refused.value)


def test_the_cli_refuses_a_bad_value_before_any_run_folder_exists(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["finetune", "--run-dir", str(run), "--task", "qa", "--model", "m", "--train",
                 "s.json", "--seq-len", "64", "--doc-stride", "40"]) == 2
    assert "--doc-stride 40 must be smaller than the context window" in capsys.readouterr().err
    assert main(["pretrain", "--run-dir", str(run), "--data", "d", "--max-steps", "2",
                 "--warmup-steps", "-1"]) == 2
    assert "--warmup-steps must be at least 0, got -1" in capsys.readouterr().err
    assert not run.exists()


# ----- the GUI forms: their command line is the spec's -----

@pytest.fixture
def dialog(qapp, qtbot, tmp_path):
    from explorer.jobs import JobManager
    from explorer.new_job_dialog import NewJobDialog

    runs = tmp_path / "runs"
    dialog = NewJobDialog(runs, JobManager(runs).new_run_dir)
    qtbot.addWidget(dialog)
    dialog.show()
    yield dialog
    dialog.reject()


def assert_dialog_runs(dialog, command: str, job) -> None:
    assert dialog.command_args() == [command, "--run-dir", str(dialog.planned_run_dir()),
                                     *job.to_args()]
    assert dialog.command.toPlainText() == dialog.command_text()


def test_the_pretrain_form_runs_its_specs_command_line(dialog, tmp_path):
    corpus = [tmp_path / "a.txt", tmp_path / "texts"]
    dialog.corpus.setText(";".join(map(str, corpus)))
    dialog.vocab_size.setValue(2000)
    dialog.size.setCurrentText("tiny")
    dialog.seq_len.setValue(64)
    dialog.batch.setValue(8)
    dialog.steps.setValue(50)
    dialog.lr.setValue(3e-4)
    dialog.warmup.setValue(5)
    dialog.device.setCurrentText("cpu")
    dialog.checkpoint_every.setValue(25)
    assert_dialog_runs(dialog, "pretrain", PretrainJob(
        task=PretrainSpec(data=None, preset="tiny", max_seq_length=64, batch_size=8),
        corpus=list(map(str, corpus)), vocab_size=2000,
        train=TrainConfig(max_steps=50, lr=3e-4, warmup_steps=5, checkpoint_every=25),
        device="cpu"))

    dialog.size.setCurrentText("custom")  # its own sizes, and a tokenizer it reuses
    dialog.hidden.setValue(128)
    dialog.heads.setValue(2)
    dialog.reuse_tokenizer.setChecked(True)
    dialog.tokenizer.setText(str(tmp_path / "vocab.txt"))
    assert_dialog_runs(dialog, "pretrain", PretrainJob(
        task=PretrainSpec(data=None, layers=4, hidden=128, heads=2, intermediate=1024,
                          max_seq_length=64, batch_size=8),
        corpus=list(map(str, corpus)), tokenizer=str(tmp_path / "vocab.txt"),
        train=TrainConfig(max_steps=50, lr=3e-4, warmup_steps=5, checkpoint_every=25),
        device="cpu"))


def test_a_form_the_spec_refuses_shows_why_instead_of_a_command(dialog):
    assert dialog.corpus.text() == ""  # a new dialog names no corpus yet
    assert "no command yet" in dialog.command.toPlainText()
    assert "--corpus" in dialog.command.toPlainText() and not dialog.copy.isEnabled()
    dialog.corpus.setText("a.txt")
    assert dialog.command.toPlainText().startswith("bert-engine pretrain --run-dir ")
    assert dialog.copy.isEnabled()


def finetune_panel(dialog, model: Path):
    dialog.finetune_choice.setChecked(True)
    panel = dialog.finetune
    panel.model.setText(str(model))
    return panel


def test_the_finetune_form_runs_its_specs_command_line_for_each_task(dialog, tmp_path):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("premise,hypothesis,label\na good film,I liked it,pos\n", encoding="utf-8")
    panel = finetune_panel(dialog, tmp_path / "model")
    panel.train.setText(str(pairs))
    panel.by_steps.setChecked(True)
    panel.steps.setValue(5)
    panel.seq_len.setValue(32)
    panel.lr.setValue(2e-5)
    assert_dialog_runs(dialog, "finetune", FinetuneJob(
        task=FinetuneSpec(task="classify", model=str(tmp_path / "model"), train=str(pairs),
                          text_a="premise", text_b="hypothesis", label="label",
                          max_seq_length=32),
        training=FinetuneTraining(max_steps=5, lr=2e-5)))

    panel.task.setCurrentText("tag")
    panel.train.setText(str(tmp_path / "train.conll"))
    panel.word_column.setValue(1)
    panel.tag_column.setValue(3)
    panel.tag_scheme.setCurrentText("IOB1")
    panel.by_epochs.setChecked(True)
    panel.epochs.setValue(2.0)
    panel.early_stopping.setValue(2)
    panel.device.setCurrentText("cpu")
    assert_dialog_runs(dialog, "finetune", FinetuneJob(
        task=FinetuneSpec(task="tag", model=str(tmp_path / "model"),
                          train=str(tmp_path / "train.conll"), word_column=1, tag_column=3,
                          tag_scheme="IOB1", max_seq_length=32),
        training=FinetuneTraining(epochs=2.0, lr=2e-5, early_stopping=2), device="cpu"))

    panel.task.setCurrentText("qa")
    panel.train.setText(str(tmp_path / "squad.json"))
    panel.seq_len.setValue(384)
    panel.doc_stride.setValue(100)
    panel.max_answer.setValue(20)
    assert_dialog_runs(dialog, "finetune", FinetuneJob(
        task=FinetuneSpec(task="qa", model=str(tmp_path / "model"),
                          train=str(tmp_path / "squad.json"), max_seq_length=384,
                          doc_stride=100, max_answer_length=20),
        training=FinetuneTraining(epochs=2.0, lr=2e-5, early_stopping=2), device="cpu"))


def test_the_gui_and_the_cli_accept_the_same_qa_windows(dialog, tmp_path):
    """At 128 tokens a question keeps 62 (half the sequence, less its marks), so the context
    window is 63 and the stride must be below it, in the form as on the command line (the
    form used to assume a 64-token question whatever the length, and refused 62)."""
    from explorer.finetune_form import settings_problems

    panel = finetune_panel(dialog, tmp_path / "model")
    panel.task.setCurrentText("qa")
    panel.train.setText(str(tmp_path / "squad.json"))
    panel.seq_len.setValue(128)
    for stride, accepted in ((62, True), (63, False)):
        panel.doc_stride.setValue(stride)
        gui = [p for p in settings_problems(panel.current_form()) if "--doc-stride" in p]
        cli = ["finetune", "--run-dir", "run", "--task", "qa", "--model", "m", "--train", "s",
               "--seq-len", "128", "--doc-stride", str(stride)]
        if accepted:
            assert gui == [] and FinetuneJob.from_args(build_parser().parse_args(cli))
        else:
            with pytest.raises(SpecError) as refused:
                FinetuneJob.from_args(build_parser().parse_args(cli))
            assert gui == refused.value.problems
            assert "window, --seq-len - --max-query-length - 3 = 63" in gui[0]
