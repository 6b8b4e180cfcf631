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
    args: tuple = ()             # passed to the handler (e.g. a candidate's rank)


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
    "compare_model": ActionSpec("&Compare with model…", "choose_compare_model",
                                tip="Open a second model that shares this one's tokenizer "
                                    "beside it: attention as A, B or B − A, per-head "
                                    "divergence, both models' predictions"),
    "close_compare": ActionSpec("Close the second model", "close_compare",
                                tip="Back to the single view"),
    "open_corpus_index": ActionSpec("Open &corpus index…", "open_corpus_index",
                                    tip="A folder made by `bert-engine index`; remembered"),
    "find_similar": ActionSpec("&Find similar in corpus", "find_similar_in_corpus",
                               "Ctrl+F",
                               tip="The corpus tokens nearest to the selected token at the "
                                   "selected layer (also on a token chip's context menu)"),
    "open_dataset": ActionSpec("Run a &dataset file…", "open_dataset_window",
                               tip="Every example of a file through the model: a table, "
                                   "metrics, slices and an embedding projector"),
    "quit": ActionSpec("&Quit", "quit_app", "Ctrl+Q",
                       tip="Close every window (the monitor asks about running jobs) and exit"),
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
    "ablate_mode": ActionSpec("&Ablate heads on click", "toggle_ablate_mode", "Ctrl+Shift+X",
                              tip="While on, a click on a head in the Model tab or the Head lab "
                                  "switches it off or back on"),
    "reset_ablation": ActionSpec("&Reset ablation", "reset_ablation",
                                 tip="Every head back on: the original predictions"),
    # Sessions and the input history (explorer.session, explorer.history)
    "save_session": ActionSpec("&Save session…", "save_session", "Ctrl+S",
                               tip="Texts, model, layer, head, query token, filters, scale and "
                                   "ablated heads in a .bxsession file"),
    "open_session": ActionSpec("Open sess&ion…", "open_session", "Ctrl+Shift+O"),
    "pin_input": ActionSpec("&Pin this input", "pin_input", "Ctrl+D",
                            tip="Keep the sentence pair at the top of Recent inputs"),
    # View (explorer.view_settings)
    "toggle_theme": ActionSpec("&Light / dark theme", "toggle_theme", "Ctrl+Shift+L",
                               tip="The window and the plots together"),
    "font_larger": ActionSpec("Plot font &larger", "font_larger", "Ctrl+="),
    "font_smaller": ActionSpec("Plot font &smaller", "font_smaller", "Ctrl+-"),
    # Navigate (explorer.navigation): every step wraps around
    "previous_layer": ActionSpec("Previous layer", "previous_layer", "Alt+Up"),
    "next_layer": ActionSpec("Next layer", "next_layer", "Alt+Down"),
    "previous_head": ActionSpec("Previous head", "previous_head", "Alt+Left"),
    "next_head": ActionSpec("Next head", "next_head", "Alt+Right"),
    "previous_query": ActionSpec("Previous query token", "previous_query_token",
                                 "Alt+Shift+Left"),
    "next_query": ActionSpec("Next query token", "next_query_token", "Alt+Shift+Right"),
    "next_filter": ActionSpec("Next filter (All, A→A, A→B, B→A, B→B)", "next_filter",
                              "Ctrl+Shift+F"),
    "focus_a": ActionSpec("Edit sentence A", "focus_a", "Ctrl+Shift+A"),
    "focus_b": ActionSpec("Edit sentence B", "focus_b", "Ctrl+Shift+B"),
    # View ▸ Precision (explorer.precision_menu): radio items, the model reloads in it
    "precision_fp32": ActionSpec("&fp32 (exact probabilities)", "set_precision", args=("fp32",),
                                 tip="Every product in float32: the probabilities you read"),
    "precision_bf16": ActionSpec("&bf16 (faster, approximate)", "set_precision", args=("bf16",),
                                 tip="The encoder's V, O and FFN products in bfloat16; scores, "
                                     "softmax and LayerNorm in float32"),
    "precision_auto": ActionSpec("&auto (bf16 where the CPU or GPU has it)", "set_precision",
                                 args=("auto",),
                                 tip="bf16 on CUDA and on CPUs with AMX or AVX-512 BF16, "
                                     "else fp32"),
    **{f"candidate_{k}": ActionSpec(f"Fill [MASK] with candidate {k}", "pick_candidate",
                                    f"Ctrl+{k}", args=(k,)) for k in range(1, 10)},
}

SEPARATOR = "-"
RECENT = "recent"  # the "Open recent" submenu, filled from the settings
RECENT_INPUTS = "recent_inputs"  # the "Recent inputs" submenu (explorer.history)
COLORMAPS = "colormaps"  # the "Colour map" submenu, one checkable entry per map
PRECISION = "precision"  # the "Precision" submenu: PRECISION_ACTIONS as radio items
PRECISION_ACTIONS = ("precision_fp32", "precision_bf16", "precision_auto")

MENUS: dict[str, tuple[str, ...]] = {
    "&File": ("open_model", RECENT, "open_bundled", SEPARATOR, "compare_model", "close_compare",
              SEPARATOR, "open_session", "save_session", RECENT_INPUTS, "pin_input", SEPARATOR,
              "export_png", "export_salience_png",
              "export_analysis", "export_lab", SEPARATOR, "open_corpus_index", "find_similar",
              "open_dataset", SEPARATOR, "quit"),
    "&View": ("toggle_theme", "font_larger", "font_smaller", COLORMAPS, SEPARATOR, PRECISION),
    "&Navigate": ("previous_layer", "next_layer", "previous_head", "next_head", "previous_query",
                  "next_query", "next_filter", SEPARATOR, "focus_a", "focus_b", SEPARATOR,
                  *(f"candidate_{k}" for k in range(1, 10))),
    "&Training": ("open_monitor",),
    "H&eads": ("ablate_mode", "reset_ablation"),
    "&Help": ("open_readme", "open_model_card", "keyboard_shortcuts", SEPARATOR, "about"),
}
