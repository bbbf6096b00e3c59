from kmc_oldpaths import GrayLevelsQuantizer

from kmc_tui.registry import ColorHistogram
from kmc_tui.testing import check_quantizer


def test_meets_the_contract():
    check_quantizer(GrayLevelsQuantizer)
    check_quantizer("oldpaths")  # by its registered name, as installed


def test_gray_levels():
    import numpy as np

    colors = np.array([[0, 0, 0], [255, 255, 255], [10, 200, 30]], np.uint8)
    out = GrayLevelsQuantizer().quantize(ColorHistogram(colors, np.ones(3, np.int64)), 3)
    assert (out.palette[:, 0] == out.palette[:, 1]).all() and len(out.palette) == 3
