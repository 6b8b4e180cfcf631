"""The Help menu's windows: About BERT Explorer, Keyboard shortcuts (generated from
``explorer.actions``) and a Markdown viewer for model cards, the README and the corpus sources.

No torch import: its version is read from the running module once the inference thread has
loaded it, else from the installed package's metadata.
"""

from __future__ import annotations

import importlib.metadata
import platform
import re
import sys
from pathlib import Path

import PySide6
from PySide6.QtCore import QUrl, qVersion
from PySide6.QtGui import QDesktopServices, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QHBoxLayout,
                               QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QTextBrowser,
                               QVBoxLayout, QWidget)

from engine.model_card import card_summary
from engine.paths import CORPUS_SOURCES, checkout_readme
from engine.results import ModelSummary
from explorer.actions import ACTIONS, MENUS, PRECISION_ACTIONS
from explorer.identity import APP_NAME, app_icon, app_version

CARD_NAMES = ("MODEL_CARD.md", "README.md")  # ours, then the Hugging Face convention
CARD_LINK = "bert-explorer:model-card"       # links the About text handles itself
SOURCES_LINK = "bert-explorer:corpus-sources"
DISTRIBUTION = "bert-explorer"
TAGLINE = ("See what a BERT model does, and train one: a from-scratch PyTorch BERT engine and a "
           "Qt explorer.")
LICENCE_SECTION_CHARS = 300  # a licence section longer than this is cut to its terms


# ----- what the windows say (plain functions, so tests read them without a window) -----

def model_card_path(model_dir: str | Path) -> Path | None:
    """The model's card in its folder, or None when it has none."""
    folder = Path(model_dir)
    return next((folder / n for n in CARD_NAMES if (folder / n).is_file()), None)


def card_licence(card: str) -> str | None:
    """What a model card says about the licence: the ``license:`` of a Hugging Face card's
    front matter, else the section whose heading names the licence (when it is long, only its
    sentences that name the terms); None if the card says nothing."""
    front = re.match(r"\A---\n(.*?)\n---\n", card, re.S)
    if front:
        found = re.search(r"^licen[cs]e:\s*(.+)$", front.group(1), re.M | re.I)
        if found:
            return found.group(1).strip().strip("'\"")
    section = re.search(r"^#+ [^\n]*licen[cs]e[^\n]*\n(.*?)(?=^#+ |\Z)", card, re.M | re.S | re.I)
    text = " ".join(section.group(1).split()) if section else ""
    if len(text) <= LICENCE_SECTION_CHARS:
        return text or None
    terms = [s.lstrip("-* ") for s in re.split(r"(?<=\.)\s+", text)
             if re.search(r"licen[cs]|(distributed|released) under", s, re.I)]
    return " ".join(terms) or text


def model_card_summary(model_dir: str | Path) -> str | None:
    """``card_summary`` of the model's own card; None without a card or without the line."""
    card = model_card_path(model_dir)
    if card is None:
        return None
    try:
        return card_summary(card.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None


def corpus_licences(sources_md: str) -> list[tuple[str, str]]:
    """(file and what it is, its licence's first sentence) per corpus file of a SOURCES.md."""
    found = []
    for part in re.split(r"^## ", sources_md, flags=re.M)[1:]:
        title = part.splitlines()[0].replace("`", "").strip()
        licence = re.search(r"^\* Licence: (.*?)(?=^\* |^\s*$)", part, re.M | re.S)
        if licence:
            text = " ".join(licence.group(1).split())
            found.append((title, re.split(r"(?<=[.)])\s", text, maxsplit=1)[0].rstrip(".")))
    return found


def torch_version() -> str:
    """The torch this app runs (imported by the inference thread), else the installed one."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return torch.__version__
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "not loaded yet"


def about_markdown(model: ModelSummary | None) -> str:
    """The About text: versions, the device, the loaded model's name and licence, the corpus."""
    lines = [f"- Versions: {APP_NAME} {app_version()}, Python {platform.python_version()}, "
             f"PyTorch {torch_version()}, Qt {qVersion()} (PySide6 {PySide6.__version__})",
             f"- Device: {model.device if model else 'chosen when a model is loaded'}", "",
             "### Model"]
    if model is None:
        lines.append("No model is loaded.")
    else:
        lines += [f"**{model.name}** — {model.architecture}, {model.layers} layers, "
                  f"{model.parameters:,} parameters", "", f"`{model.path}`", ""]
        card = model_card_path(model.path)
        if card is None:
            lines.append("This model has no model card (no MODEL_CARD.md or README.md in its "
                         "folder), so its licence is not known: ask whoever made it.")
        else:
            text = card.read_text(encoding="utf-8", errors="replace")
            summary, licence = card_summary(text), card_licence(text)
            lines += [f"*In one line:* {summary}", ""] if summary else []
            lines += [f"**Licence**, as its card states it: {licence}" if licence
                      else "The model card does not state a licence.", "",
                      f"[Open the model card]({CARD_LINK})"]
    lines += ["", "### Corpus", "The bundled corpus (`resources/corpus`), each source with its "
              "licence; the default model's card names the parts it was trained on:", ""]
    if CORPUS_SOURCES.is_file():
        sources = CORPUS_SOURCES.read_text(encoding="utf-8", errors="replace")
        lines += [f"- {title}: {licence}" for title, licence in corpus_licences(sources)]
        lines += ["", f"[Corpus sources and licences]({SOURCES_LINK})"]
    else:
        lines.append("Its sources file (SOURCES.md) is not installed with this copy.")
    return "\n".join(lines)


def readme_markdown() -> tuple[str, Path | None] | None:
    """The README and the folder its images are relative to: the checkout's file, else the
    installed package's description (without images); None when neither exists."""
    path = checkout_readme()
    if path is not None:
        return path.read_text(encoding="utf-8"), path.parent
    try:
        metadata = importlib.metadata.metadata(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    text = metadata.get_payload() or metadata.get("Description")
    return (text, None) if text else None


def shortcut_rows() -> list[tuple[str, str, str, str]]:
    """(where, action, shortcut, tip) for every action in ``ACTIONS``: by menu, in menu order,
    then those that live on a widget. Shortcuts in this platform's spelling (⌘ on macOS)."""
    where = {name: title.replace("&", "") for title, names in MENUS.items() for name in names}
    rows = []
    for name in [n for names in MENUS.values() for n in names if n in ACTIONS] + [
            n for n in ACTIONS if n not in where]:
        spec = ACTIONS[name]
        place = where.get(name) or ("View ▸ Precision" if name in PRECISION_ACTIONS else
                                    (spec.widget or "").replace("_", " ").capitalize())
        keys = (QKeySequence(spec.shortcut).toString(QKeySequence.NativeText)
                if spec.shortcut else "")
        rows.append((place, spec.text.replace("&", "").rstrip("…"), keys, spec.tip or ""))
    return rows


# ----- the windows -----

class MarkdownViewer(QDialog):
    """A Markdown file rendered readably (headings, tables, links), not as raw text."""

    def __init__(self, title: str, markdown: str, base_dir: Path | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        if base_dir is not None:  # relative links and images (the README's screenshots)
            self.browser.setSearchPaths([str(base_dir)])
        self.browser.setMarkdown(markdown)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(900, 720)


def model_card_viewer(model: ModelSummary | None, parent: QWidget | None = None
                      ) -> MarkdownViewer | None:
    """The loaded model's card, rendered; None when no model is loaded or it has no card."""
    card = model_card_path(model.path) if model is not None else None
    if card is None:
        return None
    return MarkdownViewer(f"Model card — {model.name}",
                          card.read_text(encoding="utf-8", errors="replace"), card.parent, parent)


def corpus_sources_viewer(parent: QWidget | None = None) -> MarkdownViewer | None:
    if not CORPUS_SOURCES.is_file():
        return None
    return MarkdownViewer("Corpus sources and licences",
                          CORPUS_SOURCES.read_text(encoding="utf-8"), CORPUS_SOURCES.parent, parent)


def readme_viewer(parent: QWidget | None = None) -> MarkdownViewer | None:
    found = readme_markdown()
    return None if found is None else MarkdownViewer(f"{APP_NAME} — README", *found, parent)


class AboutDialog(QDialog):
    def __init__(self, model: ModelSummary | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.viewers: list[MarkdownViewer] = []  # kept, or they would close at once
        self.setWindowTitle(f"About {APP_NAME}")
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(80, 80))
        title = QLabel(f"<h2>{APP_NAME} {app_version()}</h2>{TAGLINE}")
        title.setWordWrap(True)
        header = QHBoxLayout()
        header.addWidget(icon)
        header.addWidget(title, 1)
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)  # our links open viewers; the rest go to the browser
        self.text.anchorClicked.connect(self._open_link)
        self.text.setMarkdown(about_markdown(model))
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        self.resize(640, 560)

    def _open_link(self, url: QUrl) -> None:
        link = url.toString()
        if link not in (CARD_LINK, SOURCES_LINK):
            QDesktopServices.openUrl(url)
            return
        viewer = (model_card_viewer(self.model, self) if link == CARD_LINK
                  else corpus_sources_viewer(self))
        if viewer is not None:
            self.viewers.append(viewer)
            viewer.show()


class ShortcutsDialog(QDialog):
    """Every action with its shortcut, from the one declaration the menus are built from."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_rows()
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Shortcut", "Action", "Where"])
        for r, (place, text, keys, tip) in enumerate(rows):
            for c, value in enumerate((keys or "—", text, place)):
                item = QTableWidgetItem(value)
                if tip:
                    item.setToolTip(tip)
                self.table.setItem(r, c, item)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeToContents)
        self.table.setCurrentCell(-1, -1)  # no cell looks picked out when it opens
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(560, 420)
