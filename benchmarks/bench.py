"""Benchmark: kmc-tui against pngquant, ImageMagick, Pillow and the original script.

Makes its test images deterministically in benchmarks/work/ (gitignored): the photos in
samples/ and scikit-learn's china.jpg and flower.jpg at their real size, and china/flower
upscaled (Lanczos) to 4 MP (2448x1632) and 12 MP (4248x2832). Each image is written as a JPEG
(what kmc-tui and the original script read) and, decoded back, as a PNG holding the very same
pixels (what pngquant, ImageMagick and Pillow read).

Every command runs as a fresh process; runs are interleaved across tools so that load from
elsewhere on the machine falls on all of them alike; the table shows medians. Peak RSS and CPU
time come from wait4() of each child. PSNR and mean CIEDE2000 are computed here, the same way for
every tool, from the output file against the input pixels.

Not part of the test suite. Run from the repository root with the environment that has kmc-tui:

    python benchmarks/bench.py                  # the full table (about 20-30 minutes)
    python benchmarks/bench.py --quick          # real-size photos only, 3 runs
    python benchmarks/bench.py --original-python /path/to/python-with-matplotlib

The original script needs matplotlib (not a kmc-tui dependency); point --original-python at an
interpreter that has matplotlib and scikit-learn, or pass --original none.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
WORK = BENCH / "work"
SIZES = {"real": None, "4mp": (2448, 1632), "12mp": (4248, 2832)}
SAMPLE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
SKLEARN_PHOTOS = ("china", "flower")
#: Only these are upscaled: both are 3:2 photos like the 4248x2832 target.
UPSCALED = SKLEARN_PHOTOS
JPEG_QUALITY = 92
#: GNU time, for each command's peak RSS (Debian package "time").
TIME = "/usr/bin/time"
TOOLS = ("kmc-tui", "pngquant", "imagemagick", "pillow", "original")


@dataclass(frozen=True)
class Case:
    name: str
    size: str
    jpg: Path
    png: Path
    pixels: int


def _source_rgb(name: str) -> np.ndarray:
    from PIL import Image

    if name in SKLEARN_PHOTOS:
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    path = next((ROOT / "samples").glob(f"{name}.*"))
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def make_case(name: str, size: str) -> Case:
    """Write NAME_SIZE.jpg and NAME_SIZE.png (same pixels) to WORK, once."""
    from PIL import Image

    WORK.mkdir(parents=True, exist_ok=True)
    jpg, png = WORK / f"{name}_{size}.jpg", WORK / f"{name}_{size}.png"
    if not (jpg.exists() and png.exists()):
        img = Image.fromarray(_source_rgb(name))
        if SIZES[size] is not None:
            img = img.resize(SIZES[size], Image.Resampling.LANCZOS)
        img.save(jpg, quality=JPEG_QUALITY)
        with Image.open(jpg) as decoded:
            decoded.convert("RGB").save(png, compress_level=1)
    with Image.open(png) as img:
        pixels = img.width * img.height
    return Case(name, size, jpg, png, pixels)


def commands(case: Case, k: int, out: Path, args) -> dict[str, list[str]]:
    kmc = Path(sys.executable).with_name("kmc-tui")
    return {
        "kmc-tui": [
            str(kmc) if kmc.exists() else "kmc-tui",
            "compress",
            "-i",
            str(case.jpg),
            "-o",
            str(out),
            "-k",
            str(k),
        ],
        "pngquant": ["pngquant", "--nofs", "-f", "-o", str(out), str(k), str(case.png)],
        "imagemagick": [args.convert, str(case.png), "+dither", "-colors", str(k), str(out)],
        "pillow": [
            sys.executable,
            str(BENCH / "pillow_quantize.py"),
            str(case.png),
            str(out),
            str(k),
        ],
        "original": [
            args.original_python,
            str(BENCH / "original_script.py"),
            "-i",
            str(case.jpg),
            "-o",
            str(out),
            "-k",
            str(k),
        ],
    }


def run(argv: list[str]) -> tuple[float, float, float]:
    """Run argv as a fresh process: (wall seconds, peak RSS in MB, CPU seconds).

    Started through GNU time, a small process, because a child forked from this (large) Python
    process would count the parent's pages in its peak RSS before it execs.
    """
    err, rss_file = WORK / "stderr.txt", WORK / "rss.txt"
    with open(err, "wb") as err_file:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [TIME, "-f", "%M", "-o", str(rss_file), *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err_file,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited {proc.returncode}: "
            + err.read_text(errors="replace").strip()[-500:]
        )
    rss_kb = int(rss_file.read_text().split()[-1])
    return wall, rss_kb / 1024.0, usage.ru_utime + usage.ru_stime


def quality(src_png: Path, out_png: Path) -> tuple[float, float]:
    """(PSNR dB, mean CIEDE2000) of the output file against the input pixels."""
    from PIL import Image

    from kmc_tui.stats import color_error

    with Image.open(src_png) as a, Image.open(out_png) as b:
        src = np.asarray(a.convert("RGB")).reshape(-1, 3)
        out = np.asarray(b.convert("RGB")).reshape(-1, 3)
    code = np.zeros(len(src), np.int64)
    for i, plane in enumerate((src[:, 0], src[:, 1], src[:, 2], out[:, 0], out[:, 1], out[:, 2])):
        code |= plane.astype(np.int64) << (40 - 8 * i)
    pairs, counts = np.unique(code, return_counts=True)
    parts = ((pairs[:, None] >> np.arange(40, -1, -8)) & 255).astype(np.uint8)
    return color_error(parts[:, :3], parts[:, 3:], counts)


def machine(convert: str) -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for mod in ("numpy", "sklearn", "skimage", "PIL", "imageio"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - report what is there
            versions[mod] = "?"
    for tool, argv in (
        ("pngquant", ["pngquant", "--version"]),
        ("imagemagick", [convert, "-version"]),
    ):
        try:
            versions[tool] = (
                subprocess.run(argv, capture_output=True, text=True, timeout=10)
                .stdout.splitlines()[0]
                .strip()
            )
        except Exception:  # noqa: BLE001
            versions[tool] = "not found"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "load_before": os.getloadavg(),
        "versions": versions,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per command (median shown)")
    parser.add_argument("--quick", action="store_true", help="real-size photos only")
    parser.add_argument("--sizes", default=None, help="comma list of real,4mp,12mp")
    parser.add_argument("--images", default=None, help="comma list of photo names")
    parser.add_argument("--ks", default="16,64,256")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument(
        "--original",
        default="small",
        choices=("none", "small", "all"),
        help="small: china/flower at real size, plus one run at 12 MP k=64",
    )
    parser.add_argument("--original-python", default=sys.executable)
    parser.add_argument(
        "--convert",
        default=shutil.which("convert-im6.q16") or "convert",
        help="ImageMagick's convert (the real one, not a stand-in)",
    )
    parser.add_argument("--json", type=Path, default=WORK / "results.json")
    args = parser.parse_args()

    sizes = args.sizes.split(",") if args.sizes else (["real"] if args.quick else list(SIZES))
    names = args.images.split(",") if args.images else list(SKLEARN_PHOTOS + SAMPLE_PHOTOS)
    ks = [int(k) for k in args.ks.split(",")]
    tools = [t for t in args.tools.split(",") if t in TOOLS]
    info = machine(args.convert)
    info["command"] = " ".join([Path(sys.executable).name] + sys.argv)

    cases = [make_case(n, s) for s in sizes for n in names if s == "real" or n in UPSCALED]
    results = []
    for case in cases:
        for k in ks:
            plan = {}
            for tool in tools:
                runs = args.runs
                if tool == "original":
                    small = case.size == "real" and case.name in SKLEARN_PHOTOS
                    if args.original == "none":
                        continue
                    if args.original == "small" and not small:
                        if not (case.size == "12mp" and k == 64 and case.name == "china"):
                            continue
                        runs = 1
                plan[tool] = runs
            out = {t: WORK / f"out_{case.name}_{case.size}_{k}_{t}.png" for t in plan}
            times: dict[str, list[tuple[float, float, float]]] = {t: [] for t in plan}
            for i in range(max(plan.values())):
                for tool in plan:
                    if i >= plan[tool]:
                        continue
                    out[tool].unlink(missing_ok=True)
                    times[tool].append(run(commands(case, k, out[tool], args)[tool]))
            for tool in plan:
                walls, rss, cpu = zip(*times[tool], strict=True)
                psnr, de = quality(case.png, out[tool])
                row = dict(
                    image=case.name,
                    size=case.size,
                    mp=case.pixels / 1e6,
                    k=k,
                    tool=tool,
                    runs=len(walls),
                    seconds=statistics.median(walls),
                    cpu_seconds=statistics.median(cpu),
                    rss_mb=max(rss),
                    bytes=out[tool].stat().st_size,
                    psnr=psnr,
                    delta_e=de,
                )
                results.append(row)
                print(
                    f"{case.name:9s} {case.size:4s} k={k:<3d} {tool:11s} {row['seconds']:7.2f}s "
                    f"cpu {row['cpu_seconds']:7.2f}s {row['rss_mb']:6.0f} MB "
                    f"{row['bytes']:9d} B psnr {psnr:5.2f} dE {de:5.2f}",
                    file=sys.stderr,
                    flush=True,
                )
    info["load_after"] = os.getloadavg()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"machine": info, "results": results}, indent=1))
    print(render(info, results))
    return 0


def render(info: dict, results: list[dict]) -> str:
    """The Markdown table: medians, and time ratios against pngquant and the original script."""
    by_key = {(r["image"], r["size"], r["k"], r["tool"]): r for r in results}
    lines = [
        f"Machine: {info['nproc']} CPUs, {info['cpu']}; Python {info['python']}; "
        + ", ".join(f"{k} {v}" for k, v in info["versions"].items()),
        f"Load average before/after: {info['load_before'][0]:.1f} / {info['load_after'][0]:.1f}; "
        f"OPENBLAS_CORETYPE={info['OPENBLAS_CORETYPE']}",
        f"Command: `{info['command']}`",
        "",
        "| image | MP | k | tool | runs | seconds | CPU s | peak RSS MB | bytes | PSNR dB "
        "| mean ΔE2000 | time ÷ pngquant | original ÷ time |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        pq = by_key.get((r["image"], r["size"], r["k"], "pngquant"))
        orig = by_key.get((r["image"], r["size"], r["k"], "original"))
        vs_pq = f"{r['seconds'] / pq['seconds']:.2f}×" if pq else "-"
        vs_orig = f"{orig['seconds'] / r['seconds']:.1f}×" if orig else "-"
        lines.append(
            f"| {r['image']} | {r['mp']:.2f} | {r['k']} | {r['tool']} | {r['runs']} "
            f"| {r['seconds']:.2f} | {r['cpu_seconds']:.2f} | {r['rss_mb']:.0f} | {r['bytes']:,} "
            f"| {r['psnr']:.2f} | {r['delta_e']:.2f} | {vs_pq} | {vs_orig} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
