"""Every action of the explorer window with a name, text and shortcut, declared once.

The menus are built from ``MENUS``; the shortcut-uniqueness test and any shortcuts list read
``ACTIONS``. A new action is one entry here plus its handler on the window.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActionSpec:
    text: str
    handler: str                 # the method of ``MainWindow`` it calls (or of the widget named)
    shortcut: str | None = None  # portable text ("Ctrl+O"); Qt shows Cmd for Ctrl on macOS
    tip: str | None = None
    widget: str | None = None    # a window attribute that owns the action instead of a menu


ACTIONS: dict[str, ActionSpec] = {
    "open_model": ActionSpec("&Open model folder…", "choose_model", "Ctrl+O"),
    "open_bundled": ActionSpec("Open the &bundled default model", "open_bundled_model"),
    "export_png": ActionSpec("Export attention view as &PNG…", "export_png"),
    "export_analysis": ActionSpec("Export &analysis (.npz / .json)…", "export_analysis"),
    "export_salience_png": ActionSpec("Export &salience chips as PNG…", "export_salience_png",
                                      tip="The token chips coloured by salience, with the legend"),
    "export_lab": ActionSpec("Export &lab result (.npz / .json)…", "export_lab",
                             tip="The chosen method's maps and the salience shown, with the "
                                 "model, method, target and settings"),
    "open_corpus_index": ActionSpec("Open &corpus index…", "open_corpus_index",
                                    tip="A folder made by `bert-engine index`; remembered"),
    "find_similar": ActionSpec("&Find similar in corpus", "find_similar_in_corpus",
                               "Ctrl+Shift+F",
                               tip="The corpus tokens nearest to the selected token at the "
                                   "selected layer (also on a token chip's context menu)"),
    "open_dataset": ActionSpec("Run a &dataset file…", "open_dataset_window",
                               tip="Every example of a file through the model: a table, "
                                   "metrics, slices and an embedding projector"),
    "quit": ActionSpec("&Quit", "close", "Ctrl+Q"),
    "open_monitor": ActionSpec("Training &monitor…", "open_monitor", "Ctrl+Shift+T"),
    # Lives on the sentence editors, so it works while either has focus.
    "mask_word": ActionSpec("Mask selected word", "mask_selected_word", "Ctrl+M",
                            tip="Replace the word under the cursor (or the selection) in the "
                                "focused sentence by [MASK]  (Ctrl+M)",
                            widget="pair_input"),
    "open_readme": ActionSpec("&README", "open_readme", "F1"),
    "open_model_card": ActionSpec("Model &card", "open_model_card",
                                  tip="The loaded model's MODEL_CARD.md (or README.md), rendered"),
    "keyboard_shortcuts": ActionSpec("&Keyboard shortcuts", "show_shortcuts", "Ctrl+/"),
    "about": ActionSpec("&About BERT Explorer", "show_about"),
}

SEPARATOR = "-"
RECENT = "recent"  # the "Open recent" submenu, filled from the settings

MENUS: dict[str, tuple[str, ...]] = {
    "&File": ("open_model", RECENT, "open_bundled", SEPARATOR, "export_png", "export_salience_png",
              "export_analysis", "export_lab", SEPARATOR, "open_corpus_index", "find_similar",
              "open_dataset", SEPARATOR, "quit"),
    "&Training": ("open_monitor",),
    "&Help": ("open_readme", "open_model_card", "keyboard_shortcuts", SEPARATOR, "about"),
}
