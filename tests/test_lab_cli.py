"""``bert-engine explain``: the JSON fields the issue names, --help documenting methods and
target forms, and one-line errors with exit status 2 for what the user can fix."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import save_hf_model
from engine import cli
from engine.lab.salience import ig_batch
from engine.results import MAP_METHODS, SALIENCE_METHODS

SCRIPT = Path(sys.executable).with_name("bert-engine")
PAIR = ("The keeper lit the [MASK] again.", "Ships relied on it.")


def call(capsys, *argv: str) -> tuple[int, str, str]:
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def explain_json(capsys, model: Path, *argv: str) -> dict:
    rc, out, err = call(capsys, "explain", "--model", str(model), *argv, "--json")
    assert rc == 0, err
    return json.loads(out)


@pytest.mark.parametrize("method,heads", [("rollout", False), ("norm", True), ("alti", False)])
def test_map_methods_print_tokens_and_maps(capsys, hf_pretraining_dir, method, heads):
    data = explain_json(capsys, hf_pretraining_dir, *PAIR, "--method", method)
    seq = len(data["tokens"])
    assert data["tokens"][0] == "[CLS]" and "[MASK]" in data["tokens"]
    maps = np.array(data["maps"])
    assert maps.shape == ((2, 4, seq, seq) if heads else (2, seq, seq))
    if not heads:
        np.testing.assert_allclose(maps.sum(axis=-1), 1, atol=1e-5)


def test_integrated_gradients_print_scores_target_values_and_delta(capsys, hf_pretraining_dir):
    data = explain_json(capsys, hf_pretraining_dir, *PAIR, "--method", "ig", "--target",
                        "mask:0:the,a", "--steps", "12", "--baseline", "mask")
    assert len(data["scores"]) == len(data["tokens"])
    assert data["target"] == "mask:0:the,a"
    gap = data["target_value"] - data["baseline_value"]
    assert data["delta"] == pytest.approx(sum(data["scores"]) - gap, abs=1e-5)
    assert data["settings"] == {"steps": 12, "rule": "gausslegendre", "baseline": "mask",
                                "batch": ig_batch(len(data["tokens"]))}


def test_gradient_methods_have_no_baseline(capsys, hf_pretraining_dir):
    for method in ("grad", "grad-input"):
        data = explain_json(capsys, hf_pretraining_dir, *PAIR, "--method", method,
                            "--target", "nsp")
        assert data["target"] == "nsp" and data["baseline_value"] is None and data["delta"] is None


def test_plain_text_names_the_target_and_lists_every_token(capsys, hf_pretraining_dir):
    rc, out, _ = call(capsys, "explain", "--model", str(hf_pretraining_dir), PAIR[0],
                      "--method", "ig", "--steps", "4")
    assert rc == 0
    assert out.splitlines()[0].startswith("ig of log p(")
    assert "convergence delta" in out and "[MASK]" in out


@pytest.mark.parametrize("argv,words", [
    (["The keeper lit the lamp.", "--method", "ig", "--target", "mask:0"], ["no [MASK]"]),
    ([PAIR[0], "--method", "grad", "--target", "class:happy"], ["fine-tuned to classify"]),
    ([PAIR[0], "--method", "grad", "--target", "nsp"], ["sentence B"]),
    ([PAIR[0], "--method", "ig", "--target", "mask:zero"], ["cannot read target"]),
    ([PAIR[0], "--method", "ig", "--steps", "0"], ["--steps"]),
    ([PAIR[0], "--method", "alti", "--target", "nsp"], ["salience methods"]),
])
def test_bad_input_is_one_line_and_exit_status_2(capsys, hf_pretraining_dir, argv, words):
    rc, _, err = call(capsys, "explain", "--model", str(hf_pretraining_dir), *argv)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bert-engine: error: ")
    assert all(w.lower() in lines[0].lower() for w in words), lines[0]


def test_an_unknown_label_and_a_missing_head_are_named(capsys, tmp_path, vocab_file):
    folder = save_hf_model("BertForSequenceClassification", tmp_path / "cls", vocab_file,
                           num_labels=2, id2label={0: "neg", 1: "pos"},
                           label2id={"neg": 0, "pos": 1})
    rc, _, err = call(capsys, "explain", "--model", str(folder), "fine", "--method", "ig",
                      "--target", "class:great")
    assert rc == 2 and "unknown label 'great'" in err and "neg, pos" in err
    rc, _, err = call(capsys, "explain", "--model", str(folder), "a [MASK] day", "--method",
                      "grad", "--target", "mask:0")
    assert rc == 2 and "no MLM head" in err


def test_help_documents_every_method_and_target_form():
    out = subprocess.run([str(SCRIPT), "explain", "--help"], capture_output=True, text=True,
                         check=True).stdout
    for method in (*MAP_METHODS, *SALIENCE_METHODS):
        assert f"  {method} " in out
    for form in ("mask:K ", "mask:K:TOKEN ", "mask:K:TOKEN,TOKEN2", "nsp", "class:LABEL",
                 "start | end", "--steps", "--baseline", "--json"):
        assert form in out
