"""Gaps that mutation testing (benchmarks/mutation_testing.py) found: mutants of the PSNR
formula and of dithering's two-color case survived the tests of the core modules."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image as PILImage
from tui_support import HOPPER

from kmc_tui import process, read_image


@pytest.mark.parametrize("k", [2, 16])
@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_psnr_is_that_of_the_file_written(k, fmt):
    """PSNR from its definition, over the decoded file's RGB against the input's."""
    image = read_image(HOPPER)
    result = process(image, k, format=fmt)
    with PILImage.open(io.BytesIO(result.data)) as written:
        out = np.asarray(written.convert("RGB")).astype(np.float64)
    mse = np.mean((out - image.rgb.astype(np.float64)) ** 2)
    assert result.stats.psnr == pytest.approx(10 * np.log10(255.0**2 / mse), abs=1e-6)


def test_dithering_onto_two_colors_diffuses():
    """Two opaque colors are enough to dither onto (a mutant skipped exactly that case)."""
    image = read_image(HOPPER)
    plain, dithered = process(image, 2), process(image, 2, dither=True)
    assert dithered.quantized.dithered and len(dithered.quantized.palette) == 2
    assert not any("dithering skipped" in note for note in dithered.notes)
    moved = np.mean(dithered.quantized.indices != plain.quantized.indices)
    assert moved > 0.02  # 6% on this picture
