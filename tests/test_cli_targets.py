"""Targets on the command line (--max-delta-e, --max-bytes, --skip-if-larger), run for real in a
subprocess on real files; every claim is checked with plain runs of the same CLI."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from conftest import DATA, SAMPLES, sha256
from PIL import Image as PILImage


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """A real photo, small enough for a search of several runs to stay quick."""
    path = tmp_path_factory.mktemp("photo") / "chelsea-small.png"
    src = PILImage.open(SAMPLES / "chelsea.png")
    src.resize((180, 120), PILImage.Resampling.LANCZOS).save(path)
    return path


def one_record(proc) -> dict:
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    return json.loads(lines[0])


def plain_json(cli, src, out, k, *extra) -> dict:
    proc = cli("compress", "-i", src, "-o", out, "-k", k, "--json", "--force", *extra)
    assert proc.returncode == 0, proc.stderr
    return one_record(proc)


def test_delta_e_target_is_met_and_one_color_fewer_is_not(cli, photo, tmp_path):
    out = tmp_path / "out.png"
    proc = cli("compress", "-i", photo, "-o", out, "--max-delta-e", "2.5", "--json")
    assert proc.returncode == 0, proc.stderr
    record = one_record(proc)
    k = record["k"]
    assert record["target"] == {"kind": "delta_e", "max": 2.5}
    assert record["delta_e"] <= 2.5 and out.is_file()
    tried = {t["k"]: t for t in record["tried"] if not t["estimate"]}
    assert tried[k]["meets"] and not tried[k - 1]["meets"]
    # The same figures from plain runs: the written file is the plain run's at k ...
    again = plain_json(cli, photo, tmp_path / "k.png", k)
    assert (tmp_path / "k.png").read_bytes() == out.read_bytes()
    assert again["delta_e"] == record["delta_e"]
    # ... and one color fewer misses the target.
    fewer = plain_json(cli, photo, tmp_path / "fewer.png", k - 1)
    assert fewer["delta_e"] > 2.5
    assert tried[k - 1]["delta_e"] == fewer["delta_e"]


def test_size_target_fits_and_one_color_more_does_not(cli, photo, tmp_path):
    out = tmp_path / "out.png"
    proc = cli("compress", "-i", photo, "-o", out, "--max-bytes", "9K")
    assert proc.returncode == 0, proc.stderr
    size = out.stat().st_size
    assert size <= 9000
    k = int(re.search(r"target size ≤ 9\.0 KB: k=(\d+) \(k=\d+ gives", proc.stdout).group(1))
    more = plain_json(cli, photo, tmp_path / "more.png", k + 1)
    assert more["output_bytes"] > 9000
    same = plain_json(cli, photo, tmp_path / "same.png", k)
    assert same["output_bytes"] == size


def test_size_target_accepts_suffixes_and_k_bounds_it(cli, photo, tmp_path):
    out = tmp_path / "out.png"
    proc = cli("compress", "-i", photo, "-o", out, "--max-bytes", "1.5M", "-k", "8", "--json")
    assert proc.returncode == 0, proc.stderr
    record = one_record(proc)
    assert record["target"] == {"kind": "bytes", "max": 1_500_000}
    assert record["k"] == 8 and record["at_bound"]
    assert record["colors"] <= 8


def test_unreachable_target_writes_nothing_and_exits_3(cli, photo, tmp_path):
    out = tmp_path / "out.png"
    proc = cli("compress", "-i", photo, "-o", out, "--max-delta-e", "0.5")
    assert proc.returncode == 3
    assert not out.exists() and list(tmp_path.iterdir()) == []
    best = plain_json(cli, photo, tmp_path / "best.png", 256)["delta_e"]
    line = f"{photo}: ΔE2000 ≤ 0.5 not reachable with 256 colors (best {best:.2f})"
    assert proc.stderr.strip() == line
    assert proc.stdout == ""


def test_unreachable_size(cli, photo, tmp_path):
    out = tmp_path / "out.png"
    proc = cli("compress", "-i", photo, "-o", out, "--max-bytes", "50", "--json")
    assert proc.returncode == 3 and not out.exists()
    record = one_record(proc)
    assert record["status"] == "not reachable" and record["output"] is None
    assert record["best"] > 50
    pattern = r": size ≤ 50 B not reachable \(smallest \d+ B, with \d+ colors?\)"
    assert re.fullmatch(re.escape(str(photo)) + pattern, proc.stderr.strip())


def test_skip_if_larger_on_an_already_small_png(cli, tmp_path):
    src = tmp_path / "small.png"
    shutil.copy(DATA / "pngsuite" / "basn0g02.png", src)  # 104 bytes: nothing beats it
    before = sha256(src)
    out = tmp_path / "out.png"
    proc = cli("compress", "-i", src, "-o", out, "-k", "4", "--skip-if-larger")
    assert proc.returncode == 0, proc.stderr
    assert not out.exists()
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    assert re.fullmatch(
        rf"{re.escape(str(src))}: skipped: \d+ B would not be smaller than the input's 104 B",
        lines[0],
    )
    assert sha256(src) == before
    # Without the flag the larger file is written, as asked.
    proc = cli("compress", "-i", src, "-o", out, "-k", "4")
    assert proc.returncode == 0 and out.stat().st_size > 104


def test_batch_with_mixed_outcomes(cli, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    # A photo: ΔE2000 ≤ 1 needs far more than 16 colors.
    PILImage.open(SAMPLES / "chelsea.png").resize((120, 80)).save(folder / "photo.png")
    # Five colors, stored without compression: reached exactly, and much smaller.
    rng = np.random.default_rng(0)
    five = rng.integers(0, 256, (5, 3), dtype=np.uint8)[rng.integers(0, 5, (60, 90))]
    PILImage.fromarray(five).save(folder / "five.png", compress_level=0)
    # Already as small as it gets: reached, then skipped.
    shutil.copy(DATA / "pngsuite" / "basn0g02.png", folder / "tiny.png")
    out = tmp_path / "out"
    proc = cli(
        "compress", "-i", folder, "-o", out, "--max-delta-e", "1", "-k", "16", "--skip-if-larger"
    )
    assert proc.returncode == 3, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["five.png"]
    assert f"{folder / 'photo.png'}: ΔE2000 ≤ 1 not reachable with 16 colors" in proc.stderr
    assert f"{folder / 'tiny.png'}: skipped:" in proc.stdout
    assert "1 of 3 done" in proc.stdout
    assert "1 skipped, 1 not reachable, 0 failed" in proc.stdout
    assert re.search(r"photo\.png\s+not reachable: ΔE2000 ≤ 1", proc.stdout)
    assert re.search(r"tiny\.png .* skipped: not smaller", proc.stdout)


def test_batch_json_gives_each_file_its_own_k(cli, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("chelsea.png", "coffee.png"):
        PILImage.open(SAMPLES / name).resize((120, 80)).save(folder / name)
    proc = cli("compress", "-i", folder, "-o", tmp_path / "out", "--max-delta-e", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(records) == 2
    for record in records:
        assert "status" not in record and record["delta_e"] <= 3
        tried = {t["k"]: t for t in record["tried"] if not t["estimate"]}
        assert tried[record["k"]]["delta_e"] == record["delta_e"]
        assert tried[record["k"] - 1]["delta_e"] > 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-bytes", "lots"], "argument --max-bytes: a size is a number of bytes"),
        (["--max-delta-e", "-1"], "argument --max-delta-e: a ΔE2000 target is a number 0"),
        (["--max-delta-e", "2", "--max-bytes", "5K"], "not allowed with argument"),
    ],
)
def test_bad_targets_are_one_line_errors(cli, photo, tmp_path, args, message):
    proc = cli("compress", "-i", photo, "-o", tmp_path / "o.png", *args)
    assert proc.returncode == 2
    assert message in proc.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "o.png").exists()
