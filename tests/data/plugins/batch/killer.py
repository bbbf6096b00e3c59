"""k-means, except that the process running it dies (SIGKILL) on an image of a chosen width.

KMC_TEST_KILL_WIDTH picks the width. With KMC_TEST_KILL_ONCE (a path) it kills only while that
file does not exist, and creates it first: the process dies once, a rerun goes through.
"""

import os
import signal

from kmc_kmeans import KMeansQuantizer
from kmc_tui.registry import Quantizer


class Killer(Quantizer):
    name = "killer"
    description = "k-means that kills its process on one image (tests)"

    def quantize(self, hist, k, *, seed=0):
        width = int(os.environ.get("KMC_TEST_KILL_WIDTH", "0"))
        if hist.image is not None and hist.image.shape[1] == width:
            once = os.environ.get("KMC_TEST_KILL_ONCE")
            if once is None:
                os.kill(os.getpid(), signal.SIGKILL)
            elif not os.path.exists(once):
                open(once, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)
        return KMeansQuantizer().quantize(hist, k, seed=seed)
