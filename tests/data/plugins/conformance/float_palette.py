"""A single-file plugin that loads but returns its palette as float64 means (a common slip)."""

import numpy as np

from kmc_tui.registry import Quantizer, QuantizerOutput


class FloatPalette(Quantizer):
    name = "float_palette"
    description = "Splits colors by luma into k groups; forgets to convert means to uint8"

    def quantize(self, hist, k, *, seed=0):
        luma = hist.colors.astype(np.float64) @ [0.299, 0.587, 0.114]
        groups = np.minimum((np.argsort(np.argsort(luma)) * k) // len(luma), k - 1)
        palette = np.array([hist.colors[groups == g].mean(0) for g in np.unique(groups)])
        return QuantizerOutput(palette)
