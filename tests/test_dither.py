"""Error diffusion at any strength: the wavefront sweep against a plain per-pixel loop."""

from __future__ import annotations

import numpy as np
import pytest

from kmc_tui import as_image, quantize
from kmc_tui.dither import NearestEntry, error_diffusion
from kmc_tui.errors import ParameterError


def floyd_steinberg(src: np.ndarray, palette: np.ndarray, strength: float) -> np.ndarray:
    """The textbook loop: every pixel in raster order, its error pushed to four neighbours;
    the entry is the one nearest to the value rounded to whole levels, halves up (ties: lowest
    index)."""
    buf = src.astype(np.float64)
    h, w = buf.shape[:2]
    out = np.zeros((h, w), int)
    pal = palette.astype(np.float64)
    for y in range(h):
        for x in range(w):
            value = np.clip(buf[y, x], 0, 255)
            i = int(((pal - np.floor(value + 0.5)) ** 2).sum(1).argmin())
            out[y, x] = i
            err = (value - pal[i]) * strength
            if x + 1 < w:
                buf[y, x + 1] += err * 7 / 16
            if y + 1 < h:
                if x > 0:
                    buf[y + 1, x - 1] += err * 3 / 16
                buf[y + 1, x] += err * 5 / 16
                if x + 1 < w:
                    buf[y + 1, x + 1] += err * 1 / 16
    return out


@pytest.mark.parametrize("shape", [(1, 9), (9, 1), (7, 13), (13, 5), (24, 24)])
@pytest.mark.parametrize("strength", [1.0, 0.5, 0.0])
def test_sweep_equals_the_textbook_loop(shape, strength):
    rng = np.random.default_rng(sum(shape))
    src = rng.integers(0, 256, (*shape, 3)).astype(np.uint8)
    palette = rng.integers(0, 256, (6, 3)).astype(np.uint8)
    got = error_diffusion(src, palette, strength=strength)
    np.testing.assert_array_equal(got, floyd_steinberg(src, palette, strength))


def test_half_strength_lies_between_none_and_full():
    ramp = np.repeat(np.linspace(0, 255, 256)[None, :, None], 32, axis=0).repeat(3, axis=2)
    image = as_image(ramp.astype(np.uint8))
    flat, half, full = (
        quantize(image, 4, dither=d, plugin="mediancut") for d in (False, 0.5, True)
    )
    assert flat.palette.tolist() == half.palette.tolist() == full.palette.tolist()

    def changed(q):
        return (q.indices != flat.indices).mean()

    assert 0 < changed(half) < changed(full)


@pytest.mark.parametrize("bad", [-0.1, 1.5, "lots", float("nan")])
def test_strength_outside_0_to_1_is_refused(bad):
    image = as_image(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ParameterError, match="dither"):
        quantize(image, 2, dither=bad)


def test_cli_dither_strength(tmp_path, cli, samples):
    outs = {}
    for name, extra in (
        ("none", []),
        ("half", ["--dither-strength", "0.5"]),
        ("full", ["--dither"]),
    ):
        out = tmp_path / f"{name}.png"
        done = cli("compress", "-i", samples / "chelsea.png", "-o", out, "-k", "8", *extra)
        assert done.returncode == 0, done.stderr
        from PIL import Image

        with Image.open(out) as im:
            outs[name] = np.asarray(im.convert("RGB"))
    assert not np.array_equal(outs["none"], outs["half"])
    assert not np.array_equal(outs["half"], outs["full"])
    bad = cli(
        "compress", "-i", samples / "dice.png", "-o", tmp_path / "x.png", "--dither-strength", "2"
    )
    assert bad.returncode == 2 and "--dither-strength" in bad.stderr
    assert not (tmp_path / "x.png").exists()


def test_entries_one_level_apart_are_all_used(tmp_path):
    # Pillow's lookup decides on cells of 4 levels: of reds 100..103 it picks only 100 and 103,
    # so full-strength dithering through it would turn flat 101 and 102 into noise.
    reds = [(100, 0, 0), (101, 0, 0), (102, 0, 0), (103, 0, 0), (0, 0, 255)]
    palette_file = tmp_path / "reds.hex"
    palette_file.write_text("".join(f"#{r:02x}{g:02x}{b:02x}\n" for r, g, b in reds))
    stripes = np.array(reds, np.uint8)[np.arange(40) // 8]
    image = as_image(np.repeat(stripes[None], 12, axis=0))
    q = quantize(image, 5, plugin="palette", params={"file": str(palette_file)}, dither=True)
    assert q.dithered
    # Each stripe is exactly an entry: no error to diffuse, every pixel keeps its color.
    np.testing.assert_array_equal(q.palette[q.indices], image.rgb)


def test_nearest_entry_table_equals_a_plain_search():
    rng = np.random.default_rng(5)
    palette = rng.integers(0, 256, (256, 3)).astype(np.uint8)
    palette[1] = palette[0] + np.uint8(1) * (palette[0] < 255)  # two entries one level apart
    colors = rng.integers(0, 256, (5000, 3)).astype(np.uint8)
    table = NearestEntry(palette)
    rgb1 = np.hstack([colors, np.ones((len(colors), 1), np.uint8)])
    got = table.fill(rgb1.view("<u4").reshape(-1), rgb1) - 1
    d = ((colors[:, None, :].astype(int) - palette[None, :, :].astype(int)) ** 2).sum(2)
    np.testing.assert_array_equal(got, d.argmin(1))
