"""A plugin that never returns on images of more than 1000 pixels (tests/test_hostile_plugins.py).

It spins in pure Python, so only a timeout can stop waiting for it; small images it quantizes
to their k most common colors, so a batch can show that the next file still works. A test that
runs it in the test process itself sets RELEASE when done: the thread the timeout abandoned
would otherwise spin, holding the GIL, through every later test of that process.
"""

import threading

import numpy as np

from kmc_tui.registry import Quantizer, QuantizerOutput


RELEASE = threading.Event()


class NeverReturnsQuantizer(Quantizer):
    name = "never_returns"
    description = "Spins forever on images of more than 1000 pixels"

    def quantize(self, hist, k, *, seed=0):
        while hist.total > 1000 and not RELEASE.is_set():
            pass
        return QuantizerOutput(hist.colors[np.argsort(-hist.counts)[:k]])
