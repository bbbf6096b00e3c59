"""Reading any image a user has into 8-bit RGB (+ alpha), upright.

Decoding goes through imageio with the Pillow plugin named explicitly: imageio's automatic
plugin selection was seen to hang for over a minute on a fuzzed TIFF.
"""

from __future__ import annotations

import os
import stat
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError, ParameterError

# Everything the decoders in Pillow were seen to raise on broken files; translated to InputError.
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    EOFError,
    ZeroDivisionError,
    MemoryError,
    zlib.error,
    RuntimeError,
    AttributeError,
    NotImplementedError,
)

_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "La", "RGBa", "RGBX"})
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "F"})


@dataclass(frozen=True, eq=False)
class Image:
    """An image ready to quantize: 8-bit RGB plus an optional alpha plane.

    Attributes
    ----------
    rgb : ndarray of uint8, shape (H, W, 3)
    alpha : ndarray of uint8, shape (H, W), or None when every pixel is opaque.
    path : Path or None
        Where it was read from, if it was read from a file.
    file_bytes : int or None
        Size of that file in bytes.
    format : str
        The decoder's name for the file format (``"PNG"``, ``"JPEG"`` …) or ``"array"``.
    mode : str
        The source's pixel mode as the decoder reported it (``"P"``, ``"I;16"``, ``"CMYK"`` …).
    notes : tuple of str
        Things the user should be told (first frame of an animation used, 16-bit scaled …).
    """

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    path: Path | None = None
    file_bytes: int | None = None
    format: str = "array"
    mode: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def height(self) -> int:
        return self.rgb.shape[0]

    @property
    def width(self) -> int:
        return self.rgb.shape[1]

    @property
    def pixels(self) -> int:
        return self.rgb.shape[0] * self.rgb.shape[1]

    @property
    def is_gray(self) -> bool:
        """True when every pixel has R == G == B."""
        r, g, b = self.rgb[..., 0], self.rgb[..., 1], self.rgb[..., 2]
        return bool(np.array_equal(r, g) and np.array_equal(g, b))

    def rgba(self) -> np.ndarray:
        """The pixels as (H, W, 4) uint8, alpha 255 where the image has none."""
        out = np.empty((self.height, self.width, 4), np.uint8)
        out[..., :3] = self.rgb
        out[..., 3] = 255 if self.alpha is None else self.alpha
        return out

    def downscaled(self, max_pixels: int) -> Image:
        """A copy with at most `max_pixels` pixels (area-averaged), or self if already small."""
        if self.pixels <= max_pixels:
            return self
        from PIL import Image as PILImage

        scale = (max_pixels / self.pixels) ** 0.5
        size = (max(1, int(self.width * scale)), max(1, int(self.height * scale)))
        src = PILImage.fromarray(self.rgba() if self.alpha is not None else self.rgb)
        small = np.asarray(src.resize(size, PILImage.Resampling.BOX))
        alpha = small[..., 3].copy() if self.alpha is not None else None
        return Image(
            np.ascontiguousarray(small[..., :3]),
            alpha,
            self.path,
            self.file_bytes,
            self.format,
            self.mode,
            self.notes,
        )


def _scale_to_uint8(arr: np.ndarray) -> np.ndarray:
    """Scale any numeric array to uint8 (16-bit scaled, not truncated; floats taken as 0..1)."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * np.uint8(255)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ParameterError("image has NaN or infinite values")
        return np.round(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)
    if arr.dtype.kind in "iu":
        lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        if lo < 0:
            raise ParameterError(f"image has negative values (min {lo}) in dtype {arr.dtype}")
        if arr.dtype == np.uint16 or hi > 255:
            if hi > 65535:
                raise ParameterError(f"image values up to {hi} do not fit 16 bits")
            # Round to nearest: 65535 -> 255, 257 -> 1.
            return ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
        return arr.astype(np.uint8)
    raise ParameterError(f"image dtype {arr.dtype} is not a numeric image type")


def as_image(array, **info) -> Image:
    """Make an :class:`Image` from an array of any common shape and dtype.

    Parameters
    ----------
    array : array_like
        (H, W) gray, (H, W, 1) gray, (H, W, 2) gray + alpha, (H, W, 3) RGB or (H, W, 4) RGBA.
        bool, uint8, uint16 (scaled), other non-negative integers (8- or 16-bit range),
        or float in [0, 1].
    **info
        Passed through to :class:`Image` (``path``, ``file_bytes``, ``format``, ``mode``,
        ``notes``).
    """
    arr = np.asarray(array)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise ParameterError(f"image must have shape (H, W) or (H, W, 1..4); got {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ParameterError(f"image is empty: shape {arr.shape}")
    arr = _scale_to_uint8(arr)
    channels = arr.shape[2]
    color = arr[..., :1] if channels <= 2 else arr[..., :3]
    rgb = np.ascontiguousarray(np.broadcast_to(color, arr.shape[:2] + (3,)))
    alpha = None
    if channels in (2, 4):
        alpha = np.ascontiguousarray(arr[..., -1])
        if alpha.min() == 255:
            alpha = None
    return Image(rgb, alpha, **info)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    name = type(exc).__name__
    return f"{text[0]}" if text and text[0] else name


def read_image(path: str | os.PathLike) -> Image:
    """Read an image file as 8-bit RGB (+ alpha), upright, first frame.

    Handles 1/8/16-bit gray and color, gray + alpha, palette images with tRNS transparency,
    RGBA, CMYK (converted to RGB, not mistaken for RGBA) and EXIF orientation. Pillow's
    decompression-bomb limit is kept.

    Raises
    ------
    InputError
        With a one-line message naming the file and the problem.
    """
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot access: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path}: is a folder, not an image")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path}: not a regular file")
    if st.st_size == 0:
        raise InputError(f"{path}: empty file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied")

    import imageio.v3 as iio
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    notes: list[str] = []
    try:
        # Header only: mode, size and frame count, before any pixel is decoded.
        with PILImage.open(path) as probe:
            fmt = probe.format or "?"
            mode = probe.mode
            width, height = probe.size
            has_transparency = "transparency" in probe.info
            transparency = probe.info.get("transparency")
            rawmode = probe.tile[0].args if fmt == "PNG" and len(probe.tile) == 1 else None
            frames = getattr(probe, "n_frames", 1) if getattr(probe, "is_animated", False) else 1
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image file (or a format that cannot be read)") from None
    except PILImage.DecompressionBombError as exc:
        raise InputError(
            f"{path}: refused as a possible decompression bomb: {_describe(exc)}"
        ) from None
    except _DECODE_ERRORS as exc:
        raise InputError(f"{path}: cannot read image: {_describe(exc)}") from None

    limit = PILImage.MAX_IMAGE_PIXELS
    if limit and width * height > limit:
        raise InputError(
            f"{path}: refused as a possible decompression bomb: {width}x{height} = "
            f"{width * height} pixels is over the limit of {limit}"
        )
    if width < 1 or height < 1:
        raise InputError(f"{path}: image has no pixels ({width}x{height})")
    if fmt == "PNG":
        _check_png_crcs(path)  # Pillow does not check IDAT's CRC (PngSuite xcsn0g01)

    # A gray tRNS key is compared with the pixels' own values, before any scaling.
    gray_key = (
        isinstance(transparency, int)
        and not isinstance(transparency, bool)
        and mode in ("1", "L", "I;16", "I;16B", "I;16L", "I;16N", "I")
    )
    png16 = frames == 1 and rawmode in _PNG16_LOW_BYTES
    if png16:
        target = None
        notes.append("16-bit input scaled to 8 bits")
    elif gray_key:
        target = None
        if mode not in ("1", "L"):
            notes.append(f"{mode} input scaled to 8 bits")
    elif mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        target = None  # decode natively, then scale: Pillow's own conversion truncates 16-bit
        notes.append(f"{mode} input scaled to 8 bits")
    elif mode in _ALPHA_MODES or has_transparency:
        target = "LA" if mode in ("L", "LA", "La", "1") else "RGBA"
    elif mode in ("1", "L"):
        target = "L"
    else:
        target = "RGB"
        if mode == "CMYK":
            notes.append("CMYK converted to RGB")
    if frames > 1:
        notes.append(f"animated: first of {frames} frames used")

    try:
        if png16:
            arr = _read_png16(path, rawmode, transparency)
        else:
            kwargs = {"mode": target} if target else {}
            arr = iio.imread(path, plugin="pillow", index=0, rotate=True, **kwargs)
        if gray_key and arr.ndim == 2:
            arr = _apply_gray_key(arr, transparency, mode, rawmode)
    except PILImage.DecompressionBombError as exc:
        raise InputError(
            f"{path}: refused as a possible decompression bomb: {_describe(exc)}"
        ) from None
    except _DECODE_ERRORS as exc:
        raise InputError(f"{path}: cannot read image: {_describe(exc)}") from None
    if arr.ndim == 3 and arr.shape[2] == 4 and target is None and not png16:
        raise InputError(f"{path}: unsupported pixel layout {mode} {arr.shape}")
    if mode == "F" and arr.size and float(np.nanmax(arr)) > 1.0:
        arr = np.clip(arr, 0, 255) / 255.0  # float data on a 0..255 scale
    try:
        return as_image(
            arr, path=path, file_bytes=st.st_size, format=fmt, mode=mode, notes=tuple(notes)
        )
    except ParameterError as exc:
        raise InputError(f"{path}: {exc}") from None


#: 16-bit PNG layouts Pillow decodes to 8 bits by keeping the high byte, and the raw mode that
#: yields the low bytes through the same decoder (same bits per pixel, so the same unfiltering).
_PNG16_LOW_BYTES = {"RGB;16B": "RGB;16L", "RGBA;16B": "RGBA;16L", "LA;16B": "RGBA"}


def _read_png16(path: Path, rawmode: str, transparency) -> np.ndarray:
    """A 16-bit color or gray+alpha PNG as uint16 (H, W, C), upright; tRNS applied as alpha.

    Pillow keeps only the high byte (a floor, not a rounding), so decode a second time with a
    raw mode that picks the low bytes, and combine.
    """
    from PIL import Image as PILImage
    from PIL import ImageOps

    def decode(raw: str | None) -> np.ndarray:
        with PILImage.open(path) as im:
            if raw is not None:
                im.tile = [tile._replace(args=raw) for tile in im.tile]
            im.load()
            return np.asarray(ImageOps.exif_transpose(im)).astype(np.uint16)

    low = decode(_PNG16_LOW_BYTES[rawmode])
    if rawmode == "LA;16B":  # decoded as raw bytes: L high, L low, A high, A low
        return np.dstack([low[..., 0] << 8 | low[..., 1], low[..., 2] << 8 | low[..., 3]])
    arr = decode(None) << 8 | low
    if rawmode == "RGB;16B" and isinstance(transparency, tuple) and len(transparency) == 3:
        hidden = np.all(arr == np.asarray(transparency, np.uint16), axis=-1)
        arr = np.dstack([arr, np.where(hidden, 0, 65535).astype(np.uint16)])
    return arr


def _apply_gray_key(arr: np.ndarray, key: int, mode: str, rawmode: str | None) -> np.ndarray:
    """Gray (H, W) plus the alpha its tRNS key gives, as (H, W, 2) in the gray's own scale."""
    if mode == "1":
        gray = arr.astype(bool)
        hidden = gray == bool(key)
        gray = gray.astype(np.uint8) * np.uint8(255)
    else:
        bits = {"L;2": 2, "L;4": 4}.get(rawmode)
        if bits:  # Pillow expands 2/4-bit gray to 8 bits but leaves the key unscaled
            key = key * 255 // ((1 << bits) - 1)
        gray = arr
        hidden = gray == key
    top = 255 if gray.dtype == np.uint8 else 65535
    if gray.dtype != np.uint8:
        gray = gray.astype(np.uint16)
    return np.dstack([gray, np.where(hidden, 0, top).astype(gray.dtype)])


def _check_png_crcs(path: Path) -> None:
    """Raise InputError if a PNG chunk's CRC is wrong (truncation is left to the decoder)."""
    with open(path, "rb") as fh:
        data = fh.read()
    pos = 8
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        end = pos + 8 + length
        if end + 4 > len(data):
            return
        kind = data[pos + 4 : pos + 8]
        if zlib.crc32(data[pos + 4 : end]) != int.from_bytes(data[end : end + 4], "big"):
            name = kind.decode("latin-1") if kind.isalpha() else repr(kind)
            raise InputError(f"{path}: cannot read image: corrupt PNG (bad CRC in {name} chunk)")
        if kind == b"IEND":
            return
        pos = end + 4
