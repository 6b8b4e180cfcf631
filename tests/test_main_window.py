"""The real main window, offscreen, driven through its state with a tiny real model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from conftest import analysed, started
from explorer.main_window import MainWindow

pytestmark = pytest.mark.usefixtures("qapp")


@pytest.fixture
def window(qtbot, make_window, hf_pretraining_dir):
    return started(qtbot, make_window, hf_pretraining_dir, None)


def test_first_analysis_shows_the_default_pair(window):
    analysis = window.state.analysis
    assert analysis is not None and analysis.tokens[0] == "[CLS]"
    assert window.state.model.layers == 2 and "mlm" in window.state.model.capabilities
    assert "tokens" in window.status_timing.text() and "ms" in window.status_timing.text()


def test_rapid_edits_leave_no_backlog_and_end_with_the_last_text(qtbot, window):
    applied = []
    window.sig_analysis_applied.connect(applied.append)
    for i in range(200):
        window.state.set_texts(f"edit number {i} of the [MASK] sentence", "")
    qtbot.waitUntil(lambda: window.state.analysis.text_a == "edit number 199 of the [MASK] "
                                                          "sentence", timeout=60_000)
    qtbot.wait(500)
    assert len(applied) <= 3  # debounced and latest-wins: not 200 analyses
    assert window.state.analysis.text_a.startswith("edit number 199")


def test_broken_model_folder_shows_the_error_and_keeps_the_model(qtbot, window, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    before = window.state.model
    with qtbot.waitSignal(window.worker.sig_model_failed, timeout=30_000):
        window.load_model(str(broken))
    assert window.error_banner.isVisible()
    assert "config.json" in window.error_banner.text() and "keeping" in window.error_banner.text()
    assert window.state.model is before
    assert analysed(qtbot, window, "still [MASK] here").fill_mask  # the old model still works


@pytest.mark.parametrize("text_a, text_b", [
    ("", ""), ("word " * 1000, "x" * 5000), ("😀👩‍👩‍👧 🇫🇷 日本", "\x00\x07\x1b[31m"),
    ("[MASK] [MASK] [MASK]", "[MASK]"),
])
def test_odd_input_never_crashes(qtbot, window, text_a, text_b):
    analysis = analysed(qtbot, window, text_a, text_b)
    assert analysis.num_tokens >= 2
    assert not window.error_banner.isVisible()


def test_settings_remember_texts_and_model(qtbot, tmp_path, hf_pretraining_dir):
    ini = str(tmp_path / "s.ini")
    win = MainWindow(device="cpu", settings=QSettings(ini, QSettings.IniFormat))
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.sig_analysis_applied, timeout=60_000):
        win.start(str(hf_pretraining_dir))
    win.state.set_texts("Remember [MASK].", "Please.")
    win.close()
    again = MainWindow(device="cpu", settings=QSettings(ini, QSettings.IniFormat))
    qtbot.addWidget(again)
    assert (again.state.text_a, again.state.text_b) == ("Remember [MASK].", "Please.")
    assert again.settings.value("last_model") == str(hf_pretraining_dir)
    again.close()


def test_window_is_shown_before_torch_is_imported():
    code = ("import sys\n"
            "from PySide6.QtWidgets import QApplication\n"
            "app = QApplication([])\n"
            "from explorer.main_window import MainWindow\n"
            "w = MainWindow(device='cpu')\n"
            "w.show(); app.processEvents()\n"
            "print('torch' in sys.modules, w.isVisible())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__('os').environ, "QT_QPA_PLATFORM": "offscreen"},
                         timeout=60)
    assert out.stdout.split() == ["False", "True"], out.stderr[-2000:]


@pytest.mark.slow
def test_screenshot_command_renders_the_window(tmp_path, hf_pretraining_dir):
    png = tmp_path / "shot.png"
    exe = Path(sys.executable).with_name("bert-explorer")
    run = subprocess.run([str(exe), "--model", str(hf_pretraining_dir), "--device", "cpu",
                          "--text-a", "The [MASK] sat on the [MASK].", "--text-b", "It purred.",
                          "--screenshot", str(png)], capture_output=True, text=True,
                         timeout=180, env={**__import__('os').environ,
                                           "QT_QPA_PLATFORM": "offscreen"})
    assert run.returncode == 0, run.stderr[-2000:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def test_screenshot_without_any_model_fails_at_once(monkeypatch, capsys, tmp_path):
    from explorer import app

    monkeypatch.setattr(app, "default_model_dir", lambda: None)  # a checkout without the model
    assert app.main(["--screenshot", str(tmp_path / "never.png")]) == 2
    assert "--model" in capsys.readouterr().err and not (tmp_path / "never.png").exists()


@pytest.mark.slow
def test_without_a_model_argument_the_bundled_model_opens(tmp_path):
    """What ./run.sh shows on first launch: the bundled model, with fill-mask and NSP."""
    exe = Path(sys.executable).with_name("bert-explorer")
    out = tmp_path / "first-launch.png"
    run = subprocess.run([str(exe), "--text-a", "The [MASK] is open.", "--screenshot", str(out)],
                         capture_output=True, text=True, timeout=180,
                         env={**__import__('os').environ, "QT_QPA_PLATFORM": "offscreen"})
    assert run.returncode == 0, run.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_two_actions_share_a_shortcut(window):
    """Ctrl+M masks the selected word; a menu action on the same keys would make both dead.
    Every shortcut the window has comes from the one declaration in explorer.actions."""
    from PySide6.QtGui import QAction, QKeySequence

    from explorer.actions import ACTIONS

    declared = [QKeySequence(a.shortcut).toString() for a in ACTIONS.values() if a.shortcut]
    assert len(declared) == len(set(declared)), sorted(declared)
    keys = [a.shortcut().toString() for a in window.findChildren(QAction)
            if not a.shortcut().isEmpty()]
    assert len(keys) == len(set(keys)), sorted(keys)
    assert sorted(keys) == sorted(declared)


def test_every_menu_action_calls_a_handler_the_window_has(window):
    from explorer.actions import ACTIONS, MENUS

    for entries in MENUS.values():
        for name in entries:
            if name in ACTIONS:
                owner = getattr(window, ACTIONS[name].widget or "", window)
                assert callable(getattr(owner, ACTIONS[name].handler)), name
    assert window.actions["open_monitor"].shortcut().toString() == "Ctrl+Shift+T"


# What each panel redraws from an analysis (the expensive part of an update).
PANEL_RENDERS = [("explorer.widgets.token_strip", "TokenStrip", "_show_analysis"),
                 ("explorer.widgets.predictions", "PredictionsPanel", "_show_analysis"),
                 ("explorer.widgets.task_panel", "TaskPanel", "_show_analysis"),
                 ("explorer.widgets.model_bar", "ModelBar", "_on_analysis"),
                 ("explorer.widgets.attention", "AttentionFilterBar", "_sync"),
                 ("explorer.widgets.attention_grid", "HeadGrid", "refresh"),
                 ("explorer.widgets.attention_detail", "HeadDetail", "refresh")]


def test_a_model_load_repaints_each_panel_once_with_the_new_models_analysis(
        qtbot, make_window, tmp_path, hf_pretraining_dir, vocab_file, monkeypatch):
    import importlib

    from conftest import save_hf_model

    other = save_hf_model("BertForPreTraining", tmp_path / "other", vocab_file, seed=7,
                          num_hidden_layers=3)
    renders: list[tuple[str, str | None]] = []  # (panel, model path the state held then)
    for module, cls_name, method in PANEL_RENDERS:
        cls = getattr(importlib.import_module(module), cls_name)

        def counting(self, *args, _original=getattr(cls, method), _name=cls_name):
            renders.append((_name, self.state.model.path if self.state.model else None))
            return _original(self, *args)
        monkeypatch.setattr(cls, method, counting)
    win = make_window()
    with qtbot.waitSignal(win.sig_analysis_applied, timeout=60_000):
        win.start(str(hf_pretraining_dir))
    qtbot.wait(200)
    renders.clear()
    with qtbot.waitSignal(win.sig_analysis_applied, timeout=60_000):
        win.load_model(str(other))
    qtbot.wait(200)
    assert sorted(name for name, _ in renders) == sorted(c for _, c, _ in PANEL_RENDERS)
    assert {path for _, path in renders} == {str(other.resolve())}
    assert win.state.model.layers == 3 and win.state.analysis.attentions.shape[0] == 3
