"""Evenly spaced gray levels, written as the first plugin docs showed (imports from registry)."""

import numpy as np

from kmc_tui.registry import ColorHistogram, ParamSpec, Quantizer, QuantizerOutput


class GrayLevelsQuantizer(Quantizer):
    name = "oldpaths"
    description = "k evenly spaced gray levels between the darkest and lightest color"
    params = (ParamSpec("spread", float, 1.0, "share of the range covered", min=0.0, max=1.0),)

    def quantize(
        self, hist: ColorHistogram, k: int, *, seed: int = 0, spread: float = 1.0
    ) -> QuantizerOutput:
        luma = hist.colors[:, :3].astype(np.float64) @ [0.299, 0.587, 0.114]
        low, high = luma.min(), luma.max()
        middle, half = (low + high) / 2, (high - low) / 2 * spread
        levels = np.unique(np.round(np.linspace(middle - half, middle + half, k)))
        return QuantizerOutput(np.repeat(levels.astype(np.uint8)[:, None], 3, axis=1))
