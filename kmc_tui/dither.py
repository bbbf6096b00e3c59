"""Floyd–Steinberg error diffusion onto a fixed palette, at any strength, from 8- or 16-bit colors.

Each pixel takes the error of its left, upper-left, upper and upper-right neighbours, so all
pixels with the same ``x + 2 y`` can be computed at once: the image is swept in ``W + 2 H``
vectorised steps instead of ``W x H`` scalar ones.
"""

from __future__ import annotations

import numpy as np

#: Floyd–Steinberg weights, as (dy, dx, weight) of the neighbour a pixel takes error from.
_TAKES_FROM = ((0, -1, 7 / 16), (-1, -1, 1 / 16), (-1, 0, 5 / 16), (-1, 1, 3 / 16))


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
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in 0..1; got {strength}")
    if colors.dtype == np.uint16:
        source = colors.astype(np.float32) * np.float32(255.0 / 65535.0)
    else:
        source = colors.astype(np.float32)
    height, width = source.shape[:2]
    pal = np.asarray(palette, np.float32)
    pal_sq = (pal * pal).sum(1)
    # The error of the last three steps, indexed by y + 1 (row 0 stays zero: above the image).
    # A pixel (y, x) of step t takes from (y, x-1) and (y-1, x+1) of step t-1, (y-1, x) of
    # step t-2 and (y-1, x-1) of step t-3.
    ring = np.zeros((4, height + 1, 3), np.float32)
    indices = np.zeros((height, width), np.intp)
    weight = np.float32(strength)
    y_all = np.arange(height)
    w_left, w_up_left, w_up, w_up_right = (np.float32(w) for w in (7 / 16, 1 / 16, 5 / 16, 3 / 16))
    for step in range(width + 2 * (height - 1)):
        y0, y1 = max(0, (step - width + 2) // 2), min(height - 1, step // 2) + 1
        ys = y_all[y0:y1]
        xs = step - 2 * ys
        last, before, third = ring[(step - 1) % 4], ring[(step - 2) % 4], ring[(step - 3) % 4]
        value = source[ys, xs]
        # (y, x-1) exists only when x > 0, (y-1, x+1) only when x + 1 < width: the ring's rows
        # for those are zero or hold this step's own pixels' neighbours, so mask by position.
        left = np.where((xs > 0)[:, None], last[y0 + 1 : y1 + 1], 0.0)
        up_right = np.where((xs + 1 < width)[:, None], last[y0:y1], 0.0)
        up_left = np.where((xs > 0)[:, None], third[y0:y1], 0.0)
        value += w_left * left + w_up_left * up_left + w_up * before[y0:y1] + w_up_right * up_right
        np.clip(value, 0.0, 255.0, out=value)
        nearest = (pal_sq[None, :] - 2.0 * value @ pal.T).argmin(1)
        residual = (value - pal[nearest]) * weight
        if where is not None:
            keep = where[ys, xs]
            residual[~keep] = 0.0
            nearest[~keep] = 0
        indices[ys, xs] = nearest
        current = ring[step % 4]
        current[:] = 0.0
        current[y0 + 1 : y1 + 1] = residual
    return indices
