"""A quantizer that never returns for images of more than 16 colors (tests --timeout).

It spins in pure Python (holding the GIL whenever it can) and first starts a non-daemon
thread that never ends either, which would keep a normal interpreter exit waiting forever.
"""

import threading
import time

from kmc_tui.registry import ParamSpec, Quantizer


class HangingQuantizer(Quantizer):
    name = "hang"
    description = "Never finishes (a test plugin)"
    params = (ParamSpec("spin", bool, True, "busy-wait instead of sleeping"),)

    def quantize(self, hist, k, *, seed=0, spin=True):
        threading.Thread(target=lambda: time.sleep(10**6), daemon=False).start()
        while True:
            if not spin:
                time.sleep(0.01)
