"""Every image file in tests/data/ (PngSuite and Pillow's tricky files) through the real CLI.

Each file gives either a correct result (a palette PNG with at most k colors, the input's upright
size, pixels close to Pillow's own decoding, transparency kept) or exactly one clear error line,
never a traceback or a partial output file, and within 10 s.

Files expected to be refused run one per process (they are the hostile ones: a crash must not
hide the others); files expected to work run in small batches through the CLI's batch mode,
in the command's own process (`--jobs 1`: worker pools are test_batch.py's subject).
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from PIL import Image as PILImage
from PIL import ImageOps

DATA = Path(__file__).resolve().parent / "data"
K = 8
SECONDS_PER_FILE = 10

#: Files that must be refused: broken, truncated, bombs, fuzzing crash regressions.
MUST_REFUSE = [
    "pngsuite/x*.png",
    "pillow/truncated_image.png",
    "pillow/truncated_jpeg.jpg",
    "pillow/truncated_end_chunk.png",
    "pillow/broken.png",
    "pillow/broken_data_stream.png",
    "pillow/decompression_bomb.*",
    "pillow/bmp/b/reallybig.bmp",
    "pillow/png_decompression_dos.png",
    "pillow/pngtest_bad.png.bin",
    "pillow/crash-*",
    "pillow/ossfuzz-*",
    "pillow/oom-*",
    "pillow/seek_too_large.tif",
    "pillow/zero_width.gif",
    "pillow/bmp/b/badbitcount.bmp",
    "pillow/bmp/b/shortfile.bmp",
    "pillow/bmp/b/badpalettesize.bmp",
    "pillow/apng/syntax_num_frames_zero.png",
    "pillow/apng/chunk_no_fctl.png",
]
#: Corrupt by design, but a decoder may salvage a picture: either outcome is fine.
MAY_EITHER = [
    "pillow/crash-0da013a13571cc8eb457a39fee8db18f8a3c7127.tif",  # libtiff: bad Fax4 code word
    "pillow/bmp/b/badrle.bmp",
    "pillow/bmp/b/pal8badindex.bmp",
    "pillow/bmp/b/rletopdown.bmp",
]
#: Refusals that must say why in these words.
REASONS = {
    "pillow/decompression_bomb.*": "decompression bomb",
    "pillow/bmp/b/reallybig.bmp": "decompression bomb",
    "pngsuite/xcsn0g01.png": "bad CRC",
    "pillow/truncated_jpeg.jpg": "truncated",
}

NOT_IMAGES = ("LICENSE", "README", ".txt", ".md")


def _files() -> list[str]:
    return sorted(
        str(p.relative_to(DATA))
        for folder in ("pngsuite", "pillow")
        for p in (DATA / folder).rglob("*")
        if p.is_file() and not any(s in p.name for s in NOT_IMAGES)
    )


def _matches(rel: str, patterns) -> bool:
    return any(fnmatch.fnmatch(rel, pat) for pat in patterns)


def expectation(rel: str) -> str:
    if _matches(rel, MAY_EITHER):
        return "either"
    return "refuse" if _matches(rel, MUST_REFUSE) else "ok"


FILES = _files()
GOOD = [f for f in FILES if expectation(f) == "ok"]
BAD = [f for f in FILES if expectation(f) != "ok"]
BATCH = 12


def _batches(files: list[str]) -> list[list[str]]:
    """Groups of at most BATCH files with distinct stems (batch outputs are named by stem)."""
    groups: list[list[str]] = []
    for rel in files:
        stem = Path(rel).stem
        for group in groups:
            if len(group) < BATCH and all(Path(other).stem != stem for other in group):
                group.append(rel)
                break
        else:
            groups.append([rel])
    return groups


GOOD_BATCHES = _batches(GOOD)


def pillow_rgba(path: Path) -> np.ndarray:
    """Pillow's own upright first frame as RGBA; 16-bit gray from its raw values, since
    Pillow's conversion clips them to 255 (and drops their tRNS key)."""
    with PILImage.open(path) as im:
        im.seek(0)
        im = ImageOps.exif_transpose(im)
        if not im.mode.startswith("I;16"):
            return np.asarray(im.convert("RGBA"))
        raw = np.asarray(im).astype(np.float64)
        key = im.info.get("transparency")
    gray = np.floor(raw * 255 / 65535 + 0.5).astype(np.uint8)
    alpha = np.where(raw == key, 0, 255).astype(np.uint8)
    return np.dstack([gray, gray, gray, alpha])


def check_result(src: Path, out: Path) -> None:
    """`out` is a correct k-color rendering of `src`, judged against Pillow's decoding."""
    with PILImage.open(out) as im:
        assert im.format == "PNG" and im.mode == "P", (src.name, im.format, im.mode)
        assert len(im.getcolors(256)) <= K
        got = np.asarray(im.convert("RGBA")).astype(int)
    ref = pillow_rgba(src).astype(int)
    assert got.shape == ref.shape, f"{src.name}: size {got.shape} != {ref.shape}"
    # Transparency Pillow sees survives (kmc_tui finds more in some files Pillow gets wrong).
    assert (got[..., 3][ref[..., 3] == 0] == 0).all(), f"{src.name}: transparency lost"
    both = (ref[..., 3] > 0) & (got[..., 3] > 0)
    if both.any():
        error = np.abs(got[..., :3] - ref[..., :3])[both].mean()
        assert error < 40, f"{src.name}: mean error {error:.1f} against Pillow's decoding"


def test_the_sweep_covers_every_kind():
    kinds = {Path(f).suffix.lower() for f in FILES}
    assert {".png", ".gif", ".jpg", ".tif", ".bmp", ".sgi", ".j2k", ".fli", ".ico"} <= kinds
    assert len(GOOD) >= 60 and len(BAD) >= 40
    assert sum(f.startswith("pngsuite/x") for f in BAD) == 14  # every corrupt PngSuite file


@dataclass
class Run:
    done: subprocess.CompletedProcess | None  # None: it did not finish in time
    seconds: float
    out_dir: Path
    inputs_unchanged: bool


def _run(args: list, out_dir: Path, sources: list[Path], timeout: float) -> Run:
    before = {p: p.read_bytes() for p in sources}
    t0 = time.perf_counter()
    try:
        done = run_cli(*args, timeout=timeout)
    except subprocess.TimeoutExpired:
        done = None
    seconds = time.perf_counter() - t0
    return Run(done, seconds, out_dir, all(p.read_bytes() == b for p, b in before.items()))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """Every CLI run of this module, started together on all cores (each is its own process)."""
    root = tmp_path_factory.mktemp("corpus")
    jobs = {}
    for n, rel in enumerate(BAD):
        out_dir = root / f"bad{n}"
        out_dir.mkdir()
        args = ["compress", "-i", DATA / rel, "-o", out_dir / "result.png", "-k", K]
        jobs[rel] = (args, out_dir, [DATA / rel], SECONDS_PER_FILE)
    for n, batch in enumerate(GOOD_BATCHES):
        out_dir = root / f"good{n}"
        sources = [DATA / rel for rel in batch]
        args = [
            "compress",
            *[a for p in sources for a in ("-i", p)],
            "-o",
            out_dir,
            "-k",
            K,
            "--json",
            "--jobs",
            "1",
        ]
        jobs[tuple(batch)] = (args, out_dir, sources, SECONDS_PER_FILE * len(batch))
    with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
        futures = {key: pool.submit(_run, *job) for key, job in jobs.items()}
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize("rel", BAD)
def test_bad_file_gives_one_clear_line_or_a_correct_result(rel, runs):
    src = DATA / rel
    run = runs[rel]
    assert run.done is not None, f"{rel}: no answer within {SECONDS_PER_FILE} s"
    done, out_dir = run.done, run.out_dir
    assert "Traceback" not in done.stderr + done.stdout
    assert run.inputs_unchanged
    lines = done.stderr.strip().splitlines()
    if done.returncode == 0:
        assert expectation(rel) == "either", f"{rel} should have been refused: {done.stdout}"
        assert lines == [], lines
        assert [p.name for p in out_dir.iterdir()] == ["result.png"]
        check_result(src, out_dir / "result.png")
        return
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"kmc-tui: error: {src}: "), lines[0]
    assert list(out_dir.iterdir()) == [], "partial output left behind"
    for pattern, words in REASONS.items():
        if fnmatch.fnmatch(rel, pattern):
            assert words in lines[0], lines[0]


@pytest.mark.parametrize("batch", GOOD_BATCHES, ids=lambda b: f"{b[0]}..{b[-1]}")
def test_good_files_give_correct_results(batch, runs):
    sources = [DATA / rel for rel in batch]
    run = runs[tuple(batch)]
    assert run.done is not None, f"no answer within {SECONDS_PER_FILE} s per file"
    done = run.done
    assert "Traceback" not in done.stderr + done.stdout
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""
    assert run.inputs_unchanged
    records = {Path(r["input"]): r for r in map(json.loads, done.stdout.splitlines())}
    assert set(records) == set(sources)
    for src in sources:
        record = records[src]
        assert record["seconds"] < SECONDS_PER_FILE, (src.name, record["seconds"])
        assert record["colors"] <= K
        check_result(src, Path(record["output"]))
    assert sorted(p.name for p in run.out_dir.iterdir()) == sorted(f"{p.stem}.png" for p in sources)
