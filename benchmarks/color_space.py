"""Mean CIEDE2000 and PSNR of the k-means plugin in lab vs rgb, on real photos (for the README).

Usage (repository root): python benchmarks/color_space.py [--ks 16,64,256]
Prints a Markdown table. Uses the real-size photos bench.py writes to benchmarks/work/.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import SAMPLE_PHOTOS, SKLEARN_PHOTOS, make_case  # noqa: E402

from kmc_tui.api import process  # noqa: E402
from kmc_tui.read import read_image  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ks", default="16,64,256")
    parser.add_argument("--sizes", default="real")
    args = parser.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    print(
        "| photo | MP | k | ΔE2000 lab | ΔE2000 rgb | PSNR lab | PSNR rgb | bytes lab | bytes rgb |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    wins = total = 0
    for size in args.sizes.split(","):
        for name in SKLEARN_PHOTOS + SAMPLE_PHOTOS:
            if size != "real" and name not in SKLEARN_PHOTOS:
                continue
            case = make_case(name, size)
            image = read_image(case.jpg)
            for k in ks:
                r = {
                    cs: process(image, k, params={"color_space": cs}).stats for cs in ("lab", "rgb")
                }
                wins += r["lab"].delta_e < r["rgb"].delta_e
                total += 1
                print(
                    f"| {name} | {image.pixels / 1e6:.2f} | {k} | {r['lab'].delta_e:.3f} "
                    f"| {r['rgb'].delta_e:.3f} | {r['lab'].psnr:.2f} | {r['rgb'].psnr:.2f} "
                    f"| {r['lab'].output_bytes:,} | {r['rgb'].output_bytes:,} |",
                    flush=True,
                )
    print(f"\nlab has the lower mean ΔE2000 in {wins} of {total} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
