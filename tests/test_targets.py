"""Choosing k under a ΔE2000 or size target, through the public API, on real photos.

Every claim is checked against plain runs (``process`` at the chosen k and at its neighbour),
made here independently of the search.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DATA, SAMPLES
from PIL import Image as PILImage

from kmc_tui import (
    Cancelled,
    ParameterError,
    Target,
    TargetUnreachable,
    Trial,
    as_image,
    compress,
    process,
    read_image,
    search_k,
)
from kmc_tui.targets import (
    k_ladder,
    knee,
    parse_size,
    rate_distortion,
    sample_pixels,
    sample_rows,
    sample_tiles,
)


def photo(name: str, width: int) -> object:
    """A sample photo resized to `width` pixels across (area-averaged: a real photo still)."""
    src = PILImage.open(SAMPLES / name)
    mode = "RGBA" if src.mode in ("RGBA", "LA", "P") else "RGB"
    src = src.convert(mode)
    size = (width, round(src.height * width / src.width))
    return as_image(np.asarray(src.resize(size, PILImage.Resampling.LANCZOS)))


@pytest.fixture(scope="module")
def small():
    return photo("chelsea.png", 150)


@pytest.fixture(scope="module")
def large():
    """Large enough for the search to lead with estimates on a sample of 1/8 of its pixels."""
    return photo("coffee.png", 480)


#: Pixels of the samples the tests ask for (the default is for larger images).
SAMPLE = 8192


def plain(image, k, **settings):
    return process(image, k, **settings)


def check_delta_e_claim(image, target, result, **settings):
    """The result is a plain run at its k, meets the target, and one color fewer does not."""
    k = result.quantized.k
    again = plain(image, k, **settings)
    assert again.data == result.data
    assert again.stats.delta_e == result.stats.delta_e <= target.max_delta_e
    assert result.search.k == k
    if k == 1:
        assert result.search.at_bound
    else:
        assert plain(image, k - 1, **settings).stats.delta_e > target.max_delta_e


def check_bytes_claim(image, target, result, k_max=256, **settings):
    """The file is a plain run's at its k, fits, and one color more's does not."""
    k = result.quantized.k
    again = plain(image, k, **settings)
    assert again.data == result.data
    assert len(result.data) == result.stats.output_bytes <= target.max_bytes
    if k == k_max:
        assert result.search.at_bound
    else:
        assert plain(image, k + 1, **settings).stats.output_bytes > target.max_bytes


@pytest.mark.parametrize("max_delta_e", [2.2, 3.0, 4.5, 7.0])
def test_delta_e_target_is_met_and_minimal(small, max_delta_e):
    target = Target(max_delta_e=max_delta_e)
    result = search_k(small, target)
    check_delta_e_claim(small, target, result)
    assert not result.search.at_bound
    assert all(t.delta_e is not None for t in result.search.trials)


@pytest.mark.parametrize("max_bytes", ["2K", "4K", "6.5K", "9000"])
def test_bytes_target_is_met_and_maximal(small, max_bytes):
    target = Target(max_bytes=max_bytes)
    result = search_k(small, target)
    check_bytes_claim(small, target, result)


def test_large_image_is_searched_with_estimates_and_the_claim_still_holds(large):
    target = Target(max_delta_e=2.5)
    result = search_k(large, target, sample=SAMPLE)
    trials = result.search.trials
    estimates = [t for t in trials if t.estimate]
    real = [t for t in trials if not t.estimate]
    assert estimates, "the search should be led by estimates on a sample"
    # Estimates of ΔE2000 on random pixels come close: the real runs only check the answer.
    assert len(real) <= 4
    check_delta_e_claim(large, target, result)


def test_large_image_size_target_with_estimates(large):
    target = Target(max_bytes="50K")
    result = search_k(large, target, sample=SAMPLE)
    assert any(t.estimate for t in result.search.trials)
    check_bytes_claim(large, target, result)


def see_through(image):
    """`image` with a hole (fully transparent) and a half-transparent band."""
    alpha = np.full(image.rgb.shape[:2], 255, np.uint8)
    alpha[: image.height // 3, : image.width // 2] = 0
    alpha[image.height // 2 : image.height // 2 + 40] = 128
    return as_image(np.dstack([image.rgb, alpha]))


@pytest.mark.parametrize(
    ("case", "max_bytes", "settings"),
    [("opaque", "50K", {}), ("dithered", "60K", {"dither": True}),
     ("see-through", "40K", {}), ("gif", "50K", {"format": "gif"})],
)  # fmt: skip
def test_size_estimates_come_close_to_plain_runs(large, case, max_bytes, settings):
    # Only the palette is estimated (a sample's, laid over the image's own pixels), so an
    # estimate is a few percent from the plain run's file at its k, and the claim holds.
    image = see_through(large) if case == "see-through" else large
    target = Target(max_bytes=max_bytes)
    result = search_k(image, target, sample=SAMPLE, **settings)
    estimates = [t for t in result.search.trials if t.estimate]
    assert estimates
    for trial in estimates[-2:]:
        real = plain(image, trial.k, **settings).stats.output_bytes
        assert abs(trial.bytes / real - 1) < 0.05, (trial, real)
    check_bytes_claim(image, target, result, **settings)


def test_row_sample_is_whole_rows_from_all_over_the_image(large):
    rows = sample_rows(large, pixels=40_000, band=16)
    assert rows.width == large.width and rows.height % 16 == 0
    assert 0.5 * 40_000 <= rows.pixels <= 40_000
    # Bands of rows, unchanged: the first at the top, the last at the bottom.
    assert np.array_equal(rows.rgb[:16], large.rgb[:16])
    assert np.array_equal(rows.rgb[-16:], large.rgb[-16:])
    assert sample_rows(large, pixels=large.pixels) is large


@pytest.mark.parametrize(
    ("format", "dither"), [("gif", False), ("webp", False), ("jpeg", False), ("png", True)]
)
def test_every_format_and_dithering_keep_the_claim(small, format, dither):
    settings = {"format": format, "dither": dither}
    target = Target(max_delta_e=3.0)
    check_delta_e_claim(small, target, search_k(small, target, **settings), **settings)
    target = Target(max_bytes="6K")
    check_bytes_claim(small, target, search_k(small, target, **settings), **settings)


@pytest.mark.parametrize("plugin", ["mediancut", "octree", "minibatch"])
def test_other_plugins_keep_the_claim(small, plugin):
    target = Target(max_delta_e=3.0)
    result = search_k(small, target, plugin=plugin)
    assert result.quantized.plugin == plugin
    check_delta_e_claim(small, target, result, plugin=plugin)


def test_seed_and_parameters_are_those_of_every_run(small):
    settings = {"seed": 7, "params": {"color_space": "rgb"}}
    target = Target(max_delta_e=2.5)
    result = search_k(small, target, **settings)
    assert result.quantized.seed == 7 and result.quantized.params["color_space"] == "rgb"
    check_delta_e_claim(small, target, result, **settings)


def test_transparent_image_keeps_the_claim():
    dice = read_image(SAMPLES / "dice.png")
    target = Target(max_delta_e=2.0)
    result = search_k(dice, target)
    assert result.quantized.alpha is not None
    check_delta_e_claim(dice, target, result)


def test_k_max_bounds_the_search(small):
    target = Target(max_bytes="1M")  # everything fits: the answer is the most colors allowed
    result = search_k(small, target, k_max=12)
    assert result.quantized.k == 12 and result.search.at_bound
    target = Target(max_delta_e=50)  # one color is enough
    result = search_k(small, target)
    assert result.quantized.k == 1 and result.search.at_bound


def test_unreachable_delta_e_says_what_was_reachable(small):
    target = Target(max_delta_e=0.3)
    with pytest.raises(TargetUnreachable) as info:
        search_k(small, target, k_max=32)
    best = plain(small, 32).stats.delta_e
    assert info.value.best == pytest.approx(best)
    assert str(info.value) == f"ΔE2000 ≤ 0.3 not reachable with 32 colors (best {best:.2f})"


def test_unreachable_size_says_what_was_reachable(small):
    with pytest.raises(TargetUnreachable) as info:
        search_k(small, Target(max_bytes=50))
    assert info.value.best == plain(small, 1).stats.output_bytes
    assert str(info.value).startswith("size ≤ 50 B not reachable (smallest ")


def test_image_with_few_colors_reaches_zero(tmp_path):
    rng = np.random.default_rng(1)
    colors = rng.integers(0, 256, (5, 3), dtype=np.uint8)
    image = as_image(colors[rng.integers(0, 5, (40, 60))])
    result = search_k(image, Target(max_delta_e=0))
    assert result.quantized.k == 5 and result.stats.delta_e == 0


def test_cancelled_between_runs(small):
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        search_k(small, Target(max_delta_e=2.0), should_stop=should_stop)


def test_compress_with_a_target_writes_the_chosen_k(small, tmp_path):
    src = tmp_path / "in.png"
    PILImage.fromarray(small.rgb).save(src)
    out = tmp_path / "out.png"
    result = compress(src, out, 256, target=Target(max_delta_e=2.5))
    assert result.output == out and out.read_bytes() == result.data
    check_delta_e_claim(read_image(src), Target(max_delta_e=2.5), result)


def test_compress_skip_if_larger_writes_nothing(tmp_path):
    # PngSuite's 2-bit gray image: 104 bytes, smaller than any palette PNG of it.
    src = DATA / "pngsuite" / "basn0g02.png"
    out = tmp_path / "out.png"
    result = compress(src, out, 4, skip_if_larger=True)
    assert result.output is None and not out.exists()
    assert result.stats.output_bytes >= src.stat().st_size
    assert compress(src, out, 4).output == out  # without the flag it is written


@pytest.mark.parametrize(
    ("text", "value"),
    [("150000", 150_000), ("150K", 150_000), ("150k", 150_000), ("1.5M", 1_500_000),
     ("150KB", 150_000), ("150KiB", 153_600), ("2MiB", 2 * 1024 * 1024), (" 7 ", 7), (99, 99)],
)  # fmt: skip
def test_sizes(text, value):
    assert parse_size(text) == value
    assert Target(max_bytes=text).max_bytes == value


@pytest.mark.parametrize("text", ["", "K", "1.5X", "-3K", "0", "0.0004K", "1e3", "nan"])
def test_bad_sizes(text):
    with pytest.raises(ParameterError, match="size"):
        parse_size(text)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"max_delta_e": 1, "max_bytes": 5}, {"max_delta_e": -1}, {"max_delta_e": "x"},
     {"max_delta_e": float("inf")}, {"max_delta_e": float("nan")}],
)  # fmt: skip
def test_bad_targets(kwargs):
    with pytest.raises(ParameterError):
        Target(**kwargs)


def test_samples_come_from_all_over_the_image(large):
    tiles = sample_tiles(large, pixels=SAMPLE)
    pixels = sample_pixels(large, pixels=SAMPLE)
    for sample in (tiles, pixels):
        assert 0.5 * SAMPLE <= sample.pixels <= SAMPLE
    # Every tile is a piece of the image, unchanged: the first one is its top-left corner.
    assert np.array_equal(tiles.rgb[:32, :32], large.rgb[:32, :32])
    assert np.array_equal(tiles.rgb[-32:, -32:], large.rgb[-32:, -32:])
    # Random pixels: their mean color is the image's, within a level.
    assert np.abs(pixels.rgb.mean((0, 1)) - large.rgb.mean((0, 1))).max() < 1.0


def test_k_ladder():
    ladder = k_ladder()
    assert ladder[0] == 2 and ladder[-1] == 256 and 20 <= len(ladder) <= 30
    assert list(ladder) == sorted(set(ladder))
    assert k_ladder(16)[-1] == 16 and k_ladder(1) == (1,)


def test_rate_distortion_points_are_plain_runs(small):
    ks = (2, 8, 32, 128)
    points = list(rate_distortion(small, ks))
    assert [p.k for p in points] == list(ks)
    for point in points:
        result = plain(small, point.k)
        assert not point.estimate and point.meets is None
        assert point.delta_e == result.stats.delta_e
        assert point.bytes == result.stats.output_bytes
    assert points[0].delta_e > points[-1].delta_e and points[0].bytes < points[-1].bytes


def test_rate_distortion_estimates_come_from_a_sample(large):
    points = list(rate_distortion(large, (4, 64), estimate=True, sample=SAMPLE))
    assert all(p.estimate for p in points)
    for point in points:
        real = plain(large, point.k).stats
        # A sample of tiles: the right order of size and error, not the exact figures.
        assert 0.5 < point.bytes / real.output_bytes < 2
        assert 0.5 < point.delta_e / real.delta_e < 2


def test_knee_is_where_the_curve_bends(small):
    def point(k, nbytes, delta_e):
        return Trial(k, delta_e, nbytes, False, None, 0.0)

    # Steep, then flat: the bend is at the third point.
    curve = [point(2, 100, 10.0), point(4, 150, 5.0), point(8, 200, 2.0), point(16, 400, 1.5),
             point(32, 800, 1.2)]  # fmt: skip
    found = knee(curve)
    assert found.k == 8 and "Kneedle" in found.how
    assert knee(curve[:2]) is None
    straight = [point(k, 100 * k, 10.0 - k / 4) for k in (2, 4, 8, 16)]
    assert knee(straight) is None
    real = list(rate_distortion(small, k_ladder(64, steps=8)))
    assert knee(real).k in [p.k for p in real[1:-1]]
