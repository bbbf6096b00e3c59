"""k-means color quantization: scikit-learn's KMeans over every pixel, in CIELAB or RGB.

Exact: the objective is the one over all pixels. The distinct colors are clustered, each
weighted by its pixel count (``sample_weight``), which is the same objective at a fraction of the
cost (a 12 MP photo has about half a million distinct colors).

Fast because Lloyd's iterations over all distinct colors start close to where they end:

1. The colors are binned on a grid in feature space (cells a few ΔE wide); each occupied cell
   becomes one point at the weighted mean of its colors, with their total weight. For every cell
   whose colors share their nearest center, this is exactly the same objective minus a constant,
   so k-means on the cells lands near a solution of the full problem at a few percent of the
   cost. Up to k=64, three k-means++ starts (from `seed`) get a few Lloyd passes each and only
   the best is run to convergence.
2. scikit-learn's Lloyd then runs on every distinct color, weighted, from those centers, until
   the centers settle (``tol``) or `max_iter`. Labels come from the final assignment step, so
   each color goes to its nearest final center: the objective is the one over all pixels.
"""

from __future__ import annotations

import numpy as np

from kmc_tui.registry import ColorHistogram, ParamSpec, Quantizer, QuantizerOutput
from kmc_tui.stats import srgb8_to_lab

#: Alpha is scaled to this range so a full step of opacity weighs like a full step of lightness.
_ALPHA_SCALE = {"lab": 100.0 / 255.0, "rgb": 1.0}
#: Width of the grid cells of the first stage, in feature units (ΔE76 for lab, levels for rgb).
#: Measured: 36k cells for a 12 MP photo's 0.5 M colors, 7-21k for 0.3 MP photos. At 3.0 the
#: full-data passes started 2-5% above their end (vs 0.5-4% at 2.0) and needed more of them;
#: narrower cells shrink the problem too little to pay.
CELL_WIDTH = {"lab": 2.0, "rgb": 5.0}
#: The grid stage is skipped unless it shrinks the problem at least this much. At 2 (rather
#: than 3) a 16 k-pixel preview (11 k colors, 4 k cells) takes the grid: 29-44% faster at
#: k=64-256 for two of four photos (the others already took it), objective within ±1.3% either
#: way on six photos.
MIN_REDUCTION = 2
#: k-means++ tries (the best is kept; on the cells when there are cells) up to this k: cheap
#: there, and it evens out bad starts, which matter most at small k (full runs from k-means++
#: spread ±3% at k=16, ±0.3% at k=256, where each try costs more).
CELL_TRIES, CELL_TRIES_MAX_K = 3, 64
#: Lloyd passes on the cells after which the tries are compared; only the best goes on. Over
#: 6 photos x 6 seeds the objective was within 0.03-0.08% of comparing them at convergence.
TRY_ITER = 20
#: Most Lloyd passes on the cells.
CELL_MAX_ITER = 300
#: Below this many distance evaluations per iteration (points × k), one thread: OpenMP's
#: start-up and barriers cost more than they save there, and much more on a busy machine.
#: Above it two threads were faster on a quiet machine even for the cells (12 MP, k=64:
#: 0.26 -> 0.17 s).
THREADED_MIN_WORK = 1 << 20
#: Relative tolerance (scikit-learn's meaning) for both stages.
TOL = 1e-4


def to_features(colors: np.ndarray, color_space: str) -> np.ndarray:
    """(n, 3|4) uint8 colors to float32 features in `color_space` (alpha appended, scaled)."""
    rgb = colors[:, :3]
    if color_space == "lab":
        feats = srgb8_to_lab(rgb)  # rgb2lab's formulas, through a 256-entry gamma table
    else:
        feats = rgb.astype(np.float32)
    if colors.shape[1] == 4:
        feats = np.column_stack([feats, colors[:, 3] * np.float32(_ALPHA_SCALE[color_space])])
    return np.ascontiguousarray(feats, dtype=np.float32)


def from_features(feats: np.ndarray, color_space: str) -> np.ndarray:
    """Inverse of :func:`to_features`, rounded and clipped to uint8."""
    if color_space == "lab":
        from skimage.color import lab2rgb

        rgb = lab2rgb(feats[None, :, :3].astype(np.float64))[0] * 255.0
    else:
        rgb = feats[:, :3]
    out = [rgb]
    if feats.shape[1] == 4:
        out.append(feats[:, 3:] / _ALPHA_SCALE[color_space])
    return np.clip(np.round(np.column_stack(out)), 0, 255).astype(np.uint8)


def grid_cells(feats: np.ndarray, weights: np.ndarray, width: float):
    """Bin `feats` on a grid of `width`: each occupied cell's weighted mean and total weight.

    Returns
    -------
    means : (m, d) float32
    cell_weights : (m,) float32
    """
    q = np.floor(feats / np.float32(width)).astype(np.int64)
    q -= q.min(axis=0)
    key = np.ravel_multi_index(tuple(q.T), tuple(q.max(axis=0) + 1))
    _, cell = np.unique(key, return_inverse=True)
    cell = cell.ravel()
    w64 = weights.astype(np.float64)
    totals = np.bincount(cell, weights=w64)
    means = np.empty((len(totals), feats.shape[1]), np.float32)
    for j in range(feats.shape[1]):
        means[:, j] = np.bincount(cell, weights=w64 * feats[:, j]) / totals
    return means, totals.astype(np.float32)


def kmeans_plusplus_init(weights: np.ndarray):
    """scikit-learn's k-means++ as a ``KMeans(init=...)`` callable, weighted by `weights`.

    KMeans hands its own init float32 points, on which scikit-learn's distances take a slower
    upcasting path; in float64 the seeding takes half the time (36 k cells, k=256: 338 ms ->
    157 ms) and picks by the same rule (over 36 runs per k, the same objective on average).
    """
    from sklearn.cluster import kmeans_plusplus

    weights64 = weights.astype(np.float64)

    def init(points, n_clusters, random_state):
        centers, _ = kmeans_plusplus(points.astype(np.float64), n_clusters,
                                     sample_weight=weights64, random_state=random_state)
        return centers.astype(points.dtype)

    return init


def kmeans_palette(feats: np.ndarray, weights: np.ndarray, k: int, *, seed: int,
                   color_space: str, max_iter: int):
    """Weighted k-means of `feats` (n > k): (palette (k, C) uint8, labels (n,))."""
    # Binned before scikit-learn is imported: in the CLI that import is still under way in a
    # background thread, and this work fits in the wait.
    means, cell_weights = grid_cells(feats, weights, CELL_WIDTH[color_space])

    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    use_cells = len(means) >= 2 * k and len(means) * MIN_REDUCTION <= len(feats)
    points, point_weights = (means, cell_weights) if use_cells else (feats, weights)
    init: object = kmeans_plusplus_init(point_weights)
    threads = None if len(points) * k >= THREADED_MIN_WORK else 1
    with threadpool_limits(threads, user_api="openmp"):
        if k <= CELL_TRIES_MAX_K:
            # The tries are compared after a few passes; only the best is run to the end.
            init = KMeans(n_clusters=k, init=init, n_init=CELL_TRIES, max_iter=TRY_ITER,
                          tol=TOL, random_state=seed, algorithm="lloyd",
                          ).fit(points, sample_weight=point_weights).cluster_centers_
        if use_cells:
            coarse = KMeans(n_clusters=k, init=init, n_init=1, max_iter=CELL_MAX_ITER, tol=TOL,
                            random_state=seed, algorithm="lloyd")
            init = coarse.fit(means, sample_weight=cell_weights).cluster_centers_
    model = KMeans(n_clusters=k, init=init, n_init=1, max_iter=max_iter, tol=TOL,
                   random_state=seed, algorithm="lloyd")
    threads = None if len(feats) * k >= THREADED_MIN_WORK else 1
    with threadpool_limits(threads, user_api="openmp"):
        model.fit(feats, sample_weight=weights)
        # The file holds 8-bit colors: assign each color to its nearest *rounded* center, so
        # the objective reported is the one of the image actually written.
        palette = from_features(model.cluster_centers_, color_space)
        model.cluster_centers_ = to_features(palette, color_space)
        labels = model.predict(feats)
    return palette, labels


class KMeansQuantizer(Quantizer):
    """k-means (scikit-learn) over every pixel, weighted distinct colors, in CIELAB or RGB."""

    name = "kmeans"
    description = "Exact k-means over all pixels (scikit-learn), in CIELAB or RGB"
    params = (
        ParamSpec("color_space", str, "lab", "space the distances are measured in",
                  choices=("lab", "rgb")),
        ParamSpec("max_iter", int, 30, "most Lloyd iterations over all distinct colors",
                  min=1, max=10000),
    )
    supports_alpha = True

    @classmethod
    def warm_up(cls) -> None:
        import skimage.color  # noqa: F401 - to and from CIELAB
        import sklearn.cluster  # noqa: F401 - about 1 s: overlaps the decoding
        import threadpoolctl  # noqa: F401

    def quantize(self, hist: ColorHistogram, k: int, *, seed: int = 0,
                 color_space: str = "lab", max_iter: int = 30) -> QuantizerOutput:
        if color_space not in _ALPHA_SCALE:
            raise ValueError(f"color_space must be 'lab' or 'rgb', not {color_space!r}")
        colors, counts = hist.colors, hist.counts
        if len(colors) <= k:
            return QuantizerOutput(colors.copy(), np.arange(len(colors)))
        feats = to_features(colors, color_space)
        palette, labels = kmeans_palette(feats, counts.astype(np.float32), k, seed=seed,
                                         color_space=color_space, max_iter=max_iter)
        return QuantizerOutput(palette, labels)
