"""The palette as swatches, each with its share of the pixels, most used first."""

from __future__ import annotations

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.widgets import Static


class PaletteView(Static):
    """Swatches of a palette with the share of pixels of each color (from ``Quantized.counts``)."""

    COMPONENT_CLASSES = {"palette-view--share", "palette-view--rest"}

    DEFAULT_CSS = """
    PaletteView { height: auto; }
    PaletteView > .palette-view--share { text-style: dim; }
    PaletteView > .palette-view--rest { text-style: dim italic; }
    """

    #: Lines of swatches at most; colors that do not fit are summed up as "+n more".
    rows = 4

    def __init__(self, *, id: str | None = None, classes: str | None = None):
        super().__init__("", id=id, classes=classes)
        self._palette: np.ndarray | None = None
        self._counts: np.ndarray | None = None
        self._alpha: np.ndarray | None = None
        self._lines: int | None = None  # lines of the text shown

    def show_palette(
        self, palette: np.ndarray | None, counts: np.ndarray | None, alpha: np.ndarray | None = None
    ) -> None:
        self._palette, self._counts, self._alpha = palette, counts, alpha
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def set_rows(self, rows: int) -> None:
        if rows != self.rows:
            self.rows = rows
            self._redraw()

    def _redraw(self) -> None:
        palette, counts = self._palette, self._counts
        if palette is None or counts is None or len(palette) == 0:
            self._update("")
            return
        total = max(1, int(counts.sum()))
        order = np.argsort(-counts, kind="stable")
        width = max(10, self.size.width or 40)
        rows = self.rows
        cell = 8  # "██12.3% "
        per_row = max(1, width // cell)
        room = per_row * rows
        text = Text(no_wrap=True, overflow="crop")
        share_style = self.get_component_rich_style("palette-view--share", partial=True)
        shown = order if len(order) <= room else order[: room - 1]
        for n, i in enumerate(shown.tolist()):
            if n and n % per_row == 0:
                text.append("\n")
            r, g, b = (int(v) for v in palette[i])
            clear = self._alpha is not None and int(self._alpha[i]) == 0
            share = 100.0 * int(counts[i]) / total
            swatch = "░░" if clear else "██"
            text.append(swatch, Style(color=f"rgb({r},{g},{b})"))
            label = f"{share:4.1f}%" if share < 99.95 else " 100%"
            text.append(f"{label} ".ljust(cell - 2), share_style)
        if len(shown) < len(order):
            rest = int(counts[order[len(shown) :]].sum())
            text.append(
                f"+{len(order) - len(shown)} {100.0 * rest / total:.0f}%",
                self.get_component_rich_style("palette-view--rest", partial=True),
            )
        self._update(text)

    def _update(self, text: Text | str) -> None:
        # The screen is laid out again (every widget rendered) only when the number of lines
        # changes: a new k mostly keeps it.
        lines = str(text).count("\n") + 1 if str(text) else 0
        self.update(text, layout=lines != self._lines)
        self._lines = lines
