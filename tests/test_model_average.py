"""Issue 24: `build_default_model.py average`, the weight interpolation a default-model stage can
ship, and how the card records and rebuilds such a stage."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from conftest import save_hf_model, swapped_vocab_copy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from default_model.average import AverageError, average_checkpoints, parse_part  # noqa: E402


@pytest.fixture(scope="module")
def two_models(tmp_path_factory, vocab_file):
    folder = tmp_path_factory.mktemp("average")
    return (save_hf_model("BertForPreTraining", folder / "a", vocab_file, seed=1),
            save_hf_model("BertForPreTraining", folder / "b", vocab_file, seed=2))


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    from engine.checkpoint import load_checkpoint

    return load_checkpoint(folder).model.state_dict()


def test_the_average_is_each_weight_times_its_checkpoint_in_fp16(two_models, tmp_path):
    a, b = two_models
    out = average_checkpoints([(0.25, a), (0.75, b)], tmp_path / "avg")
    got, wa, wb = _weights(out), _weights(a), _weights(b)
    assert got.keys() == wa.keys()
    for key in ("bert.encoder.layer.0.attention.self.query.weight", "cls.seq_relationship.bias"):
        expected = (0.25 * wa[key] + 0.75 * wb[key]).half().float()
        torch.testing.assert_close(got[key], expected, rtol=0, atol=0)
    assert not torch.equal(got["bert.embeddings.word_embeddings.weight"],
                           wb["bert.embeddings.word_embeddings.weight"])
    assert (out / "vocab.txt").read_text(encoding="utf-8") == \
        (a / "vocab.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("parts, message", [
    ([(0.5, "a"), (0.4, "b")], "sum to 0.9"),
    ([(1.0, "a")], "at least two"),
])
def test_weights_that_do_not_make_an_average_are_refused(two_models, tmp_path, parts, message):
    named = {"a": two_models[0], "b": two_models[1]}
    with pytest.raises(AverageError, match=message):
        average_checkpoints([(w, named[n]) for w, n in parts], tmp_path / "avg")
    assert not (tmp_path / "avg").exists()


def test_checkpoints_of_another_shape_or_vocabulary_are_refused(two_models, tmp_path, vocab_file):
    a, _ = two_models
    wider = save_hf_model("BertForPreTraining", tmp_path / "wider", vocab_file, seed=3,
                          intermediate_size=96)
    with pytest.raises(AverageError, match="config differs"):
        average_checkpoints([(0.5, a), (0.5, wider)], tmp_path / "avg")
    swapped = swapped_vocab_copy(a, tmp_path / "swapped")
    with pytest.raises(AverageError, match="vocabulary differs"):
        average_checkpoints([(0.5, a), (0.5, swapped)], tmp_path / "avg")


@pytest.mark.parametrize("text", ["0.5", "x:folder", "0:folder", "1.5:folder", "0.5:"])
def test_a_part_is_a_weight_and_a_folder(text):
    with pytest.raises(AverageError, match="WEIGHT:FOLDER"):
        parse_part(text)
    assert parse_part("0.75:runs/x/checkpoints/step-700") == (0.75, Path("runs/x/checkpoints/step-700"))


def test_the_command_says_what_it_wrote_and_refuses_to_overwrite(two_models, tmp_path, capsys):
    from build_default_model import main

    a, b = two_models
    out = tmp_path / "avg"
    assert main(["average", "--out", str(out), f"0.5:{a}", f"0.5:{b}"]) == 0
    assert f"wrote {out}: 0.5 x {a} + 0.5 x {b}" in capsys.readouterr().out
    assert main(["average", "--out", str(out), f"0.5:{a}", f"0.5:{b}"]) == 2
    assert "exists (add --overwrite" in capsys.readouterr().err
    assert main(["average", "--out", str(out), "--overwrite", f"0.5:{a}",
                 f"0.5:{tmp_path / 'missing'}"]) == 2
    assert "build_default_model: " in capsys.readouterr().err
    assert main(["average", "--out", str(out), "--overwrite", f"0.5:{a}", "0.5"]) == 2
    assert "WEIGHT:FOLDER" in capsys.readouterr().err


def test_an_averaged_stage_is_named_in_the_card_and_rebuilt_by_average():
    from default_model.card import averaging_lines, rebuild_lines, stages_table

    base = {"steps": 700, "max_steps": 700, "batch_size": 32, "lr": 5e-5, "warmup_steps": 30,
            "schedule": "linear", "near_negatives": 0.6, "nsp_loss_weight": 1.0,
            "precision": "bf16", "seed": 17, "hours": 0.9, "hardware": "cpu",
            "train_files": ["gutenberg.txt", "jargon.txt", "web_bible.txt"], "history": []}
    note = "the schedule's end moved: `--max-steps 900` at step 535"
    stages = [dict(base, steps=3000, max_steps=3000),
              dict(base, start_weight=0.25, history=[f"note: {note}"])]
    table = stages_table(stages)
    assert "| step 3,000 |" in table and "| 0.75 x step 700 + 0.25 x stage 1 |" in table
    assert "Stage 2's weights are 0.75 x step 700 + 0.25 x stage 1's" in averaging_lines(stages)
    assert averaging_lines(stages[:1]) == ""
    rebuild = rebuild_lines(stages)
    assert "$B export --model WORK/runs/stage-1/checkpoints/step-3000 --out WORK/stage-1" in rebuild
    assert ("average --out resources/models/default --overwrite \\\n"
            "    0.75:WORK/runs/stage-2/checkpoints/step-700 0.25:WORK/stage-1") in rebuild
    assert "--step 700 --earlier WORK/stage-1/training.json --start-weight 0.25 " in rebuild
    # the note comes back word for word through the shell, backticks and quote included
    assert "--note 'the schedule'\"'\"'s end moved: `--max-steps 900` at step 535' " in rebuild
