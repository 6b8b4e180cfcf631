"""``bert-engine index`` as a job: a process that owns its index folder as a training run owns
its run folder (config.json, status.json, metrics.jsonl, log.txt, stop requests; the monitor
reads them alike). It reads the corpus sentence by sentence, runs the model up to the last
indexed layer in length-sorted batches, and writes the vectors a shard at a time; a shard is
written whole or not at all, so a stopped or killed job resumes after its last finished shard
and ends with the same index a straight build gives. When every shard is in, it trains the
compressed indexes, measures their recall and writes index.json."""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.corpus_index import faiss_index
from engine.corpus_index.spec import IndexSpec, layer_list
from engine.corpus_index.store import (COMPRESSED_NAME, SHARDS_NAME, Shard, ShardData,
                                       finished_shards, model_fingerprint, shard_name,
                                       write_manifest, write_shard)
from engine.data.corpus import expand_paths, iter_file_documents
from engine.heartbeat import Heartbeat
from engine.paths import model_or_default
from engine.results_corpus import CorpusIndexError
from engine.runlog import MetricsWriter, RunFolder
from engine.train.run import process_fields

KIND = "index"
HEARTBEAT_SECONDS = 5.0
ENCODE_CHUNK = 512        # sentences tokenized per call (the Rust tokenizer's thread pool)


@dataclass
class IndexEnd:
    path: Path
    state: str     # finished, paused or cancelled
    tokens: int


@dataclass
class _Sentence:
    number: int
    text: str
    ids: list[int]
    word_spans: list[tuple[int, int]]  # per non-special token: its word's characters
    pieces: int                        # non-special tokens

    @property
    def length(self) -> int:
        return len(self.ids)


def start_index(spec: IndexSpec, out: str) -> IndexEnd:
    """Index ``spec.corpus`` into the new folder ``out``; checks what it can first, so bad
    input leaves nothing."""
    predictor = _load(spec)
    layers = layer_list(spec.layers, predictor.config.num_hidden_layers)
    if next(_lines(expand_paths(spec.corpus)), None) is None:  # missing files fail here too
        raise CorpusIndexError(f"{', '.join(spec.corpus)}: no text to index")
    run = RunFolder.create(out, {"kind": KIND, "task": dataclasses.asdict(spec),
                                 "model": _fingerprint(predictor), "command": sys.argv,
                                 "created": time.time()})
    run.write_status(state="starting", step=0, **process_fields())
    return _index(run, spec, predictor, layers)


def resume_index(path: str) -> IndexEnd:
    """Continue the index job at ``path`` after its last finished shard."""
    run = RunFolder(path)
    saved = run.read_config()
    if saved.get("kind") != KIND:
        raise CorpusIndexError(f"{run.path} is not an index job (its kind is "
                               f"{saved.get('kind')!r})")
    spec = IndexSpec.from_config(saved.get("task"))
    predictor = _load(spec)
    built_with, now = saved.get("model", {}), _fingerprint(predictor)
    for key in ("weights_sha256", "vocab_sha256"):
        if built_with.get(key) != now[key]:
            raise CorpusIndexError(f"{run.path}: the model at {now['path']} changed since this "
                                   f"index began ({key.split('_')[0]} differ): start a new index")
    run.clear_stop_request()
    run.write_status(state="starting", error=None, message=None, **process_fields())
    return _index(run, spec, predictor, layer_list(spec.layers, predictor.config.num_hidden_layers))


def _load(spec: IndexSpec):
    from engine.infer import Predictor

    return Predictor.load(model_or_default(spec.model), device=spec.device)


def _fingerprint(predictor) -> dict:
    cfg, tok = predictor.config, predictor.tokenizer
    return model_fingerprint(predictor.checkpoint.path, predictor.name, tok.get_vocab(),
                             tok.lowercase, cfg.num_hidden_layers, cfg.num_attention_heads,
                             cfg.hidden_size)


# ----- the corpus as encoded sentences -----

def _lines(files: list[Path]) -> Iterator[str]:
    for path in files:
        for document in iter_file_documents(path):
            yield from document


def encoded_sentences(files: list[Path], tokenizer, seq_len: int,
                      skip: int = 0) -> Iterator[_Sentence]:
    """Every corpus line as a sentence, numbered from 0, encoded alone and cut to ``seq_len``
    tokens; the first ``skip`` are counted, not encoded (a resume)."""
    lines = _lines(files)
    for _ in zip(range(skip), lines):
        pass
    number = skip
    while True:
        chunk = [line for _, line in zip(range(ENCODE_CHUNK), lines)]
        if not chunk:
            return
        for text, enc in zip(chunk, tokenizer.encode_batch([(t, None) for t in chunk],
                                                           max_length=seq_len)):
            yield _Sentence(number, text, enc.ids, _word_spans(enc), len(enc.ids) - 2)
            number += 1


def _word_spans(enc) -> list[tuple[int, int]]:
    """Each non-special token's whole word, as a character span of the sentence."""
    spans: dict[int, tuple[int, int]] = {}
    for word, (start, end) in zip(enc.word_ids, enc.offsets):
        if word is not None:
            lo, hi = spans.get(word, (start, end))
            spans[word] = (min(lo, start), max(hi, end))
    return [spans[w] for w in enc.word_ids if w is not None]


def planned_tokens(files: list[Path], tokenizer, seq_len: int, max_tokens: int | None) -> int:
    """The tokens the whole job will index (for its progress), from a fast tokenizer pass."""
    total, lines = 0, _lines(files)
    while True:
        chunk = [line for _, line in zip(range(8 * ENCODE_CHUNK), lines)]
        if not chunk:
            return total
        for ids in tokenizer.encode_plain(chunk):
            n = min(len(ids), seq_len - 2)
            if max_tokens is not None and total + n > max_tokens:
                return total
            total += n


# ----- the job -----

class _Job:
    def __init__(self, run: RunFolder, spec: IndexSpec, predictor, layers: tuple[int, ...]):
        self.run, self.spec, self.predictor, self.layers = run, spec, predictor, layers
        self.lock = threading.Lock()
        self.signalled: str | None = None
        self.stems = [f"{kind}-{layer}" for layer in layers
                      for kind in (("hidden", "context") if spec.contexts else ("hidden",))]

    def status(self, **fields) -> None:
        with self.lock:
            self.run.write_status(**fields)

    def stop_mode(self) -> str | None:
        return self.signalled or self.run.stop_requested()

    def shard_vectors(self, sentences: list[_Sentence]) -> dict[str, np.ndarray] | None:
        """The shard's vectors, rows in sentence order; None when a stop came meanwhile."""
        p, device = self.predictor, self.predictor.device
        order = sorted(range(len(sentences)), key=lambda i: sentences[i].length)
        parts: dict[str, list[tuple[int, np.ndarray]]] = {s: [] for s in self.stems}
        start = 0
        while start < len(order):  # batches of at most batch_tokens padded tokens
            end = start
            while (end < len(order) and
                   sentences[order[end]].length * (end - start + 1) <= self.spec.batch_tokens):
                end += 1
            end = max(end, start + 1)
            batch = [sentences[i] for i in order[start:end]]
            longest = batch[-1].length
            ids = torch.full((len(batch), longest), p.tokenizer.pad_id, dtype=torch.long)
            attention = torch.zeros_like(ids)
            for row, s in enumerate(batch):
                ids[row, :s.length] = torch.tensor(s.ids)
                attention[row, :s.length] = 1
            with torch.inference_mode():
                out = _vectors(p.encoder, ids.to(device), attention.to(device), self.layers,
                               self.spec.contexts)
            for stem, values in out.items():  # [B, T, H] -> each sentence's non-special rows
                host = values.to(torch.float16).cpu().numpy()
                for row, s in enumerate(batch):
                    parts[stem].append((s.number, host[row, 1:s.length - 1]))
            if self.stop_mode():
                return None
            start = end
        return {stem: np.concatenate([v for _, v in sorted(rows, key=lambda r: r[0])])
                for stem, rows in parts.items()}


def _vectors(encoder, ids, attention, layers, contexts):
    from engine.corpus_index.vectors import layer_vectors

    return layer_vectors(encoder, ids, torch.zeros_like(ids), attention, layers, contexts)


def _shard_data(sentences: list[_Sentence], vectors: dict[str, np.ndarray]) -> ShardData:
    def column(values, dtype):
        return np.asarray([v for s in sentences for v in values(s)], dtype=dtype)

    return ShardData(
        first_sentence=sentences[0].number, sentences=[s.text for s in sentences],
        token_id=column(lambda s: s.ids[1:-1], np.int32),
        sentence=column(lambda s: [s.number] * s.pieces, np.int32),
        position=column(lambda s: range(1, s.pieces + 1), np.int16),
        word_start=column(lambda s: [a for a, _ in s.word_spans], np.int32),
        word_end=column(lambda s: [b for _, b in s.word_spans], np.int32), vectors=vectors)


def _index(run: RunFolder, spec: IndexSpec, predictor, layers: tuple[int, ...]) -> IndexEnd:
    job = _Job(run, spec, predictor, layers)

    def on_sigterm(signum, frame):
        job.signalled = "cancel"  # honoured between batches; finished shards stay

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        with Heartbeat(run, HEARTBEAT_SECONDS, job.lock):
            return _run(job)
    except Exception as exc:
        job.status(state="failed", error=f"indexing failed: {exc}")
        run.log(f"failed: {exc}")
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(job: _Job) -> IndexEnd:
    run, spec, tok = job.run, job.spec, job.predictor.tokenizer
    files = expand_paths(spec.corpus)
    seq_len = min(spec.seq_len, job.predictor.config.max_position_embeddings)
    done = finished_shards(run.path)
    shards, tokens = len(done), sum(m["tokens"] for m in done)
    skip = done[-1]["end_sentence"] if done else 0
    job.status(message="counting the corpus's tokens")
    planned = planned_tokens(files, tok, seq_len, spec.max_tokens)
    run.log(f"indexing layers {','.join(map(str, job.layers))} of {job.predictor.name}"
            f"{' with contexts' if spec.contexts else ''}: about {planned} tokens"
            + (f"; resuming after {len(done)} shards ({tokens} tokens)" if done else ""))
    job.status(state="running", step=tokens, max_steps=max(planned, tokens), message=None,
               shards=shards)
    pending: list[_Sentence] = []
    pending_tokens = 0
    limit_reached = False
    with MetricsWriter(run.metrics_path) as metrics:
        for sentence in encoded_sentences(files, tok, seq_len, skip):
            if spec.max_tokens is not None and tokens + pending_tokens + sentence.pieces > spec.max_tokens:
                limit_reached = True
                break
            pending.append(sentence)
            pending_tokens += sentence.pieces
            if pending_tokens >= spec.shard_tokens:
                state = _write_shard(job, shards, pending, metrics, tokens)
                if state is not None:
                    return IndexEnd(run.path, state, _tokens_done(run, tokens))
                shards, tokens = shards + 1, tokens + pending_tokens
                pending, pending_tokens = [], 0
        if pending:
            state = _write_shard(job, shards, pending, metrics, tokens)
            if state is not None:
                return IndexEnd(run.path, state, _tokens_done(run, tokens))
            tokens += pending_tokens
    if limit_reached:
        run.log(f"stopped at --max-tokens {spec.max_tokens}")
    _finish(job, tokens)
    return IndexEnd(run.path, "finished", tokens)


def _tokens_done(run: RunFolder, before: int) -> int:
    """The tokens in finished shards (the shard a stop came after included)."""
    return int((run.read_status() or {}).get("step") or before)


def _write_shard(job: _Job, number: int, sentences: list[_Sentence], metrics: MetricsWriter,
                 tokens_before: int) -> str | None:
    """Index and write one shard; the state the job stopped in when a stop came, else None."""
    started = time.perf_counter()
    vectors = job.shard_vectors(sentences)
    if vectors is None:
        return _stopped(job, number)
    write_shard(job.run.path, number, _shard_data(sentences, vectors))
    count = sum(s.pieces for s in sentences)
    seconds = time.perf_counter() - started
    job.status(step=tokens_before + count, shards=number + 1)
    metrics.write({"step": tokens_before + count, "time": time.time(), "split": "index",
                   "shard": number, "tokens": count, "tokens_per_s": count / max(seconds, 1e-9)})
    if job.stop_mode():
        return _stopped(job, number + 1)
    return None


def _stopped(job: _Job, shards: int) -> str:
    mode = job.stop_mode()
    state = "paused" if mode == "pause" else "cancelled"
    job.run.clear_stop_request()
    job.status(state=state, message=f"stopped after {shards} finished shards")
    job.run.log(f"stop requested ({mode}): {state} after {shards} shards; "
                f"`bert-engine index --resume {job.run.path}` continues")
    return state


def _finish(job: _Job, tokens: int) -> None:
    run = job.run
    shards = finished_shards(run.path)
    if not shards:
        raise CorpusIndexError(f"{', '.join(job.spec.corpus)}: no tokens to index")
    job.status(message="building the compressed indexes")
    folders = [Shard(run.path / SHARDS_NAME / m["name"]) for m in shards]
    (run.path / COMPRESSED_NAME).mkdir(exist_ok=True)
    compressed = {}
    for stem in job.stems:
        vectors = faiss_index.ShardedVectors([f.vectors(stem) for f in folders])
        if len(vectors) < job.spec.compress_from:
            continue
        path = run.path / COMPRESSED_NAME / f"{stem}.faiss"
        info = faiss_index.build_compressed(vectors, path)
        recall = faiss_index.measure_recall(faiss_index.exact_index(vectors),
                                            faiss_index.load_compressed(path), vectors)
        compressed[stem] = {"file": f"{COMPRESSED_NAME}/{path.name}", **info, **recall}
        run.log(f"{stem}: compressed index ({info['nlist']} lists, {info['m']} codes), "
                f"recall@10 {recall['recall_at_10']:.3f} against exact search "
                f"({recall['recall_at_10_codes_only']:.3f} on the codes alone)")
    cfg = job.predictor.config
    write_manifest(run.path, {
        "model": run.read_config()["model"], "layers": list(job.layers),
        "contexts": job.spec.contexts, "hidden": cfg.hidden_size,
        "heads": cfg.num_attention_heads, "tokens": tokens,
        "sentences": shards[-1]["end_sentence"],
        "seq_len": min(job.spec.seq_len, cfg.max_position_embeddings),
        "shards": [m["name"] for m in shards], "vector_dtype": "float16",
        "compressed": compressed})
    job.status(state="finished", step=tokens, max_steps=tokens, message=None)
    run.log(f"finished: {tokens} tokens from {shards[-1]['end_sentence']} sentences in "
            f"{len(shards)} shards")
