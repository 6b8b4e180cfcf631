"""``bert-engine``: the installed console script as a user runs it, plus the bad-input matrix.

Each subprocess costs ~2 s (interpreter + torch import), so the real script runs once per
subcommand and per kind of failure that only a real process shows (exit status, stderr, a
traceback, a broken pipe); everything else calls ``engine.cli.main`` in-process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import cli
from engine import paths
from engine.paths import default_model_dir

SCRIPT = Path(sys.executable).with_name("bert-engine")
SUBCOMMANDS = ("info", "fill-mask", "nsp", "attention", "analyze")
PAIR = ("The cat sat on the [MASK].", "It purred loudly.")


def run(*args: str, check_rc: int | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run the real console script; never a traceback, whatever the exit status."""
    assert SCRIPT.is_file(), f"console script missing: {SCRIPT} (pip install -e .)"
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", **kwargs.pop("env", {})}
    proc = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=120,
                          env=env, **kwargs)
    assert "Traceback" not in proc.stderr, proc.stderr
    if check_rc is not None:
        assert proc.returncode == check_rc, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def run_json(*args: str, rc: int = 0) -> dict:
    proc = run(*args, "--json", check_rc=rc)
    return json.loads(proc.stdout)


def assert_one_line_error(stderr: str, *words: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {stderr!r}"
    assert lines[0].startswith("bert-engine: error: "), lines[0]
    for word in words:
        assert word.lower() in lines[0].lower(), f"{word!r} not in {lines[0]!r}"


def call(capsys, *argv: str) -> tuple[int, str, str]:
    """``bert-engine argv`` in-process: (exit status, stdout, stderr)."""
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def call_json(capsys, *argv: str, rc: int = 0) -> dict:
    got, out, err = call(capsys, *argv, "--json")
    assert got == rc, (got, out, err)
    assert err == ""
    return json.loads(out)


def assert_attention_ok(att: np.ndarray, layers: int, heads: int, tokens: int) -> None:
    assert att.shape == (layers, heads, tokens, tokens)
    assert att.dtype == np.float32 or att.dtype == np.float64
    assert np.all(att >= 0)
    np.testing.assert_allclose(att.sum(-1), 1.0, atol=1e-4)


def assert_candidates_ok(fill_mask: list[dict], k: int) -> None:
    for m in fill_mask:
        probs = [c["prob"] for c in m["candidates"]]
        assert len(probs) == k
        assert probs == sorted(probs, reverse=True), "candidates must be most probable first"
        assert all(0 < p <= 1 for p in probs)
        assert len({c["id"] for c in m["candidates"]}) == k
        assert all(isinstance(c["token"], str) and c["token"] for c in m["candidates"])


@pytest.fixture(scope="module")
def tiny(hf_pretraining_dir) -> str:
    return str(hf_pretraining_dir)


# ----- the real console script: one smoke test per subcommand -----

@pytest.mark.slow
def test_info(tiny):
    data = run_json("info", "--model", tiny, "--device", "cpu")
    assert data["architecture"] == "BertForPreTraining"
    assert (data["layers"], data["heads"], data["hidden"]) == (2, 4, 32)
    assert data["capabilities"] == ["attention", "mlm", "nsp"]
    assert data["missing_capabilities"] == []
    assert data["vocab_size"] == data["tokenizer_vocab"] == 30522
    assert data["lowercase"] is True
    assert data["parameters"] > 0
    assert data["device"] == "cpu"


@pytest.mark.slow
def test_fill_mask(tiny):
    data = run_json("fill-mask", "--model", tiny, "--device", "cpu", "--top-k", "7",
                    "The [MASK] sat on the [MASK].")
    masks = [i for i, t in enumerate(data["tokens"]) if t == "[MASK]"]
    assert [m["position"] for m in data["fill_mask"]] == masks and len(masks) == 2
    assert_candidates_ok(data["fill_mask"], 7)
    assert data["tokens"][0] == "[CLS]" and data["tokens"][-1] == "[SEP]"


@pytest.mark.slow
def test_nsp(tiny):
    data = run_json("nsp", "--model", tiny, "--device", "cpu", *PAIR)
    assert 0.0 <= data["nsp_is_next"] <= 1.0
    assert data["text_b"] == PAIR[1]
    assert data["token_type_ids"].count(1) > 0


@pytest.mark.parametrize("suffix", [".npz", ".json"])
@pytest.mark.slow
def test_attention_export(tiny, tmp_path, suffix):
    out = tmp_path / f"att{suffix}"
    data = run_json("attention", "--model", tiny, "--device", "cpu", "--out", str(out), *PAIR)
    assert Path(data["written"]) == out and out.is_file()
    assert [p.name for p in tmp_path.iterdir()] == [out.name], "no temp file left behind"
    tokens = data["tokens"]
    if suffix == ".npz":
        with np.load(out) as z:
            att, saved_tokens = z["attentions"], z["tokens"].tolist()
            assert z["token_ids"].tolist() == data["token_ids"]
            assert json.loads(str(z["summary_json"]))["tokens"] == tokens
    else:
        saved = json.loads(out.read_text())
        att, saved_tokens = np.asarray(saved["attentions"]), saved["tokens"]
        assert saved["token_type_ids"] == data["token_type_ids"]
    assert saved_tokens == tokens
    assert data["attention_shape"] == [2, 4, len(tokens), len(tokens)]
    assert_attention_ok(att, 2, 4, len(tokens))


@pytest.mark.slow
def test_analyze(tiny):
    data = run_json("analyze", "--model", tiny, "--device", "cpu", *PAIR)
    assert data["attention_shape"] == [2, 4, len(data["tokens"]), len(data["tokens"])]
    assert len(data["fill_mask"]) == 1
    assert_candidates_ok(data["fill_mask"], 5)  # the default --top-k
    assert 0.0 <= data["nsp_is_next"] <= 1.0
    assert data["special_mask"].count(True) == 3


@pytest.mark.slow
def test_analyze_human_output_on_an_encoder_only_model(minilm_dir):
    proc = run("analyze", "--model", str(minilm_dir), "--device", "cpu",
               "Paris is the capital of [MASK].", "It lies on the Seine.", check_rc=0)
    out = proc.stdout
    assert "paris" in out and "seine" in out  # lowercased word pieces
    assert "layer  5:" in out  # six layers, one strongest-link line each
    assert "no MLM head" in out
    assert "ms on cpu" in out


@pytest.mark.slow
def test_fill_mask_without_mlm_head_exits_1_with_a_note(minilm_dir):
    proc = run("fill-mask", "--model", str(minilm_dir), "--device", "cpu",
               "Paris is the [MASK] of France.", check_rc=1)
    assert "no MLM head" in proc.stdout
    assert proc.stderr == ""


@pytest.mark.slow
def test_nsp_without_nsp_head_exits_1(minilm_dir):
    data = run_json("nsp", "--model", str(minilm_dir), "--device", "cpu", *PAIR, rc=1)
    assert data["nsp_is_next"] is None
    assert any("no NSP head" in n for n in data["notes"])


@pytest.mark.slow
def test_help_runs_without_a_model():
    proc = run("--help", check_rc=0)
    for name in SUBCOMMANDS:
        assert name in proc.stdout


@pytest.mark.slow
def test_nonexistent_model_is_a_one_line_error(tmp_path):
    proc = run("info", "--model", str(tmp_path / "missing"), check_rc=2)
    assert_one_line_error(proc.stderr, str(tmp_path / "missing"), "not a folder")
    assert proc.stdout == ""


@pytest.mark.slow
def test_corrupt_weights_are_a_one_line_error(tiny, tmp_path):
    folder = Path(shutil.copytree(tiny, tmp_path / "broken"))
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    proc = run("fill-mask", "--model", str(folder), "--device", "cpu", "a [MASK]", check_rc=2)
    assert_one_line_error(proc.stderr, str(weights), "truncated or corrupt")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.slow
def test_cuda_on_a_cpu_machine_is_a_one_line_error(tiny):
    proc = run("nsp", "--model", tiny, "--device", "cuda", *PAIR, check_rc=2)
    assert_one_line_error(proc.stderr, "CUDA", "--device cpu")


@pytest.mark.slow
def test_no_model_and_no_bundled_default(tmp_path):
    proc = run("info", "--json", cwd=tmp_path)
    if default_model_dir() is not None:
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["path"] == str(default_model_dir())
    else:
        assert proc.returncode == 2
        assert_one_line_error(proc.stderr, "no --model", "bundled")


@pytest.mark.slow
def test_reader_closing_the_pipe_is_not_a_traceback(tiny):
    """``bert-engine attention ... --json | head -1``: the output outlives its reader."""
    proc = subprocess.Popen([str(SCRIPT), "analyze", "--model", tiny, "--device", "cpu",
                             "--json", "--top-k", "2000", "[MASK] " * 20],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # nobody reads: the first large write meets a closed pipe
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) in (0, 1)
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


# ----- in-process: help for every subcommand -----

@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_subcommand_help(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([name, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert f"bert-engine {name}" in out
    for option in ("--model", "--device", "--json"):
        assert option in out
    assert ("--out" in out) == (name == "attention")
    assert ("TEXT_A" in out) == (name != "info")


def test_usage_errors_exit_2(capsys):
    for argv in ([], ["frobnicate"], ["nsp", "--model", "x", "only A"], ["attention", "a"]):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        assert exit_info.value.code == 2, argv
        assert "usage:" in capsys.readouterr().err


# ----- in-process: the bad-input matrix -----

def test_no_model_in_process(capsys, monkeypatch):
    monkeypatch.setattr(paths, "default_model_dir", lambda: None)
    rc, out, err = call(capsys, "analyze", "some text")
    assert (rc, out) == (2, "")
    assert_one_line_error(err, "no --model")


@pytest.mark.parametrize("k", ["0", "-3"])
def test_top_k_below_one(tiny, capsys, k):
    rc, out, err = call(capsys, "fill-mask", "--model", tiny, "--device", "cpu",
                        "--top-k", k, "a [MASK]")
    assert (rc, out) == (2, "")
    assert_one_line_error(err, "--top-k", k)


def test_top_k_larger_than_the_vocabulary_is_capped(tiny, capsys):
    data = call_json(capsys, "fill-mask", "--model", tiny, "--device", "cpu",
                     "--top-k", "100000", "a [MASK]")
    assert len(data["fill_mask"][0]["candidates"]) == 30522
    assert sum(c["prob"] for c in data["fill_mask"][0]["candidates"]) == pytest.approx(1, abs=1e-3)


@pytest.mark.parametrize("name", ["att.txt", "att", "att.NPZ", "att.npz.gz"])
def test_out_with_a_wrong_suffix(tiny, tmp_path, capsys, name):
    out_file = tmp_path / name
    rc, out, err = call(capsys, "attention", "--model", tiny, "--device", "cpu",
                        "--out", str(out_file), "a [MASK]")
    assert (rc, out) == (2, "")
    assert_one_line_error(err, ".npz", ".json")
    assert list(tmp_path.iterdir()) == []


def test_out_in_a_missing_folder(tiny, tmp_path, capsys):
    rc, out, err = call(capsys, "attention", "--model", tiny, "--device", "cpu",
                        "--out", str(tmp_path / "no" / "such" / "att.npz"), "a [MASK]")
    assert (rc, out) == (2, "")
    assert_one_line_error(err, "att.npz")


def test_unknown_device(tiny, capsys):
    rc, _, err = call(capsys, "info", "--model", tiny, "--device", "tpu:7")
    assert rc == 2
    assert_one_line_error(err, "device")


def test_empty_text_a(tiny, capsys):
    data = call_json(capsys, "analyze", "--model", tiny, "--device", "cpu", "")
    assert data["tokens"] == ["[CLS]", "[SEP]"]
    assert any("empty" in w for w in data["warnings"])
    assert data["attention_shape"] == [2, 4, 2, 2]
    rc, out, err = call(capsys, "fill-mask", "--model", tiny, "--device", "cpu", "")
    assert rc == 1 and err == ""
    assert "no [MASK]" in out and "sentence A is empty" in out
    data = call_json(capsys, "nsp", "--model", tiny, "--device", "cpu", "", "  ", rc=1)
    assert data["nsp_is_next"] is None
    assert any("sentence B" in n for n in data["notes"])


def test_only_masks(tiny, capsys):
    data = call_json(capsys, "fill-mask", "--model", tiny, "--device", "cpu", "--top-k", "3",
                     "[MASK] [MASK]")
    assert data["tokens"] == ["[CLS]", "[MASK]", "[MASK]", "[SEP]"]
    assert [m["position"] for m in data["fill_mask"]] == [1, 2]
    assert_candidates_ok(data["fill_mask"], 3)
    rc, out, err = call(capsys, "analyze", "--model", tiny, "--device", "cpu", "[MASK] [MASK]")
    assert rc == 0 and err == ""
    assert out.count("[MASK] at") == 2 and "layer  1: [MASK] -> [MASK]" in out


def test_control_characters_and_nul(tiny, capsys):
    text = "tab\there\x00nul \x07bell \x1b[31mred\x1b[0m [MASK] \x7f end\r\n"
    data = call_json(capsys, "fill-mask", "--model", tiny, "--device", "cpu", text)
    assert data["text_a"] == text  # echoed back exactly, JSON-escaped
    assert len(data["fill_mask"]) == 1
    for tok in data["tokens"]:
        assert tok.isprintable() and "\x00" not in tok
    rc, out, err = call(capsys, "analyze", "--model", tiny, "--device", "cpu", text, "\x00")
    assert rc == 0 and err == ""
    assert "\x00" not in out and "\x1b" not in out


def test_very_long_text_is_truncated_with_a_warning(tiny, capsys):
    text = ("word " * 4000)[:20_000]
    data = call_json(capsys, "analyze", "--model", tiny, "--device", "cpu", text, "short b")
    assert data["attention_shape"] == [2, 4, 64, 64]  # max_position_embeddings of the tiny model
    assert data["truncated_a"] > 3000 and data["truncated_b"] == 0
    assert any("truncated" in w for w in data["warnings"])
    rc, out, err = call(capsys, "fill-mask", "--model", tiny, "--device", "cpu", text)
    assert rc == 1 and err == ""
    assert "warning: truncated" in out


def test_undecodable_argv_bytes_still_print(tiny, capsys):
    """A lone surrogate (invalid UTF-8 in argv) must not crash printing the result."""
    text = "caf\udcc3 [MASK]"
    data = call_json(capsys, "fill-mask", "--model", tiny, "--device", "cpu", text)
    assert data["text_a"] == text
    rc, out, err = call(capsys, "fill-mask", "--model", tiny, "--device", "cpu", text)
    assert rc == 0 and err == "" and "[MASK] at" in out


def test_model_folder_without_tokenizer(tiny, tmp_path, capsys):
    folder = Path(shutil.copytree(tiny, tmp_path / "no-vocab"))
    (folder / "vocab.txt").unlink()
    rc, out, err = call(capsys, "info", "--model", str(folder), "--device", "cpu")
    assert (rc, out) == (2, "")
    assert_one_line_error(err, "tokenizer", str(folder))


def test_export_writes_half_precision_that_loads_as_the_same_model(capsys, hf_pretraining_dir,
                                                                   tmp_path):
    import transformers
    from safetensors import safe_open

    from engine.checkpoint import load_checkpoint

    out = tmp_path / "fp16"
    rc, stdout, _ = call(capsys, "export", "--model", str(hf_pretraining_dir), "--out", str(out),
                         "--dtype", "fp16")
    assert rc == 0 and "fp16" in stdout
    with safe_open(out / "model.safetensors", "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    assert (out / "vocab.txt").is_file()
    ids = torch.tensor([[101, 1996, 4937, 103, 2006, 102, 2009, 2001, 102]])
    types = torch.tensor([[0] * 6 + [1] * 3])
    full, half = load_checkpoint(hf_pretraining_dir).model, load_checkpoint(out).model
    assert next(half.parameters()).dtype == torch.float32  # loads back to fp32 for inference
    hf = transformers.BertForPreTraining.from_pretrained(out, dtype=torch.float32).eval()
    with torch.no_grad():
        a, b, c = (m(ids, token_type_ids=types).prediction_logits for m in (full, half, hf))
    assert (a - b).abs().max() < 1e-2 and (b - c).abs().max() < 1e-4

    rc, _, err = call(capsys, "export", "--model", str(hf_pretraining_dir), "--out", str(out))
    assert rc == 2 and "already exists" in err
