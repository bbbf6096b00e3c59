"""k-means that writes down, per process, how many threads OpenMP and BLAS may use."""

import os

from threadpoolctl import threadpool_info

from kmc_kmeans import KMeansQuantizer
from kmc_tui.registry import Quantizer


class ThreadProbe(Quantizer):
    name = "threadprobe"
    description = "k-means, recording the thread limits it ran under (tests)"

    def quantize(self, hist, k, *, seed=0):
        result = KMeansQuantizer().quantize(hist, k, seed=seed)
        threads = max(info["num_threads"] for info in threadpool_info())
        folder = os.environ["KMC_TEST_PROBE_DIR"]
        with open(os.path.join(folder, f"{os.getpid()}.txt"), "a") as fh:
            fh.write(f"{threads}\n")
        return result
