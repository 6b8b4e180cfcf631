"""Checkpoint folders: our save/load round trip, HF and older layouts, and every refusal.

A refusal is always a ``CheckpointError`` whose ``path`` is the offending file (or folder) and
whose message says why; nothing else may escape ``load_checkpoint``.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from conftest import save_hf_model
from engine.checkpoint import (CheckpointError, PICKLE_NAME, SAFETENSORS_INDEX_NAME,
                               SAFETENSORS_NAME, load_checkpoint, save_checkpoint)
from engine.model import BertForPreTraining, BertModel

DECODER_KEYS = ("cls.predictions.decoder.weight", "cls.predictions.decoder.bias")


# ----- helpers -----

def pair_inputs(tokenizer):
    enc = tokenizer.encode("The cat sat on the [MASK].", "It purred loudly.")
    ids = torch.tensor([enc.ids])
    return ids, torch.tensor([enc.token_type_ids]), torch.ones_like(ids)


def pretraining_outputs(model, tokenizer):
    """MLM logits, NSP logits and every attention map for one sentence pair."""
    ids, types, mask = pair_inputs(tokenizer)
    with torch.no_grad():
        out = model.eval()(ids, mask, types, output_attentions=True)
    return out.prediction_logits, out.seq_relationship_logits, out.encoder.attentions


def assert_same_outputs(a, b, atol=0.0):
    (mlm_a, nsp_a, att_a), (mlm_b, nsp_b, att_b) = a, b
    assert torch.allclose(mlm_a, mlm_b, rtol=0, atol=atol), "MLM logits differ"
    assert torch.allclose(nsp_a, nsp_b, rtol=0, atol=atol), f"NSP logits differ {nsp_a} {nsp_b}"
    assert len(att_a) == len(att_b)
    for layer, (x, y) in enumerate(zip(att_a, att_b)):
        assert torch.allclose(x, y, rtol=0, atol=atol), f"attention layer {layer} differs"


def refused(path, *, names: Path, because: str | tuple[str, ...], **kwargs) -> CheckpointError:
    """Load ``path``; it must fail with a CheckpointError naming ``names`` and the reason."""
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, **kwargs)
    exc = info.value
    message = str(exc)
    assert exc.path == Path(names), f"names {exc.path}, expected {names}"
    assert str(names) in message
    for word in (because,) if isinstance(because, str) else because:
        assert word.lower() in message.lower(), f"{word!r} not in {message!r}"
    return exc


@pytest.fixture(scope="module")
def pretrained(hf_pretraining_dir):
    """Our model from the tiny HF folder, nudged off its init so equality means something."""
    ckpt = load_checkpoint(hf_pretraining_dir)
    torch.manual_seed(1)
    with torch.no_grad():
        for p in ckpt.model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    return ckpt


@pytest.fixture
def hf_copy(hf_pretraining_dir, tmp_path) -> Path:
    """A writable copy of the tiny HF pre-training folder, to break in one place."""
    return Path(shutil.copytree(hf_pretraining_dir, tmp_path / "ckpt"))


def edit_config(folder: Path, **changes) -> None:
    path = folder / "config.json"
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# ----- our own save -> load -----

def test_save_load_round_trip_gives_identical_outputs(pretrained, tmp_path):
    folder = save_checkpoint(pretrained.model, tmp_path / "out", pretrained.tokenizer)
    loaded = load_checkpoint(folder)
    assert loaded.architecture == "BertForPreTraining"
    assert loaded.capabilities == {"mlm", "nsp", "attention"}
    assert loaded.warnings == []
    assert loaded.tokenizer.get_vocab() == pretrained.tokenizer.get_vocab()
    assert_same_outputs(pretraining_outputs(pretrained.model, pretrained.tokenizer),
                        pretraining_outputs(loaded.model, loaded.tokenizer))


def test_saved_folder_is_hf_layout_with_decoder_tied(pretrained, tmp_path):
    folder = save_checkpoint(pretrained.model, tmp_path / "out", pretrained.tokenizer)
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["BertForPreTraining"]
    assert config["model_type"] == "bert"
    assert config["hidden_size"] == pretrained.config.hidden_size
    with safe_open(folder / SAFETENSORS_NAME, "pt") as f:
        keys = set(f.keys())
        assert f.metadata() == {"format": "pt"}  # transformers refuses files without it
    assert not keys & set(DECODER_KEYS), "the tied decoder must be stored once, as embeddings"
    assert "bert.embeddings.word_embeddings.weight" in keys and "cls.predictions.bias" in keys
    assert (folder / "vocab.txt").is_file() and (folder / "tokenizer.json").is_file()

    model = load_checkpoint(folder).model
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    assert model.cls.predictions.decoder.bias is model.cls.predictions.bias


def test_fp16_save_loads_back_as_float32_with_close_outputs(pretrained, tmp_path):
    folder = save_checkpoint(pretrained.model, tmp_path / "half", pretrained.tokenizer,
                             dtype=torch.float16)
    with safe_open(folder / SAFETENSORS_NAME, "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    fp32_size = save_checkpoint(pretrained.model, tmp_path / "full").joinpath(
        SAFETENSORS_NAME).stat().st_size
    assert (folder / SAFETENSORS_NAME).stat().st_size < 0.6 * fp32_size

    loaded = load_checkpoint(folder)
    original = pretrained.model.state_dict()
    for name, param in loaded.model.state_dict().items():
        assert param.dtype == torch.float32, name
        assert torch.equal(param, original[name].half().float()), f"{name} is not the fp16 value"
    assert_same_outputs(pretraining_outputs(pretrained.model, pretrained.tokenizer),
                        pretraining_outputs(loaded.model, loaded.tokenizer), atol=2e-2)


def test_save_without_tokenizer_loads_with_a_warning(pretrained, tmp_path):
    folder = save_checkpoint(pretrained.model, tmp_path / "bare")
    loaded = load_checkpoint(folder)
    assert loaded.tokenizer is None
    assert any("tokenizer" in w for w in loaded.warnings)


# ----- atomic save -----

def test_save_over_existing_folder_replaces_it_wholly(pretrained, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "stale.txt").write_text("from an earlier run")
    (folder / PICKLE_NAME).write_bytes(b"old weights that must not survive")
    save_checkpoint(pretrained.model, folder, pretrained.tokenizer)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", SAFETENSORS_NAME,
                                                         "tokenizer.json", "vocab.txt"]
    assert leftovers(tmp_path) == []
    # And saving again over our own output works too.
    save_checkpoint(pretrained.model, folder, pretrained.tokenizer)
    assert leftovers(tmp_path) == []
    assert load_checkpoint(folder).architecture == "BertForPreTraining"


def test_failed_save_leaves_previous_folder_intact(pretrained, tmp_path, monkeypatch):
    folder = save_checkpoint(pretrained.model, tmp_path / "out", pretrained.tokenizer)
    before = snapshot(folder)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("engine.checkpoint.save_file", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(pretrained.model, folder, pretrained.tokenizer, dtype=torch.float16)
    assert snapshot(folder) == before
    assert leftovers(tmp_path) == []
    assert load_checkpoint(folder).architecture == "BertForPreTraining"


def test_failed_swap_puts_previous_folder_back(pretrained, tmp_path, monkeypatch):
    """Writing succeeded but moving the new folder into place failed: the old one returns."""
    folder = save_checkpoint(pretrained.model, tmp_path / "out", pretrained.tokenizer)
    before = snapshot(folder)
    real_replace, calls = os.replace, []

    def flaky_replace(src, dst):
        calls.append((Path(src).name, Path(dst).name))
        if ".tmp-" in Path(src).name:  # the new folder moving into place
            raise OSError(5, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky_replace)
    with pytest.raises(OSError, match="Input/output"):
        save_checkpoint(pretrained.model, folder, pretrained.tokenizer, dtype=torch.float16)
    monkeypatch.undo()
    assert any(".tmp-" in src for src, _ in calls), "the swap was never attempted"
    assert snapshot(folder) == before
    assert leftovers(tmp_path) == []


# ----- older and foreign layouts -----

def test_old_pytorch_bin_spellings_load_with_same_outputs(pretrained, tmp_path):
    folder = tmp_path / "old"
    save_checkpoint(pretrained.model, folder, pretrained.tokenizer)
    (folder / SAFETENSORS_NAME).unlink()
    state = {}
    for key, value in pretrained.model.state_dict().items():
        if key in DECODER_KEYS:
            continue  # old files relied on tying too
        key = key.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias",
                                                                         "LayerNorm.beta")
        state[key] = value.clone()
    assert any(k.endswith("LayerNorm.gamma") for k in state)
    positions = pretrained.config.max_position_embeddings
    state["bert.embeddings.position_ids"] = torch.arange(positions)[None]  # a stored buffer
    torch.save(state, folder / PICKLE_NAME)  # a plain dict, as old transformers wrote it

    loaded = load_checkpoint(folder)
    assert loaded.architecture == "BertForPreTraining"
    assert loaded.warnings == []
    assert loaded.model.cls.predictions.decoder.weight is \
        loaded.model.bert.embeddings.word_embeddings.weight
    assert_same_outputs(pretraining_outputs(pretrained.model, pretrained.tokenizer),
                        pretraining_outputs(loaded.model, loaded.tokenizer))


def test_ordered_dict_pytorch_bin_loads(pretrained, tmp_path):
    folder = save_checkpoint(pretrained.model, tmp_path / "od", pretrained.tokenizer)
    (folder / SAFETENSORS_NAME).unlink()
    torch.save(collections.OrderedDict(pretrained.model.state_dict()), folder / PICKLE_NAME)
    loaded = load_checkpoint(folder)
    assert_same_outputs(pretraining_outputs(pretrained.model, pretrained.tokenizer),
                        pretraining_outputs(loaded.model, loaded.tokenizer))


def test_sharded_safetensors_with_index_loads(pretrained, tmp_path):
    folder = save_checkpoint(pretrained.model, tmp_path / "sharded", pretrained.tokenizer)
    state = load_file(folder / SAFETENSORS_NAME)
    (folder / SAFETENSORS_NAME).unlink()
    keys = sorted(state)
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    halves = [keys[: len(keys) // 2], keys[len(keys) // 2:]]
    weight_map = {}
    for name, part in zip(names, halves):
        save_file({k: state[k] for k in part}, folder / name, metadata={"format": "pt"})
        weight_map.update({k: name for k in part})
    (folder / SAFETENSORS_INDEX_NAME).write_text(json.dumps(
        {"metadata": {"total_size": 0}, "weight_map": weight_map}))

    loaded = load_checkpoint(folder)
    assert loaded.architecture == "BertForPreTraining"
    assert_same_outputs(pretraining_outputs(pretrained.model, pretrained.tokenizer),
                        pretraining_outputs(loaded.model, loaded.tokenizer))

    (folder / names[1]).unlink()
    refused(folder, names=folder / names[1], because="missing shard")


def test_sharded_index_must_name_files_in_the_folder(hf_copy, tmp_path):
    state = load_file(hf_copy / SAFETENSORS_NAME)
    outside = tmp_path / "elsewhere.safetensors"
    save_file(state, outside, metadata={"format": "pt"})
    (hf_copy / SAFETENSORS_NAME).unlink()
    index = hf_copy / SAFETENSORS_INDEX_NAME
    index.write_text(json.dumps({"weight_map": {k: str(outside) for k in state}}))
    refused(hf_copy, names=index, because="not a file name in this folder")
    index.write_text(json.dumps({"weight_map": {k: "../elsewhere.safetensors" for k in state}}))
    refused(hf_copy, names=index, because="not a file name in this folder")
    index.write_text(json.dumps(["not", "an", "index"]))
    refused(hf_copy, names=index, because="unreadable shard index")
    index.write_text(json.dumps({"weight_map": {"a": ["list"]}}))
    refused(hf_copy, names=index, because="not a file name")


# ----- encoder-only checkpoints -----

def test_encoder_only_folder_loads_as_bert_model(minilm_dir):
    ckpt = load_checkpoint(minilm_dir)
    assert ckpt.architecture == "BertModel"
    assert isinstance(ckpt.model, BertModel)
    assert ckpt.capabilities == {"attention"}
    assert "mlm" not in ckpt.capabilities and "nsp" not in ckpt.capabilities
    missing = " ".join(ckpt.missing_capabilities)
    assert "fill-mask" in missing and "next-sentence" in missing
    # Weights are the file's (bare keys, stored position_ids dropped), pooler included.
    stored = load_file(minilm_dir / SAFETENSORS_NAME)
    ours = ckpt.model.state_dict()
    for key, value in stored.items():
        if key.endswith("position_ids"):
            continue
        assert torch.equal(ours[key], value.float()), key
    assert set(ours) == {k for k in stored if not k.endswith("position_ids")}


def test_encoder_only_as_pretraining_initialises_heads_and_warns(minilm_dir):
    ckpt = load_checkpoint(minilm_dir, architecture="BertForPreTraining")
    assert isinstance(ckpt.model, BertForPreTraining)
    assert {"mlm", "nsp"} <= ckpt.capabilities
    assert ckpt.missing_capabilities == []
    warning = " ".join(ckpt.warnings)
    assert "newly initialised" in warning
    assert "cls.predictions.bias" in warning and "cls.seq_relationship.weight" in warning
    assert "bert.encoder" not in warning and "bert.embeddings" not in warning
    model = ckpt.model
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    stored = load_file(minilm_dir / SAFETENSORS_NAME)
    encoder = model.bert.state_dict()
    for key, value in stored.items():
        if not key.endswith("position_ids"):
            assert torch.equal(encoder[key], value.float()), key
    # The fresh heads still produce a proper distribution over the vocabulary.
    ids, types, mask = pair_inputs(ckpt.tokenizer)
    with torch.no_grad():
        out = model(ids, mask, types)
    assert out.prediction_logits.shape == (1, ids.shape[1], ckpt.config.vocab_size)
    assert torch.isfinite(out.prediction_logits).all()


def test_unknown_architecture_is_refused(hf_pretraining_dir):
    refused(hf_pretraining_dir, names=hf_pretraining_dir, because="unknown architecture",
            architecture="GPT2LMHeadModel")


# ----- capability detection per architecture (folders written by transformers) -----

@pytest.mark.parametrize("model_class, capabilities", [
    ("BertForPreTraining", {"mlm", "nsp"}),
    ("BertForMaskedLM", {"mlm"}),
    ("BertForSequenceClassification", {"classify"}),
    ("BertForTokenClassification", {"tag"}),
    ("BertForQuestionAnswering", {"qa"}),
])
def test_capabilities_follow_the_saved_heads(model_class, capabilities, tmp_path, vocab_file):
    folder = save_hf_model(model_class, tmp_path / "hf", vocab_file, num_labels=2)
    ckpt = load_checkpoint(folder)
    assert ckpt.architecture == model_class
    assert type(ckpt.model).__name__ == model_class
    assert ckpt.capabilities == capabilities | {"attention"}
    assert ("fill-mask (MLM head)" in ckpt.missing_capabilities) == ("mlm" not in capabilities)
    assert ("next-sentence prediction (NSP head)" in ckpt.missing_capabilities) == \
        ("nsp" not in capabilities)
    assert not any("ignored" in w for w in ckpt.warnings), ckpt.warnings


# ----- refusals: folder and config -----

def test_path_that_is_not_a_folder_is_refused(hf_pretraining_dir, tmp_path):
    refused(tmp_path / "nope", names=tmp_path / "nope", because="not a folder")
    config = hf_pretraining_dir / "config.json"
    refused(config, names=config, because="not a folder")


def test_missing_config_is_refused(hf_copy):
    (hf_copy / "config.json").unlink()
    refused(hf_copy, names=hf_copy / "config.json", because=("missing", "config.json"))


@pytest.mark.parametrize("text, reason", [
    ('{"hidden_size": 32,', "not valid JSON"),
    ("\udcff", "not valid JSON"),  # written as invalid UTF-8 below
    ("[1, 2, 3]", "not a JSON object"),
    ('"bert"', "not a JSON object"),
])
def test_unreadable_config_is_refused(hf_copy, text, reason):
    path = hf_copy / "config.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    refused(hf_copy, names=path, because=reason)


def test_config_of_another_model_type_is_refused(hf_copy):
    edit_config(hf_copy, model_type="roberta")
    refused(hf_copy, names=hf_copy / "config.json", because=("roberta", "not a BERT"))


@pytest.mark.parametrize("changes, reason", [
    ({"num_attention_heads": 5}, "not a multiple of num_attention_heads"),
    ({"hidden_act": "mish"}, "hidden_act"),
    ({"num_hidden_layers": 0}, "num_hidden_layers"),
    ({"vocab_size": "big"}, "vocab_size"),
])
def test_invalid_config_is_refused(hf_copy, changes, reason):
    edit_config(hf_copy, **changes)
    refused(hf_copy, names=hf_copy / "config.json", because=("invalid config", reason))


# ----- refusals: weights files -----

def test_folder_without_weights_is_refused(hf_copy):
    (hf_copy / SAFETENSORS_NAME).unlink()
    refused(hf_copy, names=hf_copy, because=("no weights", SAFETENSORS_NAME, PICKLE_NAME))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupt_safetensors_is_refused(hf_copy, damage):
    path = hf_copy / SAFETENSORS_NAME
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2],
                      "garbage": bytes(range(256)) * 16,
                      "empty": b""}[damage])
    refused(hf_copy, names=path, because="truncated or corrupt safetensors")


@pytest.fixture
def bin_folder(hf_copy) -> Path:
    """The HF copy with its weights as a pytorch_model.bin instead of safetensors."""
    state = load_file(hf_copy / SAFETENSORS_NAME)
    (hf_copy / SAFETENSORS_NAME).unlink()
    torch.save(state, hf_copy / PICKLE_NAME)
    return hf_copy


def test_pytorch_bin_folder_loads(bin_folder, hf_pretraining_dir):
    a, b = load_checkpoint(bin_folder), load_checkpoint(hf_pretraining_dir)
    assert a.architecture == b.architecture == "BertForPreTraining"
    assert_same_outputs(pretraining_outputs(a.model, a.tokenizer),
                        pretraining_outputs(b.model, b.tokenizer))


@pytest.mark.parametrize("damage", ["truncated", "head only", "garbage", "text", "empty",
                                    "legacy truncated"])
def test_corrupt_pytorch_bin_is_refused(bin_folder, damage):
    path = bin_folder / PICKLE_NAME
    data = path.read_bytes()
    if damage == "legacy truncated":  # the pre-zip torch.save format, cut short
        torch.save({"w": torch.zeros(1000)}, path, _use_new_zipfile_serialization=False)
        data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "head only": data[:40],
                      "garbage": bytes(range(256)) * 16, "text": b"hello, not a checkpoint\n",
                      "empty": b"", "legacy truncated": data[: len(data) // 2]}[damage])
    exc = refused(bin_folder, names=path, because="truncated or corrupt PyTorch file")
    assert "pickled Python objects" not in str(exc)  # bad bytes are not a security refusal


def create_marker(path: str) -> None:
    Path(path).write_text("the pickled payload ran")


class Payload:
    """Unpickling this runs code: it would create the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (create_marker, (str(self.marker),))


def test_pickled_code_is_refused_and_never_runs(bin_folder, tmp_path):
    marker = tmp_path / "payload-ran"
    path = bin_folder / PICKLE_NAME
    state = torch.load(path, weights_only=True)
    state["bert.embeddings.payload"] = Payload(marker)
    torch.save(state, path)
    assert not marker.exists()
    exc = refused(bin_folder, names=path, because=("pickled", "refusing"))
    assert "create_marker" in str(exc), "the message should name the refused object"
    assert not marker.exists(), "the pickled payload was executed"


def test_pickled_non_tensor_object_is_refused(bin_folder):
    import datetime

    path = bin_folder / PICKLE_NAME
    state = collections.OrderedDict(torch.load(path, weights_only=True))
    state["saved_at"] = datetime.datetime(2020, 1, 1)
    torch.save(state, path)
    exc = refused(bin_folder, names=path, because="pickled")
    assert "datetime" in str(exc)


@pytest.mark.parametrize("content, holds", [
    ("list", "list"),
    ("int keys", "dict"),
    ("non-tensor values", "dict"),
])
def test_pytorch_bin_that_is_not_a_state_dict_is_refused(bin_folder, content, holds):
    path = bin_folder / PICKLE_NAME
    state = torch.load(path, weights_only=True)
    obj = {"list": list(state.values()),
           "int keys": {i: v for i, v in enumerate(state.values())},
           "non-tensor values": {**state, "step": 1000}}[content]
    torch.save(obj, path)
    refused(bin_folder, names=path, because=("not a state dict of tensors", holds))


# ----- refusals: weights that do not fit the config -----

def test_shape_mismatch_names_the_parameter(hf_copy):
    edit_config(hf_copy, hidden_size=64)  # still divisible by 4 heads
    exc = refused(hf_copy, names=hf_copy / SAFETENSORS_NAME, because="shape mismatch for")
    name = str(exc).split("shape mismatch for ", 1)[1].split(":", 1)[0]
    stored = load_file(hf_copy / SAFETENSORS_NAME)
    assert name in stored, f"{name!r} is not a parameter of the file"
    assert str(tuple(stored[name].shape)) in str(exc)


def test_shape_mismatch_in_one_layer_is_named(hf_copy):
    edit_config(hf_copy, intermediate_size=40)
    exc = refused(hf_copy, names=hf_copy / SAFETENSORS_NAME, because="shape mismatch")
    assert any(f"bert.encoder.layer.{i}.{part}" in str(exc) for i in range(2)
               for part in ("intermediate.dense.weight", "intermediate.dense.bias",
                            "output.dense.weight")), str(exc)
    assert "(37, 32)" in str(exc) or "(37,)" in str(exc) or "(32, 37)" in str(exc)


def test_missing_encoder_weight_is_refused(hf_copy):
    path = hf_copy / SAFETENSORS_NAME
    state = load_file(path)
    del state["bert.encoder.layer.1.attention.self.query.weight"]
    save_file(state, path, metadata={"format": "pt"})
    refused(hf_copy, names=path, because=("missing", "encoder",
                                          "bert.encoder.layer.1.attention.self.query.weight"))


def test_missing_head_weight_is_initialised_with_a_warning(hf_copy):
    path = hf_copy / SAFETENSORS_NAME
    state = load_file(path)
    del state["cls.seq_relationship.weight"]
    save_file(state, path, metadata={"format": "pt"})
    ckpt = load_checkpoint(hf_copy, architecture="BertForPreTraining")
    assert any("newly initialised" in w and "cls.seq_relationship.weight" in w
               for w in ckpt.warnings), ckpt.warnings


def test_tokenizer_larger_than_model_vocab_is_refused(hf_copy):
    with open(hf_copy / "vocab.txt", "a", encoding="utf-8") as f:
        f.write("".join(f"zzextra{i}\n" for i in range(10)))
    refused(hf_copy, names=hf_copy, because=("tokenizer has 30532 tokens", "vocab_size is 30522"))


def test_unreadable_tokenizer_is_refused(hf_copy):
    (hf_copy / "vocab.txt").write_text("just\nsome\nwords\n")
    refused(hf_copy, names=hf_copy, because=("unreadable tokenizer", "missing special tokens"))


def test_new_heads_on_a_real_encoder_start_from_berts_init(minilm_dir):
    """Continued pretraining starts here: fresh heads must be initialised, not empty memory."""
    model = load_checkpoint(minilm_dir, architecture="BertForPreTraining").model
    heads = model.cls
    assert abs(heads.predictions.transform.dense.weight.std().item() - 0.02) < 0.002
    assert abs(heads.seq_relationship.weight.std().item() - 0.02) < 0.005
    assert heads.predictions.bias.eq(0).all() and heads.seq_relationship.bias.eq(0).all()
    assert heads.predictions.transform.LayerNorm.weight.eq(1).all()
    # The tied decoder is the real, trained word-embedding matrix, not a fresh one.
    embeddings = load_file(minilm_dir / SAFETENSORS_NAME)["embeddings.word_embeddings.weight"]
    assert torch.equal(heads.predictions.decoder.weight, embeddings)
    assert heads.predictions.decoder.bias is heads.predictions.bias
    assert not any(p.is_meta for p in model.parameters())
