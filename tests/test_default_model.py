"""The bundled default model: its held-out split, and its agreement with `transformers`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from default_model.split import SplitError, read_documents, split_corpus  # noqa: E402

CORPUS = ROOT / "resources" / "corpus"


@pytest.fixture(scope="module")
def split(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("split")
    split_corpus(CORPUS, CORPUS / "heldout.json", out)
    return out


def test_heldout_documents_take_no_part_in_training(split):
    train = {d for f in (split / "train").iterdir() for d in read_documents(f)}
    heldout = {f.stem: read_documents(f) for f in (split / "heldout").iterdir()}
    assert sorted(heldout) == ["acts", "jargon", "persuasion"]
    assert all(len(docs) >= 20 for docs in heldout.values())  # enough for same-source NSP
    assert not train & {d for docs in heldout.values() for d in docs}
    assert heldout["persuasion"][0].startswith("Sir Walter Elliot")
    assert heldout["acts"][0].startswith("The first book I wrote, Theophilus")
    # The King James Acts is another translation of held-out text: in neither split.
    assert not any(d.startswith("The former treatise have I made, O Theophilus") for d in train)
    counts = json.loads((split / "split.json").read_text())
    shipped = sum(json.loads((CORPUS / "manifest.json").read_text())["files"][f]["documents"]
                  for f in ("gutenberg.txt.xz", "web_bible.txt.xz", "jargon.txt.xz"))
    kept = sum(c["documents"] for part in ("train", "heldout") for c in counts[part].values())
    assert kept + sum(counts["excluded"].values()) == shipped


def test_training_files_keep_document_order(split):
    gutenberg = read_documents(split / "train" / "gutenberg.txt")
    assert gutenberg[0].startswith("Emma Woodhouse")  # Emma first, as in the shipped file
    emma_end = next(i for i, d in enumerate(gutenberg) if d.startswith("The family of Dashwood"))
    assert 50 <= emma_end <= 60  # Emma's chapters, then Sense and Sensibility (Persuasion held out)


def test_a_shifted_corpus_is_refused(tmp_path):
    spec = json.loads((CORPUS / "heldout.json").read_text())
    spec["files"]["web_bible.txt.xz"]["heldout"][0]["documents"] = [1216, 1244]
    (tmp_path / "heldout.json").write_text(json.dumps(spec))
    with pytest.raises(SplitError, match="does not start with"):
        split_corpus(CORPUS, tmp_path / "heldout.json", tmp_path / "out")
