"""What the user is looking at, as plain data: the record every export carries (next to the
model) and the part of a session that is not the texts. Read from an ExplorerState."""

from __future__ import annotations

from explorer.state import MEAN_HEAD
from explorer.widgets.attention_common import METHOD_NAMES

FILTER_NAMES = {"all": "all cells", "AA": "A→A", "AB": "A→B", "BA": "B→A", "BB": "B→B"}


def ablated_heads(state) -> list[list[int]]:
    """The lab's ablated heads as [layer, head] pairs."""
    return sorted([int(l), int(h)] for l, h in state.ablated_heads)


def view_record(state) -> dict:
    """Layer, head, query token, filter, colour scale, method and ablated heads, JSON-ready."""
    return {"layer": state.layer, "head": None if state.head == MEAN_HEAD else state.head,
            "query_token": None if state.query_token < 0 else state.query_token,
            "attention_filter": state.attention_filter, "hide_special": state.hide_special,
            "colour_scale": state.colour_scale, "view_method": state.view_method,
            "ablated_heads": ablated_heads(state)}


def caption(state) -> str:
    """One line naming what a picture shows: model, layer/head, filter, method, scale."""
    model = state.model.name if state.model is not None else "no model"
    head = "mean of heads" if state.head == MEAN_HEAD else f"head {state.head}"
    parts = [model, f"layer {state.layer}", head, FILTER_NAMES[state.attention_filter]]
    if state.hide_special:
        parts[-1] += " without [CLS]/[SEP]"
    parts += [METHOD_NAMES.get(state.view_method, state.view_method),
              f"{state.colour_scale} colour scale"]
    if ablated_heads(state):
        parts.append(f"{len(ablated_heads(state))} heads ablated")
    if state.analysis is not None:
        parts.append(f"{state.analysis.num_tokens} tokens")
    return " · ".join(parts)
