"""Breaks that once passed every test (issue 17): each test here fails when its break is made.

- the API's save() or write_atomic() replacing an existing file without force;
- the 16-bit read path without EXIF orientation;
- k-means stopped after one pass (its palette is then not the means of its colors);
- dithering off, or diffusing nothing, in the TUI (the pixels are checked, not a flag).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from tui_support import HOPPER, press, sync, wait_result

from kmc_tui import compress, process, read_image, save
from kmc_tui.errors import OutputExists
from kmc_tui.fsio import write_atomic

# -- never replace a file without force, through the API ---------------------------------------


def test_api_save_and_write_atomic_never_replace_without_force(tmp_path):
    out = tmp_path / "out.png"
    out.write_bytes(b"the user's own file")
    result = process(read_image(HOPPER), 4)
    with pytest.raises(OutputExists):
        save(result, out)
    with pytest.raises(OutputExists):
        write_atomic(out, result.data)
    with pytest.raises(OutputExists):
        compress(HOPPER, out, 4)
    assert out.read_bytes() == b"the user's own file"
    saved = save(result, out, force=True)
    assert saved.output == out and out.read_bytes() == result.data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


# -- 16-bit input with EXIF orientation --------------------------------------------------------


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def write_png16(path: Path, pixels: np.ndarray, orientation: int) -> None:
    """A 16-bit RGB (H, W, 3) or gray+alpha (H, W, 2) PNG with an eXIf orientation (Pillow
    writes neither layout)."""
    h, w, c = pixels.shape
    color_type = {3: 2, 2: 4}[c]
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    tiff = exif.tobytes().removeprefix(b"Exif\x00\x00")
    rows = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(h))
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0))
        + _chunk(b"eXIf", tiff)
        + _chunk(b"IDAT", zlib.compress(rows))
        + _chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("orientation", [3, 6, 8])
@pytest.mark.parametrize("channels", [3, 2], ids=["rgb16", "gray-alpha16"])
def test_16_bit_input_is_turned_upright_as_8_bit_is(tmp_path, orientation, channels):
    rng = np.random.default_rng(orientation)
    values = rng.integers(0, 256, (2, 3, channels), dtype=np.uint16)  # not square: turns show
    write_png16(tmp_path / "deep.png", values * 257, orientation)  # v*257 scales back to v
    mode = "RGB" if channels == 3 else "LA"
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    PILImage.fromarray(values.astype(np.uint8), mode).save(tmp_path / "flat.png", exif=exif)
    deep, flat = read_image(tmp_path / "deep.png"), read_image(tmp_path / "flat.png")
    assert (
        (deep.height, deep.width)
        == (flat.height, flat.width)
        == ((3, 2) if orientation in (6, 8) else (2, 3))
    )
    np.testing.assert_array_equal(deep.rgb, flat.rgb)
    if channels == 2:
        np.testing.assert_array_equal(deep.alpha, flat.alpha)


# -- k-means runs to the end -------------------------------------------------------------------


@pytest.mark.parametrize("k", [8, 32])
def test_kmeans_palette_is_the_mean_of_its_colors(k):
    """Lloyd's fixed point: every entry is the mean of the pixels nearest to it (to the
    rounding to 8 bits). One pass leaves entries 13-15 levels away from their means."""
    image = read_image(HOPPER)
    palette = process(image, k, params={"color_space": "rgb", "max_iter": 10000}).quantized
    pixels = image.rgb.reshape(-1, 3).astype(np.float64)
    entries = palette.palette.astype(np.float64)
    nearest = ((pixels[:, None, :] - entries[None]) ** 2).sum(-1).argmin(1)
    means = np.array([pixels[nearest == j].mean(0) for j in range(len(entries))])
    assert np.abs(means - entries).max() < 1.5


# -- dithering in the TUI ----------------------------------------------------------------------


@sync
async def test_tui_dither_diffuses_the_error_into_the_pixels(tmp_path):
    from kmc_tui.tui.app import KmcApp

    image = tmp_path / "hopper.png"
    image.write_bytes(HOPPER.read_bytes())
    app = KmcApp(image, k=4)
    async with app.run_test(size=(120, 40)) as pilot:
        plain = await wait_result(pilot, app)
        await press(pilot, "d")  # half strength first
        half = await wait_result(pilot, app)
        await press(pilot, "d")  # full strength
        dithered = await wait_result(pilot, app)
    assert not plain.quantized.dithered and half.quantized.dithered and dithered.quantized.dithered
    palette = dithered.quantized.palette.astype(np.int64)
    np.testing.assert_array_equal(palette, plain.quantized.palette.astype(np.int64))
    # Error diffusion moves pixels off the entry they map to without it (more at full
    # strength), so that seen from afar (the mean of each 4x4 block) the picture is closer to
    # the original.
    plain_indices = plain.quantized.indices
    moved_half = np.mean(half.quantized.indices != plain_indices)
    moved_full = np.mean(dithered.quantized.indices != plain_indices)
    assert 0.02 < moved_half < moved_full and moved_full > 0.1
    original = read_image(image).rgb.astype(np.float64)

    def blocks(rgb):
        return rgb.reshape(32, 4, 32, 4, 3).mean(axis=(1, 3))

    error_plain = np.abs(blocks(palette[plain_indices]) - blocks(original)).mean()
    error_dithered = np.abs(blocks(palette[dithered.quantized.indices]) - blocks(original)).mean()
    assert error_dithered < 0.85 * error_plain
