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
from kmc_tui.encode import (  # noqa: E402
    DEFAULT_OPTIMIZE,
    DEFLATERS,
    OPTIMIZE_LEVELS,
    _pack_rows,
    deflate_with,
    encode,
)

KS = (16, 64, 256)
DOC = ROOT / "docs" / "performance.md"
HEADING = "## PNG bytes per --optimize level, against pngquant"
DEFLATE_HEADING = "## Deflate libraries and levels, for choosing --optimize"
#: Every deflate the levels could be made of.
CANDIDATES = (("zlib", 6), ("zlib", 9)) + tuple(("libdeflate", lv) for lv in range(1, 13))


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


def measure_deflaters(repeat: int) -> list[dict]:
    """Bytes and seconds of every candidate deflate on each photo's rows, against pngquant.

    A file's bytes are level 0's file less its IDAT data plus the candidate's: the other
    chunks are the same at every level. Candidates are interleaved in each repeat."""
    from PIL import Image

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in SAMPLE_PHOTOS + SKLEARN_PHOTOS:
            case = make_case(name, "real")
            with Image.open(case.png) as im:
                image = as_image(np.asarray(im.convert("RGB")))
            for k in KS:
                q = quantize(image, k)
                n = len(q.palette)
                bits = 1 if n <= 2 else 2 if n <= 4 else 4 if n <= 16 else 8
                raw = _pack_rows(q.indices, bits)
                base = len(encode(q, "png", optimize=0)) - len(deflate_with(raw, *DEFLATERS[0]))
                row = {"image": name, "k": k, "pngquant": pngquant(case.png, k, Path(tmp) / "p")[0]}
                times: dict = {}
                for _ in range(repeat):
                    for cand in CANDIDATES:
                        started = time.perf_counter()
                        size = len(deflate_with(raw, *cand))
                        times.setdefault(cand, []).append(time.perf_counter() - started)
                        row[cand] = base + size
                row["seconds"] = {c: statistics.median(v) for c, v in times.items()}
                rows.append(row)
                print(f"{name} k={k} done", file=sys.stderr, flush=True)
    return rows


def deflate_table(rows: list[dict], repeat: int, command: str) -> str:
    head = "| deflate | " + " | ".join(f"k={k} ÷ pngquant" for k in KS)
    head += " | all ÷ pngquant | mean encode s | s ÷ zlib 6 |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    zlib6 = statistics.mean(r["seconds"][("zlib", 6)] for r in rows)
    for cand in CANDIDATES:
        per_k = [statistics.mean(r[cand] / r["pngquant"] for r in rows if r["k"] == k) for k in KS]
        every = statistics.mean(r[cand] / r["pngquant"] for r in rows)
        secs = statistics.mean(r["seconds"][cand] for r in rows)
        used = [str(lv) for lv, c in DEFLATERS.items() if c == cand]
        label = f"{cand[0]} {cand[1]}" + (f" (--optimize {', '.join(used)})" if used else "")
        cells = [label, *(f"{m:.3f}×" for m in per_k), f"{every:.3f}×", f"{secs:.4f}"]
        cells.append(f"{secs / zlib6:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    load = os.getloadavg()
    return "\n".join(
        [
            DEFLATE_HEADING,
            "",
            f"`{command}` ({repeat} runs, medians; load average at the end {load[0]:.1f} / "
            f"{load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, pngquant {pngquant_version()}).",
            "",
            "The same six photos and k-means results as the table above; each result's "
            "unfiltered rows deflated by every candidate. Bytes are whole files (mean of ours ÷ "
            "pngquant's `--nofs` file of the same pixels); seconds are the deflate alone (mean "
            f"over the photos and k). The default is --optimize {DEFAULT_OPTIMIZE}.",
            "",
            *lines,
            "",
        ]
    )


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
            "encoding alone. "
            + ", ".join(f"Level {lv} is {lib} level {n}" for lv, (lib, n) in DEFLATERS.items())
            + f"; every row is unfiltered. The default is level {DEFAULT_OPTIMIZE}.",
            "",
            *lines,
            *summary,
            "",
        ]
    )


def pngquant_version() -> str:
    done = subprocess.run(["pngquant", "--version"], capture_output=True, text=True)
    return done.stdout.strip().split()[0] if done.stdout.strip() else "?"


def write_section(text: str, heading: str = HEADING) -> None:
    doc = DOC.read_text()
    start = doc.find(heading)
    if start < 0:
        DOC.write_text(doc.rstrip("\n") + "\n\n" + text)
        return
    end = doc.find("\n## ", start + len(heading))
    DOC.write_text(doc[:start] + text + ("" if end < 0 else doc[end + 1 :]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update docs/performance.md")
    parser.add_argument(
        "--deflaters", action="store_true", help="every deflate library and level instead"
    )
    args = parser.parse_args()
    if shutil.which("pngquant") is None:
        print("pngquant is not installed (Debian package pngquant)", file=sys.stderr)
        return 2
    if args.deflaters:
        command = f"python benchmarks/png_size.py --deflaters --repeat {args.repeat}"
        text = deflate_table(measure_deflaters(args.repeat), args.repeat, command)
        print(text)
        if args.write:
            write_section(text, DEFLATE_HEADING)
        return 0
    rows = measure(args.repeat)
    command = "python benchmarks/png_size.py" + (f" --repeat {args.repeat}")
    text = table(rows, args.repeat, command)
    print(text)
    if args.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
