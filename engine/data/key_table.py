"""A hash table from uint64 keys to rows, looked up and filled a whole array at a time.

Open addressing with linear probing, at most half full (it doubles before that), so a lookup is
a few numpy gathers over the keys still unresolved (most resolve at their first slot) instead
of a Python dictionary lookup per key. Its memory follows the keys it holds.
"""

from __future__ import annotations

import numpy as np

from engine.data.chunk_keys import mix

_EMPTY = -1
_FIRST_BITS = 10


class KeyTable:
    """Distinct uint64 keys, each with a row (int64 >= 0)."""

    def __init__(self):
        self._size(_FIRST_BITS)
        self._count = 0

    def _size(self, bits: int) -> None:
        self._slot_mask = (1 << bits) - 1
        self._shift = np.uint64(64 - bits)
        self._keys = np.zeros(1 << bits, np.uint64)        # [slots]
        self._rows = np.full(1 << bits, _EMPTY, np.int64)  # [slots]

    def _home(self, keys: np.ndarray) -> np.ndarray:
        return (mix(keys) >> self._shift).astype(np.int64)  # top bits: the best mixed ones

    def get(self, keys: np.ndarray) -> np.ndarray:
        """keys uint64 [n] -> rows int64 [n], -1 for keys not in the table."""
        slots = self._home(keys)                                 # [n]
        # An empty slot holds row -1, so a "hit" on it gives -1, which is right: a probe ends there.
        found = self._rows[slots]                                # [n]
        todo = np.flatnonzero((self._keys[slots] != keys) & (found != _EMPTY))
        while len(todo):  # a slot held by another key: probe the next
            at = (slots[todo] + 1) & self._slot_mask
            slots[todo] = at
            found[todo] = self._rows[at]
            todo = todo[(self._keys[at] != keys[todo]) & (found[todo] != _EMPTY)]
        return found

    def put(self, keys: np.ndarray, rows: np.ndarray) -> None:
        """Add distinct keys (uint64 [n]) that are not in the table yet, with their rows [n]."""
        if 2 * (self._count + len(keys)) > len(self._rows):  # keep >= 2 slots per key
            held = np.flatnonzero(self._rows != _EMPTY)
            keys, rows = np.concatenate((self._keys[held], keys)), np.concatenate((self._rows[held], rows))
            self._size((2 * len(keys) - 1).bit_length())
            self._count = 0
        self._count += len(keys)
        slots = self._home(keys)
        todo = np.arange(len(keys))
        while len(todo):
            at = slots[todo]
            free = np.flatnonzero(self._rows[at] == _EMPTY)
            # Several keys may want one free slot: the first of them takes it.
            _, first = np.unique(at[free], return_index=True)
            taken = todo[free[first]]
            self._keys[slots[taken]], self._rows[slots[taken]] = keys[taken], rows[taken]
            placed = np.zeros(len(todo), bool)
            placed[free[first]] = True
            todo = todo[~placed]
            slots[todo] = (slots[todo] + 1) & self._slot_mask
