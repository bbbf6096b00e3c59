"""Half-block colors for terminals of 256 or 16 colors: the nearest palette entry in CIELAB.

Left to the generic downgrade, truecolor pictures in a 256-color terminal pick entries by a
distance in RGB and drift (warm browns turn red); with 16 colors they become blobs. Here each
pixel takes the entry nearest in CIELAB, optionally after ordered (Bayer) dithering so areas
between two entries show as a fine mix of both.
"""

from __future__ import annotations

import numpy as np

from ...stats import srgb8_to_lab

#: xterm's default 16 colors (what a 16-color terminal shows is its theme's: an approximation).
XTERM_16 = np.array(
    [
        (0, 0, 0),
        (205, 0, 0),
        (0, 205, 0),
        (205, 205, 0),
        (0, 0, 238),
        (205, 0, 205),
        (0, 205, 205),
        (229, 229, 229),
        (127, 127, 127),
        (255, 0, 0),
        (0, 255, 0),
        (255, 255, 0),
        (92, 92, 255),
        (255, 0, 255),
        (0, 255, 255),
        (255, 255, 255),
    ],
    np.uint8,
)
_CUBE = np.array([0, 95, 135, 175, 215, 255], np.uint8)
#: Entries 16-255 of the 256-color palette: the 6×6×6 cube and 24 grays, the same everywhere
#: (entries 0-15 follow the theme, so a 256-color mapping leaves them out).
XTERM_240 = np.concatenate(
    [
        np.stack(np.meshgrid(_CUBE, _CUBE, _CUBE, indexing="ij"), -1).reshape(-1, 3),
        np.repeat((8 + 10 * np.arange(24)).astype(np.uint8)[:, None], 3, axis=1),
    ]
)
#: 4×4 Bayer thresholds in (-0.5, 0.5).
BAYER_4 = (
    np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]]) + 0.5
) / 16 - 0.5
#: Dither amplitude in RGB levels: about one step of the palette.
_SPREAD = {256: 40.0, 16: 96.0}


class TerminalPalette:
    """Maps packed 0xRRGGBB pixels to a terminal's color numbers.

    Parameters
    ----------
    colors : {256, 16}
    dither : bool
        Ordered dithering before the nearest-entry lookup.
    """

    def __init__(self, colors: int, *, dither: bool = False):
        if colors not in (256, 16):
            raise ValueError(f"colors must be 256 or 16, got {colors!r}")
        self.colors = colors
        self.dither = dither
        self.rgb = XTERM_240 if colors == 256 else XTERM_16
        self.first = 16 if colors == 256 else 0
        self._lab = srgb8_to_lab(self.rgb)
        self._cache: dict[int, int] = {}

    def label(self) -> str:
        return f"{self.colors} colors: previews approximate"

    def nearest(self, rgb: np.ndarray) -> np.ndarray:
        """Color numbers nearest in CIELAB to (n, 3) uint8 colors."""
        lab = srgb8_to_lab(np.ascontiguousarray(rgb, np.uint8))
        distance = ((lab[:, None, :] - self._lab[None, :, :]) ** 2).sum(-1)
        return distance.argmin(1) + self.first

    def map(self, packed: np.ndarray) -> np.ndarray:
        """Color numbers for a grid of packed pixels; -1 (nothing there) stays -1."""
        packed = np.asarray(packed)
        inside = packed >= 0
        out = np.full(packed.shape, -1, np.int32)
        rgb = np.stack([(packed >> 16) & 255, (packed >> 8) & 255, packed & 255], -1)
        if self.dither:
            h, w = packed.shape
            offset = np.tile(BAYER_4, (h // 4 + 1, w // 4 + 1))[:h, :w] * _SPREAD[self.colors]
            rgb = np.clip(np.round(rgb + offset[..., None]), 0, 255)
        rgb = rgb.astype(np.uint8)[inside]
        keys = (rgb[:, 0].astype(np.int64) << 16) | (rgb[:, 1].astype(np.int64) << 8) | rgb[:, 2]
        unique, inverse = np.unique(keys, return_inverse=True)
        missing = [k for k in unique.tolist() if k not in self._cache]
        if missing:
            m = np.array(missing, np.int64)
            found = self.nearest(np.stack([(m >> 16) & 255, (m >> 8) & 255, m & 255], -1))
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache.update(zip(missing, found.tolist(), strict=True))
        numbers = np.array([self._cache[k] for k in unique.tolist()], np.int32)
        out[inside] = numbers[inverse.reshape(-1)]
        return out
