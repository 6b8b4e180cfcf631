"""The analysis export (.json and .npz) carries one ``meta`` block: which model, which engine,
which settings; the CLI and the GUI fill it from the model they have loaded."""

from __future__ import annotations

import importlib.metadata
import json
import os
from pathlib import Path

import numpy as np
import pytest

from engine import cli
from engine.analysis_io import save_analysis
from engine.infer import Predictor

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before qtbot makes the application

@pytest.fixture(scope="module")
def predictor(hf_pretraining_dir) -> Predictor:
    return Predictor.load(hf_pretraining_dir, device="cpu")


@pytest.fixture(scope="module")
def analysis(predictor):
    return predictor.analyze("The [MASK] is blue.", "Clouds drift.", top_k=3)


def npz_summary(path: Path) -> dict:
    with np.load(path) as data:
        return json.loads(str(data["summary_json"]))


@pytest.mark.slow
def test_json_and_npz_carry_the_same_meta_block(predictor, analysis, tmp_path):
    options = dict(model_path=predictor.checkpoint.path, model_name=predictor.name,
                   settings={"top_k": 3, "device": "cpu"})
    from_json = json.loads(save_analysis(analysis, tmp_path / "a.json", **options).read_text())
    from_npz = npz_summary(save_analysis(analysis, tmp_path / "a.npz", **options))
    meta = from_json["meta"]
    assert meta == from_npz["meta"]
    assert meta["model_path"] == os.path.abspath(predictor.checkpoint.path)
    assert meta["model_name"] == predictor.name
    assert meta["engine_version"] == importlib.metadata.version("bert-explorer")
    assert meta["settings"] == {"top_k": 3, "device": "cpu"}
    assert isinstance(meta["format_version"], int)
    # The rest of the summary is the same in both, beside the meta block.
    assert from_npz["tokens"] == from_json["tokens"] == analysis.tokens


def test_an_export_without_model_details_still_has_the_block(analysis, tmp_path):
    meta = json.loads(save_analysis(analysis, tmp_path / "a.json").read_text())["meta"]
    assert meta["model_path"] is None and meta["model_name"] is None
    assert meta["settings"] == {} and meta["engine_version"]


def test_cli_attention_export_names_the_model_it_loaded(hf_pretraining_dir, tmp_path, capsys):
    out = tmp_path / "att.npz"
    rc = cli.main(["attention", "--model", str(hf_pretraining_dir), "--device", "cpu",
                   "--top-k", "4", "The [MASK] is blue.", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    meta = npz_summary(out)["meta"]
    loaded = Predictor.load(hf_pretraining_dir, device="cpu")
    assert meta["model_path"] == os.path.abspath(hf_pretraining_dir)
    assert meta["model_name"] == loaded.name
    assert meta["settings"]["top_k"] == 4 and meta["settings"]["device"] == "cpu"


def test_gui_export_names_the_loaded_model(predictor, analysis, tmp_path, qtbot):
    from explorer.state import ExplorerState
    from explorer.widgets.attention import AttentionPanel

    state = ExplorerState()
    summary = predictor.summary()
    state.set_model(summary, analysis)
    panel = AttentionPanel(state)
    qtbot.addWidget(panel)
    meta = json.loads(panel.export_analysis(tmp_path / "a.json").read_text())["meta"]
    assert meta["model_path"] == os.path.abspath(summary.path)
    assert meta["model_name"] == summary.name
    settings = meta["settings"]
    assert settings["device"] == summary.device
    # What the user was looking at travels with the data (explorer.view_record).
    assert (settings["layer"], settings["attention_filter"], settings["colour_scale"]) == (
        state.layer, state.attention_filter, state.colour_scale)


def test_cli_attention_export_names_the_masked_heads(hf_pretraining_dir, tmp_path, capsys):
    out = tmp_path / "ablated.json"
    rc = cli.main(["attention", "--model", str(hf_pretraining_dir), "--device", "cpu",
                   "The [MASK] is blue.", "--mask-heads", "1:0,0:1", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    assert json.loads(out.read_text())["meta"]["masked_heads"] == "0:1,1:0"
