"""The corpus index (``bert-engine index`` / ``search``): exact search is brute force, a token
finds itself, the compressed index keeps its recall, a killed job resumes to the same index as
a straight build, and another model's or vocabulary's index is refused with the reason."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import CORPUS_SLICE, save_hf_model
from engine import cli
from engine.corpus_index.build import start_index
from engine.corpus_index.search import CorpusIndex, search_text
from engine.corpus_index.spec import IndexSpec
from engine.corpus_index.store import MANIFEST_NAME
from engine.results_corpus import CorpusIndexError

RECALL_FLOOR = 0.9  # measured 0.99-1.00 on these tiny-model indexes (re-scored candidates)


def corpus_file(folder: Path, lines: int, start: int = 0) -> Path:
    text = CORPUS_SLICE.read_text(encoding="utf-8").splitlines()
    path = folder / "corpus.txt"
    path.write_text("\n".join(line for line in text[start:start + lines] if line.strip()) + "\n",
                    encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory, hf_pretraining_dir) -> Path:
    """A finished index of ~12k tokens of the slice, layers 0 and 1 with contexts, 4 shards."""
    folder = tmp_path_factory.mktemp("index")
    spec = IndexSpec(corpus=[str(corpus_file(folder, 600))], layers="0,-1",
                     model=str(hf_pretraining_dir), contexts=True, shard_tokens=3000,
                     compress_from=1000, device="cpu")
    end = start_index(spec, str(folder / "idx"))
    assert end.state == "finished"
    return end.path


@pytest.fixture(scope="module")
def index(built) -> CorpusIndex:
    return CorpusIndex(built)


def stored(index: CorpusIndex, stem: str) -> np.ndarray:
    return np.concatenate([np.asarray(s.vectors(stem), dtype=np.float32) for s in index.shards])


def brute_force(vectors: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = vectors @ query
    top = np.argsort(-scores, kind="stable")[:k]
    return scores[top], top


def test_the_index_stores_unit_vectors_of_every_non_special_token(index, tiny_predictor):
    assert index.manifest["shards"] == [f"shard-0000{i}" for i in range(len(index.shards))]
    assert len(index.shards) >= 3 and index.layers == [0, 1]
    hidden = stored(index, "hidden-1")
    assert hidden.shape == (index.tokens, 32)
    np.testing.assert_allclose(np.linalg.norm(hidden, axis=1), 1, atol=2e-3)
    heads = stored(index, "context-0").reshape(index.tokens, 4, 8)
    np.testing.assert_allclose(np.linalg.norm(heads, axis=2), 1, atol=2e-3)
    # A sentence's tokens are those the tokenizer gives it, specials left out.
    shard = index.shards[0]
    sentence = int(shard.columns["sentence"][0])
    rows = shard.columns["sentence"] == sentence
    enc = tiny_predictor.tokenizer.encode(shard.sentence_text(sentence), max_length=64)
    assert shard.columns["token_id"][rows].tolist() == enc.ids[1:-1]
    assert shard.columns["position"][rows].tolist() == list(range(1, len(enc.ids) - 1))


@pytest.mark.parametrize("stem,by,heads", [("hidden-1", "embedding", None),
                                           ("hidden-0", "embedding", None),
                                           ("context-1", "context", [1, 3])])
def test_exact_search_equals_numpy_brute_force(index, tiny_predictor, stem, by, heads):
    layer = int(stem.split("-")[1])
    result = search_text(tiny_predictor, index, "The river ran past the old mill.", None, 2,
                         layer, by, heads, top_k=15, mode="exact")
    assert result.mode == "exact" and len(result.matches) == 15
    vectors = stored(index, stem)
    query = _query_vector(tiny_predictor, "The river ran past the old mill.", 2, layer, by)
    if heads:  # the mean of the chosen heads' cosines
        vectors = vectors.reshape(len(vectors), 4, 8)[:, heads].reshape(len(vectors), -1)
        query = query.reshape(4, 8)[heads].reshape(-1) / len(heads)
    scores, rows = brute_force(vectors, query, 15)
    np.testing.assert_allclose([m.cosine for m in result.matches], scores, atol=1e-4)
    # Each match is the corpus token with that score (ties may come in either order).
    row_of = {key: row for row, key in enumerate(_token_keys(index))}
    rows_found = [row_of[(m.sentence_index, m.position)] for m in result.matches]
    assert len(set(rows_found)) == 15
    np.testing.assert_allclose(vectors[rows_found] @ query, scores, atol=1e-4)


def _token_keys(index: CorpusIndex) -> list[tuple[int, int]]:
    return [(int(s), int(p)) for shard in index.shards
            for s, p in zip(shard.columns["sentence"], shard.columns["position"])]


def _query_vector(predictor, text, token, layer, by):
    import torch

    from engine.corpus_index.vectors import layer_vectors

    enc = predictor.tokenizer.encode(text)
    ids = torch.tensor([enc.ids])
    with torch.inference_mode():
        out = layer_vectors(predictor.encoder, ids, torch.zeros_like(ids), torch.ones_like(ids),
                            (layer,), by == "context")
    kind = "hidden" if by == "embedding" else "context"
    return out[f"{kind}-{layer}"][0, token].numpy()


def test_an_indexed_token_is_its_own_top_match_at_cosine_one(index, tiny_predictor):
    shard = index.shards[1]
    sentence = int(shard.columns["sentence"][5])
    text = shard.sentence_text(sentence)
    for layer in (0, 1):
        result = search_text(tiny_predictor, index, text, None, 3, layer, top_k=5, mode="exact")
        # The tiny random model barely mixes context: the same word at the same position
        # elsewhere can tie with it, within float16 rounding.
        tied = [m for m in result.matches if m.cosine >= 1 - 2e-3]
        own = [m for m in tied if (m.sentence_index, m.position) == (sentence, 3)]
        assert result.matches[0].cosine == pytest.approx(1.0, abs=2e-3) and len(own) == 1
        assert own[0].sentence == text and own[0].word == text[own[0].word_start:own[0].word_end]
        assert own[0].token == result.query_tokens[3]


def test_the_compressed_index_keeps_its_recall_against_exact_search(index, tiny_predictor):
    info = index.manifest["compressed"]["hidden-1"]
    assert info["recall_at_10"] >= RECALL_FLOOR and info["bytes_per_vector"] < 2 * 32
    vectors = stored(index, "hidden-1")
    queries = np.random.default_rng(7).choice(len(vectors), 40, replace=False)
    found = 0
    for row in queries:
        _, truth = brute_force(vectors, vectors[row], 10)
        _, ids, mode = index.nearest(vectors[row], "hidden-1", 10, mode="compressed")
        assert mode == "compressed"
        found += len(set(truth.tolist()) & set(ids.tolist()))
    assert found / (10 * len(queries)) >= RECALL_FLOOR


def test_search_prints_the_json_fields_the_issue_names(capsys, built):
    rc = cli.main(["search", "--index", str(built), "The river ran past the old mill.",
                   "--token", "2", "--layer", "-1", "--top-k", "7", "--json", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    data = json.loads(out)
    assert len(data["matches"]) == 7 and data["layer"] == 1
    for match in data["matches"]:
        assert {"cosine", "sentence", "position", "word"} <= set(match)
        assert match["word"] in match["sentence"]
    assert sum(w["count"] for w in data["summary"]) == 7
    cosines = [m["cosine"] for m in data["matches"]]
    assert cosines == sorted(cosines, reverse=True)


@pytest.mark.parametrize("argv,message", [
    (["--token", "99", "--layer", "0"], "--token 99"),
    (["--token", "1", "--layer", "0", "--heads", "1"], "--heads needs --by context"),
    (["--token", "1", "--layer", "0", "--by", "context", "--heads", "7"], "heads 0..3"),
    (["--token", "1", "--layer", "5"], "not layer 5"),
])
def test_search_refuses_what_the_index_or_input_lacks(capsys, built, argv, message):
    rc = cli.main(["search", "--index", str(built), "A short line.", *argv, "--device", "cpu"])
    _, err = capsys.readouterr()
    assert rc == 2 and message in err and "Traceback" not in err


def test_an_index_of_another_vocabulary_or_model_is_refused(tmp_path, capsys, built,
                                                            hf_pretraining_dir, vocab_file):
    other_vocab = tmp_path / "other-vocab"
    shutil.copytree(hf_pretraining_dir, other_vocab)
    words = (other_vocab / "vocab.txt").read_text(encoding="utf-8").splitlines()
    words[2000], words[2001] = words[2001], words[2000]  # same size, two ids swapped
    (other_vocab / "vocab.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    other_model = save_hf_model("BertForPreTraining", tmp_path / "other-model", vocab_file, seed=1)
    for model, reason in ((other_vocab, "another vocabulary"), (other_model, "another model")):
        rc = cli.main(["search", "--index", str(built), "--model", str(model), "A line.",
                       "--token", "1", "--layer", "0", "--device", "cpu"])
        _, err = capsys.readouterr()
        assert rc == 2 and reason in err and str(built) in err


def test_an_unfinished_folder_or_a_wrong_one_is_not_searched(tmp_path, built):
    with pytest.raises(CorpusIndexError, match="not a corpus index"):
        CorpusIndex(tmp_path)
    unfinished = tmp_path / "unfinished"
    shutil.copytree(built, unfinished)
    (unfinished / MANIFEST_NAME).unlink()
    with pytest.raises(CorpusIndexError, match="--resume"):
        CorpusIndex(unfinished)


def _index_command(model: Path, corpus: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "engine.cli", "index", "--model", str(model), "--corpus",
            str(corpus), "--layers", "0,2", "--contexts", "--shard-tokens", "1200",
            "--batch-tokens", "512", "--compress-from", "1000", "--device", "cpu", *extra]


def _same_index(a: Path, b: Path) -> None:
    ma, mb = (json.loads((p / MANIFEST_NAME).read_text()) for p in (a, b))
    for key in ("tokens", "sentences", "shards", "layers", "model"):
        assert ma[key] == mb[key], key
    for name in ma["shards"]:
        sa, sb = a / "shards" / name, b / "shards" / name
        assert (sa / "sentences.bin").read_bytes() == (sb / "sentences.bin").read_bytes()
        with np.load(sa / "tokens.npz") as ta, np.load(sb / "tokens.npz") as tb:
            for column in ta.files:
                np.testing.assert_array_equal(ta[column], tb[column])
        for stem in ("hidden-0", "hidden-2", "context-0", "context-2"):
            np.testing.assert_allclose(np.load(sa / f"{stem}.npy").astype(np.float32),
                                       np.load(sb / f"{stem}.npy").astype(np.float32), atol=2e-3)


@pytest.mark.slow
def test_a_killed_index_job_resumes_to_the_same_index_as_a_straight_build(tmp_path):
    from engine.paths import default_model_dir

    model = default_model_dir()
    corpus = corpus_file(tmp_path, 300, start=2000)
    env = {**os.environ, "PYTHONPATH": str(Path(cli.__file__).parent.parent)}
    killed = tmp_path / "killed"
    job = subprocess.Popen(_index_command(model, corpus, "--out", str(killed)), env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (killed / "shards" / "shard-00001").is_dir():
            assert job.poll() is None and time.monotonic() < deadline, "no second shard"
            time.sleep(0.05)
        os.kill(job.pid, signal.SIGKILL)
    finally:
        job.wait()
    assert not (killed / MANIFEST_NAME).exists()  # killed mid-way, not after the end
    status = json.loads((killed / "status.json").read_text())
    assert status["state"] == "running" and status["shards"] >= 2
    subprocess.run(_index_command(model, corpus, "--resume", str(killed))[:4]
                   + ["--resume", str(killed)], env=env, check=True, capture_output=True)
    straight = tmp_path / "straight"
    subprocess.run(_index_command(model, corpus, "--out", str(straight)), env=env, check=True,
                   capture_output=True)
    assert json.loads((killed / "status.json").read_text())["state"] == "finished"
    assert "resuming after" in (killed / "log.txt").read_text()
    _same_index(killed, straight)


@pytest.mark.parametrize("argv,message", [
    (["--corpus", "MISSING", "--layers", "0"], "no such file or folder"),
    (["--corpus", "EMPTY", "--layers", "0"], "no text to index"),
    (["--corpus", "CORPUS", "--layers", "2"], "the model has layers 0..1, not 2"),
    (["--corpus", "CORPUS", "--layers", "first"], "--layers must be layer numbers"),
])
def test_bad_index_input_is_refused_and_leaves_no_folder(tmp_path, capsys, hf_pretraining_dir,
                                                         argv, message):
    (tmp_path / "empty.txt").write_text("\n\n", encoding="utf-8")
    paths = {"MISSING": str(tmp_path / "missing.txt"), "EMPTY": str(tmp_path / "empty.txt"),
             "CORPUS": str(corpus_file(tmp_path, 5))}
    out = tmp_path / "idx"
    rc = cli.main(["index", *[paths.get(a, a) for a in argv], "--model", str(hf_pretraining_dir),
                   "--out", str(out), "--device", "cpu"])
    assert rc == 2 and message in capsys.readouterr().err and not out.exists()


def test_the_runs_table_shows_an_index_job_with_its_settings_and_progress(built, index):
    from engine.runlog import RunFolder
    from engine.runs import summarize

    summary = summarize(RunFolder(built))
    assert (summary.kind, summary.state, summary.step, summary.max_steps) == (
        "index", "finished", index.tokens, index.tokens)
    assert summary.settings_error is None
    assert summary.settings["layers"] == "0,-1" and summary.settings["contexts"] is True
    assert summary.final["index"]["tokens"] > 0


def test_a_paused_index_job_resumes_after_its_last_shard(tmp_path, hf_pretraining_dir):
    from engine.corpus_index.build import resume_index
    from engine.runlog import RunFolder

    spec = IndexSpec(corpus=[str(corpus_file(tmp_path, 200))], layers="1",
                     model=str(hf_pretraining_dir), shard_tokens=1000, batch_tokens=256,
                     device="cpu")
    paused = tmp_path / "paused"
    paused.mkdir()
    RunFolder(paused).request_stop("pause")  # asked before the job starts: it stops at once
    end = start_index(spec, str(paused))
    assert end.state == "paused" and not (paused / MANIFEST_NAME).exists()
    assert json.loads((paused / "status.json").read_text())["state"] == "paused"
    resumed = resume_index(str(paused))
    straight = start_index(spec, str(tmp_path / "straight"))
    assert (resumed.state, resumed.tokens) == ("finished", straight.tokens)
    a, b = CorpusIndex(paused), CorpusIndex(tmp_path / "straight")
    np.testing.assert_allclose(stored(a, "hidden-1"), stored(b, "hidden-1"), atol=2e-3)
