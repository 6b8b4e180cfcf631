"""Issue 22, defect 6: PNG export at a chosen scale with a caption and no hover text, a "saved
to …" message, the model and view settings in every data export, dialogs in the last folder."""

from __future__ import annotations

import json

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog

from conftest import analysed, started
from explorer.view_record import caption

pytestmark = pytest.mark.usefixtures("qapp")


@pytest.fixture
def window(qtbot, make_window, hf_pretraining_dir):
    win = started(qtbot, make_window, hf_pretraining_dir, (1400, 860))
    analysed(qtbot, win, "The cat sat on the [MASK].", "It purred.")
    return win


class SaveDialog:
    """Stands in for the modal save dialog (it cannot be clicked offscreen): answers ``answer``
    with the chosen file type and records the folder each dialog started in."""

    def __init__(self, monkeypatch):
        self.started_in: list[str] = []
        self.answer = ("", "")
        monkeypatch.setattr(QFileDialog, "getSaveFileName", self)

    def __call__(self, _parent, _title, start, filters):
        self.started_in.append(start)
        path, wanted = self.answer
        chosen = next((f for f in filters.split(";;") if f.startswith(wanted)), "")
        return path, chosen


def pixels(path) -> np.ndarray:
    return pg.imageToArray(QImage(str(path)), copy=True, transpose=False)


def test_png_export_at_2x_with_caption_and_without_hover_text(qtbot, window, tmp_path,
                                                             monkeypatch):
    dialog = SaveDialog(monkeypatch)
    view = window.attention.current_view()
    dialog.answer = (str(tmp_path / "shots" / "view.png"), "PNG at 2x")
    (tmp_path / "shots").mkdir()
    window.attention.head_detail.readout.setText("cat -> sat: 0.412")  # as a hover leaves it
    window.export_png()
    first = pixels(tmp_path / "shots" / "view.png")
    # twice the view, plus a caption strip below it
    assert first.shape[1] == 2 * view.width() and first.shape[0] > 2 * view.height()
    strip = first[2 * view.height():]
    assert (strip[..., :3] < 128).any(), "the caption is drawn"
    assert "saved to" in window.statusBar().currentMessage()
    assert str(tmp_path / "shots" / "view.png") in window.statusBar().currentMessage()
    window.attention.head_detail.readout.setText("[MASK] -> .: 0.999")
    dialog.answer = (str(tmp_path / "shots" / "again.png"), "PNG at 2x")
    window.export_png()
    np.testing.assert_array_equal(pixels(tmp_path / "shots" / "again.png"), first)  # no hover text
    assert dialog.started_in[1].startswith(str(tmp_path / "shots"))  # the last folder
    dialog.answer = (str(tmp_path / "one.png"), "PNG at 1x")
    window.export_png()
    assert pixels(tmp_path / "one.png").shape[1] == view.width()


def test_caption_names_model_layer_head_filter_method_and_scale(window):
    state = window.state
    state.set_selection(layer=1, head=2)
    state.set_filter("AB", True)
    text = caption(state)
    for part in (state.model.name, "layer 1", "head 2", "A→B without [CLS]/[SEP]",
                 "raw attention", "log colour scale", f"{state.analysis.num_tokens} tokens"):
        assert part in text


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_data_exports_record_the_model_and_the_view(qtbot, window, tmp_path, monkeypatch,
                                                   suffix):
    dialog = SaveDialog(monkeypatch)
    window.state.set_selection(layer=1, head=3, query_token=2)
    window.state.set_filter("BA")
    window.state.set_colour_scale("row")
    for action, name, method in (("export_analysis", "analysis", "raw"),
                                 ("export_lab", "lab", "norm")):
        window.state.set_view_method(method)
        qtbot.waitUntil(lambda: method == "raw" or method in window.state.lab_maps,
                        timeout=60_000)
        path = tmp_path / f"{name}{suffix}"
        dialog.answer = (str(path), "")
        getattr(window, action)()
        assert "saved to" in window.statusBar().currentMessage()
        if suffix == ".json":
            data = json.loads(path.read_text())
        else:
            data = json.loads(str(np.load(path)["summary_json"]))
        meta = data["meta"]
        assert meta["model_path"] == window.state.model.path
        assert meta["model_name"] == window.state.model.name
        settings = meta["settings"]
        assert (settings["layer"], settings["head"], settings["query_token"]) == (1, 3, 2)
        assert settings["attention_filter"] == "BA" and settings["colour_scale"] == "row"
        assert settings["view_method"] == method and settings["device"] == "cpu"
    assert dialog.started_in[-1].startswith(str(tmp_path))
