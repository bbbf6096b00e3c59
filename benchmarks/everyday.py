"""Everyday-size benchmark: one kmc-tui batch process against one pngquant process.

Makes a deterministic set of 24 photos of 0.3-1 MP in benchmarks/work/everyday/ (gitignored)
from the source photos in benchmarks/photos/, samples/ and scikit-learn's china.jpg and
flower.jpg (see SET below): 13 at their own resolution or downscaled, crops included, and 11
from the 0.14-0.27 MP photos scaled up 1.2-1.7x. Every image goes through a JPEG round trip
(quality 92, as bench.py does) and is stored as a PNG: both tools read the very same files.

Then, for each k, side by side and interleaved (so that load from elsewhere falls on both
alike), each a fresh process, `--runs` times:

- kmc-tui: ``kmc-tui compress -i F1 ... -i F24 -o DIR -k K`` (one process, one worker);
- pngquant: ``pngquant --nofs -f --ext .out.png K F1 ... F24`` (one process);
- with ``--baseline-kmc PATH``, the same batch with another kmc-tui (e.g. main's).

The table shows medians of wall time, CPU time, peak RSS of the process, the total bytes, and
the mean over the 24 photos of each photo's mean CIEDE2000 and PSNR (computed here, the same way
for every tool, from the output file against the input pixels).

Then single-file runs (``--single N`` photos, default all 24; 0 skips them): each photo in
its own fresh process, ``kmc-tui compress -i F -o OUT -k K`` against ``pngquant --nofs K F``,
and two floors measured apart, each its own process, without reading an image: the import
floor (``python -c "import kmc_tui.cli"``, what every ``kmc-tui`` command pays) and the
plugin floor (those imports plus loading and warming up the k-means plugin, scikit-learn
included: what a ``compress`` pays before its first pixel). Per k, the sums over the photos
(wall and CPU seconds) and the ratios to pngquant with and without the plugin floor.

Not part of the test suite. Run from the repository root with the environment that has kmc-tui:

    python benchmarks/everyday.py                       # k = 16, 64, 256; 3 runs
    python benchmarks/everyday.py --runs 5 --single 4
    python benchmarks/everyday.py --skip-batch --runs 1      # single-file runs only
    python benchmarks/everyday.py --baseline-kmc /tmp/base/.venv/bin/kmc-tui
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import JPEG_QUALITY, ROOT, WORK, machine, quality, run  # noqa: E402

PHOTOS = ROOT / "benchmarks" / "photos"
SET_DIR = WORK / "everyday" / "set"

#: (name, source, crop box (left, top, right, bottom) in source pixels or None, output size).
SET = (
    ("field", "field.jpg", None, (1024, 768)),
    ("field_sky", "field.jpg", (0, 0, 768, 512), (768, 512)),
    ("field_fence", "field.jpg", (256, 256, 1024, 768), (768, 512)),
    ("field_small", "field.jpg", None, (800, 600)),
    ("spitfire", "spitfire.jpg", None, (800, 531)),
    ("spitfire_strip", "spitfire.jpg", (0, 100, 800, 531), (800, 431)),
    ("sugarshack", "sugarshack.jpg", None, (640, 480)),
    ("hubble", "hubble_deep_field.jpg", None, (1000, 872)),
    ("hubble_corner", "hubble_deep_field.jpg", (0, 0, 768, 512), (768, 512)),
    ("hubble_middle", "hubble_deep_field.jpg", (180, 116, 820, 756), (640, 640)),
    ("retina", "retina.jpg", None, (1000, 1000)),
    ("retina_disc", "retina.jpg", (700, 400, 1400, 1100), (700, 700)),
    ("retina_top", "retina.jpg", (0, 0, 1411, 940), (960, 640)),
    ("ihc", "ihc.png", None, (600, 600)),
    ("astronaut", "astronaut", None, (640, 640)),
    ("astronaut_large", "astronaut", None, (800, 800)),
    ("chelsea", "chelsea", None, (768, 511)),
    ("coffee", "coffee", None, (768, 512)),
    ("rocket", "rocket", None, (768, 512)),
    ("rocket_large", "rocket", None, (960, 640)),
    ("china", "china", None, (768, 512)),
    ("china_large", "china", None, (960, 640)),
    ("flower", "flower", None, (768, 512)),
    ("coffee_large", "coffee", None, (900, 600)),
)


def _source(name: str):
    from PIL import Image

    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return Image.fromarray(load_sample_image(f"{name}.jpg"))
    path = PHOTOS / name if "." in name else next((ROOT / "samples").glob(f"{name}.*"))
    with Image.open(path) as img:
        return img.convert("RGB")


def make_set() -> list[Path]:
    """Write the 24 PNGs to SET_DIR (once) and return their paths."""
    import io

    from PIL import Image

    SET_DIR.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, source, box, size in SET:
        png = SET_DIR / f"{name}.png"
        if not png.exists():
            img = _source(source)
            if box is not None:
                img = img.crop(box)
            if img.size != size:
                img = img.resize(size, Image.Resampling.LANCZOS)
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=JPEG_QUALITY)
            with Image.open(buf) as decoded:
                decoded.convert("RGB").save(png, compress_level=1)
        paths.append(png)
    return paths


def kmc_batch_command(kmc: str, files: list[Path], out_dir: Path, k: int) -> list[str]:
    argv = [kmc, "compress"]
    for f in files:
        argv += ["-i", str(f)]
    argv += ["-o", str(out_dir), "-k", str(k)]
    # One worker (issue 13's comparison), should this kmc-tui run files in parallel.
    help_text = subprocess.run([kmc, "compress", "--help"], capture_output=True, text=True).stdout
    for option in ("--jobs", "--workers"):
        if option in help_text:
            argv += [option, "1"]
            break
    return argv


def pngquant_links(files: list[Path], out_dir: Path) -> list[Path]:
    """Symlinks to `files` in `out_dir`, so pngquant writes its outputs there."""
    out_dir.mkdir(parents=True, exist_ok=True)
    links = []
    for f in files:
        link = out_dir / f.name
        if not link.exists():
            link.symlink_to(f)
        links.append(link)
    return links


def batch_quality(files: list[Path], outputs: list[Path]) -> dict:
    psnrs, des = zip(*(quality(f, o) for f, o in zip(files, outputs, strict=True)), strict=True)
    return {
        "psnr": statistics.mean(psnrs),
        "delta_e": statistics.mean(des),
        "bytes": sum(o.stat().st_size for o in outputs),
        "per_photo_delta_e": dict(zip((f.stem for f in files), des, strict=True)),
    }


def batch_table(files: list[Path], ks: list[int], runs: int, kmc: str, baseline: str | None):
    tools = {"kmc-tui": kmc, "pngquant": "pngquant"}
    if baseline:
        tools["kmc-tui (baseline)"] = baseline
    rows = []
    for k in ks:
        outs = {t: WORK / "everyday" / f"out_{k}_{n}" for n, t in enumerate(tools)}
        argv = {}
        links = pngquant_links(files, outs["pngquant"])
        for tool, exe in tools.items():
            if tool == "pngquant":
                argv[tool] = ["pngquant", "--nofs", "-f", "--ext", ".out.png", str(k)]
                argv[tool] += [str(p) for p in links]
            else:
                argv[tool] = kmc_batch_command(exe, files, outs[tool], k)
        times: dict[str, list] = {t: [] for t in tools}
        for _ in range(runs):
            for tool in tools:
                if tool != "pngquant":
                    shutil.rmtree(outs[tool], ignore_errors=True)
                times[tool].append(run(argv[tool]))
        for tool in tools:
            walls, rss, cpu = zip(*times[tool], strict=True)
            if tool == "pngquant":
                outputs = [outs[tool] / f"{f.stem}.out.png" for f in files]
            else:
                outputs = [outs[tool] / f"{f.stem}.png" for f in files]
            row = dict(
                k=k,
                tool=tool,
                runs=runs,
                seconds=statistics.median(walls),
                all_seconds=list(walls),
                cpu_seconds=statistics.median(cpu),
                rss_mb=max(rss),
                **batch_quality(files, outputs),
            )
            rows.append(row)
            each = ", ".join(f"{w:.2f}" for w in walls)
            print(
                f"k={k:<3d} {tool:20s} {row['seconds']:6.2f}s ({each})"
                f" cpu {row['cpu_seconds']:6.2f}s {row['rss_mb']:5.0f} MB {row['bytes']:10,d} B "
                f"dE {row['delta_e']:.3f} psnr {row['psnr']:.2f}",
                file=sys.stderr,
                flush=True,
            )
    return rows


def floor_command() -> list[str]:
    """A process that pays what every `kmc-tui compress` pays before reading an image."""
    code = (
        "import os, kmc_tui.cli, kmc_tui.api; from kmc_tui.registry import Registry; "
        "Registry([]).get('kmeans').load().warm_up(); os._exit(0)"
    )
    return [sys.executable, "-c", code]


def import_floor_command() -> list[str]:
    """A process that only imports the command line (what `kmc-tui --help` pays, about)."""
    return [sys.executable, "-c", "import kmc_tui.cli"]


def single_table(files: list[Path], ks: list[int], runs: int, kmc: str, n: int):
    """Each of `n` photos in its own process, kmc-tui against pngquant, and the floors."""
    picks = files[:: max(1, len(files) // n)][:n]
    rows = []
    out_dir = WORK / "everyday" / "single"
    out_dir.mkdir(parents=True, exist_ok=True)
    floors = {"import floor": import_floor_command(), "plugin floor": floor_command()}
    floor = {}
    for name, argv in floors.items():
        times = [run(argv) for _ in range(max(3, runs))]
        floor[name] = (
            statistics.median(w for w, _, _ in times),
            statistics.median(c for _, _, c in times),
        )
        print(f"{name} {floor[name][0]:.2f} s, CPU {floor[name][1]:.2f} s", file=sys.stderr)
    for k in ks:
        for f in picks:
            ours_out, pq_out = out_dir / f"{f.stem}_{k}.png", out_dir / f"{f.stem}_{k}_pq.png"
            argv = {
                "kmc-tui": [kmc, "compress", "-i", str(f), "-o", str(ours_out), "-k", str(k)],
                "pngquant": ["pngquant", "--nofs", "-f", "-o", str(pq_out), str(k), str(f)],
            }
            times: dict[str, list] = {t: [] for t in argv}
            for _ in range(runs):
                for tool in argv:
                    if tool == "kmc-tui":
                        ours_out.unlink(missing_ok=True)
                    times[tool].append(run(argv[tool]))
            med = {
                t: (statistics.median(w for w, _, _ in v), statistics.median(c for _, _, c in v))
                for t, v in times.items()
            }
            rows.append(dict(k=k, photo=f.stem, pixels=_pixels(f), **med))
            print(
                f"k={k:<3d} {f.stem:16s} kmc-tui {med['kmc-tui'][0]:.2f}s "
                f"(CPU {med['kmc-tui'][1]:.2f}) pngquant {med['pngquant'][0]:.2f}s "
                f"(CPU {med['pngquant'][1]:.2f})",
                file=sys.stderr,
                flush=True,
            )
    return rows, floor


def _pixels(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as img:
        return img.width * img.height


def render(info: dict, files: list[Path], rows: list[dict], single, floor) -> str:
    mp = [_pixels(f) / 1e6 for f in files]
    lines = [
        f"Machine: {info['nproc']} CPUs, {info['cpu']}; Python {info['python']}; "
        + ", ".join(f"{k} {v}" for k, v in info["versions"].items() if k != "imagemagick"),
        f"Load average before/after: {info['load_before'][0]:.1f} / {info['load_after'][0]:.1f}",
        f"Command: `{info['command']}`",
        f"Set: {len(files)} photos, {min(mp):.2f}-{max(mp):.2f} MP, {sum(mp):.1f} MP in all",
        "",
    ]
    if rows:
        lines += [
            "| k | tool | runs | seconds (median) | CPU s | peak RSS MB | bytes | mean ΔE2000 "
            "| mean PSNR dB | time ÷ pngquant |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        pq = {r["k"]: r for r in rows if r["tool"] == "pngquant"}
        for r in rows:
            ratio = r["seconds"] / pq[r["k"]]["seconds"] if r["k"] in pq else float("nan")
            lines.append(
                f"| {r['k']} | {r['tool']} | {r['runs']} | {r['seconds']:.2f} "
                f"| {r['cpu_seconds']:.2f} | {r['rss_mb']:.0f} | {r['bytes']:,} "
                f"| {r['delta_e']:.3f} | {r['psnr']:.2f} | {ratio:.2f}× |"
            )
    if single:
        (imp, imp_cpu), (plug, plug_cpu) = floor["import floor"], floor["plugin floor"]
        lines += [
            "",
            "Single files, each in its own process (medians of the runs, summed over the photos); "
            f"import floor (`python -c 'import kmc_tui.cli'`) {imp:.2f} s, CPU {imp_cpu:.2f} s; "
            f"plugin floor (those imports, the k-means plugin loaded and warmed up: "
            f"scikit-learn) {plug:.2f} s, CPU {plug_cpu:.2f} s, each measured apart:",
            "",
            "| k | photos | kmc-tui s | pngquant s | ratio | kmc-tui CPU s | pngquant CPU s "
            "| CPU ratio | plugin floor × photos s | kmc-tui − floors s | ratio without floor "
            "| CPU ratio without floor |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for k in sorted({r["k"] for r in single}):
            at_k = [r for r in single if r["k"] == k]
            ours = sum(r["kmc-tui"][0] for r in at_k)
            ours_cpu = sum(r["kmc-tui"][1] for r in at_k)
            theirs = sum(r["pngquant"][0] for r in at_k)
            theirs_cpu = sum(r["pngquant"][1] for r in at_k)
            floors, floors_cpu = plug * len(at_k), plug_cpu * len(at_k)
            lines.append(
                f"| {k} | {len(at_k)} | {ours:.2f} | {theirs:.2f} | {ours / theirs:.1f}× "
                f"| {ours_cpu:.2f} | {theirs_cpu:.2f} | {ours_cpu / theirs_cpu:.1f}× "
                f"| {floors:.2f} | {ours - floors:.2f} | {(ours - floors) / theirs:.2f}× "
                f"| {(ours_cpu - floors_cpu) / theirs_cpu:.2f}× |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ks", default="16,64,256")
    parser.add_argument("--runs", type=int, default=3, help="runs per command (median shown)")
    parser.add_argument(
        "--single", type=int, default=len(SET), help="N photos one by one (0: none)"
    )
    parser.add_argument("--skip-batch", action="store_true")
    parser.add_argument("--baseline-kmc", help="another kmc-tui to run side by side")
    parser.add_argument("--json", type=Path, default=WORK / "everyday" / "results.json")
    args = parser.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    kmc = Path(sys.executable).with_name("kmc-tui")
    kmc = str(kmc) if kmc.exists() else "kmc-tui"

    files = make_set()
    info = machine(shutil.which("convert-im6.q16") or "convert")
    info["command"] = " ".join([Path(sys.executable).name] + sys.argv)
    rows = [] if args.skip_batch else batch_table(files, ks, args.runs, kmc, args.baseline_kmc)
    single, floor = (
        single_table(files, ks, args.runs, kmc, args.single) if args.single else ([], {})
    )
    info["load_after"] = os.getloadavg()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps({"machine": info, "batch": rows, "single": single, "floor": floor}, indent=1)
    )
    print(render(info, files, rows, single, floor))
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
