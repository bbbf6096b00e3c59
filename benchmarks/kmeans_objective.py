"""The k-means plugin's objective on the everyday photos against full-convergence k-means++.

For each photo of ``benchmarks/everyday.py``'s set (default: eight of them, see PHOTOS) and
each k, the plugin's ``kmeans_palette`` is run on the photo's weighted distinct colors in
CIELAB with seeds 0..S-1, and scored as written: the sum over every pixel of the squared
distance to its 8-bit palette entry (each color goes to its nearest rounded entry). The
reference is scikit-learn's KMeans from k-means++ (seeds 0..R-1) run to full convergence
(tol=0, up to 1000 Lloyd iterations) on the same weighted colors, scored the same way; its
objectives are cached in benchmarks/work/everyday/kmeans_refs.json (they do not depend on our
code). Percentages are against the median of the reference runs of that photo and k.

Prints, per k: the mean gap over all runs, the runs and the photos (median of their seeds)
above +0.5% (issue 13's bound), the mean ΔE2000 of the photos as written (pixel-weighted, as
the pipeline's statistics), the CPU milliseconds per run (one thread, as a batch worker), and
the Lloyd passes; with --per-photo, one row per photo. The functions are importable, so
that an experiment can score a variant the same way (:func:`evaluate`). Not part of the test
suite.

    python benchmarks/kmeans_objective.py                       # k = 16, 64, 256; seeds 0-2
    python benchmarks/kmeans_objective.py --photos all --seeds 1 --per-photo
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from bench import WORK  # noqa: E402
from everyday import SET, make_set  # noqa: E402

#: The photos scored by default: a spread of kinds (smooth sky, texture, dark, microscopy).
PHOTOS = ("coffee", "china", "field", "hubble", "retina_top", "astronaut", "sugarshack", "ihc")
REFS = WORK / "everyday" / "kmeans_refs.json"
HISTS = WORK / "everyday" / "hists.npz"
BOUND = 0.5


def histograms() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each everyday photo's distinct colors and counts (cached)."""
    if not HISTS.exists():
        from kmc_tui.quantize import distinct_colors
        from kmc_tui.read import read_image

        arrays = {}
        for path in make_set():
            colors, counts, _ = distinct_colors(read_image(path).rgb.reshape(-1, 3))
            arrays[f"{path.stem}_colors"], arrays[f"{path.stem}_counts"] = colors, counts
        np.savez(HISTS, **arrays)
    with np.load(HISTS) as data:
        return {name: (data[f"{name}_colors"], data[f"{name}_counts"]) for name, *_ in SET}


def features(colors: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from kmc_kmeans import to_features

    return to_features(colors, "lab"), counts.astype(np.float32)


def objective_as_written(
    feats: np.ndarray, weights: np.ndarray, palette: np.ndarray, *, labels: bool = False
):
    """Sum over pixels of the squared distance to the nearest entry of 8-bit `palette` (and,
    with `labels`, each color's nearest entry)."""
    from kmc_kmeans import to_features

    entries = to_features(palette, "lab").astype(np.float64)
    f64, w64 = feats.astype(np.float64), weights.astype(np.float64)
    total = 0.0
    nearest = np.empty(len(f64), np.intp)
    for start in range(0, len(f64), 8192):
        chunk = f64[start : start + 8192]
        d = ((chunk[:, None, :] - entries[None]) ** 2).sum(2)
        nearest[start : start + 8192] = d.argmin(1)
        total += float(w64[start : start + 8192] @ d.min(1))
    return (total, nearest) if labels else total


def mean_delta_e(colors: np.ndarray, counts: np.ndarray, palette: np.ndarray, labels) -> float:
    """Pixel-weighted mean ΔE2000 of `colors` shown as ``palette[labels]``."""
    from kmc_tui.stats import palette_color_error

    return palette_color_error(colors, labels, palette, counts)[1]


def reference(name: str, k: int, seed: int, cache: dict, hists) -> float:
    """Objective of full-convergence k-means++ (scikit-learn), as written; cached."""
    key = f"{name}/{k}/{seed}"
    if key not in cache:
        from kmc_kmeans import from_features
        from sklearn.cluster import KMeans

        feats, weights = features(*hists[name])
        t = time.perf_counter()
        model = KMeans(k, init="k-means++", n_init=1, tol=0.0, max_iter=1000, random_state=seed)
        model.fit(feats, sample_weight=weights)
        palette = from_features(model.cluster_centers_.astype(np.float32), "lab")
        cache[key] = {
            "objective": objective_as_written(feats, weights, palette),
            "seconds": time.perf_counter() - t,
            "n_iter": int(model.n_iter_),
        }
        REFS.write_text(json.dumps(cache, indent=1))
        print(f"reference {key}: {cache[key]}", file=sys.stderr, flush=True)
    return cache[key]["objective"]


def plugin_palette(feats: np.ndarray, weights: np.ndarray, k: int, seed: int) -> np.ndarray:
    """The plugin as the pipeline runs it (default parameters): its 8-bit palette."""
    from kmc_kmeans import kmeans_palette

    palette, _ = kmeans_palette(feats, weights, k, seed=seed, color_space="lab", max_iter=20)
    return palette


def count_passes() -> Callable[[], tuple[int, int]]:
    """Count Lloyd passes (RelaxedLloyd.step calls) and their distance evaluations (points
    times centers: the work, whatever the load) from now on; returns a reader."""
    import kmc_kmeans

    counter = {"passes": 0, "distances": 0}
    step = kmc_kmeans.RelaxedLloyd.step
    if not hasattr(step, "counted"):

        def counted_step(self, centers):
            counter["passes"] += 1
            counter["distances"] += len(self.points) * len(centers)
            return step(self, centers)

        counted_step.counted = counter
        kmc_kmeans.RelaxedLloyd.step = counted_step
    else:
        counter = step.counted
    start = dict(counter)
    return lambda: (counter["passes"] - start["passes"], counter["distances"] - start["distances"])


def evaluate(
    palette_of: Callable = plugin_palette,
    *,
    ks=(16, 64, 256),
    photos=PHOTOS,
    seeds=(0, 1, 2),
    ref_seeds=(0, 1, 2),
    label: str = "plugin",
    per_photo: bool = False,
) -> dict[int, dict]:
    """Score `palette_of(feats, weights, k, seed) -> (k, 3) uint8` the same way; print a row per
    k (and per photo with `per_photo`); returns the figures by k."""
    from threadpoolctl import threadpool_limits

    hists = histograms()
    cache = json.loads(REFS.read_text()) if REFS.exists() else {}
    summary = {}
    with threadpool_limits(1):
        for k in ks:
            gaps, medians, cpu, delta_e = [], {}, [], []
            passes = count_passes()
            for name in photos:
                ref = statistics.median(reference(name, k, s, cache, hists) for s in ref_seeds)
                feats, weights = features(*hists[name])
                photo_gaps = []
                for seed in seeds:
                    t = time.thread_time()
                    palette = palette_of(feats, weights, k, seed)
                    cpu.append(time.thread_time() - t)
                    ours, labels = objective_as_written(feats, weights, palette, labels=True)
                    delta_e.append(mean_delta_e(*hists[name], palette, labels))
                    photo_gaps.append(100.0 * (ours / ref - 1.0))
                gaps += photo_gaps
                medians[name] = statistics.median(photo_gaps)
                if per_photo:
                    print(
                        f"  k={k:<3d} {name:16s} {len(feats):7d} colors  median "
                        f"{medians[name]:+.2f}%  runs " + " ".join(f"{g:+.2f}" for g in photo_gaps),
                        flush=True,
                    )
            row = dict(
                mean=statistics.mean(gaps),
                runs_above=sum(g > BOUND for g in gaps),
                runs=len(gaps),
                photos_above=sum(m > BOUND for m in medians.values()),
                photos=len(medians),
                worst_photo=max(medians.values()),
                delta_e=statistics.mean(delta_e),
                cpu_ms=1000.0 * statistics.mean(cpu),
                passes=passes()[0] / len(gaps),
                distances=passes()[1] / len(gaps) / 1e6,
            )
            summary[k] = row
            print(
                f"| {label} | {k} | {row['mean']:+.2f}% | {row['runs_above']} of {row['runs']} "
                f"| {row['photos_above']} of {row['photos']} | {row['worst_photo']:+.2f}% "
                f"| {row['delta_e']:.4f} "
                f"| {row['cpu_ms']:.0f} | {row['passes']:.1f} | {row['distances']:.0f} |",
                flush=True,
            )
    return summary


HEADER = (
    "| variant | k | mean gap | runs above +0.5% | photo medians above +0.5% | worst photo median "
    "| mean ΔE2000 | CPU ms per run | Lloyd passes per run | M distances per run |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ks", default="16,64,256")
    parser.add_argument("--photos", default=",".join(PHOTOS), help="names, or 'all'")
    parser.add_argument("--seeds", type=int, default=3, help="our seeds 0..S-1")
    parser.add_argument("--ref-seeds", type=int, default=3, help="reference seeds 0..R-1")
    parser.add_argument("--per-photo", action="store_true")
    args = parser.parse_args()
    photos = [n for n, *_ in SET] if args.photos == "all" else args.photos.split(",")
    import os

    load = os.getloadavg()[0]
    print(HEADER)
    evaluate(
        ks=[int(k) for k in args.ks.split(",")],
        photos=photos,
        seeds=range(args.seeds),
        ref_seeds=range(args.ref_seeds),
        per_photo=args.per_photo,
    )
    print(f"\nLoad average before / after: {load:.1f} / {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
