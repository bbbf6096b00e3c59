"""Formats, file extensions and k limits: the one copy every front end uses."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ParameterError

#: Output formats and the file extensions that select them.
FORMAT_EXTENSIONS = {
    "png": (".png",),
    "gif": (".gif",),
    "jpeg": (".jpg", ".jpeg"),
    "webp": (".webp",),
}
#: Formats that store a palette (so hold exactly the quantized colors, at most 256).
PALETTE_FORMATS = frozenset({"png", "gif"})

#: Fewest and most colors of a palette format (the TUI's k range).
K_MIN, K_MAX = 1, 256
#: Most colors at all (JPEG/WebP output keep no palette; indices are uint16).
K_LIMIT = 65536
#: Output formats in the order the TUI cycles through them.
FORMATS = ("png", "gif", "webp", "jpeg")

#: Extensions of files offered as inputs (by the TUI's browser and by folder inputs of the CLI).
IMAGE_EXTENSIONS = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".webp",
        ".bmp",
        ".tif",
        ".tiff",
        ".tga",
        ".ppm",
        ".pgm",
        ".pbm",
        ".pnm",
        ".ico",
        ".jp2",
        ".j2k",
        ".sgi",
        ".rgb",
        ".pcx",
        ".apng",
        ".jfif",
        ".dib",
        ".icns",
        ".psd",
        ".xbm",
        ".im",
        ".msp",
        ".fli",
        ".flc",
        ".dds",
        ".qoi",
        ".jpe",
        ".avif",
        ".heic",
    }
)


def human_bytes(n: float | None, *, missing: str = "-", short: bool = False) -> str:
    """1234567 -> '1.2 MB' (decimal units), or '1.2M' when `short` (for a narrow column: at most
    four characters up to 999 GB); `missing` when n is None."""
    if n is None:
        return missing
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(value) < 1000 or unit == "GB":
            break
        value /= 1000.0
    if short:
        digits = 0 if unit == "B" or abs(value) >= 100 else 1
        return f"{value:.{digits}f}{unit[0]}"
    return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"


def format_for(path: str | os.PathLike, format: str | None = None) -> str:
    """The output format: `format` if given, else from the extension of `path`."""
    if format:
        fmt = format.lower().lstrip(".")
        fmt = "jpeg" if fmt == "jpg" else fmt
        if fmt not in FORMAT_EXTENSIONS:
            raise ParameterError(
                f"unknown format {format!r}; choose one of: " + ", ".join(FORMAT_EXTENSIONS)
            )
        return fmt
    suffix = Path(path).suffix.lower()
    for fmt, exts in FORMAT_EXTENSIONS.items():
        if suffix in exts:
            return fmt
    raise ParameterError(
        f"cannot tell the output format from {Path(path).name!r}; use an "
        "extension .png, .gif, .jpg or .webp, or --format"
    )
