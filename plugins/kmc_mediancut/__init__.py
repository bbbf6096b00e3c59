"""Fast palette quantizers from Pillow's ``Image.quantize``: median cut, maximum coverage, octree.

Two plugins live here:

``mediancut``
    Median cut (or maximum coverage) over RGB. Pillow allows only the octree method on RGBA
    images, so this one declares ``supports_alpha = False`` and the core handles transparency.
``octree``
    Pillow's fast octree, which quantizes RGBA colors itself (``supports_alpha = True``).

Both are deterministic (no random state; ``seed`` is accepted and ignored) and return only a
palette: the core maps every color to its nearest entry. Pillow's quantizer is one C call that
cannot be interrupted: ``should_stop`` is polled before it and before the palette is read.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kmc_tui.plugin_api import Cancelled, ColorHistogram, ParamSpec, Quantizer, QuantizerOutput

#: Pillow's quantizer builds at most this many colors.
PILLOW_MAX_COLORS = 256
#: Without the pixels, the histogram is expanded to about this many pixels at most (counts are
#: scaled down proportionally beyond it, each color keeping at least one pixel).
MAX_EXPANDED_PIXELS = 1 << 24

_KMEANS_PARAM = ParamSpec(
    "kmeans", int, 0, "k-means refinement passes over Pillow's palette (0: none)", min=0, max=100
)


def pixels_for_pillow(hist: ColorHistogram) -> np.ndarray:
    """An (H, W, C) uint8 image with the histogram's colors at (about) their pixel counts.

    Pillow quantizes images, not histograms. The core usually hands the pixels over; when it
    does not, the distinct colors are repeated by their counts, which is the same histogram.
    """
    if hist.image is not None and hist.image.shape[-1] == hist.channels:
        return np.ascontiguousarray(hist.image)
    counts = hist.counts
    total = int(counts.sum())
    if total > MAX_EXPANDED_PIXELS:
        counts = np.maximum(1, (counts * (MAX_EXPANDED_PIXELS / total)).astype(np.int64))
    return np.repeat(hist.colors, counts, axis=0)[:, None, :]


def _poll(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled("cancelled")


def _palette(quantized, channels: int) -> np.ndarray:
    mode = "RGBA" if channels == 4 else "RGB"
    entries = np.asarray(quantized.getpalette(mode), dtype=np.uint8).reshape(-1, channels)
    return np.ascontiguousarray(entries)


class MedianCutQuantizer(Quantizer):
    """Median cut (Heckbert) or maximum coverage, in Pillow's C code; fast, RGB only."""

    name = "mediancut"
    description = "Fast median cut or maximum coverage over RGB (Pillow)"
    params = (
        ParamSpec(
            "method",
            str,
            "mediancut",
            "how Pillow splits the color space",
            choices=("mediancut", "maxcoverage"),
        ),
        _KMEANS_PARAM,
    )
    supports_alpha = False

    def quantize(
        self,
        hist: ColorHistogram,
        k: int,
        *,
        seed: int = 0,
        method: str = "mediancut",
        kmeans: int = 0,
        should_stop: Callable[[], bool] | None = None,
    ) -> QuantizerOutput:
        from PIL import Image

        methods = {"mediancut": Image.Quantize.MEDIANCUT, "maxcoverage": Image.Quantize.MAXCOVERAGE}
        if method not in methods:
            raise ValueError(f"method must be one of {', '.join(methods)}; got {method!r}")
        pixels = pixels_for_pillow(hist)
        _poll(should_stop)
        quantized = Image.fromarray(np.ascontiguousarray(pixels[..., :3])).quantize(
            min(k, PILLOW_MAX_COLORS), method=methods[method], kmeans=kmeans
        )
        _poll(should_stop)
        return QuantizerOutput(_palette(quantized, 3))


class OctreeQuantizer(Quantizer):
    """Pillow's fast octree; quantizes transparency along with color."""

    name = "octree"
    description = "Fast octree over RGB or RGBA, transparency included (Pillow)"
    params = (_KMEANS_PARAM,)
    supports_alpha = True

    def quantize(
        self,
        hist: ColorHistogram,
        k: int,
        *,
        seed: int = 0,
        kmeans: int = 0,
        should_stop: Callable[[], bool] | None = None,
    ) -> QuantizerOutput:
        from PIL import Image

        pixels = pixels_for_pillow(hist)
        _poll(should_stop)
        # (H, W, 4) arrays become RGBA images, (H, W, 3) RGB.
        quantized = Image.fromarray(pixels).quantize(
            min(k, PILLOW_MAX_COLORS), method=Image.Quantize.FASTOCTREE, kmeans=kmeans
        )
        _poll(should_stop)
        return QuantizerOutput(_palette(quantized, hist.channels))
