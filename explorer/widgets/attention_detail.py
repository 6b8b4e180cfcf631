"""HeadDetail: one head (or the mean of a layer's heads) large, with token axes and a readout;
for a method without heads (rollout, ALTI), the selected layer's cumulative map."""

from __future__ import annotations


import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QGraphicsRectItem, QLabel, QSizePolicy, QVBoxLayout

from explorer.state import MEAN_HEAD
from explorer.widgets.attention_common import (
    HIGHLIGHT_COLOR, LEVELS, METHOD_NAMES, LazyView, colormap, grey_overlay,
    new_heatmap_items, paint_heatmap, plain_axes, scale_maps, set_overlay, set_title,
    set_view_range, shrinkable_title, view_maps, visible_mask,
    grid_cell,
)
from explorer.widgets.token_axis import TokenAxis

READOUT_HINT = "hover a cell: from -> to: weight; click a row to select its query token"


class HeadDetail(LazyView):
    """The selected head as a large heatmap: query tokens (rows, "from") on the left axis, key
    tokens (columns, "to") on the bottom axis, rotated. Wheel/drag zooms and pans; the token
    labels thin out to stay readable. Hovering shows "from -> to: weight"; clicking a row
    selects it as the query token, which is outlined."""

    def __init__(self, state, parent=None):
        super().__init__(state, parent)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setMinimumSize(260, 260)
        self.readout = QLabel(READOUT_HINT)
        self.readout.setObjectName("attentionReadout")
        self.readout.setWordWrap(True)  # never wider than the map: no clipped hover text
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.readout)
        self.left_axis = TokenAxis("left")
        self.bottom_axis = TokenAxis("bottom", rotate=True)
        self.plot = self.view.addPlot(row=0, col=0, axisItems={"left": self.left_axis,
                                                                "bottom": self.bottom_axis})
        shrinkable_title(self.plot)
        plain_axes(self.plot)
        self.plot.setLabel("left", "from (query)")
        self.plot.setLabel("bottom", "to (key)")
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        vb = self.plot.getViewBox()
        vb.invertY(True)
        vb.setAspectLocked(True)
        vb.setDefaultPadding(0.0)
        self.image, self.overlay = new_heatmap_items(self.plot)
        self.query_box = QGraphicsRectItem()
        self.query_box.setPen(pg.mkPen(HIGHLIGHT_COLOR, width=2))
        self.query_box.setZValue(10)
        self.query_box.setVisible(False)
        self.plot.addItem(self.query_box, ignoreBounds=True)
        self.colorbar = pg.ColorBarItem(values=LEVELS, colorMap=colormap(), interactive=False,
                                        width=14, colorMapMenu=False)
        self.view.addItem(self.colorbar, row=0, col=1)
        self.data: np.ndarray | None = None      # [T, T] the displayed weights
        self.visible: np.ndarray | None = None   # [T, T] bool, cells the filter shows
        self.tokens: list[str] = []
        self._shown = None
        self._mask_key = None
        self._painted = None
        self._title = ""
        self.scaled = None  # attention_common.Scaled: the image under the colour scale
        self.view.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.view.scene().sigMouseClicked.connect(self._on_click)
        self.style_plots()
        self.request_refresh()

    def refresh(self) -> None:
        analysis = self.state.analysis
        if analysis is None:
            self.image.clear()
            set_overlay(self.overlay, None)
            self.query_box.setVisible(False)
            self.data = self.visible = None
            self.tokens = []
            self.left_axis.set_tokens([])
            self.bottom_axis.set_tokens([])
            set_title(self.plot, "")
            self.readout.setText(READOUT_HINT)
            self._shown = self._mask_key = self._painted = self.scaled = None
            return
        source = view_maps(self.state)
        if source is None:  # the chosen method's maps are on their way: keep the picture
            set_title(self.plot, f"{METHOD_NAMES[self.state.view_method]}: computing…")
            return
        maps = source.maps
        layers, tokens = maps.shape[0], maps.shape[-1]
        heads = maps.shape[1] if source.per_head else 0
        layer = min(max(self.state.layer, 0), layers - 1)
        head = self.state.head if 0 <= self.state.head < heads else MEAN_HEAD
        key = (id(analysis), source.key, layer, head)
        if key != self._shown:
            if self._shown is None or self._shown[0] != id(analysis):
                self.readout.setText(READOUT_HINT)  # the old value was of another analysis
                self.tokens = list(analysis.tokens)
                self.left_axis.set_tokens(self.tokens)
                self.bottom_axis.set_tokens(self.tokens)
                self.plot.layout.activate()  # apply the new axis sizes now, not on next event
                set_view_range(self.plot.getViewBox(), (0, tokens), (0, tokens))
            name = METHOD_NAMES[source.method]
            if not source.per_head:
                self.data = maps[layer]
                title = f"{name} · after layer {layer} (cumulative)"
            else:
                self.data = maps[layer].mean(axis=0) if head == MEAN_HEAD else maps[layer, head]
                which = "mean of heads" if head == MEAN_HEAD else f"head {head}"
                title = f"Layer {layer} · {which}"
                if source.method != "raw":
                    title += f" · {name}"
            self._title = title
            self._shown = key
        mask_key = (id(analysis), self.state.attention_filter, self.state.hide_special)
        if mask_key != self._mask_key:
            self.visible = visible_mask(analysis, *mask_key[1:])
            set_overlay(self.overlay, grey_overlay(~self.visible))
            self._mask_key = mask_key
        paint_key = (key, mask_key, self.paint_key(source))
        if paint_key != self._painted:
            self.scaled = scale_maps(self.data, self.visible, self.state.colour_scale,
                                     source.levels, source.signed)
            paint_heatmap(self.image, self.colorbar, self.scaled,
                          self.colour_map(source.signed))
            set_title(self.plot, f"{self._title} · {self.scaled.caption}")
            self._painted = paint_key
        q = self.state.query_token
        self.query_box.setRect(QRectF(0, q, tokens, 1))
        self.query_box.setVisible(0 <= q < tokens)

    def readout_for(self, row: int, col: int) -> str:
        """The hover text of cell (query row, key column), e.g. "cat -> sat: 0.412"."""
        text = f"{self.tokens[row]} -> {self.tokens[col]}: {self.data[row, col]:.3f}"
        if self.visible is not None and not self.visible[row, col]:
            text += " (filtered out)"
        return text

    def cell_at(self, scene_pos) -> tuple[int, int] | None:
        shape = None if self.data is None else self.data.shape[:2]
        return grid_cell(self.plot.getViewBox(), scene_pos, shape)

    def _on_mouse_moved(self, scene_pos) -> None:
        cell = self.cell_at(scene_pos)
        if cell is not None:
            self.readout.setText(self.readout_for(*cell))

    def _on_click(self, event) -> None:
        cell = self.cell_at(event.scenePos())
        if cell is not None:
            self.state.set_selection(query_token=cell[0])
