"""Benchmark: the corpus index and dataset runs, on the default model and the bundled corpus.

- build: ``bert-engine index`` (layers 0 and 5, the job in this process: counting, forward,
  shards, compressed indexes) against the model's own forward over the same sentences in the
  same length-sorted batches, both on one thread in CPU time, alternated; tokens/s and ratio.
- bytes: bytes per indexed token per layer on disk (exact: the float16 vectors and the token
  columns) and in memory (compressed: IVF-PQ codes and ids).
- latency: an index of 1M tokens (layer 0) of gutenberg.txt.xz, built by the CLI as a job;
  the time of the nearest-neighbour search alone for the top 50 (exact and compressed), over
  50 queries, and recall@10 of the compressed index against exact search.
- dataset: 2,000 corpus examples (a word masked in A, the next line as B) through
  ``run_dataset`` against the same examples one by one through ``transformers``
  (BertForPreTraining, hidden states on, as ours pools every layer), one thread, CPU time.
- finding: which corpus tokens sit next to "bank" and "light" at the first and last layer.

    .venv/bin/python bench/index.py [--parts build,bytes,latency,dataset,finding] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = ROOT / "resources" / "corpus"
MODEL = ROOT / "resources" / "models" / "default"


def load() -> str:
    return open("/proc/loadavg").read().split()[0]


def cpu_seconds(fn) -> tuple[float, object]:
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def corpus_lines(name: str) -> list[str]:
    with lzma.open(CORPUS / name, "rt", encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


# ----- build throughput -----

def forward_only(predictor, sentences: list[str], seq_len: int, batch_tokens: int) -> int:
    """The model's own forward over ``sentences`` in the index job's batches: indexed tokens."""
    import torch

    encs = predictor.tokenizer.encode_batch([(s, None) for s in sentences], max_length=seq_len)
    order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))
    start, tokens = 0, 0
    while start < len(order):
        end = start
        while end < len(order) and len(encs[order[end]].ids) * (end - start + 1) <= batch_tokens:
            end += 1
        end = max(end, start + 1)
        batch = [encs[i] for i in order[start:end]]
        longest = len(batch[-1].ids)
        ids = torch.zeros(len(batch), longest, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, e in enumerate(batch):
            ids[row, :len(e.ids)] = torch.tensor(e.ids)
            mask[row, :len(e.ids)] = 1
        with torch.inference_mode():
            predictor.encoder(ids, mask)
        tokens += sum(len(e.ids) - 2 for e in batch)
        start = end
    return tokens


def bench_build(work: Path, rounds: int) -> dict:
    import faiss
    import torch

    from engine.corpus_index.build import start_index
    from engine.corpus_index.spec import IndexSpec
    from engine.infer import Predictor

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    sentences = (CORPUS / "slice.txt").read_text(encoding="utf-8").splitlines()[:1200]
    sentences = [s for s in sentences if s.strip()]
    corpus = work / "build-corpus.txt"
    corpus.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    predictor = Predictor.load(MODEL, device="cpu")
    forward_only(predictor, sentences[:50], 128, 8192)  # warm-up
    fwd, build, shards = [], [], []
    for r in range(rounds):
        t_fwd, tokens = cpu_seconds(lambda: forward_only(predictor, sentences, 128, 8192))
        out = work / f"build-{r}"
        spec = IndexSpec(corpus=[str(corpus)], layers="0,5", model=str(MODEL), device="cpu")
        t_build, end = cpu_seconds(lambda: start_index(spec, str(out)))
        assert end.tokens == tokens, (end.tokens, tokens)
        fwd.append(t_fwd)
        build.append(t_build)
        records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        shards.append(sum(r["tokens"] / r["tokens_per_s"] for r in records))
    f, b, s = statistics.median(fwd), statistics.median(build), statistics.median(shards)
    return {"tokens": tokens, "forward_tokens_per_s": tokens / f,
            "build_tokens_per_s": tokens / b, "build_ratio": f / b,
            "shard_phase_wall_s": s, "rounds": rounds, "load": load(),
            "index": str(work / "build-0")}


def bench_bytes(index_dir: Path) -> dict:
    manifest = json.loads((index_dir / "index.json").read_text())
    tokens, layers = manifest["tokens"], len(manifest["layers"])
    shards = index_dir / "shards"
    vectors = sum(f.stat().st_size for f in shards.rglob("hidden-*.npy"))
    columns = sum(f.stat().st_size for f in shards.rglob("*") if f.suffix in (".npz", ".bin"))
    compressed = manifest["compressed"]
    return {"tokens": tokens, "exact_vector_bytes_per_token_layer": vectors / tokens / layers,
            "token_columns_bytes_per_token": columns / tokens,
            "compressed_bytes_per_token_layer": {k: v["bytes_per_vector"]
                                                 for k, v in compressed.items()},
            "compressed_file_bytes_per_token_layer": {
                k: (index_dir / v["file"]).stat().st_size / tokens for k, v in compressed.items()},
            "recall_at_10": {k: v["recall_at_10"] for k, v in compressed.items()}}


# ----- query latency at 1M vectors -----

def bench_latency(work: Path, tokens: int) -> dict:
    out = work / "million"
    if not (out / "index.json").is_file():
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "engine.cli", "index", "--model", str(MODEL),
                        "--corpus", str(CORPUS / "gutenberg.txt.xz"), "--layers", "0",
                        "--max-tokens", str(tokens), "--shard-tokens", "100000", "--out",
                        str(out), "--device", "cpu"], check=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
        build_s = time.perf_counter() - started
    else:
        build_s = None
    import numpy as np

    from engine.corpus_index import faiss_index
    from engine.corpus_index.search import CorpusIndex

    index = CorpusIndex(out)
    vectors = index.vectors("hidden-0")
    started = time.perf_counter()
    index.nearest(vectors.gather(np.array([0]))[0], "hidden-0", 50, mode="exact")
    exact_load_s = time.perf_counter() - started
    index.nearest(vectors.gather(np.array([0]))[0], "hidden-0", 50, mode="compressed")
    rng = np.random.default_rng(1)
    queries = vectors.gather(np.sort(rng.choice(len(vectors), 50, replace=False)))
    times = {}
    for mode in ("exact", "compressed"):
        ms = []
        for q in queries:
            start = time.perf_counter()
            index.nearest(q, "hidden-0", 50, mode=mode)
            ms.append((time.perf_counter() - start) * 1000)
        times[mode] = {"median_ms": statistics.median(ms),
                       "p95_ms": float(np.percentile(ms, 95))}
    recall = faiss_index.measure_recall(index._exact["hidden-0"], index._compressed["hidden-0"],
                                        vectors, seed=3)
    return {"vectors": len(vectors), "build_wall_s": build_s, "exact_index_fill_s": exact_load_s,
            "top": 50, **times, **recall, "threads": os.cpu_count(), "load": load(),
            "compressed_index": index.manifest["compressed"]["hidden-0"]}


# ----- dataset run against transformers one by one -----

def dataset_examples(n: int) -> list:
    from engine.finetune.tables import TextExample

    lines = [l for l in (CORPUS / "slice.txt").read_text(encoding="utf-8").splitlines() if l]
    r = random.Random(0)
    out = []
    for i in range(n):
        words = lines[i].split()
        words[r.randrange(len(words))] = "[MASK]"
        out.append(TextExample(" ".join(words), lines[i + 1], None, i + 1))
    return out


def bench_dataset(n: int) -> dict:
    import torch
    import transformers

    from engine.dataset_run import run_dataset
    from engine.infer import Predictor

    torch.set_num_threads(1)
    examples = dataset_examples(n)
    predictor = Predictor.load(MODEL, device="cpu")
    hf = transformers.BertForPreTraining.from_pretrained(MODEL, torch_dtype=torch.float32).eval()
    tok = predictor.tokenizer

    def theirs():
        for ex in examples:
            enc = tok.encode(ex.text_a, ex.text_b, max_length=128)
            ids = torch.tensor([enc.ids])
            with torch.inference_mode():
                out = hf(input_ids=ids, token_type_ids=torch.tensor([enc.token_type_ids]),
                         output_hidden_states=True)
                rows = [i for i, t in enumerate(enc.ids) if t == tok.mask_id]
                out.prediction_logits[0, rows].softmax(-1).topk(5)
                out.seq_relationship_logits.softmax(-1)
                torch.stack(out.hidden_states[1:])[:, 0, 1:-1].mean(1)

    run_dataset(predictor, examples[:64])  # warm-up
    ours_s, run = cpu_seconds(lambda: run_dataset(predictor, examples))
    theirs_s, _ = cpu_seconds(theirs)
    ours_s2, _ = cpu_seconds(lambda: run_dataset(predictor, examples))
    ours = min(ours_s, ours_s2)
    return {"examples": n, "ours_cpu_s": ours, "transformers_one_by_one_cpu_s": theirs_s,
            "ratio": ours / theirs_s, "load": load(),
            "mean_tokens": statistics.mean(e.tokens for e in run.examples)}


# ----- a finding -----

QUERIES = [("He sat on the bank of the river and fished.", "bank"),
           ("She took the money out of the bank.", "bank"),
           ("The lamp gave a dim light in the room.", "light"),
           ("The box was light enough to carry.", "light"),
           ("Let us light a fire before night.", "light")]


def bench_finding(work: Path) -> dict:
    from engine.corpus_index.build import start_index
    from engine.corpus_index.search import CorpusIndex, search_text
    from engine.corpus_index.spec import IndexSpec
    from engine.infer import Predictor

    out = work / "finding"
    if not (out / "index.json").is_file():
        word = re.compile(r"\b(bank|banks|light)\b", re.IGNORECASE)
        lines = [l for name in ("gutenberg.txt.xz", "web_bible.txt.xz", "jargon.txt.xz")
                 for l in corpus_lines(name)]
        rng = random.Random(0)
        chosen = [l for l in lines if word.search(l)] + rng.sample(lines, 3000)
        corpus = work / "finding.txt"
        corpus.write_text("\n".join(chosen) + "\n", encoding="utf-8")
        start_index(IndexSpec(corpus=[str(corpus)], layers="0,5", model=str(MODEL)), str(out))
    index = CorpusIndex(out)
    predictor = Predictor.load(MODEL)
    found = {}
    for text, word_ in QUERIES:
        token = predictor.tokenizer.encode(text).tokens.index(word_)
        for layer in (0, 5):
            result = search_text(predictor, index, text, None, token, layer, top_k=20)
            found[f"{text} | {word_} | layer {layer}"] = {
                "summary": [(w.word, w.count) for w in result.summary][:6],
                "top": [(round(m.cosine, 3), m.word, m.sentence[:90]) for m in result.matches[:5]]}
    return {"indexed_tokens": index.tokens, "queries": found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="build,bytes,latency,dataset,finding")
    parser.add_argument("--work", help="folder for the indexes (default: a temp folder)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--million", type=int, default=1_000_000)
    parser.add_argument("--examples", type=int, default=2000)
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-index-"))
    work.mkdir(parents=True, exist_ok=True)
    import torch

    print(f"# torch {torch.__version__}, load {load()}, work {work}", flush=True)
    parts = args.parts.split(",")
    results = {}
    if "build" in parts:
        results["build"] = bench_build(work, args.rounds)
        print(json.dumps({"build": results["build"]}, indent=1), flush=True)
    if "bytes" in parts:
        target = work / "build-0"
        results["bytes"] = bench_bytes(target)
        print(json.dumps({"bytes": results["bytes"]}, indent=1), flush=True)
    if "latency" in parts:
        results["latency"] = bench_latency(work, args.million)
        print(json.dumps({"latency": results["latency"]}, indent=1), flush=True)
    if "dataset" in parts:
        results["dataset"] = bench_dataset(args.examples)
        print(json.dumps({"dataset": results["dataset"]}, indent=1), flush=True)
    if "finding" in parts:
        results["finding"] = bench_finding(work)
        print(json.dumps({"finding": results["finding"]}, indent=1, ensure_ascii=False),
              flush=True)


if __name__ == "__main__":
    main()
