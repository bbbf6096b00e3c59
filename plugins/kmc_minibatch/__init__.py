"""Mini-batch k-means (scikit-learn ``MiniBatchKMeans``) for very large images.

Like the ``kmeans`` plugin it clusters the image's distinct colors weighted by their pixel counts,
in CIELAB or RGB (the feature helpers are that plugin's, so both measure colors the same way).
Each step looks at a random batch of colors instead of all of them, so it trades a slightly
higher k-means objective for much less time when an image has millions of distinct colors.
scikit-learn's fit is one call that cannot be interrupted: ``should_stop`` is polled between
the steps around it (features, sampling, fit, assignment).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from kmc_kmeans import KMeansQuantizer, from_features, to_features

from kmc_tui.plugin_api import Cancelled, ColorHistogram, ParamSpec, Quantizer, QuantizerOutput


class MiniBatchKMeansQuantizer(Quantizer):
    """Mini-batch k-means over the weighted distinct colors, in CIELAB or RGB."""

    name = "minibatch"
    description = "Mini-batch k-means (scikit-learn): faster, approximate, for very large images"
    params = (
        ParamSpec(
            "color_space", str, "lab", "space the distances are measured in", choices=("lab", "rgb")
        ),
        ParamSpec("batch_size", int, 4096, "colors per mini-batch", min=16, max=1 << 20),
        ParamSpec(
            "max_iter", int, 100, "most passes over the colors", min=1, max=10000, preview=10
        ),
        ParamSpec(
            "sample_size",
            int,
            1 << 18,
            "with more distinct colors, learn from this many drawn by pixel count",
            min=1024,
            max=1 << 24,
        ),
    )
    supports_alpha = True

    @classmethod
    def warm_up(cls) -> None:
        KMeansQuantizer.warm_up()  # the same imports

    def quantize(
        self,
        hist: ColorHistogram,
        k: int,
        *,
        seed: int = 0,
        color_space: str = "lab",
        batch_size: int = 4096,
        max_iter: int = 100,
        sample_size: int = 1 << 18,
        should_stop: Callable[[], bool] | None = None,
    ) -> QuantizerOutput:
        def poll() -> None:
            if should_stop is not None and should_stop():
                raise Cancelled("cancelled")

        colors, counts = hist.colors, hist.counts
        if len(colors) <= k:
            return QuantizerOutput(colors.copy(), np.arange(len(colors)))
        from sklearn.cluster import MiniBatchKMeans
        from threadpoolctl import threadpool_limits

        poll()
        feats = to_features(colors, color_space)
        model = MiniBatchKMeans(
            n_clusters=k,
            init="k-means++",
            n_init=3,
            max_iter=max_iter,
            batch_size=batch_size,
            random_state=seed,
        )
        if len(colors) > sample_size:
            # scikit-learn draws every mini-batch by weight from all the rows, which costs
            # O(rows) per step (6 of 8 s on a 12 MP photo with a million colors). Drawing the
            # rows once, by pixel count, keeps each step cheap; every color is still assigned.
            p = counts / counts.sum()
            rows = np.random.default_rng(seed).choice(len(colors), size=sample_size, p=p)
            train, weights = feats[rows], None
        else:
            train, weights = feats, counts.astype(np.float32)
        # One OpenMP thread: a step's batch is too small to share, and waking threads for
        # each of hundreds of steps cost more than the step itself (40 ms vs 0.5 ms measured
        # on a busy 2-core machine).
        poll()
        with threadpool_limits(limits=1, user_api="openmp"):
            model.fit(train, sample_weight=weights)
        poll()
        labels = model.labels_ if weights is not None else model.predict(feats)
        return QuantizerOutput(from_features(model.cluster_centers_, color_space), labels)
