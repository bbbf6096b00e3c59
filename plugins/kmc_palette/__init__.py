"""Map an image onto a given palette: pngquant's ``--map``, GIMP's "use custom palette".

``--plugin palette --param file=brand.gpl`` takes the palette from a palette file (``.gpl``,
``.act``, ``.hex``, ``.json``, a PNG strip) or from an image's colors. Each color goes to its
nearest entry (in CIELAB by default); with ``--dither`` the core dithers onto the entries in use.
When the palette has more entries than k, the k that the most pixels map to are kept.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from kmc_tui.plugin_api import ColorHistogram, ParamSpec, Quantizer, QuantizerOutput

_CACHE: dict[tuple, object] = {}
_CACHE_LOCK = threading.Lock()


def load_palette(file: str):
    """The palette in `file`, read once per file version (path, size, modification time)."""
    from kmc_tui.errors import ParameterError
    from kmc_tui.palettes import read_palette

    if not file:
        raise ParameterError("the palette plugin needs --param file=PALETTE (a palette or image)")
    try:
        st = os.stat(file)
        key = (os.path.abspath(file), st.st_size, st.st_mtime_ns)
    except OSError:
        key = None  # read_palette says what is wrong
    with _CACHE_LOCK:
        if key is not None and key in _CACHE:
            return _CACHE[key]
    palette = read_palette(file)
    if key is not None:
        with _CACHE_LOCK:
            _CACHE.clear()  # one palette at a time is what a session uses
            _CACHE[key] = palette
    return palette


def nearest_entries(colors: np.ndarray, entries: np.ndarray, distance: str) -> np.ndarray:
    """Index of the nearest entry for each color, in CIELAB or RGB; chunked to bound memory."""
    if distance == "lab":
        from kmc_tui.stats import srgb8_to_lab

        a, b = srgb8_to_lab(colors), srgb8_to_lab(entries)
    else:
        a, b = colors.astype(np.float32), entries.astype(np.float32)
    b_sq = (b * b).sum(1)
    out = np.empty(len(a), np.intp)
    step = max(1, (1 << 22) // max(1, len(b)))
    for start in range(0, len(a), step):
        chunk = a[start : start + step]
        out[start : start + step] = (b_sq[None, :] - 2.0 * chunk @ b.T).argmin(1)
    return out


class PaletteQuantizer(Quantizer):
    """Every color to its nearest entry of a fixed palette."""

    name = "palette"
    description = (
        "Map onto a given palette (.gpl .act .hex .json, a PNG strip, or an image's colors)"
    )
    params = (
        ParamSpec("file", str, "", "palette file, or an image whose colors are the palette"),
        ParamSpec(
            "distance",
            str,
            "lab",
            "how nearest is measured: lab (perceptual) or rgb",
            choices=("lab", "rgb"),
        ),
    )
    #: The core keeps the entries exactly as given (no gray snapping, no shortcut to the
    #: image's own colors when it has fewer than k).
    fixed_palette = True

    def quantize(
        self,
        hist: ColorHistogram,
        k: int,
        *,
        seed: int = 0,
        file: str = "",
        distance: str = "lab",
    ) -> QuantizerOutput:
        entries = load_palette(file).colors
        labels = nearest_entries(hist.colors[:, :3], entries, distance)
        if len(entries) > k:
            # Keep the k entries the most pixels use, then map again onto those alone.
            use = np.bincount(labels, weights=hist.counts, minlength=len(entries))
            keep = np.sort(np.argsort(-use, kind="stable")[:k])
            entries = entries[keep]
            labels = nearest_entries(hist.colors[:, :3], entries, distance)
        return QuantizerOutput(np.ascontiguousarray(entries), labels)
