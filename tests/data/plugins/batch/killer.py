"""k-means, except that the process running it dies (SIGKILL) on an image of a chosen width.

``--param width=N`` picks the width. With ``--param once=PATH`` it kills only while PATH does
not exist, and creates it first: the process dies once, and a rerun goes through. Parameters
rather than environment variables, so that Dask workers started elsewhere get them too.
"""

import os
import signal

from kmc_kmeans import KMeansQuantizer
from kmc_tui.registry import ParamSpec, Quantizer


class Killer(Quantizer):
    name = "killer"
    description = "k-means that kills its process on one image (tests)"
    params = (
        ParamSpec("width", int, 0, "width of the image to die on"),
        ParamSpec("once", str, "", "die only while this file does not exist"),
    )

    def quantize(self, hist, k, *, seed=0, width=0, once=""):
        if hist.image is not None and hist.image.shape[1] == width:
            if not once:
                os.kill(os.getpid(), signal.SIGKILL)
            elif not os.path.exists(once):
                open(once, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)
        return KMeansQuantizer().quantize(hist, k, seed=seed)
