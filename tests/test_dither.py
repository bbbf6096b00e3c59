"""Error diffusion at any strength: the wavefront sweep against a plain per-pixel loop."""

from __future__ import annotations

import numpy as np
import pytest

from kmc_tui import as_image, quantize
from kmc_tui.dither import error_diffusion
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
