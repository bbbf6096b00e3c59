"""Encoding a quantized image as PNG, GIF, JPEG or WebP bytes.

PNG is written here (chunks, rows, deflate) so its size can be chosen: every row unfiltered
(what suits palette indices) and deflate at the strength ``optimize`` asks for. The other
formats go through Pillow.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np

from .errors import ParameterError
from .formats import PALETTE_FORMATS, format_for

#: What each ``--optimize`` level deflates PNG rows with: (library, its level), from the
#: measured table in docs/performance.md.
DEFLATERS = {0: ("libdeflate", 2), 1: ("libdeflate", 7), 2: ("libdeflate", 12)}
OPTIMIZE_LEVELS = tuple(DEFLATERS)
#: The default level: the fastest deflate that keeps the mean file at most 0.85x pngquant's
#: at k = 16, 64 and 256 (docs/performance.md).
DEFAULT_OPTIMIZE = 1

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_XMP_KEYWORD = "XML:com.adobe.xmp"


def check_optimize(optimize) -> int:
    """The optimize level as an int of :data:`OPTIMIZE_LEVELS`; ParameterError if not one."""
    if isinstance(optimize, bool) or optimize not in OPTIMIZE_LEVELS:
        raise ParameterError(
            f"optimize must be one of {', '.join(map(str, OPTIMIZE_LEVELS))}; got {optimize!r}"
        )
    return int(optimize)


def encode(
    quantized,
    format: str = "png",
    *,
    jpeg_quality: int = 90,
    optimize: int = DEFAULT_OPTIMIZE,
    metadata=None,
) -> bytes:
    """Encode a quantized image (palette, alpha, indices) as file bytes.

    PNG and GIF store the palette: PNG at the fewest bits per pixel that hold it (1, 2, 4 or 8),
    alpha through tRNS, an sRGB chunk; GIF keeps one fully transparent entry. JPEG (alpha
    flattened onto white) is lossy and so no longer holds exactly the palette's colors; WebP is
    written lossless.

    Parameters
    ----------
    quantized : Quantized
    format : {"png", "gif", "jpeg", "webp"}
    jpeg_quality : int, keyword-only
    optimize : {0, 1, 2}, keyword-only
        PNG deflate effort (the pixels are the same at every level).
    metadata : Metadata, optional, keyword-only
        EXIF, XMP and text to keep, where the format holds them.
    """
    fmt = format_for("", format)
    optimize = check_optimize(optimize)
    palette = np.asarray(quantized.palette, np.uint8)
    alpha = quantized.alpha
    indices = quantized.indices
    h, w = indices.shape
    if fmt in PALETTE_FORMATS and len(palette) > 256:
        raise ParameterError(f"{len(palette)} colors do not fit a palette (at most 256)")
    if fmt == "png":
        return encode_png(palette, alpha, indices, optimize=optimize, metadata=metadata)

    from PIL import Image as PILImage

    buf = io.BytesIO()
    options = _pillow_metadata(metadata, fmt)
    if fmt == "gif":
        if alpha is not None:
            # GIF has on/off transparency through one entry: merge all see-through entries.
            hidden = alpha < 128
            if hidden.any():
                first = int(np.flatnonzero(hidden)[0])
                lut = np.arange(len(palette))
                lut[hidden] = first
                indices = lut[indices]
                options["transparency"] = first
        img = PILImage.frombytes("P", (w, h), np.ascontiguousarray(indices, np.uint8).tobytes())
        img.putpalette(palette.tobytes(), rawmode="RGB")
        img.save(buf, format="GIF", optimize=False, **options)  # keep our palette order and size
        return buf.getvalue()
    table = np.empty((len(palette), 4 if alpha is not None else 3), np.uint8)
    table[:, :3] = palette
    if alpha is not None:
        table[:, 3] = alpha
    pixels = table[indices]
    if fmt == "jpeg":
        if alpha is not None:  # JPEG has no alpha: flatten onto white
            a = pixels[..., 3:4].astype(np.float32) / 255.0
            pixels = np.round(pixels[..., :3] * a + 255.0 * (1.0 - a)).astype(np.uint8)
        PILImage.fromarray(pixels).save(buf, format="JPEG", quality=jpeg_quality, **options)
    else:
        PILImage.fromarray(pixels).save(buf, format="WEBP", lossless=True, **options)
    return buf.getvalue()


def _pillow_metadata(metadata, fmt: str) -> dict:
    """Pillow save options carrying `metadata` into a GIF, JPEG or WebP."""
    if not metadata:
        return {}
    options: dict = {}
    comment = next((value for key, value in metadata.text if key.lower() == "comment"), None)
    if fmt in ("jpeg", "webp"):
        if metadata.exif:
            options["exif"] = metadata.exif
        if metadata.xmp:
            options["xmp"] = metadata.xmp
    if fmt in ("jpeg", "gif") and comment:
        options["comment"] = comment.encode("utf-8")
    return options


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _pack_rows(indices: np.ndarray, bits: int) -> bytes:
    """Palette indices as PNG scanlines, each with filter type 0 (none) in front."""
    h, w = indices.shape
    idx = np.ascontiguousarray(indices, np.uint8)
    if bits < 8:
        per_byte = 8 // bits
        padded = np.zeros((h, -(-w // per_byte) * per_byte), np.uint8)
        padded[:, :w] = idx
        groups = padded.reshape(h, -1, per_byte)
        packed = np.zeros(groups.shape[:2], np.uint8)
        for j in range(per_byte):
            packed |= groups[:, :, j] << np.uint8(8 - bits * (j + 1))
        idx = packed
    rows = np.zeros((h, idx.shape[1] + 1), np.uint8)
    rows[:, 1:] = idx
    return rows.tobytes()


def _deflate(data: bytes, optimize: int) -> bytes:
    return deflate_with(data, *DEFLATERS[optimize])


def deflate_with(data: bytes, library: str, level: int) -> bytes:
    """`data` as a zlib stream made by ``"zlib"`` or ``"libdeflate"`` at `level`."""
    if library == "libdeflate":
        import deflate  # at its top levels about 6% smaller than zlib's best on palette rows

        return deflate.zlib_compress(data, level)
    return zlib.compress(data, level)


def _text_chunk(key: str, value: str) -> bytes:
    keyword = key.encode("latin-1", "replace")[:79] or b"Comment"
    try:
        return _chunk(b"tEXt", keyword + b"\0" + value.encode("latin-1"))
    except UnicodeEncodeError:
        return _chunk(b"iTXt", keyword + b"\0\0\0\0\0" + value.encode("utf-8"))


def encode_png(
    palette: np.ndarray,
    alpha: np.ndarray | None,
    indices: np.ndarray,
    *,
    optimize: int = DEFAULT_OPTIMIZE,
    metadata=None,
) -> bytes:
    """An indexed PNG: sRGB chunk, PLTE, tRNS up to the last see-through entry, one IDAT."""
    h, w = indices.shape
    n = len(palette)
    bits = 1 if n <= 2 else 2 if n <= 4 else 4 if n <= 16 else 8
    parts = [
        _PNG_SIGNATURE,
        _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bits, 3, 0, 0, 0)),
        _chunk(b"sRGB", b"\0"),  # the colors were read (or converted) as sRGB
        _chunk(b"PLTE", np.ascontiguousarray(palette, np.uint8).tobytes()),
    ]
    if alpha is not None and alpha.min() < 255:
        last = int(np.flatnonzero(alpha < 255)[-1])
        parts.append(_chunk(b"tRNS", np.asarray(alpha[: last + 1], np.uint8).tobytes()))
    if metadata:
        if metadata.exif:
            exif = metadata.exif
            parts.append(_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\0\0") else exif))
        if metadata.xmp:
            xmp = _XMP_KEYWORD.encode() + b"\0\0\0\0\0" + metadata.xmp
            parts.append(_chunk(b"iTXt", xmp))
        parts.extend(_text_chunk(key, value) for key, value in metadata.text)
    parts.append(_chunk(b"IDAT", _deflate(_pack_rows(indices, bits), optimize)))
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)


def srgb_pnginfo():
    """Pillow PNG options' ``pnginfo`` with an sRGB chunk (for the APNG Pillow writes)."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add(b"sRGB", b"\0")
    return info
