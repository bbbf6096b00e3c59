"""k-means that prints while it works, and raises (from a helper) on an image of a chosen width.

``--param width=N`` picks the width; a parameter, so worker processes get it too.
"""

from kmc_kmeans import KMeansQuantizer
from kmc_tui.plugin_api import ParamSpec, Quantizer


def refuse(width):
    raise ZeroDivisionError(f"picky divided by zero on width {width}")


class Picky(Quantizer):
    name = "picky"
    description = "k-means that prints, and raises on one image (tests)"
    params = (ParamSpec("width", int, 0, "width of the image to raise on"),)

    def quantize(self, hist, k, *, seed=0, width=0):
        print("picky is looking")
        if hist.image is not None and hist.image.shape[1] == width:
            refuse(width)
        return KMeansQuantizer().quantize(hist, k, seed=seed)
