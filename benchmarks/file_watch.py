"""What following a folder costs: the file list's look (one stat of the folder) against listing
it again (scandir + a stat per entry), in a folder of N image files.

    nice -n 10 python benchmarks/file_watch.py --files 10000 --repeat 20

Prints a Markdown table; the look runs once a second, a relist only when the folder changed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from kmc_tui.tui.widgets.file_browser import arrange, folder_stamp, list_folder


def timed(fn, repeat: int) -> float:
    """Median seconds of `repeat` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for i in range(args.files):
            (folder / f"image-{i:05d}.png").write_bytes(b"x" * (i % 997))
        entries, _ = list_folder(folder)
        look = timed(lambda: folder_stamp(folder), args.repeat * 50)
        relist = timed(lambda: list_folder(folder), args.repeat)
        by_size = timed(lambda: arrange(entries, order="size"), args.repeat)
        typed = timed(lambda: arrange(entries, pattern="image-0012"), args.repeat)
    load = os.getloadavg()[0]
    print(f"{args.files} files, load {load:.1f}, median of {args.repeat} runs\n")
    print("| step | ms | × the look |")
    print("|---|---:|---:|")
    for name, seconds in [
        ("look: one stat of the folder (every second)", look),
        ("relist: scandir + stat per entry (on a change)", relist),
        ("sort by size (o)", by_size),
        ("filter by a typed text (/)", typed),
    ]:
        print(f"| {name} | {seconds * 1000:.3f} | {seconds / look:.0f} |")


if __name__ == "__main__":
    main()
