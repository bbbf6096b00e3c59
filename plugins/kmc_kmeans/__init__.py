"""k-means color quantization: scikit-learn's KMeans over every pixel, in CIELAB, Oklab or RGB.

Exact: the objective is the one over all pixels. The distinct colors are clustered, each
weighted by its pixel count (``sample_weight``), which is the same objective at a fraction of the
cost (a 12 MP photo has about half a million distinct colors).

Fast because Lloyd's iterations over all distinct colors start close to where they end:

1. The colors are binned on a grid in feature space (cells a few ΔE wide); each occupied cell
   becomes one point at the weighted mean of its colors, with their total weight. For every cell
   whose colors share their nearest center, this is exactly the same objective minus a constant,
   so k-means on the cells lands near a solution of the full problem at a few percent of the
   cost. Up to k=64, several k-means++ starts (from `seed`; six up to k=16, three up to 64) get
   a few Lloyd passes each and only the best is run to convergence.
2. Lloyd then runs on every distinct color, weighted, from those centers, until the centers
   settle (``tol``) or `max_iter` passes. Labels come from a final assignment step, so each
   color goes to its nearest final center: the objective is the one over all pixels.

Both stages take over-relaxed Lloyd steps (:class:`RelaxedLloyd`): a step goes RELAX times as
far as Lloyd's, and is kept only when it lowers the objective. Lloyd's slow tail of ever-smaller
moves is where the passes went; this reaches the same objective in about half of them. Each
pass finds every point's nearest center with scikit-learn's compiled, multi-threaded pass; the
new centers and the objective come from float64 bincounts over those labels, in one fixed
order, so the bytes written do not depend on the number of threads.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import sys
import threading
import types
from collections.abc import Callable

import numpy as np

from kmc_tui.errors import Cancelled
from kmc_tui.plugin_api import ColorHistogram, ParamSpec, Quantizer, QuantizerOutput
from kmc_tui.stats import srgb8_linear, srgb8_to_lab, srgb_from_linear

#: The one declaration of the color spaces: quantize() checks its argument against it too.
COLOR_SPACE = ParamSpec(
    "color_space",
    str,
    "lab",
    "space the distances are measured in",
    choices=("lab", "rgb", "oklab"),
)
#: Alpha is scaled to this range so a full step of opacity weighs like a full step of lightness.
_ALPHA_SCALE = {"lab": 100.0 / 255.0, "oklab": 1.0 / 255.0, "rgb": 1.0}
#: Width of the grid cells of the first stage, in feature units (ΔE76 for lab, ΔEOK for oklab,
#: levels for rgb): wider cells start the full passes further from their end, narrower ones
#: shrink too little. The measurements behind this and the constants below: docs/performance.md,
#: "How the k-means plugin does less work".
CELL_WIDTH = {"lab": 2.0, "oklab": 0.01, "rgb": 5.0}
#: A cell holding more squared error than this share of one cluster's expected error is binned
#: again at half the width, up to REFINE_DEPTH times: at large k, dense regions (a dark sky)
#: need cells as fine as their clusters, or too few centers end up there.
REFINE = 0.01
REFINE_DEPTH = 2
#: The grid stage is skipped unless it shrinks the problem at least this much.
MIN_REDUCTION = 2
#: k-means++ tries by k, as (up to this k, this many tries); the best is kept. Bad starts cost
#: most at small k, where tries are cheapest.
CELL_TRIES = ((16, 6), (64, 3))
#: Lloyd passes on the cells after which the tries are compared; only the best goes on.
TRY_ITER = 20
#: Most Lloyd passes on the cells.
CELL_MAX_ITER = 300
#: Below this many distance evaluations per pass (points × k), one thread: OpenMP's start-up
#: and barriers cost more than they save there.
THREADED_MIN_WORK = 1 << 20
#: Relative tolerance (scikit-learn's meaning) for both stages.
TOL = 1e-4
#: The stage over all distinct colors also stops once an accepted step lowers the objective by
#: less than this share of it: what further passes gain there is below the noise of k-means'
#: local optima.
OBJECTIVE_TOL = 1e-4
#: Over-relaxation of the Lloyd steps (see RelaxedLloyd): larger overshoots as far as it gains.
RELAX = 1.8


# Björn Ottosson's Oklab (2020): linear sRGB -> cone responses (LMS), cube root -> Lab.
_LMS_FROM_LINEAR = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
_OKLAB_FROM_LMS = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)
#: sRGB 8-bit level -> linear light times each LMS row: (3, 256, 3) float32.
_LMS_TABLES: np.ndarray | None = None


def srgb8_to_oklab(colors: np.ndarray) -> np.ndarray:
    """(n, 3) uint8 sRGB colors to (n, 3) float32 Oklab (L from 0 to 1).

    The gamma curve is read from a 256-entry table, as in ``srgb8_to_lab``.
    """
    global _LMS_TABLES
    if _LMS_TABLES is None:
        linear = srgb8_linear()
        _LMS_TABLES = np.stack([linear[:, None] * _LMS_FROM_LINEAR[:, j] for j in range(3)]).astype(
            np.float32
        )
    t = _LMS_TABLES
    lms = t[0][colors[:, 0]] + t[1][colors[:, 1]] + t[2][colors[:, 2]]
    return np.cbrt(lms) @ _OKLAB_FROM_LMS.T.astype(np.float32)


def oklab_to_srgb(oklab: np.ndarray) -> np.ndarray:
    """(n, 3) Oklab to (n, 3) float64 sRGB in 0..1, clipped to the gamut in linear light."""
    lms = (np.asarray(oklab, np.float64) @ np.linalg.inv(_OKLAB_FROM_LMS).T) ** 3
    return srgb_from_linear(lms @ np.linalg.inv(_LMS_FROM_LINEAR).T)


def to_features(colors: np.ndarray, color_space: str) -> np.ndarray:
    """(n, 3|4) uint8 colors to float32 features in `color_space` (alpha appended, scaled)."""
    rgb = colors[:, :3]
    if color_space == "lab":
        feats = srgb8_to_lab(rgb)  # rgb2lab's formulas, through a 256-entry gamma table
    elif color_space == "oklab":
        feats = srgb8_to_oklab(rgb)
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
    elif color_space == "oklab":
        rgb = oklab_to_srgb(feats[:, :3]) * 255.0
    else:
        rgb = feats[:, :3]
    out = [rgb]
    if feats.shape[1] == 4:
        out.append(feats[:, 3:] / _ALPHA_SCALE[color_space])
    return np.clip(np.round(np.column_stack(out)), 0, 255).astype(np.uint8)


def grid_cells(
    feats: np.ndarray,
    weights: np.ndarray,
    width: float,
    *,
    split_above: float = np.inf,
    depth: int = REFINE_DEPTH,
):
    """Bin `feats` on a grid of `width`: each occupied cell's weighted mean and total weight.

    A cell whose squared error about its mean (weighted) exceeds `split_above` is binned again
    at half the width, at most `depth` times.

    Returns
    -------
    means : (m, d) float32
    cell_weights : (m,) float32
    """
    fine = np.floor(feats / np.float32(width / (1 << depth))).astype(np.int64)
    w64 = weights.astype(np.float64)
    f64 = feats.astype(np.float64)
    # Per color: weight, weighted coordinates, weighted squared norm; one row each.
    moments = np.empty((f64.shape[1] + 2, len(f64)))
    moments[0] = w64
    np.multiply(f64.T, w64, out=moments[1:-1])
    np.multiply(np.einsum("ij,ij->i", f64, f64), w64, out=moments[-1])
    members = None  # all colors
    means, totals = [], []
    for shift in range(depth, -1, -1):
        q = (fine if members is None else fine[members]) >> shift
        q -= q.min(axis=0)
        dims = tuple(int(n) for n in q.max(axis=0) + 1)
        key = np.ravel_multi_index(tuple(q.T), dims)
        cell = _rank(key, math.prod(dims))
        rows = moments if members is None else moments[:, members]
        total = np.bincount(cell, weights=rows[0])
        sums = np.stack([np.bincount(cell, weights=row) for row in rows[1:-1]], 1)
        split = np.zeros(len(total), bool)
        if shift and np.isfinite(split_above):
            squares = np.bincount(cell, weights=rows[-1])
            split = squares - np.einsum("ij,ij->i", sums, sums) / total > split_above
        means.append(sums[~split] / total[~split, None])
        totals.append(total[~split])
        inside = np.flatnonzero(split[cell])
        members = inside if members is None else members[inside]
        if not len(members):
            break
    return np.concatenate(means).astype(np.float32), np.concatenate(totals).astype(np.float32)


def _rank(key: np.ndarray, size: int) -> np.ndarray:
    """Each key's rank among the distinct keys (np.unique's inverse), keys in 0..size-1.

    Over a small range a table of the occupied keys does it without np.unique's sort.
    """
    if size > 8 * len(key) + (1 << 16):
        return np.unique(key, return_inverse=True)[1].ravel()
    occupied = np.zeros(size, bool)
    occupied[key] = True
    return (np.cumsum(occupied) - 1)[key]


def split_threshold(feats: np.ndarray, weights: np.ndarray, k: int) -> float:
    """Squared error above which a cell is refined: REFINE of a cluster's expected share at k.

    A k-means error falls about as k**(-2/d) in d dimensions (Gersho 1979): the share of one
    cluster out of the error of a single color for everything.
    """
    f64 = feats.astype(np.float64)
    w64 = weights.astype(np.float64)
    spread = f64 - (w64 @ f64) / w64.sum()
    total = float(w64 @ np.einsum("ij,ij->i", spread, spread))
    return REFINE * total * k ** (-1.0 - 2.0 / feats.shape[1])


class _DeferredModule(types.ModuleType):
    """A module in sys.modules whose code runs at the first use of one of its public names."""

    _lock = threading.RLock()

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        with _DeferredModule._lock:
            if type(self) is _DeferredModule:
                self.__class__ = types.ModuleType
                self.__spec__.loader.exec_module(self)
        return getattr(self, name)


def _defer(name: str) -> None:
    """Register module `name` without running its code (unless it is imported already)."""
    if name not in sys.modules:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            module.__class__ = _DeferredModule
            sys.modules.setdefault(name, module)


@functools.lru_cache(maxsize=1)
def lloyd_kernels():
    """scikit-learn's compiled nearest-center pass and thread count, or None if unusable.

    They are private to scikit-learn (the same since 1.0). Should a release move or change them,
    the plugin falls back to plain ``KMeans.fit``: the same kind of result in more passes.
    """
    try:
        # The kernels need neither scipy.stats (scikit-learn imports it on start-up) nor the
        # estimators sklearn.cluster's __init__ imports: both run only if something uses them.
        _defer("scipy.stats")
        _defer("sklearn.cluster")
        from sklearn.cluster._k_means_lloyd import lloyd_iter_chunked_dense
        from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

        # Tried once on a tiny problem, so that a changed signature also means "fall back".
        points, weights = np.eye(2, 3, dtype=np.float32), np.ones(2, np.float32)
        labels = np.empty(2, np.int32)
        lloyd_iter_chunked_dense(
            points,
            weights,
            points.copy(),
            np.empty_like(points),
            np.empty(2, np.float32),
            labels,
            np.empty(2, np.float32),
            1,
            False,
        )
        if labels.tolist() != [0, 1]:
            return None
        _openmp_effective_n_threads()
    except (ImportError, TypeError, ValueError):
        return None
    return lloyd_iter_chunked_dense, _openmp_effective_n_threads


def kmeans_plusplus(
    points: np.ndarray, weights: np.ndarray, k: int, random_state: np.random.RandomState
) -> np.ndarray:
    """Weighted greedy k-means++ centers of `points` (n, d), as float32.

    scikit-learn's ``kmeans_plusplus`` (Arthur and Vassilvitskii 2007, with 2 + log k local
    trials per center) drawing the same random numbers; here so that seeding does not import
    sklearn.cluster's estimators. Float64, as the choice between trials compares sums.
    """
    x = np.asarray(points, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    n = len(x)
    trials = 2 + int(np.log(k))
    centers = np.empty((k, x.shape[1]), np.float64)
    first = random_state.choice(n, p=w / w.sum())
    centers[0] = x[first]
    closest = ((x - x[first]) ** 2).sum(1)
    potential = float(np.einsum("i,i->", closest, w))
    columns = np.ascontiguousarray(x.T)
    distances, diff = np.empty((trials, n)), np.empty((trials, n))
    for c in range(1, k):
        draws = random_state.uniform(size=trials) * potential
        candidates = np.minimum(np.searchsorted(np.cumsum(w * closest), draws), n - 1)
        # Coordinate by coordinate and sums by einsum rather than BLAS: a threaded BLAS sums
        # in an order that depends on its thread count, and the output must not.
        for j, coordinate in enumerate(columns):
            np.subtract(coordinate, x[candidates, j, None], out=diff)
            diff *= diff
            if j:
                distances += diff
            else:
                distances, diff = diff, distances
        np.minimum(distances, closest, out=distances)
        potentials = np.einsum("ij,j->i", distances, w)
        best = int(np.argmin(potentials))
        closest, potential = distances[best].copy(), float(potentials[best])
        centers[c] = x[candidates[best]]
    return centers.astype(np.float32)


class RelaxedLloyd:
    """Weighted Lloyd iterations on fixed points, over-relaxed with a safeguard.

    Each step tries ``c + RELAX * (lloyd(c) - c)`` and keeps it when its objective is lower
    than that of ``c``; otherwise it takes Lloyd's own step, which never raises the objective.
    Convergence is scikit-learn's: the centers' squared moves, summed, fall to `tol` times the
    mean variance of the points, or `max_iter` passes over the points were made.

    Parameters
    ----------
    points : (n, d) array, converted to float32
    weights : (n,) array, converted to float32
        Pixel counts: the objective is ``sum(weights * squared distance to the center)``.
    tol : float
        Relative tolerance, as scikit-learn's ``KMeans(tol=...)``.
    objective_tol : float
        Also stop once an accepted over-relaxed step lowers the objective by less than this
        share of it (0: never).
    should_stop : callable, optional
        Polled before every pass; when it returns True, :class:`~kmc_tui.errors.Cancelled` is
        raised and no further pass starts.

    Attributes
    ----------
    cluster_centers_ : (k, d) float32
        Set by :meth:`run`.
    inertia_ : float
        The objective of the last centers evaluated: that of `cluster_centers_`, or an upper
        bound of it when the run ended on a Lloyd step.
    n_iter_ : int
        Passes over the points made by the last :meth:`run`.
    """

    def __init__(
        self,
        points: np.ndarray,
        weights: np.ndarray,
        *,
        tol: float = TOL,
        objective_tol: float = 0.0,
        should_stop: Callable[[], bool] | None = None,
    ):
        self.should_stop = should_stop
        self.objective_tol = objective_tol
        self.points = np.ascontiguousarray(points, dtype=np.float32)
        self.weights = np.ascontiguousarray(weights, dtype=np.float32)
        self.relative_tol = tol
        self.tol = float(np.var(self.points, axis=0).mean()) * tol
        self.kernels = lloyd_kernels()
        self._labels = np.empty(len(points), np.int32)
        # Each cluster's weight, weighted sum and weighted sum of squares are bincounts of these
        # over the labels, in float64 and in one fixed order: new centers and objective come
        # out the same bytes whatever the number of threads.
        points64 = self.points.astype(np.float64)
        self._weights64 = self.weights.astype(np.float64)
        self._moments = [self._weights64 * column for column in points64.T]
        self._squares = self._weights64 * np.einsum("ij,ij->i", points64, points64)

    def _threads(self, k: int) -> int:
        if len(self.points) * k < THREADED_MIN_WORK:
            return 1
        return self.kernels[1]()

    def check_stop(self) -> None:
        """Raise Cancelled if the caller asked to stop."""
        if self.should_stop is not None and self.should_stop():
            raise Cancelled("cancelled")

    def _nearest(self, centers: np.ndarray) -> np.ndarray:
        """Fill self._labels with the nearest of `centers` (float32, (k, d)); returns it.

        Each point's distances come from the same computation whatever the number of threads
        (scikit-learn's chunks are of a fixed size), so the labels do not depend on it.
        """
        k = len(centers)
        self.kernels[0](
            self.points,
            self.weights,
            centers,
            np.empty_like(centers),
            np.empty(k, np.float32),
            self._labels,
            np.empty(k, np.float32),
            self._threads(k),
            False,
        )
        return self._labels

    def step(self, centers: np.ndarray) -> tuple[np.ndarray, float]:
        """One pass: (Lloyd's image of `centers`, objective of `centers`)."""
        self.check_stop()
        k = len(centers)
        labels = self._nearest(centers).astype(np.intp)
        totals = np.bincount(labels, weights=self._weights64, minlength=k)
        sums = np.stack([np.bincount(labels, weights=m, minlength=k) for m in self._moments], 1)
        squares = np.bincount(labels, weights=self._squares, minlength=k)
        c = centers.astype(np.float64)
        errors = (
            squares - 2.0 * np.einsum("ij,ij->i", sums, c) + totals * np.einsum("ij,ij->i", c, c)
        )
        objective = float(np.maximum(errors, 0.0).sum())
        moved = c.copy()
        filled = totals > 0
        moved[filled] = sums[filled] / totals[filled, None]
        if not filled.all():
            # As scikit-learn: an empty cluster moves to a point farthest from its center.
            empty = np.flatnonzero(~filled)
            points64 = self.points.astype(np.float64)
            far = ((points64 - c[labels]) ** 2).sum(1)
            moved[empty] = points64[np.argsort(-far, kind="stable")[: len(empty)]]
        return moved.astype(np.float32), objective

    def run(self, centers: np.ndarray, *, max_iter: int) -> RelaxedLloyd:
        """Iterate from `centers` (k, d) until they settle or `max_iter` passes; returns self."""
        centers = np.ascontiguousarray(centers, dtype=np.float32)
        if self.kernels is None:
            return self._run_public(centers, max_iter=max_iter)
        moved, objective = self.step(centers)
        passes = 1
        while passes < max_iter:
            if float(((moved - centers) ** 2).sum()) <= self.tol:
                centers = moved
                break
            trial = centers + np.float32(RELAX) * (moved - centers)
            trial_moved, trial_objective = self.step(trial)
            passes += 1
            if trial_objective < objective:
                settled = objective - trial_objective < self.objective_tol * objective
                centers, moved, objective = trial, trial_moved, trial_objective
                if settled:
                    centers = moved
                    break
            elif passes < max_iter:
                centers = moved
                moved, objective = self.step(centers)
                passes += 1
            else:
                centers = moved
        self.cluster_centers_, self.inertia_, self.n_iter_ = centers, objective, passes
        return self

    def _run_public(self, centers: np.ndarray, *, max_iter: int) -> RelaxedLloyd:
        # KMeans.fit cannot be interrupted: asked before and after it.
        from sklearn.cluster import KMeans

        self.check_stop()

        model = KMeans(
            n_clusters=len(centers),
            init=centers,
            n_init=1,
            max_iter=max_iter,
            tol=self.relative_tol,
            algorithm="lloyd",
        ).fit(self.points, sample_weight=self.weights)
        self.check_stop()
        self.cluster_centers_ = model.cluster_centers_.astype(np.float32)
        self.inertia_, self.n_iter_ = float(model.inertia_), int(model.n_iter_)
        return self

    def assign(self, centers: np.ndarray) -> np.ndarray:
        """Index of the nearest of `centers` for every point."""
        self.check_stop()
        centers = np.ascontiguousarray(centers, dtype=np.float32)
        if self.kernels is None:
            from sklearn.metrics import pairwise_distances_argmin

            return pairwise_distances_argmin(self.points, centers)
        return self._nearest(centers).copy()


def best_of_starts(
    lloyd: RelaxedLloyd, k: int, random_state: np.random.RandomState, *, max_iter: int
) -> np.ndarray:
    """Centers from k-means++ run through `lloyd`; at small k the best of a few (CELL_TRIES)."""
    tries = next((n for max_k, n in CELL_TRIES if k <= max_k), 1)
    points64, weights64 = lloyd.points.astype(np.float64), lloyd.weights.astype(np.float64)
    best = None
    for _ in range(tries):
        # The tries are compared after a few passes; only the best is run to the end.
        lloyd.check_stop()
        start = kmeans_plusplus(points64, weights64, k, random_state)
        lloyd.run(start, max_iter=min(TRY_ITER, max_iter) if tries > 1 else max_iter)
        if best is None or lloyd.inertia_ < best[0]:
            best = (lloyd.inertia_, lloyd.cluster_centers_)
    if tries == 1:
        return best[1]
    return lloyd.run(best[1], max_iter=max_iter).cluster_centers_


def kmeans_palette(
    feats: np.ndarray,
    weights: np.ndarray,
    k: int,
    *,
    seed: int,
    color_space: str,
    max_iter: int,
    should_stop: Callable[[], bool] | None = None,
):
    """Weighted k-means of `feats` (n > k): (palette (k, C) uint8, labels (n,)).

    `should_stop` is polled before every Lloyd pass and every k-means++ seeding; when it returns
    True, :class:`~kmc_tui.errors.Cancelled` is raised.
    """
    # Binned before scikit-learn is imported: in the CLI that import is still under way in a
    # background thread, and this work fits in the wait.
    means, cell_weights = grid_cells(
        feats,
        weights,
        CELL_WIDTH[color_space],
        split_above=split_threshold(feats, weights, k),
    )

    random_state = np.random.RandomState(seed)
    full = RelaxedLloyd(feats, weights, objective_tol=OBJECTIVE_TOL, should_stop=should_stop)
    if len(means) >= 2 * k and len(means) * MIN_REDUCTION <= len(feats):
        cells = RelaxedLloyd(means, cell_weights, should_stop=should_stop)
        centers = best_of_starts(cells, k, random_state, max_iter=CELL_MAX_ITER)
        centers = full.run(centers, max_iter=max_iter).cluster_centers_
    else:
        centers = best_of_starts(full, k, random_state, max_iter=max_iter)
    # The file holds 8-bit colors: assign each color to its nearest *rounded* center, so the
    # objective reported is the one of the image actually written.
    palette = from_features(centers, color_space)
    return palette, full.assign(to_features(palette, color_space))


class KMeansQuantizer(Quantizer):
    """k-means (scikit-learn) over all pixels, weighted distinct colors, in CIELAB, Oklab or RGB."""

    name = "kmeans"
    description = "Exact k-means over all pixels (scikit-learn), in CIELAB, Oklab or RGB"
    params = (
        COLOR_SPACE,
        ParamSpec(
            "max_iter",
            int,
            20,
            "most Lloyd iterations over all distinct colors",
            min=1,
            max=10000,
            preview=10,
        ),
    )
    supports_alpha = True

    @classmethod
    def warm_up(cls) -> None:
        import skimage.color  # noqa: F401 - to and from CIELAB

        lloyd_kernels()  # scikit-learn's import: overlaps the decoding

    def quantize(
        self,
        hist: ColorHistogram,
        k: int,
        *,
        seed: int = 0,
        should_stop: Callable[[], bool] | None = None,
        color_space: str = "lab",
        max_iter: int = 20,
    ) -> QuantizerOutput:
        """Palette and labels of `hist`'s colors; `should_stop` is polled every Lloyd pass."""
        color_space = COLOR_SPACE.coerce(color_space)
        colors, counts = hist.colors, hist.counts
        if len(colors) <= k:
            return QuantizerOutput(colors.copy(), np.arange(len(colors)))
        feats = to_features(colors, color_space)
        palette, labels = kmeans_palette(
            feats,
            counts.astype(np.float32),
            k,
            seed=seed,
            color_space=color_space,
            max_iter=max_iter,
            should_stop=should_stop,
        )
        return QuantizerOutput(palette, labels)
