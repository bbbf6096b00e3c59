"""The k-means plugin's objective against full convergence, and its in-process latency.

1. Objective: for each photo and k, the plugin's k-means objective (sum over every pixel of the
   squared CIELAB distance to its palette entry; computed over the weighted distinct colors,
   which is the same sum) against scikit-learn's KMeans from k-means++ run to full convergence
   (tol=0, up to 1000 Lloyd iterations) on the same weighted colors. Both sides run with seeds
   0..S-1 (--seeds): single k-means++ runs land in local optima up to a few percent apart, so the
   table shows our seed 0, the median of our seeds and the spread of both against the median of
   theirs. Both sides are scored as written: centers rounded to 8-bit colors, each color assigned
   to its nearest rounded entry.
2. Latency once scikit-learn is loaded (the TUI's situation): the quick preview (quantize() on
   the TUI's downscale, with its cap on Lloyd passes) and the full result (process(): quantize,
   encode, stats) of a 0.3 MP photo, median of 5.

Usage (repository root): python benchmarks/kmeans_quality.py [--ks 16,64,256] [--sizes real]
    [--images china,flower] [--seeds 3] [--max-iter N] [--skip-objective] [--skip-latency]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import SAMPLE_PHOTOS, SKLEARN_PHOTOS, WORK, make_case  # noqa: E402
from kmc_kmeans import KMeansQuantizer, from_features, to_features  # noqa: E402

from kmc_tui.api import process  # noqa: E402
from kmc_tui.quantize import quantize  # noqa: E402
from kmc_tui.read import read_image  # noqa: E402

#: Objectives of the reference runs, by photo/size/k/seed (they do not change with our code).
CACHE = WORK / "reference_objectives.json"


def objective(feats, weights, centers, labels) -> float:
    d = feats.astype(np.float64) - centers.astype(np.float64)[labels]
    return float((weights * (d * d).sum(1)).sum())


def objective_table(ks, sizes, names, seeds, max_iter) -> None:
    from sklearn.cluster import KMeans

    print(
        "| photo | MP | k | ours, seed 0 | ours, median | full-convergence k-means++, median "
        "| seed 0 vs their median | our median vs theirs | our spread | their spread "
        "| our s | their s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    gaps: dict[int, list[float]] = {}
    cache = json.loads(CACHE.read_text()) if CACHE.exists() else {}
    for size in sizes:
        for name in names:
            if size != "real" and name not in SKLEARN_PHOTOS:
                continue
            image = read_image(make_case(name, size).jpg)
            for k in ks:
                ours, our_secs = [], []
                for seed in range(seeds):
                    t = time.perf_counter()
                    q = quantize(image, k, seed=seed, params={"max_iter": max_iter})
                    our_secs.append(time.perf_counter() - t)
                    colors, labels, counts = q.source_pairs
                    feats = to_features(colors, "lab")
                    w = counts.astype(np.float64)
                    ours.append(objective(feats, w, to_features(q.palette, "lab"), labels))
                theirs, secs = [], []
                for seed in range(seeds):
                    # The reference runs take minutes at 12 MP: kept in benchmarks/work.
                    key = f"{name}/{size}/{k}/{seed}"
                    if key not in cache:
                        t = time.perf_counter()
                        model = KMeans(
                            n_clusters=k,
                            init="k-means++",
                            n_init=1,
                            tol=0.0,
                            max_iter=1000,
                            random_state=seed,
                        )
                        model.fit(feats, sample_weight=counts.astype(np.float32))
                        seconds = time.perf_counter() - t
                        # Written to a file, their centers become 8-bit colors too: round them
                        # the same way ours are and assign each to its nearest rounded entry.
                        palette = to_features(from_features(model.cluster_centers_, "lab"), "lab")
                        model.cluster_centers_ = palette
                        cache[key] = {
                            "objective": objective(feats, w, palette, model.predict(feats)),
                            "seconds": seconds,
                        }
                        CACHE.write_text(json.dumps(cache, indent=1))
                    theirs.append(cache[key]["objective"])
                    secs.append(cache[key]["seconds"])
                med = statistics.median(theirs)
                our_med = statistics.median(ours)
                gaps.setdefault(k, []).extend(100 * (x / med - 1) for x in ours)

                def rel(x: float, med: float = med) -> str:
                    return f"{100 * (x / med - 1):+.2f}%"

                print(
                    f"| {name} | {image.pixels / 1e6:.2f} | {k} | {ours[0]:.4g} | {our_med:.4g} "
                    f"| {med:.4g} | {rel(ours[0])} | {rel(our_med)} "
                    f"| {rel(min(ours))}..{rel(max(ours))} "
                    f"| {rel(min(theirs))}..{rel(max(theirs))} "
                    f"| {statistics.median(our_secs):.2f} | {statistics.median(secs):.1f} |",
                    flush=True,
                )

    print(f"\nAll our runs (max_iter={max_iter}) against the median full run of their photo and k:")
    for k, values in gaps.items():
        over = sum(v > 0.5 for v in values)
        print(
            f"k={k}: mean {statistics.mean(values):+.2f}%, "
            f"median {statistics.median(values):+.2f}%, "
            f"{over} of {len(values)} runs above +0.5%"
        )


def latency_table(ks) -> None:
    from kmc_kmeans import KMeansQuantizer

    from kmc_tui.tui.session import PREVIEW_PIXELS

    PREVIEW_MAX_ITER = next(p.preview for p in KMeansQuantizer.params if p.name == "max_iter")

    photo = read_image(make_case("china", "real").jpg)
    preview = photo.downscaled(PREVIEW_PIXELS)
    quantize(preview, 8)  # load scikit-learn and warm up
    print(
        f"\n| k | preview {preview.pixels:,} px, quantize(max_iter={PREVIEW_MAX_ITER}) "
        f"| full {photo.pixels:,} px, process() |"
    )
    print("|---:|---:|---:|")
    for k in ks:
        pre, full = [], []
        for _ in range(5):
            t = time.perf_counter()
            quantize(preview, k, params={"max_iter": PREVIEW_MAX_ITER})
            pre.append(time.perf_counter() - t)
            t = time.perf_counter()
            process(photo, k)
            full.append(time.perf_counter() - t)
        print(
            f"| {k} | {1000 * statistics.median(pre):.0f} ms | "
            f"{1000 * statistics.median(full):.0f} ms |",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ks", default="16,64,256")
    parser.add_argument("--sizes", default="real")
    parser.add_argument("--images", default=",".join(SKLEARN_PHOTOS + SAMPLE_PHOTOS))
    parser.add_argument("--seeds", type=int, default=3, help="seeds per side")
    default_max_iter = next(p.default for p in KMeansQuantizer.params if p.name == "max_iter")
    parser.add_argument(
        "--max-iter",
        type=int,
        default=default_max_iter,
        help=f"the plugin's max_iter (default: its own, {default_max_iter})",
    )
    parser.add_argument("--skip-objective", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    if not args.skip_objective:
        objective_table(
            ks, args.sizes.split(","), args.images.split(","), args.seeds, args.max_iter
        )
    if not args.skip_latency:
        latency_table(ks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
