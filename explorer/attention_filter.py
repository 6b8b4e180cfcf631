"""Which attention cells a filter keeps: pure numpy, shared by every attention view."""

from __future__ import annotations

import numpy as np

_SEGMENTS = {"A": 0, "B": 1}


def visible_cells(sequence_ids: list[int | None], special_mask: np.ndarray,
                  attention_filter: str, hide_special: bool) -> np.ndarray:
    """[T, T] bool: True where the (query row, key column) cell is shown.

    Filters name query -> key segments ("AB": A tokens attending to B). [CLS]/[SEP] belong to
    no segment: under a segment filter they are shown only with ``hide_special`` off, as
    context. Filtered cells are greyed out by the views, never renormalised.
    """
    seq = np.array([-1 if s is None else s for s in sequence_ids])  # [T]
    special = np.asarray(special_mask, dtype=bool)
    rows = np.ones(len(seq), dtype=bool)
    cols = np.ones(len(seq), dtype=bool)
    if attention_filter != "all":
        context = special & (not hide_special)  # [CLS]/[SEP] kept as context, unless hidden
        rows = (seq == _SEGMENTS[attention_filter[0]]) | context
        cols = (seq == _SEGMENTS[attention_filter[1]]) | context
    if hide_special:
        rows &= ~special
        cols &= ~special
    return rows[:, None] & cols[None, :]
