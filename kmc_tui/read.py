"""Reading any image a user has into 8-bit sRGB (+ alpha), upright.

Decoding goes through imageio with the Pillow plugin named explicitly: imageio's automatic
plugin selection was seen to hang for over a minute on a fuzzed TIFF. An embedded ICC profile is
converted to sRGB with Pillow's ImageCms (LittleCMS). 16-bit color keeps its full precision in
:attr:`Image.rgb16` beside the 8-bit :attr:`Image.rgb` the histogram and the plugins see.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import sys
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError, ParameterError
from .stats import srgb_from_linear

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


@dataclass(frozen=True)
class Metadata:
    """What ``--keep-metadata`` carries from the input to the output.

    Attributes
    ----------
    exif : bytes or None
        The EXIF block with its orientation reset to 1 (the pixels are already upright).
    xmp : bytes or None
    text : tuple of (str, str)
        Text chunks (PNG tEXt/zTXt/iTXt, a GIF or JPEG comment as ``("comment", …)``).
    """

    exif: bytes | None = None
    xmp: bytes | None = None
    text: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.exif or self.xmp or self.text)


@dataclass(frozen=True, eq=False)
class Image:
    """An image ready to quantize: 8-bit sRGB plus an optional alpha plane.

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
        Things the user should be told (first frame of an animation used, profile converted …).
    rgb16 : ndarray of uint16, shape (H, W, 3), or None
        The colors at full precision when the source had more than 8 bits that say something
        (``rgb`` is their rounding); mapping and dithering start from these.
    frames : int
        Frames in the file (``rgb`` is the first).
    metadata : Metadata or None
        Read only when asked for (``read_image(..., metadata=True)``).
    """

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    path: Path | None = None
    file_bytes: int | None = None
    format: str = "array"
    mode: str = ""
    notes: tuple[str, ...] = field(default=())
    rgb16: np.ndarray | None = None
    frames: int = 1
    metadata: Metadata | None = None

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
            frames=self.frames,
            metadata=self.metadata,
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


def as_image(array, *, keep_16bit: bool = True, **info) -> Image:
    """Make an :class:`Image` from an array of any common shape and dtype.

    Parameters
    ----------
    array : array_like
        (H, W) gray, (H, W, 1) gray, (H, W, 2) gray + alpha, (H, W, 3) RGB or (H, W, 4) RGBA.
        bool, uint8, uint16 (scaled), other non-negative integers (8- or 16-bit range),
        or float in [0, 1].
    keep_16bit : bool, keyword-only
        Keep 16-bit colors at full precision in :attr:`Image.rgb16` as well.
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
    wide = arr
    arr = _scale_to_uint8(arr)
    channels = arr.shape[2]
    color = arr[..., :1] if channels <= 2 else arr[..., :3]
    rgb = np.ascontiguousarray(np.broadcast_to(color, arr.shape[:2] + (3,)))
    alpha = None
    if channels in (2, 4):
        alpha = np.ascontiguousarray(arr[..., -1])
        if alpha.min() == 255:
            alpha = None
    rgb16 = None
    if keep_16bit and wide.dtype.kind in "iu" and wide.dtype.itemsize > 1:
        wide_color = wide[..., :1] if channels <= 2 else wide[..., :3]
        # Kept only when the low byte says something: 16-bit files of 8-bit data (v = 257 x) are
        # common and need no second copy.
        if int(wide.max()) > 255 and np.any(wide_color != color.astype(np.uint16) * 257):
            rgb16 = np.ascontiguousarray(
                np.broadcast_to(wide_color.astype(np.uint16), arr.shape[:2] + (3,))
            )
    return Image(rgb, alpha, rgb16=rgb16, **info)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    name = type(exc).__name__
    return f"{text[0]}" if text and text[0] else name


#: Guards Pillow's global decompression-bomb limit while a caller's own limit is in force.
_LIMIT_LOCK = threading.Lock()


def _bomb_message(path: Path, text: str) -> str:
    return (
        f"{path}: refused as a possible decompression bomb: {text} "
        "(use --max-pixels N to allow larger images)"
    )


def read_image(
    path: str | os.PathLike, *, max_pixels: int | None = None, metadata: bool = False
) -> Image:
    """Read an image file as 8-bit sRGB (+ alpha), upright, first frame.

    Handles 1/8/16-bit gray and color, gray + alpha, palette images with tRNS transparency,
    RGBA, CMYK (converted to RGB, not mistaken for RGBA), EXIF orientation and embedded ICC
    profiles (converted to sRGB; a profile that cannot be used is a note, the colors are then
    taken as sRGB). 16-bit color PNG and TIFF keep their full precision in ``rgb16``.

    Parameters
    ----------
    path : path-like
    max_pixels : int, optional, keyword-only
        Largest width x height accepted; default Pillow's decompression-bomb limit.
    metadata : bool, keyword-only
        Also read EXIF, XMP and text chunks into :attr:`Image.metadata`.

    Raises
    ------
    InputError
        With a one-line message naming the file and the problem.
    """
    path = Path(path)
    if max_pixels is not None and (
        isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1
    ):
        raise ParameterError(f"max_pixels must be a positive whole number; got {max_pixels!r}")
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

    from PIL import Image as PILImage

    if max_pixels is None:
        return _read(path, st.st_size, PILImage.MAX_IMAGE_PIXELS, metadata)
    # Pillow checks its own global limit when a file is opened; a larger one is set only
    # while this read runs (twice it, as Pillow refuses outright only past 2x its limit).
    with _LIMIT_LOCK:
        saved = PILImage.MAX_IMAGE_PIXELS
        PILImage.MAX_IMAGE_PIXELS = max(saved or 0, max_pixels)
        try:
            return _read(path, st.st_size, max_pixels, metadata)
        finally:
            PILImage.MAX_IMAGE_PIXELS = saved


def _read(path: Path, file_bytes: int, limit: int | None, want_metadata: bool) -> Image:
    import imageio.v3 as iio
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    notes: list[str] = []
    metadata = None
    try:
        # Header only: mode, size and frame count, before any pixel is decoded.
        with PILImage.open(path) as probe:
            fmt = probe.format or "?"
            mode = probe.mode
            width, height = probe.size
            has_transparency = "transparency" in probe.info
            transparency = probe.info.get("transparency")
            icc = probe.info.get("icc_profile") or None
            rawmodes = {_tile_rawmode(tile) for tile in probe.tile}
            rawmode = rawmodes.pop() if len(rawmodes) == 1 else None
            frames = getattr(probe, "n_frames", 1) if getattr(probe, "is_animated", False) else 1
            if want_metadata:
                metadata = _metadata(probe)
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image file (or a format that cannot be read)") from None
    except PILImage.DecompressionBombError as exc:
        raise InputError(_bomb_message(path, _describe(exc))) from None
    except _DECODE_ERRORS as exc:
        raise InputError(f"{path}: cannot read image: {_describe(exc)}") from None

    if limit and width * height > limit:
        raise InputError(
            _bomb_message(
                path,
                f"{width}x{height} = {width * height} pixels is over the limit of {limit}",
            )
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
    wide = frames == 1 and fmt in ("PNG", "TIFF") and rawmode in _LOW_BYTES
    # 32-bit and float gray have no one scale a profile's curve is defined on: taken as they are.
    color_profile = icc is not None and mode not in ("1", "I", "F")
    if wide:
        target = None
    elif gray_key:
        target = None
    elif mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        target = None  # decode natively, then scale: Pillow's own conversion truncates 16-bit
    elif mode in _ALPHA_MODES or has_transparency:
        target = "LA" if mode in ("L", "LA", "La", "1") else "RGBA"
    elif mode in ("1", "L"):
        target = "L"
    elif mode == "CMYK" and color_profile:
        target = "CMYK"  # the profile converts it
    else:
        target = "RGB"
        if mode == "CMYK":
            notes.append("CMYK converted to RGB")
    if frames > 1:
        notes.append(f"animated: first of {frames} frames used")

    try:
        if wide:
            arr = _read_16bit(path, rawmode, transparency)
        else:
            kwargs = {"mode": target} if target else {}
            arr = iio.imread(path, plugin="pillow", index=0, rotate=True, **kwargs)
        if gray_key and arr.ndim == 2:
            arr = _apply_gray_key(arr, transparency, mode, rawmode)
    except PILImage.DecompressionBombError as exc:
        raise InputError(_bomb_message(path, _describe(exc))) from None
    except _DECODE_ERRORS as exc:
        raise InputError(f"{path}: cannot read image: {_describe(exc)}") from None
    if arr.ndim == 3 and arr.shape[2] == 4 and target is None and not wide:
        raise InputError(f"{path}: unsupported pixel layout {mode} {arr.shape}")
    if mode == "F" and arr.size and float(np.nanmax(arr)) > 1.0:
        arr = np.clip(arr, 0, 255) / 255.0  # float data on a 0..255 scale
    keep_16bit = True
    if color_profile:
        arr, note, converted = _to_srgb(arr, icc, cmyk=target == "CMYK")
        if note:
            notes.append(note)
        if converted and arr.dtype == np.uint8 and wide:
            keep_16bit = False
            notes.append("16-bit input converted to sRGB at 8 bits (a lookup-table profile)")
        if target == "CMYK" and not converted:
            arr = np.asarray(PILImage.fromarray(arr, "CMYK").convert("RGB"))
            notes.append("CMYK converted to RGB")
    try:
        return as_image(
            arr,
            keep_16bit=keep_16bit,
            path=path,
            file_bytes=file_bytes,
            format=fmt,
            mode=mode,
            notes=tuple(notes),
            frames=frames,
            metadata=metadata,
        )
    except ParameterError as exc:
        raise InputError(f"{path}: {exc}") from None


def _tile_rawmode(tile) -> str | None:
    args = tile.args
    if isinstance(args, str):  # PNG
        return args
    if isinstance(args, tuple) and args and isinstance(args[0], str):  # TIFF
        return args[0]
    return None


_SRGB_PROFILE = None


def _to_srgb(arr: np.ndarray, icc: bytes, *, cmyk: bool) -> tuple[np.ndarray, str | None, bool]:
    """Colors under an embedded ICC profile converted to sRGB: (array, note or None, converted).

    sRGB profiles are left alone. A profile that cannot be read or does not fit the pixels is
    reported in the note and the colors are taken as they are.
    """
    global _SRGB_PROFILE
    from PIL import Image as PILImage
    from PIL import ImageCms

    gray = arr.ndim == 2 or arr.shape[-1] == 2
    what = "CMYK" if cmyk else "GRAY" if gray else "RGB"
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        name = (ImageCms.getProfileDescription(source) or "").strip()
        space = source.profile.xcolor_space.strip()
    except (OSError, ValueError, TypeError, ImageCms.PyCMSError) as exc:
        return arr, f"ICC profile not usable ({_describe(exc)}): colors taken as sRGB", False
    if space != what:
        return arr, f"ICC profile is for {space or '?'}, not {what}: colors taken as sRGB", False
    if not cmyk and "srgb" in name.lower():
        return arr, None, False
    note = f"converted from ICC profile {name or '(unnamed)'} to sRGB"
    if _SRGB_PROFILE is None:
        _SRGB_PROFILE = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    if gray:
        try:
            table = _gray_table(icc, source, np.iinfo(arr.dtype).max)
        except (OSError, ValueError, TypeError, ImageCms.PyCMSError) as exc:
            return arr, f"ICC profile not usable ({_describe(exc)}): colors taken as sRGB", False
        level = table[arr[..., 0] if arr.ndim == 3 else arr]
        return (np.dstack([level, arr[..., 1]]) if arr.ndim == 3 else level), note, True
    if arr.dtype == np.uint16 and not cmyk:
        shaper = _matrix_shaper(icc)
        if shaper is not None:  # computed here in floats: LittleCMS in Pillow is 8-bit only
            return _matrix_shaper_to_srgb16(arr, *shaper), note, True
    if arr.dtype != np.uint8:
        arr = _scale_to_uint8(arr)
    in_mode = "CMYK" if cmyk else ("RGBA" if arr.shape[-1] == 4 else "RGB")
    out_mode = "RGBA" if in_mode == "RGBA" else "RGB"
    try:
        transform = ImageCms.buildTransform(source, _SRGB_PROFILE, in_mode, out_mode)
        out = ImageCms.applyTransform(PILImage.fromarray(arr, in_mode), transform)
    except (OSError, ValueError, TypeError, ImageCms.PyCMSError) as exc:
        return arr, f"ICC profile not usable ({_describe(exc)}): colors taken as sRGB", False
    return np.asarray(out), note, True


def _gray_table(icc: bytes, source, top: int) -> np.ndarray:
    """sRGB gray level of each gray level 0..`top` under a gray profile, as uint8 or uint16.

    The profile's gray curve (kTRC) gives the luminance, computed in floats at every level so
    16-bit gray keeps its precision; a profile without one goes through LittleCMS at 8 bits,
    interpolated between levels.
    """
    from PIL import Image as PILImage
    from PIL import ImageCms

    dtype = np.uint8 if top == 255 else np.uint16
    level = np.arange(top + 1) / top
    tags = _icc_tags(icc)
    curve = None if tags is None or b"A2B0" in tags else _tone_curve(tags.get(b"kTRC", b""))
    if curve is not None:
        encoded = srgb_from_linear(curve(level))
    else:
        transform = ImageCms.buildTransform(source, _SRGB_PROFILE, "L", "RGB")
        ramp = PILImage.fromarray(np.arange(256, dtype=np.uint8)[None])
        green = np.asarray(ImageCms.applyTransform(ramp, transform))[0, :, 1] / 255.0
        encoded = np.interp(level, np.arange(256) / 255.0, green)
    return np.round(encoded * top).astype(dtype)


def _icc_tags(icc: bytes) -> dict[bytes, bytes] | None:
    """An ICC profile's tags by signature, or None if its tag table cannot be read."""
    try:
        count = int.from_bytes(icc[128:132], "big")
        tags = {}
        for i in range(min(count, 100)):
            entry = icc[132 + 12 * i : 144 + 12 * i]
            offset, size = int.from_bytes(entry[4:8], "big"), int.from_bytes(entry[8:12], "big")
            tags[entry[:4]] = icc[offset : offset + size]
    except (ValueError, IndexError):
        return None
    return tags


def _s15(data: bytes) -> float:
    return int.from_bytes(data, "big", signed=True) / 65536.0


def _matrix_shaper(icc: bytes):
    """(3x3 matrix RGB -> XYZ D50, three tone curves) of a matrix/TRC RGB profile, else None.

    A profile with lookup tables (A2B0) is left to LittleCMS, which prefers them.
    """
    tags = _icc_tags(icc)
    if tags is None or b"A2B0" in tags:
        return None
    try:
        columns = []
        for sig in (b"rXYZ", b"gXYZ", b"bXYZ"):
            data = tags[sig]
            if data[:4] != b"XYZ ":
                return None
            columns.append([_s15(data[8 + 4 * j : 12 + 4 * j]) for j in range(3)])
        curves = [_tone_curve(tags[sig]) for sig in (b"rTRC", b"gTRC", b"bTRC")]
    except (KeyError, ValueError, IndexError):
        return None
    if any(c is None for c in curves):
        return None
    return np.array(columns).T, curves


def _tone_curve(data: bytes):
    """A function from 0..1 to linear 0..1 for a 'curv' or 'para' tag, or None."""
    kind = data[:4]
    if kind == b"curv":
        n = int.from_bytes(data[8:12], "big")
        if n == 0:
            return lambda x: x
        if n == 1:
            gamma = int.from_bytes(data[12:14], "big") / 256.0
            return lambda x: np.power(x, gamma)
        table = np.frombuffer(data[12 : 12 + 2 * n], ">u2").astype(np.float64) / 65535.0
        if len(table) != n:
            return None
        grid = np.linspace(0.0, 1.0, n)
        return lambda x: np.interp(x, grid, table)
    if kind == b"para":
        function = int.from_bytes(data[8:10], "big")
        needed = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}.get(function)
        if needed is None or len(data) < 12 + 4 * needed:
            return None
        p = [_s15(data[12 + 4 * i : 16 + 4 * i]) for i in range(needed)]
        g, a, b, c, d, e, f = (p + [0.0] * 7)[:7]
        if function == 0:
            return lambda x: np.power(x, g)
        if function in (1, 2):
            # (aX + b)^g [+ c] above X = -b/a, else [c]
            offset = c if function == 2 else 0.0
            d, c, e, f = (-b / a if a else 0.0), 0.0, offset, offset
        return lambda x: np.where(x >= d, np.power(np.maximum(a * x + b, 0.0), g) + e, c * x + f)
    return None


_SRGB_MATRIX: np.ndarray | None = None


def _matrix_shaper_to_srgb16(arr: np.ndarray, matrix: np.ndarray, curves) -> np.ndarray:
    """16-bit RGB(A) under a matrix/TRC profile as 16-bit sRGB(A), relative colorimetric."""
    from PIL import ImageCms

    global _SRGB_MATRIX
    if _SRGB_MATRIX is None:
        srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
        _SRGB_MATRIX = np.linalg.inv(_matrix_shaper(srgb)[0])
    color = arr[..., :3].astype(np.float64) / 65535.0
    linear = np.stack([curve(color[..., i]) for i, curve in enumerate(curves)], axis=-1)
    encoded = srgb_from_linear(linear @ (_SRGB_MATRIX @ matrix).T)
    out = np.round(encoded * 65535.0).astype(np.uint16)
    return np.dstack([out, arr[..., 3:]]) if arr.shape[-1] == 4 else out


def _metadata(probe) -> Metadata | None:
    """EXIF (orientation reset), XMP and text of an open Pillow image; None when it has none."""
    exif = None
    try:
        raw = probe.getexif()
        if len(raw):
            raw[0x0112] = 1  # the pixels are stored upright
            exif = raw.tobytes()
    except _DECODE_ERRORS:
        exif = None
    xmp = probe.info.get("xmp") or probe.info.get("XML:com.adobe.xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    text: list[tuple[str, str]] = []
    for key, value in (getattr(probe, "text", None) or {}).items():
        if key != "XML:com.adobe.xmp" and isinstance(value, str):
            text.append((str(key), value))
    comment = probe.info.get("comment")
    if isinstance(comment, bytes):
        comment = comment.decode("utf-8", "replace")
    if comment and not any(key == "comment" for key, _ in text):
        text.append(("comment", comment))
    found = Metadata(exif=exif, xmp=xmp or None, text=tuple(text))
    return found if found else None


_NATIVE_SWAPPED = "B" if sys.byteorder == "little" else "L"
#: 16-bit PNG and TIFF layouts Pillow decodes to 8 bits by keeping the high byte, and the raw
#: mode that yields the low bytes through the same decoder (same bits per pixel, so the same
#: unfiltering and decompression).
_LOW_BYTES = {
    "RGB;16B": "RGB;16L",
    "RGBA;16B": "RGBA;16L",
    "RGB;16L": "RGB;16B",
    "RGBA;16L": "RGBA;16B",
    "RGB;16N": "RGB;16" + _NATIVE_SWAPPED,
    "RGBA;16N": "RGBA;16" + _NATIVE_SWAPPED,
    "LA;16B": "RGBA",
}


def _read_16bit(path: Path, rawmode: str, transparency) -> np.ndarray:
    """A 16-bit color or gray+alpha PNG or TIFF as uint16 (H, W, C), upright; tRNS as alpha.

    Pillow keeps only the high byte (a floor, not a rounding), so decode a second time with a
    raw mode that picks the low bytes, and combine.
    """
    from PIL import Image as PILImage
    from PIL import ImageOps

    def decode(raw: str | None) -> np.ndarray:
        with PILImage.open(path) as im:
            if raw is not None:
                im.tile = [
                    tile._replace(args=raw if isinstance(tile.args, str) else (raw, *tile.args[1:]))
                    for tile in im.tile
                ]
            im.load()
            return np.asarray(ImageOps.exif_transpose(im)).astype(np.uint16)

    low = decode(_LOW_BYTES[rawmode])
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
