"""Dataset runs: a fine-tuned model's metrics on a file equal ``finetune --test``'s on it, each
example's row agrees with those metrics, slices add up, a pretraining model fills masks and
scores NSP for a plain-text file, and a cancelled run stops between batches."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import finetune_synthetic as synth
from engine import cli
from engine.dataset_run import column_values, read_dataset, run_dataset
from engine.infer import Predictor
from engine.runlog import MetricsReader


@pytest.fixture(scope="module")
def tuned(tmp_path_factory, hf_pretraining_dir) -> tuple[Path, Path]:
    """A tiny classifier fine-tuned a few steps (with --test), and its test file."""
    root = tmp_path_factory.mktemp("tuned")
    train = synth.write_jsonl(root / "train.jsonl", synth.pair_rows(48, seed=1))
    rows = synth.pair_rows(37, seed=2)
    for i, row in enumerate(rows):
        row["source"] = "odd" if i % 2 else "even"
    test = synth.write_jsonl(root / "test.jsonl", rows)
    assert cli.main(["finetune", "--device", "cpu", "--task", "classify", "--model",
                     str(hf_pretraining_dir), "--train", str(train), "--test", str(test),
                     "--text-b", "text_b", "--run-dir", str(root / "run"), "--max-steps", "6",
                     "--batch-size", "8", "--lr", "1e-3", "--seq-len", "24"]) == 0
    return root / "run", test


def _test_scores(run: Path) -> tuple[dict, Path]:
    (record,) = [r for r in MetricsReader(run / "metrics.jsonl").read_new()
                 if r.get("split") == "test"]
    folder = run / "best" if (run / "best").is_dir() else run / "checkpoints" / record["checkpoint"]
    return record, folder


def test_a_dataset_runs_metrics_equal_finetune_test_on_the_same_file(tuned):
    run, test = tuned
    record, folder = _test_scores(run)
    predictor = Predictor.load(folder, device="cpu")
    examples = read_dataset(test, "text", "text_b", "label")
    result = run_dataset(predictor, examples, str(test), seq_len=24, batch_size=5)
    assert result.kind == "classify" and len(result.examples) == 37
    for name in ("accuracy", "mcc", "f1", "eval_loss", "examples"):
        assert result.metrics[name] == pytest.approx(record[name], abs=1e-5), name
    rows = result.examples
    assert [r.index for r in rows] == list(range(37))
    assert np.mean([r.correct for r in rows]) == pytest.approx(record["accuracy"])
    assert all(r.prediction in result.labels and 0.5 <= r.probability <= 1 for r in rows)
    assert all(r.tokens <= 24 for r in rows)
    assert result.embeddings["cls"].shape == (37, 2, 32) == result.embeddings["mean"].shape


def test_slices_by_label_length_and_column_cover_every_example(tuned):
    run, test = tuned
    _, folder = _test_scores(run)
    predictor = Predictor.load(folder, device="cpu")
    examples = read_dataset(test, "text", "text_b", "label")
    columns = {"source": column_values(test, "source", examples)}
    result = run_dataset(predictor, examples, str(test), seq_len=24, columns=columns)
    by_kind: dict[str, list] = {}
    for s in result.slices:
        by_kind.setdefault(s.kind, []).append(s)
    assert set(by_kind) == {"label", "length", "column:source"}
    for slices in by_kind.values():
        assert sum(s.count for s in slices) == 37
    odd = next(s for s in by_kind["column:source"] if s.value == "odd")
    members = [r for r in result.examples if r.index % 2]
    assert odd.count == len(members)
    assert odd.accuracy == pytest.approx(np.mean([r.correct for r in members]))
    assert odd.loss == pytest.approx(np.mean([r.loss for r in members]))


def test_a_pretraining_model_fills_masks_and_scores_pairs_of_a_text_file(tmp_path,
                                                                        tiny_predictor):
    text = tmp_path / "examples.txt"
    text.write_text("The cat sat on the [MASK].\tIt purred.\n\nA [MASK] and a [MASK].\n",
                    encoding="utf-8")
    result = run_dataset(tiny_predictor, read_dataset(text), str(text), top_k=3)
    first, second = result.examples
    assert (first.line, second.line) == (1, 3) and result.metrics == {}
    assert len(first.fill_mask) == 1 and len(second.fill_mask) == 2
    assert all(len(m) == 3 for m in first.fill_mask + second.fill_mask)
    analysis = tiny_predictor.analyze("The cat sat on the [MASK].", "It purred.", top_k=3)
    assert [t for t, _ in first.fill_mask[0]] == analysis.fill_mask[0].tokens
    assert first.nsp_is_next == pytest.approx(analysis.nsp_is_next, abs=1e-5)
    assert second.nsp_is_next is None


def test_a_cancelled_run_stops_between_batches_without_file_metrics(tuned):
    run, test = tuned
    _, folder = _test_scores(run)
    predictor = Predictor.load(folder, device="cpu")
    seen = []
    result = run_dataset(predictor, read_dataset(test, "text", "text_b", "label"), str(test),
                         seq_len=24, batch_size=10, progress=lambda d, t: seen.append((d, t)),
                         cancelled=lambda: len(seen) >= 2)
    assert result.cancelled and seen == [(10, 37), (20, 37)]
    assert len(result.examples) == 20 and result.metrics == {}


def test_the_dataset_command_prints_metrics_and_writes_the_table(tuned, tmp_path, capsys):
    run, test = tuned
    record, folder = _test_scores(run)
    table = tmp_path / "table.csv"
    rc = cli.main(["dataset", str(test), "--model", str(folder), "--text-b", "text_b",
                   "--seq-len", "24", "--json", "--csv", str(table), "--device", "cpu"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    data = json.loads(out)
    assert data["metrics"]["accuracy"] == pytest.approx(record["accuracy"])
    lines = table.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 38 and lines[0].startswith("index,line,text_a")


def test_a_file_without_examples_or_with_an_unknown_label_is_refused(tmp_path, tuned, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    run, _ = tuned
    _, folder = _test_scores(run)
    assert cli.main(["dataset", str(empty), "--model", str(folder), "--device", "cpu"]) == 2
    assert "no examples" in capsys.readouterr().err
    odd = synth.write_jsonl(tmp_path / "odd.jsonl", [{"text": "a b", "text_b": "c d",
                                                      "label": "maybe"}])
    assert cli.main(["dataset", str(odd), "--model", str(folder), "--text-b", "text_b",
                     "--device", "cpu"]) == 2
    assert "'maybe' never appears in the model" in capsys.readouterr().err
