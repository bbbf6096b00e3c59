"""Run a quantizer plugin on an image: histogram, plugin, validation, alpha, mapping, dithering.

Plugins see only the distinct colors and their pixel counts (and the pixels, if they want them);
everything around that is here, so every plugin gets alpha, dithering and validation for free.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import (
    Cancelled,
    ContractError,
    ParameterError,
    PluginError,
    PluginTimeout,
    describe,
    without_locals,
)
from .formats import K_LIMIT, K_MAX
from .plugin_api import ColorHistogram, takes_should_stop, validate_output
from .read import Image
from .registry import Registry, default_registry

#: Without alpha support, pixels with alpha below this are "transparent".
ALPHA_THRESHOLD = 128


@dataclass(frozen=True, eq=False)
class Quantized:
    """An image reduced to a palette.

    Attributes
    ----------
    palette : ndarray of uint8, shape (m, 3)
    alpha : ndarray of uint8, shape (m,), or None when every entry is opaque
    indices : ndarray, shape (H, W), uint8 (m <= 256) or uint16
    counts : ndarray of int64, shape (m,)
        Pixels per entry.
    k : int
        The k asked for; ``len(palette) <= k``.
    plugin : str
    params : dict
    seed : int
    dithered : bool
        Whether error diffusion was applied (asked for, and the palette holds 2..256 entries).
    seconds : dict of str to float
        Time per stage.
    notes : tuple of str
        Things the user should know (fewer colors than k, alpha reduced to on/off …).
    """

    palette: np.ndarray
    alpha: np.ndarray | None
    indices: np.ndarray
    counts: np.ndarray
    k: int
    plugin: str
    params: dict
    seed: int
    dithered: bool
    seconds: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    #: Undithered only: distinct source colors (n, 3), their entries (n,) and pixel counts (n,)
    #: over the pixels that are not fully transparent, so statistics need not touch every pixel.
    source_pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def colors(self) -> int:
        """Number of palette entries (all are used)."""
        return len(self.palette)

    def rgb(self) -> np.ndarray:
        """The result as (H, W, 3) uint8."""
        return self.palette[self.indices]

    def rgba(self) -> np.ndarray:
        """The result as (H, W, 4) uint8."""
        table = np.empty((len(self.palette), 4), np.uint8)
        table[:, :3] = self.palette
        table[:, 3] = 255 if self.alpha is None else self.alpha
        return table[self.indices]


def check_k(k: Any, *, palette_format: bool = True) -> int:
    """Validate k; ParameterError with the reason if it is not a usable number of colors."""
    try:
        k_int = int(k)
        if k_int != k:
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise ParameterError(f"k must be a whole number of colors; got {k!r}") from None
    if k_int < 1:
        raise ParameterError(f"k must be at least 1; got {k_int}")
    if palette_format and k_int > K_MAX:
        raise ParameterError(
            f"k={k_int} is too large: a palette holds at most {K_MAX} "
            "colors (PNG and GIF); use JPEG or WebP output for more"
        )
    if k_int > K_LIMIT:
        raise ParameterError(f"k={k_int} is too large; at most {K_LIMIT}")
    return k_int


#: Seeds every plugin can take: numpy's RandomState (and so scikit-learn) accepts 0..2**32 - 1.
SEED_MAX = 2**32 - 1


def check_seed(seed: Any) -> int:
    """Validate a random seed; ParameterError naming the range if it is not 0..SEED_MAX."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ParameterError(f"seed must be a whole number 0..{SEED_MAX}; got {seed!r}")
    if not 0 <= seed <= SEED_MAX:
        raise ParameterError(f"seed must be between 0 and {SEED_MAX}; got {seed}")
    return int(seed)


def pack_colors(colors: np.ndarray) -> np.ndarray:
    """Pack uint8 (..., C) colors into one uint32 code each (C is 3 or 4)."""
    c = colors.shape[-1]
    code = colors[..., 0].astype(np.uint32) << np.uint32(8 * (c - 1))
    for i in range(1, c):
        code |= colors[..., i].astype(np.uint32) << np.uint32(8 * (c - 1 - i))
    return code


def _unpack(codes: np.ndarray, channels: int) -> np.ndarray:
    shifts = np.arange(channels - 1, -1, -1, dtype=np.uint32) * np.uint32(8)
    return ((codes[:, None] >> shifts) & np.uint32(255)).astype(np.uint8)


def distinct_colors(pixels: np.ndarray):
    """Distinct colors of `pixels` (N, C) uint8 with counts, and a way back to every pixel.

    Returns
    -------
    colors : (n, C) uint8
    counts : (n,) int64
    to_pixels : callable mapping per-color values (n,) to per-pixel values (N,)
    """
    channels = pixels.shape[-1]
    if channels == 3:
        # One plain sort of packed 24-bit codes: faster than np.unique's argsort at every size
        # and than a bincount over all 2**24 colors at 12 MP, in far less memory. Packed in place.
        codes = pixels[:, 0].astype(np.uint32)
        for i in (1, 2):
            codes <<= 8
            codes |= pixels[:, i]
        ordered = np.sort(codes)
        starts = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
        if len(ordered):
            starts = np.concatenate(([0], starts))
        distinct = ordered[starts]
        counts = np.diff(np.append(starts, len(ordered)))
        del ordered

        def to_pixels(values: np.ndarray) -> np.ndarray:
            lut = np.zeros(1 << 24, dtype=values.dtype)
            lut[distinct] = values
            return lut[codes]
    else:
        codes = pack_colors(pixels)
        distinct, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
        inverse = inverse.ravel()

        def to_pixels(values: np.ndarray) -> np.ndarray:
            return values[inverse]

    return _unpack(distinct, channels), counts.astype(np.int64), to_pixels


def nearest(colors: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Index of the nearest palette entry (Euclidean) for each color; chunked to bound memory."""
    pal = palette.astype(np.float32)
    pal_sq = (pal * pal).sum(1)
    out = np.empty(len(colors), np.intp)
    step = max(1, (1 << 22) // max(1, len(pal)))
    for start in range(0, len(colors), step):
        chunk = colors[start : start + step].astype(np.float32)
        d = pal_sq[None, :] - 2.0 * chunk @ pal.T
        out[start : start + step] = d.argmin(1)
    return out


def call_with_timeout(
    fn: Callable[[], Any],
    timeout: float | None,
    *,
    what: str = "plugin",
    should_stop: Callable[[], bool] | None = None,
    poll: float = 0.05,
) -> Any:
    """Call `fn` in a daemon thread and wait at most `timeout` seconds (None: no limit).

    A Python thread cannot be killed: on timeout (PluginTimeout) or cancellation (Cancelled,
    when `should_stop()` turns True; polled every `poll` seconds) it is abandoned and keeps
    running, as a daemon so it does not hold up the interpreter's exit. Whatever `fn` raises
    is re-raised here.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"kmc-tui {what}", daemon=True)
    deadline = None if timeout is None else time.monotonic() + timeout
    thread.start()
    while thread.is_alive():
        left = poll if deadline is None else deadline - time.monotonic()
        if left <= 0:
            raise PluginTimeout(f"{what} timed out after {timeout:g} s")
        thread.join(min(left, poll))
        if should_stop is not None and thread.is_alive() and should_stop():
            raise Cancelled("cancelled")
    if "error" in box:
        raise without_locals(box.pop("error"))
    return box.get("value")


def run_plugin(
    record,
    hist: ColorHistogram,
    k: int,
    *,
    seed: int,
    params: dict,
    timeout: float | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Call a plugin, check what it returns, and give its palette and each color's entry.

    A plugin whose ``quantize`` names ``should_stop`` is handed a callable that turns True
    when `should_stop()` does or `timeout` has passed, so it can stop at its next pass. With
    `timeout` (seconds) the plugin runs in a thread that is abandoned if it does not finish in
    time (PluginTimeout) or when `should_stop()` turns True meanwhile (Cancelled).

    Returns
    -------
    palette : ndarray of uint8, shape (m, C)
    labels : ndarray of intp, shape (n,)

    Raises
    ------
    PluginError
        The plugin raised (one line; its traceback in ``.traceback``) or broke the output
        contract (:func:`~kmc_tui.plugin_api.validate_output`); kept on `record` as its
        latest failure.
    """
    cls = record.load()
    deadline = None if timeout is None else time.monotonic() + timeout

    def stop() -> bool:
        if deadline is not None and time.monotonic() > deadline:
            return True
        return should_stop is not None and bool(should_stop())

    kwargs = dict(params, seed=seed)
    if takes_should_stop(cls):
        kwargs["should_stop"] = stop
    what = f"plugin {record.name!r}"
    try:
        if timeout is None:
            result = cls().quantize(hist, k, **kwargs)
        else:
            result = call_with_timeout(
                lambda: cls().quantize(hist, k, **kwargs),
                timeout,
                what=what,
                should_stop=should_stop,
            )
    except Cancelled:
        if deadline is None or time.monotonic() <= deadline:
            raise
        # The plugin saw the deadline pass a moment before the waiting thread did.
        record.note_failure(f"{what} timed out after {timeout:g} s")
        raise PluginTimeout(record.last_error) from None
    except PluginTimeout as exc:
        record.note_failure(str(exc))
        raise
    except (KeyboardInterrupt, MemoryError):
        raise
    except BaseException as exc:  # noqa: BLE001 - a plugin must never take the program down
        record.note_failure(
            f"{what} failed: {describe(exc)}", "".join(traceback.format_exception(exc))
        )
        raise PluginError(record.last_error, traceback=record.last_traceback) from None
    try:
        validate_output(result, hist, k, context=f"{what} returned an invalid result")
    except ContractError as exc:
        record.note_failure(str(exc))
        raise
    if result.labels is None:
        return result.palette, nearest(hist.colors, result.palette)
    return result.palette, result.labels.astype(np.intp, copy=False)


@dataclass(frozen=True, eq=False)
class ImageHistogram:
    """The distinct colors of an image's visible pixels and their counts: the part of a
    quantization that does not depend on k or on the plugin (only on its alpha support).

    Attributes
    ----------
    image : Image
        The image it was made from.
    rgba : bool
        Whether alpha is a fourth channel of the colors (for plugins with alpha support).
    visible : ndarray of bool, shape (H*W,), or None
        The pixels counted (None: all of them).
    pixels : ndarray of uint8, shape (H, W, C) or (N, 1, C)
        The counted pixels themselves, as plugins get them.
    colors : ndarray of uint8, shape (n, C)
    counts : ndarray of int64, shape (n,)
    to_pixels : callable or None
        Maps per-color values (n,) to the counted pixels (N,).
    partial_alpha : bool
        Some pixels are neither opaque nor fully transparent.
    seconds : float
        Time it took.
    """

    image: Image
    rgba: bool
    visible: np.ndarray | None
    pixels: np.ndarray
    colors: np.ndarray
    counts: np.ndarray
    to_pixels: Callable[[np.ndarray], np.ndarray] | None
    partial_alpha: bool
    seconds: float


def image_histogram(image: Image, *, rgba: bool) -> ImageHistogram:
    """Count the distinct colors of `image`'s visible pixels (see :class:`ImageHistogram`).

    With `rgba` (a plugin that supports alpha) alpha is a fourth channel and only fully
    transparent pixels are left out; without it, pixels below ALPHA_THRESHOLD are.
    """
    t = time.perf_counter()
    h, w = image.height, image.width
    alpha = image.alpha
    rgba = bool(rgba and alpha is not None)
    partial_alpha = alpha is not None and bool(np.any((alpha > 0) & (alpha < 255)))
    if rgba:
        # Fully transparent pixels get an entry of their own (in quantize), so they stay fully
        # transparent; the plugin quantizes the visible ones, alpha included.
        visible = alpha.reshape(-1) > 0
        flat = image.rgba().reshape(-1, 4)[visible]
        pixels = flat.reshape(h, w, 4) if visible.all() else flat.reshape(-1, 1, 4)
    elif alpha is not None:
        visible = alpha.reshape(-1) >= ALPHA_THRESHOLD
        flat = image.rgb.reshape(-1, 3)[visible]
        pixels = flat.reshape(-1, 1, 3)
    else:
        visible = None
        flat = image.rgb.reshape(-1, 3)
        pixels = image.rgb
    if len(flat):
        colors, counts, to_pixels = distinct_colors(flat)
    else:
        colors, counts, to_pixels = (
            np.zeros((0, flat.shape[1]), np.uint8),
            np.zeros(0, np.int64),
            None,
        )
    return ImageHistogram(
        image,
        rgba,
        visible,
        pixels,
        colors,
        counts,
        to_pixels,
        partial_alpha,
        time.perf_counter() - t,
    )


def quantize(
    image: Image,
    k: int,
    *,
    plugin: str = "kmeans",
    params: dict | None = None,
    seed: int = 0,
    dither: bool | float = False,
    palette_format: bool = True,
    registry: Registry | None = None,
    should_stop: Callable[[], bool] | None = None,
    timeout: float | None = None,
    histogram: ImageHistogram | None = None,
) -> Quantized:
    """Reduce `image` to at most `k` colors with a quantizer plugin.

    Parameters
    ----------
    image : Image
    k : int
        Number of colors, 1..256 (1..65536 when `palette_format` is False).
    plugin : str, keyword-only
        Registered quantizer name.
    params : dict, optional
        Plugin parameters (strings are converted as declared).
    seed : int
        Random seed handed to the plugin, 0..:data:`SEED_MAX`; the same input and seed give
        the same result.
    dither : bool or float
        Floyd–Steinberg error diffusion onto the same palette; a number in 0..1 is the share
        of the error passed on (True is 1, full strength).
    registry : Registry, optional
    should_stop : callable, optional
        Polled between stages, and by plugins that take it (see
        :func:`~kmc_tui.plugin_api.takes_should_stop`) during theirs; when it returns True,
        :class:`Cancelled` is raised.
    timeout : float, optional
        Seconds the plugin may take; past that, :class:`PluginTimeout` is raised and its
        thread abandoned (see :func:`call_with_timeout`).
    histogram : ImageHistogram, optional
        `image`'s distinct colors from :func:`image_histogram`, so that several runs on one
        image (a search over k) count them once; the result is the same as without it.

    Returns
    -------
    Quantized
    """
    k = check_k(k, palette_format=palette_format)
    strength = check_dither(dither)
    seed = check_seed(seed)
    registry = registry or default_registry()
    record = registry.get(plugin)
    cls = record.load()
    values = record.coerce_params(params)
    seconds: dict[str, float] = {}
    notes: list[str] = []

    def stage(name: str, t0: float) -> float:
        now = time.perf_counter()
        seconds[name] = seconds.get(name, 0.0) + now - t0
        if should_stop is not None and should_stop():
            raise Cancelled("cancelled")
        return now

    h, w = image.height, image.width
    rgba_mode = image.alpha is not None and cls.supports_alpha
    if histogram is None:
        histogram = image_histogram(image, rgba=rgba_mode)
    elif histogram.image is not image or histogram.rgba != rgba_mode:
        raise ParameterError(
            "the histogram given to quantize() was made for another image or alpha mode"
        )
    seconds["histogram"] = histogram.seconds
    visible, pixels = histogram.visible, histogram.pixels
    colors, counts, to_pixels = histogram.colors, histogram.counts, histogram.to_pixels
    if histogram.partial_alpha and not rgba_mode:
        notes.append(f"plugin {plugin!r} has no alpha support: transparency reduced to on/off")
    channels = colors.shape[1]
    has_hidden = visible is not None and not visible.all()
    if has_hidden and k == 1 and len(colors):
        has_hidden = False  # one color: no room for a transparent entry as well
        notes.append("k=1 leaves no room for transparency: the result is opaque")
    k_colors = k - 1 if (has_hidden and len(colors)) else k
    t = stage("histogram", time.perf_counter())

    if len(colors) == 0:
        palette, labels = np.zeros((0, channels), np.uint8), np.zeros(0, np.intp)
    elif len(colors) <= k_colors and not getattr(cls, "fixed_palette", False):
        palette, labels = colors.copy(), np.arange(len(colors))
        if len(colors) < k:
            n_present = len(colors) + has_hidden
            notes.append(
                f"the image has only {n_present} color{'s' if n_present != 1 else ''}; "
                f"k={k} keeps them all"
            )
    else:
        hist = ColorHistogram(colors, counts, pixels)
        palette, labels = run_plugin(
            record,
            hist,
            k_colors,
            seed=seed,
            params=values,
            timeout=timeout,
            should_stop=should_stop,
        )
    t = stage("quantize", t)

    if (
        len(colors)
        and not getattr(cls, "fixed_palette", False)
        and np.all(colors[:, 0] == colors[:, 1])
        and np.all(colors[:, 1] == colors[:, 2])
    ):
        # A gray image gets a gray palette: means of the channels, not drifted hues.
        gray = np.round(palette[:, :3].astype(np.float32).mean(1)).astype(np.uint8)
        palette = palette.copy()
        palette[:, :3] = gray[:, None]

    # Merge duplicate entries and drop unused ones, so "colors" is exact and bits are minimal.
    used_counts = np.bincount(labels, weights=counts, minlength=len(palette)).astype(np.int64)
    entries, remap = np.unique(palette, axis=0, return_inverse=True)
    remap = remap.ravel()
    entry_counts = np.bincount(remap, weights=used_counts, minlength=len(entries)).astype(np.int64)
    keep = entry_counts > 0
    new_index = np.cumsum(keep) - 1
    labels = new_index[remap[labels]]
    entries, entry_counts = entries[keep], entry_counts[keep]

    if channels == 4:
        # Visible pixels stay visible, whatever alpha the plugin gave their entry.
        pal_rgb, pal_alpha = entries[:, :3], np.maximum(entries[:, 3], 1)
    else:
        pal_rgb, pal_alpha = entries, None
    if has_hidden:
        pal_rgb = np.vstack([pal_rgb, np.zeros((1, 3), np.uint8)])
        opaque_alpha = np.full(len(entries), 255, np.uint8) if pal_alpha is None else pal_alpha
        pal_alpha = np.append(opaque_alpha, np.uint8(0))
        entry_counts = np.append(entry_counts, np.int64((~visible).sum()))

    # Order: not-opaque entries first (tRNS can then stop early), then by use.
    opaque = np.ones(len(pal_rgb), bool) if pal_alpha is None else pal_alpha == 255
    order = np.lexsort((-entry_counts, opaque))
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    pal_rgb, entry_counts = pal_rgb[order], entry_counts[order]
    if pal_alpha is not None:
        pal_alpha = pal_alpha[order]
        if pal_alpha.min() == 255:
            pal_alpha = None
    color_labels = rank[labels] if len(labels) else labels
    index_dtype = np.uint8 if len(pal_rgb) <= 256 else np.uint16

    if visible is None:
        indices = to_pixels(color_labels.astype(index_dtype)).reshape(h, w)
    else:
        flat = np.full(h * w, rank[len(entries)] if has_hidden else 0, index_dtype)
        if len(colors):
            flat[visible] = to_pixels(color_labels.astype(index_dtype))
        indices = flat.reshape(h, w)
        if not has_hidden and not visible.all():  # k=1: hidden pixels share the one entry
            entry_counts = np.bincount(flat, minlength=len(pal_rgb)).astype(np.int64)
    t = stage("map", t)

    source_pairs = None
    if channels == 3 and len(colors):
        source_pairs = (colors, color_labels, counts)
    elif channels == 4:
        vis = colors[:, 3] > 0
        source_pairs = (colors[vis, :3], color_labels[vis], counts[vis])

    dithered = False
    if strength > 0 and len(pal_rgb) > 256:
        # Pillow's error diffusion takes a palette of at most 256 entries.
        notes.append(f"dithering skipped: {len(pal_rgb)} colors are more than it takes (256)")
    elif strength > 0 and len(pal_rgb) > 1:
        dithered_indices, dither_note = _dither(image, pal_rgb, pal_alpha, indices, strength)
        if dither_note:
            notes.append(dither_note)
        if dithered_indices is not None:
            indices, dithered, source_pairs = dithered_indices, True, None
            entry_counts = np.bincount(indices.ravel(), minlength=len(pal_rgb)).astype(np.int64)
        t = stage("dither", t)

    return Quantized(
        palette=pal_rgb,
        alpha=pal_alpha,
        indices=indices,
        counts=entry_counts,
        k=k,
        plugin=plugin,
        params=values,
        seed=seed,
        dithered=dithered,
        seconds=seconds,
        notes=tuple(notes),
        source_pairs=source_pairs,
    )


def check_dither(dither: Any) -> float:
    """The dithering strength in 0..1 from ``True``/``False`` or a number; ParameterError if not."""
    if isinstance(dither, (bool, np.bool_)):
        return 1.0 if dither else 0.0
    try:
        strength = float(dither)
    except (TypeError, ValueError):
        raise ParameterError(
            f"dither must be true, false or a strength 0..1; got {dither!r}"
        ) from None
    if not 0.0 <= strength <= 1.0:
        raise ParameterError(f"dither strength must be between 0 and 1; got {dither!r}")
    return strength


def _dither(
    image: Image,
    pal_rgb: np.ndarray,
    pal_alpha: np.ndarray | None,
    indices: np.ndarray,
    strength: float = 1.0,
):
    """Floyd–Steinberg onto the opaque entries of the same palette.

    Full strength from 8-bit colors uses Pillow's C loop when its lookup can tell the entries
    apart; otherwise (and at a partial strength, or from 16-bit colors)
    :func:`kmc_tui.dither.error_diffusion` (the same weights, many times slower).
    """
    from PIL import Image as PILImage

    opaque_entries = (
        np.arange(len(pal_rgb)) if pal_alpha is None else np.flatnonzero(pal_alpha == 255)
    )
    if len(opaque_entries) < 2:
        return None, "dithering skipped: fewer than two opaque colors"
    sub = pal_rgb[opaque_entries]
    # Pad with copies of the first entry: whatever Pillow picks maps back to a real entry.
    padded = np.vstack([sub, np.repeat(sub[:1], 256 - len(sub), axis=0)])
    pal_img = PILImage.new("P", (1, 1))
    pal_img.putpalette(padded.tobytes())
    counts = np.bincount(indices.ravel(), minlength=len(pal_rgb))[opaque_entries]
    if (
        strength < 1.0
        or image.rgb16 is not None
        or pillow_shadowed_share(sub, pal_img, counts) >= SHADOWED_SHARE_MAX
    ):
        from .dither import error_diffusion

        where = None if pal_alpha is None else pal_alpha[indices] == 255
        source = image.rgb if image.rgb16 is None else image.rgb16
        out = error_diffusion(source, sub, strength=strength, where=where)
        dithered = opaque_entries[out].astype(indices.dtype)
        if where is None:
            return dithered, None
        return np.where(where, dithered, indices), "dithering applied to opaque pixels only"
    src = PILImage.fromarray(image.rgb)
    out = np.asarray(src.quantize(palette=pal_img, dither=PILImage.Dither.FLOYDSTEINBERG))
    out = np.where(out >= len(sub), 0, out)
    dithered = opaque_entries[out].astype(indices.dtype)
    note = None
    if pal_alpha is not None:
        # Only pixels whose undithered entry is opaque are dithered; alpha stays as it was.
        keep = pal_alpha[indices] != 255
        dithered = np.where(keep, indices, dithered)
        note = "dithering applied to opaque pixels only"
    return dithered, note


#: Above this share of pixels whose nearest entry Pillow's lookup cannot pick, full-strength
#: dithering goes through our sweep instead (docs/performance.md: at 64% ΔE2000 fell by 11%;
#: at 7-9% it rose by ~2%, at 8-14 times the time).
SHADOWED_SHARE_MAX = 0.25


def pillow_shadowed_share(entries: np.ndarray, palette_image, counts: np.ndarray) -> float:
    """The share of `counts` (pixels per entry) held by entries Pillow's lookup cannot pick.

    It decides on cells of 4 levels a side, so an entry close to another may never be chosen
    (of reds 100, 101, 102 and 103 only 100 and 103 are): its pixels then turn to noise.
    """
    from PIL import Image as PILImage

    probe = PILImage.fromarray(np.ascontiguousarray(entries[None, :, :], np.uint8))
    got = np.asarray(probe.quantize(palette=palette_image, dither=PILImage.Dither.NONE))[0]
    got = np.where(got >= len(entries), 0, got)  # the padding repeats entry 0
    shadowed = (entries[got] != entries).any(axis=1)
    return float(counts[shadowed].sum() / max(int(counts.sum()), 1))
