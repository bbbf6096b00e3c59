"""k-means that writes down, per process, the most threads any OpenMP or BLAS runtime may use.

``--param probe_dir=FOLDER``: one file per process, ``<pid>.txt``, a line per image.
"""

import os

from threadpoolctl import threadpool_info

from kmc_kmeans import KMeansQuantizer
from kmc_tui.registry import ParamSpec, Quantizer


class ThreadProbe(Quantizer):
    name = "threadprobe"
    description = "k-means, recording the thread limits it ran under (tests)"
    params = (ParamSpec("probe_dir", str, "", "folder for the records"),)

    def quantize(self, hist, k, *, seed=0, probe_dir=""):
        result = KMeansQuantizer().quantize(hist, k, seed=seed)
        threads = max(info["num_threads"] for info in threadpool_info())
        with open(os.path.join(probe_dir, f"{os.getpid()}.txt"), "a") as fh:
            fh.write(f"{threads}\n")
        return result
