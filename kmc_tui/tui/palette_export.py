"""Writing the shown result's palette beside its image (the ``e`` key), never over a file.

No Textual here: the main screen calls :func:`export_palette` from a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..errors import OutputError, OutputExists
from ..palettes import Palette, write_palette

#: The format ``e`` writes: GIMP's palette, which Inkscape, Krita and most editors read.
EXPORT_SUFFIX = ".gpl"


def free_names(folder: Path, base: str, suffix: str, *, limit: int = 10_000) -> Iterator[Path]:
    """``base + suffix`` in `folder`, then ``base-2 + suffix``, ``base-3`` … (names to try)."""
    for n in range(1, limit):
        yield folder / (base + suffix if n == 1 else f"{base}-{n}{suffix}")


def export_palette(result, k: int) -> Path:
    """Write `result`'s palette as ``<stem>-k<k>.gpl`` beside its image, or under the first
    free name after it; the path written.

    Parameters
    ----------
    result : kmc_tui.api.Result
        A result of an image read from a file.
    k : int
        The k asked for (the name says it; the palette may hold fewer colors).

    Raises
    ------
    OutputError
        The folder cannot be written, or no name is free.
    """
    path = result.image.path
    base = f"{path.stem}-k{k}"
    palette = Palette.of(result.quantized, path.stem)
    for target in free_names(path.parent, base, EXPORT_SUFFIX):
        if target.exists() or target.is_symlink():
            continue
        try:
            return write_palette(target, palette)
        except OutputExists:
            continue  # made meanwhile: the next name
    raise OutputError(f"{path.parent}: no free name for {base}{EXPORT_SUFFIX}")
