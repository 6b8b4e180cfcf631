"""Fine-tuning end to end: each task learns a small learnable data set, the best checkpoint is
kept and loads into the matching ``transformers`` class with identical logits; exact resume;
early stopping; GLUE by name; bad input stops before anything is written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import finetune_synthetic as synth
from engine.checkpoint import load_checkpoint
from engine.cli import main
from engine.infer import Predictor
from engine.runlog import MetricsReader, RunFolder

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "resources" / "models" / "default"


def finetune(*args: str) -> int:
    return main(["finetune", "--device", "cpu", "--log-every", "1", *args])


def records(run_dir: Path, split: str) -> list[dict]:
    return [r for r in MetricsReader(run_dir / "metrics.jsonl").read_new()
            if r.get("split") == split]


def best_info(run_dir: Path) -> dict:
    return json.loads((run_dir / "best" / "best.json").read_text())


def assert_transformers_logits_equal(folder: Path, hf_class: str, text_a: str,
                                     text_b: str | None) -> None:
    """Our loaded checkpoint and ``transformers``' give the same logits (1e-5)."""
    import transformers

    ours = load_checkpoint(folder)
    theirs = getattr(transformers, hf_class).from_pretrained(folder).eval()
    enc = ours.tokenizer.encode(text_a, text_b)
    ids, types = torch.tensor([enc.ids]), torch.tensor([enc.token_type_ids])
    with torch.no_grad():
        a = ours.model(ids, token_type_ids=types).logits
        out = theirs(input_ids=ids, token_type_ids=types)
    b = (torch.stack([out.start_logits, out.end_logits], -1)
         if hf_class == "BertForQuestionAnswering" else out.logits)
    assert ours.architecture == hf_class
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


# ----- each task learns (the bundled model, a few dozen steps) -----

@pytest.fixture(scope="module")
def pair_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pair")
    train = synth.write_jsonl(root / "train.jsonl", synth.pair_rows(96, seed=1))
    dev = synth.write_jsonl(root / "dev.jsonl", synth.pair_rows(40, seed=2))
    assert finetune("--task", "classify", "--model", str(DEFAULT_MODEL), "--train", str(train),
                    "--eval", str(dev), "--test", str(dev), "--text-b", "text_b",
                    "--run-dir", str(root / "run"), "--max-steps", "12", "--eval-every", "6",
                    "--checkpoint-every", "100", "--batch-size", "16", "--lr", "1e-4", "--seq-len", "32") == 0
    return root / "run"


@pytest.mark.slow
def test_pair_classification_learns_and_keeps_the_best_checkpoint(pair_run):
    evaluations = records(pair_run, "heldout")
    best = best_info(pair_run)
    assert best["metric"] == "accuracy"
    assert best["value"] == max(r["accuracy"] for r in evaluations) >= 0.95
    assert best["step"] == next(r["step"] for r in evaluations if r["accuracy"] == best["value"])
    assert {"accuracy", "f1", "mcc", "eval_loss"} <= set(evaluations[-1])
    status = RunFolder(pair_run).read_status()
    assert status["state"] == "finished" and status["best"]["value"] == best["value"]
    # --test is scored once at the end with the best weights.
    (test,) = records(pair_run, "test")
    assert test["checkpoint"] == "best" and test["accuracy"] >= 0.95


@pytest.mark.slow
def test_a_fine_tuned_classifier_loads_into_transformers_and_the_predictor(pair_run):
    best = pair_run / "best"
    config = json.loads((best / "config.json").read_text())
    assert config["id2label"] == {"0": "different", "1": "same"}
    assert config["problem_type"] == "single_label_classification"
    assert_transformers_logits_equal(best, "BertForSequenceClassification",
                                     "red cat tree milk", "milk tree red cat")
    predictor = Predictor.load(best, device="cpu")
    assert predictor.name == "run/best"  # the run's name, not the folder's "best"
    same = predictor.analyze("red cat tree milk", "milk tree red cat").task
    different = predictor.analyze("red cat tree milk", "dog house bird door").task
    assert same.kind == "classify" and same.labels == ["different", "same"]
    assert same.probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert same.probs[1] > 0.5 > different.probs[1]


@pytest.mark.slow
def test_predict_command_prints_the_classes_of_a_fine_tuned_model(pair_run, capsys):
    assert main(["predict", "--model", str(pair_run / "best"), "--json", "red cat tree milk",
                 "milk tree red cat"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "classify" and out["classes"][0]["label"] == "same"
    assert sum(c["prob"] for c in out["classes"]) == pytest.approx(1.0, abs=1e-5)
    assert main(["predict", "--model", str(DEFAULT_MODEL), "red cat"]) == 2
    assert "not fine-tuned for a task" in capsys.readouterr().err


def learn_from_the_bundled_model(task: str, train: Path, dev: Path, run: Path,
                                 seq_len: int, steps: int = 18) -> Path:
    """``steps`` steps of 16 at lr 2e-4, evaluated every 6, one checkpoint at the end."""
    assert finetune("--task", task, "--model", str(DEFAULT_MODEL), "--train", str(train),
                    "--eval", str(dev), "--run-dir", str(run), "--max-steps", str(steps),
                    "--eval-every", "6", "--checkpoint-every", "100", "--batch-size", "16",
                    "--lr", "2e-4", "--seq-len", str(seq_len)) == 0
    return run


@pytest.mark.slow
def test_tagging_learns_entities_and_loads_into_transformers(tmp_path):
    train = synth.write_conll(tmp_path / "train.conll", synth.tagged_sentences(96, seed=1))
    dev = synth.write_conll(tmp_path / "dev.conll", synth.tagged_sentences(40, seed=2))
    run = learn_from_the_bundled_model("tag", train, dev, tmp_path / "run", seq_len=32)
    best = best_info(run)
    assert best["metric"] == "entity_f1" and best["value"] >= 0.95
    config = json.loads((run / "best" / "config.json").read_text())
    assert list(config["id2label"].values()) == ["O", "B-LOC", "B-PER", "I-PER"]
    assert_transformers_logits_equal(run / "best", "BertForTokenClassification",
                                     "alice smith went to paris", None)
    task = Predictor.load(run / "best", device="cpu").analyze("bob jones met carol in rome").task
    assert task.tags == [None, "B-PER", "I-PER", "O", "B-PER", "O", "B-LOC", None]


@pytest.mark.slow
def test_question_answering_learns_spans_and_loads_into_transformers(tmp_path):
    train = synth.write_json(tmp_path / "train.json", synth.squad_data(96, seed=1))
    dev = synth.write_json(tmp_path / "dev.json", synth.squad_data(40, seed=2))
    # Span pointing starts from new heads: 30 steps, 5 epochs of the 96 questions.
    run = learn_from_the_bundled_model("qa", train, dev, tmp_path / "run", seq_len=48, steps=30)
    assert max(r["exact_match"] for r in records(run, "heldout")) >= 0.9
    assert best_info(run)["metric"] == "f1"
    assert_transformers_logits_equal(run / "best", "BertForQuestionAnswering",
                                     "Which animal is named?", "we saw the old horse by river.")
    context = "then we saw a green cow near the house."
    answer = Predictor.load(run / "best", device="cpu").analyze("Which animal is named?",
                                                               context).task.answer
    assert answer.text == "cow" and context[answer.char_start:answer.char_end] == "cow"


# ----- the loop's fine-tuning behaviour (a tiny random model: fast) -----

@pytest.fixture
def tiny_pair_files(tmp_path) -> tuple[Path, Path]:
    return (synth.write_jsonl(tmp_path / "train.jsonl", synth.pair_rows(40, seed=1)),
            synth.write_jsonl(tmp_path / "dev.jsonl", synth.pair_rows(12, seed=2)))


def tiny_job(model: Path, train: Path, dev: Path, *extra: str) -> list[str]:
    return ["--task", "classify", "--model", str(model), "--train", str(train), "--eval",
            str(dev), "--text-b", "text_b", "--batch-size", "8", "--seq-len", "32", *extra]


@pytest.mark.slow
def test_resume_continues_a_fine_tuning_run_bitwise(hf_pretraining_dir, tiny_pair_files,
                                                    tmp_path):
    job = tiny_job(hf_pretraining_dir, *tiny_pair_files, "--max-steps", "8",
                   "--checkpoint-every", "4", "--eval-every", "4", "--lr", "1e-3")
    straight = tmp_path / "straight"
    assert finetune("--run-dir", str(straight), *job) == 0
    # The state a kill after step 4's checkpoint leaves: step-8 and later records gone.
    resumed = tmp_path / "resumed"
    shutil.copytree(straight, resumed)
    shutil.rmtree(resumed / "checkpoints" / "step-8")
    shutil.rmtree(resumed / "best")
    lines = (resumed / "metrics.jsonl").read_text().splitlines()
    (resumed / "metrics.jsonl").write_text(
        "".join(line + "\n" for line in lines if json.loads(line)["step"] <= 4))
    assert finetune("--resume", str(resumed)) == 0
    a = {r["step"]: r for r in records(straight, "train")}
    b = {r["step"]: r for r in records(resumed, "train")}
    for step in range(5, 9):
        assert b[step]["loss"] == a[step]["loss"] and b[step]["grad_norm"] == a[step]["grad_norm"]
    assert records(resumed, "heldout")[-1] == {**records(straight, "heldout")[-1],
                                               "time": records(resumed, "heldout")[-1]["time"]}
    assert RunFolder(resumed).read_config()["task"]["labels"] == ["different", "same"]


@pytest.mark.slow
def test_torchrun_two_ranks_equal_one_process_with_the_global_batch(
        hf_pretraining_dir, tiny_pair_files, tmp_path):
    """gloo on CPU: 2 ranks x batch 4 give the weights of 1 process x batch 8 (dropout off;
    float32, as bf16 autocast rounds the two batch splits differently)."""
    job = [*tiny_job(hf_pretraining_dir, *tiny_pair_files, "--max-steps", "3", "--lr", "1e-3",
                     "--dropout", "0", "--device", "cpu", "--precision", "fp32")]
    job[job.index("--batch-size") + 1] = "{batch}"
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    assert finetune("--run-dir", str(single), *[a.format(batch=8) for a in job]) == 0
    torchrun = Path(sys.executable).with_name("torchrun")
    run = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", "-m",
                          "engine.cli", "finetune", "--run-dir", str(ddp),
                          *[a.format(batch=4) for a in job]], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert "weights identical on 2 ranks" in "\n".join(RunFolder(ddp).log_tail(10))
    a = load_checkpoint(RunFolder(single).latest_checkpoint()[1]).model.state_dict()
    b = load_checkpoint(RunFolder(ddp).latest_checkpoint()[1]).model.state_dict()
    assert max(float((a[k] - b[k]).abs().max()) for k in a) <= 1e-5
    assert records(ddp, "heldout")[-1]["accuracy"] == records(single, "heldout")[-1]["accuracy"]


def test_early_stopping_ends_the_run_when_the_metric_stops_improving(
        hf_pretraining_dir, tiny_pair_files, tmp_path):
    run = tmp_path / "run"
    # A learning rate this small cannot change a prediction: no evaluation beats the first.
    assert finetune("--run-dir", str(run), *tiny_job(hf_pretraining_dir, *tiny_pair_files,
                    "--max-steps", "40", "--eval-every", "2", "--checkpoint-every", "100", "--lr", "1e-12",
                    "--early-stopping", "2")) == 0
    status = RunFolder(run).read_status()
    assert status["state"] == "finished" and status["step"] == 6  # evals at 2 (best), 4, 6
    assert "early stopping" in status["message"]
    assert best_info(run)["step"] == 2
    assert RunFolder(run).latest_checkpoint()[0] == 6


def test_a_lower_is_better_metric_picks_the_lowest(hf_pretraining_dir, tiny_pair_files,
                                                   tmp_path):
    run = tmp_path / "run"
    assert finetune("--run-dir", str(run), *tiny_job(hf_pretraining_dir, *tiny_pair_files,
                    "--max-steps", "6", "--eval-every", "2", "--lr", "1e-3",
                    "--metric-for-best", "eval_loss")) == 0
    losses = {r["step"]: r["eval_loss"] for r in records(run, "heldout")}
    best = best_info(run)
    assert best["value"] == min(losses.values()) and losses[best["step"]] == best["value"]


def test_glue_task_by_name_reads_its_files_and_reports_its_metrics(hf_pretraining_dir, tmp_path):
    folder = tmp_path / "MRPC"
    folder.mkdir()
    header = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
    rows = [(row["label"] == "same", row["text"], row["text_b"])
            for row in synth.pair_rows(24, seed=3)]
    body = "".join(f"{int(q)}\t{i}\t{i + 100}\t{a}\t{b}\n" for i, (q, a, b) in enumerate(rows))
    (folder / "train.tsv").write_text(header + body)
    (folder / "dev.tsv").write_text(header + body[:200].rsplit("\n", 1)[0] + "\n")
    run = tmp_path / "run"
    assert finetune("--task", "classify", "--glue-task", "MRPC", "--glue-dir", str(folder),
                    "--model", str(hf_pretraining_dir), "--run-dir", str(run),
                    "--max-steps", "2", "--batch-size", "8", "--seq-len", "32") == 0
    config = RunFolder(run).read_config()
    assert config["main_metric"] == "f1"
    assert ("no GPU" in config["hardware"]) != torch.cuda.is_available()  # the device it ran on
    assert {"f1", "accuracy"} <= set(records(run, "heldout")[-1])
    assert json.loads((run / "best" / "config.json").read_text())["id2label"] == {"0": "0",
                                                                                  "1": "1"}


def test_multi_label_and_regression_runs_save_what_transformers_and_the_predictor_need(
        hf_pretraining_dir, tmp_path):
    multi = tmp_path / "multi.jsonl"
    multi.write_text("".join(json.dumps({"text": " ".join(words), "label": labels}) + "\n"
                             for words, labels in [(["red", "cat"], ["colour", "animal"]),
                                                   (["dog"], ["animal"]), (["blue"], ["colour"]),
                                                   (["tree"], [])] * 4))
    scores = tmp_path / "scores.csv"
    scores.write_text("sentence,score\n" + "".join(f"{'very ' * k}good,{k}\n"
                                                    for k in range(8)))
    jobs = {"multi": ["--task", "classify", "--multi-label", "--train", str(multi),
                      "--eval", str(multi)],
            "regress": ["--task", "regress", "--train", str(scores), "--eval", str(scores),
                        "--text-a", "sentence", "--label", "score"]}
    for name, args in jobs.items():
        assert finetune(*args, "--model", str(hf_pretraining_dir), "--run-dir",
                        str(tmp_path / name), "--max-steps", "2", "--batch-size", "4",
                        "--seq-len", "32") == 0
    config = json.loads((tmp_path / "multi" / "best" / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert list(config["id2label"].values()) == ["animal", "colour"]
    assert {"micro_f1", "macro_f1", "subset_accuracy"} <= set(records(tmp_path / "multi",
                                                                      "heldout")[-1])
    task = Predictor.load(tmp_path / "multi" / "best", device="cpu").analyze("red dog").task
    assert task.kind == "multi_label" and ((task.probs > 0) & (task.probs < 1)).all()
    config = json.loads((tmp_path / "regress" / "best" / "config.json").read_text())
    assert config["problem_type"] == "regression" and config["num_labels"] == 1
    assert {"pearson", "spearman", "mse"} <= set(records(tmp_path / "regress", "heldout")[-1])
    assert_transformers_logits_equal(tmp_path / "regress" / "best",
                                     "BertForSequenceClassification", "very good", None)
    task = Predictor.load(tmp_path / "regress" / "best", device="cpu").analyze("good").task
    assert task.kind == "regress" and isinstance(task.value, float)


# ----- bad input: a clear message naming the file and line; nothing written -----

def _bad_inputs(tmp: Path) -> list[tuple[list[str], str]]:
    good = synth.write_jsonl(tmp / "good.jsonl", synth.pair_rows(8, seed=1))
    csv_file = tmp / "missing.csv"
    csv_file.write_text("text,label\nhello there,pos\n")
    unseen = tmp / "unseen.jsonl"
    unseen.write_text('{"text": "a b", "text_b": "b a", "label": "same"}\n'
                      '{"text": "a b", "text_b": "c d", "label": "maybe"}\n')
    empty = tmp / "empty.jsonl"
    empty.write_text("")
    broken_json = tmp / "broken.jsonl"
    broken_json.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n'
                           '{"text": "c", "label": \n')
    conll = tmp / "broken.conll"
    conll.write_text("alice NN B-PER\nwent NN O\n\nparis\n")
    squad_file = tmp / "broken.json"
    squad_file.write_text('{"data": [\n  {"paragraphs": [}\n]}\n')
    pair = ["--task", "classify", "--text-b", "text_b"]
    return [
        (["--task", "classify", "--train", str(csv_file), "--text-b", "sentence2"],
         f"{csv_file}:1"),
        ([*pair, "--train", str(good), "--eval", str(unseen)], f"{unseen}:2"),
        ([*pair, "--train", str(empty)], str(empty)),
        (["--task", "classify", "--train", str(broken_json)], f"{broken_json}:3"),
        (["--task", "tag", "--train", str(conll), "--tag-column", "2"], f"{conll}:4"),
        (["--task", "qa", "--train", str(squad_file)], f"{squad_file}:2"),
    ]


@pytest.mark.parametrize("case", range(6), ids=["missing-column", "unseen-eval-label",
                                                "empty-file", "malformed-jsonl",
                                                "malformed-conll", "malformed-squad"])
def test_bad_input_names_file_and_line_and_writes_nothing(case, hf_pretraining_dir, tmp_path,
                                                          capsys):
    args, where = _bad_inputs(tmp_path)[case]
    run = tmp_path / "run"
    assert finetune(*args, "--model", str(hf_pretraining_dir), "--run-dir", str(run),
                    "--max-steps", "1", "--seq-len", "32") == 2
    err = capsys.readouterr().err
    assert err.startswith("bert-engine: error: ") and where in err, err
    assert not run.exists()


def test_option_mistakes_are_refused_before_a_run_exists(hf_pretraining_dir, tiny_pair_files,
                                                         tmp_path, capsys):
    run = tmp_path / "run"
    job = tiny_job(hf_pretraining_dir, *tiny_pair_files, "--max-steps", "1")
    assert finetune("--run-dir", str(run), *job, "--metric-for-best", "bleu") == 2
    assert "--metric-for-best 'bleu'" in capsys.readouterr().err
    assert finetune("--run-dir", str(run), *job, "--multi-label", "--task", "tag") == 2
    assert finetune("--run-dir", str(run), *job, "--seq-len", "128") == 2  # 64 positions
    assert "64 positions, fewer than --seq-len 128" in capsys.readouterr().err
    # Two labels report f1, never macro_f1: a best metric that never comes is refused.
    assert finetune("--run-dir", str(run), *job, "--metric-for-best", "macro_f1") == 2
    assert "(choose from accuracy, mcc, f1, eval_loss)" in capsys.readouterr().err
    one_class = synth.write_jsonl(tmp_path / "one.jsonl", [{"text": "a", "label": "pos"}] * 3)
    assert finetune("--run-dir", str(run), "--task", "classify", "--train", str(one_class),
                    "--model", str(hf_pretraining_dir), "--seq-len", "32") == 2
    assert f"{one_class}: only one class (pos)" in capsys.readouterr().err
    no_labels = synth.write_jsonl(tmp_path / "none.jsonl", [{"text": "a", "label": []}] * 3)
    assert finetune("--run-dir", str(run), "--task", "classify", "--multi-label", "--train",
                    str(no_labels), "--model", str(hf_pretraining_dir), "--seq-len", "32") == 2
    assert f"{no_labels}: no row has any label" in capsys.readouterr().err
    assert not run.exists()


def test_a_resume_whose_data_moved_fails_clearly_and_says_so_in_the_status(
        hf_pretraining_dir, tmp_path, capsys):
    train = synth.write_jsonl(tmp_path / "train.jsonl", synth.pair_rows(8, seed=1))
    run = tmp_path / "run"
    assert finetune("--task", "classify", "--text-b", "text_b", "--train", str(train),
                    "--model", str(hf_pretraining_dir), "--run-dir", str(run), "--max-steps",
                    "1", "--seq-len", "32", "--batch-size", "4") == 0
    train.unlink()
    assert finetune("--resume", str(run), "--max-steps", "2") == 2
    assert str(train) in capsys.readouterr().err
    status = RunFolder(run).read_status()
    assert status["state"] == "failed" and str(train) in status["error"]


@pytest.mark.slow
def test_bioes_tags_are_scored_as_entities(hf_pretraining_dir, tmp_path):
    sentences = [[("alice", "S-PER"), ("went", "O"), ("to", "O"), ("new", "B-LOC"),
                  ("york", "E-LOC")], [("bob", "S-PER"), ("saw", "O"), ("rome", "S-LOC")]] * 4
    data = synth.write_conll(tmp_path / "bioes.conll", sentences)
    run = tmp_path / "run"
    assert finetune("--task", "tag", "--train", str(data), "--eval", str(data), "--model",
                    str(hf_pretraining_dir), "--run-dir", str(run), "--max-steps", "2",
                    "--seq-len", "32", "--batch-size", "4") == 0
    assert {"entity_f1", "tag_accuracy"} <= set(records(run, "heldout")[-1])


def test_tagging_eval_loss_is_a_mean_over_labelled_words_whatever_the_batch(
        hf_pretraining_dir, tmp_path):
    from engine.finetune.conll import read_conll
    from engine.finetune.evaluation import predict_logits
    from engine.finetune.features import encode_tagged_sentences

    path = synth.write_conll(tmp_path / "t.conll", synth.tagged_sentences(6, seed=4))
    sentences = read_conll(path)
    loaded = load_checkpoint(hf_pretraining_dir, architecture="BertForTokenClassification",
                             config_overrides={"num_labels": 4})
    tags = ["O", "B-LOC", "B-PER", "I-PER"]
    features, _ = encode_tagged_sentences(sentences, loaded.tokenizer, 32, tags)
    losses = [predict_logits(loaded.model, features, size, 0, torch.device("cpu"))[1]
              for size in (1, 4, 64)]
    assert losses[0] == pytest.approx(losses[1], abs=1e-6) == pytest.approx(losses[2], abs=1e-6)


# ----- the training step: rows grouped by length give the loss of one padded pass -----

def test_length_groups_cover_every_row_once_and_split_only_when_it_pays():
    from engine.train.finetuning import length_groups

    lengths = [127, 40, 50, 60, 30, 45, 70, 119, 38, 52, 44, 58, 111, 33, 48, 61]
    groups = length_groups(lengths)
    assert sorted(i for g in groups for i in g) == list(range(16))
    assert len(groups) > 1  # one long row should not set the width of fifteen short ones
    widths = [max(lengths[i] for i in g) for g in groups]
    assert widths == sorted(widths)
    assert length_groups([20] * 8) == [list(range(8))]  # equal lengths: one pass


def test_grouped_losses_and_gradients_equal_one_padded_pass(hf_pretraining_dir, tmp_path):
    from engine.finetune.features import collate
    from engine.specs import FinetuneSpec
    from engine.train.finetuning import FinetuningTask

    rows = [{"text": " ".join(["red cat"] * k), "text_b": "dog", "label": "ab"[k % 2]}
            for k in (1, 12, 2, 3, 14, 1, 2, 4)]
    train = synth.write_jsonl(tmp_path / "t.jsonl", rows)
    task = FinetuningTask(FinetuneSpec(task="classify", model=str(hf_pretraining_dir),
                                       train=str(train), text_b="text_b", max_seq_length=64))
    model = task.build_model().eval()  # dropout off: both ways see the same function
    batch = collate(task.data.train, task.tokenizer.pad_id)
    batch["input_ids"] = torch.nn.functional.pad(batch["input_ids"], (0, 20))  # padded wide,
    batch["token_type_ids"] = torch.nn.functional.pad(batch["token_type_ids"], (0, 20))
    batch["attention_mask"] = torch.nn.functional.pad(batch["attention_mask"], (0, 20))

    def loss_and_grads(losses):
        model.zero_grad()
        sums, hits = losses(model, batch)
        sums["cls"].backward()
        return sums["cls"].item(), hits["cls"].item(), [p.grad.clone() for p in
                                                        model.parameters()]

    grouped = loss_and_grads(task.losses)
    single = loss_and_grads(task._group_losses)  # one pass over the whole padded batch
    assert grouped[0] == pytest.approx(single[0], rel=1e-5) and grouped[1] == single[1]
    for a, b in zip(grouped[2], single[2]):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-4)
