"""The shortcuts the explorer's per-edit update takes (issue 25 item 1) give what the plain
computation gives: the log colour table, tooltips made on first read, the heap frozen once."""

from __future__ import annotations

import gc
import math
import weakref

import numpy as np
import pytest

from explorer.heap import freeze_startup_heap
from explorer.widgets.attention_common import (LOG_LUT_SIZE, colormap, even_colour_table,
                                               log_lookup_table)
from explorer.widgets.token_strip import LazyTooltips


@pytest.mark.parametrize("levels", [(1e-4, 1.0), (3.2e-4, 0.71), (0.012, 0.013)])
def test_log_table_is_each_value_at_its_log_position(levels):
    cmap = colormap("magma")
    lo, hi = levels
    values = np.linspace(lo, hi, LOG_LUT_SIZE)
    t = (np.log10(values) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    index = np.rint(np.clip(t, 0.0, 1.0) * (LOG_LUT_SIZE - 1)).astype(np.intp)
    table = log_lookup_table(cmap, levels)
    assert table.shape == (LOG_LUT_SIZE, 4) and table.dtype == np.uint8
    assert np.array_equal(table, even_colour_table(cmap)[index])
    assert np.array_equal(table[0], even_colour_table(cmap)[0])   # lo: the map's first colour
    assert np.array_equal(table[-1], even_colour_table(cmap)[-1])  # hi: its last


def test_lazy_tooltips_make_each_once_and_index_like_a_list():
    made = []

    def make(i: int) -> str:
        made.append(i)
        return f"tip {i}"

    tips = LazyTooltips(make, 5)
    assert len(tips) == 5 and made == []  # nothing made until read
    assert tips[3] == "tip 3" and tips[3] == "tip 3" and made == [3]
    assert tips[-1] == "tip 4"
    assert tips[1:3] == ["tip 1", "tip 2"]
    assert list(tips) == [f"tip {i}" for i in range(5)]
    assert made.count(3) == 1
    with pytest.raises(IndexError):
        tips[5]


def test_startup_heap_is_collected_then_frozen_once():
    class Node:
        pass

    before = gc.get_freeze_count()
    gc.unfreeze()  # as in a fresh process (a window test may have frozen this one's heap)
    try:
        cycle = Node()
        cycle.me = cycle
        gone = weakref.ref(cycle)
        kept = Node()
        del cycle
        freeze_startup_heap()
        assert gone() is None  # unreachable cycles are collected before the freeze
        assert gc.get_freeze_count() > 0
        assert not any(o is kept for o in gc.get_objects())  # frozen: later passes skip it
        later = Node()
        freeze_startup_heap()  # once only: what is made afterwards (a model) stays collectable
        assert any(o is later for o in gc.get_objects())
    finally:
        gc.unfreeze()
        if before:
            gc.freeze()
