"""Comparing two models (engine/lab/compare.py, bert-engine compare) and a run's checkpoints
(engine/lab/series.py), and the --keep-steps that keeps chosen checkpoints out of the rotation."""

from __future__ import annotations

import json
import math
import subprocess

import numpy as np
import pytest

from conftest import save_hf_model, swapped_vocab_copy
from engine.cli import main
from engine.infer import Predictor
from engine.lab.compare import compare, compare_file, js_rows
from engine.lab.series import checkpoint_series
from engine.results import InferenceError
from engine.runlog import RunFolder
from tiny_runs import BERT_ENGINE, TINY_JOB, tiny_corpus

PAIR = ("the cat sat on the [MASK] .", "it was [MASK] happy .")


@pytest.fixture(scope="module")
def other_dir(tmp_path_factory, vocab_file):
    """A second tiny BertForPreTraining like ``hf_pretraining_dir``, other random weights."""
    return save_hf_model("BertForPreTraining", tmp_path_factory.mktemp("hf") / "other",
                         vocab_file, seed=1)


@pytest.fixture(scope="module")
def other_predictor(other_dir):
    return Predictor.load(other_dir, device="cpu")


def test_a_model_compared_with_itself_differs_nowhere(tiny_predictor):
    result = compare(tiny_predictor, tiny_predictor, *PAIR)
    assert result.js_divergence.shape == (2, 4)  # [layers, heads]
    assert np.all(result.js_divergence == 0)
    assert np.allclose(result.hidden_cosine, 1.0) and result.hidden_cosine.shape == (3,)
    assert len(result.fill_mask) == 2
    for mask in result.fill_mask:
        assert mask.top_a == mask.top_b and mask.top1_agrees
        assert np.all(mask.change == 0)
    assert result.nsp_change == 0


def test_the_divergence_is_symmetric_and_bounded_by_log_2(tiny_predictor, other_predictor):
    ab = compare(tiny_predictor, other_predictor, *PAIR)
    ba = compare(other_predictor, tiny_predictor, *PAIR)
    assert np.array_equal(ab.js_divergence, ba.js_divergence)
    assert np.all(ab.js_divergence > 0) and np.all(ab.js_divergence <= math.log(2))
    assert np.allclose(ab.hidden_cosine, ba.hidden_cosine)
    assert ab.nsp_change == pytest.approx(-ba.nsp_change)
    first_ab, first_ba = ab.fill_mask[0], ba.fill_mask[0]
    assert first_ab.top_a == first_ba.top_b  # each side's candidates, with the other's odds
    shared = first_ab.tokens[0]
    assert first_ab.probs_b[0] == first_ba.probs_a[first_ba.tokens.index(shared)]
    # Rows on disjoint keys reach the bound; any rows stay within it.
    disjoint = js_rows(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]))
    assert disjoint[0] == pytest.approx(math.log(2))
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(7), 50), rng.dirichlet(np.full(7, 0.1), 50)
    assert np.all((js_rows(p, q) >= 0) & (js_rows(p, q) <= math.log(2)))


def test_models_with_different_vocabularies_are_refused_naming_both(hf_pretraining_dir,
                                                                     tiny_predictor, tmp_path,
                                                                     capsys):
    other = Predictor.load(swapped_vocab_copy(hf_pretraining_dir, tmp_path / "swapped"),
                           device="cpu")
    with pytest.raises(InferenceError, match="vocabularies differ") as caught:
        compare(tiny_predictor, other, "hello")
    assert "tiny-pt" in str(caught.value) and "swapped" in str(caught.value)
    code = main(["compare", "--model", str(hf_pretraining_dir), "--model",
                 str(tmp_path / "swapped"), "hello", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "swapped" in err and "tiny-pt" in err


def test_a_side_without_heads_says_so_and_a_fine_tuned_side_gives_its_task(
        tiny_predictor, vocab_file, tmp_path):
    encoder = Predictor.load(save_hf_model("BertModel", tmp_path / "encoder", vocab_file),
                             device="cpu")
    result = compare(tiny_predictor, encoder, *PAIR)
    assert all(m.probs_b is None and m.top_b == [] and m.change is None
               for m in result.fill_mask)
    assert len(result.fill_mask[0].top_a) == 5 and result.nsp_b is None
    assert any("MLM" in n for n in result.notes_b) and any("NSP" in n for n in result.notes_b)
    assert result.notes_a == ()
    classifier = Predictor.load(save_hf_model("BertForSequenceClassification",
                                              tmp_path / "classifier", vocab_file, num_labels=3),
                                device="cpu")
    result = compare(tiny_predictor, classifier, *PAIR)
    assert result.task_a is None and result.task_b.kind == "classify"
    assert result.task_b.probs.shape == (3,)


def test_a_file_is_compared_row_by_row_and_averaged(tiny_predictor, other_predictor, tmp_path):
    examples = [PAIR, ("a [MASK] day .", None), ("one more line", "and its pair")]
    data = tmp_path / "pairs.txt"
    data.write_text("\n".join(a if b is None else f"{a}\t{b}" for a, b in examples) + "\n",
                    encoding="utf-8")
    result = compare_file(tiny_predictor, other_predictor, data)
    singles = [compare(tiny_predictor, other_predictor, a, b) for a, b in examples]
    rows = np.array([len(s.tokens) for s in singles])
    pooled = sum(s.js_divergence * n for s, n in zip(singles, rows)) / rows.sum()
    assert np.allclose(result.js_divergence, pooled)
    assert result.examples == 3 and result.pairs == 2 and result.masks == 3
    agree = [m.top1_agrees for s in singles for m in s.fill_mask]
    assert result.top1_agreement == pytest.approx(sum(agree) / 3)
    changes = [abs(s.nsp_change) for s in singles if s.nsp_change is not None]
    assert result.nsp_mean_abs_change == pytest.approx(np.mean(changes))
    assert 0 <= result.nsp_agreement <= 1


@pytest.mark.parametrize("content, message", [("", "no examples"),
                                              ("fine\n\tonly B\n", "example 2 has no sentence A")])
def test_a_bad_file_is_one_line_error(hf_pretraining_dir, other_dir, tmp_path, capsys, content,
                                      message):
    data = tmp_path / "bad.txt"
    data.write_text(content, encoding="utf-8")
    code = main(["compare", "--model", str(hf_pretraining_dir), "--model", str(other_dir),
                 "--data", str(data), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err


def test_cli_json_holds_the_per_head_divergence_and_per_layer_cosine(hf_pretraining_dir,
                                                                     other_dir, capsys):
    code = main(["compare", "--model", str(hf_pretraining_dir), "--model", str(other_dir),
                 *PAIR, "--device", "cpu", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert np.asarray(data["js_divergence"]).shape == (2, 4)
    assert len(data["hidden_cosine"]) == 3
    assert data["model_a"] == "tiny-pt" and data["model_b"] == "other"
    mask = data["fill_mask"][0]
    assert len(mask["tokens"]) == len(mask["probs_a"]) == len(mask["change"])
    assert data["nsp_change"] == pytest.approx(data["nsp_b"] - data["nsp_a"])
    code = main(["compare", "--model", str(hf_pretraining_dir), "hello"])
    assert code == 2 and "--model twice" in capsys.readouterr().err


@pytest.fixture(scope="module")
def kept_run(tmp_path_factory):
    """A tiny real pretraining run checkpointing at 6 only, plus its --keep-steps 2,4, with
    one checkpoint in the rotation; then resumed to step 8."""
    root = tmp_path_factory.mktemp("runs")
    job = list(TINY_JOB)
    job[job.index("--max-steps") + 1] = "6"
    job[job.index("--checkpoint-every") + 1] = "100"
    run_dir = root / "kept"
    for args in (["--run-dir", str(run_dir), "--corpus", str(tiny_corpus(root)), *job,
                  "--keep-steps", "2,4", "--keep-checkpoints", "1"],
                 ["--resume", str(run_dir), "--max-steps", "8", "--device", "cpu"]):
        done = subprocess.run([BERT_ENGINE, "pretrain", *args], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    return run_dir


@pytest.mark.slow
def test_keep_steps_checkpoints_survive_the_rotation_and_a_resume(kept_run):
    run = RunFolder(kept_run)
    # 2 and 4 written for --keep-steps and kept; of the rotating 6 and 8 the newest one.
    assert [step for step, _ in run.checkpoints()] == [2, 4, 8]
    assert run.read_config()["train"]["keep_steps"] == "2,4"


@pytest.mark.slow
def test_a_checkpoint_series_has_a_point_per_checkpoint_and_reads_back_from_the_cache(
        kept_run, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    run_files = sorted(kept_run.rglob("*"))
    series = checkpoint_series(kept_run, *PAIR, cache_dir=cache, device="cpu")
    assert series.steps == [2, 4, 8] and series.computed == 3
    first, second, last = series.points
    assert first.from_previous is None and np.all(first.from_first.js_divergence == 0)
    assert np.array_equal(second.from_previous.js_divergence, second.from_first.js_divergence)
    assert last.from_previous.js_divergence.shape == (2, 2)  # BERT-Tiny: 2 layers x 2 heads
    assert np.all(last.from_first.js_divergence > 0)
    assert sorted(kept_run.rglob("*")) == run_files and len(list(cache.rglob("*.json"))) == 3

    def no_load(*args, **kwargs):
        raise AssertionError("a model was loaded for a cached point")

    monkeypatch.setattr(Predictor, "load", no_load)
    again = checkpoint_series(kept_run, *PAIR, cache_dir=cache, device="cpu")
    assert again.computed == 0 and again.steps == series.steps
    for cached, fresh in zip(again.points, series.points):
        assert np.array_equal(cached.from_first.js_divergence, fresh.from_first.js_divergence)
        assert cached.from_first.fill_mask[0].tokens == fresh.from_first.fill_mask[0].tokens
    with pytest.raises(InferenceError, match="inside the run folder"):
        checkpoint_series(kept_run, *PAIR, cache_dir=kept_run / "cache")


def test_keep_steps_is_one_option_of_both_commands_checked_when_made():
    from engine.cli import build_parser
    from engine.options import SpecError
    from engine.specs import FinetuneJob, FinetuneSpec, FinetuneTraining, TrainConfig

    assert TrainConfig(max_steps=10, keep_steps="300,100").kept_steps == (100, 300)
    for bad in ("0,5", "10,x", ","):
        with pytest.raises(SpecError, match="--keep-steps"):
            TrainConfig(max_steps=10, keep_steps=bad)
        with pytest.raises(SpecError, match="--keep-steps"):
            FinetuneTraining(keep_steps=bad)
    job = FinetuneJob(task=FinetuneSpec(task="classify", model="m", train="t.csv"),
                      training=FinetuneTraining(keep_steps="5,50"))
    args = build_parser().parse_args(["finetune", "--run-dir", "run", *job.to_args()])
    assert FinetuneJob.from_args(args) == job and "--keep-steps" in job.to_args()
    assert job.train_config(1000, 1, has_eval=False).kept_steps == (5, 50)


@pytest.mark.slow
def test_with_a_reading_memo_a_new_point_loads_only_its_own_checkpoint(kept_run, tmp_path,
                                                                      monkeypatch):
    from engine.lab.series import ReadingMemo

    memo = ReadingMemo()
    checkpoint_series(kept_run, *PAIR, cache_dir=tmp_path / "a", steps=[2, 4], device="cpu",
                      memo=memo)
    fresh = checkpoint_series(kept_run, *PAIR, cache_dir=tmp_path / "b", steps=[8], device="cpu")
    loads, load = [], Predictor.load
    monkeypatch.setattr(Predictor, "load", lambda path, **kw: loads.append(path) or load(path,
                                                                                        **kw))
    point = checkpoint_series(kept_run, *PAIR, cache_dir=tmp_path / "a", steps=[8],
                              device="cpu", memo=memo).points[0]
    assert [p.name for p in loads] == ["step-8"]  # step 4 (previous) and 2 (first) were held
    assert np.array_equal(point.from_previous.js_divergence,
                          fresh.points[0].from_previous.js_divergence)
    assert np.array_equal(point.from_first.js_divergence, fresh.points[0].from_first.js_divergence)


def test_pairing_two_analyses_marks_a_side_without_an_mlm_head(tiny_predictor, tmp_path,
                                                               vocab_file):
    from engine.lab.divergence import head_divergence, pair_analyses

    encoder = Predictor.load(save_hf_model("BertModel", tmp_path / "encoder", vocab_file,
                                           seed=2), device="cpu")
    a, b = tiny_predictor.analyze(*PAIR), encoder.analyze(*PAIR)
    pair = pair_analyses(a, b, "tiny", "encoder")
    assert np.array_equal(pair.difference, b.attentions - a.attentions)
    assert np.allclose(pair.js_divergence, head_divergence(a.attentions, b.attentions))
    assert pair.reach > 0 and pair.nsp_b is None and pair.nsp_change is None
    assert [m.position for m in pair.fill_mask] == [m.position for m in a.fill_mask]
    assert all(m.probs_b is None and m.top_b == [] and m.tokens == m.top_a
               for m in pair.fill_mask)
    itself = pair_analyses(a, a, "tiny", "tiny")
    assert np.all(itself.js_divergence == 0) and np.all(itself.difference == 0)
    shorter = tiny_predictor.analyze("the cat sat .")
    with pytest.raises(InferenceError, match="encode this input differently"):
        pair_analyses(a, shorter, "tiny", "tiny")
