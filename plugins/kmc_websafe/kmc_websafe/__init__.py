"""A uniform palette for kmc-tui: each channel snapped to evenly spaced levels.

With 6 levels (the default) that is the 216-color "web-safe" palette, whose channels are
multiples of 0x33. When the image uses more grid colors than k allows, the grid gets coarser
(5 levels, 4, …) until it fits, so the result never has more than k colors.
"""

from __future__ import annotations

import numpy as np

from kmc_tui.plugin_api import ColorHistogram, ParamSpec, Quantizer, QuantizerOutput

__version__ = "1.0.0"


def grid_levels(levels: int) -> np.ndarray:
    """`levels` evenly spaced channel values from 0 to 255 (one level: mid-gray 128)."""
    if levels == 1:
        return np.array([128], np.uint8)
    return np.round(np.linspace(0, 255, levels)).astype(np.uint8)


def snap(colors: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Snap (n, 3) uint8 colors to the grid; return the grid colors used and each color's entry."""
    steps = np.round(colors.astype(np.float64) * ((levels - 1) / 255.0)).astype(np.int64)
    codes = (steps[:, 0] * levels + steps[:, 1]) * levels + steps[:, 2]
    used, labels = np.unique(codes, return_inverse=True)
    cells = np.stack([used // (levels * levels), used // levels % levels, used % levels], 1)
    return grid_levels(levels)[cells], labels.reshape(-1)


class WebSafeQuantizer(Quantizer):
    """Uniform palette quantizer; no clustering, so it is fast and needs no seed."""

    name = "websafe"
    description = "Uniform palette: channels snapped to even levels (6 levels = web-safe)"
    params = (
        ParamSpec(
            "levels", int, 6, "levels per channel; 6 gives the 216 web-safe colors", min=2, max=16
        ),
    )
    supports_alpha = False

    def quantize(
        self, hist: ColorHistogram, k: int, *, seed: int = 0, levels: int = 6
    ) -> QuantizerOutput:
        for n in range(levels, 0, -1):  # coarser until the colors in use fit in k
            palette, labels = snap(hist.colors, n)
            if len(palette) <= k:
                return QuantizerOutput(palette, labels)
        raise AssertionError("unreachable: one level always fits")  # pragma: no cover
