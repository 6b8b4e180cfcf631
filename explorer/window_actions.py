"""The explorer window's keyboard, session, history and View menu actions (issue 22), as a
mixin of ``MainWindow``: the handlers ``explorer.actions`` names, kept out of the window's
wiring. Each reads and writes the state; none runs torch."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QFileDialog, QMenu

from explorer import navigation
from explorer.history import SETTLE_MS, InputHistory
from explorer.last_folder import remember, start_path
from explorer.session import SESSION_SUFFIX, SessionError, apply_session, read_session, \
    save_session
from explorer.theme import apply_theme
from explorer.view_settings import COLOUR_SCALE_NAMES, FONT_SIZES, THEMES, ViewStyle
from explorer.widgets.attention_common import COLORMAP_CHOICES

VIEW_KEYS = {"theme": "view/theme", "font_size": "view/font_size", "colormap": "view/colormap"}
SCALE_KEY = "view/colour_scale"


class WindowActions:
    # ----- navigation -----

    def next_layer(self) -> None:
        navigation.step_layer(self.state, 1)

    def previous_layer(self) -> None:
        navigation.step_layer(self.state, -1)

    def next_head(self) -> None:
        navigation.step_head(self.state, 1)

    def previous_head(self) -> None:
        navigation.step_head(self.state, -1)

    def next_query_token(self) -> None:
        navigation.step_query_token(self.state, 1)

    def previous_query_token(self) -> None:
        navigation.step_query_token(self.state, -1)

    def next_filter(self) -> None:
        navigation.next_filter(self.state)

    def focus_a(self) -> None:
        self.pair_input.editor_a.setFocus()

    def focus_b(self) -> None:
        self.pair_input.editor_b.setFocus()

    def pick_candidate(self, rank: int) -> None:
        target = navigation.candidate_target(self.state, rank)
        if target is None:
            self.statusBar().showMessage(f"No candidate {rank} to fill in: type [MASK] first",
                                         5000)
            return
        self.predictions.apply_candidate(*target)

    # ----- sessions -----

    def save_session(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save session",
                                              start_path(self.settings, "finding" + SESSION_SUFFIX),
                                              f"BERT Explorer session (*{SESSION_SUFFIX})")
        if path:
            remember(self.settings, path)
            try:
                saved = save_session(path, self.state)
            except OSError as exc:
                self._show_error(f"Could not save the session: {exc}")
                return
            self.statusBar().showMessage(f"saved to {saved}", 8000)

    def open_session(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open session", start_path(self.settings),
                                              f"BERT Explorer session (*{SESSION_SUFFIX});;All (*)")
        if path:
            remember(self.settings, path)
            self.open_session_file(path)

    def open_session_file(self, path: str) -> bool:
        """Show the session in ``path``: its texts and view now, its model loaded if it is not
        the one open (the view then applies to that model's analysis)."""
        try:
            data = read_session(path)
        except SessionError as exc:
            self._show_error(f"Could not open the session: {exc}")
            return False
        apply_session(self.state, data)
        model = data.get("model_path")
        if model and (self.state.model is None or self.state.model.path != model):
            self.load_model(model)
        self.statusBar().showMessage(f"opened session {path}", 5000)
        return True

    # ----- recent inputs -----

    def _build_history(self, menu: QMenu) -> None:
        self.history = InputHistory(self.settings)
        self.recent_inputs_menu = menu.addMenu("Recent &inputs")
        self.recent_inputs_menu.aboutToShow.connect(self._refresh_recent_inputs)
        self._settle = QTimer(self, singleShot=True, interval=SETTLE_MS)
        self._settle.timeout.connect(self._remember_input)
        self.sig_analysis_applied.connect(lambda _seq: self._settle.start())
        self._refresh_recent_inputs()

    def _remember_input(self) -> None:
        analysis = self.state.analysis
        if analysis is not None:
            self.history.add(analysis.text_a, analysis.text_b or "")

    def _refresh_recent_inputs(self) -> None:
        menu = self.recent_inputs_menu
        menu.clear()
        for entry in self.history.entries():
            action = menu.addAction(entry.label())
            action.setToolTip(f"A: {entry.text_a}\nB: {entry.text_b}")
            action.triggered.connect(lambda _=False, e=entry: self.recall_input(e))
        menu.setEnabled(bool(menu.actions()))

    def recall_input(self, entry) -> None:
        self.state.set_texts(entry.text_a, entry.text_b)

    def pin_input(self) -> None:
        pinned = self.history.toggle_pin(self.state.text_a, self.state.text_b)
        self.statusBar().showMessage("pinned to Recent inputs" if pinned else "unpinned", 4000)

    # ----- View menu -----

    def _build_colormaps(self, menu: QMenu) -> None:
        sub = menu.addMenu("&Colour map")
        self.colormap_group = QActionGroup(self)
        for name in COLORMAP_CHOICES:
            action = QAction(name, self, checkable=True)
            action.setObjectName(f"colormap_{name}")
            action.setChecked(name == self.state.view_style.colormap)
            action.triggered.connect(lambda _=False, n=name: self._set_style(colormap=n))
            self.colormap_group.addAction(action)
            sub.addAction(action)

    def toggle_theme(self) -> None:
        other = THEMES[(THEMES.index(self.state.view_style.theme) + 1) % len(THEMES)]
        self._set_style(theme=other)

    def font_larger(self) -> None:
        self._step_font(1)

    def font_smaller(self) -> None:
        self._step_font(-1)

    def _step_font(self, step: int) -> None:
        size = self.state.view_style.font_size
        index = min(range(len(FONT_SIZES)), key=lambda i: abs(FONT_SIZES[i] - size))
        self._set_style(font_size=FONT_SIZES[max(0, min(len(FONT_SIZES) - 1, index + step))])

    def _set_style(self, **changes) -> None:
        style = replace(self.state.view_style, **changes)
        if style.theme != self.state.view_style.theme:
            apply_theme(style.theme)
        self.state.set_view_style(style)
        for name, key in VIEW_KEYS.items():
            self.settings.setValue(key, getattr(style, name))

    def _restore_view(self) -> None:
        """The View menu's choices and the colour scale as last used."""
        saved = {name: self.settings.value(key) for name, key in VIEW_KEYS.items()}
        style = ViewStyle()
        theme = saved["theme"] if saved["theme"] in THEMES else style.theme
        try:
            font = int(saved["font_size"]) if saved["font_size"] else style.font_size
        except (TypeError, ValueError):
            font = style.font_size
        cmap = saved["colormap"] if saved["colormap"] in COLORMAP_CHOICES else style.colormap
        if saved["theme"] in THEMES:  # chosen before: the window follows (default: as is)
            apply_theme(theme)
        self.state.set_view_style(ViewStyle(theme, font if font in FONT_SIZES else 8, cmap))
        scale = self.settings.value(SCALE_KEY)
        if scale in COLOUR_SCALE_NAMES:
            self.state.set_colour_scale(scale)
        self.state.sig_colour_scale_changed.connect(
            lambda s: self.settings.setValue(SCALE_KEY, s))
