"""Issue 22, defect 7: a double-click in the model view opens that head in the detail view;
the New job dialog's problem list follows the fields; the fine-tuning form fits a 700 px
screen."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt

from conftest import CORPUS_SLICE
from explorer.jobs import JobManager
from explorer.new_job_dialog import NewJobDialog
from explorer.state import ExplorerState
from explorer.widgets.attention import AttentionPanel

pytestmark = pytest.mark.usefixtures("qapp")


@pytest.fixture(scope="module")
def analysis(hf_pretraining_dir):
    from engine.infer import Predictor

    return Predictor.load(hf_pretraining_dir, device="cpu").analyze("The cat sat.", "It purred.")


def test_double_click_in_the_model_view_opens_the_head_in_the_detail(qtbot, analysis):
    state = ExplorerState()
    panel = AttentionPanel(state)
    qtbot.addWidget(panel)
    panel.resize(1200, 700)
    panel.show()
    state.set_analysis(analysis)
    model = panel.model_view
    panel.tabs.setCurrentWidget(model)
    qtbot.waitUntil(lambda: not model._dirty)
    vb = model.plot.getViewBox()
    point = model.view.mapFromScene(vb.mapViewToScene(QPointF(2.5, 1.5)))
    qtbot.mouseClick(model.view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert panel.tabs.currentWidget() is model  # a single click only selects
    qtbot.mouseDClick(model.view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert panel.tabs.currentWidget() is panel.splitter
    assert (state.layer, state.head) == (1, 2)
    assert "Layer 1 · head 2" in panel.head_detail.plot.titleLabel.text


@pytest.fixture
def dialog(qtbot, tmp_path):
    runs = tmp_path / "runs"
    dialog = NewJobDialog(runs, JobManager(runs).new_run_dir)
    qtbot.addWidget(dialog)
    dialog.show()
    yield dialog
    dialog.reject()


def test_the_problem_list_follows_the_filled_corpus(dialog):
    dialog.start_button.click()
    assert dialog.problems.isVisible() and "--corpus" in dialog.problems.text()
    dialog.corpus.setText(str(CORPUS_SLICE))
    assert not dialog.problems.isVisible(), dialog.problems.text()
    dialog.corpus.setText("")
    dialog.start_button.click()
    dialog.corpus.setText(str(CORPUS_SLICE.with_name("missing.txt")))
    assert dialog.problems.isVisible() and "missing.txt" in dialog.problems.text()


def test_the_finetune_form_fits_a_700_px_screen(dialog):
    dialog.finetune_choice.setChecked(True)
    dialog.adjustSize()
    assert dialog.height() <= 680
    scroll = dialog.finetune_scroll
    assert scroll.widget() is dialog.finetune
    assert scroll.verticalScrollBar().maximum() > 0  # the rest scrolls into view
    assert scroll.horizontalScrollBar().maximum() == 0
    assert scroll.viewport().width() >= dialog.finetune.minimumWidth()
