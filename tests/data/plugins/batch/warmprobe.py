"""k-means that writes down which process warmed it up and which computed each image.

Lines go to ``$KMC_TEST_PROBE_LOG``: ``warm <pid>`` from ``warm_up``, ``file <pid>`` per image.
"""

import os

from kmc_kmeans import KMeansQuantizer
from kmc_tui.plugin_api import Quantizer


def note(what: str) -> None:
    with open(os.environ["KMC_TEST_PROBE_LOG"], "a") as fh:
        fh.write(f"{what} {os.getpid()}\n")


class WarmProbe(Quantizer):
    name = "warmprobe"
    description = "k-means, recording where it is warmed up and where it runs (tests)"

    @classmethod
    def warm_up(cls):
        KMeansQuantizer.warm_up()
        note("warm")

    def quantize(self, hist, k, *, seed=0):
        note("file")
        return KMeansQuantizer().quantize(hist, k, seed=seed)
