"""Where the project's bundled resources live."""

from __future__ import annotations

from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent.parent / "resources"
DEFAULT_MODEL_DIR = RESOURCES_DIR / "models" / "default"


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
