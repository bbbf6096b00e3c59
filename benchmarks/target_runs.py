"""Benchmark: how many real runs and estimates a target search makes, case by case.

The runs a search makes do not depend on the machine's load, so they are counted rather than
timed: the search (kmc_tui.targets._Search, unchanged) is replayed with each run's figures
looked up in a cache, computed once on a miss (real runs and ΔE2000 estimates by
``_Runs.run``, size estimates by ``_SizeEstimates.run``). A run's figures do not depend on the
search code either (each is a plain run, or a run on the search's sample), so one cache serves any
version of the search: run this at two commits to compare their searches on the same runs.

Cases: astronaut, coffee, rocket and chelsea at ΔE2000 ≤ 2, ≤ 3 and 60 KB, and every sample at
ΔE2000 ≤ 1.5, 2.5, 4, 20 KB and 100 KB (kmeans, PNG, seed 0, k up to 256); with --big, the
12 MP photo of benchmarks/targets.py at ΔE2000 ≤ 2.5 and 1.5 MB as well.

Not part of the test suite. From the repository root:

    python benchmarks/target_runs.py                    # cache in benchmarks/work/
    python benchmarks/target_runs.py --big --cache /tmp/runs.json
    python benchmarks/target_runs.py --accuracy --big   # size estimates against real files

``--accuracy`` times nothing but says how far size estimates are from the real file: for each
size case, at the k chosen and around it, the estimate over the plain run's file, for the
search's estimates and for the earlier ones (the plugin run on 32x32 tiles, their file scaled),
with the seconds each took against the plain run (one run each: rough under load).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import kmc_tui.targets as targets  # noqa: E402
from kmc_tui import Target, read_image  # noqa: E402

SAMPLES = ROOT / "samples"
TUNED = ("astronaut.png", "coffee.png", "rocket.jpg", "chelsea.png")
TUNED_TARGETS = (("max_delta_e", "2"), ("max_delta_e", "3"), ("max_bytes", "60K"))
#: Size cases of --accuracy: (sample, the k its 60 KB target picks).
ACCURACY = (("astronaut.png", 53), ("coffee.png", 34), ("rocket.jpg", 48))
OTHER_TARGETS = (
    ("max_delta_e", "1.5"),
    ("max_delta_e", "2.5"),
    ("max_delta_e", "4"),
    ("max_bytes", "20K"),
    ("max_bytes", "100K"),
)


def replay(path: Path, kind: str, value: str, cache: dict, cache_path: Path):
    """(k, real ks, estimated ks) of the search for one case, runs from `cache`."""
    compute = {cls: cls.run for cls in (targets._Runs, targets._SizeEstimates)}

    def cached(cls, what):
        def run(self, k):
            key = f"{path.name}|{what(self)}|{k}"
            if key not in cache:
                delta_e, nbytes, _ = compute[cls](self, k)
                cache[key] = [delta_e, nbytes]
                cache_path.write_text(json.dumps(cache))
            delta_e, nbytes = cache[key]
            return delta_e, nbytes, None

        return run

    targets._Runs.run = cached(targets._Runs, lambda runs: f"{runs.scale != 1.0}|{runs.need}")
    targets._SizeEstimates.run = cached(targets._SizeEstimates, lambda runs: "layout|bytes")
    try:
        image = read_image(path)
        settings = targets._Settings.of()
        search = targets._Search(
            image,
            Target(**{kind: value}),
            256,
            settings,
            on_trial=None,
            sample=targets.SAMPLE_PIXELS,
        )
        lo, hi = search.bracket()
    finally:
        for cls, run in compute.items():
            cls.run = run
    k = hi if kind == "max_delta_e" else lo
    real = [t.k for t in search.trials if not t.estimate]
    estimated = [t.k for t in search.trials if t.estimate]
    return k, real, estimated


def accuracy(cases) -> None:
    """Print, per size case, estimate / real file at k-5 .. k+5 (new and tile estimates)."""
    print(
        f"load average {os.getloadavg()[0]:.1f}\n\n"
        "| image | target | k | real bytes | estimate / real | tiles / real "
        "| s: real | s: estimate | s: tiles |\n|---|---|---|---|---|---|---|---|---|"
    )
    for path, value, k in cases:
        image = read_image(path)
        settings = targets._Settings.of()
        real = targets._Runs(image, settings, "bytes")
        estimates = targets._SizeEstimates(image, settings, targets.SIZE_SAMPLE_PIXELS)
        small = targets.sample_tiles(
            image, pixels=min(targets.SAMPLE_PIXELS, image.pixels // targets.MIN_SAMPLE_RATIO)
        )
        tiles = targets._Runs(small, settings, "bytes", scale=image.pixels / small.pixels)
        for near in (k - 5, k, k + 5):
            figures = []
            for runs in (real, estimates, tiles):
                t = time.perf_counter()
                figures.append((runs.run(near)[1], time.perf_counter() - t))
            (nbytes, t_real), (est, t_est), (tile, t_tile) = figures
            print(
                f"| {path.name} | ≤ {value} | {near} | {nbytes:,} | {est / nbytes:.3f} "
                f"| {tile / nbytes:.3f} | {t_real:.2f} | {t_est:.2f} | {t_tile:.2f} |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=ROOT / "benchmarks/work/target_runs.json")
    parser.add_argument("--big", action="store_true", help="the 12 MP cases as well")
    parser.add_argument(
        "--accuracy", action="store_true", help="size estimates against real files instead"
    )
    args = parser.parse_args()
    if args.accuracy:
        cases = [(SAMPLES / name, "60K", k) for name, k in ACCURACY]
        if args.big:
            from bench import make_case

            cases.append((make_case("china", "12mp").jpg, "1.5M", 70))
        accuracy(cases)
        return
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    cache = json.loads(args.cache.read_text()) if args.cache.exists() else {}
    cases = [("tuned", SAMPLES / name, t) for name in TUNED for t in TUNED_TARGETS]
    if args.big:
        from bench import make_case

        big = make_case("china", "12mp").jpg
        cases += [("tuned", big, t) for t in (("max_delta_e", "2.5"), ("max_bytes", "1.5M"))]
    for path in sorted(SAMPLES.glob("*.*")):
        if path.suffix in (".png", ".jpg"):
            cases += [("held out", path, t) for t in OTHER_TARGETS]
    totals: dict[str, list[int]] = {}
    print("| set | image | target | k | real runs | estimates |\n|---|---|---|---|---|---|")
    for group, path, (kind, value) in cases:
        k, real, estimated = replay(path, kind, value, cache, args.cache)
        shown = "not reachable" if not 1 <= k <= 256 else str(k)
        print(
            f"| {group} | {path.name} | {Target(**{kind: value})} | {shown} "
            f"| {len(real)} ({', '.join(map(str, real))}) | {len(estimated)} |",
            flush=True,
        )
        total = totals.setdefault(group, [0, 0, 0])
        total[0] += 1
        total[1] += len(real)
        total[2] += len(estimated)
    for group, (n, real, estimated) in totals.items():
        print(f"{group}: {n} cases, {real} real runs, {estimated} estimates")


if __name__ == "__main__":
    main()
