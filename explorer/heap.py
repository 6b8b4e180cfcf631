"""Keep Python's cyclic garbage collector off the interactive path.

With torch, a model and the window up, the process holds some 344 000 objects, most of them
modules, classes and functions that live as long as it does. A full collection walks all of
them (245 ms on the 2-core CPU of docs/benchmarks.md) and comes at an allocation-count
threshold, so now and then an edit paid for it in the middle of laying out chips.
``freeze_startup_heap`` collects once, when torch has just been imported for the first model,
and freezes the ~220 000 objects left (``gc.freeze``): later collections see only what is made
after (the model, torch's lazily imported parts, analyses, views: ~120 000, a third of the
walk). No model is frozen: nn.Modules hold reference cycles, so a frozen model that is
replaced would never be freed.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Collect once and keep the survivors out of later collections; a no-op once done."""
    if gc.get_freeze_count():
        return
    gc.collect()
    gc.freeze()
