"""Benchmark: explorer latency, from a text edit (after the debounce) to every view repainted,
and process start to window shown. Absolute figures on this machine, printed, not asserted.

Beside each latency: the model pass alone (the predictor's own time for that analysis, on the
worker thread), the GUI's share (latency minus the pass, per edit: signal delivery, every view
updated and painted) and the GUI thread's CPU time per edit (``time.thread_time``: on a loaded
machine the wall figures include waiting for a core, this does not). The number of font
families Qt saw is printed with the table: a larger font set can slow text layout.

Models: BERT-Mini and BERT-Base sizes with random weights (bert-base-uncased vocab); 50
different texts of about 32 and 128 tokens, each with one [MASK], so no result is reused.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_latency.py [--texts 50] [--models mini base] [--large]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import bert_base_vocab, peak_rss_bytes  # noqa: E402
from PySide6.QtCore import QEventLoop, QSettings, QTimer  # noqa: E402
from PySide6.QtGui import QFontDatabase  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

SLICE = ROOT / "resources" / "corpus" / "slice.txt"


def make_model(folder: Path, preset: str) -> Path:
    import torch

    from engine.checkpoint import save_checkpoint
    from engine.config import BertConfig
    from engine.model import BertForPreTraining
    from engine.tokenizer import WordPieceTokenizer

    torch.manual_seed(0)
    model = BertForPreTraining(BertConfig.preset(preset, vocab_size=30522))
    return save_checkpoint(model, folder / preset, WordPieceTokenizer.from_file(bert_base_vocab()))


def texts(count: int, words: int) -> list[tuple[str, str]]:
    """``count`` different pairs of about ``words`` words each side, one [MASK] in A."""
    pool = SLICE.read_text(encoding="utf-8").split()
    pairs = []
    for i in range(count):
        start = (i * 7919) % (len(pool) - 2 * words)
        a = pool[start:start + words]
        a[len(a) // 2] = "[MASK]"
        pairs.append((" ".join(a), " ".join(pool[start + words:start + 2 * words])))
    return pairs


def wait_for(signal, timeout_ms: int = 120_000) -> None:
    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    signal.disconnect(loop.quit)


@dataclass(frozen=True)
class Edit:
    """One edit's figures, in ms."""

    latency: float   # debounce fired -> every view painted (wall)
    model: float     # the model pass alone (Analysis.elapsed_ms, on the worker thread)
    gui_cpu: float   # CPU time of the GUI thread over the edit

    @property
    def gui_share(self) -> float:
        return self.latency - self.model


def edit_latencies(window, pairs: list[tuple[str, str]]) -> list[Edit]:
    edits = []
    for a, b in pairs:
        window.state.set_texts(a, b)
        window._debounce.stop()  # measured from the moment the debounce fires
        start, start_cpu = time.perf_counter(), time.thread_time()
        window._request_analysis()
        wait_for(window.sig_analysis_applied)
        window.repaint()  # every visible view paints now, synchronously
        QApplication.processEvents()
        edits.append(Edit((time.perf_counter() - start) * 1000, window.state.analysis.elapsed_ms,
                          (time.thread_time() - start_cpu) * 1000))
    return edits


def median_of(edits: list[Edit], figure: str) -> float:
    return statistics.median(getattr(e, figure) for e in edits)


def font_families() -> int:
    return len(QFontDatabase.families())


def startup_seconds(model: Path) -> float:
    """Process start to the window shown (torch not yet needed for that)."""
    code = ("import sys\n"
            "from PySide6.QtWidgets import QApplication\n"
            "app = QApplication([])\n"
            "from explorer.main_window import MainWindow\n"
            "w = MainWindow(device='cpu'); w.show(); app.processEvents()\n"
            "print('shown', flush=True)\n")
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    proc.stdout.readline()
    elapsed = time.perf_counter() - start
    proc.kill()
    proc.wait()
    return elapsed


def open_window(settings_dir: Path, model):
    """The explorer's window, 1400 x 860, shown, its settings in ``settings_dir``, with
    ``model`` (a folder) opened and its first analysis applied."""
    from explorer.main_window import MainWindow

    window = MainWindow(device="cpu", settings=QSettings(str(settings_dir / "s.ini"),
                                                          QSettings.IniFormat))
    window.resize(1400, 860)
    window.show()
    window.start(str(model))
    wait_for(window.sig_analysis_applied)
    return window


def bench_large(texts_count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                        "from pathlib import Path; import gui_latency as g; "
                        "g.make_model(Path(sys.argv[2]), 'large')",
                        str(Path(__file__).parent), tmp], check=True, cwd=ROOT)
        window = open_window(Path(tmp), Path(tmp) / "large")
        edits = edit_latencies(window, texts(texts_count, 240))
        tokens = window.state.analysis.num_tokens
        print(f"# bench/gui_latency.py --large  {os.cpu_count()} cores, offscreen, "
              f"{len(edits)} edits, {font_families()} font families")
        print("| model | tokens | median ms | max ms | model pass ms | GUI share ms | "
              "max GUI share ms | GUI thread CPU ms | process peak RSS MiB |")
        print("|---|---|---|---|---|---|---|---|---|")
        print(f"| large (24 x 16) | {tokens} | {median_of(edits, 'latency'):.0f} | "
              f"{max(e.latency for e in edits):.0f} | {median_of(edits, 'model'):.0f} | "
              f"{median_of(edits, 'gui_share'):.0f} | {max(e.gui_share for e in edits):.0f} | "
              f"{median_of(edits, 'gui_cpu'):.0f} | {peak_rss_bytes() / 2**20:.0f} |")
        window.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=50)
    parser.add_argument("--large", action="store_true")
    parser.add_argument("--models", nargs="+", default=["mini", "base"], choices=["mini", "base"],
                        help="the model sizes to time (default: both)")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    if args.large:
        bench_large(min(args.texts, 10))
        return
    print(f"# bench/gui_latency.py  {os.cpu_count()} cores, offscreen, {args.texts} texts each, "
          f"{font_families()} font families")
    print("| model | tokens | median ms | p95 ms | model pass ms | GUI share ms | "
          "GUI thread CPU ms |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.models:
            folder = make_model(Path(tmp), preset)
            window = open_window(Path(tmp), folder)
            for words, label in ((12, "~32"), (50, "~128")):
                pairs = texts(args.texts, words)
                edit_latencies(window, pairs[:2])  # warm-up
                edits = edit_latencies(window, pairs)
                tokens = window.state.analysis.num_tokens
                times = sorted(e.latency for e in edits)
                p95 = times[int(0.95 * (len(times) - 1))]
                print(f"| {preset} | {label} ({tokens}) | {statistics.median(times):.0f} | "
                      f"{p95:.0f} | {median_of(edits, 'model'):.0f} | "
                      f"{median_of(edits, 'gui_share'):.0f} | {median_of(edits, 'gui_cpu'):.0f} |")
            window.close()
        shown = statistics.median(startup_seconds(folder) for _ in range(3))
    print(f"\nprocess start -> window shown: {shown:.2f} s (median of 3)")
    app.quit()


if __name__ == "__main__":
    main()
