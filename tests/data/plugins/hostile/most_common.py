"""A well-behaved plugin living next to the hostile ones (tests/test_hostile_plugins.py)."""

import numpy as np

from kmc_tui.registry import Quantizer, QuantizerOutput


class MostCommonQuantizer(Quantizer):
    name = "most_common"
    description = "The k most common colors"

    def quantize(self, hist, k, *, seed=0):
        return QuantizerOutput(hist.colors[np.argsort(-hist.counts)[:k]])
