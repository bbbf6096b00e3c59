"""A plugin that returns a palette of the wrong shape (tests/test_hostile_plugins.py)."""

import numpy as np

from kmc_tui.registry import Quantizer, QuantizerOutput


class WrongShapeQuantizer(Quantizer):
    name = "wrong_shape"
    description = "Returns k+1 colors of five channels each"

    def quantize(self, hist, k, *, seed=0):
        return QuantizerOutput(np.zeros((k + 1, 5), np.uint8))
