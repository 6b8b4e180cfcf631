"""Where the GUI thread's time of an explorer edit goes: every event the GUI thread handles during
``bench/gui_latency.py``'s edit loop is timed (``time.thread_time``, exclusive of the events
nested in it) and booked to its kind, paint events to the painted widget's class (a pyqtgraph
viewport as ``QWidget<GraphicsLayoutWidget>``) and to the phase of the edit it fell in:

- ``wait``: from the request to the analysis applied (the views' update slot is the
  ``metacall MainWindow`` line: the worker's queued result),
- ``repaint``: the benchmark's synchronous ``window.repaint()``,
- ``process``: the events left after it (pyqtgraph's scene updates, layout requests).

Beside it, the paint and render methods of pyqtgraph's axes, images and view boxes, timed the
same way (inclusive). The timing Python adds to every event inflates each line a little;
compare lines with each other, not with ``gui_latency.py``'s figures.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_breakdown.py [--model mini] [--edits 20]
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import gui_latency as g  # noqa: E402
import pyqtgraph as pg  # noqa: E402
from PySide6.QtCore import QEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

WORDS = {"~32": 12, "~128": 50}
ITEM_METHODS = ((pg.AxisItem, "paint"), (pg.AxisItem, "generateDrawSpecs"),
                (pg.ImageItem, "paint"), (pg.ImageItem, "render"), (pg.ViewBox, "paint"),
                (pg.GraphicsView, "paintEvent"))


class Booking:
    """Seconds of GUI-thread CPU and counts, by line, while ``on``."""

    def __init__(self):
        self.seconds: dict[str, float] = collections.defaultdict(float)
        self.count: collections.Counter = collections.Counter()
        self.on = False
        self.phase = ""
        self.nested: list[float] = []  # per open event: CPU of the events inside it

    def add(self, line: str, seconds: float) -> None:
        self.seconds[line] += seconds
        self.count[line] += 1


def event_line(receiver, event, phase: str) -> str:
    kind = event.type()
    if kind == QEvent.Type.Paint:
        name = type(receiver).__name__
        parent = receiver.parent()
        if name == "QWidget" and parent is not None:  # a scroll area's or a view's viewport
            name += f"<{type(parent).__name__}>"
        return f"paint {name} [{phase}]"
    if kind == QEvent.Type.MetaCall:
        return f"metacall {type(receiver).__name__}"
    return kind.name


def booking_app(book: Booking) -> QApplication:
    class BookingApp(QApplication):
        def notify(self, receiver, event):
            if not book.on:
                return super().notify(receiver, event)
            start = time.thread_time()
            book.nested.append(0.0)
            try:
                return super().notify(receiver, event)
            finally:
                spent = time.thread_time() - start
                book.add(event_line(receiver, event, book.phase), spent - book.nested.pop())
                if book.nested:
                    book.nested[-1] += spent

    return BookingApp([])


def time_items(book: Booking) -> dict[str, float]:
    """Wrap ITEM_METHODS so each call's CPU goes to ``items`` (inclusive)."""
    items: dict[str, float] = collections.defaultdict(float)

    def wrap(cls, name):
        original = getattr(cls, name)

        def timed(self, *args, **kwargs):
            if not book.on:
                return original(self, *args, **kwargs)
            start = time.thread_time()
            try:
                return original(self, *args, **kwargs)
            finally:
                items[f"{cls.__name__}.{name} ({type(self).__name__})"] += (
                    time.thread_time() - start)

        setattr(cls, name, timed)

    for cls, name in ITEM_METHODS:
        wrap(cls, name)
    return items


def booked_edits(window, pairs, book: Booking) -> None:
    """``gui_latency.edit_latencies``'s loop, with the phase of each event recorded."""
    for a, b in pairs:
        window.state.set_texts(a, b)
        window._debounce.stop()
        book.phase = "wait"
        window._request_analysis()
        g.wait_for(window.sig_analysis_applied)
        book.phase = "repaint"
        window.repaint()
        book.phase = "process"
        QApplication.processEvents()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mini", choices=["mini", "base"])
    parser.add_argument("--tokens", default="~128", choices=list(WORDS))
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--lines", type=int, default=20, help="event lines to print")
    args = parser.parse_args()
    book = Booking()
    app = booking_app(book)
    items = time_items(book)

    with tempfile.TemporaryDirectory() as tmp:
        folder = g.make_model(Path(tmp), args.model)
        window = g.open_window(Path(tmp), folder)
        pairs = g.texts(args.edits + 2, WORDS[args.tokens])
        g.edit_latencies(window, pairs[:2])  # warm-up
        book.on = True
        start = time.thread_time()
        booked_edits(window, pairs[2:], book)
        total = (time.thread_time() - start) * 1000 / args.edits
        book.on = False
        tokens = window.state.analysis.num_tokens
        window.close()
    per_edit = 1000 / args.edits
    print(f"# bench/gui_breakdown.py  {args.model} at {tokens} tokens, {args.edits} edits, "
          f"{g.font_families()} font families; GUI thread CPU per edit, ms")
    print(f"all: {total:.1f} ms per edit, of which booked to events "
          f"{sum(book.seconds.values()) * per_edit:.1f}")
    print("| ms per edit | events per edit | event |")
    print("|---|---|---|")
    for line, seconds in sorted(book.seconds.items(), key=lambda kv: -kv[1])[:args.lines]:
        print(f"| {seconds * per_edit:.2f} | {book.count[line] / args.edits:.1f} | {line} |")
    print("\n| ms per edit | pyqtgraph method (inclusive) |")
    print("|---|---|")
    for line, seconds in sorted(items.items(), key=lambda kv: -kv[1]):
        print(f"| {seconds * per_edit:.2f} | {line} |")
    app.quit()


if __name__ == "__main__":
    main()
