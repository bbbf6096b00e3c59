"""An image drawn with half-block cells.

▀ with the upper pixel as foreground, the lower as background.

Works in any terminal that shows colors (Textual downgrades truecolor for 256-color terminals).
The widget samples its pixels with nearest-neighbour from what it is given, so a quantized
result shows exactly the palette's colors; it never decodes or resizes images itself.
"""

from __future__ import annotations

import textwrap

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from ..viewport import Viewport, fit_scale

UPPER_HALF = "\u2580"


class Picture:
    """Pixels a pane can show: an RGB array, or palette indices with their palette.

    Parameters
    ----------
    full_size : (width, height)
        The size of the full-resolution image these pixels stand for.
    rgb : ndarray (h, w, 3) uint8, optional
    indices, palette : ndarray (h, w) and (m, 3) uint8, optional
        Quantized pixels; sampled before the palette lookup, so only palette colors appear.
    detail : Picture, optional
        A full-resolution version used when zoomed in further than this one can show.
    """

    def __init__(
        self,
        full_size: tuple[int, int],
        *,
        rgb=None,
        indices=None,
        palette=None,
        detail: Picture | None = None,
    ):
        self.full_width, self.full_height = full_size
        self.full_size = (self.full_width, self.full_height)
        self.rgb = rgb
        self.indices = indices
        self.palette = palette
        self.detail = detail
        src = rgb if rgb is not None else indices
        self.height, self.width = src.shape[:2]

    def sample(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """Pixels at full-resolution coordinates (nearest neighbour); -1 marks 'outside'."""
        pic = self
        step = min(
            np.diff(xs).min() if len(xs) > 1 else 1.0, np.diff(ys).min() if len(ys) > 1 else 1.0
        )
        if self.detail is not None and step < self.full_width / self.width * 0.99:
            pic = self.detail
        sx = np.floor(xs * pic.width / pic.full_width).astype(np.int64)
        sy = np.floor(ys * pic.height / pic.full_height).astype(np.int64)
        inside_x = (xs >= 0) & (sx >= 0) & (sx < pic.width)
        inside_y = (ys >= 0) & (sy >= 0) & (sy < pic.height)
        sxc = np.clip(sx, 0, pic.width - 1)
        syc = np.clip(sy, 0, pic.height - 1)
        if pic.rgb is not None:
            out = pic.rgb[syc[:, None], sxc[None, :]]
        else:
            out = pic.palette[pic.indices[syc[:, None], sxc[None, :]]]
        packed = (
            (out[..., 0].astype(np.int32) << 16)
            | (out[..., 1].astype(np.int32) << 8)
            | out[..., 2].astype(np.int32)
        )
        packed[~inside_y, :] = -1
        packed[:, ~inside_x] = -1
        return packed


class HalfBlockView(Widget):
    """One pane: a title line and the picture in half-block cells, under a shared viewport."""

    COMPONENT_CLASSES = {"half-block-view--title", "half-block-view--message"}

    DEFAULT_CSS = """
    HalfBlockView { width: 1fr; height: 1fr; }
    HalfBlockView > .half-block-view--title { text-style: bold; }
    """

    viewport: reactive[Viewport] = reactive(Viewport, layout=False)

    class Scrolled(Message):
        """The mouse wheel turned over the pane: pan by (dx, dy) steps."""

        def __init__(self, dx: int, dy: int) -> None:
            super().__init__()
            self.dx = dx
            self.dy = dy

    class Clicked(Message):
        """The pane was clicked at an image position (full-resolution pixels)."""

        def __init__(self, x: float, y: float) -> None:
            super().__init__()
            self.x = x
            self.y = y

    def __init__(self, title: str = "", *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self._title_text = title
        self.caption = ""
        self.picture: Picture | None = None
        self.message = ""
        self._strips: list[Strip] | None = None
        self._title: Strip | None = None
        self._styles: dict[tuple[int, int], Style] = {}
        self._base: Style | None = None

    @property
    def title(self) -> str:
        return self._title_text

    @title.setter
    def title(self, text: str) -> None:
        if text != self._title_text:
            self._title_text = text
            self._title = None
            self.refresh()

    # -- data -------------------------------------------------------------------------------
    def show(self, picture: Picture | None, caption: str = "") -> None:
        self.picture = picture
        self.caption = caption
        self.message = ""
        self._invalidate()

    def show_message(self, text: str) -> None:
        """Show text instead of a picture (nothing open, an error …), wrapped to the pane."""
        self.picture = None
        self.message = text
        self._invalidate()

    def set_caption(self, caption: str) -> None:
        if caption != self.caption:
            self.caption = caption
            self._title = None
            self.refresh(self.region.__class__(0, 0, self.size.width, 1))

    def _invalidate(self) -> None:
        self._strips = None
        self._title = None
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base = None
        self._styles.clear()
        self._invalidate()

    @property
    def base_style(self) -> Style:
        """The widget's own style (computing it is not free: kept until styles change)."""
        if self._base is None:
            self._base = self.rich_style
        return self._base

    def watch_viewport(self) -> None:
        self._invalidate()

    def on_resize(self) -> None:
        self._invalidate()

    # -- geometry ---------------------------------------------------------------------------
    @property
    def pixel_size(self) -> tuple[int, int]:
        """The picture area in pixels: one per cell across, two per cell down (no title)."""
        return self.size.width, 2 * max(0, self.size.height - 1)

    def fit_scale(self) -> float:
        """Image pixels per screen pixel that fit the whole picture in the pane."""
        if self.picture is None:
            return 1.0
        return fit_scale(self.picture.full_size, self.pixel_size)

    def _grid(self):
        return self.viewport.sample_grid(self.picture.full_size, self.pixel_size)

    # -- rendering --------------------------------------------------------------------------
    def _style(self, top: int, bottom: int) -> Style:
        key = (top, bottom)
        style = self._styles.get(key)
        if style is None:
            if len(self._styles) > 65536:
                self._styles.clear()
            base = self.base_style
            fg = base.bgcolor if top < 0 else _rgb(top)
            bg = base.bgcolor if bottom < 0 else _rgb(bottom)
            style = Style.from_color(fg, bg)
            self._styles[key] = style
        return style

    def _title_strip(self, width: int) -> Strip:
        text = self.title
        if self.caption:
            text = f"{text}  {self.caption}" if text else self.caption
        if len(text) > width:
            text = text[: max(0, width - 1)] + "…"
        text = text.ljust(width)
        style = self.base_style + self.get_component_rich_style(
            "half-block-view--title", partial=True
        )
        return Strip([Segment(text, style)], width)

    def _build(self) -> list[Strip]:
        """The picture's lines (below the title line)."""
        width, height = self.size.width, self.size.height
        strips: list[Strip] = []
        rows = height - 1
        if rows <= 0:
            return strips
        base = self.base_style
        blank = Strip([Segment(" " * width, base)], width)
        if self.picture is None:
            lines = [blank] * rows
            if self.message:
                style = base + self.get_component_rich_style(
                    "half-block-view--message", partial=True
                )
                text = textwrap.wrap(self.message, max(1, width)) or [""]
                text = text[:rows]
                first = rows // 2 - len(text) // 2
                for n, line in enumerate(text):
                    pad = (width - len(line)) // 2
                    lines[first + n] = Strip(
                        [
                            Segment(" " * pad, base),
                            Segment(line, style),
                            Segment(" " * (width - pad - len(line)), base),
                        ],
                        width,
                    )
            return strips + lines
        xs, ys = self._grid()
        packed = self.picture.sample(xs, ys)
        for r in range(rows):
            top, bottom = packed[2 * r], packed[2 * r + 1]
            # Runs of equal cells become one segment: quantized images have long runs.
            change = np.flatnonzero((top[1:] != top[:-1]) | (bottom[1:] != bottom[:-1])) + 1
            starts = np.concatenate(([0], change))
            ends = np.concatenate((change, [width]))
            segments = []
            for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
                t, b = int(top[s]), int(bottom[s])
                if t < 0 and b < 0:
                    segments.append(Segment(" " * (e - s), base))
                else:
                    segments.append(Segment(UPPER_HALF * (e - s), self._style(t, b)))
            strips.append(Strip(segments, width))
        return strips

    def render_line(self, y: int) -> Strip:
        if y == 0:
            if self._title is None or self._title.cell_length != self.size.width:
                self._title = self._title_strip(self.size.width)
            return self._title
        if self._strips is None or len(self._strips) != self.size.height - 1:
            self._strips = self._build()
        if 0 <= y - 1 < len(self._strips):
            return self._strips[y - 1]
        return Strip.blank(self.size.width, self.base_style)

    def on_mouse_scroll_down(self, event) -> None:
        event.stop()
        self.post_message(self.Scrolled(*((1, 0) if event.shift else (0, 1))))

    def on_mouse_scroll_up(self, event) -> None:
        event.stop()
        self.post_message(self.Scrolled(*((-1, 0) if event.shift else (0, -1))))

    def on_mouse_scroll_right(self, event) -> None:
        event.stop()
        self.post_message(self.Scrolled(1, 0))

    def on_mouse_scroll_left(self, event) -> None:
        event.stop()
        self.post_message(self.Scrolled(-1, 0))

    def on_click(self, event) -> None:
        offset = event.get_content_offset(self)
        if self.picture is None or offset is None or offset.y < 1:
            return
        xs, ys = self._grid()
        x = xs[min(max(offset.x, 0), len(xs) - 1)]
        y = ys[min(max(2 * (offset.y - 1), 0), len(ys) - 1)]
        if x >= 0 and y >= 0:
            self.post_message(self.Clicked(float(x), float(y)))


def _rgb(packed: int):
    from rich.color import Color

    return Color.from_rgb((packed >> 16) & 255, (packed >> 8) & 255, packed & 255)
