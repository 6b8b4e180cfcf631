"""HeadGrid (every head of the selected layer) and ModelView (all layers x heads thumbnails).

For a method without heads (rollout, ALTI) the grid shows one tile per layer and the model
view one row of layers; a click then selects the layer."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRectF, Signal
from PySide6.QtWidgets import QGraphicsRectItem, QVBoxLayout, QWidget

from explorer.state import MEAN_HEAD
from explorer.widgets.ablation_marks import AblationMarks
from explorer.widgets.attention_common import (
    HIGHLIGHT_COLOR, LEVELS, METHOD_NAMES, LazyView, TitleLabel, any_pool, colormap,
    grey_overlay, max_pool, new_heatmap_items, paint_heatmap, plain_axes, pool_factor, scale_maps,
    set_colorbar, set_overlay, set_title, set_view_range, shrinkable_title, view_maps,
    visible_mask,
    grid_cell,
)


def _rect_item(z: float = 10.0, width: float = 2.0) -> QGraphicsRectItem:
    item = QGraphicsRectItem()
    item.setPen(pg.mkPen(HIGHLIGHT_COLOR, width=width))
    item.setZValue(z)
    item.setVisible(False)
    return item


def _fixed_view(vb: pg.ViewBox) -> None:
    vb.setMouseEnabled(False, False)
    vb.setMenuEnabled(False)
    vb.setAspectLocked(True)
    vb.invertY(True)
    vb.setDefaultPadding(0.0)


def grid_columns(heads: int, width: float, height: float) -> int:
    """Columns that make the heads' square cells largest in a ``width`` x ``height`` area."""
    def side(cols: int) -> float:
        return min(width / cols, height / math.ceil(heads / cols))
    return max(range(1, heads + 1), key=side)


def _plot_area(owner: QWidget) -> pg.GraphicsLayoutWidget:
    """A pyqtgraph layout filling ``owner`` edge to edge."""
    view = pg.GraphicsLayoutWidget()
    view.setMinimumSize(160, 160)
    layout = QVBoxLayout(owner)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(view)
    return view


class HeadGrid(LazyView):
    """Every head of ``state.layer`` as a heatmap; click a head to select it. For a method
    without heads: every layer's cumulative map; click one to select the layer."""

    def __init__(self, state, parent=None):
        super().__init__(state, parent)
        self.view = _plot_area(self)
        self.title = None
        self.plots: list[pg.PlotItem] = []
        self.images: list[pg.ImageItem] = []
        self.overlays: list[pg.ImageItem] = []
        self.query_boxes: list[QGraphicsRectItem] = []
        self.head_boxes: list[QGraphicsRectItem] = []
        self.colorbar = None
        self._shape = None   # (layers, tiles, per_head, columns) the items were built for
        self._shown = None   # (maps key, layer, T) whose titles and ranges are set
        self._mask_key = None
        self._visible: np.ndarray | None = None  # [T, T] bool, cells the filter shows
        self._painted = None  # what the images were last painted from
        self._ranged = None   # T the tiles' view ranges were set for
        self._title = ""
        self.view.scene().sigMouseClicked.connect(self._on_click)
        self.request_refresh()

    def _build(self, layers: int, tiles: int, per_head: bool) -> None:
        self.view.clear()
        self.plots, self.images, self.overlays = [], [], []
        self.query_boxes, self.head_boxes = [], []
        cols = self._columns(tiles)
        rows = math.ceil(tiles / cols)
        self.title = TitleLabel("", size="11pt")
        self.view.addItem(self.title, row=0, col=0, colspan=cols)
        for h in range(tiles):
            plot = self.view.addPlot(row=1 + h // cols, col=h % cols,
                                     title=f"H{h}" if per_head else f"L{h}")
            plot.hideAxis("left")
            plot.hideAxis("bottom")
            for side in ("left", "bottom", "top", "right"):  # hidden: no relabelling per range
                plot.getAxis(side).unlinkFromView()
            plot.hideButtons()
            plot.setMenuEnabled(False)
            _fixed_view(plot.getViewBox())
            image, overlay = new_heatmap_items(plot)
            query_box, head_box = _rect_item(), _rect_item(z=11, width=3)
            plot.addItem(query_box, ignoreBounds=True)
            plot.addItem(head_box, ignoreBounds=True)
            self.plots.append(plot)
            self.images.append(image)
            self.overlays.append(overlay)
            self.query_boxes.append(query_box)
            self.head_boxes.append(head_box)
        self.colorbar = pg.ColorBarItem(values=LEVELS, colorMap=colormap(), interactive=False,
                                        width=14, colorMapMenu=False)
        self.view.addItem(self.colorbar, row=1, col=cols, rowspan=rows)
        self._shape = (layers, tiles, per_head, cols)
        self._shown = self._mask_key = self._painted = self._ranged = None
        self.style_plots()  # new tiles in the View menu's theme

    def _columns(self, heads: int) -> int:
        # The colour bar and the title take a strip of the area.
        return grid_columns(heads, max(self.width() - 60, 1), max(self.height() - 40, 1))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._shape is not None and self._columns(self._shape[1]) != self._shape[3]:
            self._shape = None  # rebuild with the columns that fit the new shape
            self.request_refresh()

    def refresh(self) -> None:
        analysis = self.state.analysis
        if analysis is None:
            if self._shape is not None:
                self.view.clear()
                self._shape = self.title = self.colorbar = None
                self.plots, self.images, self.overlays = [], [], []
                self.query_boxes, self.head_boxes = [], []
            return
        source = view_maps(self.state)
        if source is None:  # the chosen method's maps are on their way: keep the picture
            if self.title is not None:
                self.title.setText(f"{METHOD_NAMES[self.state.view_method]}: computing…")
            return
        maps = source.maps
        layers, tokens = maps.shape[0], maps.shape[-1]
        tiles = maps.shape[1] if source.per_head else layers
        if self._shape is None or self._shape[:3] != (layers, tiles, source.per_head):
            self._build(layers, tiles, source.per_head)
        layer = min(max(self.state.layer, 0), layers - 1)
        key = (source.key, layer if source.per_head else None, tokens)
        if key != self._shown:
            name = METHOD_NAMES[source.method]
            if source.per_head:
                self._title = (f"Layer {layer} — heads" +
                               ("" if source.method == "raw" else f" · {name}"))
            else:
                self._title = f"{name} — after each layer (cumulative)"
            if self._ranged != tokens:  # the next text is usually as long: ranges stand
                for plot in self.plots:
                    set_view_range(plot.getViewBox(), (0, tokens), (0, tokens))
                self._ranged = tokens
            self._shown = key
        mask_key = (id(analysis), self.state.attention_filter, self.state.hide_special)
        if mask_key != self._mask_key:
            self._visible = visible_mask(analysis, *mask_key[1:])
            rgba = grey_overlay(~self._visible)
            for overlay in self.overlays:
                set_overlay(overlay, rgba)  # one shared array: the mask is the same for all heads
            self._mask_key = mask_key
        paint_key = (key, mask_key, self.paint_key(source))
        if paint_key != self._painted:
            # One range for the whole grid, so the tiles compare: [tiles, T, T]
            scaled = scale_maps(maps[layer] if source.per_head else maps, self._visible,
                                self.state.colour_scale, source.levels, source.signed)
            cmap = self.colour_map(source.signed)
            for t, image in enumerate(self.images):
                paint_heatmap(image, None, replace(scaled, image=scaled.image[t]), cmap)
            self.colorbar.setColorMap(cmap)
            set_colorbar(self.colorbar, scaled)
            self.title.setText(f"{self._title} · {scaled.caption}")
            self._painted = paint_key
        q = self.state.query_token
        selected = self.state.head if source.per_head else layer
        for t, (qbox, hbox) in enumerate(zip(self.query_boxes, self.head_boxes)):
            qbox.setRect(QRectF(0, q, tokens, 1))
            qbox.setVisible(0 <= q < tokens)
            hbox.setRect(QRectF(0, 0, tokens, tokens))
            hbox.setVisible(t == selected)

    def head_at(self, scene_pos) -> int | None:
        """The tile under ``scene_pos``: a head, or a layer for a method without heads."""
        for h, plot in enumerate(self.plots):
            if plot.getViewBox().sceneBoundingRect().contains(scene_pos):
                return h
        return None

    def _on_click(self, event) -> None:
        tile = self.head_at(event.scenePos())
        if tile is not None and self._shape is not None:
            self.state.set_selection(**{"head" if self._shape[2] else "layer": tile})


class ModelView(LazyView):
    """All layers x heads as max-pooled thumbnails in one mosaic image; click one to select it.

    Thumbnail (layer l, head h) fills the unit cell [h, h+1] x [l, l+1] of the plot. For a
    method without heads: one row, thumbnail l in [l, l+1] x [0, 1], a click selects layer l.
    """

    MIN_GAP = 2  # pixels between thumbnails (transparent: NaN in the mosaic), at least
    sig_open_selected = Signal()  # a double-click: show the selected head in the detail view

    def __init__(self, state, parent=None):
        super().__init__(state, parent)
        self.view = _plot_area(self)
        self.plot = self.view.addPlot(row=0, col=0)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.setLabel("left", "layer")
        self.plot.setLabel("bottom", "head")
        self.plot.showAxis("top", False)
        shrinkable_title(self.plot)
        plain_axes(self.plot)
        _fixed_view(self.plot.getViewBox())
        self.image, self.overlay = new_heatmap_items(self.plot)
        self.selection_box = _rect_item(width=2)
        self.plot.addItem(self.selection_box, ignoreBounds=True)
        self.colorbar = pg.ColorBarItem(values=LEVELS, colorMap=colormap(), interactive=False,
                                        width=14, colorMapMenu=False)
        self.view.addItem(self.colorbar, row=0, col=1)
        self.ablation_marks = AblationMarks(self.plot)  # ablated heads, crossed out
        state.sig_ablated_heads_changed.connect(lambda _heads: self.request_refresh())
        self.thumbs: np.ndarray | None = None  # [rows, cols, s, s] max-pooled maps
        self.grid_shape: tuple[int, int] = (0, 0)  # (rows, cols) of the mosaic
        self.per_head = True
        self.pool = 1
        self.gap = self.MIN_GAP
        self._thumb_key = None
        self._mask_key = None
        self._visible: np.ndarray | None = None  # [s, s] bool, pooled cells the filter shows
        self._painted = None
        self.view.scene().sigMouseClicked.connect(self._on_click)
        self.view.viewport().installEventFilter(self)
        self.style_plots()
        self.request_refresh()

    def thumbnail(self, layer: int, head: int) -> np.ndarray:
        """The displayed pixels of one thumbnail (a view into the mosaic image)."""
        s, step = self.thumbs.shape[-1], self.thumbs.shape[-1] + self.gap
        return self.image.image[layer * step: layer * step + s, head * step: head * step + s]

    def _mosaic(self, tiles: np.ndarray, fill) -> np.ndarray:
        layers, heads, s = tiles.shape[:3]
        step = s + self.gap
        out = np.full((layers * step, heads * step) + tiles.shape[4:], fill, dtype=tiles.dtype)
        view = out.reshape((layers, step, heads, step) + tiles.shape[4:])
        view[:, :s, :, :s] = tiles.transpose((0, 2, 1, 3) + tuple(range(4, tiles.ndim)))
        return out

    def refresh(self) -> None:
        analysis = self.state.analysis
        if analysis is None:
            self.image.clear()
            set_overlay(self.overlay, None)
            self.selection_box.setVisible(False)
            self.thumbs, self.grid_shape, self._thumb_key, self._mask_key = None, (0, 0), None, None
            self._painted = None
            return
        source = view_maps(self.state)
        if source is None:  # the chosen method's maps are on their way: keep the picture
            return
        # One row of layers for a method without heads: [L, T, T] -> [1, L, T, T]
        grid = source.maps if source.per_head else source.maps[None]
        layers, heads, tokens = grid.shape[0], grid.shape[1], grid.shape[-1]
        if self._thumb_key != source.key:
            self.per_head = source.per_head
            self.pool = pool_factor(tokens)
            self.thumbs = max_pool(grid, self.pool)
            self.gap = max(self.MIN_GAP, self.thumbs.shape[-1] // 8)
            self.grid_shape = (layers, heads)
            set_view_range(self.plot.getViewBox(), (0, heads), (0, layers), padding=0.01)
            self._set_ticks(layers, heads)
            self._thumb_key = source.key
            self._mask_key = self._painted = None
        mask_key = (id(analysis), self.state.attention_filter, self.state.hide_special)
        if mask_key != self._mask_key:
            self._visible = any_pool(visible_mask(analysis, *mask_key[1:]), self.pool)
            tile = grey_overlay(~self._visible)
            if tile is None:
                set_overlay(self.overlay, None)
            else:
                tiles = np.broadcast_to(tile, (layers, heads) + tile.shape)
                set_overlay(self.overlay, self._mosaic(tiles, np.uint8(0)))
                self.overlay.setRect(QRectF(0, 0, heads, layers))
            self._mask_key = mask_key
        paint_key = (source.key, mask_key, self.paint_key(source))
        if paint_key != self._painted:
            scaled = scale_maps(self.thumbs, self._visible, self.state.colour_scale,
                                source.levels, source.signed)
            mosaic = self._mosaic(scaled.image, np.float32(np.nan))
            paint_heatmap(self.image, self.colorbar, replace(scaled, image=mosaic),
                          self.colour_map(source.signed))
            self.image.setRect(QRectF(0, 0, heads, layers))  # one unit per thumbnail + gap
            set_title(self.plot, ("every layer and head" if self.per_head else "every layer")
                               + f" · {scaled.caption}")
            self._painted = paint_key
        inset = 0.5 * self.gap / (self.thumbs.shape[-1] + self.gap)
        layer = min(max(self.state.layer, 0), source.maps.shape[0] - 1)
        if not self.per_head:
            rect = QRectF(layer - inset, -inset, 1, 1)
        elif self.state.head == MEAN_HEAD or self.state.head >= heads:
            rect = QRectF(-inset, layer - inset, heads, 1)  # the mean: outline the whole layer
        else:
            rect = QRectF(self.state.head - inset, layer - inset, 1, 1)
        self.selection_box.setRect(rect)
        self.selection_box.setVisible(True)
        self.ablation_marks.show(self.state.ablated_heads if self.per_head else (),
                                 1 - 2 * inset)

    def _set_ticks(self, layers: int, heads: int) -> None:
        s = self.thumbs.shape[-1]
        centre = 0.5 * s / (s + self.gap)
        every_l = max(1, math.ceil(layers / 24))
        every_h = max(1, math.ceil(heads / 24))
        self.plot.setLabel("left", "layer" if self.per_head else "")
        self.plot.setLabel("bottom", "head" if self.per_head else "layer (cumulative)")
        self.plot.getAxis("left").setTicks(
            [[(l + centre, str(l)) for l in range(0, layers, every_l)]] if self.per_head
            else [[]])
        self.plot.getAxis("bottom").setTicks(
            [[(h + centre, str(h)) for h in range(0, heads, every_h)]])

    def cell_at(self, scene_pos) -> tuple[int, int] | None:
        shape = None if self.thumbs is None else self.grid_shape
        return grid_cell(self.plot.getViewBox(), scene_pos, shape)

    def _on_click(self, event) -> None:
        cell = self.cell_at(event.scenePos())
        if cell is None:
            return
        if self.state.ablate_mode and self.per_head:  # the Ablate toggle: the click ablates
            self.state.toggle_ablated_head(*cell)
        elif self.per_head:
            self.state.set_selection(layer=cell[0], head=cell[1])
        else:
            self.state.set_selection(layer=cell[1])

    def eventFilter(self, watched, event) -> bool:
        """A double-click on a thumbnail (on the viewport: pyqtgraph's click events report the
        first click of a pair) selects it and asks for the detail view."""
        if event.type() == QEvent.Type.MouseButtonDblClick and watched is self.view.viewport():
            cell = self.cell_at(self.view.mapToScene(event.position().toPoint()))
            if cell is not None:
                self.state.set_selection(**({"layer": cell[0], "head": cell[1]} if self.per_head
                                            else {"layer": cell[1]}))
                self.sig_open_selected.emit()
                return True
        return super().eventFilter(watched, event)
