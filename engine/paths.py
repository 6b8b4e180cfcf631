"""Where the project's bundled resources live.

One copy in git: ``resources/`` at the top of the checkout. An installed wheel carries the
parts an app needs (the default model, the corpus' SOURCES.md) inside this package, as
``engine/resources`` (pyproject.toml maps the folder there at build time); the frozen bundle is
built from that wheel, so it has the same layout. So: inside the package when it is there, else
the checkout's.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_INSTALLED_RESOURCES = _PACKAGE_DIR / "resources"
_CHECKOUT_ROOT = _PACKAGE_DIR.parent

INSTALLED = _INSTALLED_RESOURCES.is_dir()
RESOURCES_DIR = _INSTALLED_RESOURCES if INSTALLED else _CHECKOUT_ROOT / "resources"
DEFAULT_MODEL_DIR = RESOURCES_DIR / "models" / "default"
CORPUS_SOURCES = RESOURCES_DIR / "corpus" / "SOURCES.md"  # the corpus' provenance and licences


def default_model_dir() -> Path | None:
    """The bundled default model's folder, or None while none is bundled."""
    return DEFAULT_MODEL_DIR if (DEFAULT_MODEL_DIR / "config.json").is_file() else None


def model_or_default(model: str | Path | None) -> Path:
    """``model`` when given, else the bundled model; ValueError when there is neither."""
    if model is not None:
        return Path(model)
    bundled = default_model_dir()
    if bundled is None:
        raise ValueError("no --model given and no bundled default model in resources/models/default")
    return bundled


def checkout_readme() -> Path | None:
    """The README of the checkout this code runs from; None when installed (an installed
    package's README is its metadata's description, see ``importlib.metadata``)."""
    readme = _CHECKOUT_ROOT / "README.md"
    return readme if not INSTALLED and readme.is_file() else None
