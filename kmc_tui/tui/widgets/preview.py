"""An image pane: real pixels through a graphics protocol, or half-block cells.

With Kitty, Sixel or iTerm2 images (see :mod:`kmc_tui.tui.graphics`) the pane is measured in
screen pixels, so 1:1 is one image pixel per screen pixel; the cells under the picture are
blank and the image is written after them. Elsewhere ▀ with the upper pixel as foreground and
the lower as background, mapped to the terminal's palette in CIELAB when it has 256 or 16
colors. The widget samples its pixels with nearest-neighbour from what it is given, so a
quantized result shows exactly the palette's colors; it never decodes or resizes images itself.
"""

from __future__ import annotations

import functools
import itertools
import textwrap
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual import work
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget
from textual.worker import get_current_worker

from ...stats import srgb8_to_lab
from ..graphics import Graphics, encoders
from ..graphics.terminal_colors import TerminalPalette
from ..viewport import Viewport, fit_scale

UPPER_HALF = "\u2580"
#: Bit 24 marks a terminal color number (256/16-color terminals) among packed 0xRRGGBB pixels.
TERMINAL_COLOR = 1 << 24
_kitty_ids = itertools.count(0x4B4D0001)  # "KM": image ids of this process's panes
#: Encoded frames a pane keeps (flipping, or the original at the same zoom, draws at once).
ENCODED_FRAMES = 4
#: zlib levels of a palette PNG (Kitty, iTerm2): a preview frame, encoded on the way from a key
#: to its picture, and the others, encoded in the pane's thread, where a few milliseconds more
#: buy fewer bytes for a slow link.
PREVIEW_PNG_LEVEL, PNG_LEVEL = 4, 6


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
    lookup : ndarray (32768,), optional
        With `rgb` and `palette`: the picture shows each pixel as the palette entry
        ``lookup[r >> 3, g >> 3, b >> 3]`` (see :func:`palette_lookup`), mapped when sampled,
        so only the pixels on screen are mapped. :meth:`mapped` makes such a picture.
    """

    def __init__(
        self,
        full_size: tuple[int, int],
        *,
        rgb=None,
        indices=None,
        palette=None,
        detail: Picture | None = None,
        lookup=None,
    ):
        self.full_width, self.full_height = full_size
        self.full_size = (self.full_width, self.full_height)
        self.rgb = rgb
        self.indices = indices
        self.palette = palette
        self.detail = detail
        self.lookup = lookup
        self._cells: np.ndarray | None = None
        src = rgb if rgb is not None else indices
        self.height, self.width = src.shape[:2]

    def _lookup(self, xs: np.ndarray, ys: np.ndarray):
        """The picture to read, the rows and columns in it, and which are inside the image."""
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
        return (
            pic,
            np.clip(sy, 0, pic.height - 1),
            np.clip(sx, 0, pic.width - 1),
            inside_y,
            inside_x,
        )

    def sample(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """Pixels at full-resolution coordinates (nearest neighbour); -1 marks 'outside'."""
        pic, syc, sxc, inside_y, inside_x = self._lookup(xs, ys)
        if self.lookup is not None:
            out = self.palette[self.lookup[pic.cells[syc][:, sxc]]]
        elif pic.rgb is not None:
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

    def sample_block(self, xs: np.ndarray, ys: np.ndarray):
        """The pixels at the image positions (all inside it): ``(rgb, None)`` for an RGB
        picture, ``(indices, palette)`` for a quantized one."""
        pic, syc, sxc, _, _ = self._lookup(xs, ys)
        if self.lookup is not None:
            return self.lookup[pic.cells[syc][:, sxc]], self.palette
        if pic.rgb is not None:
            return pic.rgb[syc[:, None], sxc[None, :]], None
        return pic.indices[syc[:, None], sxc[None, :]], pic.palette

    @property
    def cells(self) -> np.ndarray:
        """Each RGB pixel's cell of the lookup grid, ``(r >> 3) << 10 | (g >> 3) << 5 | b >> 3``
        (uint16), computed once: a preview then samples one plane and looks it up."""
        if self._cells is None:
            high = self.rgb >> 3
            self._cells = (
                (high[..., 0].astype(np.uint16) << 10)
                | (high[..., 1].astype(np.uint16) << 5)
                | high[..., 2]
            )
        return self._cells

    def mapped(self, palette: np.ndarray, lookup: np.ndarray) -> Picture:
        """This RGB picture shown in `palette` through `lookup` (:func:`palette_lookup`),
        sharing its pixels and their cells."""
        picture = Picture(
            self.full_size, rgb=self.rgb, palette=palette, detail=self.detail, lookup=lookup
        )
        picture._cells = self.cells
        return picture


#: The lookup's grid: 32 levels per channel, each cell's color at its middle.
_LOOKUP_LEVELS = np.arange(32, dtype=np.uint8) * 8 + 4


@functools.cache
def _lookup_grid_lab() -> np.ndarray:
    """The grid's colors in CIELAB, one row per coordinate: (3, 32768) float32."""
    grid = np.stack(np.meshgrid(*[_LOOKUP_LEVELS] * 3, indexing="ij"), -1).reshape(-1, 3)
    return np.ascontiguousarray(srgb8_to_lab(np.ascontiguousarray(grid)).T, np.float32)


def palette_lookup(palette: np.ndarray) -> np.ndarray:
    """For each color of a 5-bit-per-channel grid, the `palette` entry nearest in CIELAB.

    A preview maps the pixels on screen through this table (a :class:`Picture`'s `lookup`)
    instead of measuring every pixel's distance to every entry.

    Parameters
    ----------
    palette : ndarray (m, 3) uint8, 1 <= m <= 65536

    Returns
    -------
    ndarray (32768,) of uint8 (uint16 past 256 entries)
        Indexed by ``(r >> 3) << 10 | (g >> 3) << 5 | b >> 3``.
    """
    palette = np.asarray(palette, np.uint8).reshape(-1, 3)
    if len(palette) == 0:
        raise ValueError("palette_lookup needs at least one palette entry")
    lightness, a, b = _lookup_grid_lab()
    entries = srgb8_to_lab(palette).astype(np.float32)
    # One entry at a time, keeping each cell's nearest so far: no (cells × entries) arrays
    # (a strict < keeps the first of equal entries, as argmin would).
    nearest = np.zeros(len(lightness), np.uint8 if len(palette) <= 256 else np.uint16)
    best = np.full(len(lightness), np.inf, np.float32)
    distance, term = np.empty_like(best), np.empty_like(best)
    for n, (el, ea, eb) in enumerate(entries.tolist()):
        np.subtract(lightness, el, out=distance)
        distance *= distance
        for channel, value in ((a, ea), (b, eb)):
            np.subtract(channel, value, out=term)
            term *= term
            distance += term
        closer = distance < best
        best[closer] = distance[closer]
        nearest[closer] = n
    return nearest


class HalfBlockView(Widget):
    """One pane: a title line and the picture under a shared viewport.

    The picture is drawn with the app's graphics protocol (``app.graphics``, a
    :class:`~kmc_tui.tui.graphics.Graphics`) or in half-block cells. `partner` is the other
    pane: while `flipped`, this pane shows the partner's picture, title and caption in its place.
    """

    COMPONENT_CLASSES = {"half-block-view--title", "half-block-view--message"}

    DEFAULT_CSS = """
    HalfBlockView { width: 1fr; height: 1fr; }
    HalfBlockView > .half-block-view--title { text-style: bold; }
    """

    viewport: reactive[Viewport] = reactive(Viewport, layout=False)
    flipped: reactive[bool] = reactive(False, layout=False)
    #: Ordered dithering of half-blocks mapped to 256 or 16 colors.
    dither_preview: reactive[bool] = reactive(False, layout=False)

    class Scrolled(Message):
        """The mouse wheel turned over the pane: pan by (dx, dy) steps."""

        def __init__(self, dx: int, dy: int) -> None:
            super().__init__()
            self.dx = dx
            self.dy = dy

    class FrameEncoded(Message, bubble=False):
        """A frame's escape sequence, encoded in a thread, for the pane that asked for it."""

        def __init__(self, key: tuple, data: str, box, error: str = "") -> None:
            super().__init__()
            self.key = key
            self.data = data
            self.box = box  # (column, row, width, height) in cells of the picture area
            self.error = error

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
        self._picture: Picture | None = None
        self._message = ""
        self.partner: HalfBlockView | None = None
        self._strips: list[Strip] | None = None
        self._title: Strip | None = None
        self._styles: dict[tuple[int, int], Style] = {}
        self._base: Style | None = None
        self._palette: TerminalPalette | None = None
        #: Escape sequences of recent frames by frame key: (data, cell box), least recent first.
        self._encoded: OrderedDict[tuple, tuple[str, tuple | None]] = OrderedDict()
        self._encoding: tuple | None = None  # the frame key being encoded
        self._drawn: tuple | None = None  # (key, text, region, box) of the last image written
        self._when_drawn: list[tuple[tuple, Callable[[], object]]] = []
        self._cells_blank = False  # the picture area's cells are blank (an image goes there)
        self._after_title = False  # a frame waits for the update that writes the title line
        self._kitty_id = next(_kitty_ids)
        self._kitty_shown: object = None  # the frame key on screen (Kitty images persist)

    # -- what is shown (the partner's while flipped) ----------------------------------------
    @property
    def _shown(self) -> HalfBlockView:
        return self.partner if self.flipped and self.partner is not None else self

    @property
    def picture(self) -> Picture | None:
        return self._shown._picture

    @property
    def message(self) -> str:
        return self._shown._message

    @property
    def title(self) -> str:
        return self._shown._title_text

    @title.setter
    def title(self, text: str) -> None:
        if text != self._title_text:
            self._title_text = text
            self._title = None
            self._changed(content=False)

    @property
    def graphics(self) -> Graphics:
        graphics = getattr(self.app, "graphics", None)
        return graphics if isinstance(graphics, Graphics) else Graphics()

    # -- data -------------------------------------------------------------------------------
    def show(self, picture: Picture | None, caption: str = "", *, encoded=None) -> None:
        """Show `picture`; `encoded` is its frame from :meth:`encode_ahead`, used when the
        pane has not changed since."""
        self._picture = picture
        self.caption = caption
        self._message = ""
        if encoded is not None and encoded[0] == self._frame_key():
            self._remember_frame(*encoded)
        self._changed()

    def encode_ahead(self, picture: Picture) -> tuple | None:
        """`picture`'s frame as this pane would draw it now, encoded in the calling thread
        (a worker that has just made the pixels), for :meth:`show`; None with half-blocks."""
        graphics = self.graphics
        if not graphics.pixels or self.flipped or not self.is_attached:
            return None
        viewport, size, cell = self.viewport, self.size, self.cell_pixels
        pixel_size = (size.width * cell[0], max(0, size.height - 1) * cell[1])
        xs, ys = viewport.sample_grid(picture.full_size, pixel_size)
        data, box = encode_picture(
            picture, xs, ys, cell, graphics, image_id=self._kitty_id, level=PREVIEW_PNG_LEVEL
        )
        return (picture, viewport, size, False, graphics), data, box

    def show_message(self, text: str) -> None:
        """Show text instead of a picture (nothing open, an error …), wrapped to the pane."""
        self._picture = None
        self._message = text
        self._changed()

    def set_caption(self, caption: str) -> None:
        if caption != self.caption:
            self.caption = caption
            self._changed(content=False)

    def _changed(self, *, content: bool = True) -> None:
        """Redraw this pane and the partner while it shows this pane's content."""
        for pane in (self, self.partner):
            if pane is None or (pane is not self and pane._shown is not self):
                continue
            if content:
                pane._invalidate()
            else:
                pane._title = None
                pane.refresh(pane.region.__class__(0, 0, pane.size.width, 1))

    def _invalidate(self) -> None:
        self._strips = None
        self._title = None
        if self._cells_blank and self.picture is not None and self.graphics.pixels:
            # A new image over blank cells: only the title is rewritten, and the last image
            # stays until the new one, encoded in a thread, replaces it.
            self.refresh(self.region.__class__(0, 0, self.size.width, 1))
            self._draw_image(cells_written=False)
        else:
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

    def watch_flipped(self) -> None:
        self._invalidate()

    def watch_dither_preview(self) -> None:
        self._invalidate()

    @property
    def terminal_colors(self) -> int | None:
        """256 or 16 when half-blocks are mapped to the terminal's palette, else None."""
        palette = None if self.graphics.pixels else self._terminal_palette()
        return None if palette is None else palette.colors

    def on_resize(self) -> None:
        self._cells_blank = False  # Textual lays the screen out again: every cell is written
        self._invalidate()

    # -- geometry ---------------------------------------------------------------------------
    @property
    def cell_pixels(self) -> tuple[int, int]:
        """Screen pixels per cell: the terminal's cell with a graphics protocol, else 1×2."""
        graphics = self.graphics
        return graphics.cell_size if graphics.pixels else (1, 2)

    @property
    def pixel_size(self) -> tuple[int, int]:
        """The picture area in screen pixels (the title line excluded)."""
        cell_w, cell_h = self.cell_pixels
        return self.size.width * cell_w, max(0, self.size.height - 1) * cell_h

    def fit_scale(self) -> float:
        """Image pixels per screen pixel that fit the whole picture in the pane."""
        if self.picture is None:
            return 1.0
        return fit_scale(self.picture.full_size, self.pixel_size)

    def _grid(self):
        return self.viewport.sample_grid(self.picture.full_size, self.pixel_size)

    # -- half-block rendering ---------------------------------------------------------------
    def _terminal_palette(self) -> TerminalPalette | None:
        """The 256- or 16-color palette to map to, or None in truecolor.

        Headless (tests, screenshots) nothing is downgraded, so nothing is mapped.
        """
        if self.app.is_headless:
            return None
        system = getattr(self.app.console, "color_system", "truecolor")
        colors = {"256": 256, "standard": 16, "windows": 16}.get(str(system))
        if colors is None:
            return None
        palette = self._palette
        if palette is None or palette.colors != colors or palette.dither != self.dither_preview:
            self._palette = TerminalPalette(colors, dither=self.dither_preview)
        return self._palette

    def _style(self, top: int, bottom: int) -> Style:
        key = (top, bottom)
        style = self._styles.get(key)
        if style is None:
            if len(self._styles) > 65536:
                self._styles.clear()
            base = self.base_style
            fg = base.bgcolor if top < 0 else _color(top)
            bg = base.bgcolor if bottom < 0 else _color(bottom)
            style = Style.from_color(fg, bg)
            self._styles[key] = style
        return style

    def _title_strip(self, width: int) -> Strip:
        text = self.title
        caption = self._shown.caption
        if caption:
            text = f"{text}  {caption}" if text else caption
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
        self._cells_blank = self.graphics.pixels and self.picture is not None
        if self.picture is None or self.graphics.pixels:
            lines = [blank] * rows
            if self.message and self.picture is None:
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
        palette = self._terminal_palette()
        if palette is not None:
            numbers = palette.map(packed)
            packed = np.where(numbers >= 0, numbers | TERMINAL_COLOR, -1)
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

    # -- pixel rendering --------------------------------------------------------------------
    def frame(self):
        """The pixels the pane shows, one per screen pixel, and where (in cells).

        Returns ``(pixels, palette, (column, row))`` — palette indices and their palette, or
        RGB and None — or None when there is nothing to draw. The block is the part of the
        pane the image covers, placed at a cell of the picture area (row 0 is under the title).
        """
        if self.picture is None:
            return None
        return sample_frame(self.picture, *self._grid(), self.cell_pixels)

    def _frame_key(self) -> tuple:
        """What the pane's frame depends on: an encoded frame with this key is the same."""
        return (self.picture, self.viewport, self.size, self.flipped, self.graphics)

    def after_screen_update(self, spans) -> None:
        """Draw the image again if the update just written went over the pane's picture area.

        `spans` are the ``(y, x1, x2)`` cell spans the update wrote, or None for the whole
        screen. Textual renders a pane for any update whose bounding box touches it but writes
        only the spans, so redrawing on every render would resend unchanged images.
        """
        if not self.graphics.pixels or not self.is_attached or not self.display:
            return
        region = self.region
        top, bottom = region.y + 1, region.bottom  # below the title line
        if spans is not None and not any(
            top <= y < bottom and x1 < region.right and x2 > region.x for y, x1, x2 in spans
        ):
            if self.graphics.protocol != "kitty":
                if self._after_title and self._title is not None:
                    self._draw_image(cells_written=False)  # its caption is on screen now
                return
        self._draw_image()

    def _draw_image(self, *, cells_written: bool = True) -> None:
        """Write the current frame if it is encoded, else have it encoded (off this thread).

        `cells_written`: Textual has just written the picture area's cells (blank), which
        took the last image off a Sixel or iTerm2 terminal.
        """
        if not self.is_attached or not self.display or not self.screen.is_active:
            return  # hidden, closing, or a dialog is over the pane: drawing would go over it
        key = self._frame_key()
        encoded = self._encoded.get(key)
        if encoded is None and self.picture is None:
            encoded = self._encoded[key] = ("", None)
        if encoded is not None:
            self._encoded.move_to_end(key)
            drawn = self._drawn
            if (
                not cells_written
                and self.graphics.protocol != "kitty"
                and drawn is not None
                and drawn[3] is not None
                and not _covers(encoded[1], drawn[3])
            ):
                # The new image would leave part of the old one visible: Textual blanks the
                # cells first, and the image follows its update.
                self.refresh()
                return
            self._write_frame(key, *encoded)
            return
        if self._encoding != key:
            self._encoding = key
            self._encode(key, self.picture, *self._grid(), self.cell_pixels, self.graphics)
        drawn = self._drawn
        if (
            cells_written
            and drawn is not None
            and drawn[2] == self.region
            and self.graphics.protocol != "kitty"
        ):
            # Until the new frame is encoded, the cells Textual just rewrote show the last one
            # (a Kitty image stays by itself).
            write_to_terminal(self.app, drawn[1])

    @work(thread=True, exclusive=True, group="encode", description="encode picture")
    def _encode(self, key: tuple, picture: Picture, xs, ys, cell, graphics: Graphics) -> None:
        """Sample and encode a frame in a thread: the UI goes on meanwhile; the newest wins."""
        worker = get_current_worker()
        try:
            data, box = encode_picture(
                picture, xs, ys, cell, graphics, image_id=self._kitty_id, worker=worker
            )
        except Exception as exc:  # noqa: BLE001 - a picture that cannot be drawn is not fatal
            self.post_message(self.FrameEncoded(key, "", None, f"cannot draw the picture: {exc}"))
            return
        if not worker.is_cancelled:
            self.post_message(self.FrameEncoded(key, data, box))

    def _remember_frame(self, key: tuple, data: str, box) -> None:
        encoded = self._encoded
        encoded[key] = (data, box)
        while len(encoded) > ENCODED_FRAMES:
            encoded.popitem(last=False)
        if self._encoding == key:
            self._encoding = None

    def on_half_block_view_frame_encoded(self, message: FrameEncoded) -> None:
        self._remember_frame(message.key, message.data, message.box)
        if message.error:
            self.notify(message.error, severity="error", timeout=6)
        if message.key == self._frame_key():  # else a newer frame is on its way
            self._draw_image(cells_written=False)

    def _write_frame(self, key: tuple, data: str, box) -> None:
        if self._title is None:
            # The caption saying what the picture is has not been rendered yet: the image
            # follows the screen update that writes it.
            self._after_title = True
            return
        self._after_title = False
        graphics = self.graphics
        if data:
            region = self.region
            x = region.x + box[0] + graphics.pane_offset[0]
            y = region.y + 1 + box[1] + graphics.pane_offset[1]
            # Save and restore the cursor around the image: the screen's writes go on from
            # where they were.
            text = graphics.wrap("\x1b7" + encoders.move_to(x, y) + data + "\x1b8")
        else:
            text = ""
        if graphics.protocol == "kitty":
            # Kitty images stay when cells are redrawn: send only a changed frame.
            if key == self._kitty_shown:
                self._frame_drawn(key)
                return
            if not text:
                text = graphics.wrap(encoders.kitty_delete(self._kitty_id))
            self._kitty_shown = key
        write_to_terminal(self.app, text)
        self._drawn = (key, text, self.region, box)
        self._frame_drawn(key)

    def when_drawn(self, callback: Callable[[], object]) -> None:
        """Call `callback` once the picture now shown is on the terminal (at once when the
        pane is not on screen). Half-blocks are drawn with the next screen update."""
        if not self.graphics.pixels:
            self.call_after_refresh(callback)
        elif not (self.is_attached and self.display and self.screen.is_active):
            callback()
        elif self._drawn is not None and self._drawn[0] == self._frame_key():
            callback()
        else:
            self._when_drawn.append((self._frame_key(), callback))

    def _frame_drawn(self, key: tuple) -> None:
        waiting, self._when_drawn = self._when_drawn, []
        for wanted, callback in waiting:
            if wanted == key or wanted != self._frame_key():
                callback()  # drawn, or superseded by a newer frame
            else:
                self._when_drawn.append((wanted, callback))

    def clear_pixels(self) -> None:
        """Take a Kitty image off the screen now (the pane is hidden, covered or closing).

        Sixel and iTerm2 images are cells: whatever is drawn over them replaces them.
        """
        self._drawn = None
        if self.graphics.protocol == "kitty" and self._kitty_shown is not None:
            self._kitty_shown = None
            write_to_terminal(self.app, self.graphics.wrap(encoders.kitty_delete(self._kitty_id)))

    def on_hide(self) -> None:
        self.clear_pixels()

    def on_show(self) -> None:
        self._invalidate()

    def on_unmount(self) -> None:
        self.clear_pixels()

    def on_click(self, event) -> None:
        offset = event.get_content_offset(self)
        if self.picture is None or offset is None or offset.y < 1:
            return
        xs, ys = self._grid()
        cell_w, cell_h = self.cell_pixels
        x = xs[min(max(offset.x * cell_w + cell_w // 2, 0), len(xs) - 1)]
        y = ys[min(max((offset.y - 1) * cell_h + cell_h // 2, 0), len(ys) - 1)]
        if x >= 0 and y >= 0:
            self.post_message(self.Clicked(float(x), float(y)))


def sample_frame(picture: Picture, xs: np.ndarray, ys: np.ndarray, cell: tuple[int, int]):
    """The block of `picture` a pane shows on the sample grid `xs`, `ys` (one per screen
    pixel): ``(pixels, palette, (column, row))`` as :meth:`HalfBlockView.frame`, or None."""
    cols, rows = np.flatnonzero(xs >= 0), np.flatnonzero(ys >= 0)
    if len(cols) == 0 or len(rows) == 0:
        return None
    cell_w, cell_h = cell
    pixels, palette = picture.sample_block(xs[cols[0] : cols[-1] + 1], ys[rows[0] : rows[-1] + 1])
    # An image starts at a cell: the block moves left and up to the cell it begins in.
    return pixels, palette, (int(cols[0]) // cell_w, int(rows[0]) // cell_h)


def encode_picture(
    picture: Picture,
    xs,
    ys,
    cell: tuple[int, int],
    graphics: Graphics,
    *,
    image_id: int,
    worker=None,
    level: int = PNG_LEVEL,
) -> tuple[str, tuple | None]:
    """The escape sequence of `picture` on the sample grid `xs`, `ys` and its cell box
    ``(column, row, width, height)``; ``("", None)`` when none of it is on screen."""
    frame = sample_frame(picture, xs, ys, cell)
    if frame is None or (worker is not None and worker.is_cancelled):
        return "", None
    pixels, palette, (column, row) = frame
    data = encode_frame(pixels, palette, graphics, image_id=image_id, level=level)
    height, width = pixels.shape[:2]
    return data, (column, row, -(-width // cell[0]), -(-height // cell[1]))


def encode_frame(
    pixels: np.ndarray, palette, graphics: Graphics, *, image_id: int, level: int = PNG_LEVEL
) -> str:
    """The escape sequence that draws `pixels` (palette indices, or RGB when `palette` is None)
    at the cursor with the graphics protocol of `graphics`; `level` is a palette PNG's zlib
    level."""
    protocol = graphics.protocol
    if protocol == "sixel":
        if palette is None or len(palette) > graphics.color_registers:
            rgb = pixels if palette is None else palette[pixels]
            pixels, palette = encoders.reduce_colors(rgb, graphics.color_registers)
        return encoders.sixel(pixels, palette)
    if palette is None:
        png = encoders.png_bytes(pixels)
    else:
        png = encoders.png_bytes(indices=pixels, palette=palette, level=level)
    if protocol == "kitty":
        return encoders.kitty(png, image_id=image_id)
    height, width = pixels.shape[:2]
    return encoders.iterm(png, width=width, height=height)


def _covers(box, other) -> bool:
    """Whether the cell box ``(column, row, width, height)`` `box` covers `other`."""
    if box is None:
        return False
    x, y, w, h = box
    ox, oy, ow, oh = other
    return x <= ox and y <= oy and x + w >= ox + ow and y + h >= oy + oh


def written_spans(update) -> list[tuple[int, int, int]] | None:
    """The ``(y, x1, x2)`` spans a screen update writes; None when it writes everything."""
    spans = getattr(update, "spans", None)
    return None if spans is None else list(spans)


def write_to_terminal(app, text: str) -> None:
    """Write an escape sequence now, in order with the screen's own output.

    Textual has no public call for this; its driver's ``write`` is what the screen's updates
    go through. Nothing is written without a driver (tests run headless).
    """
    driver = getattr(app, "_driver", None)
    if driver is not None and text and not getattr(driver, "is_headless", False):
        driver.write(text)
        driver.flush()


def _color(value: int) -> Color:
    if value & TERMINAL_COLOR:
        return Color.from_ansi(value & 255)
    return Color.from_rgb((value >> 16) & 255, (value >> 8) & 255, value & 255)
