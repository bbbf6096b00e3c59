"""The plugin's own tests: kmc-tui's conformance kit, then what makes this plugin itself."""

import numpy as np
from kmc_websafe import WebSafeQuantizer

from kmc_tui.plugin_api import ColorHistogram
from kmc_tui.testing import check_quantizer


def test_meets_the_kmc_tui_plugin_contract():
    check_quantizer(WebSafeQuantizer)


def test_six_levels_give_web_safe_colors():
    rng = np.random.default_rng(0)
    colors = np.unique(rng.integers(0, 256, (5000, 3), dtype=np.uint8), axis=0)
    hist = ColorHistogram(colors, np.ones(len(colors), np.int64))
    out = WebSafeQuantizer().quantize(hist, 256)
    assert len(out.palette) == 216  # random colors use every cell of the 6x6x6 grid
    assert np.all(out.palette % 0x33 == 0)
    # Each color goes to its nearest grid color: no channel moves by more than half a step.
    assert np.abs(out.palette[out.labels].astype(int) - colors).max() <= 0x33 // 2 + 1


def test_coarser_grid_when_k_is_small():
    colors = np.array([[0, 0, 0], [255, 255, 255], [250, 5, 5], [5, 250, 5], [5, 5, 250]], np.uint8)
    hist = ColorHistogram(colors, np.ones(5, np.int64))
    assert len(WebSafeQuantizer().quantize(hist, 5).palette) == 5
    two = WebSafeQuantizer().quantize(hist, 2)
    assert len(two.palette) <= 2
