"""Choose k for the user: the fewest colors under a ΔE2000 target, the most under a size target.

A target is a search over k around the pipeline of a plain run (quantize, encode, statistics),
with the image's colors counted once (:func:`~kmc_tui.quantize.image_histogram`). What the answer
claims is checked with real runs, each the same as a plain run with that k (same plugin,
parameters, seed, dithering and format), measured the same way as the statistics measure it:

* ``max_delta_e=D``: the result's mean ΔE2000 is at most D, and one color fewer's is not;
* ``max_bytes=N``: the file is at most N bytes, and one color more's is not.

ΔE2000 falls and size grows with k, but not strictly (two k-means runs are two local optima), so
the search leans on it only to choose where to look; the claim itself is about the two
neighbours, and is checked. Estimates lead the way: the same plugin and settings run on a sample
of the image; the real runs calibrate them, and probe around where they put the answer. A size
estimate lays the palette found on a sample of pixels over the whole image (or over bands of
whole rows from all over a large one, since deflate reads rows in context) and encodes that, so
only the palette is estimated, not how the image's layout compresses.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .api import Result, finish
from .encode import DEFAULT_OPTIMIZE, check_optimize, encode
from .errors import Cancelled, ParameterError, TargetUnreachable
from .formats import PALETTE_FORMATS, format_for, human_bytes
from .plugin_api import ColorHistogram, Quantizer, QuantizerOutput
from .quantize import ImageHistogram, Quantized, check_k, image_histogram, nearest, quantize
from .read import Image
from .registry import Registry, default_registry
from .stats import lossless_color_error, srgb8_to_lab, stores_exactly

#: Pixels of the sample the estimates run on.
SAMPLE_PIXELS = 1 << 16
#: Side of the sample's square tiles (for sizes, dithering and lossy formats).
SAMPLE_TILE = 32
#: A sample has at most this fraction of the image's pixels: an estimate must cost much less
#: than the real run it saves.
MIN_SAMPLE_RATIO = 8
#: Fewest pixels of a sample: below, images are searched with real runs only.
MIN_SAMPLE_PIXELS = 4096
#: Pixels of the sample a size estimate's palette is found on (a larger one finds about the
#: same file sizes, more slowly: docs/performance.md).
SIZE_SAMPLE_PIXELS = 1 << 14
#: Most pixels a size estimate encodes: the whole image up to this, bands of rows past it.
LAYOUT_PIXELS = 1 << 20
#: Rows per band of a size estimate's layout (a deflate window holds a few rows of a photo).
LAYOUT_BAND = 16
#: Added to ΔE2000 before taking logs (it is 0 once every color is kept).
_DE_FLOOR = 1e-3
#: Slope of log ΔE2000 and of log bytes against log k assumed while only one k has been run.
_PRIOR_SLOPE = {"delta_e": -0.4, "bytes": 0.5}
#: Slopes allowed where a curve is extended past the k run so far: two close runs can show
#: any slope (ΔE2000 and size are not strictly monotone), which must not send a search astray.
_SLOPE_RANGE = {"delta_e": (-1.5, -0.1), "bytes": (0.05, 1.0)}
#: A knee is at least this far below the chord (both axes scaled to 0-1), or there is none.
_KNEE_MIN_BEND = 0.02
#: Largest slope (against log k) of the log of real over estimated values, past the real runs.
_RATIO_SLOPE = 0.15
#: Estimates stop once the next would be this close (a fraction of k) to one already run: the
#: real runs' calibration moves the answer by more than that.
_ESTIMATE_CLOSE = 0.06
#: When the prediction is this close (in colors) to the last real run, its neighbour is tried.
_SNAP = 2

_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(?:([kmg])(i?)b?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 0, "k": 1, "m": 2, "g": 3}


def parse_size(text: str | int) -> int:
    """A file size in bytes from ``150000``, ``150K``, ``1.5M``, ``150KB`` or ``150KiB``.

    K, M and G are powers of 1000 (as sizes are shown), Ki, Mi and Gi powers of 1024.

    Raises
    ------
    ParameterError
        When `text` is not such a size, or under 1 byte.
    """
    if isinstance(text, (int, np.integer)) and not isinstance(text, bool):
        value = int(text)
    else:
        match = _SIZE.match(str(text))
        if match is None:
            raise ParameterError(
                f"a size is a number of bytes such as 150000, 150K or 1.5M; got {text!r}"
            )
        number, unit, binary = match.groups()
        base = 1024 if binary else 1000
        value = math.floor(float(number) * base ** _SIZE_UNITS[(unit or "").lower()])
    if value < 1:
        raise ParameterError(f"a size must be at least 1 byte; got {text!r}")
    return value


@dataclass(frozen=True)
class Target:
    """What the user asks for instead of k: a mean ΔE2000 or a file size, not above.

    Parameters
    ----------
    max_delta_e : float, optional
        The result's mean ΔE2000 (the statistics' figure) at most this; the fewest colors that
        do it.
    max_bytes : int or str, optional
        The written file at most this many bytes (``"150K"`` and the like accepted, see
        :func:`parse_size`); the most colors that fit.

    Exactly one of them is given.
    """

    max_delta_e: float | None = None
    max_bytes: int | None = None

    def __post_init__(self) -> None:
        if (self.max_delta_e is None) == (self.max_bytes is None):
            raise ParameterError("a target is either a ΔE2000 or a size, one of the two")
        if self.max_delta_e is not None:
            try:
                value = float(self.max_delta_e)
            except (TypeError, ValueError):
                value = math.nan
            if not 0 <= value < math.inf:
                raise ParameterError(
                    f"a ΔE2000 target is a number 0 or more; got {self.max_delta_e!r}"
                )
            object.__setattr__(self, "max_delta_e", value)
        else:
            object.__setattr__(self, "max_bytes", parse_size(self.max_bytes))

    @property
    def kind(self) -> str:
        """``"delta_e"`` or ``"bytes"``."""
        return "delta_e" if self.max_delta_e is not None else "bytes"

    @property
    def limit(self) -> float:
        """The target's number: the ΔE2000 or the bytes."""
        return self.max_delta_e if self.max_delta_e is not None else self.max_bytes

    def met(self, value: float) -> bool:
        """Whether a result whose ΔE2000 (or size in bytes) is `value` meets the target."""
        return value <= self.limit

    def __str__(self) -> str:
        if self.max_delta_e is not None:
            return f"ΔE2000 ≤ {self.max_delta_e:g}"
        return f"size ≤ {human_bytes(self.max_bytes)}"

    def as_dict(self) -> dict:
        return {"kind": self.kind, "max": self.limit}


@dataclass(frozen=True)
class Trial:
    """One k the search tried.

    Attributes
    ----------
    k : int
    delta_e : float or None
        Mean ΔE2000 (None when the search did not need it).
    bytes : int or None
        File size (None when the search did not need it); for an estimate, the sample's file
        scaled to the image's pixels.
    estimate : bool
        Run on the sample: it guides the search and claims nothing.
    meets : bool or None
        Whether the run meets the target (for an estimate: would, if it were real); None on
        a curve drawn without a target (:func:`rate_distortion`).
    seconds : float
    """

    k: int
    delta_e: float | None
    bytes: int | None
    estimate: bool
    meets: bool | None
    seconds: float

    def as_dict(self) -> dict:
        return {
            "k": self.k,
            "delta_e": self.delta_e,
            "bytes": self.bytes,
            "estimate": self.estimate,
            "meets": self.meets,
            "seconds": self.seconds,
        }


@dataclass(frozen=True)
class TargetSearch:
    """How a target chose k: attached to the chosen run as ``Result.search``.

    Attributes
    ----------
    target : Target
    k : int
        The chosen k.
    trials : tuple of Trial
        Everything tried, in order.
    at_bound : bool
        `k` is the end of the range (1 under a ΔE2000 target, the most colors allowed under a
        size target): there is no neighbour to compare with.
    """

    target: Target
    k: int
    trials: tuple[Trial, ...]
    at_bound: bool

    def as_dict(self) -> dict:
        return {
            "target": self.target.as_dict(),
            "k": self.k,
            "at_bound": self.at_bound,
            "tried": [t.as_dict() for t in self.trials],
        }


def sample_tiles(image: Image, *, pixels: int = SAMPLE_PIXELS, tile: int = SAMPLE_TILE) -> Image:
    """A smaller image of square tiles cut on a regular grid all over `image`, side by side.

    The pixels keep their neighbours (unlike a random sample or a downscaled copy), so a file
    of the sample compresses about as the whole image's does, per pixel; and the tiles come from
    everywhere, so its colors are the image's. `image` itself when it is not larger than
    `pixels`.
    """
    h, w = image.height, image.width
    if h * w <= pixels:
        return image
    th, tw = min(tile, h), min(tile, w)
    count = max(1, pixels // (th * tw))
    rows = int(np.clip(round(math.sqrt(count * h / w)), 1, h // th))
    cols = int(np.clip(count // rows, 1, w // tw))
    ys = np.linspace(0, h - th, rows).round().astype(int)
    xs = np.linspace(0, w - tw, cols).round().astype(int)

    def cut(plane: np.ndarray) -> np.ndarray:
        return np.concatenate(
            [np.concatenate([plane[y : y + th, x : x + tw] for x in xs], axis=1) for y in ys]
        )

    alpha = None if image.alpha is None else cut(image.alpha)
    return Image(np.ascontiguousarray(cut(image.rgb)), alpha, format=image.format, mode=image.mode)


def sample_pixels(image: Image, *, pixels: int = SAMPLE_PIXELS, seed: int = 0) -> Image:
    """A smaller image of pixels drawn at random from `image` (with replacement, in order).

    Its colors are a sample of the image's, so a mean over them (ΔE2000) estimates the
    image's; its files say nothing of the image's. `image` itself when it is not larger than
    `pixels`.
    """
    if image.pixels <= pixels:
        return image
    side = 256
    rows = max(1, pixels // side)
    picked = np.sort(np.random.default_rng(seed).integers(0, image.pixels, rows * side))
    rgb = image.rgb.reshape(-1, 3)[picked].reshape(rows, side, 3)
    alpha = None if image.alpha is None else image.alpha.reshape(-1)[picked].reshape(rows, side)
    return Image(rgb, alpha, format=image.format, mode=image.mode)


def sample_rows(image: Image, *, pixels: int = LAYOUT_PIXELS, band: int = LAYOUT_BAND) -> Image:
    """A smaller image of bands of `band` whole rows spread evenly over `image`, stacked.

    Each row keeps the rows above it (what PNG's deflate finds its matches in) and the bands
    come from everywhere, so a file of it compresses about as the whole image's does, per pixel.
    `image` itself when it is not larger than `pixels`.
    """
    if image.pixels <= pixels:
        return image
    band = min(band, image.height)
    count = int(np.clip(pixels // (band * image.width), 1, image.height // band))
    starts = np.linspace(0, image.height - band, count).round().astype(int)
    rows = (starts[:, None] + np.arange(band)).ravel()
    alpha = None if image.alpha is None else np.ascontiguousarray(image.alpha[rows])
    return Image(np.ascontiguousarray(image.rgb[rows]), alpha, format=image.format, mode=image.mode)


@dataclass(frozen=True)
class _Settings:
    """Everything of a run but the image and k: the same for every run of a search.

    The fields are :func:`~kmc_tui.api.process`'s options, with its defaults.
    """

    plugin: str = "kmeans"
    params: dict | None = None
    seed: int = 0
    dither: bool | float = False
    format: str = "png"
    registry: Registry | None = None
    should_stop: Callable[[], bool] | None = None
    timeout: float | None = None
    optimize: int = DEFAULT_OPTIMIZE
    keep_metadata: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "format", format_for("", self.format))
        object.__setattr__(self, "registry", self.registry or default_registry())
        object.__setattr__(self, "optimize", check_optimize(self.optimize))

    @classmethod
    def of(cls, **options) -> _Settings:
        """The settings of a plain run from :func:`~kmc_tui.api.process`'s options, checked:
        the one place :func:`search_k` and :func:`rate_distortion` take them from."""
        known = [field.name for field in dataclasses.fields(cls)]
        unknown = [name for name in options if name not in known]
        if unknown:
            raise ParameterError(
                f"unknown option {', '.join(map(repr, unknown))}; the options of a run are "
                + ", ".join(known)
            )
        return cls(**options)

    @property
    def palette_format(self) -> bool:
        return self.format in PALETTE_FORMATS

    def histogram(self, image: Image) -> ImageHistogram:
        """`image`'s colors as the plugin takes them (alpha a channel if it supports it)."""
        record = self.registry.get(self.plugin)
        return image_histogram(image, rgba=image.alpha is not None and record.load().supports_alpha)

    def quantize(self, histogram: ImageHistogram, k: int, *, dither: bool) -> Quantized:
        """A plain run's quantization of `histogram`'s image at `k`."""
        return quantize(
            histogram.image,
            k,
            plugin=self.plugin,
            params=self.params,
            seed=self.seed,
            dither=dither,
            palette_format=self.palette_format,
            registry=self.registry,
            should_stop=self.should_stop,
            timeout=self.timeout,
            histogram=histogram,
        )

    @property
    def encoding(self) -> dict:
        """The encoder's options, as :func:`~kmc_tui.api.finish` takes them."""
        return dict(optimize=self.optimize, keep_metadata=self.keep_metadata)

    @property
    def exact(self) -> bool:
        """ΔE2000 comes from the palette alone (no dithering, a format that keeps it)."""
        return stores_exactly(self.format) and not self.dither


class _Runs:
    """Runs of one setting on one image (or a sample of it, scaled by `scale`) at any k.

    `need` is what each run must measure: ``"delta_e"``, ``"bytes"`` or ``"both"``.
    """

    def __init__(self, image: Image, settings: _Settings, need: str, *, scale: float = 1.0):
        self.image, self.settings, self.need, self.scale = image, settings, need, scale
        self.histogram = settings.histogram(image)

    def run(self, k: int) -> tuple[float | None, int | None, Any]:
        """(ΔE2000, bytes, what to keep to finish the result); None for what was not needed."""
        s = self.settings
        q = s.quantize(self.histogram, k, dither=s.dither)
        if self.need == "bytes":
            # The statistics are computed once, for the answer (finish() with its file).
            metadata = self.image.metadata if s.keep_metadata else None
            data = encode(q, s.format, optimize=s.optimize, metadata=metadata)
            return None, _scaled(q, len(data), self.scale, s, metadata), (q, data, None)
        if self.need != "delta_e" or not s.exact:
            result = finish(self.image, q, format=s.format, **s.encoding)
            return (
                result.stats.delta_e,
                _scaled(q, result.stats.output_bytes, self.scale, s),
                result,
            )
        # ΔE2000 of an exact format comes from the palette alone: no need to encode; kept
        # with the run, so the answer's statistics need not compute it again.
        errors = lossless_color_error(q, s.format)
        return errors[1], None, (q, None, errors)


def _scaled(quantized: Quantized, nbytes: int, scale: float, settings: _Settings, metadata=None):
    """The size of a sample's file scaled to the whole image: what grows with the pixels times
    `scale`, plus what does not (headers, palette, metadata: the file of one pixel)."""
    if scale == 1.0:
        return nbytes
    one_pixel = dataclasses.replace(quantized, indices=quantized.indices[:1, :1])
    s = settings
    fixed = min(len(encode(one_pixel, s.format, optimize=s.optimize, metadata=metadata)), nbytes)
    return round(fixed + (nbytes - fixed) * scale)


def _features(colors: np.ndarray) -> np.ndarray:
    """CIELAB of (n, 3) colors, with alpha scaled to the lightness range as a fourth axis for
    (n, 4) colors: where a color's nearest entry is measured."""
    lab = srgb8_to_lab(np.ascontiguousarray(colors[:, :3]))
    if colors.shape[1] == 3:
        return lab
    return np.column_stack([lab, colors[:, 3].astype(np.float32) * np.float32(100 / 255)])


class _GivenPalette(Quantizer):
    """Each color to its nearest entry of the palette its `source` holds (in CIELAB)."""

    name = "given-palette"
    description = "a size estimate's palette, laid over the image"
    fixed_palette = True
    supports_alpha = True
    source: _SizeEstimates

    def quantize(self, hist: ColorHistogram, k: int, *, seed: int = 0) -> QuantizerOutput:
        return self.source.lay(hist, k)


class _SizeEstimates:
    """Estimates of the file size at any k: the plugin's palette from a sample of `pixels`
    pixels, laid over the image's layout (:func:`sample_rows`) by the core as a fixed palette
    (dithered when the settings dither), encoded as a real run is, scaled to the image.

    Of a run, only the palette is estimated: the file is the layout's own, at the final level.
    """

    def __init__(self, image: Image, settings: _Settings, pixels: int):
        self.image, self.settings = image, settings
        self.sample_histogram = settings.histogram(sample_pixels(image, pixels=pixels))
        self.layout = sample_rows(image)
        self.layout_histogram = settings.histogram(self.layout)
        self.scale = image.pixels / self.layout.pixels
        self.registry = Registry(use_entry_points=False, use_env=False)
        given = type("GivenPalette", (_GivenPalette,), {"source": self})
        self.registry.register(_GivenPalette.name, given, origin=__name__)
        self.entries: np.ndarray | None = None
        self._colors: np.ndarray | None = None
        self._features: np.ndarray | None = None

    def lay(self, hist: ColorHistogram, k: int) -> QuantizerOutput:
        if self._colors is not hist.colors:  # the layout's colors, the same at every k
            self._colors, self._features = hist.colors, _features(hist.colors)
        entries = self.entries[:k, : hist.colors.shape[1]]
        if len(entries) == 0:  # the sample missed the few visible pixels there are
            entries = hist.colors[:1]
        return QuantizerOutput(entries, nearest(self._features, _features(entries)))

    def run(self, k: int) -> tuple[None, int, None]:
        s = self.settings
        found = s.quantize(self.sample_histogram, k, dither=False)
        alpha = np.full(found.colors, 255, np.uint8) if found.alpha is None else found.alpha
        # The core gives fully transparent pixels an entry of their own, in the layout too.
        self.entries = np.column_stack([found.palette, alpha])[alpha > 0]
        laid = quantize(
            self.layout,
            k,
            plugin=_GivenPalette.name,
            dither=s.dither,
            palette_format=s.palette_format,
            registry=self.registry,
            should_stop=s.should_stop,
            histogram=self.layout_histogram,
        )
        metadata = self.image.metadata if s.keep_metadata else None
        nbytes = len(encode(laid, s.format, optimize=s.optimize, metadata=metadata))
        return None, _scaled(laid, nbytes, self.scale, s, metadata), None


class _Search:
    """The search behind :func:`search_k`: estimates, then real runs around a crossing.

    In its terms, a k is "high" when it is on the side of the range a larger k leads to: it
    meets a ΔE2000 target, or does not fit a size target. The search looks for neighbours
    ``k, k+1`` with k low and k+1 high; 0 counts as low and ``k_max + 1`` as high.
    """

    def __init__(
        self,
        image: Image,
        target: Target,
        k_max: int,
        settings: _Settings,
        *,
        on_trial: Callable[[Trial], None] | None,
        sample: int,
    ):
        self.image, self.target, self.k_max = image, target, k_max
        self.settings, self.on_trial = settings, on_trial
        self.trials: list[Trial] = []
        self.real: dict[int, float] = {}
        self.estimates: dict[int, float] = {}
        self.kept: tuple[int, Any] | None = None
        self.runs = _Runs(image, settings, target.kind)
        self.sample_runs = None
        sample = min(sample, image.pixels // MIN_SAMPLE_RATIO) if sample else 0
        if sample >= MIN_SAMPLE_PIXELS:
            if target.kind == "bytes":
                self.sample_runs = _SizeEstimates(image, settings, min(sample, SIZE_SAMPLE_PIXELS))
            else:
                if settings.exact:
                    small = sample_pixels(image, pixels=sample)
                else:
                    small = sample_tiles(image, pixels=sample)
                scale = image.pixels / small.pixels
                self.sample_runs = _Runs(small, settings, target.kind, scale=scale)

    # -- what a k is ------------------------------------------------------------------------

    def high(self, value: float) -> bool:
        return self.target.met(value) == (self.target.kind == "delta_e")

    def _log(self, value: float) -> float:
        return math.log(value + (_DE_FLOOR if self.target.kind == "delta_e" else 1.0))

    def _try(self, k: int, *, estimate: bool) -> float:
        should_stop = self.settings.should_stop
        if should_stop is not None and should_stop():
            raise Cancelled("cancelled")
        t = time.perf_counter()
        runs = self.sample_runs if estimate else self.runs
        delta_e, nbytes, keep = runs.run(k)
        value = delta_e if self.target.kind == "delta_e" else nbytes
        (self.estimates if estimate else self.real)[k] = value
        trial = Trial(k, delta_e, nbytes, estimate, self.target.met(value), time.perf_counter() - t)
        self.trials.append(trial)
        if not estimate and trial.meets:
            # Only the best answer so far is kept (at 12 MP a result holds 12 MB of indices).
            better = self.kept is None or (
                k < self.kept[0] if self.target.kind == "delta_e" else k > self.kept[0]
            )
            if better:
                self.kept = (k, keep)
        if self.on_trial is not None:
            self.on_trial(trial)
        return value

    # -- where to look ----------------------------------------------------------------------

    def _curve(self, points: dict[int, float], ks: np.ndarray) -> np.ndarray | None:
        """log of the values at `ks`, piecewise linear in log k through `points`, extended
        with the slopes at its ends (a prior slope through a single point); None without
        points."""
        if not points:
            return None
        known = sorted(points)
        x = np.log(known)
        y = np.array([self._log(points[k]) for k in known])
        lx = np.log(ks)
        if len(known) == 1:
            return y[0] + _PRIOR_SLOPE[self.target.kind] * (lx - x[0])
        out = np.interp(lx, x, y)
        below, above = lx < x[0], lx > x[-1]
        low, high = _SLOPE_RANGE[self.target.kind]

        def end_slope(end: int, toward: float) -> float:
            # Over about an octave, not between two close runs, whose difference is noise.
            ref = int(np.argmin(np.abs(x - (x[end] + toward))))
            if ref == end % len(x):
                ref = 1 if end == 0 else len(x) - 2
            return float(np.clip((y[end] - y[ref]) / (x[end] - x[ref]), low, high))

        out[below] = y[0] + (lx[below] - x[0]) * end_slope(0, math.log(2))
        out[above] = y[-1] + (lx[above] - x[-1]) * end_slope(-1, -math.log(2))
        return out

    def _predicted_first_high(self, lo: int, hi: int, *, real: bool) -> int | None:
        """The first k in (lo, hi) that the curve so far puts on the high side (hi if none);
        None when there is not enough to predict from."""
        ks = np.arange(lo + 1, hi, dtype=np.int64)
        if len(ks) == 0:
            return hi
        if real and self.estimates:
            curve = self._curve(self.estimates, ks) + self._calibration(ks)
        else:
            curve = self._curve(self.real if real else self.estimates, ks)
        if curve is None:
            return None
        limit = self._log(self.target.limit)
        high = curve <= limit if self.target.kind == "delta_e" else curve > limit
        return int(ks[np.argmax(high)]) if high.any() else hi

    def _calibration(self, ks: np.ndarray) -> np.ndarray:
        """log(real / estimate) at `ks`: through the real runs, linear in log k between them;
        past them, along the least-squares line through all of them (the estimates' slope may
        be off as well as their level), clamped to _RATIO_SLOPE. The estimates are read off
        their curve, which smooths their own noise."""
        both = np.array(sorted(self.real), dtype=np.int64)
        if len(both) == 0:
            return np.zeros(len(ks))
        x = np.log(both)
        real = np.array([self._log(self.real[k]) for k in both])
        y = real - self._curve(self.estimates, both)
        lx = np.log(ks)
        out = np.interp(lx, x, y)
        if len(both) >= 2:
            slope = float(np.clip(np.polyfit(x, y, 1)[0], -_RATIO_SLOPE, _RATIO_SLOPE))
            below, above = lx < x[0], lx > x[-1]
            out[below] = y[0] + slope * (lx[below] - x[0])
            out[above] = y[-1] + slope * (lx[above] - x[-1])
        return out

    def _bracket(
        self, lo: int, hi: int, *, real: bool, last: str | None, streak: int, stalled: bool
    ) -> int:
        """The next k to try in (lo, hi); `last` is the side the last try fell on, `streak`
        how many tries in a row fell there, `stalled` whether the last try failed to halve a
        bracket of two real runs."""
        if real and stalled and hi - lo > 2 * _SNAP + 1:
            return (lo + hi) // 2  # the prediction is no better than the runs' own noise
        first_high = self._predicted_first_high(lo, hi, real=real)
        if first_high is None or (not real and streak >= 4):
            k = round(math.sqrt(max(lo, 1) * min(hi, self.k_max)))  # bisect in log k
        elif not real:
            k = first_high
        elif last == "high":
            # Aim at the low neighbour; further from the third time the same side comes back
            # (the prediction is off), but not past half the k just run.
            k = max(min(first_high - 1, hi - 2 ** max(0, streak - 2)), hi // 2)
            if hi - k <= _SNAP:
                k = hi - 1
        elif last == "low":
            k = min(max(first_high, lo + 2 ** max(0, streak - 2)), 2 * lo + 1)
            if k - lo <= _SNAP:
                k = lo + 1
        else:
            k = first_high
        return int(min(max(k, lo + 1), hi - 1))

    def _walk(self, *, real: bool) -> tuple[int, int]:
        lo, hi = 0, self.k_max + 1
        last, streak, stalled = None, 0, False
        # Estimates stop short of neighbours: closer than their error they say nothing more.
        stop = 1 if real else max(1, self.k_max // 40)
        while hi - lo > max(1, min(stop, hi // 20)):
            k = self._bracket(lo, hi, real=real, last=last, streak=streak, stalled=stalled)
            if not real and any(
                abs(k - e) <= max(1, round(_ESTIMATE_CLOSE * k)) for e in self.estimates
            ):
                break
            value = self._try(k, estimate=not real)
            side = "high" if self.high(value) else "low"
            streak = streak + 1 if side == last else 1
            last = side
            bracketed, width = 0 < lo and hi <= self.k_max, hi - lo
            if side == "high":
                hi = k
            else:
                lo = k
            stalled = bracketed and not stalled and 2 * (hi - lo) > width
        return lo, hi

    def bracket(self) -> tuple[int, int]:
        """Search: (lo, hi), neighbours with lo low and hi high (0 and k_max + 1 count)."""
        if self.sample_runs is not None:
            self._walk(real=False)
        return self._walk(real=True)

    def run(self) -> Result:
        lo, hi = self.bracket()
        kind = self.target.kind
        if (kind == "delta_e" and hi > self.k_max) or (kind == "bytes" and lo < 1):
            raise self._unreachable()
        k = hi if kind == "delta_e" else lo
        assert self.kept is not None and self.kept[0] == k
        keep = self.kept[1]
        s = self.settings
        if isinstance(keep, Result):
            result = keep
        else:
            q, data, errors = keep
            result = finish(self.image, q, format=s.format, data=data, errors=errors, **s.encoding)
        at_bound = k == 1 if kind == "delta_e" else k == self.k_max
        search = TargetSearch(self.target, k, tuple(self.trials), at_bound)
        return dataclasses.replace(result, search=search)

    def _unreachable(self) -> TargetUnreachable:
        real = [t for t in self.trials if not t.estimate]
        if self.target.kind == "delta_e":
            best = min(t.delta_e for t in real)
            colors = f"{self.k_max} color{'s' if self.k_max != 1 else ''}"
            message = f"{self.target} not reachable with {colors} (best {best:.2f})"
        else:
            smallest = min(real, key=lambda t: t.bytes)
            best = smallest.bytes
            message = (
                f"{self.target} not reachable (smallest {human_bytes(best)}, "
                f"with {smallest.k} color{'s' if smallest.k != 1 else ''})"
            )
        return TargetUnreachable(message, best=best, trials=tuple(self.trials))


def search_k(
    image: Image,
    target: Target,
    *,
    k_max: int = 256,
    on_trial: Callable[[Trial], None] | None = None,
    sample: int | bool = True,
    **options,
) -> Result:
    """Choose k for `image` under `target` (see the module's docstring for what is claimed).

    Parameters
    ----------
    image : Image
    target : Target
    k_max : int
        The most colors allowed (the CLI's ``-k``); the fewest is 1.
    on_trial : callable, optional
        Called with each :class:`Trial` as soon as it is done.
    sample : bool or int
        Let estimates on a sample of at most `sample` pixels (True: SAMPLE_PIXELS) and at most
        1/MIN_SAMPLE_RATIO of the image lead the way, when that is at least MIN_SAMPLE_PIXELS;
        False: real runs only. The answer meets the same claim either way.
    **options
        ``plugin``, ``params``, ``seed``, ``dither``, ``format``, ``registry``,
        ``should_stop``, ``timeout``, ``optimize``, ``keep_metadata``: as for
        :func:`~kmc_tui.api.process`; every run of the search uses them.

    Returns
    -------
    Result
        The run at the chosen k (not written), the same as a plain run with that k; its
        ``search`` tells how k was chosen (:class:`TargetSearch`).

    Raises
    ------
    TargetUnreachable
        No k up to `k_max` meets the target (for a ΔE2000 target: `k_max` colors do not).
    """
    settings = _Settings.of(**options)
    k_max = check_k(k_max, palette_format=settings.palette_format)
    if sample is True:
        sample = SAMPLE_PIXELS
    elif sample is not False and (not isinstance(sample, int) or sample < MIN_SAMPLE_PIXELS):
        raise ParameterError(
            f"sample is True, False or at least {MIN_SAMPLE_PIXELS} pixels; got {sample!r}"
        )
    if not isinstance(target, Target):
        raise ParameterError(f"target must be a Target; got {type(target).__name__}")
    return _Search(image, target, k_max, settings, on_trial=on_trial, sample=sample).run()


# -- the rate–distortion curve ----------------------------------------------------------------


def k_ladder(k_max: int = 256, *, steps: int = 24) -> tuple[int, ...]:
    """About `steps` values of k from 2 to `k_max`, evenly spaced in log k (every k at the
    small end, where one color more changes most)."""
    k_max = int(k_max)
    if k_max < 2:
        return (1,)
    ks = np.unique(np.round(np.geomspace(2, k_max, max(2, steps))).astype(int))
    return tuple(int(k) for k in ks)


def rate_distortion(
    image: Image,
    ks: tuple[int, ...] | None = None,
    *,
    estimate: bool = False,
    sample: int = SAMPLE_PIXELS,
    **options,
):
    """Yield a :class:`Trial` with the ΔE2000 and file size of each k of `ks` (default
    :func:`k_ladder`), in that order: the rate–distortion curve of `image`.

    With `estimate`, each point comes from a sample of tiles of a large image (its size scaled
    to the image's pixels): the curve's shape quickly, its level roughly; otherwise every point
    is a real run, the same as a plain run at that k. `options` are :func:`search_k`'s.
    """
    settings = _Settings.of(**options)
    ks = (
        k_ladder()
        if ks is None
        else tuple(check_k(k, palette_format=settings.palette_format) for k in ks)
    )
    should_stop = settings.should_stop
    small = sample_tiles(image, pixels=sample) if estimate else image
    runs = _Runs(small, settings, "both", scale=image.pixels / small.pixels)
    for k in ks:
        if should_stop is not None and should_stop():
            raise Cancelled("cancelled")
        t = time.perf_counter()
        delta_e, nbytes, _ = runs.run(k)
        yield Trial(k, delta_e, nbytes, small is not image, None, time.perf_counter() - t)


@dataclass(frozen=True)
class Knee:
    """Where one more color buys little, on a rate–distortion curve.

    Attributes
    ----------
    k : int
    how : str
        How it was chosen, in a sentence for the user.
    """

    k: int
    how: str = (
        "the point farthest below the straight line from the fewest colors to the most, "
        "with file size and ΔE2000 each scaled to 0–1 (the Kneedle rule)"
    )


def knee(points) -> Knee | None:
    """The :class:`Knee` of a curve of trials (each with ``k``, ``bytes`` and ``delta_e``);
    None with fewer than three points or a curve with no bend below its chord (by at least
    _KNEE_MIN_BEND)."""
    usable = sorted(
        (p for p in points if p.bytes is not None and p.delta_e is not None), key=lambda p: p.k
    )
    if len(usable) < 3:
        return None
    x = np.array([p.bytes for p in usable], float)
    y = np.array([p.delta_e for p in usable], float)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    x = (x - x[0]) / (x[-1] - x[0]) if x[-1] != x[0] else (x - x.min()) / np.ptp(x)
    y = (y - y[-1]) / (y[0] - y[-1]) if y[0] != y[-1] else (y - y.min()) / np.ptp(y)
    below = (1.0 - x) - y  # the chord from (0, 1) to (1, 0), minus the curve
    best = int(np.argmax(below))
    if below[best] <= _KNEE_MIN_BEND or best in (0, len(usable) - 1):
        return None
    return Knee(usable[best].k)
