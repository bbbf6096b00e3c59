"""Sweep a whole image corpus through the real CLI.

Each file runs in a fresh process, timed and measured.

Usage::

    python benchmarks/corpus_sweep.py /work/shared/corpus [-k 16] [--timeout 10] [--jobs 2]
        [--memory-limit-mb 1024] [--markdown] [--quiet]

Each file is compressed with ``python -m kmc_tui compress -i FILE -o OUT.png -k K`` in a fresh
process with a wall-clock timeout; its peak resident memory comes from the kernel (``wait4``).
A file is

* ``ok``: exit 0, a palette PNG with at most k colors and the input's (upright) size was written,
  and nothing else in the output folder;
* ``refused``: non-zero exit, exactly one line on stderr (``kmc-tui: error: ...``), nothing written;
* ``FAIL``: anything else (traceback, several lines, timeout, output left behind, peak memory over
  the limit, exit 0 without a valid output) -- every FAIL is a bug.

Prints one row per file, then totals: files, quantized, refused by reason, failures, the slowest
file and the largest peak memory. Exits 1 if any file FAILed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

#: Files of a corpus that are documentation, not images.
DOC_NAMES = re.compile(r"^(.*LICEN[CS]E.*|.*README.*|FILES\.txt|.*\.md)$", re.I)


@dataclass
class Outcome:
    path: Path
    status: str  # ok / refused / FAIL
    reason: str  # refusal group, or why it failed, or notes for ok
    detail: str  # the error line or a short description
    seconds: float
    peak_mb: float
    exit_code: int | None


def refusal_group(message: str) -> str:
    """Group a one-line error by its kind: the message without the path and specific numbers."""
    text = message.removeprefix("kmc-tui: error: ")
    text = text.split(": ", 1)[1] if ": " in text else text  # drop "<path>: "
    low = text.lower()
    if "decompression bomb" in low:
        return "decompression bomb"
    if low.startswith("not an image"):
        return "not an image / unknown format"
    if "no pixels" in low:
        return "no pixels (zero size)"
    if low.startswith("cannot read image"):
        detail = text.split(": ", 1)[1] if ": " in text else ""
        detail = re.sub(r"\d+", "N", detail)
        detail = re.sub(r"'[^']*'", "'…'", detail)
        return "corrupt: " + (detail[:60] or "?")
    return re.sub(r"\d+", "N", text)[:70]


def expected_size(path: Path) -> tuple[int, int] | None:
    """(width, height) upright, from Pillow directly (independent of kmc_tui), or None."""
    import warnings

    from PIL import Image as PILImage
    from PIL import ImageOps

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with PILImage.open(path) as im:
                return ImageOps.exif_transpose(im).size
    except Exception:  # noqa: BLE001 - only a cross-check
        return None


def check_output(out: Path, k: int, src: Path) -> str | None:
    """Why `out` is not a correct result, or None if it is."""
    from PIL import Image as PILImage

    try:
        with PILImage.open(out) as im:
            im.load()
            if im.format != "PNG" or im.mode != "P":
                return f"output is {im.format} mode {im.mode}, not a palette PNG"
            used = len(im.getcolors(256) or range(257))
            size = im.size
    except Exception as exc:  # noqa: BLE001
        return f"output unreadable: {type(exc).__name__}: {exc}"
    if used > k:
        return f"output has {used} colors > k={k}"
    want = expected_size(src)
    if want is not None and want != size:
        return f"output size {size} != input size {want}"
    return None


def run_one(path: Path, k: int, timeout: float, memory_limit_mb: float, python: str) -> Outcome:
    work = Path(tempfile.mkdtemp(prefix="kmc-sweep-"))
    out = work / "out.png"
    stdout_path, stderr_path = (
        work.parent / (work.name + ".out"),
        work.parent / (work.name + ".err"),
    )
    cmd = [python, "-m", "kmc_tui", "compress", "-i", str(path), "-o", str(out), "-k", str(k)]
    env = dict(os.environ, PYTHONWARNINGS="default")  # let any leaking warning show
    env.pop("KMC_TUI_PLUGIN_PATH", None)
    try:
        with open(stdout_path, "wb") as so, open(stderr_path, "wb") as se:
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=so, stderr=se, stdin=subprocess.DEVNULL, env=env)
            status = rusage = None
            timed_out = False
            while True:
                pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() - t0 > timeout:
                    proc.kill()
                    pid, status, rusage = os.wait4(proc.pid, 0)
                    timed_out = True
                    break
                time.sleep(0.005)
            seconds = time.perf_counter() - t0
            proc.returncode = os.waitstatus_to_exitcode(status)
        peak_mb = rusage.ru_maxrss / 1024.0  # kilobytes on Linux
        err_lines = [
            ln for ln in stderr_path.read_text(errors="replace").splitlines() if ln.strip()
        ]
        leftovers = sorted(p.name for p in work.iterdir() if p.name != "out.png")
        code = proc.returncode

        def fail(why: str, detail: str = "") -> Outcome:
            return Outcome(
                path, "FAIL", why, detail or " | ".join(err_lines)[:200], seconds, peak_mb, code
            )

        if timed_out:
            return fail(f"timeout after {timeout:.0f} s")
        if peak_mb > memory_limit_mb:
            return fail(f"peak memory {peak_mb:.0f} MB over {memory_limit_mb:.0f} MB")
        if any("Traceback" in ln for ln in err_lines):
            return fail("traceback")
        if leftovers:
            return fail("files left behind: " + ", ".join(leftovers))
        if code == 0:
            if err_lines:
                return fail("exit 0 but stderr: " + err_lines[0][:120])
            if not out.exists():
                return fail("exit 0 but no output")
            problem = check_output(out, k, path)
            if problem:
                return fail(problem)
            notes = [
                ln.strip().removeprefix("note: ")
                for ln in stdout_path.read_text(errors="replace").splitlines()
                if ln.strip().startswith("note:")
            ]
            return Outcome(path, "ok", "; ".join(notes), "", seconds, peak_mb, code)
        if out.exists():
            return fail(f"exit {code} but output written")
        if len(err_lines) != 1 or not err_lines[0].startswith("kmc-tui: error: "):
            return fail(f"exit {code} with {len(err_lines)} stderr lines")
        return Outcome(
            path,
            "refused",
            refusal_group(err_lines[0]),
            err_lines[0].removeprefix("kmc-tui: error: "),
            seconds,
            peak_mb,
            code,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for p in (stdout_path, stderr_path):
            p.unlink(missing_ok=True)


def corpus_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not DOC_NAMES.match(p.name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="folder of images (searched recursively)")
    parser.add_argument("-k", type=int, default=16, help="colors (default 16)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per file (10)")
    parser.add_argument(
        "--memory-limit-mb",
        type=float,
        default=1024.0,
        help="peak resident memory per file above which it FAILs (1024)",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="files in parallel (default 1: timings are cleaner)"
    )
    parser.add_argument("--markdown", action="store_true", help="print the totals as Markdown")
    parser.add_argument("--quiet", action="store_true", help="no per-file rows")
    args = parser.parse_args(argv)

    files = corpus_files(args.corpus)
    if not files:
        print(f"no files under {args.corpus}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        outcomes = list(
            pool.map(
                lambda p: run_one(p, args.k, args.timeout, args.memory_limit_mb, sys.executable),
                files,
            )
        )
    wall = time.perf_counter() - t0

    if not args.quiet:
        print(f"{'file':<58} {'result':<8} {'s':>6} {'MB':>6}  reason")
        for o in outcomes:
            name = str(o.path.relative_to(args.corpus))
            name = name if len(name) <= 58 else "…" + name[-57:]
            why = o.detail if o.status != "ok" else o.reason
            print(f"{name:<58} {o.status:<8} {o.seconds:>6.2f} {o.peak_mb:>6.0f}  {why}")
        print()

    ok = [o for o in outcomes if o.status == "ok"]
    refused = [o for o in outcomes if o.status == "refused"]
    failed = [o for o in outcomes if o.status == "FAIL"]
    slowest = max(outcomes, key=lambda o: o.seconds)
    biggest = max(outcomes, key=lambda o: o.peak_mb)
    by_reason = Counter(o.reason for o in refused)
    noted = Counter(n.split(":")[0] for o in ok for n in o.reason.split("; ") if n)
    rel = lambda p: p.relative_to(args.corpus)  # noqa: E731
    if args.markdown:
        print(f"| corpus `{args.corpus}` (k={args.k}, timeout {args.timeout:.0f} s) | files |")
        print("|---|---:|")
        print(f"| files | {len(outcomes)} |")
        print(f"| quantized (correct palette PNG, ≤ k colors, upright size) | {len(ok)} |")
        print(f"| refused with one clear error line | {len(refused)} |")
        for reason, n in by_reason.most_common():
            print(f"| &nbsp;&nbsp;refused: {reason} | {n} |")
        print(f"| failed (traceback, hang, partial output, over memory) | {len(failed)} |")
        print(
            f"\nSlowest file: `{rel(slowest.path)}` {slowest.seconds:.2f} s ({slowest.status}); "
            f"largest peak memory: `{rel(biggest.path)}` {biggest.peak_mb:.0f} MB "
            f"({biggest.status}); whole sweep {wall:.0f} s."
        )
    else:
        print(
            f"files: {len(outcomes)}   quantized: {len(ok)}   refused: {len(refused)}   "
            f"FAILED: {len(failed)}   (k={args.k}, timeout {args.timeout:.0f} s, {wall:.0f} s)"
        )
        print("refused by reason:")
        for reason, n in by_reason.most_common():
            print(f"  {n:>4}  {reason}")
        if noted:
            print("notes on quantized files:")
            for note, n in noted.most_common():
                print(f"  {n:>4}  {note}")
        print(f"slowest file: {rel(slowest.path)} {slowest.seconds:.2f} s ({slowest.status})")
        print(
            f"largest peak memory: {rel(biggest.path)} {biggest.peak_mb:.0f} MB ({biggest.status})"
        )
    for o in failed:
        print(f"FAIL {rel(o.path)}: {o.reason}: {o.detail}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
