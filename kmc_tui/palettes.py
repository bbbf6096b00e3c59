"""Palette files: GIMP ``.gpl``, Adobe Color Table ``.act``, ``.hex``, ``.json`` and a PNG strip.

The format comes from the file's extension. Any other image can be read as a palette too: its
palette entries (palette images) or its distinct colors (at most 256).
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError, ParameterError
from .formats import K_MAX
from .fsio import write_atomic

#: Palette file formats by extension.
PALETTE_FORMATS = {".gpl": "gpl", ".act": "act", ".hex": "hex", ".json": "json", ".png": "png"}
#: Side of one swatch of a PNG strip, in pixels.
SWATCH = 16


@dataclass(frozen=True, eq=False)
class Palette:
    """Colors in order, with optional alpha and pixel counts.

    Attributes
    ----------
    colors : ndarray of uint8, shape (n, 3)
    alpha : ndarray of uint8, shape (n,), or None when every entry is opaque
    counts : ndarray of int64, shape (n,), or None when not known
        Pixels per entry in the image the palette was made for.
    name : str
    """

    colors: np.ndarray
    alpha: np.ndarray | None = None
    counts: np.ndarray | None = None
    name: str = ""

    def __len__(self) -> int:
        return len(self.colors)

    @classmethod
    def of(cls, quantized, name: str = "") -> Palette:
        """The palette of a quantized image, in the order its file stores it."""
        return cls(
            np.asarray(quantized.palette, np.uint8),
            None if quantized.alpha is None else np.asarray(quantized.alpha, np.uint8),
            np.asarray(quantized.counts, np.int64),
            name,
        )

    def shares(self) -> np.ndarray | None:
        """Share of the pixels per entry (sums to 1), or None without counts."""
        if self.counts is None:
            return None
        total = self.counts.sum()
        return self.counts / total if total else np.zeros(len(self.counts))


def palette_format(path: str | os.PathLike) -> str:
    """The palette format a file name asks for; ParameterError for an unknown extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in PALETTE_FORMATS:
        raise ParameterError(
            f"cannot tell the palette format from {Path(path).name!r}; use an extension "
            + ", ".join(PALETTE_FORMATS)
        )
    return PALETTE_FORMATS[suffix]


def _hex(color, alpha: int = 255) -> str:
    r, g, b = (int(c) for c in color)
    return f"#{r:02x}{g:02x}{b:02x}" + ("" if alpha == 255 else f"{alpha:02x}")


def palette_bytes(palette: Palette, format: str) -> bytes:
    """`palette` encoded as a file of `format` (``gpl``, ``act``, ``hex``, ``json``, ``png``).

    Alpha is kept by ``hex``, ``json`` and ``png``; ``act`` keeps one fully transparent entry;
    ``gpl`` has none. Pixel shares are kept by ``json``.
    """
    n = len(palette)
    if not 1 <= n <= K_MAX:
        raise ParameterError(f"a palette file holds 1 to {K_MAX} colors; got {n}")
    alpha = palette.alpha if palette.alpha is not None else np.full(n, 255, np.uint8)
    if format == "gpl":
        name = re.sub(r"[\r\n]", " ", palette.name or "kmc-tui")
        lines = ["GIMP Palette", f"Name: {name}", f"Columns: {min(n, 16)}", "#"]
        lines += [f"{r:3d} {g:3d} {b:3d}\t{_hex((r, g, b))}" for r, g, b in palette.colors.tolist()]
        return ("\n".join(lines) + "\n").encode("utf-8")
    if format == "act":
        table = np.zeros((256, 3), np.uint8)
        table[:n] = palette.colors
        hidden = np.flatnonzero(alpha == 0)
        transparent = int(hidden[0]) if len(hidden) else 0xFFFF
        return table.tobytes() + n.to_bytes(2, "big") + transparent.to_bytes(2, "big")
    if format == "hex":
        return "".join(
            _hex(c, int(a)) + "\n" for c, a in zip(palette.colors, alpha, strict=True)
        ).encode()
    if format == "json":
        shares = palette.shares()
        entries = []
        for i, (color, a) in enumerate(zip(palette.colors.tolist(), alpha.tolist(), strict=True)):
            entry = {"hex": _hex(color), "rgb": color, "alpha": a}
            if palette.counts is not None:
                entry["pixels"] = int(palette.counts[i])
                entry["share"] = round(float(shares[i]), 6)
            entries.append(entry)
        doc = {"name": palette.name or "kmc-tui", "colors": entries}
        return (json.dumps(doc, indent=2) + "\n").encode()
    if format == "png":
        from PIL import Image as PILImage

        strip = np.repeat(np.arange(n, dtype=np.uint8), SWATCH)[None, :].repeat(SWATCH, axis=0)
        img = PILImage.fromarray(strip, "P")
        img.putpalette(palette.colors.tobytes(), rawmode="RGB")
        options = {}
        if palette.alpha is not None:
            options["transparency"] = alpha.tobytes()
        buf = io.BytesIO()
        img.save(buf, format="PNG", optimize=True, **options)
        return buf.getvalue()
    raise ParameterError(f"unknown palette format {format!r}")


def write_palette(path: str | os.PathLike, palette: Palette, *, force: bool = False) -> Path:
    """Write `palette` in the format of `path`'s extension; never replaces a file unless `force`."""
    return write_atomic(path, palette_bytes(palette, palette_format(path)), force=force)


_HEX = re.compile(r"^#?([0-9a-fA-F]{6})([0-9a-fA-F]{2})?$")


def _parse_hex(text: str, where: str) -> tuple[tuple[int, int, int], int]:
    m = _HEX.match(text.strip())
    if not m:
        raise InputError(f"{where}: {text.strip()!r} is not a color like #rrggbb")
    rgb = bytes.fromhex(m.group(1))
    return (rgb[0], rgb[1], rgb[2]), int(m.group(2), 16) if m.group(2) else 255


def _palette(path: Path, colors: list, alphas: list, counts: list | None, name: str) -> Palette:
    if not colors:
        raise InputError(f"{path}: no colors in the palette")
    if len(colors) > K_MAX:
        raise InputError(f"{path}: {len(colors)} colors; a palette holds at most {K_MAX}")
    arr = np.asarray(colors, np.int64)
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.min() < 0 or arr.max() > 255:
        raise InputError(f"{path}: colors must be three numbers 0..255")
    alpha = np.asarray(alphas, np.uint8) if alphas and min(alphas) < 255 else None
    return Palette(
        arr.astype(np.uint8),
        alpha,
        None if counts is None else np.asarray(counts, np.int64),
        name or path.stem,
    )


def read_palette(path: str | os.PathLike) -> Palette:
    """Read a palette file, or the colors of any image.

    ``.gpl``, ``.act``, ``.hex`` and ``.json`` files are palettes; a ``.png`` or any other image
    gives its palette entries that are in use (palette images, in their order) or its distinct
    colors, most used first (other images; at most 256).

    Raises
    ------
    InputError
        The file is missing, unreadable or not a palette (one line, naming the file).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".gpl", ".act", ".hex", ".json"):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise InputError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise InputError(f"{path}: is a folder, not a palette") from None
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
        reader = {".gpl": _read_gpl, ".act": _read_act, ".hex": _read_hex, ".json": _read_json}
        return reader[suffix](path, data)
    return _read_image_colors(path)


def _text(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file") from None


def _read_gpl(path: Path, data: bytes) -> Palette:
    lines = _text(path, data).splitlines()
    if not lines or lines[0].strip() != "GIMP Palette":
        raise InputError(f"{path}: not a GIMP palette (first line is not 'GIMP Palette')")
    colors, name = [], ""
    for number, line in enumerate(lines[1:], start=2):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("Name:"):
            name = text[5:].strip()
            continue
        if text.startswith("Columns:"):
            continue
        parts = text.split(None, 3)
        try:
            colors.append(tuple(int(v) for v in parts[:3]))
        except ValueError:
            raise InputError(
                f"{path}: line {number} is not 'R G B [name]': {text[:40]!r}"
            ) from None
        if len(colors[-1]) != 3:
            raise InputError(f"{path}: line {number} is not 'R G B [name]': {text[:40]!r}")
    return _palette(path, colors, [], None, name)


def _read_act(path: Path, data: bytes) -> Palette:
    if len(data) not in (768, 772):
        raise InputError(f"{path}: an Adobe Color Table is 768 or 772 bytes, not {len(data)}")
    table = np.frombuffer(data[:768], np.uint8).reshape(256, 3)
    n, transparent = 256, 0xFFFF
    if len(data) == 772:
        n = int.from_bytes(data[768:770], "big") or 256
        transparent = int.from_bytes(data[770:772], "big")
        if n > 256:
            raise InputError(f"{path}: says it has {n} colors; a color table holds 256")
    alphas = [0 if i == transparent else 255 for i in range(n)]
    return _palette(path, table[:n].tolist(), alphas, None, "")


def _read_hex(path: Path, data: bytes) -> Palette:
    colors, alphas = [], []
    for number, line in enumerate(_text(path, data).splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith((";", "//")):
            continue
        color, alpha = _parse_hex(text, f"{path}: line {number}")
        colors.append(color)
        alphas.append(alpha)
    return _palette(path, colors, alphas, None, "")


def _read_json(path: Path, data: bytes) -> Palette:
    try:
        doc = json.loads(_text(path, data))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON: {exc.msg} at line {exc.lineno}") from None
    items = doc.get("colors") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise InputError(f"{path}: expected a list of colors or {{'colors': [...]}}")
    colors, alphas, counts = [], [], []
    for i, item in enumerate(items):
        where = f"{path}: color {i + 1}"
        if isinstance(item, str):
            color, alpha = _parse_hex(item, where)
            count = None
        elif isinstance(item, dict) and ("rgb" in item or "hex" in item):
            if "rgb" in item:
                rgb = item["rgb"]
                if not (
                    isinstance(rgb, list) and len(rgb) == 3 and all(type(v) is int for v in rgb)
                ):
                    raise InputError(f"{where}: 'rgb' must be three whole numbers 0..255")
                color, alpha = tuple(rgb), 255
            else:
                color, alpha = _parse_hex(str(item["hex"]), where)
            alpha = item.get("alpha", alpha)
            if type(alpha) is not int or not 0 <= alpha <= 255:
                raise InputError(f"{where}: 'alpha' must be a whole number 0..255")
            count = item.get("pixels")
        else:
            raise InputError(f"{where}: expected '#rrggbb' or an object with 'rgb' or 'hex'")
        colors.append(color)
        alphas.append(alpha)
        counts.append(count)
    known = all(type(c) is int and c >= 0 for c in counts)
    name = doc.get("name", "") if isinstance(doc, dict) else ""
    return _palette(path, colors, alphas, counts if known else None, str(name))


def _read_image_colors(path: Path) -> Palette:
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    from .read import read_image

    try:
        with PILImage.open(path) as im:
            if im.mode == "P":
                im.load()
                entries = np.asarray(im.getpalette("RGBA") or [], np.uint8).reshape(-1, 4)
                entries = entries.copy()
                transparency = im.info.get("transparency")
                if isinstance(transparency, bytes):
                    m = min(len(transparency), len(entries))
                    entries[:m, 3] = np.frombuffer(transparency[:m], np.uint8)
                elif isinstance(transparency, int) and 0 <= transparency < len(entries):
                    entries[transparency, 3] = 0
                used = np.unique(np.asarray(im))
                used = used[used < len(entries)]
                entries = entries[used]
                return _palette(
                    path, entries[:, :3].tolist(), entries[:, 3].tolist(), None, path.stem
                )
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        pass  # read_image says what is wrong in its own words
    image = read_image(path)
    pixels = image.rgba().reshape(-1, 4) if image.alpha is not None else image.rgb.reshape(-1, 3)
    colors, counts = np.unique(pixels, axis=0, return_counts=True)
    if len(colors) > K_MAX:
        raise InputError(
            f"{path}: has {len(colors)} colors; a palette holds at most {K_MAX} "
            "(reduce it first, e.g. kmc-tui compress -k 256)"
        )
    order = np.argsort(-counts, kind="stable")
    colors, counts = colors[order], counts[order]
    alphas = colors[:, 3].tolist() if colors.shape[1] == 4 else []
    return _palette(path, colors[:, :3].tolist(), alphas, counts.tolist(), path.stem)
