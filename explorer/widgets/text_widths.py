"""Text widths measured once per label: token lists repeat the vocabulary from edit to edit,
so each new analysis measures only the labels it has not seen."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

WIDTHS_KEPT = 50_000  # labels remembered before the cache starts over (memory stays bounded)


class WidthCache:
    """key -> width, filled by ``measure`` for the keys not seen before."""

    def __init__(self, measure: Callable[[Hashable], int]):
        self.measure = measure
        self._widths: dict[Hashable, int] = {}

    def clear(self) -> None:
        """Forget every width (e.g. after a font change)."""
        self._widths.clear()

    def get(self, key: Hashable, default: int = 0) -> int:
        return self._widths.get(key, default)

    def widths(self, keys: Sequence[Hashable]) -> list[int]:
        """The width of each key, measuring only the new ones; looked up by one C-level pass
        over the keys, not a Python call per key."""
        new = set(keys).difference(self._widths)
        if new:
            if len(self._widths) + len(new) > WIDTHS_KEPT:
                self._widths.clear()
                new = set(keys)
            self._widths.update((key, self.measure(key)) for key in new)
        return list(map(self._widths.__getitem__, keys))
