"""Escape sequences that draw pixels: Sixel, the Kitty graphics protocol, iTerm2 inline images.

Plain functions from arrays to text (no Textual, no terminal I/O), so each one can be checked
by decoding what it returns. A pane hands them exactly the pixels to show, one per screen pixel;
nothing here scales.
"""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image as PILImage

ESC = "\x1b"
ST = ESC + "\\"
#: Kitty's limit for one chunk of base64 payload.
KITTY_CHUNK = 4096

_SIXEL_WEIGHTS = np.array([1, 2, 4, 8, 16, 32], np.uint8)


def _run_length(data: bytes) -> bytes:
    """Sixel's repeat introducer: runs of four or more equal characters as ``!<count><char>``.

    Vectorized: each run's output length is known up front (the run itself when short,
    ``!``, its digits and the character when long), so every byte is placed in one pass.
    """
    array = np.frombuffer(data, np.uint8)
    if len(array) < 4:
        return data
    starts = np.flatnonzero(np.concatenate(([True], array[1:] != array[:-1])))
    lengths = np.diff(np.append(starts, len(array)))
    chars = array[starts]
    long_run = lengths >= 4
    digits = np.where(long_run, np.floor(np.log10(np.maximum(lengths, 1))).astype(np.int64) + 1, 0)
    sizes = np.where(long_run, digits + 2, lengths)
    offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    out = np.empty(int(sizes.sum()), np.uint8)
    short = ~long_run
    short_lengths = lengths[short]
    within = np.arange(short_lengths.sum()) - np.repeat(
        np.cumsum(short_lengths) - short_lengths, short_lengths
    )
    out[np.repeat(offsets[short], short_lengths) + within] = np.repeat(chars[short], short_lengths)
    at, count, n_digits = offsets[long_run], lengths[long_run], digits[long_run]
    out[at] = ord("!")
    for place in range(int(n_digits.max()) if len(n_digits) else 0):
        has = n_digits > place
        digit = (count[has] // 10 ** (n_digits[has] - 1 - place)) % 10
        out[at[has] + 1 + place] = ord("0") + digit
    out[at + 1 + n_digits] = chars[long_run]
    return out.tobytes()


def sixel(indices: np.ndarray, palette: np.ndarray) -> str:
    """A Sixel image of palette indices; pixels at -1 are left as the terminal has them.

    Parameters
    ----------
    indices : ndarray (h, w) of int
        Palette entries, -1 where nothing is drawn.
    palette : ndarray (m, 3) uint8
        At most as many entries as the terminal has color registers.

    Returns
    -------
    str
        DCS … ST: raster attributes, the palette in percent (Sixel's unit), then bands of six
        rows, each color of a band as one run-length encoded line.
    """
    indices = np.asarray(indices)
    palette = np.asarray(palette, np.uint8)
    if indices.ndim != 2:
        raise ValueError(f"indices must be 2-D, got shape {indices.shape}")
    height, width = indices.shape
    out = [f'{ESC}P0;1;0q"1;1;{width};{height}']
    percent = np.round(palette.astype(np.float64) * 100 / 255).astype(int)
    out.extend(f"#{n};2;{r};{g};{b}" for n, (r, g, b) in enumerate(percent.tolist()))
    bands = (height + 5) // 6
    colors = len(palette)
    # codes[band, color, x]: the six bits of a column. One row of each band at a time, so no
    # two pixels add to the same place; an extra color slot takes the pixels not drawn.
    codes = np.zeros((bands, colors + 1, width), np.uint8)
    padded = np.full((bands * 6, width), colors, np.int64)
    padded[:height] = np.where(indices >= 0, indices, colors)
    band_index = np.arange(bands)[:, None]
    column_index = np.arange(width)[None, :]
    for bit in range(6):
        codes[band_index, padded[bit::6], column_index] += _SIXEL_WEIGHTS[bit]
    band_of, color_of = np.nonzero(codes[:, :colors].any(axis=2))  # band-major order
    lines = codes[band_of, color_of]
    drawn = lines != 0
    # Each line from its first drawn column (the columns before it: one "!n?" run) to its
    # last: a color of a photo covers part of a band, and less text is less to compress.
    first = drawn.argmax(axis=1)
    end = width - drawn[:, ::-1].argmax(axis=1)
    lines += 63
    pieces = []
    previous = -1
    for n, (band, color, a, b) in enumerate(
        zip(band_of.tolist(), color_of.tolist(), first.tolist(), end.tolist(), strict=True)
    ):
        if band != previous:
            pieces.append(b"-" * (band - previous) if previous >= 0 else b"-" * band)
            previous = band
        else:
            pieces.append(b"$")
        lead = b"!%d?" % a if a > 3 else b"?" * a
        pieces.append(b"#%d%s%s" % (color, lead, lines[n, a:b].tobytes()))
    pieces.append(b"-" * (bands - previous) if previous >= 0 else b"-" * bands)
    body = _run_length(b"".join(pieces))
    return "".join(out) + body.decode("ascii") + ST


def png_bytes(
    rgb: np.ndarray | None = None,
    *,
    indices: np.ndarray | None = None,
    palette: np.ndarray | None = None,
    level: int = 1,
) -> bytes:
    """A PNG of RGB pixels, or of palette indices (a palette PNG: smaller, quicker).

    `level` is zlib's, for a palette PNG; an RGB one is always written at level 1, where the
    higher levels save little of a photo's pixels for several times the time.
    """
    if indices is not None and len(palette) <= 256:
        image = PILImage.fromarray(np.ascontiguousarray(indices, np.uint8))
        image.putpalette(np.asarray(palette, np.uint8).tobytes())  # "L" becomes "P"
    else:
        rgb = rgb if indices is None else np.asarray(palette)[indices]
        image = PILImage.fromarray(np.ascontiguousarray(rgb, np.uint8))
        level = 1
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=level)
    return buffer.getvalue()


def kitty(png: bytes, *, image_id: int, placement_id: int = 1) -> str:
    """Transmit a PNG and show it at the cursor, which stays where it is (Kitty protocol).

    The image and placement ids make a new frame replace the old one in place; ``q=2``
    keeps the terminal from answering.
    """
    payload = base64.standard_b64encode(png).decode("ascii")
    chunks = [payload[i : i + KITTY_CHUNK] for i in range(0, len(payload), KITTY_CHUNK)] or [""]
    parts = []
    for n, chunk in enumerate(chunks):
        more = int(n < len(chunks) - 1)
        if n == 0:
            keys = f"a=T,f=100,i={image_id},p={placement_id},q=2,C=1,m={more}"
        else:
            keys = f"m={more}"
        parts.append(f"{ESC}_G{keys};{chunk}{ST}")
    return "".join(parts)


def kitty_delete(image_id: int) -> str:
    """Remove an image's placements and free its data."""
    return f"{ESC}_Ga=d,d=I,i={image_id},q=2{ST}"


def iterm(png: bytes, *, width: int, height: int) -> str:
    """An iTerm2 inline image of `width` × `height` pixels at the cursor."""
    payload = base64.standard_b64encode(png).decode("ascii")
    return (
        f"{ESC}]1337;File=inline=1;size={len(png)};width={width}px;height={height}px;"
        f"preserveAspectRatio=0;doNotMoveCursor=1:{payload}\a"
    )


def tmux_passthrough(sequence: str) -> str:
    """Wrap a sequence so tmux (with ``allow-passthrough on``) hands it to the outer terminal."""
    return f"{ESC}Ptmux;{sequence.replace(ESC, ESC + ESC)}{ST}"


def move_to(x: int, y: int) -> str:
    """Cursor to column `x`, row `y` (0-based)."""
    return f"{ESC}[{y + 1};{x + 1}H"


def reduce_colors(rgb: np.ndarray, colors: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and a palette of at most `colors` entries for an RGB picture (Sixel's registers).

    Pillow's fast octree, no dithering: for showing a photo, not for keeping it.
    """
    image = PILImage.fromarray(np.ascontiguousarray(rgb, np.uint8))
    reduced = image.quantize(colors=max(2, min(colors, 256)), method=PILImage.Quantize.FASTOCTREE)
    palette = np.array(reduced.getpalette() or [], np.uint8).reshape(-1, 3)
    indices = np.asarray(reduced, np.int32)
    return indices, palette[: int(indices.max()) + 1]
