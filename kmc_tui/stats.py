"""The numbers that say what a quantization cost and saved."""

from __future__ import annotations

import io as _io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Stats:
    """Figures for one image, shared by the API, the CLI's --json and the TUI's panel.

    Immutable: every field, `seconds` and `params` included, is set when it is built (see
    :meth:`of_run`); a later stage (writing the file) makes a new one with
    :func:`dataclasses.replace`.

    Attributes
    ----------
    width, height : int
    input_bytes : int or None
        Size of the input file (None for an in-memory image).
    output_bytes : int
    ratio : float or None
        output_bytes / input_bytes (the original script's definition; lower is better).
    saved_percent : float or None
        100 * (1 - ratio).
    bits_per_pixel : float
        8 * output_bytes / pixels.
    colors : int
        Distinct colors in the output as a decoder will see it.
    exact : bool
        True when the file holds exactly the palette (PNG, GIF, lossless WebP).
    psnr : float
        Over RGB of the pixels that are not fully transparent, in dB (inf when identical).
    delta_e : float
        Mean CIEDE2000 over the same pixels.
    format : str
    seconds : mapping of str to float
        Time per stage (read-only).
    input, output : str or None
        The files read and written, when there are files.
    k : int or None
        The k asked for.
    plugin : str or None
    params : mapping
        The plugin's parameters as used, defaults included (read-only).
    notes : tuple of str
        Things the user should know about this image and its result.
    """

    width: int
    height: int
    input_bytes: int | None
    output_bytes: int
    ratio: float | None
    saved_percent: float | None
    bits_per_pixel: float
    colors: int
    exact: bool
    psnr: float
    delta_e: float
    format: str
    seconds: Mapping[str, float] = field(default_factory=dict)
    input: str | None = None
    output: str | None = None
    k: int | None = None
    plugin: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "seconds", MappingProxyType(dict(self.seconds)))
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        object.__setattr__(self, "notes", tuple(self.notes))

    @classmethod
    def of_run(
        cls,
        image,
        quantized,
        figures: Mapping[str, Any],
        seconds: Mapping[str, float],
        *,
        output: str | None = None,
    ) -> Stats:
        """The Stats of `quantized` (from `image`), from :func:`measure`'s `figures`."""
        return cls(
            **figures,
            seconds=seconds,
            input=None if image.path is None else str(image.path),
            output=None if output is None else str(output),
            k=quantized.k,
            plugin=quantized.plugin,
            params=quantized.params,
            notes=tuple(image.notes) + tuple(quantized.notes),
        )

    def __reduce__(self):
        # Read-only mappings do not pickle; a Stats crosses process boundaries in batches.
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["seconds"], values["params"] = dict(self.seconds), dict(self.params)
        return (_rebuild_stats, (values,))

    @property
    def total_seconds(self) -> float:
        return float(sum(self.seconds.values()))

    def as_dict(self) -> dict:
        """The JSON record of ``kmc-tui compress --json``: plain types, PSNR None when infinite.

        Keys: input, output, input_bytes, output_bytes, ratio, saved_percent, bits_per_pixel,
        colors, k, exact_colors, psnr, delta_e, seconds (the total), stage_seconds, width,
        height, format, plugin, params, notes.
        """
        return {
            "input": self.input,
            "output": self.output,
            "input_bytes": self.input_bytes,
            "output_bytes": self.output_bytes,
            "ratio": self.ratio,
            "saved_percent": self.saved_percent,
            "bits_per_pixel": self.bits_per_pixel,
            "colors": self.colors,
            "k": self.k,
            "exact_colors": self.exact,
            "psnr": None if math.isinf(self.psnr) else self.psnr,
            "delta_e": self.delta_e,
            "seconds": self.total_seconds,
            "stage_seconds": dict(self.seconds),
            "width": self.width,
            "height": self.height,
            "format": self.format,
            "plugin": self.plugin,
            "params": dict(self.params),
            "notes": list(self.notes),
        }


def _rebuild_stats(values: dict) -> Stats:
    return Stats(**values)


def _pairs_from_pixels(src_rgb: np.ndarray, out_rgb: np.ndarray, mask: np.ndarray | None):
    """Distinct (source color, output color) pairs with counts, over the masked pixels."""
    src = src_rgb.reshape(-1, 3)
    out = out_rgb.reshape(-1, 3)
    if mask is not None:
        src, out = src[mask.reshape(-1)], out[mask.reshape(-1)]
    code = (
        (src[:, 0].astype(np.int64) << 40)
        | (src[:, 1].astype(np.int64) << 32)
        | (src[:, 2].astype(np.int64) << 24)
        | (out[:, 0].astype(np.int64) << 16)
        | (out[:, 1].astype(np.int64) << 8)
        | out[:, 2].astype(np.int64)
    )
    uniq, counts = np.unique(code, return_counts=True)
    shifts = np.array([40, 32, 24, 16, 8, 0], np.int64)
    parts = ((uniq[:, None] >> shifts) & 255).astype(np.uint8)
    return parts[:, :3], parts[:, 3:], counts


def srgb8_linear() -> np.ndarray:
    """Linear light of each sRGB 8-bit level (IEC 61966-2-1's curve): (256,) float64."""
    level = np.arange(256) / 255.0
    return np.where(level > 0.04045, ((level + 0.055) / 1.055) ** 2.4, level / 12.92)


def srgb_from_linear(linear: np.ndarray) -> np.ndarray:
    """sRGB encoding (0..1) of linear light, clipped to 0..1 first: float64."""
    linear = np.clip(np.asarray(linear, np.float64), 0.0, 1.0)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1.0 / 2.4) - 0.055)


#: sRGB 8-bit level -> linear light, times each XYZ row over the D65 white: (3, 256, 3).
_XYZ_TABLES: np.ndarray | None = None


def srgb8_to_lab(colors: np.ndarray) -> np.ndarray:
    """(n, 3) uint8 sRGB colors to (n, 3) float32 CIELAB (D65, 2°).

    The same formulas as ``skimage.color.rgb2lab``, with the gamma curve read from a 256-entry
    table: several times faster on the ~0.5 M distinct colors of a 12 MP photo.
    """
    global _XYZ_TABLES
    if _XYZ_TABLES is None:
        from skimage.color import xyz_tristimulus_values
        from skimage.color.colorconv import xyz_from_rgb

        linear = srgb8_linear()
        rows = (
            xyz_from_rgb
            / np.asarray(xyz_tristimulus_values(illuminant="D65", observer="2"))[:, None]
        )
        _XYZ_TABLES = np.stack([linear[:, None] * rows[:, j] for j in range(3)]).astype(np.float32)
    t = _XYZ_TABLES
    # np.take and in-place sums: the same float32 values as t[0][colors[:, 0]] + … in a
    # third of the time; the linear branch only where it applies.
    xyz = np.take(t[0], colors[:, 0], axis=0)
    xyz += np.take(t[1], colors[:, 1], axis=0)
    xyz += np.take(t[2], colors[:, 2], axis=0)
    f = np.cbrt(xyz)
    low = xyz <= np.float32(0.008856)
    if low.any():
        f[low] = np.float32(7.787) * xyz[low] + np.float32(16.0 / 116.0)
    lab = np.empty_like(f)
    lab[:, 0] = 116.0 * f[:, 1] - 16.0
    lab[:, 1] = 500.0 * (f[:, 0] - f[:, 1])
    lab[:, 2] = 200.0 * (f[:, 1] - f[:, 2])
    return lab


def color_error(src: np.ndarray, out: np.ndarray, counts: np.ndarray) -> tuple[float, float]:
    """(PSNR in dB, mean CIEDE2000) of source colors `src` shown as `out`, weighted by counts."""
    return _color_error(src, out, srgb8_to_lab(out), counts)


def palette_color_error(
    src: np.ndarray, labels: np.ndarray, palette: np.ndarray, counts: np.ndarray
) -> tuple[float, float]:
    """:func:`color_error` of `src` shown as ``palette[labels]``: each entry's CIELAB is
    computed once rather than once per source color."""
    return _color_error(src, palette[labels], srgb8_to_lab(palette)[labels], counts)


def _color_error(
    src: np.ndarray, out: np.ndarray, out_lab: np.ndarray, counts: np.ndarray
) -> tuple[float, float]:
    from skimage.color import deltaE_ciede2000

    total = counts.sum()
    if total == 0:
        return float("inf"), 0.0
    # Squared errors in integers: exact, as the float64 sums of integers they replace were.
    diff = src.astype(np.int32) - out.astype(np.int32)
    squares = np.einsum("ij,ij->i", diff, diff)
    mse = float(int(np.dot(squares.astype(np.int64), counts.astype(np.int64))) / (3.0 * total))
    psnr = float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))
    de = deltaE_ciede2000(srgb8_to_lab(src), out_lab)  # float32 in, float32 out
    return psnr, float((de.astype(np.float64) * counts).sum() / total)


def decode_bytes(data: bytes) -> np.ndarray:
    """Decode an encoded result back to (H, W, 3|4) uint8, as a viewer would see it."""
    import imageio.v3 as iio

    arr = iio.imread(_io.BytesIO(data), plugin="pillow", index=0)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return arr


def stores_exactly(format: str) -> bool:
    """Whether `format` keeps every pixel of a quantized result as it is (palette, WebP)."""
    from .formats import PALETTE_FORMATS

    return format in PALETTE_FORMATS or format == "webp"


def lossless_color_error(quantized, format: str) -> tuple[float, float] | None:
    """(PSNR, mean ΔE2000) of `quantized` when `format` stores it exactly, from its distinct
    (source, output) color pairs alone; None when the encoded pixels must be looked at."""
    if stores_exactly(format) and quantized.source_pairs is not None:
        src, idx, counts = quantized.source_pairs
        return palette_color_error(src, idx, quantized.palette, counts)
    return None


def measure(
    image, quantized, data: bytes, format: str, *, errors: tuple[float, float] | None = None
) -> dict[str, Any]:
    """The figures of :class:`Stats` for `quantized` (from `image`) encoded as `data`.

    `errors` is :func:`lossless_color_error`'s result if already computed.
    """
    exact = stores_exactly(format)
    if errors is None:
        errors = lossless_color_error(quantized, format)
    if errors is not None:
        colors = quantized.colors
        psnr, delta_e = errors
    else:
        visible = None if image.alpha is None else image.alpha > 0
        decoded = decode_bytes(data) if not exact else quantized.rgba()
        from .quantize import pack_colors

        colors = len(np.unique(pack_colors(decoded.reshape(-1, decoded.shape[-1]))))
        src, out, counts = _pairs_from_pixels(image.rgb, decoded[..., :3], visible)
        psnr, delta_e = color_error(src, out, counts)
    input_bytes = image.file_bytes
    ratio = len(data) / input_bytes if input_bytes else None
    return {
        "width": image.width,
        "height": image.height,
        "input_bytes": input_bytes,
        "output_bytes": len(data),
        "ratio": ratio,
        "saved_percent": None if ratio is None else 100.0 * (1.0 - ratio),
        "bits_per_pixel": 8.0 * len(data) / image.pixels,
        "colors": int(colors),
        "exact": exact,
        "psnr": psnr,
        "delta_e": delta_e,
        "format": format,
    }


def compute_stats(
    image,
    quantized,
    data: bytes,
    format: str,
    seconds: Mapping[str, float] | None = None,
    *,
    errors: tuple[float, float] | None = None,
    output: str | None = None,
) -> Stats:
    """Statistics of `quantized` (from `image`) encoded as `data` in `format`.

    `errors` is :func:`lossless_color_error`'s result if already computed.
    """
    figures = measure(image, quantized, data, format, errors=errors)
    return Stats.of_run(image, quantized, figures, seconds or {}, output=output)
