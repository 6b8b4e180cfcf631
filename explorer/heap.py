"""Keep Python's cyclic garbage collector off the interactive path.

After torch, the model and the window are up, the process holds some 350 000 objects that live
as long as it does. A full collection walks all of them (100-250 ms on the 2-core CPU of
docs/benchmarks.md) and comes at an allocation-count threshold, so now and then one edit paid
for it in the middle of laying out chips. ``settle_heap`` collects once, when a model has just
loaded, and then freezes what is left (``gc.freeze``): later collections see only objects made
since, which is what an analysis and its views allocate.
"""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Collect everything unreachable (the previous model's cycles included: what an earlier
    call froze is unfrozen first) and keep the survivors out of later collections."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
