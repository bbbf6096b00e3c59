"""Encoding a quantized image as PNG, GIF, JPEG or WebP bytes."""

from __future__ import annotations

import numpy as np

from .errors import ParameterError
from .formats import PALETTE_FORMATS, format_for


def encode(quantized, format: str = "png", *, jpeg_quality: int = 90) -> bytes:
    """Encode a quantized image (palette, alpha, indices) as file bytes.

    PNG and GIF store the palette: PNG at the fewest bits per pixel that hold it (1, 2, 4 or 8),
    alpha through tRNS; GIF keeps one fully transparent entry. JPEG (alpha flattened onto white)
    is lossy and so no longer holds exactly the palette's colors; WebP is written lossless.
    """
    import io as _io

    from PIL import Image as PILImage

    fmt = format_for("", format)
    palette = np.asarray(quantized.palette, np.uint8)
    alpha = quantized.alpha
    indices = quantized.indices
    h, w = indices.shape
    buf = _io.BytesIO()
    if fmt in PALETTE_FORMATS:
        if len(palette) > 256:
            raise ParameterError(f"{len(palette)} colors do not fit a palette (at most 256)")
        if fmt == "gif" and alpha is not None:
            # GIF has on/off transparency through one entry: merge all see-through entries.
            hidden = alpha < 128
            if hidden.any():
                first = int(np.flatnonzero(hidden)[0])
                lut = np.arange(len(palette))
                lut[hidden] = first
                indices = lut[indices]
            alpha = np.where(hidden, 0, 255).astype(np.uint8)
        img = PILImage.frombytes("P", (w, h), np.ascontiguousarray(indices, np.uint8).tobytes())
        img.putpalette(palette.tobytes(), rawmode="RGB")
        options: dict = {}
        if alpha is not None and alpha.min() < 255:
            if fmt == "png":
                last = int(np.flatnonzero(alpha < 255)[-1])
                options["transparency"] = alpha[: last + 1].tobytes()
            else:
                options["transparency"] = int(np.flatnonzero(alpha == 0)[0])
        if fmt == "gif":
            options["optimize"] = False  # keep our palette order and size
        else:
            options["pnginfo"] = _srgb_chunk()  # the colors were read (or converted) as sRGB
        img.save(buf, format=fmt.upper(), **options)
    else:
        table = np.empty((len(palette), 4 if alpha is not None else 3), np.uint8)
        table[:, :3] = palette
        if alpha is not None:
            table[:, 3] = alpha
        pixels = table[indices]
        if fmt == "jpeg":
            if alpha is not None:  # JPEG has no alpha: flatten onto white
                a = pixels[..., 3:4].astype(np.float32) / 255.0
                pixels = np.round(pixels[..., :3] * a + 255.0 * (1.0 - a)).astype(np.uint8)
            PILImage.fromarray(pixels).save(buf, format="JPEG", quality=jpeg_quality)
        else:
            PILImage.fromarray(pixels).save(buf, format="WEBP", lossless=True)
    return buf.getvalue()


def _srgb_chunk():
    """PNG text/ancillary chunks saying the pixels are sRGB (perceptual rendering intent)."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add(b"sRGB", b"\x00")
    return info
