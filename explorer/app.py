"""``bert-explorer``: arguments, the QApplication and the main window.

The window is shown before torch is imported: the inference worker imports it in its own
thread, so the app is on screen in about a second however big torch is.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from engine.paths import default_model_dir
from explorer.identity import APP_ID, APP_NAME, app_icon, app_version
from explorer.jobs import JobManager
from explorer.window_fit import parse_window_size

SCREENSHOT_TIMEOUT_MS = 180_000


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bert-explorer",
                                     description="See what a BERT model does.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {app_version()}")
    parser.add_argument("--model", metavar="DIR", help="checkpoint folder (HF layout)")
    parser.add_argument("--text-a", help="sentence A (type [MASK] to mask)")
    parser.add_argument("--text-b", help="sentence B")
    parser.add_argument("--device", help="cpu, cuda, cuda:N (default: cuda if present)")
    parser.add_argument("--screenshot", metavar="FILE.png",
                        help="render the window after the first analysis, save it and exit")
    parser.add_argument("--window-size", metavar="WxH", type=parse_window_size,
                        help="open the window at this size, e.g. 1600x1000 (with --screenshot: "
                             "the picture's size); default: 1400x860 or what the screen fits")
    parser.add_argument("--monitor", action="store_true",
                        help="open the training monitor (with --screenshot: render it and exit)")
    parser.add_argument("--runs-root", metavar="DIR",
                        help="where training jobs keep their run folders (remembered)")
    return parser


def screenshot_monitor(app: QApplication, monitor, path: Path) -> None:
    """Render the monitor once its first poll has drawn (a running job's curves, say); exit 0."""
    def grab() -> None:
        monitor.poll()
        ok = monitor.grab().save(str(path))
        print(f"wrote {path}" if ok else f"could not write {path}",
              file=sys.stdout if ok else sys.stderr)
        monitor.timer.stop()
        monitor.hide()
        app.exit(0 if ok else 1)
    QTimer.singleShot(1500, grab)


def take_screenshot_when_ready(app: QApplication, window, path: Path) -> None:
    """Save the window once the first analysis is on screen; exit 0, or 1 on failure."""
    def save(_seq: int) -> None:
        def grab() -> None:
            ok = window.grab().save(str(path))
            print(f"wrote {path}" if ok else f"could not write {path}",
                  file=sys.stdout if ok else sys.stderr)
            window.close()
            app.exit(0 if ok else 1)
        QTimer.singleShot(400, grab)  # let every view finish repainting

    def give_up(message: str) -> None:
        print(f"bert-explorer: {message}", file=sys.stderr)
        window.close()
        app.exit(1)

    window.sig_analysis_applied.connect(save)
    window.worker.sig_model_failed.connect(lambda p, m: give_up(f"could not open {p}: {m}"))
    window.worker.sig_analysis_failed.connect(lambda _seq, m: give_up(f"analysis failed: {m}"))
    QTimer.singleShot(SCREENSHOT_TIMEOUT_MS, lambda: give_up("timed out waiting for analysis"))


def make_application() -> QApplication:
    """The QApplication, named and versioned for the desktop, its icon on every window."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(app_version())
    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(app_icon())
    return app


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.screenshot and not args.monitor and not (args.model or default_model_dir()):
        print("bert-explorer: --screenshot needs --model DIR (no bundled default model yet)",
              file=sys.stderr)
        return 2
    app = make_application()
    from explorer.main_window import MainWindow

    if args.screenshot:  # a scripted run must neither read nor change the user's settings
        settings = QSettings(str(Path(tempfile.mkdtemp()) / "screenshot.ini"),
                             QSettings.IniFormat)
    else:
        settings = QSettings("BERT Explorer", "BERT Explorer")
    manager = JobManager.from_settings(settings, args.runs_root, remember=not args.screenshot)
    if args.monitor:
        return run_monitor(app, args, settings, manager)
    window = MainWindow(device=args.device, settings=settings, jobs=manager)
    if args.window_size is not None:
        window.resize(args.window_size)
    if args.text_a is not None or args.text_b is not None:
        window.state.set_texts(args.text_a or "", args.text_b or "")
    if args.screenshot:
        take_screenshot_when_ready(app, window, Path(args.screenshot))
    window.show()
    window.start(args.model)
    return app.exec()


def run_monitor(app: QApplication, args: argparse.Namespace, settings: QSettings, manager) -> int:
    """The monitor on its own; "Open in explorer" opens an explorer window when first used."""
    from explorer.main_window import MainWindow
    from explorer.monitor_window import MonitorWindow

    monitor = MonitorWindow(manager, settings)
    explorers: list[MainWindow] = []

    def open_checkpoint(path: str) -> None:
        if not explorers:
            explorers.append(MainWindow(device=args.device, settings=settings, jobs=manager))
            explorers[0].show()
            explorers[0].start(path)
        else:
            explorers[0].load_model(path)
        explorers[0].raise_()

    monitor.sig_open_checkpoint.connect(open_checkpoint)
    if args.screenshot:
        screenshot_monitor(app, monitor, Path(args.screenshot))
    monitor.show()
    return app.exec()
