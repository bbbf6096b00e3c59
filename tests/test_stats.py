"""The figures of a result: PSNR and mean ΔE2000 from distinct color pairs, as over every pixel."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SAMPLES
from PIL import Image as PILImage
from skimage.color import deltaE_ciede2000, rgb2lab

from kmc_tui import compress, read_image
from kmc_tui.stats import srgb8_to_lab


def figures_over_every_pixel(source: np.ndarray, written: np.ndarray, visible: np.ndarray):
    """PSNR and mean ΔE2000 of the visible pixels, straight from scikit-image (float64)."""
    src = source.reshape(-1, 3)[visible.ravel()]
    out = written.reshape(-1, 3)[visible.ravel()]
    diff = src.astype(np.float64) - out.astype(np.float64)
    mse = (diff * diff).mean()
    psnr = float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)
    de = deltaE_ciede2000(rgb2lab(src[None] / 255.0)[0], rgb2lab(out[None] / 255.0)[0])
    return psnr, float(de.mean())


@pytest.mark.parametrize("k", [16, 200])
def test_stats_are_those_over_every_pixel_to_the_printed_digits(tmp_path, k):
    src = SAMPLES / "coffee.png"
    result = compress(src, tmp_path / "out.png", k)
    written = np.asarray(PILImage.open(tmp_path / "out.png").convert("RGB"))
    source = read_image(src).rgb
    psnr, delta_e = figures_over_every_pixel(source, written, np.ones(source.shape[:2], bool))
    # Printed with at most three decimals (report, --json consumers, the TUI's panel).
    assert round(result.stats.delta_e, 3) == pytest.approx(round(delta_e, 3), abs=1e-3)
    assert result.stats.delta_e == pytest.approx(delta_e, abs=2e-4)
    assert result.stats.psnr == pytest.approx(psnr, abs=1e-9)


def test_stats_of_a_see_through_image_count_the_visible_pixels_only(tmp_path):
    rgb = np.asarray(PILImage.open(SAMPLES / "chelsea.png").convert("RGB"))
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[:, : rgb.shape[1] // 3] = 0
    alpha[: rgb.shape[0] // 4] = 120
    src = tmp_path / "in.png"
    PILImage.fromarray(np.dstack([rgb, alpha]), "RGBA").save(src)
    result = compress(src, tmp_path / "out.png", 32)
    written = np.asarray(PILImage.open(tmp_path / "out.png").convert("RGBA"))
    psnr, delta_e = figures_over_every_pixel(rgb, written[..., :3], alpha > 0)
    assert result.stats.delta_e == pytest.approx(delta_e, abs=2e-4)
    assert result.stats.psnr == pytest.approx(psnr, abs=1e-9)


def test_lab_of_every_level_of_each_channel_and_the_linear_segment():
    # Each channel alone at every level (the tables), every gray (both branches of the cube
    # root), and mixtures near the linear segment's end, against scikit-image in float64.
    levels = np.arange(256, dtype=np.uint8)
    zero = np.zeros(256, np.uint8)
    dark = np.stack(np.meshgrid(*[np.arange(0, 40, dtype=np.uint8)] * 3), -1).reshape(-1, 3)
    colors = np.concatenate(
        [
            np.stack([levels, zero, zero], 1),
            np.stack([zero, levels, zero], 1),
            np.stack([zero, zero, levels], 1),
            np.stack([levels] * 3, 1),
            dark,
        ]
    )
    ours = srgb8_to_lab(colors)
    assert ours.dtype == np.float32
    assert np.abs(ours - rgb2lab(colors[None] / 255.0)[0]).max() < 1e-3
