#!/usr/bin/env python3
"""Build two fine-tuning tasks from the shipped corpus, reproducibly (same seed: same bytes).

No labelled benchmark can be downloaded, so the tasks are made from resources/corpus, with test
sets drawn only from text the bundled default model never saw in pretraining (resources/corpus/
heldout.json: Persuasion, WEB Acts, 3% of Jargon File entries; KJV Acts, excluded too).

* source (one sentence -> fiction | kjv | web | jargon): which source a sentence comes from; tests
  style and register (KJV vs WEB is the same content in two translations). Balanced: 1000/150/250
  sentences per class in train/dev/test. Test: Persuasion, KJV Acts, WEB Acts, held-out Jargon.
* same_book (two sentences -> same | different): do they come from the same book (one of the 17
  Gutenberg fiction books; the KJV, the WEB and the Jargon File are a book each)? 4000/500/1000
  pairs, half same; a same pair joins two non-adjacent chapters; 60% of the different pairs are hard
  (two fiction books, same author where possible, or KJV vs WEB), so the source alone does not
  answer. Every test pair has a held-out anchor; test same pairs are two held-out chapters.

How: documents get a split from heldout.json (test) and a salted hash (dev, ~5% of the rest; the
others train), so train, dev and test share no document; gutenberg documents get their book from
resources/corpus/books.json (checked against the corpus, like heldout.json). Only sentences of
4..60 words whose text occurs once in the whole corpus are used (length is no cue; no sentence
sits in two documents). Draws use random.Random seeded by task, split and --seed.

Usage: .venv/bin/python scripts/build_finetune_tasks.py --out DIR [--seed 0]
Writes DIR/source/{train,dev,test}.jsonl (text, label), DIR/same_book/{train,dev,test}.jsonl
(text_a, text_b, label) and DIR/stats.json (counts, seed, sha256 of every file, the rules).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from finetune_tasks import corpus as task_corpus  # noqa: E402
from finetune_tasks.corpus import TaskDataError, load_corpus  # noqa: E402
from finetune_tasks.same_book import RULES as SAME_BOOK_RULES, build_same_book  # noqa: E402
from finetune_tasks.source import RULES as SOURCE_RULES, build_source  # noqa: E402

CORPUS_DIR = ROOT / "resources" / "corpus"
FORMAT_VERSION = 1


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def build(out: Path, seed: int = 0, corpus_dir: Path = CORPUS_DIR,
          heldout_json: Path | None = None, books_json: Path | None = None) -> dict:
    """Write both tasks and stats.json under `out`; return the stats."""
    corpus = load_corpus(corpus_dir, heldout_json or corpus_dir / "heldout.json",
                         books_json or corpus_dir / "books.json")
    manifest = json.loads((corpus_dir / "manifest.json").read_text(encoding="utf-8"))
    tasks = {"source": build_source(corpus, seed), "same_book": build_same_book(corpus, seed)}
    stats = {
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "corpus": {name: manifest["files"][name]["sha256"] for name in task_corpus.FILES},
        "corpus_counts": corpus.counts,
        "rules": [
            f"Documents: test = the held-out and excluded documents of resources/corpus/heldout.json "
            f"(never seen in the default model's pretraining); of the rest, dev = those whose salted "
            f"blake2b hash falls in the lowest {task_corpus.DEV_FRACTION:.0%}, train = the others.",
            f"Sentences: only those of {task_corpus.MIN_WORDS}..{task_corpus.MAX_WORDS} words "
            "(whitespace-separated) whose exact text occurs once in the whole corpus; so shorter and "
            "longer ones are skipped and no sentence belongs to two documents, books or splits.",
            "Books: gutenberg documents are assigned to books by resources/corpus/books.json "
            "(first-document indices checked by first words).",
            *SOURCE_RULES, *SAME_BOOK_RULES,
            "Rebuild: the same corpus, books.json, heldout.json and --seed give byte-identical files.",
        ],
        "tasks": {},
        "files": {},
    }
    for task, (rows_by_split, task_stats) in tasks.items():
        (out / task).mkdir(parents=True, exist_ok=True)
        stats["tasks"][task] = task_stats
        for split, rows in rows_by_split.items():
            data = _jsonl(rows)
            rel = f"{task}/{split}.jsonl"
            (out / rel).write_bytes(data)
            stats["files"][rel] = {"rows": len(rows), "sha256": hashlib.sha256(data).hexdigest()}
    (out / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
    return stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    ap.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    args = ap.parse_args(argv)
    try:
        stats = build(args.out, args.seed)
    except TaskDataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for rel, f in stats["files"].items():
        print(f"{args.out / rel}: {f['rows']} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
