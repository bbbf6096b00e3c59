"""A plugin that never returns on images of more than 1000 pixels (tests/test_hostile_plugins.py).

It spins in pure Python, so only a timeout can stop waiting for it; small images it quantizes
to their k most common colors, so a batch can show that the next file still works.
"""

import numpy as np

from kmc_tui.registry import Quantizer, QuantizerOutput


class NeverReturnsQuantizer(Quantizer):
    name = "never_returns"
    description = "Spins forever on images of more than 1000 pixels"

    def quantize(self, hist, k, *, seed=0):
        while hist.total > 1000:
            pass
        return QuantizerOutput(hist.colors[np.argsort(-hist.counts)[:k]])
