"""Property tests: random images of random shape, dtype and channel count, random k.

Through the Python API (``as_image`` + ``quantize``, and ``api.process`` for the encoded file):
at most k colors, the same shape, every index valid, and an image that already has at most k
colors comes back exactly.
"""

from __future__ import annotations

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image as PILImage

from kmc_tui.api import process
from kmc_tui.quantize import quantize
from kmc_tui.read import as_image

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

DTYPES = [np.uint8, np.uint16, np.bool_, np.float32, np.float64]
CHANNELS = [None, 1, 2, 3, 4]  # None: a 2-D (H, W) array


@st.composite
def images(draw, max_side=24):
    """An array of random shape, dtype and channel count, with values valid for its dtype."""
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    channels = draw(st.sampled_from(CHANNELS))
    dtype = draw(st.sampled_from(DTYPES))
    shape = (h, w) if channels is None else (h, w, channels)
    if dtype in (np.float32, np.float64):
        elements = st.floats(0.0, 1.0, width=32 if dtype == np.float32 else 64)
    elif dtype == np.bool_:
        elements = st.booleans()
    else:
        elements = st.integers(0, int(np.iinfo(dtype).max))
    # Few distinct values half the time, so that both "k suffices" and "k is short" occur.
    if draw(st.booleans()):
        values = draw(st.lists(elements, min_size=1, max_size=4))
        return draw(arrays(dtype, shape, elements=st.sampled_from(values)))
    return draw(arrays(dtype, shape, elements=elements))


def distinct_rgba(image) -> int:
    """Colors as kmc_tui counts them: every fully transparent pixel is the same color."""
    rgba = image.rgba().reshape(-1, 4).copy()
    rgba[rgba[:, 3] == 0] = 0
    return len(np.unique(rgba, axis=0))


@SETTINGS
@given(array=images(), k=st.integers(1, 256), seed=st.integers(0, 2**31 - 1))
def test_at_most_k_colors_same_shape_valid_indices(array, k, seed):
    image = as_image(array)
    q = quantize(image, k, seed=seed)
    assert 1 <= q.colors <= k
    assert q.indices.shape == array.shape[:2]
    assert q.indices.min() >= 0 and q.indices.max() < q.colors
    assert q.counts.sum() == array.shape[0] * array.shape[1]
    assert q.palette.shape == (q.colors, 3) and q.palette.dtype == np.uint8
    if q.alpha is not None:
        assert q.alpha.shape == (q.colors,)
    # Each palette entry is used, so "colors" is what the file holds.
    assert (np.bincount(q.indices.ravel(), minlength=q.colors) > 0).all()


@st.composite
def few_color_images(draw):
    """(array, k): an image built from at most k colors (RGB or RGBA, alpha of any level)."""
    k = draw(st.integers(1, 64))
    h, w = draw(st.integers(1, 20)), draw(st.integers(1, 20))
    channels = draw(st.sampled_from([3, 4]))
    m = draw(st.integers(1, k))
    palette = draw(arrays(np.uint8, (m, channels)))
    if channels == 4 and draw(st.booleans()):
        palette[:, 3] = draw(st.sampled_from([0, 255]))  # also plain on/off transparency
    labels = draw(arrays(np.intp, (h, w), elements=st.integers(0, m - 1)))
    return palette[labels], k


@SETTINGS
@given(case=few_color_images(), seed=st.integers(0, 2**31 - 1))
def test_image_with_at_most_k_colors_comes_back_exactly(case, seed):
    array, k = case
    image = as_image(array)
    if distinct_rgba(image) > k:  # two fully transparent entries count once, never more
        raise AssertionError("generator made too many colors")
    q = quantize(image, k, seed=seed)
    got, want = q.rgba(), image.rgba()
    np.testing.assert_array_equal(got[..., 3], want[..., 3])
    visible = want[..., 3] > 0
    np.testing.assert_array_equal(got[visible], want[visible])
    assert q.colors == distinct_rgba(image)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=few_color_images(), fmt=st.sampled_from(["png", "gif"]))
def test_encoded_file_holds_the_same_pixels(case, fmt):
    """The same property through process(): the written bytes decode to the same image."""
    array, k = case
    image = as_image(array)
    result = process(image, k, format=fmt)
    with PILImage.open(io.BytesIO(result.data)) as im:
        assert im.mode == "P" and im.size == (image.width, image.height)
        decoded = np.asarray(im.convert("RGBA"))
    want = image.rgba()
    if fmt == "gif":  # GIF has on/off transparency: compare what it can hold
        if ((want[..., 3] > 0) & (want[..., 3] < 255)).any():
            return
    visible = want[..., 3] > 0
    np.testing.assert_array_equal(decoded[..., 3] > 0, visible)
    np.testing.assert_array_equal(decoded[visible][:, :3], want[visible][:, :3])
    if fmt == "png":
        np.testing.assert_array_equal(decoded[..., 3], want[..., 3])
