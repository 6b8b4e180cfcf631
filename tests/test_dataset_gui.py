"""The Dataset window: a file runs in the inference thread, the table holds every example,
the projector's selection filters the table and back, selected rows are highlighted in the
projection, and a double-click opens the example in the main window."""

from __future__ import annotations

import pytest

from conftest import CORPUS_SLICE


@pytest.fixture
def window(qtbot, make_window, hf_pretraining_dir):
    win = make_window()
    with qtbot.waitSignal(win.worker.sig_model_loaded, timeout=60_000):
        win.start(str(hf_pretraining_dir))
    return win


def test_a_projector_selection_filters_the_table_and_back(qtbot, window, tmp_path):
    lines = [l for l in CORPUS_SLICE.read_text(encoding="utf-8").splitlines() if l][:13]
    path = tmp_path / "examples.txt"
    path.write_text("".join(f"{a}\t{b}\n" for a, b in zip(lines, lines[1:])), encoding="utf-8")
    window.open_dataset_window()
    dw = window.dataset_window
    dw.start(str(path))
    assert dw.run is None  # running in the worker thread, not here
    qtbot.waitUntil(lambda: dw.run is not None, timeout=60_000)
    assert dw.table.rowCount() == 12 and len(dw.scatter.points()) == 12
    assert dw.visible_examples() == list(range(12))
    dw.select_points([2, 5])
    assert dw.visible_examples() == [2, 5]
    dw.filter.setText(lines[5][:12].lower())
    assert dw.visible_examples() == [5]
    dw.filter.setText("")
    dw.select_points([])
    assert dw.visible_examples() == list(range(12))
    row = next(r for r in range(12) if dw._row_example(r) == 4)
    dw.table.selectRow(row)
    sizes = {int(p.data()): p.size() for p in dw.scatter.points()}
    assert sizes[4] > sizes[3]
    dw.grab().save(str(tmp_path / "dataset.png"))
    dw._open_row(row, 1)
    assert (window.state.text_a, window.state.text_b) == (lines[4], lines[5])
