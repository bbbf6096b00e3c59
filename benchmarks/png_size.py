"""PNG bytes and encoding time per ``--optimize`` level, against pngquant at the same k.

For each real photo (samples/ and scikit-learn's china and flower at real size, the same files
bench.py makes in benchmarks/work/) and each k, the image is quantized once by the default
plugin (k-means) and encoded at every level; pngquant runs on a PNG of the very same pixels,
the way bench.py runs it (``pngquant --nofs -f -o OUT K IN``). Levels are interleaved with
pngquant's run, so load from elsewhere falls on both alike. Every level's file is decoded and
checked to hold exactly the quantized pixels.

Prints a Markdown table; with ``--write`` also replaces its own section of
docs/performance.md. Not part of the test suite. Run from the repository root:

    python benchmarks/png_size.py [--repeat 3] [--write]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from bench import SAMPLE_PHOTOS, SKLEARN_PHOTOS, make_case  # noqa: E402

from kmc_tui import as_image, quantize  # noqa: E402
from kmc_tui.encode import DEFAULT_OPTIMIZE, OPTIMIZE_LEVELS, encode  # noqa: E402

KS = (16, 64, 256)
DOC = ROOT / "docs" / "performance.md"
HEADING = "## PNG bytes per --optimize level, against pngquant"


def pngquant(src: Path, k: int, out: Path) -> tuple[int, float]:
    started = time.perf_counter()
    subprocess.run(
        ["pngquant", "--nofs", "-f", "-o", str(out), str(k), str(src)],
        check=True,
        capture_output=True,
    )
    return out.stat().st_size, time.perf_counter() - started


def decoded_rgba(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGBA"))


def measure(repeat: int) -> list[dict]:
    from PIL import Image

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in SAMPLE_PHOTOS + SKLEARN_PHOTOS:
            case = make_case(name, "real")
            with Image.open(case.png) as im:
                image = as_image(np.asarray(im.convert("RGB")))
            for k in KS:
                q = quantize(image, k)
                expected = q.rgba()
                row = {"image": name, "k": k, "pixels": image.pixels}
                times: dict[str, list[float]] = {}
                for _ in range(repeat):
                    size, seconds = pngquant(case.png, k, Path(tmp) / "pq.png")
                    row["pngquant"] = size
                    times.setdefault("pngquant", []).append(seconds)
                    for level in OPTIMIZE_LEVELS:
                        started = time.perf_counter()
                        data = encode(q, "png", optimize=level)
                        times.setdefault(level, []).append(time.perf_counter() - started)
                        row[level] = len(data)
                        if not np.array_equal(decoded_rgba(data), expected):
                            raise SystemExit(f"{name} k={k} level {level}: pixels differ")
                row["seconds"] = {key: statistics.median(v) for key, v in times.items()}
                rows.append(row)
                print(
                    f"{name} k={k}: pngquant {row['pngquant']}, "
                    + ", ".join(f"level {lv} {row[lv]}" for lv in OPTIMIZE_LEVELS),
                    file=sys.stderr,
                    flush=True,
                )
    return rows


def table(rows: list[dict], repeat: int, command: str) -> str:
    levels = OPTIMIZE_LEVELS
    head = (
        "| image | k | pngquant bytes | "
        + " | ".join(f"level {lv} bytes (÷ pngquant)" for lv in levels)
        + " | "
        + " | ".join(f"level {lv} encode s" for lv in levels)
        + " | pngquant s (whole run) |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        cells = [r["image"], str(r["k"]), f"{r['pngquant']:,}"]
        cells += [f"{r[lv]:,} ({r[lv] / r['pngquant']:.3f}×)" for lv in levels]
        cells += [f"{r['seconds'][lv]:.3f}" for lv in levels]
        cells.append(f"{r['seconds']['pngquant']:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    summary = ["", "Mean of (our bytes ÷ pngquant's bytes) over the photos:", ""]
    summary.append("| k | " + " | ".join(f"level {lv}" for lv in levels) + " |")
    summary.append("|---|" + "---|" * len(levels))
    for k in (*KS, "all"):
        sel = [r for r in rows if k == "all" or r["k"] == k]
        means = [statistics.mean(r[lv] / r["pngquant"] for r in sel) for lv in levels]
        mean_s = [statistics.mean(r["seconds"][lv] for r in sel) for lv in levels]
        summary.append(
            f"| {k} | "
            + " | ".join(f"{m:.3f}× ({s:.3f} s)" for m, s in zip(means, mean_s, strict=True))
            + " |"
        )
    load = os.getloadavg()
    return "\n".join(
        [
            HEADING,
            "",
            f"`{command}` ({repeat} runs, medians of the times; load average at the end "
            f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, pngquant {pngquant_version()}).",
            "",
            "Each photo is quantized once by the default plugin (k-means, no dithering) and that "
            "result encoded at each level, so the bytes differ only by the encoder; every level "
            "decodes to exactly the same pixels (checked by the script). pngquant quantizes the "
            "same pixels with its own palette (`--nofs`); its time is its whole run, ours is the "
            "encoding alone. Level 0 is zlib level 6, level 1 zlib level 9, level 2 libdeflate "
            f"level 12; every row is unfiltered. The default is level {DEFAULT_OPTIMIZE}.",
            "",
            *lines,
            *summary,
            "",
        ]
    )


def pngquant_version() -> str:
    done = subprocess.run(["pngquant", "--version"], capture_output=True, text=True)
    return done.stdout.strip().split()[0] if done.stdout.strip() else "?"


def write_section(text: str) -> None:
    doc = DOC.read_text()
    start = doc.find(HEADING)
    if start < 0:
        DOC.write_text(doc.rstrip("\n") + "\n\n" + text)
        return
    end = doc.find("\n## ", start + len(HEADING))
    DOC.write_text(doc[:start] + text + ("" if end < 0 else doc[end + 1 :]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update docs/performance.md")
    args = parser.parse_args()
    if shutil.which("pngquant") is None:
        print("pngquant is not installed (Debian package pngquant)", file=sys.stderr)
        return 2
    rows = measure(args.repeat)
    command = "python benchmarks/png_size.py" + (f" --repeat {args.repeat}")
    text = table(rows, args.repeat, command)
    print(text)
    if args.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
