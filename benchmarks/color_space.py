"""The k-means plugin's color spaces (lab, oklab, rgb) side by side: ΔE2000, bytes, time.

Usage (repository root):

    python benchmarks/color_space.py [--set everyday|bench] [--ks 16,64,256] [--write]
    python benchmarks/color_space.py --cell-widths 0.005,0.01,0.02 [--space oklab]

The first form runs ``process(image, k, params={"color_space": space})`` for every photo and k,
the spaces interleaved (load from elsewhere falls on all alike), and prints a Markdown table:
per k, the mean over the photos of mean ΔE2000, the mean PNG bytes, CPU and wall seconds, and
ΔE2000 × KB (lower is better on both counts, so it ranks a space that spends more bytes for less
error fairly: a plain ΔE/byte would reward bigger files); then one row per photo. ``--set
everyday`` is everyday.py's 24 photos of 0.3-1 MP, ``bench`` the 6 photos bench.py makes at real
size. ``--write`` replaces the section in docs/performance.md.

The second form measures the first-stage cell width of one space (what CELL_WIDTH holds): for
each width, the objective of the written palette (relative to the median over all widths and
seeds of that photo and k) and the CPU seconds, over 3 seeds, on the bench photos at real size
and downscaled to preview sizes.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import SAMPLE_PHOTOS, SKLEARN_PHOTOS, make_case  # noqa: E402
from png_size import write_section  # noqa: E402

from kmc_tui.api import process  # noqa: E402
from kmc_tui.read import read_image  # noqa: E402

SPACES = ("lab", "oklab", "rgb")
HEADING = "## Color spaces: CIELAB, Oklab and RGB"


def photos(which: str) -> list[tuple[str, Path]]:
    if which == "everyday":
        from everyday import make_set

        return [(path.stem, path) for path in make_set()]
    return [(name, make_case(name, "real").jpg) for name in SKLEARN_PHOTOS + SAMPLE_PHOTOS]


def measure(image, k: int, space: str) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    stats = process(image, k, params={"color_space": space}).stats
    return {
        "delta_e": stats.delta_e,
        "psnr": stats.psnr,
        "bytes": stats.output_bytes,
        "cpu": time.process_time() - cpu,
        "wall": time.perf_counter() - wall,
    }


def space_table(which: str, ks: list[int]) -> str:
    rows = {}  # (photo, k) -> {space: measures}
    files = photos(which)
    for name, path in files:
        image = read_image(path)
        for k in ks:
            rows[name, k] = {space: measure(image, k, space) for space in SPACES}
            r = rows[name, k]
            print(
                f"{name} k={k} "
                + " ".join(f"{s}: {r[s]['delta_e']:.3f} {r[s]['bytes']:,} B" for s in SPACES),
                file=sys.stderr,
                flush=True,
            )
    out = [
        "| k | space | mean ΔE2000 | mean PSNR | mean bytes | ΔE2000 × KB | CPU s | wall s "
        "| lowest ΔE2000 | fewest bytes |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k in ks:
        at_k = [rows[name, k] for name, _ in files]
        for space in SPACES:
            de = statistics.mean(r[space]["delta_e"] for r in at_k)
            size = statistics.mean(r[space]["bytes"] for r in at_k)
            best_de = sum(min(SPACES, key=lambda s, r=r: r[s]["delta_e"]) == space for r in at_k)
            best_b = sum(min(SPACES, key=lambda s, r=r: r[s]["bytes"]) == space for r in at_k)
            out.append(
                f"| {k} | {space} | {de:.3f} "
                f"| {statistics.mean(r[space]['psnr'] for r in at_k):.2f} | {size:,.0f} "
                f"| {de * size / 1000:.1f} | {sum(r[space]['cpu'] for r in at_k):.1f} "
                f"| {sum(r[space]['wall'] for r in at_k):.1f} | {best_de} of {len(at_k)} "
                f"| {best_b} of {len(at_k)} |"
            )
    out += [
        "",
        "Each photo (mean ΔE2000 and PNG bytes):",
        "",
        "| photo | k | ΔE2000 lab | ΔE2000 oklab | ΔE2000 rgb "
        "| bytes lab | bytes oklab | bytes rgb |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (name, k), r in rows.items():
        out.append(
            f"| {name} | {k} | "
            + " | ".join(f"{r[s]['delta_e']:.3f}" for s in SPACES)
            + " | "
            + " | ".join(f"{r[s]['bytes']:,}" for s in SPACES)
            + " |"
        )
    return "\n".join(out)


def cell_width_table(widths: list[float], space: str, ks: list[int]) -> str:
    import kmc_kmeans

    from kmc_tui.quantize import distinct_colors

    kmc_kmeans.lloyd_kernels()
    seeds = range(3)
    out = [
        "| pixels | k | " + " | ".join(f"{w:g}: objective, max, CPU s" for w in widths) + " |",
        "|---|---:|" + "---:|" * len(widths),
    ]
    for pixels in ("real", 40_000, 16_000):
        relative = {(w, k): [] for w in widths for k in ks}
        cpu = dict.fromkeys(relative, 0.0)
        for _, path in photos("bench"):
            image = read_image(path)
            if pixels != "real":
                image = image.downscaled(pixels)
            colors, counts = distinct_colors(image.rgb.reshape(-1, 3))[:2]
            feats = kmc_kmeans.to_features(colors, space)
            weights = counts.astype(np.float32)
            for k in ks:
                objectives = {}
                for seed in seeds:
                    for width in widths:
                        kmc_kmeans.CELL_WIDTH[space] = width
                        start = time.process_time()
                        palette, labels = kmc_kmeans.kmeans_palette(
                            feats, weights, k, seed=seed, color_space=space, max_iter=20
                        )
                        cpu[width, k] += time.process_time() - start
                        centers = kmc_kmeans.to_features(palette, space).astype(np.float64)
                        objectives[width, seed] = float(
                            (weights * ((feats - centers[labels]) ** 2).sum(1)).sum()
                        )
                median = float(np.median(list(objectives.values())))
                for (width, _), value in objectives.items():
                    relative[width, k].append(value / median - 1.0)
        for k in ks:
            cells = [
                f"{100 * np.mean(relative[w, k]):+.2f}%, {100 * np.max(relative[w, k]):+.2f}%, "
                f"{cpu[w, k]:.1f}"
                for w in widths
            ]
            label = "real (0.14-0.27 MP)" if pixels == "real" else f"{pixels:,}"
            out.append(f"| {label} | {k} | " + " | ".join(cells) + " |")
            print(out[-1], file=sys.stderr, flush=True)
    return "\n".join(out)


def commit() -> str:
    """The commit measured (taken at the start: a commit made during a run is not measured)."""
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()


def machine_line(sha: str) -> str:
    load = os.getloadavg()
    return (
        f"Python {platform.python_version()}, {os.cpu_count()} cores, commit {sha}, "
        f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=("everyday", "bench"), default="everyday")
    parser.add_argument("--ks", default="16,64,256")
    parser.add_argument("--cell-widths", help="measure these first-stage cell widths instead")
    parser.add_argument("--space", default="oklab", choices=SPACES)
    parser.add_argument("--write", action="store_true", help="update docs/performance.md")
    args = parser.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    command = "python benchmarks/color_space.py " + " ".join(sys.argv[1:])
    sha = commit()
    if args.cell_widths:
        widths = [float(w) for w in args.cell_widths.split(",")]
        print(cell_width_table(widths, args.space, ks))
        print(f"\n`{command}`; {machine_line(sha)}")
        return 0
    table = space_table(args.set, ks)
    text = f"{HEADING}\n\n`{command}`; {machine_line(sha)}.\n\n{table}\n"
    print(text)
    if args.write:
        write_section(text, HEADING)
    return 0


if __name__ == "__main__":
    sys.exit(main())
