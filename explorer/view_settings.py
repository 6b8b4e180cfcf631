"""How the attention views look, as plain data: the colour scale choices and the View menu's
style (theme, plot font size, colour map). No widgets here; ``explorer.state`` holds the
current values and ``explorer.theme`` applies a theme to the application."""

from __future__ import annotations

from dataclasses import dataclass

COLORMAP_NAME = "viridis"  # the default colour map of every attention view
# Colour scales shared by every attention view (``state.colour_scale``), each with its meaning.
COLOUR_SCALES = {
    "log": "log: weights spread over hundreds of tokens stay visible (the default)",
    "auto": "auto: from the smallest to the largest weight among the cells the filter keeps",
    "row": "per-row max: each query row divided by its largest kept weight",
    "fixed": "fixed 0..1: the weights as probabilities",
}
COLOUR_SCALE_NAMES = tuple(COLOUR_SCALES)
DEFAULT_COLOUR_SCALE = "log"  # at 512 tokens most weights are ~0.002: linear maps go black
THEMES = ("dark", "light")
FONT_SIZES = (7, 8, 9, 10, 12, 14)  # plot tick labels, points


@dataclass(frozen=True)
class ViewStyle:
    theme: str = "dark"
    font_size: int = 8
    colormap: str = COLORMAP_NAME

    @property
    def background(self) -> str:
        return "#101010" if self.theme == "dark" else "#ffffff"

    @property
    def foreground(self) -> str:
        return "#d8d8d8" if self.theme == "dark" else "#202020"
