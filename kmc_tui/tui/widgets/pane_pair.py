"""The original and the result side by side (or one above the other), always the same size.

Two ``1fr`` panes split an odd number of cells unevenly, and a picture fitted into panes one
cell apart is drawn at different sizes, so the two never line up. The pair leaves the odd
cell empty at its end instead.
"""

from __future__ import annotations

from textual.containers import Horizontal


class PanePair(Horizontal):
    """Two panes of one size: the odd cell (across, or down when stacked) is left as padding.

    A margin right of the first pane (a gap between them) is taken into account.
    """

    DEFAULT_CSS = """
    PanePair { height: 1fr; }
    """

    def on_resize(self) -> None:
        self.even_out()

    def even_out(self) -> None:
        """Pad the odd cell so the panes on screen get equal shares (call after a mode change)."""
        shown = [pane for pane in self.children if pane.display]
        width, height = self.region.size  # padding included: it is what is being chosen
        right = bottom = 0
        if len(shown) == 2:
            first = shown[0]
            if self.styles.layout is not None and self.styles.layout.name == "vertical":
                bottom = height % 2
            else:
                right = (width - first.styles.margin.right) % 2
        padding = (0, right, bottom, 0)
        if tuple(self.styles.padding) != padding:
            self.styles.padding = padding
