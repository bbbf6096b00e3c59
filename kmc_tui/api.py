"""The headless Python API: read, quantize, encode, measure and write in one call."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .animation import ANIMATED_FORMATS, process_animation, read_animation
from .encode import DEFAULT_OPTIMIZE, check_optimize, encode
from .errors import OutputError, OutputExists, ParameterError
from .formats import PALETTE_FORMATS, format_for
from .fsio import write_atomic
from .quantize import ALPHA_THRESHOLD, ImageHistogram, Quantized, quantize
from .read import Image, read_image
from .registry import Registry
from .stats import Stats, lossless_color_error, measure

if TYPE_CHECKING:
    from .targets import Target, TargetSearch


@dataclass(frozen=True, eq=False)
class Result:
    """One image quantized and encoded (and possibly written).

    Attributes
    ----------
    image : Image
        The input.
    quantized : Quantized
    data : bytes
        The encoded file.
    format : str
    stats : Stats
    output : Path or None
        Where `data` was written, if it was.
    search : TargetSearch or None
        How k was chosen, when a target chose it (:func:`kmc_tui.targets.search_k`).
    """

    image: Image
    quantized: Quantized
    data: bytes
    format: str
    stats: Stats
    output: Path | None = None
    search: TargetSearch | None = None

    @property
    def notes(self) -> tuple[str, ...]:
        return self.image.notes + self.quantized.notes


def _quantize_and_encode(
    image: Image,
    k: int,
    *,
    plugin: str,
    params: dict | None,
    seed: int,
    dither: bool | float,
    fmt: str,
    registry: Registry | None,
    should_stop: Callable[[], bool] | None,
    timeout: float | None,
    optimize: int,
    keep_metadata: bool,
    seconds: dict[str, float],
    histogram: ImageHistogram | None = None,
) -> tuple[Quantized, bytes, dict]:
    """Quantize, encode and measure; each stage's time goes into `seconds`."""
    q = quantize(
        image,
        k,
        plugin=plugin,
        params=params,
        seed=seed,
        dither=dither,
        palette_format=fmt in PALETTE_FORMATS,
        registry=registry,
        should_stop=should_stop,
        timeout=timeout,
        histogram=histogram,
    )
    seconds.update(q.seconds)
    data, figures = _encode_and_measure(
        image, q, fmt, seconds, optimize=optimize, keep_metadata=keep_metadata
    )
    return q, data, figures


def _encode_and_measure(
    image: Image,
    q: Quantized,
    fmt: str,
    seconds: dict[str, float],
    data: bytes | None = None,
    *,
    optimize: int = DEFAULT_OPTIMIZE,
    keep_metadata: bool = False,
    errors: tuple[float, float] | None = None,
) -> tuple[bytes, dict]:
    """Encode `q` (unless `data` is its encoding already) and measure it (`errors`: its
    :func:`~kmc_tui.stats.lossless_color_error`, if already computed)."""
    # The color error of an exact format needs only the palette: it is computed while the file
    # is encoded (zlib runs outside the GIL).
    with ThreadPoolExecutor(1, thread_name_prefix="kmc-tui stats") as pool:
        pending = None if errors is not None else pool.submit(lossless_color_error, q, fmt)
        if data is None:
            metadata = image.metadata if keep_metadata else None
            t = time.perf_counter()
            data = encode(q, fmt, optimize=optimize, metadata=metadata)
            seconds["encode"] = time.perf_counter() - t
        t = time.perf_counter()
        if pending is not None:
            errors = pending.result()
        figures = measure(image, q, data, fmt, errors=errors)
    seconds["stats"] = time.perf_counter() - t
    return data, figures


def as_format_holds(image: Image, format: str) -> Image:
    """`image` with its transparency as `format` stores it.

    GIF keeps transparency on or off: alpha is made so before quantizing (below 128 hidden,
    the rest opaque), so no palette entry is spent on a see-through shade the file cannot hold
    and the figures count the colors written. Other formats get `image` itself.
    """
    alpha = image.alpha
    if format != "gif" or alpha is None or not np.any((alpha > 0) & (alpha < 255)):
        return image
    on_off = np.where(alpha >= ALPHA_THRESHOLD, 255, 0).astype(np.uint8)
    note = "GIF holds transparency on or off: alpha below 128 made transparent, the rest opaque"
    return dataclasses.replace(
        image, alpha=None if on_off.min() == 255 else on_off, notes=(*image.notes, note)
    )


def process(
    image: Image,
    k: int = 64,
    *,
    plugin: str = "kmeans",
    params: dict | None = None,
    seed: int = 0,
    dither: bool | float = False,
    format: str = "png",
    registry: Registry | None = None,
    should_stop: Callable[[], bool] | None = None,
    timeout: float | None = None,
    optimize: int = DEFAULT_OPTIMIZE,
    keep_metadata: bool = False,
    histogram: ImageHistogram | None = None,
) -> Result:
    """Quantize `image`, encode it in `format` and compute its statistics; write nothing.

    `should_stop` is polled between stages and by plugins that take it (Cancelled when it
    returns True); `timeout` bounds the plugin's seconds (PluginTimeout past it).
    `optimize` is the PNG deflate effort (see :data:`~kmc_tui.encode.OPTIMIZE_LEVELS`);
    `keep_metadata` writes the image's :attr:`~kmc_tui.read.Image.metadata` where the format
    holds it; `histogram` is `image`'s :func:`~kmc_tui.quantize.image_histogram`, if already
    counted.
    """
    fmt = format_for("", format)
    held = as_format_holds(image, fmt)
    if held is not image:
        image, histogram = held, None  # the colors counted were those before the change
    seconds: dict[str, float] = {}
    q, data, figures = _quantize_and_encode(
        image,
        k,
        plugin=plugin,
        params=params,
        seed=seed,
        dither=dither,
        fmt=fmt,
        registry=registry,
        should_stop=should_stop,
        timeout=timeout,
        optimize=check_optimize(optimize),
        keep_metadata=keep_metadata,
        seconds=seconds,
        histogram=histogram,
    )
    return Result(image, q, data, fmt, Stats.of_run(image, q, figures, seconds))


def finish(
    image: Image,
    quantized: Quantized,
    *,
    format: str = "png",
    data: bytes | None = None,
    optimize: int = DEFAULT_OPTIMIZE,
    keep_metadata: bool = False,
    errors: tuple[float, float] | None = None,
) -> Result:
    """Encode `quantized` (made from `image`) in `format` and compute its statistics: the
    steps of :func:`process` after the quantization. `data`: its encoding, if already made;
    `errors`: its :func:`~kmc_tui.stats.lossless_color_error`, if already computed."""
    fmt = format_for("", format)
    seconds = dict(quantized.seconds)
    data, figures = _encode_and_measure(
        image,
        quantized,
        fmt,
        seconds,
        data,
        optimize=check_optimize(optimize),
        keep_metadata=keep_metadata,
        errors=errors,
    )
    return Result(image, quantized, data, fmt, Stats.of_run(image, quantized, figures, seconds))


def _write(image: Image, data: bytes, path, *, force: bool) -> tuple[Path, float]:
    """Write `data` safely, never over `image`'s own file; (where, seconds it took)."""
    protect = (image.path,) if image.path is not None else ()
    t = time.perf_counter()
    out = write_atomic(path, data, force=force, protect=protect)
    return out, time.perf_counter() - t


def save(result: Result, path: str | os.PathLike, *, force: bool = False) -> Result:
    """Write `result`'s bytes to `path` (temporary file + rename); never replaces without force.

    Returns a new Result whose stats name the output and include the time to write it.
    """
    out, write_seconds = _write(result.image, result.data, path, force=force)
    seconds = {**result.stats.seconds, "write": write_seconds}
    stats = dataclasses.replace(result.stats, output=str(out), seconds=seconds)
    return dataclasses.replace(result, stats=stats, output=out)


def compress(
    input: str | os.PathLike,
    output: str | os.PathLike,
    k: int = 64,
    *,
    plugin: str = "kmeans",
    params: dict | None = None,
    seed: int = 0,
    dither: bool | float = False,
    format: str | None = None,
    force: bool = False,
    registry: Registry | None = None,
    should_stop: Callable[[], bool] | None = None,
    timeout: float | None = None,
    max_pixels: int | None = None,
    optimize: int = DEFAULT_OPTIMIZE,
    keep_metadata: bool = False,
    per_frame_palette: bool = False,
    target: Target | None = None,
    skip_if_larger: bool = False,
) -> Result:
    """Read `input`, reduce it to at most `k` colors and write `output`.

    An animated GIF, APNG or WebP written as GIF, PNG or WebP stays animated (one shared
    palette, or one per frame with `per_frame_palette` where the format allows); other outputs
    get the first frame.

    The format comes from `format` or the extension of `output`. Nothing is written when
    anything fails; an existing file (or the input) is only replaced with ``force=True``.
    With a `target` (:class:`kmc_tui.targets.Target`) k is chosen by
    :func:`kmc_tui.targets.search_k`, `k` being the most colors allowed. With
    `skip_if_larger`, a result that is not smaller than the input file is not written: the
    Result comes back with ``output`` None.

    Raises
    ------
    KmcError
        InputError, OutputError, ParameterError or PluginError, with a one-line message;
        Cancelled when `should_stop` returns True before the file is written;
        TargetUnreachable when no k meets `target`.
    """
    fmt = format_for(output, format)
    out_path = Path(output)
    if not force and out_path.exists():
        raise OutputExists(f"{out_path}: already exists (use --force to overwrite)")
    if out_path.parent != Path("") and not out_path.parent.is_dir():
        raise OutputError(f"{out_path.parent}: output folder does not exist")
    optimize = check_optimize(optimize)
    t = time.perf_counter()
    image = as_format_holds(read_image(input, max_pixels=max_pixels, metadata=keep_metadata), fmt)
    seconds = {"read": time.perf_counter() - t}
    settings = dict(
        plugin=plugin,
        params=params,
        seed=seed,
        dither=dither,
        registry=registry,
        should_stop=should_stop,
        timeout=timeout,
        optimize=optimize,
    )
    if image.frames > 1 and fmt in ANIMATED_FORMATS:
        if target is not None:
            raise ParameterError(
                f"{input}: a target chooses k for one still image, not for an animation"
            )
        t = time.perf_counter()
        animation = read_animation(input, max_pixels=max_pixels)
        seconds["read"] += time.perf_counter() - t
        result = process_animation(
            animation,
            k,
            format=fmt,
            per_frame_palette=per_frame_palette,
            palette_format=fmt in PALETTE_FORMATS,
            metadata=image.metadata if keep_metadata else None,
            **settings,
        )
        seconds.update(result.stats.seconds)
    elif target is None:
        q, data, figures = _quantize_and_encode(
            image, k, fmt=fmt, keep_metadata=keep_metadata, seconds=seconds, **settings
        )
        result = Result(image, q, data, fmt, Stats.of_run(image, q, figures, seconds))
    else:
        from .targets import search_k

        result = search_k(
            image, target, k_max=k, format=fmt, keep_metadata=keep_metadata, **settings
        )
        seconds.update(result.stats.seconds)
    result = dataclasses.replace(result, stats=dataclasses.replace(result.stats, seconds=seconds))
    if skip_if_larger and image.file_bytes is not None:
        if result.stats.output_bytes >= image.file_bytes:
            return result
    return save(result, out_path, force=force)
