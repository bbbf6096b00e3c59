"""Which part of the image the panes show, and how zoom, pan and clicks move it.

Plain arithmetic on image and pane sizes (no Textual), shared by both panes so the original and
the result always show the same place. Sizes are ``(width, height)``; a pane is measured in
its pixels: one per cell across, two per cell down (half blocks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Zoom steps as image pixels per screen pixel, below "fit" (which is whatever fits).
ZOOM_STEPS = (16.0, 8.0, 4.0, 2.0, 1.0, 0.5, 0.25, 0.125)
#: A pan moves this fraction of the pane.
PAN_FRACTION = 0.25


def fit_scale(image_size: tuple[int, int], pane_pixels: tuple[int, int]) -> float:
    """Image pixels per screen pixel that fit the whole image in the pane."""
    (width, height), (cols, rows) = image_size, pane_pixels
    if cols < 1 or rows < 1:
        return 1.0
    return max(width / cols, height / rows, 1e-9)


@dataclass(frozen=True)
class Viewport:
    """`scale` image pixels per screen pixel (None: fit) around a center in image pixels."""

    scale: float | None = None
    center_x: float = 0.0
    center_y: float = 0.0

    @property
    def label(self) -> str:
        """How the panes name this zoom: "fit", "2:1" (magnified) or "1:4" (reduced)."""
        if self.scale is None:
            return "fit"
        if self.scale <= 1:
            return f"{round(1 / self.scale)}:1"
        return f"1:{round(self.scale)}"

    def center(self, image_size: tuple[int, int]) -> tuple[float, float]:
        """The image position in the middle of the panes (the image's middle when fitted)."""
        if self.scale is None:
            return image_size[0] / 2, image_size[1] / 2
        return self.center_x, self.center_y

    def zoomed(
        self, direction: int, *, image_size: tuple[int, int], pane_pixels: tuple[int, int]
    ) -> Viewport:
        """One zoom step closer (`direction` > 0) or further; further than fit is fit."""
        fit = fit_scale(image_size, pane_pixels)
        scale = self.scale if self.scale is not None else fit
        if direction > 0:
            closer = [s for s in ZOOM_STEPS if s < scale * 0.99]
            if not closer:
                return self
            new = closer[0]
        else:
            further = [s for s in reversed(ZOOM_STEPS) if s > scale * 1.01]
            if not further or further[0] >= fit:
                return Viewport()
            new = further[0]
        return Viewport(new, *self.center(image_size))

    def one_to_one(self, image_size: tuple[int, int]) -> Viewport:
        """One image pixel per screen pixel, around the same place."""
        return Viewport(1.0, *self.center(image_size))

    def panned(
        self, dx: int, dy: int, *, image_size: tuple[int, int], pane_pixels: tuple[int, int]
    ) -> Viewport:
        """Moved by a quarter of the pane per step, the center kept on the image."""
        if self.scale is None:
            return self  # the whole image is shown: nowhere to go
        step_x = max(1.0, pane_pixels[0] * self.scale * PAN_FRACTION)
        step_y = max(1.0, pane_pixels[1] * self.scale * PAN_FRACTION)
        cx = min(max(self.center_x + dx * step_x, 0.0), float(image_size[0]))
        cy = min(max(self.center_y + dy * step_y, 0.0), float(image_size[1]))
        return Viewport(self.scale, cx, cy)

    def centered_on(self, x: float, y: float) -> Viewport:
        """Centered on an image position, magnified to at least 1:1 (a click)."""
        scale = self.scale if self.scale is not None else 1.0
        return Viewport(min(scale, 1.0), x, y)

    def sample_grid(
        self, image_size: tuple[int, int], pane_pixels: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Image positions of the pane's pixel columns and rows; -1 where the pane is empty.

        The image is centered in the pane when it is smaller than the pane.
        """
        (width, height), (cols, rows) = image_size, pane_pixels
        scale = self.scale if self.scale is not None else fit_scale(image_size, pane_pixels)
        cx, cy = self.center(image_size)
        shown_w = min(cols, int(np.ceil(width / scale)))
        shown_h = min(rows, int(np.ceil(height / scale)))
        x0 = cx - shown_w * scale / 2
        y0 = cy - shown_h * scale / 2
        off_x = (cols - shown_w) // 2
        off_y = (rows - shown_h) // 2
        col, row = np.arange(cols), np.arange(rows)
        xs = x0 + (col - off_x + 0.5) * scale
        ys = y0 + (row - off_y + 0.5) * scale
        xs[(col < off_x) | (col >= off_x + shown_w)] = -1
        ys[(row < off_y) | (row >= off_y + shown_h)] = -1
        return xs, ys
