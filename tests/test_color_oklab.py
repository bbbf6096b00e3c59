"""The k-means plugin's Oklab color space: the conversion, its inverse, the plugin and the CLI."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import SAMPLES
from kmc_kmeans import KMeansQuantizer, from_features, to_features
from sklearn.cluster import KMeans

from kmc_tui import quantize, read_image
from kmc_tui.errors import ParameterError
from kmc_tui.plugin_api import ColorHistogram
from kmc_tui.registry import Registry
from kmc_tui.testing import check_quantizer

#: sRGB colors and their Oklab coordinates as published (Ottosson's "A perceptual color space
#: for image processing" and CSS Color 4's worked conversions), to the digits given there.
PUBLISHED = [
    ((255, 255, 255), (1.0, 0.0, 0.0)),
    ((0, 0, 0), (0.0, 0.0, 0.0)),
    ((255, 0, 0), (0.62796, 0.22486, 0.12585)),
    ((0, 255, 0), (0.86644, -0.23389, 0.17950)),
    ((0, 0, 255), (0.45201, -0.03246, -0.31153)),
]


def test_oklab_matches_published_values():
    colors = np.array([c for c, _ in PUBLISHED], np.uint8)
    expected = np.array([v for _, v in PUBLISHED])
    feats = to_features(colors, "oklab")
    assert feats.dtype == np.float32 and feats.shape == (len(PUBLISHED), 3)
    np.testing.assert_allclose(feats, expected, atol=1e-4)
    # Grays have no chroma, and L grows with the level.
    grays = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, 1)
    gray_feats = to_features(grays, "oklab")
    assert np.abs(gray_feats[:, 1:]).max() < 1e-4
    assert np.all(np.diff(gray_feats[:, 0]) > 0)


def test_oklab_round_trip_stays_within_one_level():
    rng = np.random.default_rng(16)
    corners = np.array(np.meshgrid(*[[0, 1, 254, 255]] * 3)).reshape(3, -1).T
    colors = np.concatenate([rng.integers(0, 256, (300_000, 3)), corners]).astype(np.uint8)
    back = from_features(to_features(colors, "oklab"), "oklab")
    assert back.dtype == np.uint8
    assert np.abs(back.astype(int) - colors).max() <= 1
    # Alpha rides along, scaled as lab's is: a full step of opacity weighs like white over black.
    rgba = np.column_stack([colors[:1000], rng.integers(0, 256, 1000)]).astype(np.uint8)
    feats = to_features(rgba, "oklab")
    np.testing.assert_allclose(feats[:, 3], rgba[:, 3] / 255.0, rtol=1e-6)
    assert np.abs(from_features(feats, "oklab").astype(int) - rgba).max() <= 1


def test_centers_outside_the_gamut_come_back_as_the_nearest_colors():
    # k-means centers are means: they can fall outside the sRGB gamut, and must still map back.
    feats = np.array([[1.2, 0.0, 0.0], [-0.1, 0.0, 0.0], [0.6, 0.5, 0.3]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no invalid-value warning from a negative light
        rgb = from_features(feats, "oklab")
    assert rgb[0].tolist() == [255, 255, 255] and rgb[1].tolist() == [0, 0, 0]
    assert rgb[2, 0] == 255 and rgb[2, 1:].max() < 128  # a red beyond sRGB's red


def test_kmeans_in_oklab_reaches_the_objective_of_kmeans_on_every_pixel():
    image = read_image(SAMPLES / "coffee.png").downscaled(40_000)
    k = 16
    q = quantize(image, k, params={"color_space": "oklab"})
    assert q.colors == k and q.params["color_space"] == "oklab"
    feats = to_features(image.rgb.reshape(-1, 3), "oklab").astype(np.float64)

    def objective(palette, labels):
        centers = to_features(palette, "oklab").astype(np.float64)
        return float(((feats - centers[labels.ravel()]) ** 2).sum())

    ours = objective(q.palette, q.indices)
    refs = []
    for seed in range(3):
        model = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(feats)
        palette = from_features(model.cluster_centers_.astype(np.float32), "oklab")
        refs.append(objective(palette, model.labels_))
    assert ours <= 1.01 * float(np.median(refs)), (ours, refs)
    # Each pixel is at its nearest palette entry in Oklab.
    centers = to_features(q.palette, "oklab").astype(np.float64)
    nearest = ((feats[:, None, :] - centers[None]) ** 2).sum(2).argmin(1)
    assert np.mean(nearest == q.indices.ravel()) > 0.999


def test_kmeans_with_oklab_passes_the_conformance_kit():
    record = Registry(use_env=False).get("kmeans")
    results = check_quantizer(record, params={"color_space": "oklab"})
    assert results and all(r.passed for r in results)


def test_a_color_space_outside_the_declared_choices_is_refused_by_the_plugin_too():
    hist = ColorHistogram(np.array([[0, 0, 0], [255, 255, 255]], np.uint8), np.ones(2, np.int64))
    with pytest.raises(ParameterError, match="color_space.*lab, rgb, oklab"):
        KMeansQuantizer().quantize(hist, 1, color_space="hsv")


def test_cli_refuses_an_unknown_color_space_naming_oklab(cli, tmp_path):
    bad = cli(
        "compress",
        "-i",
        SAMPLES / "coffee.png",
        "-o",
        tmp_path / "bad.png",
        "--param",
        "color_space=okhsl",
    )
    assert bad.returncode != 0 and "oklab" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert not (tmp_path / "bad.png").exists()
