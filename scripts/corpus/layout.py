"""Output in the BERT layout: one sentence per line, a blank line between
documents; deterministic xz files, the mixed slice and manifest.json."""

from __future__ import annotations

import hashlib
import json
import lzma
import unicodedata
from pathlib import Path

from .fetch import DEB_PACKAGES, DEBIAN_SUITE, NPM_PACKAGE, NPM_SHA256, PYSWORD_VERSION, WORDNET_PACKAGE, \
    WORDNET_SHA256
from .text import collapse_ws

SLICE_TARGET_BYTES = 1_000_000
XZ_PRESET = 9


def finalize_documents(docs: list[list[str]], min_sentences: int = 2) -> list[list[str]]:
    """Normalise each sentence to one clean line and drop short documents."""
    out = []
    for doc in docs:
        sents = [collapse_ws(unicodedata.normalize("NFC", s)) for s in doc]
        sents = [s for s in sents if s]
        if len(sents) >= min_sentences:
            out.append(sents)
    return out


def format_documents(docs: list[list[str]]) -> str:
    """BERT layout: one sentence per line, one blank line between documents."""
    return "".join("\n".join(doc) + "\n\n" for doc in docs).rstrip("\n") + "\n" if docs else ""


def parse_documents(text: str) -> list[list[str]]:
    return [blk.split("\n") for blk in text.strip("\n").split("\n\n") if blk.strip()]


def xz_bytes(data: bytes) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=XZ_PRESET)


def _every_kth(n: int, k: float) -> list[int]:
    """Indices 0, ceil(k), ceil(2k), ... below n (k >= 1)."""
    out, j = [], 0
    while True:
        i = int(-(-j * k // 1))  # ceil(j * k)
        if i >= n:
            return out
        out.append(i)
        j += 1


def make_slice(sources: list[list[list[str]]], target_bytes: int = SLICE_TARGET_BYTES) -> list[list[str]]:
    """Pick whole documents from every source: every k-th document of each
    source with one (fractional) k for all, so the mix is proportional; k is
    chosen by bisection so the slice is as close to ``target_bytes`` as the
    search finds.  The picks are interleaved by their relative position in
    their source.  Deterministic.
    """
    sizes = [[len(("\n".join(d) + "\n\n").encode()) for d in docs] for docs in sources]

    def picked_bytes(k: float) -> int:
        return sum(sz[i] for sz in sizes for i in _every_kth(len(sz), k))

    lo, hi = 1.0, float(max(1, max(len(s) for s in sizes)))
    best_k, best_err = hi, abs(picked_bytes(hi) - target_bytes)
    for _ in range(60):
        mid = (lo + hi) / 2
        got = picked_bytes(mid)
        if abs(got - target_bytes) < best_err:
            best_k, best_err = mid, abs(got - target_bytes)
        if got > target_bytes:
            lo = mid
        else:
            hi = mid
    picked: list[tuple[float, int, list[str]]] = []
    for si, docs in enumerate(sources):
        for i in _every_kth(len(docs), best_k):
            picked.append((i / max(1, len(docs)), si, docs[i]))
    picked.sort(key=lambda t: (t[0], t[1]))
    return [doc for _, _, doc in picked]


def stats(docs: list[list[str]]) -> dict:
    text = format_documents(docs)
    return {
        "documents": len(docs),
        "sentences": sum(len(d) for d in docs),
        "words": len(text.split()),
        "bytes_uncompressed": len(text.encode("utf-8")),
    }


def write_corpus(out: Path, sets: dict[str, list[list[str]]], slice_from: tuple[str, ...] | None = None) -> dict:
    """Write one .xz file per source (``sets``: file name -> documents), the
    slice (of the sets named in ``slice_from``, default all) and manifest.json
    into ``out``; return the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict = {"format": "one sentence per line, blank line between documents, UTF-8 NFC",
                      "files": {}}
    for name, docs in sets.items():
        raw = format_documents(docs).encode("utf-8")
        blob = xz_bytes(raw)
        (out / name).write_bytes(blob)
        st = stats(docs)
        manifest["files"][name] = {
            "sha256": hashlib.sha256(blob).hexdigest(),
            "sha256_uncompressed": hashlib.sha256(raw).hexdigest(),
            "bytes": len(blob),
            **st,
        }
    slice_docs = make_slice([docs for name, docs in sets.items() if slice_from is None or name in slice_from])
    raw = format_documents(slice_docs).encode("utf-8")
    (out / "slice.txt").write_bytes(raw)
    manifest["files"]["slice.txt"] = {
        "sha256": hashlib.sha256(raw).hexdigest(),
        "sha256_uncompressed": hashlib.sha256(raw).hexdigest(),
        "bytes": len(raw),
        **stats(slice_docs),
    }
    manifest["sources"] = {
        "npm": {"name": NPM_PACKAGE[0], "version": NPM_PACKAGE[1], "sha256": NPM_SHA256},
        "debian": {k: {"version": v, "sha256": d, "suite": DEBIAN_SUITE} for k, (v, d) in DEB_PACKAGES.items()},
        "pypi": {"pysword": PYSWORD_VERSION},
        "wordnet": {"registry": "npm", "name": WORDNET_PACKAGE[0], "version": WORDNET_PACKAGE[1],
                    "sha256": WORDNET_SHA256},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return manifest
