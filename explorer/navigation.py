"""Keyboard navigation over the state: layers, heads, query token, filters, candidates.
Each step wraps around; each is a menu action (``explorer.actions``) with its shortcut."""

from __future__ import annotations

from explorer.state import ATTENTION_FILTERS, HEADLESS_METHODS, MEAN_HEAD


def _shape(state) -> tuple[int, int, int]:
    """(layers, heads, tokens) of the analysis on screen, zeros without one."""
    analysis = state.analysis
    if analysis is None:
        return 0, 0, 0
    layers, heads = analysis.attentions.shape[:2]
    return layers, heads, analysis.num_tokens


def step_layer(state, step: int) -> None:
    layers, _, _ = _shape(state)
    if layers:
        state.set_selection(layer=(state.layer + step) % layers)


def step_head(state, step: int) -> None:
    """Through "mean of heads", head 0, 1, … and round again (off for a method without heads)."""
    _, heads, _ = _shape(state)
    if not heads or state.view_method in HEADLESS_METHODS:
        return
    order = [MEAN_HEAD, *range(heads)]
    current = order.index(state.head) if state.head in order else 0
    state.set_selection(head=order[(current + step) % len(order)])


def step_query_token(state, step: int) -> None:
    """The next (or previous) token as the query; from none, the first (or last)."""
    _, _, tokens = _shape(state)
    if not tokens:
        return
    if state.query_token < 0:
        state.set_selection(query_token=0 if step > 0 else tokens - 1)
    else:
        state.set_selection(query_token=(state.query_token + step) % tokens)


def next_filter(state) -> None:
    """All → A→A → A→B → B→A → B→B → All; the B filters are skipped without a sentence B."""
    analysis = state.analysis
    has_b = analysis is not None and any(s == 1 for s in analysis.sequence_ids)
    usable = [f for f in ATTENTION_FILTERS if has_b or "B" not in f]
    current = usable.index(state.attention_filter) if state.attention_filter in usable else -1
    state.set_filter(usable[(current + 1) % len(usable)])


def candidate_target(state, rank: int) -> tuple[int, str] | None:
    """(position, token) of candidate ``rank`` (1 = the most probable) for the [MASK] that is
    the query token, else the first [MASK]; None when there is no such candidate."""
    analysis = state.analysis
    if analysis is None or not analysis.fill_mask:
        return None
    masks = {m.position: m for m in analysis.fill_mask}
    mask = masks.get(state.query_token, analysis.fill_mask[0])
    if not 1 <= rank <= len(mask.tokens):
        return None
    return mask.position, mask.tokens[rank - 1]
