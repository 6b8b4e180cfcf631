"""``heads --task-loss``: head importance for a fine-tuned model's own task loss over a
labelled file read by the fine-tuning readers, and the pruning curve on the task's metric, on
tiny models fine-tuned here."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import finetune_synthetic as synth
from engine.cli import main
from engine.infer import Predictor
from engine.lab.heads import analysis_statistics
from engine.lab.task_importance import (TaskColumns, task_importance, task_metric, task_of,
                                        task_pruning_curve, task_statistics)
from engine.lab.weights import float32_model
from engine.results import InferenceError
from engine.trace import Trace

PAIRS = TaskColumns(text_b="text_b")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, hf_pretraining_dir):
    """A tiny classifier fine-tuned a few steps (run/best) and a labelled dev file."""
    root = tmp_path_factory.mktemp("task")
    train = synth.write_jsonl(root / "train.jsonl", synth.pair_rows(24, seed=1))
    dev = synth.write_jsonl(root / "dev.jsonl", synth.pair_rows(10, seed=2))
    assert main(["finetune", "--device", "cpu", "--task", "classify", "--model",
                 str(hf_pretraining_dir), "--train", str(train), "--eval", str(dev),
                 "--text-b", "text_b", "--run-dir", str(root / "run"), "--max-steps", "4",
                 "--batch-size", "8", "--seq-len", "32"]) == 0
    return Predictor.load(root / "run" / "best", device="cpu"), dev


def test_task_importance_is_the_gradient_of_the_task_loss(classifier):
    predictor, dev = classifier
    task = task_of(predictor, dev, PAIRS, 32)
    importance = task_importance(predictor, task, batch_size=16)  # one batch: |sum| = sum|.|
    assert importance.loss == "single_task" and importance.tokens == 10
    rows = [json.loads(line) for line in dev.read_text().splitlines()]
    labels = predictor.config.id2label
    ids = {name: int(i) for i, name in labels.items()}
    model = copy.deepcopy(float32_model(predictor)).double()

    def loss(gate: torch.Tensor) -> float:  # summed over the file, one row at a time
        total = 0.0
        with torch.no_grad():
            for row in rows:
                enc = predictor.tokenizer.encode(row["text"], row["text_b"])
                logits = model(torch.tensor([enc.ids]),
                               token_type_ids=torch.tensor([enc.token_type_ids]),
                               trace=Trace(head_gate=gate)).logits
                total += float(F.cross_entropy(logits, torch.tensor([ids[row["label"]]]),
                                               reduction="sum"))
        return total

    eps = 1e-5
    for layer, head in [(0, 2), (1, 1)]:
        up, down = torch.ones(2, 4, dtype=torch.float64), torch.ones(2, 4, dtype=torch.float64)
        up[layer, head] += eps
        down[layer, head] -= eps
        finite = abs(loss(up) - loss(down)) / (2 * eps)
        assert importance.raw[layer, head] * 10 == pytest.approx(finite, rel=1e-3)
    assert importance.normalised.min() == 0 and importance.normalised.max() == 1


def test_task_pruning_curve_at_zero_is_the_plain_accuracy(classifier):
    predictor, dev = classifier
    rows = [json.loads(line) for line in dev.read_text().splitlines()]
    hits = 0
    for row in rows:  # the unpruned metric, as the predictor reads each pair
        task = predictor.analyze(row["text"], row["text_b"]).task
        hits += task.labels[int(np.argmax(task.probs))] == row["label"]
    task = task_of(predictor, dev, PAIRS, 32)
    curve = task_pruning_curve(predictor, task, task_importance(predictor, task))
    assert curve.metric == "accuracy" and len(curve.points) == 11
    assert curve.points[0].masked == () and curve.points[0].metric == pytest.approx(hits / 10)
    assert len(curve.points[-1].masked) == 8
    everything = [(l, h) for l in range(2) for h in range(4)]
    assert task_metric(predictor, task, everything) == curve.points[-1].metric
    assert not predictor.model.training  # scoring leaves the model in eval mode, no dropout


@pytest.mark.slow
def test_task_statistics_cover_each_labelled_example(classifier):
    predictor, dev = classifier
    task = task_of(predictor, dev, PAIRS, 32)
    stats = task_statistics(predictor, task)
    assert stats.examples == 10 and stats.entropy.shape == (2, 4)
    first = json.loads(dev.read_text().splitlines()[0])
    alone = task_statistics(predictor, task_of(predictor, _one_row(dev, first), PAIRS, 32))
    analysis = predictor.analyze(first["text"], first["text_b"])
    np.testing.assert_allclose(alone.shares["cls"], analysis_statistics(analysis).shares["cls"],
                               atol=1e-6)


def _one_row(dev, row):
    path = dev.with_name("one.jsonl")
    path.write_text(json.dumps(row) + "\n")
    return path


def test_heads_task_loss_command(classifier, capsys):
    predictor, dev = classifier
    assert main(["heads", "--model", str(predictor.checkpoint.path), "--device", "cpu",
                 "--data", str(dev), "--task-loss", "--text-b", "text_b", "--seq-len", "32",
                 "--prune-curve", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["importance"]["loss"] == "single_task"
    assert data["importance"]["examples"] == 10
    assert data["prune_curve"]["metric"] == "accuracy"
    assert [p["masked"] for p in data["prune_curve"]["points"]][:2] == [0, 1]
    assert data["statistics"]["examples"] == 10


def test_task_loss_refuses_what_it_cannot_score(classifier, tiny_predictor, tmp_path, capsys):
    predictor, dev = classifier
    with pytest.raises(InferenceError, match="fine-tuned model"):
        task_of(tiny_predictor, dev, PAIRS)
    assert main(["heads", "--model", str(predictor.checkpoint.path), "--device", "cpu",
                 "some text", "--task-loss"]) != 0
    assert "labelled --data" in capsys.readouterr().err
    unknown = synth.write_jsonl(tmp_path / "bad.jsonl",
                                [{"text": "red", "text_b": "cat", "label": "maybe"}])
    assert main(["heads", "--model", str(predictor.checkpoint.path), "--device", "cpu",
                 "--data", str(unknown), "--task-loss", "--text-b", "text_b"]) != 0
    assert "maybe" in capsys.readouterr().err


@pytest.mark.slow
def test_task_loss_of_a_tagger_over_a_conll_file(hf_pretraining_dir, tmp_path, capsys):
    train = synth.write_conll(tmp_path / "train.conll", synth.tagged_sentences(16, seed=1))
    dev = synth.write_conll(tmp_path / "dev.conll", synth.tagged_sentences(6, seed=2))
    assert main(["finetune", "--device", "cpu", "--task", "tag", "--model",
                 str(hf_pretraining_dir), "--train", str(train), "--eval", str(dev),
                 "--run-dir", str(tmp_path / "run"), "--max-steps", "2", "--batch-size", "8",
                 "--seq-len", "32"]) == 0
    capsys.readouterr()
    assert main(["heads", "--model", str(tmp_path / "run" / "best"), "--device", "cpu",
                 "--data", str(dev), "--task-loss", "--seq-len", "32", "--prune-curve",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    words = sum(len(s) for s in synth.tagged_sentences(6, seed=2))
    assert data["importance"]["loss"] == "tag_task"
    assert data["importance"]["examples"] == 6
    assert 6 <= data["importance"]["tokens"] <= words  # the first piece of each word is scored
    assert data["prune_curve"]["metric"] == "entity_f1"


@pytest.mark.slow
def test_task_loss_of_a_question_answerer_over_squad_json(hf_pretraining_dir, tmp_path, capsys):
    train = synth.write_json(tmp_path / "train.json", synth.squad_data(16, seed=1))
    dev = synth.write_json(tmp_path / "dev.json", synth.squad_data(6, seed=2))
    assert main(["finetune", "--device", "cpu", "--task", "qa", "--model",
                 str(hf_pretraining_dir), "--train", str(train), "--eval", str(dev),
                 "--run-dir", str(tmp_path / "run"), "--max-steps", "2", "--batch-size", "8",
                 "--seq-len", "48"]) == 0
    capsys.readouterr()
    assert main(["heads", "--model", str(tmp_path / "run" / "best"), "--device", "cpu",
                 "--data", str(dev), "--task-loss", "--seq-len", "48", "--prune-curve",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["importance"]["loss"] == "qa_task" and data["importance"]["examples"] == 6
    assert data["prune_curve"]["metric"] == "f1" and len(data["prune_curve"]["points"]) == 11
    assert np.array(data["importance"]["raw"]).max() > 0
