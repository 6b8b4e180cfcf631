"""Apply `resources/corpus/heldout.json`: write the training and held-out text files.

Training files keep each source's document order (books stay together, which the
`--nsp-near-negatives` option relies on). Held-out documents go to one file per held-out group, so
each group can be evaluated on its own (NSP negatives from the same book or collection).

A group marked `"own_measure": true` (the WordNet text of issue 24) is written to `heldout-own/`
instead of `heldout/`: it is measured on its own only, so the all-held-out measure (prepared from
`heldout/`) stays computed on exactly the documents it was before that text joined.
"""

from __future__ import annotations

import hashlib
import json
import lzma
from pathlib import Path

from engine.data.shards import heldout_by_hash


OWN_MEASURE_FOLDER = "heldout-own"


class SplitError(ValueError):
    pass


def read_documents(path: Path) -> list[str]:
    """Documents of a BERT-layout file (blank line between documents), each as its text block."""
    opener = lzma.open if path.suffix == ".xz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [d for d in f.read().strip("\n").split("\n\n") if d]


def _range(docs: list[str], entry: dict, path: Path) -> range:
    first, end = entry["documents"]
    if not 0 <= first < end <= len(docs):
        raise SplitError(f"{path}: range {first}..{end} of {entry['name']!r} is outside its "
                         f"{len(docs)} documents")
    if not docs[first].startswith(entry["first_words"]):
        raise SplitError(f"{path}: document {first} does not start with {entry['first_words']!r}; "
                         "was the corpus rebuilt? Update heldout.json")
    return range(first, end)


def split_corpus(corpus_dir: Path, heldout_json: Path, out_dir: Path) -> dict:
    """Write out_dir/train/<source>.txt, out_dir/heldout/<group>.txt and
    out_dir/heldout-own/<group>.txt; return their counts."""
    spec = json.loads(heldout_json.read_text(encoding="utf-8"))
    train: dict[str, list[str]] = {}
    heldout: dict[str, list[str]] = {}
    own: dict[str, list[str]] = {}
    own_groups: set[str] = set()
    excluded: dict[str, int] = {}
    for file_name, rules in spec["files"].items():
        path = corpus_dir / file_name
        docs = read_documents(path)
        role = ["train"] * len(docs)
        for entry in rules.get("heldout", []):
            for i in _range(docs, entry, path):
                role[i] = entry["name"]
        for entry in rules.get("excluded", []):
            for i in _range(docs, entry, path):
                role[i] = None
            excluded[entry["name"]] = len(_range(docs, entry, path))
        if "heldout_fraction" in rules:
            group = rules["heldout_fraction"]
            if group.get("own_measure"):
                own_groups.add(group["name"])
            for i, doc in enumerate(docs):
                if role[i] == "train" and heldout_by_hash(doc.split("\n"), group["fraction"]):
                    role[i] = group["name"]
        source = file_name.split(".")[0]
        for doc, r in zip(docs, role):
            if r == "train":
                train.setdefault(source, []).append(doc)
            elif r is not None:
                (own if r in own_groups else heldout).setdefault(r, []).append(doc)
    counts = {"train": {}, "heldout": {}, "excluded": excluded}
    parts = [("train", train), ("heldout", heldout)]
    if own:
        counts[OWN_MEASURE_FOLDER] = {}
        parts.append((OWN_MEASURE_FOLDER, own))
    for split, groups in parts:
        folder = out_dir / split
        folder.mkdir(parents=True, exist_ok=True)
        for name, docs in groups.items():
            text = "\n\n".join(docs) + "\n"
            (folder / f"{name}.txt").write_text(text, encoding="utf-8")
            counts[split][name] = {"documents": len(docs),
                                   "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
    (out_dir / "split.json").write_text(json.dumps(counts, indent=2), encoding="utf-8")
    return counts
