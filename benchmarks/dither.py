"""Floyd–Steinberg time and color error: our sweep (kmc_tui.dither) against Pillow's C loop.

For each photo and k, k-means makes the palette once; then Pillow's dithering onto it (the
baseline) and our sweep at full and half strength run interleaved, ``--repeat`` times
(medians). The core's choice at full strength is named: Pillow when its lookup tells every
entry apart, our sweep otherwise. Mean ΔE2000 against the photo is given for images up to
1 MP. Prints a Markdown table; ``--write`` also replaces its section of docs/performance.md.
Not part of the test suite. From the repository root:

    python benchmarks/dither.py [--repeat 3] [--write]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from bench import make_case  # noqa: E402
from png_size import write_section  # noqa: E402

from kmc_tui import as_image, quantize  # noqa: E402
from kmc_tui.dither import error_diffusion  # noqa: E402
from kmc_tui.quantize import SHADOWED_SHARE_MAX, pillow_shadowed_share  # noqa: E402

HEADING = "## Dithering: our sweep against Pillow's"
KS = (16, 256)


def photos() -> list[tuple[str, Path]]:
    return [
        ("chelsea", make_case("chelsea", "real").png),
        ("hubble_deep_field", ROOT / "benchmarks" / "photos" / "hubble_deep_field.jpg"),
        ("china 4 MP", make_case("china", "4mp").png),
    ]


def pillow_dither(rgb: np.ndarray, palette: np.ndarray) -> np.ndarray:
    from PIL import Image

    padded = np.vstack([palette, np.repeat(palette[:1], 256 - len(palette), axis=0)])
    pal_img = Image.new("P", (1, 1))
    pal_img.putpalette(padded.tobytes())
    out = np.asarray(
        Image.fromarray(rgb).quantize(palette=pal_img, dither=Image.Dither.FLOYDSTEINBERG)
    )
    return np.where(out >= len(palette), 0, out), pal_img


def mean_delta_e(rgb: np.ndarray, palette: np.ndarray, indices: np.ndarray) -> float:
    from skimage.color import deltaE_ciede2000, rgb2lab

    return float(deltaE_ciede2000(rgb2lab(rgb), rgb2lab(palette[indices])).mean())


def measure(repeat: int) -> list[dict]:
    from PIL import Image

    rows = []
    for name, path in photos():
        with Image.open(path) as im:
            rgb = np.ascontiguousarray(np.asarray(im.convert("RGB")))
        for k in KS:
            q = quantize(as_image(rgb), k)
            palette = q.palette
            times: dict[str, list[float]] = {}
            for _ in range(repeat):
                for key, strength in (("pillow", None), ("ours 1", 1.0), ("ours 0.5", 0.5)):
                    started = time.perf_counter()
                    if strength is None:
                        pillow_dither(rgb, palette)
                    else:
                        error_diffusion(rgb, palette, strength=strength)
                    times.setdefault(key, []).append(time.perf_counter() - started)
            row = {"image": name, "pixels": rgb.shape[0] * rgb.shape[1], "k": len(palette)}
            row.update({key: statistics.median(v) for key, v in times.items()})
            pil_indices, pal_img = pillow_dither(rgb, palette)
            share = pillow_shadowed_share(palette, pal_img, q.counts)
            route = "ours" if share >= SHADOWED_SHARE_MAX else "Pillow"
            row["route"] = f"{route} ({share:.0%} of pixels on entries Pillow cannot pick)"
            if row["pixels"] <= 1_000_000:
                row["dE pillow"] = mean_delta_e(rgb, palette, pil_indices)
                row["dE ours"] = mean_delta_e(rgb, palette, error_diffusion(rgb, palette))
            rows.append(row)
            print(f"{name} k={k} done", file=sys.stderr, flush=True)
    return rows


def table(rows: list[dict], command: str) -> str:
    head = (
        "| image | pixels | k | Pillow s | ours s (÷ Pillow) | ours at 0.5 s (÷ Pillow) "
        "| full strength goes through | ΔE2000 Pillow | ΔE2000 ours |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        de = [f"{r[key]:.3f}" if key in r else "—" for key in ("dE pillow", "dE ours")]
        lines.append(
            f"| {r['image']} | {r['pixels']:,} | {r['k']} | {r['pillow']:.3f} | "
            f"{r['ours 1']:.3f} ({r['ours 1'] / r['pillow']:.1f}×) | "
            f"{r['ours 0.5']:.3f} ({r['ours 0.5'] / r['pillow']:.1f}×) | {r['route']} | "
            + " | ".join(de)
            + " |"
        )
    load = os.getloadavg()
    return "\n".join(
        [
            HEADING,
            "",
            f"`{command}` (medians; load average at the end {load[0]:.1f} / {load[1]:.1f} / "
            f"{load[2]:.1f} on {os.cpu_count()} cores, Python {platform.python_version()}).",
            "",
            "k-means makes each palette once; Pillow's Floyd–Steinberg onto it is the baseline, "
            "our sweep (`kmc_tui.dither`, numpy, one diagonal of pixels per step) runs on the "
            "same image and palette at full and half strength. Pillow's lookup decides on cells "
            "of 4 levels a side, so an entry close to another cannot be picked and its pixels "
            "turn to noise; the core sends full-strength dithering through our sweep when such "
            f"entries hold at least {SHADOWED_SHARE_MAX:.0%} of the pixels (the route column), "
            "and always for partial strength and 16-bit sources. Mean ΔE2000 against the photo "
            "for images up to 1 MP.",
            "",
            *lines,
            "",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update docs/performance.md")
    args = parser.parse_args()
    text = table(measure(args.repeat), f"python benchmarks/dither.py --repeat {args.repeat}")
    print(text)
    if args.write:
        write_section(text, HEADING)
    return 0


if __name__ == "__main__":
    sys.exit(main())
