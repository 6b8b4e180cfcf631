"""Shared pieces of the attention views: colours, masks, thumbnails, token axes, lazy refresh,
and the maps of the chosen method (``view_maps``).

Pure numpy + pyqtgraph; never torch. An analysis is duck-typed: ``tokens``, ``special_mask``,
``sequence_ids`` and ``attentions`` (float32 [L, N, T, T]) are all that is read; lab maps are
``engine.results.AttributionMaps``.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QGraphicsItem, QWidget

from explorer.attention_filter import visible_cells
from explorer.view_settings import COLORMAP_NAME
from explorer.widgets.token_axis import TokenAxis, tick_font

DIVERGING_COLORMAP_NAME = "CET-CBD1"  # colour-blind-safe diverging map for signed maps
COLORMAP_CHOICES = (COLORMAP_NAME, "cividis", "magma", "inferno", "plasma", "CET-L17")
LEVELS = (0.0, 1.0)             # the "fixed" scale: attention weights are probabilities
LOG_FLOOR = 1e-4                # the log scale's lowest level: weights below are one colour
GREY_RGBA = (128, 128, 128, 235)  # filtered-out cells (painted over the heatmap)
HIGHLIGHT_COLOR = "#ff3b3b"     # query-row box, selected head / thumbnail outline
THUMB_MAX = 32                  # ModelView thumbnails are max-pooled to at most this many pixels

_colormaps: dict[str, pg.ColorMap] = {}


def colormap(name: str = COLORMAP_NAME) -> pg.ColorMap:
    if name not in _colormaps:
        _colormaps[name] = pg.colormap.get(name)
    return _colormaps[name]


@dataclass(frozen=True)
class Scaled:
    """What a heatmap draws under a colour scale. ``image`` stays the weights (so pixels and
    hover text agree) except under "row", where it is each weight over its row's maximum."""

    image: np.ndarray
    levels: tuple[float, float]  # the image's colour levels, in the image's units
    log: bool = False            # colours follow log10 of the value between the levels
    caption: str = "0..1"        # the scale, for the view's title (the bar has no room)


def scale_maps(maps: np.ndarray, visible: np.ndarray | None, scale: str,
               fixed_levels: tuple[float, float] = LEVELS, signed: bool = False) -> Scaled:
    """Maps [..., T, T] under colour ``scale`` (a key of view_settings.COLOUR_SCALES);
    ``visible`` [T, T] bool (broadcast over the leading axes) picks the cells that set the
    range; None (or no cell visible): all cells.

    A signed map (positive and negative contributions) stays symmetric about 0: "log" then
    ranges like "auto", "row" divides by the row's largest magnitude."""
    if scale == "fixed":
        return Scaled(maps, fixed_levels)
    keep = (np.broadcast_to(visible, maps.shape) if visible is not None and visible.any()
            else np.ones(maps.shape, dtype=bool))
    if scale == "row":
        magnitude = np.abs(maps) if signed else maps
        row_max = np.where(keep, magnitude, -np.inf).max(axis=-1, keepdims=True)  # [..., T, 1]
        row_max = np.where(np.isfinite(row_max) & (row_max > 0), row_max, 1.0)
        return Scaled((maps / row_max).astype(np.float32), (-1.0, 1.0) if signed else (0.0, 1.0),
                      caption="÷ row max")
    shown = maps[keep]
    lo, hi = float(shown.min()), float(shown.max())
    if signed:
        edge = max(abs(lo), abs(hi)) or 1.0
        return Scaled(maps, (-edge, edge), caption="± max")
    if scale == "auto":
        return Scaled(maps, (lo, hi if hi > lo else lo + 1e-6), caption="auto")
    lo = max(lo, LOG_FLOOR)
    return Scaled(maps, (lo, max(hi, lo * 1.001)), log=True, caption="log")


LOG_LUT_SIZE = 65536  # entries of a log lookup table: 1e-4 of the range still has its own colour


_last_lut: tuple[tuple, np.ndarray] | None = None  # a grid paints many tiles with one table
_even_tables: dict[int, tuple[pg.ColorMap, np.ndarray]] = {}  # id -> (the map, its table)


def even_colour_table(cmap: pg.ColorMap) -> np.ndarray:
    """uint8 [LOG_LUT_SIZE, 4]: ``cmap`` at LOG_LUT_SIZE evenly spaced positions 0..1, made
    once per colour map (interpolating it is most of a log table's cost)."""
    entry = _even_tables.get(id(cmap))
    if entry is None or entry[0] is not cmap:
        entry = _even_tables[id(cmap)] = cmap, cmap.map(np.linspace(0.0, 1.0, LOG_LUT_SIZE),
                                                        mode=pg.ColorMap.BYTE)
    return entry[1]


def log_lookup_table(cmap: pg.ColorMap, levels: tuple[float, float]) -> np.ndarray:
    """uint8 [LOG_LUT_SIZE, 4]: entry i (the value lo + i/(n-1) * (hi - lo)) gets the colour at
    its log10 position between log10(lo) and log10(hi), to the nearest of the colour map's
    LOG_LUT_SIZE even positions. Levels change with every analysis; the map does not."""
    global _last_lut
    key = (id(cmap), levels)
    if _last_lut is None or _last_lut[0] != key:
        lo, hi = levels
        t = np.log10(np.linspace(lo, hi, LOG_LUT_SIZE))  # in place from here: one buffer
        t -= math.log10(lo)
        t *= (LOG_LUT_SIZE - 1) / (math.log10(hi) - math.log10(lo))
        index = np.rint(np.clip(t, 0.0, LOG_LUT_SIZE - 1, out=t), out=t).astype(np.intp)
        # One 4-byte word per entry: a 1-D take is ~5x faster than indexing rows of [n, 4].
        table = np.ascontiguousarray(even_colour_table(cmap)).view(np.uint32).ravel()
        _last_lut = key, np.take(table, index).view(np.uint8).reshape(LOG_LUT_SIZE, 4)
    return _last_lut[1]


def paint_heatmap(image: pg.ImageItem, colorbar: pg.ColorBarItem | None, scaled: Scaled,
                  cmap: pg.ColorMap) -> None:
    if not scaled.log:
        image.setColorMap(cmap)
    else:
        if image.getColorMap() is not cmap:  # the map it reports, though it draws a log table
            image.setColorMap(cmap)
        image.setLookupTable(log_lookup_table(cmap, scaled.levels))
    set_heatmap(image, scaled.image, scaled.levels)
    if colorbar is not None:
        if colorbar.colorMap() is not cmap:  # setting it re-renders the bar and its images
            colorbar.setColorMap(cmap)
        set_colorbar(colorbar, scaled)


# The ticks each colour bar's axis was last given (pyqtgraph keeps them only privately).
_bar_ticks: weakref.WeakKeyDictionary[pg.AxisItem, list | None] = weakref.WeakKeyDictionary()


def set_colorbar(colorbar: pg.ColorBarItem, scaled: Scaled) -> None:
    """The bar's range and labels follow the scale: under "log" it spans log10 of the levels,
    labelled in weights at each power of ten."""
    axis = colorbar.axis
    if scaled.log:
        lo, hi = (math.log10(v) for v in scaled.levels)
        colorbar.setLevels((lo, hi))
        ticks = [[(float(e), f"{10.0 ** e:g}") for e in range(math.ceil(lo), math.floor(hi) + 1)]]
    else:
        colorbar.setLevels(scaled.levels)
        ticks = None
    if axis not in _bar_ticks or _bar_ticks[axis] != ticks:  # the same: keep the drawn labels
        axis.setTicks(ticks)
        _bar_ticks[axis] = ticks
    if axis.autoSIPrefix:  # plain weights, not "(x0.001)"; set once (it re-lays the label)
        axis.enableAutoSIPrefix(False)


def apply_style(widget: pg.GraphicsLayoutWidget, style) -> None:
    """Theme and font size of one plot area: background, axis lines, tick and title text."""
    widget.setBackground(style.background)
    font = tick_font(style.font_size)
    for item in widget.scene().items():
        if isinstance(item, pg.AxisItem):
            item.setPen(style.foreground)
            item.setTextPen(style.foreground)
            if isinstance(item, TokenAxis):
                item.set_font(font)
            else:
                item.setStyle(tickFont=font)
        elif isinstance(item, pg.LabelItem):
            item.setText(item.text, color=style.foreground)


def set_view_range(view_box: pg.ViewBox, x: tuple[float, float], y: tuple[float, float],
                   padding: float = 0.0) -> None:
    """``view_box.setRange`` and its transform at once. pyqtgraph defers the transform to the
    next paint, and a transform changed inside a paint makes Qt paint every image of the view
    box again right after (one more viewport pass per view and edit)."""
    view_box.setRange(xRange=x, yRange=y, padding=padding)
    view_box.updateMatrix()


def plain_axes(plot: pg.PlotItem) -> None:
    """No SI prefix on any of ``plot``'s axes (shown or hidden): with it on, every range
    change re-lays out each axis's label as HTML, and the views' ranges change per edit."""
    for side in ("left", "bottom", "top", "right"):
        plot.getAxis(side).enableAutoSIPrefix(False)


def new_heatmap_items(view) -> tuple[pg.ImageItem, pg.ImageItem]:
    """A heatmap ImageItem (shared colour map) and its grey overlay, added to view. No levels
    until the first image brings its own: pyqtgraph keeps levels set before an item has an
    image and applies them over those given with the first one (a B − A map's negative
    half would then vanish under (0, 1))."""
    image = pg.ImageItem(axisOrder="row-major")
    image.setColorMap(colormap())
    overlay = pg.ImageItem(axisOrder="row-major")
    overlay.setZValue(5)
    overlay.setVisible(False)
    view.addItem(image)
    view.addItem(overlay)
    return image, overlay


def set_heatmap(image: pg.ImageItem, data: np.ndarray, levels=LEVELS) -> None:
    image.setImage(data, autoLevels=False, levels=levels)


def set_overlay(overlay: pg.ImageItem, rgba: np.ndarray | None) -> None:
    """Show ``rgba`` (uint8 [H, W, 4]) over the heatmap, or hide the overlay when None."""
    if rgba is None:
        overlay.setVisible(False)
        return
    overlay.setImage(rgba, autoLevels=False)
    overlay.setVisible(True)


def grey_overlay(hidden: np.ndarray) -> np.ndarray | None:
    """uint8 RGBA [H, W, 4]: grey where ``hidden`` is True, transparent elsewhere; None if no
    cell is hidden (so the views skip drawing the overlay)."""
    if not hidden.any():
        return None
    rgba = np.zeros(hidden.shape + (4,), dtype=np.uint8)
    rgba[hidden] = GREY_RGBA
    return rgba


def attentions_of(analysis) -> np.ndarray:
    att = np.asarray(analysis.attentions)
    if att.dtype != np.float32:
        att = att.astype(np.float32)
    return att


METHOD_NAMES = {"raw": "raw attention", "rollout": "rollout", "norm": "norm-based",
                "alti": "ALTI", "raw-B": "model B", "raw-B-A": "B − A"}


@dataclass(frozen=True)
class ViewMaps:
    """What the views draw for the chosen method: per head [L, N, T, T] (raw, norm) or one
    map per layer [L, T, T] (rollout and ALTI, cumulative over the layers: they have no heads)."""

    method: str
    maps: np.ndarray
    levels: tuple[float, float]  # colour levels: (0, 1) for row-stochastic maps
    key: int                     # changes whenever the maps do (the views' caches)
    signed: bool = False         # a difference (B - A): diverging colours, levels symmetric

    @property
    def per_head(self) -> bool:
        return self.maps.ndim == 4


def view_maps(state) -> ViewMaps | None:
    """The chosen method's maps for ``state.analysis``; None without an analysis, or while the
    worker is still computing them (the views then keep what they show). With a second model
    open, raw attention is A's, B's or B - A (signed), as ``state.compare_source`` says."""
    analysis = state.analysis
    if analysis is None:
        return None
    if state.view_method == "raw":
        source = getattr(state, "compare_source", "A")
        if source == "A":
            return ViewMaps("raw", attentions_of(analysis), LEVELS, id(analysis))
        pair = state.compare_pair()  # None while model B's reading is on its way
        if pair is None:
            return None
        if source == "B":
            return ViewMaps("raw-B", attentions_of(pair.analysis_b), LEVELS, id(pair.analysis_b))
        return ViewMaps("raw-B-A", pair.difference, (-pair.reach, pair.reach),
                        id(pair.difference), signed=True)
    lab = state.lab_maps.get(state.view_method)
    if lab is None:
        return None
    levels = LEVELS if lab.row_stochastic else (0.0, float(lab.maps.max()) or 1.0)
    return ViewMaps(lab.method, lab.maps, levels, id(lab))


def visible_mask(analysis, attention_filter: str, hide_special: bool) -> np.ndarray:
    """[T, T] bool: the cells the current filter shows (see explorer.attention_filter).

    Cast to bool: ``visible_cells`` returns 0/1 integers under segment filters (its
    ``~hide_special`` on a Python bool yields an int), and ``~`` of those is not a mask."""
    cells = visible_cells(list(analysis.sequence_ids), np.asarray(analysis.special_mask, bool),
                          attention_filter, bool(hide_special))
    return np.asarray(cells, dtype=bool)


def pool_factor(num_tokens: int, limit: int = THUMB_MAX) -> int:
    return max(1, math.ceil(num_tokens / limit))


def max_pool(attentions: np.ndarray, k: int) -> np.ndarray:
    """[L, N, T, T] -> [L, N, ceil(T/k), ceil(T/k)] block maxima (the last block may be short)."""
    if k == 1:
        return attentions
    starts = np.arange(0, attentions.shape[-1], k)
    out = np.empty(attentions.shape[:2] + (len(starts), len(starts)), dtype=attentions.dtype)
    for layer in range(attentions.shape[0]):  # per layer: bounded temporaries
        cols = np.maximum.reduceat(attentions[layer], starts, axis=2)
        out[layer] = np.maximum.reduceat(cols, starts, axis=1)
    return out


def any_pool(mask: np.ndarray, k: int) -> np.ndarray:
    """[T, T] bool -> [ceil(T/k), ceil(T/k)]: a block is visible when any of its cells is."""
    if k == 1:
        return mask
    starts = np.arange(0, mask.shape[-1], k)
    return np.logical_or.reduceat(np.logical_or.reduceat(mask, starts, axis=1), starts, axis=0)


def grid_cell(view_box: pg.ViewBox, scene_pos, shape: tuple[int, int] | None):
    """The (row, column) of a row-major image of ``shape`` drawn at unit cells in ``view_box``
    under ``scene_pos``; None off the image or while nothing is drawn (``shape`` None)."""
    if shape is None or not view_box.sceneBoundingRect().contains(scene_pos):
        return None
    p = view_box.mapSceneToView(scene_pos)
    row, col = math.floor(p.y()), math.floor(p.x())
    return (row, col) if 0 <= row < shape[0] and 0 <= col < shape[1] else None


_title_metrics: dict[float, QFontMetrics] = {}


def title_metrics(points: float) -> QFontMetrics:
    """Metrics of the default font at ``points``, resolved once per size (titles change with
    every analysis; the font does not)."""
    if points not in _title_metrics:
        font = QFont()
        font.setPointSizeF(points)
        _title_metrics[points] = QFontMetrics(font)
    return _title_metrics[points]


class TitleLabel(pg.LabelItem):
    """A title that never widens its plot area: pyqtgraph's LabelItem makes its text width the
    layout's minimum, which at 1024 px pushed the colour bars out of sight. This one asks for no
    width and elides what does not fit ("Layer 3 · head 7 · l…"); ``text`` stays the whole."""

    def __init__(self, text: str = " ", parent=None, **args):
        self._full = text
        self._width = -1  # the width the shown text was elided for
        super().__init__(text, parent, **args)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape)

    def setText(self, text: str, **args) -> None:
        if text == self._full and not args:
            return  # the same words: laying them out again as HTML would change nothing
        self._full = text
        self._show(**args)

    def resizeEvent(self, event) -> None:
        if int(self.width()) != self._width:  # LabelItem.setText calls this too: no loop
            self._show()
        super().resizeEvent(event)

    def _show(self, **args) -> None:
        points = float(str(args.get("size", self.opts.get("size", "11pt"))).removesuffix("pt"))
        width = self._width = int(self.width())
        shown = (title_metrics(points).elidedText(self._full, Qt.TextElideMode.ElideRight, width)
                 if width > 20 else self._full)
        super().setText(shown, **args)
        self.text = self._full

    def updateMin(self) -> None:
        super().updateMin()
        self.setMinimumWidth(0)
        height = self._sizeHint[Qt.SizeHint.MinimumSize][1]
        self._sizeHint[Qt.SizeHint.MinimumSize] = (0, height)
        self._sizeHint[Qt.SizeHint.PreferredSize] = (0, height)
        self.updateGeometry()


def set_title(plot: pg.PlotItem, text: str) -> None:
    """``plot.setTitle(text)`` unless it already shows ``text``: each setTitle fixes the title
    row's height again, which invalidates the plot's layout (a layout pass and a repaint)."""
    if text != plot.titleLabel.text or not plot.titleLabel.isVisible():
        plot.setTitle(text)


def shrinkable_title(plot: pg.PlotItem) -> None:
    """Give ``plot`` a TitleLabel in place of its own (same place, size and setTitle)."""
    plot.layout.removeItem(plot.titleLabel)
    plot.titleLabel.setParentItem(None)
    plot.titleLabel = TitleLabel("", parent=plot, size="11pt")
    plot.layout.addItem(plot.titleLabel, 0, 0, 1, 3)  # over the axes too: room for the text


class LazyView(QWidget):
    """Base of the attention views: refresh now when seen, else mark dirty and refresh on show.

    A view hidden inside a shown window (a background tab) costs nothing until it is shown;
    a window that was never shown (tests, ``grab``) is refreshed eagerly.
    """

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self._dirty = True
        state.sig_analysis_changed.connect(self._on_analysis_changed)
        state.sig_selection_changed.connect(self._on_selection_changed)
        state.sig_filter_changed.connect(self._on_filter_changed)
        state.sig_model_changed.connect(self._on_model_changed)
        state.sig_view_method_changed.connect(lambda _method: self.request_refresh())
        state.sig_lab_maps_changed.connect(lambda _maps: self.request_refresh())
        state.sig_colour_scale_changed.connect(lambda _scale: self.request_refresh())
        state.sig_view_style_changed.connect(self._on_style_changed)

    def colour_map(self, signed: bool = False) -> pg.ColorMap:
        """The View menu's colour map, or the diverging one for a signed map."""
        return colormap(DIVERGING_COLORMAP_NAME if signed else self.state.view_style.colormap)

    def paint_key(self, source) -> tuple:
        """What, besides the maps and the filter, changes the pixels: scale and colour map."""
        return self.state.colour_scale, self.state.view_style.colormap, source.signed

    def style_plots(self) -> None:
        """The View menu's theme and font on this view's plot areas. Set explicitly: the
        training monitor changes pyqtgraph's global default background when it opens."""
        for widget in self.findChildren(pg.GraphicsLayoutWidget):
            apply_style(widget, self.state.view_style)

    def _on_style_changed(self, _style) -> None:
        self.style_plots()
        self.request_refresh()

    # subclasses override these three; ``refresh`` redraws everything from state
    def refresh(self) -> None:
        raise NotImplementedError

    def _on_analysis_changed(self, _analysis) -> None:
        self.request_refresh()

    def _on_selection_changed(self, *_args) -> None:
        self.request_refresh()

    def _on_filter_changed(self, *_args) -> None:
        self.request_refresh()

    def _on_model_changed(self, _model) -> None:
        self.request_refresh()

    def is_seen(self) -> bool:
        if self.isVisible():
            return True
        window = self.window()
        if window.isVisible():
            return False  # shown window, hidden view (e.g. a background tab)
        return window is self or self.isVisibleTo(window)

    def request_refresh(self) -> None:
        if self.is_seen():
            self._dirty = False
            self.refresh()
        else:
            self._dirty = True

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._dirty:
            self._dirty = False
            self.refresh()
