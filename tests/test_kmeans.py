"""The k-means plugin: exact objective, determinism, few colors, alpha, its parameters.

Quality is checked on real photos from samples/, downscaled so that fitting scikit-learn's
KMeans on every pixel (the reference) stays quick.
"""

from __future__ import annotations

import json
import subprocess
import sys

import kmc_kmeans
import numpy as np
import pytest
from conftest import SAMPLES, sha256
from kmc_kmeans import (
    KMeansQuantizer,
    RelaxedLloyd,
    from_features,
    grid_cells,
    kmeans_plusplus,
    to_features,
)
from PIL import Image as PILImage
from skimage.color import rgb2lab
from sklearn.cluster import KMeans

from kmc_tui import as_image, compress, quantize, read_image
from kmc_tui.errors import Cancelled
from kmc_tui.registry import ColorHistogram
from kmc_tui.stats import srgb8_to_lab


def pixel_features(rgb: np.ndarray, color_space: str) -> np.ndarray:
    """Features of every pixel, computed independently of the plugin (skimage, float64)."""
    flat = rgb.reshape(-1, 3)
    if color_space == "lab":
        return rgb2lab(flat[None] / 255.0)[0]
    return flat.astype(np.float64)


def inertia(
    feats: np.ndarray, palette_rgb: np.ndarray, labels: np.ndarray, color_space: str
) -> float:
    """Sum over every pixel of the squared distance to its palette entry, in `color_space`."""
    centers = pixel_features(palette_rgb.astype(np.uint8), color_space)
    return float(((feats - centers[labels.ravel()]) ** 2).sum())


def small_photo(name: str, max_pixels: int):
    return read_image(SAMPLES / name).downscaled(max_pixels)


@pytest.mark.parametrize(
    "name, k, color_space",
    [
        ("chelsea.png", 16, "lab"),
        ("coffee.png", 32, "lab"),
        ("astronaut.png", 24, "rgb"),
    ],
)
def test_objective_within_one_percent_of_kmeans_on_every_pixel(name, k, color_space):
    image = small_photo(name, 40_000)
    q = quantize(image, k, params={"color_space": color_space})
    feats = pixel_features(image.rgb, color_space)
    ours = inertia(feats, q.palette, q.indices, color_space)

    # Reference: scikit-learn fitted on every pixel (not the distinct colors), k-means++ and
    # Lloyd to its default tolerance; the median of three seeds, since single runs land in
    # local optima a few percent apart.
    refs = []
    for seed in range(3):
        model = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(feats)
        palette = from_features(model.cluster_centers_.astype(np.float32), color_space)
        refs.append(inertia(feats, palette, model.labels_, color_space))
    reference = float(np.median(refs))
    assert ours <= 1.01 * reference, (ours, refs)
    # The result is a real quantization, not a copy: k colors, each pixel at its nearest entry.
    assert q.colors == k
    centers = pixel_features(q.palette, color_space)
    nearest = ((feats[:, None, :] - centers[None]) ** 2).sum(2).argmin(1)
    assert np.mean(nearest == q.indices.ravel()) > 0.999


def test_same_input_and_seed_give_the_same_bytes_through_the_cli(cli, tmp_path):
    outs = []
    for n in range(2):
        out = tmp_path / f"out{n}.png"
        proc = cli("compress", "-i", SAMPLES / "chelsea.png", "-o", out, "-k", "24", "--seed", "7")
        assert proc.returncode == 0, proc.stderr
        outs.append(out)
    assert sha256(outs[0]) == sha256(outs[1])
    other = tmp_path / "other_seed.png"
    assert (
        cli(
            "compress", "-i", SAMPLES / "chelsea.png", "-o", other, "-k", "24", "--seed", "8"
        ).returncode
        == 0
    )
    with PILImage.open(other) as img:
        assert img.mode == "P" and len(img.getcolors()) == 24


def test_k_at_or_above_the_number_of_colors_keeps_every_color_exactly(cli, tmp_path):
    rng = np.random.default_rng(3)
    colors = np.array(
        [[250, 10, 10], [10, 200, 30], [20, 20, 240], [255, 255, 255], [0, 0, 0]], np.uint8
    )
    rgb = colors[rng.integers(0, len(colors), (60, 80))]
    src = tmp_path / "five.png"
    PILImage.fromarray(rgb).save(src)
    for k in (5, 64):
        out = tmp_path / f"out{k}.png"
        proc = cli("compress", "-i", src, "-o", out, "-k", k, "--json")
        assert proc.returncode == 0, proc.stderr
        record = json.loads(proc.stdout)
        assert record["colors"] == 5 and record["delta_e"] == 0
        with PILImage.open(out) as img:
            assert img.mode == "P"
            assert np.array_equal(np.asarray(img.convert("RGB")), rgb)
    # The plugin itself, handed no more colors than k, returns them unchanged.
    hist = ColorHistogram(colors, np.ones(5, np.int64))
    result = KMeansQuantizer().quantize(hist, 5)
    assert np.array_equal(result.palette, colors)
    assert np.array_equal(result.labels, np.arange(5))


def test_rgba_input_keeps_transparency(cli, tmp_path):
    src = SAMPLES / "toucan.png"
    image = read_image(src)
    assert image.alpha is not None and 0 < (image.alpha == 0).mean() < 1
    out = tmp_path / "toucan.png"
    proc = cli("compress", "-i", src, "-o", out, "-k", "16", "--json")
    assert proc.returncode == 0, proc.stderr
    with PILImage.open(out) as img:
        assert img.mode == "P" and "transparency" in img.info
        rgba = np.asarray(img.convert("RGBA"))
    assert len(np.unique(rgba.reshape(-1, 4), axis=0)) <= 16
    # Fully transparent stays fully transparent, fully opaque stays (nearly) opaque.
    assert np.all(rgba[..., 3][image.alpha == 0] == 0)
    assert np.mean(rgba[..., 3][image.alpha == 255] >= 224) > 0.99
    # Visible pixels keep their colors approximately.
    visible = image.alpha == 255
    err = np.abs(rgba[..., :3][visible].astype(int) - image.rgb[visible].astype(int)).mean()
    assert err < 12


def test_color_space_is_offered_validated_and_used(cli, tmp_path):
    listing = cli("plugins", "--json")
    assert listing.returncode == 0, listing.stderr
    plugins = {p["name"]: p for p in json.loads(listing.stdout)}
    spec = {p["name"]: p for p in plugins["kmeans"]["params"]}["color_space"]
    assert spec["default"] == "lab" and set(spec["choices"]) == {"lab", "oklab", "rgb"}

    outs = {}
    for space in ("lab", "oklab", "rgb"):
        out = tmp_path / f"{space}.png"
        proc = cli(
            "compress",
            "-i",
            SAMPLES / "astronaut.png",
            "-o",
            out,
            "-k",
            "16",
            "--param",
            f"color_space={space}",
            "--json",
        )
        assert proc.returncode == 0, proc.stderr
        outs[space] = json.loads(proc.stdout)
    # Each space wins on its own measure: lab on ΔE2000, rgb on PSNR (an RGB measure). On this
    # photo the ΔE2000 gap is about 10% (benchmarks/color_space.py); lab wins on 16 of 18
    # photo/k pairs there, which is why it is the default.
    assert outs["lab"]["delta_e"] < outs["rgb"]["delta_e"]
    assert outs["rgb"]["psnr"] > outs["lab"]["psnr"]
    # Oklab, the other perceptual space, does the same against RGB.
    assert outs["oklab"]["params"]["color_space"] == "oklab"
    assert outs["oklab"]["delta_e"] < outs["rgb"]["delta_e"]
    assert outs["rgb"]["psnr"] > outs["oklab"]["psnr"]
    with PILImage.open(tmp_path / "oklab.png") as img:
        assert img.mode == "P" and len(img.getcolors()) == 16

    for bad in ("color_space=hsv", "max_iter=0"):
        out = tmp_path / "bad.png"
        proc = cli("compress", "-i", SAMPLES / "coffee.png", "-o", out, "--param", bad)
        assert proc.returncode != 0
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert bad.split("=")[0] in proc.stderr
        assert not out.exists()


def test_the_bytes_written_do_not_depend_on_the_number_of_threads(tmp_path):
    # Threaded sums add in an order that depends on the thread count: with one thread and with
    # two, the same image and seed must still give the same file.
    from threadpoolctl import threadpool_limits

    src = tmp_path / "rocket.png"
    PILImage.fromarray(small_photo("rocket.jpg", 120_000).rgb).save(src)
    k = 64
    colors = np.unique(np.asarray(PILImage.open(src)).reshape(-1, 3), axis=0)
    # Enough work that the Lloyd passes over all colors do run on two threads.
    assert len(colors) * k >= kmc_kmeans.THREADED_MIN_WORK
    outs = []
    for threads in (1, 2):
        with threadpool_limits(threads):
            if kmc_kmeans.lloyd_kernels()[-1]() != threads:
                pytest.skip("this machine runs fewer than two OpenMP threads")
            out = tmp_path / f"threads{threads}.png"
            compress(src, out, k)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_lab_features_match_scikit_image():
    levels = np.arange(0, 256, 5, dtype=np.uint8)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 3)
    ours = srgb8_to_lab(grid)
    assert ours.dtype == np.float32
    assert np.abs(ours - rgb2lab(grid[None] / 255.0)[0]).max() < 1e-3
    assert np.array_equal(to_features(grid, "lab"), ours)
    back = from_features(ours, "lab")
    assert np.abs(back.astype(int) - grid.astype(int)).max() <= 1


def test_large_histogram_takes_the_grid_path_and_stays_exact():
    # Many distinct colors (the upscaled-photo case, at test size): the grid stage runs, and
    # every color still ends at its nearest final center.
    image = as_image(np.asarray(PILImage.open(SAMPLES / "coffee.png").convert("RGB")))
    q = quantize(image, 8)
    colors, labels, counts = q.source_pairs
    assert len(colors) > 20_000 and counts.sum() == image.pixels
    feats = to_features(colors, "lab").astype(np.float64)
    centers = to_features(q.palette, "lab").astype(np.float64)
    d = ((feats[:, None] - centers[None]) ** 2).sum(2)
    own = d[np.arange(len(colors)), labels]
    # Labels are nearest in the unrounded centers; rounding the palette to 8 bits moves the
    # boundaries a little, so allow a small slack.
    assert np.mean(own <= d.min(1) + 1.0) > 0.999


def weighted_colors(name: str, max_pixels: int):
    """Distinct colors of a photo as CIELAB features (float32) and their pixel counts."""
    rgb = small_photo(name, max_pixels).rgb.reshape(-1, 3)
    colors, counts = np.unique(rgb, axis=0, return_counts=True)
    return to_features(colors, "lab"), counts.astype(np.float32)


def objective_and_means(feats, weights, centers):
    """Exact objective of `centers` (float64, every point at its nearest) and Lloyd's image."""
    x, c = feats.astype(np.float64), centers.astype(np.float64)
    d = ((x[:, None] - c[None]) ** 2).sum(2)
    labels = d.argmin(1)
    objective = float((d[np.arange(len(x)), labels] * weights).sum())
    totals = np.bincount(labels, weights=weights, minlength=len(c))
    means = (
        np.stack(
            [
                np.bincount(labels, weights=weights * x[:, j], minlength=len(c))
                for j in range(x.shape[1])
            ],
            1,
        )
        / np.maximum(totals, 1e-12)[:, None]
    )
    return objective, np.where(totals[:, None] > 0, means, c)


def test_relaxed_lloyd_never_raises_the_objective_and_settles_at_a_fixed_point():
    feats, weights = weighted_colors("coffee.png", 30_000)
    start = kmeans_plusplus(
        feats.astype(np.float64), weights.astype(np.float64), 24, np.random.RandomState(0)
    )
    lloyd = RelaxedLloyd(feats, weights)
    previous, _ = objective_and_means(feats, weights, start)
    for max_iter in (1, 2, 3, 5, 8, 13, 21):
        run = lloyd.run(start, max_iter=max_iter)
        assert run.n_iter_ <= max_iter
        objective, _ = objective_and_means(feats, weights, run.cluster_centers_)
        # More passes from the same start never end higher (float32 sums: 1e-5 of slack).
        assert objective <= previous * (1 + 1e-5), (max_iter, objective, previous)
        assert run.inertia_ >= objective * (1 - 1e-4)  # an upper bound of the true objective
        previous = objective
    run = lloyd.run(start, max_iter=1000)
    assert run.n_iter_ < 1000  # it settled, by scikit-learn's tolerance
    objective, means = objective_and_means(feats, weights, run.cluster_centers_)
    assert objective <= previous * (1 + 1e-5)
    # At the end the centers are (to the tolerance) the weighted means of their points.
    assert ((means - run.cluster_centers_) ** 2).sum() <= 10 * lloyd.tol
    # ...and as good as plain Lloyd (scikit-learn) from the same start, run to the end.
    plain = KMeans(
        n_clusters=24, init=start, n_init=1, max_iter=1000, tol=1e-4, algorithm="lloyd"
    ).fit(feats, sample_weight=weights)
    plain_objective, _ = objective_and_means(feats, weights, plain.cluster_centers_)
    assert objective <= plain_objective * 1.01


def test_the_objective_tolerance_ends_the_run_once_a_step_gains_less_than_it():
    feats, weights = weighted_colors("coffee.png", 30_000)
    start = kmeans_plusplus(
        feats.astype(np.float64), weights.astype(np.float64), 24, np.random.RandomState(0)
    )
    settled = RelaxedLloyd(feats, weights).run(start, max_iter=1000)
    early = RelaxedLloyd(feats, weights, objective_tol=1e-3).run(start, max_iter=1000)
    assert early.n_iter_ < settled.n_iter_
    early_objective, _ = objective_and_means(feats, weights, early.cluster_centers_)
    settled_objective, _ = objective_and_means(feats, weights, settled.cluster_centers_)
    # More passes never end higher; the early end is where a step gained under 0.1%.
    assert settled_objective <= early_objective * (1 + 1e-5)
    assert early_objective <= settled_objective * 1.01


def test_without_scikit_learns_private_kernels_the_public_path_gives_the_same_quality(monkeypatch):
    # The relaxed steps use scikit-learn's private Lloyd pass; should a release move it, the
    # plugin falls back to KMeans.fit. Both must give an exact, equally good quantization.
    image = small_photo("chelsea.png", 40_000)
    feats = pixel_features(image.rgb, "lab")
    fast = quantize(image, 16, seed=1)
    monkeypatch.setattr(kmc_kmeans, "lloyd_kernels", lambda: None)
    public = quantize(image, 16, seed=1)
    objectives = [inertia(feats, q.palette, q.indices, "lab") for q in (fast, public)]
    assert objectives[1] <= objectives[0] * 1.02 and objectives[0] <= objectives[1] * 1.02
    for q in (fast, public):
        assert q.colors == 16
        centers = pixel_features(q.palette, "lab")
        nearest = ((feats[:, None, :] - centers[None]) ** 2).sum(2).argmin(1)
        assert np.mean(nearest == q.indices.ravel()) > 0.999


def test_a_changed_private_kernel_is_detected_and_the_public_path_used(monkeypatch):
    # A future scikit-learn could keep the name and change the arguments: lloyd_kernels() tries
    # them once and falls back rather than failing in the middle of a quantization.
    import sklearn.cluster._k_means_lloyd as lloyd_module

    def changed(X, sample_weight, centers, n_threads):
        raise AssertionError("must not be reached with the old arguments")

    monkeypatch.setattr(lloyd_module, "lloyd_iter_chunked_dense", changed)
    kmc_kmeans.lloyd_kernels.cache_clear()
    try:
        assert kmc_kmeans.lloyd_kernels() is None
        image = small_photo("coffee.png", 20_000)
        q = quantize(image, 12)
        assert q.colors == 12
    finally:
        monkeypatch.undo()
        kmc_kmeans.lloyd_kernels.cache_clear()
    assert kmc_kmeans.lloyd_kernels() is not None


def counting_kernels(monkeypatch) -> list[int]:
    """Make the plugin's compiled Lloyd pass count its calls; returns the one-item counter."""
    lloyd, threads = kmc_kmeans.lloyd_kernels()
    passes = [0]

    def counted(*args):
        passes[0] += 1
        return lloyd(*args)

    monkeypatch.setattr(kmc_kmeans, "lloyd_kernels", lambda: (counted, threads))
    return passes


def test_should_stop_is_polled_every_pass_and_stops_the_run_before_the_next(monkeypatch):
    image, k = small_photo("coffee.png", 30_000), 12
    colors, counts = np.unique(image.rgb.reshape(-1, 3), axis=0, return_counts=True)
    hist = ColorHistogram(colors, counts)
    passes = counting_kernels(monkeypatch)

    polls = []

    def never() -> bool:
        polls.append(passes[0])
        return False

    whole = KMeansQuantizer().quantize(hist, k, seed=3, should_stop=never)
    total = passes[0]
    assert total > 10 and len(polls) >= total  # asked at least once per pass
    # Asking does not change the result.
    passes[0] = 0
    assert np.array_equal(KMeansQuantizer().quantize(hist, k, seed=3).palette, whole.palette)

    def stop_at(turn: int, asked: list[int]):
        """A should_stop that turns True at its `turn`-th call; `asked` gets the pass counts."""

        def should_stop() -> bool:
            asked.append(passes[0])
            return len(asked) >= turn

        return should_stop

    for turn in (1, len(polls) // 3, len(polls) - 1):
        passes[0], asked = 0, []
        with pytest.raises(Cancelled):
            KMeansQuantizer().quantize(hist, k, seed=3, should_stop=stop_at(turn, asked))
        # It stopped at the first True: not asked again, and no pass started after it.
        assert len(asked) == turn and asked[-1] == passes[0], (turn, asked, passes)


def test_quantizing_runs_neither_scipy_stats_nor_sklearn_clusters_estimators_yet_both_work():
    # scikit-learn's start-up imports scipy.stats and sklearn.cluster every estimator: about
    # half of a CLI run on a small photo. The plugin needs neither; they still work when used.
    code = """
import sys
import numpy as np
from kmc_kmeans import KMeansQuantizer
from kmc_tui.registry import ColorHistogram
rng = np.random.default_rng(0)
colors = np.unique(rng.integers(0, 256, (5000, 3), dtype=np.uint8), axis=0)
KMeansQuantizer.warm_up()
out = KMeansQuantizer().quantize(ColorHistogram(colors, np.ones(len(colors), np.int64)), 8)
loaded = [name in sys.modules for name in ("scipy.stats._stats_py", "sklearn.cluster._kmeans")]
print(len(out.palette), *loaded)
import scipy.stats
from sklearn.cluster import KMeans
print(scipy.stats.norm.cdf(0.0), KMeans(2, n_init=1).fit(colors[:50].astype(float)).n_clusters)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["8", "False", "False", "0.5", "2"], proc.stdout


def test_dense_dark_region_gets_its_share_of_centers():
    # A night sky: thousands of near-black colors on many pixels each, and a patch of brighter
    # ones. Coarse cells would hold the whole dark region in a handful of points, and k-means on
    # them would leave it far too few centers; cells with much error in them are refined.
    rng = np.random.default_rng(0)
    dark = rng.integers(0, 14, (6000, 3))
    bright = rng.integers(90, 170, (6000, 3))
    colors = np.unique(np.vstack([dark, bright]).astype(np.uint8), axis=0)
    counts = np.where(colors.max(1) < 14, 400, 1).astype(np.int64)
    feats, weights = to_features(colors, "lab").astype(np.float64), counts.astype(np.float64)

    def objective(palette):
        centers = to_features(palette, "lab").astype(np.float64)
        d = ((feats[:, None] - centers[None]) ** 2).sum(2)
        return float(d.min(1) @ weights)

    k = 64
    ours = objective(KMeansQuantizer().quantize(ColorHistogram(colors, counts), k).palette)
    refs = []
    for seed in range(3):
        model = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(feats, sample_weight=weights)
        refs.append(objective(from_features(model.cluster_centers_.astype(np.float32), "lab")))
    assert ours <= 1.01 * float(np.median(refs)), (ours, refs)


@pytest.mark.parametrize("spread", [30.0, 3000.0])  # a dense table of cells, and np.unique's way
def test_grid_cells_are_the_weighted_means_of_the_occupied_cells(spread):
    rng = np.random.default_rng(7)
    # Half the colors spread out, half in a dense clump (cells of many colors either way).
    feats = rng.normal(size=(4000, 3)) * np.repeat([[spread], [5.0]], 2000, axis=0)
    feats = feats.astype(np.float32)
    weights = rng.integers(1, 50, 4000).astype(np.float32)
    means, totals = grid_cells(feats, weights, 2.0)
    groups: dict = {}
    for key, f, w in zip(
        map(tuple, np.floor(feats / 2.0).astype(int)), feats, weights, strict=True
    ):
        total, moment = groups.get(key, (0.0, 0.0))
        groups[key] = (total + float(w), moment + float(w) * f.astype(np.float64))
    expected = sorted(groups.items())  # the cells in the order of their grid coordinates
    assert np.array_equal(totals, np.float32([t for _, (t, _) in expected]))
    assert np.allclose(means, [m / t for _, (t, m) in expected], rtol=1e-6, atol=1e-4)
    # Refined where a cell holds too much error: finer cells, the same weight and moments.
    fine_means, fine_totals = grid_cells(feats, weights, 2.0, split_above=1.0)
    assert len(fine_means) > len(means)
    assert fine_totals.sum() == pytest.approx(weights.sum())
    assert np.allclose(fine_totals @ fine_means, weights @ feats, rtol=1e-5)
