"""Inner-product search over an index's unit vectors with FAISS: exact (every stored float16
vector scanned) and compressed (IVF-PQ codes, the best candidates re-scored exactly from the
stored vectors). FAISS is imported here only, when a search or a compressed build needs it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

RERANK = 8               # compressed search re-scores this many candidates per wanted match
MIN_RERANK = 200
NPROBE = 32              # inverted lists visited per query
TRAIN_SAMPLE = 100_000   # vectors the coarse quantizer and the codebooks are trained on
RECALL_QUERIES = 200
RECALL_K = 10


def _faiss():
    import faiss  # noqa: PLC0415 - heavy, and only search and the compressed build need it

    return faiss


class ShardedVectors:
    """One kind of vector ("hidden-5") across an index's shards, memory-mapped: row ``i`` of
    the whole index is row ``i - start`` of the shard that holds it."""

    def __init__(self, arrays: list[np.ndarray]):
        self.arrays = arrays                                  # each [n_s, H] float16
        self.starts = np.cumsum([0] + [len(a) for a in arrays])
        self.dim = arrays[0].shape[1] if arrays else 0

    def __len__(self) -> int:
        return int(self.starts[-1])

    def chunks(self, rows: int = 65_536):
        for array in self.arrays:
            for lo in range(0, len(array), rows):
                yield np.ascontiguousarray(array[lo:lo + rows], dtype=np.float32)

    def gather(self, ids: np.ndarray) -> np.ndarray:
        """ids [k] -> their rows [k, H] float32."""
        out = np.empty((len(ids), self.dim), dtype=np.float32)
        shard = np.searchsorted(self.starts, ids, side="right") - 1
        for s in np.unique(shard):
            picked = shard == s
            out[picked] = self.arrays[s][ids[picked] - self.starts[s]]
        return out


def exact_index(vectors: ShardedVectors):
    """A flat float16 inner-product index over every vector: exact up to the float16 storage
    the vectors already have, at 2 bytes a dimension in memory."""
    faiss = _faiss()
    index = faiss.IndexScalarQuantizer(vectors.dim, faiss.ScalarQuantizer.QT_fp16,
                                       faiss.METRIC_INNER_PRODUCT)
    for chunk in vectors.chunks():
        index.add(chunk)
    return index


def compressed_params(n: int, dim: int) -> dict:
    """IVF lists about sqrt(n) (at least 39 training vectors each, FAISS's floor), PQ with one
    8-bit code per 8 dimensions."""
    nlist = max(1, min(int(math.sqrt(n)), n // 39, 1024))
    m = next(m for m in (dim // 8, dim // 4, dim // 2, dim) if m >= 1 and dim % m == 0)
    return {"nlist": nlist, "m": m, "nbits": 8 if n >= 256 else max(1, int(math.log2(n)))}


def build_compressed(vectors: ShardedVectors, path: Path, seed: int = 0) -> dict:
    """Train an IVF-PQ index on a sample of ``vectors``, add them all and write it to ``path``;
    returns its parameters and bytes per vector (codes and list ids, in memory)."""
    faiss = _faiss()
    n, dim = len(vectors), vectors.dim
    params = compressed_params(n, dim)
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFPQ(quantizer, dim, params["nlist"], params["m"], params["nbits"],
                             faiss.METRIC_INNER_PRODUCT)
    sample = np.sort(np.random.default_rng(seed).choice(n, min(n, TRAIN_SAMPLE), replace=False))
    index.train(vectors.gather(sample))
    for chunk in vectors.chunks():
        index.add(chunk)
    faiss.write_index(index, str(path))
    code_bytes = index.code_size + 8  # FAISS keeps an int64 id beside each code
    return {**params, "bytes_per_vector": code_bytes}


def load_compressed(path: Path):
    index = _faiss().read_index(str(path))
    index.nprobe = min(NPROBE, index.nlist)
    return index


def search_exact(index, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """query [H] -> (scores [k'], ids [k']), best first, k' = min(k, vectors)."""
    scores, ids = index.search(query[None].astype(np.float32), min(k, index.ntotal))
    return scores[0], ids[0]


def search_compressed(index, vectors: ShardedVectors, query: np.ndarray,
                      k: int) -> tuple[np.ndarray, np.ndarray]:
    """The compressed index's best ``RERANK * k`` candidates re-scored with the stored vectors:
    the scores returned are exact, only the candidate set is approximate."""
    wanted = min(max(RERANK * k, MIN_RERANK), index.ntotal)
    _, ids = index.search(query[None].astype(np.float32), wanted)
    ids = ids[0][ids[0] >= 0]
    scores = vectors.gather(ids) @ query.astype(np.float32)
    best = np.argsort(-scores, kind="stable")[:k]
    return scores[best], ids[best]


def measure_recall(exact, compressed, vectors: ShardedVectors, seed: int = 0,
                   queries: int = RECALL_QUERIES, k: int = RECALL_K) -> dict:
    """recall@k of the compressed search against exact search, on ``queries`` indexed vectors
    picked at random (each query's own vector left out of both lists), with re-scoring (what
    search uses) and on the codes alone."""
    n = len(vectors)
    picked = np.random.default_rng(seed).choice(n, min(n, queries), replace=False)
    found = found_codes = total = 0
    for i in picked:
        q = vectors.gather(np.array([i]))[0]
        _, truth = search_exact(exact, q, k + 1)
        truth = set(truth[truth != i][:k].tolist())
        total += len(truth)
        _, ids = search_compressed(compressed, vectors, q, k + 1)
        _, codes = compressed.search(q[None], k + 1)
        found += len(truth & set(ids[ids != i][:k].tolist()))
        found_codes += len(truth & set(codes[0][codes[0] != i][:k].tolist()))
    total = max(1, total)
    return {"recall_at_10": found / total, "recall_at_10_codes_only": found_codes / total,
            "recall_queries": int(len(picked))}
