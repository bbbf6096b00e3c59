"""Floyd–Steinberg error diffusion onto a fixed palette, at any strength, from 8- or 16-bit colors.

Each pixel takes the error of its left, upper-left, upper and upper-right neighbours, so all
pixels with the same ``x + 2 y`` can be computed at once: the image is swept in ``W + 2 H``
vectorised steps instead of ``W x H`` scalar ones. A step's pixels lie at a fixed stride in the
flattened image (plain slices), only the errors of the last four steps are kept, and each
value's nearest entry is read from a table filled as new colors are met, so a step costs the
same few numpy calls whatever the size of the palette.
"""

from __future__ import annotations

import numpy as np


class NearestEntry:
    """The nearest palette entry of 8-bit colors, computed once per color and remembered.

    Colors are given as (n, 4) uint8 rows ``r, g, b, 1`` and looked up by the little-endian
    32-bit code of that row. :attr:`table` holds ``1 + entry`` at each code, 0 until computed
    (a zeroed table costs memory only where it is written). Distances are squared RGB
    distances, exact in float32 for whole levels; ties go to the lowest index.
    """

    def __init__(self, palette: np.ndarray):
        palette = np.asarray(palette, np.float32)
        if not 1 <= len(palette) <= 32767:
            raise ValueError(f"1 to 32767 palette entries; got {len(palette)}")
        #: Row 0 stands for "not computed yet"; entry i is row i + 1.
        self.shifted = np.vstack([np.zeros((1, 3), np.float32), palette])
        # ``rgb1 @ self._score`` is |entry|^2 - 2 rgb . entry per entry: the squared distance
        # less |rgb|^2, lowest at the nearest; column 0 (row 0 above) can never win.
        self._score = np.empty((4, len(palette) + 1), np.float32)
        self._score[:3, 1:] = -2.0 * palette.T
        self._score[3, 1:] = (palette * palette).sum(1)
        self._score[:, 0] = (0.0, 0.0, 0.0, np.float32(1e30))
        self.table = np.zeros(1 << 25, np.int16)

    def fill(self, codes: np.ndarray, rgb1: np.ndarray) -> np.ndarray:
        """Compute, remember and return ``1 + entry`` of the colors `rgb1` (their `codes`)."""
        found = (rgb1.astype(np.float32) @ self._score).argmin(1)
        self.table[codes] = found
        return found


def error_diffusion(
    colors: np.ndarray,
    palette: np.ndarray,
    *,
    strength: float = 1.0,
    where: np.ndarray | None = None,
) -> np.ndarray:
    """Indices into `palette` of each pixel of `colors`, with the error diffused.

    Parameters
    ----------
    colors : ndarray, shape (H, W, 3)
        uint8 (0..255) or uint16 (0..65535) colors, or float on the 0..255 scale.
    palette : ndarray of uint8, shape (m, 3)
    strength : float, keyword-only
        Share of each pixel's error passed on, 0..1 (1 is classic Floyd–Steinberg, 0 is plain
        nearest-color mapping).
    where : ndarray of bool, shape (H, W), optional
        Pixels to dither; the others neither take nor pass on error (their index is 0).

    Returns
    -------
    ndarray of intp, shape (H, W)

    Notes
    -----
    A pixel's value is its color plus the error it takes, clipped to 0..255; it goes to the
    entry nearest to the value rounded to whole levels (halves up), and passes on the exact
    difference between the value and that entry.
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in 0..1; got {strength}")
    from threadpoolctl import threadpool_limits

    # Each step's few thousand nearest-entry products are too small for BLAS threads: on a
    # busy machine they made the whole sweep three times slower (docs/performance.md).
    with threadpool_limits(limits=1, user_api="blas"):
        return _sweep(colors, palette, strength, where)


def _sweep(colors, palette, strength, where) -> np.ndarray:
    height, width = colors.shape[:2]
    scale = np.float32(255.0 / 65535.0) if colors.dtype == np.uint16 else None
    source = np.ascontiguousarray(colors).reshape(-1, 3)
    keep = None if where is None else np.ascontiguousarray(where, bool).reshape(-1)
    nearest = NearestEntry(palette)
    table, shifted = nearest.table, nearest.shifted
    out = np.zeros(height * width, np.int16)
    # errors[i, c, s] is channel c of an error made at a step t with t % 4 == s % 4: for
    # s < 4, of row i - 1 (what row i takes from above), for s >= 4 of row i (from its left).
    # A step's weights sit on the slots of the steps its neighbours were computed in.
    errors = np.zeros((height + 1, 3, 8), np.float32)
    weights = np.zeros((4, 8), np.float32)
    for now in range(4):
        weights[now, [(now - 3) % 4, (now - 2) % 4, (now - 1) % 4]] = (1 / 16, 5 / 16, 3 / 16)
        weights[now, 4 + (now - 1) % 4] = 7 / 16
    weights *= np.float32(strength)
    value = np.empty((height, 3), np.float32)
    half_up = np.empty((height, 3), np.float32)
    chosen = np.empty((height, 3), np.float32)
    rgb1 = np.ones((height, 4), np.uint8)  # each row r, g, b, 1
    codes = rgb1.view("<u4").reshape(-1)
    # Step t holds the pixels (y, t - 2 y); in the flattened image they are W - 2 apart.
    stride = max(width - 2, 1)
    for step in range(width + 2 * (height - 1)):
        y0, y1 = max(0, (step - width + 2) // 2), min(height - 1, step // 2) + 1
        n = y1 - y0
        if n <= 0:  # a one-column image has pixels on even steps only
            continue
        first = y0 * width + step - 2 * y0
        pixels = slice(first, first + (n - 1) * stride + 1, stride)
        now = step % 4
        v = value[:n]
        if scale is None:
            v[:] = source[pixels]
        else:
            np.multiply(source[pixels], scale, out=v)
        v += (errors[y0:y1].reshape(3 * n, 8) @ weights[now]).reshape(n, 3)
        np.maximum(v, 0.0, out=v)
        np.minimum(v, 255.0, out=v)
        np.add(v, 0.5, out=half_up[:n])
        rgb1[:n, :3] = half_up[:n]  # truncated: v rounded, halves up
        code = codes[:n]
        entry = table[code]
        if np.minimum.reduce(entry) == 0:
            missing = entry == 0
            entry[missing] = nearest.fill(code[missing], rgb1[:n][missing])
        residual = chosen[:n]
        shifted.take(entry, axis=0, out=residual)
        np.subtract(v, residual, out=residual)
        if keep is not None:
            skip = ~keep[pixels]
            residual[skip] = 0.0
            entry[skip] = 1
        # Rows that have left the sweep still hold this slot's errors of four steps ago.
        errors[max(0, y0 - 2) + 1 : y0 + 1, :, now] = 0.0
        errors[y0 + 1 : y1 + 1, :, now] = residual
        errors[y0:y1, :, 4 + now] = residual
        out[pixels] = entry
    return (out.reshape(height, width) - 1).astype(np.intp)
