"""Where one batch worker's time goes per file: stage by stage, on the everyday or batch set.

Runs the batch's own per-file function (:func:`kmc_tui.batch.compress_file`, as a ``--jobs 2``
worker does: one thread, plugin warmed up first) over the 24 photos of
``benchmarks/everyday.py`` (``--set everyday``) or of ``benchmarks/batch_throughput.py``
(``--set batch``, issue 14's) for each k, in this one process, and times every stage with
``time.perf_counter`` (and ``time.process_time`` for the whole file):

- read (decode), histogram, map, encode, stats: the pipeline's own stage times
  (:attr:`kmc_tui.stats.Stats.seconds`); inside read, the PNG chunk check (CRCs) and the
  decode; inside encode, the rows and deflate; the stats' color error (ΔE2000 and PSNR over
  the distinct (source, output) pairs, in a thread beside the encoding);
- inside the k-means plugin: features (CIELAB), cells (the grid), seeding, Lloyd passes on the
  cells and on all distinct colors (count and time), the final assignment, back to 8-bit colors;
- "write": the safe write (with its fsync: "of which fsync"); "batch": the rest of what
  :func:`compress_file` adds around :func:`kmc_tui.api.process` (the record, the checks).

Prints a markdown table of totals and per-file means (seconds) and the pass counts. Not part of
the test suite; numbers move with the machine's load (printed).

    python benchmarks/kmeans_profile.py --ks 64,256
    python benchmarks/kmeans_profile.py --set batch --ks 64
"""

from __future__ import annotations

import argparse
import collections
import functools
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from everyday import make_set  # noqa: E402

ORDER = (
    "read",
    "  of which PNG CRC check",
    "  of which decode",
    "histogram",
    "features",
    "cells",
    "seeding",
    "cell passes",
    "full passes",
    "assign",
    "from features",
    "plugin other",
    "map",
    "encode",
    "  of which rows",
    "  of which deflate",
    "stats",
    "  color error (thread beside encode)",
    "write",
    "  of which fsync",
    "batch",
)

#: The k-means plugin's own stages; "plugin other" is the rest of the quantize stage.
PLUGIN_STAGES = (
    "features",
    "cells",
    "seeding",
    "cell passes",
    "full passes",
    "assign",
    "from features",
)


def instrument(timers: dict, counts: dict):
    """Wrap the plugin's stages so that each call adds its seconds to `timers`."""
    import kmc_kmeans as km

    def timed(name, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                timers[name] += time.perf_counter() - t
                counts[name] += 1

        return wrapper

    full_sizes: set[int] = set()
    palette = km.kmeans_palette

    def kmeans_palette(feats, *args, **kwargs):
        full_sizes.clear()
        full_sizes.add(len(feats))
        return palette(feats, *args, **kwargs)

    step = km.RelaxedLloyd.step

    def lloyd_step(self, centers):
        name = "full passes" if len(self.points) in full_sizes else "cell passes"
        t = time.perf_counter()
        try:
            return step(self, centers)
        finally:
            timers[name] += time.perf_counter() - t
            counts[name] += 1

    km.kmeans_palette = kmeans_palette
    km.to_features = timed("features", km.to_features)
    km.from_features = timed("from features", km.from_features)
    km.grid_cells = timed("cells", km.grid_cells)
    km.split_threshold = timed("cells", km.split_threshold)
    for name in ("kmeans_plusplus", "wu_centers"):
        if hasattr(km, name):
            setattr(km, name, timed("seeding", getattr(km, name)))
    km.RelaxedLloyd.step = lloyd_step
    km.RelaxedLloyd.assign = timed("assign", km.RelaxedLloyd.assign)

    import importlib

    import imageio.v3 as iio

    # The modules themselves: kmc_tui's namespace re-exports functions of the same names.
    api, encode, fsio, read, stats = (
        importlib.import_module(f"kmc_tui.{name}")
        for name in ("api", "encode", "fsio", "read", "stats")
    )

    read._check_png_crcs = timed("  of which PNG CRC check", read._check_png_crcs)
    iio.imread = timed("  of which decode", iio.imread)
    encode._pack_rows = timed("  of which rows", encode._pack_rows)
    encode._deflate = timed("  of which deflate", encode._deflate)
    api.lossless_color_error = timed(
        "  color error (thread beside encode)", stats.lossless_color_error
    )
    api._write = timed("write", api._write)
    fsync = os.fsync

    def timed_fsync(fd):
        t = time.perf_counter()
        try:
            return fsync(fd)
        finally:
            timers["  of which fsync"] += time.perf_counter() - t

    fsio.os = type(sys)("os_with_timed_fsync")
    fsio.os.__dict__.update(os.__dict__)
    fsio.os.fsync = timed_fsync


def profile(
    files: list[Path], k: int, out_dir: Path, timers: dict, counts: dict
) -> tuple[dict, dict, float, float]:
    from kmc_tui import batch

    settings = batch.Settings(k=k, threads=1, force=True)
    timers.clear()
    counts.clear()
    wall = cpu = 0.0
    for f in files:
        task = batch.Task(str(f), str(out_dir / f.name))
        w0, c0 = time.perf_counter(), time.process_time()
        outcome = batch.compress_file(task, settings)
        w, c = time.perf_counter() - w0, time.process_time() - c0
        if outcome.status != batch.DONE:
            raise SystemExit(f"{f}: {outcome.status} {outcome.message}")
        wall, cpu = wall + w, cpu + c
        seconds = outcome.record["stage_seconds"]
        for name in ("read", "histogram", "map", "encode", "stats"):
            timers[name] += seconds.get(name, 0.0)
        timers["batch"] += w - sum(seconds.get(n, 0.0) for n in ("read", "histogram", "quantize"))
        timers["batch"] -= seconds.get("map", 0) + seconds.get("encode", 0) + seconds["stats"]
        timers["batch"] -= seconds.get("write", 0)
        timers["quantize"] += seconds["quantize"]
    inner = sum(timers[n] for n in PLUGIN_STAGES)
    timers["plugin other"] = timers["quantize"] - inner
    return dict(timers), dict(counts), wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ks", default="64,256")
    parser.add_argument("--set", choices=("everyday", "batch"), default="everyday")
    args = parser.parse_args()
    from kmc_tui import batch

    if args.set == "batch":
        from batch_throughput import make_photos

        files = make_photos()[1]
    else:
        files = make_set()
    batch.warm_up(batch.Settings(k=16))
    batch.limit_threads(1)
    load = os.getloadavg()
    results = {}
    timers: dict = collections.defaultdict(float)
    counts: dict = collections.defaultdict(int)
    with tempfile.TemporaryDirectory() as tmp:
        warm = batch.Task(str(files[0]), str(Path(tmp) / "warm.png"))
        batch.compress_file(warm, batch.Settings(k=16, threads=1))
        instrument(timers, counts)
        for k in (int(k) for k in args.ks.split(",")):
            out_dir = Path(tmp) / str(k)
            out_dir.mkdir()
            results[k] = profile(files, k, out_dir, timers, counts)
            shutil.rmtree(out_dir)
    n = len(files)
    print(f"{n} files; load average before {load[0]:.1f}, after {os.getloadavg()[0]:.1f}\n")
    header = "| stage | " + " | ".join(f"k={k} s (per file ms)" for k in results) + " |"
    print(header)
    print("|---|" + "---:|" * len(results))
    for name in ORDER:
        cells = []
        for timers, counts, _, _ in results.values():
            extra = f", {counts.get(name, 0) / n:.1f} per file" if name.endswith("passes") else ""
            cells.append(
                f"{timers.get(name, 0.0):.2f} ({1000 * timers.get(name, 0.0) / n:.0f}{extra})"
            )
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(
        "| **whole file, wall** | "
        + " | ".join(f"**{w:.2f}** ({1000 * w / n:.0f})" for _, _, w, _ in results.values())
        + " |"
    )
    print(
        "| whole file, CPU | "
        + " | ".join(f"{c:.2f} ({1000 * c / n:.0f})" for _, _, _, c in results.values())
        + " |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
