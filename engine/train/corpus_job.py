"""A pretraining job on text (``--corpus``): what is checked before its run folder exists, and
the tokenizer and prepared shards it makes inside the run before training. No torch."""

from __future__ import annotations

import threading
from pathlib import Path

from engine.data.corpus import expand_paths, open_text
from engine.data.shards import prepare_corpus
from engine.heartbeat import Heartbeat
from engine.runlog import RunFolder
from engine.specs import PretrainJob
from engine.tokenizer import WordPieceTokenizer

HEARTBEAT_SECONDS = 5.0


def train_tokenizer(files: list[Path], vocab_size: int, lowercase: bool = True,
                    min_frequency: int = 2) -> WordPieceTokenizer:
    """A WordPiece vocabulary trained on every line of ``files`` (compressed ones too)."""

    def lines():
        for path in files:
            with open_text(path) as f:
                yield from f

    return WordPieceTokenizer.train_from_texts(lines(), ", ".join(map(str, files)),
                                               vocab_size=vocab_size, lowercase=lowercase,
                                               min_frequency=min_frequency)


def check_corpus_job(job: PretrainJob) -> None:
    """What can be checked before a --corpus job prepares anything: files, tokenizer, sizes."""
    for path in expand_paths(job.corpus):  # raises for missing or empty inputs
        with open(path, "rb") as f:
            f.read(1)
    if job.tokenizer:
        WordPieceTokenizer.from_file(job.tokenizer)
    if job.task.init_model is None:  # sizes, with a stand-in vocabulary
        job.task.model_config(job.vocab_size)


def prepare_in_run(job: PretrainJob, run: RunFolder) -> str | None:
    """Tokenizer (given, the init model's, or trained) and RUN_DIR/data, logged in the run.
    Returns "paused" or "cancelled" when a stop was asked for meanwhile (then training does
    not start; a resume prepares nothing again and trains from step 0)."""
    run.write_status(message="preparing data")
    try:
        with Heartbeat(run, HEARTBEAT_SECONDS, threading.Lock()):
            _tokenize_corpus(job, run)
    except Exception as exc:
        run.write_status(state="failed", error=f"preparing the data failed: {exc}")
        run.log(f"failed: preparing the data: {exc}")
        raise
    mode = run.stop_requested()
    if mode is None:
        return None
    state = "paused" if mode == "pause" else "cancelled"
    run.clear_stop_request()
    run.write_status(state=state, message=None)
    run.log(f"stop requested ({mode}) after preparing the data: {state} before training")
    return state


def _tokenize_corpus(job: PretrainJob, run: RunFolder) -> None:
    files = expand_paths(job.corpus)
    if job.tokenizer or job.task.init_model:
        tokenizer = WordPieceTokenizer.from_file(job.tokenizer or job.task.init_model)
    else:
        run.log(f"training a {job.vocab_size}-token WordPiece vocabulary on {len(files)} file(s)")
        tokenizer = train_tokenizer(files, job.vocab_size)
        tokenizer.save(run.path / "tokenizer")
    report = prepare_corpus(files, tokenizer, run.path / "data",
                            heldout_fraction=job.heldout_fraction)
    docs, toks = report.documents, report.tokens
    run.log(f"prepared {docs['train']} training documents ({toks['train']} tokens) and "
            f"{docs.get('heldout', 0)} held-out ({toks.get('heldout', 0)}) in "
            f"{report.seconds:.1f} s")
