"""k-means color quantization: scikit-learn's KMeans over every pixel, in CIELAB or RGB.

Exact: the objective is the one over all pixels. The distinct colors are clustered, each
weighted by its pixel count (``sample_weight``), which is the same objective at a fraction of the
cost (a 12 MP photo has about half a million distinct colors).
"""

from __future__ import annotations

import numpy as np

from kmc_tui.registry import ColorHistogram, ParamSpec, Quantizer, QuantizerOutput

#: Alpha is scaled to this range so a full step of opacity weighs like a full step of lightness.
_ALPHA_SCALE = {"lab": 100.0 / 255.0, "rgb": 1.0}


def to_features(colors: np.ndarray, color_space: str) -> np.ndarray:
    """(n, 3|4) uint8 colors to float32 features in `color_space` (alpha appended, scaled)."""
    rgb = colors[:, :3]
    if color_space == "lab":
        from skimage.color import rgb2lab

        feats = rgb2lab(rgb[None].astype(np.float32) / 255.0)[0]
    else:
        feats = rgb.astype(np.float32)
    if colors.shape[1] == 4:
        feats = np.column_stack([feats, colors[:, 3] * _ALPHA_SCALE[color_space]])
    return np.ascontiguousarray(feats, dtype=np.float32)


def from_features(feats: np.ndarray, color_space: str) -> np.ndarray:
    """Inverse of :func:`to_features`, rounded and clipped to uint8."""
    if color_space == "lab":
        from skimage.color import lab2rgb

        rgb = lab2rgb(feats[None, :, :3].astype(np.float64))[0] * 255.0
    else:
        rgb = feats[:, :3]
    out = [rgb]
    if feats.shape[1] == 4:
        out.append(feats[:, 3:] / _ALPHA_SCALE[color_space])
    return np.clip(np.round(np.column_stack(out)), 0, 255).astype(np.uint8)


class KMeansQuantizer(Quantizer):
    """k-means (scikit-learn) over every pixel, weighted distinct colors, in CIELAB or RGB."""

    name = "kmeans"
    description = "Exact k-means over all pixels (scikit-learn), in CIELAB or RGB"
    params = (
        ParamSpec("color_space", str, "lab", "space the distances are measured in",
                  choices=("lab", "rgb")),
        ParamSpec("max_iter", int, 300, "most Lloyd iterations", min=1, max=10000),
    )
    supports_alpha = True

    def quantize(self, hist: ColorHistogram, k: int, *, seed: int = 0,
                 color_space: str = "lab", max_iter: int = 300) -> QuantizerOutput:
        colors, counts = hist.colors, hist.counts
        if len(colors) <= k:
            return QuantizerOutput(colors.copy(), np.arange(len(colors)))
        from sklearn.cluster import KMeans

        feats = to_features(colors, color_space)
        model = KMeans(n_clusters=k, init="k-means++", n_init=1, max_iter=max_iter,
                       random_state=seed, algorithm="lloyd")
        labels = model.fit_predict(feats, sample_weight=counts.astype(np.float32))
        return QuantizerOutput(from_features(model.cluster_centers_, color_space), labels)
