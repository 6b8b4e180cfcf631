"""Sessions: what the explorer shows, saved to a ``.bxsession`` file (JSON) and opened again,
so a finding can be shown to a colleague. Fields: ``text_a``, ``text_b``, ``model_path`` and
the view record (``layer``, ``head``, ``query_token``, ``attention_filter``, ``hide_special``,
``colour_scale``, ``view_method``, ``ablated_heads``)."""

from __future__ import annotations

import json
from pathlib import Path

from engine import atomic
from explorer.state import ATTENTION_FILTERS, MEAN_HEAD, VIEW_METHODS
from explorer.view_record import view_record
from explorer.view_settings import COLOUR_SCALE_NAMES

SESSION_SUFFIX = ".bxsession"
SESSION_FORMAT = "bert-explorer-session"
SESSION_VERSION = 1


class SessionError(ValueError):
    """A file that is not a session this version can open; the message names the file."""


def session_data(state) -> dict:
    model = state.model
    return {"format": SESSION_FORMAT, "version": SESSION_VERSION,
            "text_a": state.text_a, "text_b": state.text_b,
            "model_path": model.path if model is not None else None, **view_record(state)}


def save_session(path, state) -> Path:
    path = Path(path)
    if path.suffix != SESSION_SUFFIX:
        path = path.with_name(path.name + SESSION_SUFFIX)
    atomic.write_json(path, session_data(state))
    return path


def _check(path: Path, data: dict, name: str, ok) -> None:
    if name in data and not ok(data[name]):
        raise SessionError(f"{path}: {name} = {data[name]!r} is not valid")


def read_session(path) -> dict:
    """The session in ``path``, checked field by field; SessionError naming what is wrong."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SessionError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SessionError(f"{path}: not a BERT Explorer session (not JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("format") != SESSION_FORMAT:
        raise SessionError(f"{path}: not a BERT Explorer session")
    if not isinstance(data.get("version"), int) or data["version"] > SESSION_VERSION:
        raise SessionError(f"{path}: session version {data.get('version')!r} is newer than "
                           f"this BERT Explorer reads ({SESSION_VERSION})")
    def whole(v, low=0):
        return isinstance(v, int) and not isinstance(v, bool) and v >= low
    for name in ("text_a", "text_b"):
        _check(path, data, name, lambda v: isinstance(v, str))
    _check(path, data, "model_path", lambda v: v is None or isinstance(v, str))
    _check(path, data, "layer", whole)
    _check(path, data, "head", lambda v: v is None or whole(v))
    _check(path, data, "query_token", lambda v: v is None or whole(v))
    _check(path, data, "attention_filter", lambda v: v in ATTENTION_FILTERS)
    _check(path, data, "hide_special", lambda v: isinstance(v, bool))
    _check(path, data, "colour_scale", lambda v: v in COLOUR_SCALE_NAMES)
    _check(path, data, "view_method", lambda v: v in VIEW_METHODS)
    _check(path, data, "ablated_heads", lambda v: isinstance(v, list) and all(
        isinstance(p, list) and len(p) == 2 and all(whole(x) for x in p) for p in v))
    return data


def apply_session(state, data: dict) -> None:
    """Texts, filters, scale, method, selection and (where the state has them) ablated heads."""
    state.set_texts(data.get("text_a", ""), data.get("text_b", ""))
    state.set_filter(data.get("attention_filter", "all"), data.get("hide_special", False))
    state.set_colour_scale(data.get("colour_scale", state.colour_scale))
    state.set_view_method(data.get("view_method", "raw"))
    head, query = data.get("head"), data.get("query_token")
    state.set_selection(layer=data.get("layer", 0), head=MEAN_HEAD if head is None else head,
                        query_token=-1 if query is None else query)
    state.set_ablated_heads({tuple(p) for p in data.get("ablated_heads", [])})
