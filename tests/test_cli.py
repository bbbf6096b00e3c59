"""The headless CLI, run for real in a subprocess, on real files."""

from __future__ import annotations

import json
import shutil
import struct

import numpy as np
import pytest
from conftest import DATA, SAMPLES, sha256
from PIL import Image as PILImage

CHELSEA = SAMPLES / "chelsea.png"


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """A real photo at a quarter of its pixels, so tests that only need *a* photo stay quick."""
    path = tmp_path_factory.mktemp("photo") / "coffee-small.png"
    src = PILImage.open(SAMPLES / "coffee.png")
    src.resize((src.width // 2, src.height // 2), PILImage.Resampling.BOX).save(path)
    return path


def png_header(path):
    """(bit depth, color type) straight from the IHDR chunk, independent of any decoder."""
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, color_type = struct.unpack(">IIBB", raw[16:26])
    return depth, color_type


def png_chunks(path):
    raw = path.read_bytes()
    pos, names = 8, []
    while pos < len(raw):
        (length,) = struct.unpack(">I", raw[pos : pos + 4])
        names.append(raw[pos + 4 : pos + 8].decode("ascii"))
        pos += 12 + length
    return names


def distinct(path) -> int:
    arr = np.asarray(PILImage.open(path).convert("RGBA")).reshape(-1, 4)
    return len(np.unique(arr, axis=0))


def test_compress_writes_palette_png_with_at_most_k_colors(cli, tmp_path):
    out = tmp_path / "out.png"
    before = sha256(CHELSEA)
    proc = cli("compress", "-i", CHELSEA, "-o", out, "-k", "16")
    assert proc.returncode == 0, proc.stderr
    assert out.is_file()
    depth, color_type = png_header(out)
    assert color_type == 3 and depth == 4  # indexed, 4 bits hold 16 colors
    assert 2 <= distinct(out) <= 16
    assert PILImage.open(out).size == PILImage.open(CHELSEA).size
    assert sha256(CHELSEA) == before
    assert "16 colors" in proc.stdout and "ratio" in proc.stdout


def test_original_script_form_without_subcommand(cli, tmp_path, photo):
    out = tmp_path / "out.png"
    proc = cli("-i", photo, "-o", out, "-k", "8")
    assert proc.returncode == 0, proc.stderr
    assert distinct(out) <= 8


@pytest.mark.parametrize("k,depth", [(2, 1), (4, 2), (9, 4), (200, 8)])
def test_png_bit_depth_is_the_smallest_that_holds_the_palette(cli, tmp_path, photo, k, depth):
    out = tmp_path / "out.png"
    proc = cli("compress", "-i", photo, "-o", out, "-k", k)
    assert proc.returncode == 0, proc.stderr
    assert png_header(out) == (depth, 3)


def test_json_has_the_documented_keys_and_true_figures(cli, tmp_path):
    out = tmp_path / "out.png"
    proc = cli("compress", "-i", CHELSEA, "-o", out, "-k", "12", "--json")
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in (
        "input",
        "output",
        "input_bytes",
        "output_bytes",
        "ratio",
        "bits_per_pixel",
        "colors",
        "psnr",
        "delta_e",
        "seconds",
    ):
        assert key in rec, key
    assert rec["input_bytes"] == CHELSEA.stat().st_size
    assert rec["output_bytes"] == out.stat().st_size
    assert rec["ratio"] == pytest.approx(out.stat().st_size / CHELSEA.stat().st_size)
    w, h = PILImage.open(CHELSEA).size
    assert rec["bits_per_pixel"] == pytest.approx(8 * out.stat().st_size / (w * h))
    assert rec["colors"] == distinct(out) <= 12
    # PSNR recomputed independently from the two files.
    a = np.asarray(PILImage.open(CHELSEA).convert("RGB"), np.float64)
    b = np.asarray(PILImage.open(out).convert("RGB"), np.float64)
    psnr = 10 * np.log10(255.0**2 / np.mean((a - b) ** 2))
    assert rec["psnr"] == pytest.approx(psnr, abs=1e-6)
    assert 0 < rec["delta_e"] < 10
    assert rec["seconds"] > 0


def test_default_k_is_64(cli, tmp_path, photo):
    out = tmp_path / "out.png"
    proc = cli("compress", "-i", photo, "-o", out, "--json")
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout)
    assert rec["k"] == 64 and 32 < rec["colors"] <= 64


def test_same_input_same_bytes(cli, tmp_path, photo):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert cli("compress", "-i", photo, "-o", a, "-k", "16").returncode == 0
    assert cli("compress", "-i", photo, "-o", b, "-k", "16").returncode == 0
    assert a.read_bytes() == b.read_bytes()


def test_rgba_keeps_alpha_through_trns(cli, tmp_path):
    src = SAMPLES / "dice.png"
    out = tmp_path / "dice.png"
    proc = cli("compress", "-i", src, "-o", out, "-k", "16")
    assert proc.returncode == 0, proc.stderr
    assert png_header(out)[1] == 3 and "tRNS" in png_chunks(out)
    orig = np.asarray(PILImage.open(src).convert("RGBA"))
    res = np.asarray(PILImage.open(out).convert("RGBA"))
    assert np.all(res[orig[..., 3] == 0, 3] == 0)  # transparent stays transparent
    assert np.all(res[orig[..., 3] == 255, 3] >= 200)


def test_gray_input_gives_gray_palette(cli, tmp_path):
    out = tmp_path / "cam.png"
    assert cli("compress", "-i", SAMPLES / "camera.png", "-o", out, "-k", "8").returncode == 0
    pal = np.array(PILImage.open(out).getpalette()[: 3 * 8]).reshape(-1, 3)
    assert np.all(pal[:, 0] == pal[:, 1]) and np.all(pal[:, 1] == pal[:, 2])


def test_dither_uses_the_same_palette(cli, tmp_path, photo):
    plain, dith = tmp_path / "plain.png", tmp_path / "dith.png"
    assert cli("compress", "-i", photo, "-o", plain, "-k", "6").returncode == 0
    proc = cli("compress", "-i", photo, "-o", dith, "-k", "6", "--dither")
    assert proc.returncode == 0, proc.stderr
    p1 = set(map(tuple, np.asarray(PILImage.open(plain).convert("RGB")).reshape(-1, 3)))
    p2 = set(map(tuple, np.asarray(PILImage.open(dith).convert("RGB")).reshape(-1, 3)))
    assert p2 <= p1 and len(p2) >= 2
    assert plain.read_bytes() != dith.read_bytes()


@pytest.mark.parametrize("ext,fmt", [(".gif", "GIF"), (".jpg", "JPEG"), (".webp", "WEBP")])
def test_format_from_extension(cli, tmp_path, photo, ext, fmt):
    out = tmp_path / f"out{ext}"
    proc = cli("compress", "-i", photo, "-o", out, "-k", "16", "--json")
    assert proc.returncode == 0, proc.stderr
    assert PILImage.open(out).format == fmt
    rec = json.loads(proc.stdout)
    assert rec["exact_colors"] is (fmt != "JPEG")
    if fmt == "JPEG":
        assert (
            rec["colors"] == distinct(out) and rec["colors"] > 16
        )  # says it is no longer k colors
        assert (
            "not exactly k colors"
            in cli("compress", "-i", photo, "-o", tmp_path / "b.jpg", "-k", "16").stdout
        )
    else:
        assert distinct(out) <= 16


def test_format_option_overrides_extension(cli, tmp_path, photo):
    out = tmp_path / "out.img"
    proc = cli("compress", "-i", photo, "-o", out, "-k", "4", "--format", "gif")
    assert proc.returncode == 0, proc.stderr
    assert PILImage.open(out).format == "GIF"


def test_unknown_extension_is_one_clear_error(cli, tmp_path, photo):
    proc = cli("compress", "-i", photo, "-o", tmp_path / "out.bmp", "-k", "4")
    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0 and ".png" in proc.stderr
    assert not (tmp_path / "out.bmp").exists()


def test_never_overwrites_without_force(cli, tmp_path, photo):
    out = tmp_path / "out.png"
    out.write_bytes(b"precious")
    proc = cli("compress", "-i", photo, "-o", out, "-k", "4")
    assert proc.returncode != 0 and "already exists" in proc.stderr
    assert out.read_bytes() == b"precious"
    proc = cli("compress", "-i", photo, "-o", out, "-k", "4", "--force")
    assert proc.returncode == 0, proc.stderr
    assert png_header(out)[1] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temporary left behind


def test_output_equal_to_input_is_refused(cli, tmp_path):
    src = tmp_path / "in.png"
    shutil.copy(CHELSEA, src)
    before = sha256(src)
    proc = cli("compress", "-i", src, "-o", src, "-k", "4")
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1
    assert sha256(src) == before


def test_batch_over_files_and_folder_goes_on_past_bad_files(cli, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("chelsea.png", "camera.png", "dice.png"):
        shutil.copy(SAMPLES / name, folder / name)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (folder / "notes.txt").write_text("not an image, not picked up")
    hashes = {p.name: sha256(p) for p in folder.iterdir()}
    out = tmp_path / "out"
    proc = cli("compress", "-i", folder, "-o", out, "-k", "8")
    assert proc.returncode == 1
    assert sorted(p.name for p in out.iterdir()) == ["camera.png", "chelsea.png", "dice.png"]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("kmc-tui: error")]
    assert len(errors) == 1 and "broken.png" in errors[0]
    assert "Traceback" not in proc.stderr
    assert "3 of 4 done" in proc.stdout  # the summary table
    assert {p.name: sha256(p) for p in folder.iterdir()} == hashes


def test_batch_json_one_object_per_file(cli, tmp_path, photo):
    out = tmp_path / "out"
    proc = cli(
        "compress",
        "-i",
        photo,
        "-i",
        SAMPLES / "camera.png",
        "-o",
        out,
        "-k",
        "4",
        "--json",
        "--format",
        "gif",
    )
    assert proc.returncode == 0, proc.stderr
    recs = [json.loads(line) for line in proc.stdout.splitlines()]
    # Workers report files as they finish, in either order.
    assert sorted(r["output"] for r in recs) == [
        str(out / "camera.gif"),
        str(out / "coffee-small.gif"),
    ]


@pytest.mark.parametrize(
    "k,expect",
    [("0", "at least 1"), ("-3", "at least 1"), ("257", "at most 256"), ("abc", "whole number")],
)
def test_absurd_k_is_one_clear_error(cli, tmp_path, photo, k, expect):
    out = tmp_path / "out.png"
    proc = cli("compress", "-i", photo, "-o", out, "-k", k)
    assert proc.returncode != 0
    assert expect in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


def test_k_above_256_is_fine_for_jpeg(cli, tmp_path):
    out = tmp_path / "out.jpg"
    proc = cli("compress", "-i", SAMPLES / "camera.png", "-o", out, "-k", "300")
    assert proc.returncode == 0, proc.stderr


def test_k_above_distinct_colors_is_said(cli, tmp_path):
    src = tmp_path / "four.png"
    arr = np.zeros((8, 8, 3), np.uint8)
    arr[:4, :4] = (255, 0, 0)
    arr[4:, :4] = (0, 255, 0)
    arr[:4, 4:] = (0, 0, 255)
    PILImage.fromarray(arr).save(src)
    out = tmp_path / "out.png"
    proc = cli("compress", "-i", src, "-o", out, "-k", "16")
    assert proc.returncode == 0, proc.stderr
    assert "only 4 colors" in proc.stdout
    assert np.array_equal(np.asarray(PILImage.open(out).convert("RGB")), arr)


BAD_INPUTS = [
    ("missing.png", "no such file"),
    ("empty.png", "empty file"),
    ("text.png", "not an image"),
    ("pillow/truncated_image.png", "truncated"),
    ("pillow/truncated_jpeg.jpg", "cannot read"),
    ("pillow/broken_data_stream.png", "cannot read"),
    ("pillow/decompression_bomb.gif", "decompression bomb"),
    ("pillow/png_decompression_dos.png", "cannot read"),
]


@pytest.mark.parametrize("name,expect", BAD_INPUTS)
def test_bad_input_is_one_clear_line_and_nothing_written(cli, tmp_path, name, expect):
    if name == "empty.png":
        src = tmp_path / name
        src.write_bytes(b"")
    elif name == "text.png":
        src = tmp_path / name
        src.write_text("hello, I am not a PNG\n")
    else:
        src = (DATA / name) if name != "missing.png" else tmp_path / name
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = cli("compress", "-i", src, "-o", out_dir / "o.png", "-k", "8")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("kmc-tui: error:") and expect in lines[0]
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("path", sorted((DATA / "pngsuite").glob("x*.png")), ids=lambda p: p.name)
def test_corrupt_pngsuite_files(cli, tmp_path, path):
    out = tmp_path / "o.png"
    proc = cli("compress", "-i", path, "-o", out, "-k", "4")
    assert "Traceback" not in proc.stderr
    if proc.returncode == 0:
        # Some corruption (a bad CRC in xcsn0g01) is tolerated by the decoder:
        # then the output is real.
        assert png_header(out)[1] == 3
    else:
        assert len(proc.stderr.strip().splitlines()) == 1
        assert not out.exists()


def test_unwritable_output_folder(cli, tmp_path, photo):
    # /sys refuses new files even to root, where chmod would not stop us.
    proc = cli("compress", "-i", photo, "-o", "/sys/kmc-tui-test.png", "-k", "4")
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1 and "cannot write" in proc.stderr


def test_missing_output_folder(cli, tmp_path, photo):
    proc = cli("compress", "-i", photo, "-o", tmp_path / "nope" / "o.png", "-k", "4")
    assert proc.returncode == 1 and "does not exist" in proc.stderr


RAISING = """
from kmc_tui.registry import Quantizer
class Boom(Quantizer):
    name = "boom"
    description = "always raises"
    def quantize(self, hist, k, *, seed=0):
        raise RuntimeError("kaboom inside the plugin")
"""

GARBAGE = """
import numpy as np
from kmc_tui.registry import Quantizer
class Garbage(Quantizer):
    name = "garbage"
    description = "returns a palette of the wrong shape"
    def quantize(self, hist, k, *, seed=0):
        return np.zeros((k + 5, 2), np.float64)
"""


@pytest.mark.parametrize(
    "source,name,expect",
    [(RAISING, "boom", "kaboom inside the plugin"), (GARBAGE, "garbage", "invalid result")],
)
def test_plugin_that_raises_or_returns_garbage(cli, tmp_path, photo, source, name, expect):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / f"{name}.py").write_text(source)
    out = tmp_path / "o.png"
    proc = cli(
        "compress", "-i", photo, "-o", out, "-k", "4", "--plugin", name, "--plugin-dir", plugins
    )
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1 and expect in proc.stderr
    assert not out.exists()
    # The same plugin found through the environment variable.
    proc = cli(
        "compress",
        "-i",
        photo,
        "-o",
        out,
        "-k",
        "4",
        "--plugin",
        name,
        env={"KMC_TUI_PLUGIN_PATH": str(plugins)},
    )
    assert proc.returncode == 1 and expect in proc.stderr


def test_plugin_params_are_checked(cli, tmp_path, photo):
    out = tmp_path / "o.png"
    proc = cli("compress", "-i", photo, "-o", out, "--param", "color_space=hsv")
    assert proc.returncode == 2 and "not one of" in proc.stderr
    proc = cli("compress", "-i", photo, "-o", out, "--param", "nope=1")
    assert proc.returncode == 2 and "no parameter 'nope'" in proc.stderr
    proc = cli("compress", "-i", photo, "-o", out, "--plugin", "nosuch")
    assert proc.returncode == 2 and "no quantizer plugin named 'nosuch'" in proc.stderr
    proc = cli("compress", "-i", photo, "-o", out, "-k", "8", "--param", "color_space=rgb")
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "x").exists()


def test_plugins_command_lists_builtin_and_broken(cli, tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "broken.py").write_text("import nonexistent_module_xyz\n")
    proc = cli("plugins", "--plugin-dir", plugins)
    assert proc.returncode == 0, proc.stderr
    assert "kmeans" in proc.stdout and "color_space" in proc.stdout
    assert "broken  [BROKEN]" in proc.stdout and "nonexistent_module_xyz" in proc.stdout
    proc = cli("plugins", "--json", "--plugin-dir", plugins)
    items = {p["name"]: p for p in json.loads(proc.stdout)}
    assert items["kmeans"]["error"] is None
    assert items["kmeans"]["origin"].startswith("kmc-tui")
    assert "ModuleNotFoundError" in items["broken"]["error"]


def test_plugin_dir_not_implicit_from_cwd(cli, tmp_path):
    (tmp_path / "evil.py").write_text(RAISING.replace('"boom"', '"evil"'))
    proc = cli("plugins", cwd=tmp_path)
    assert "evil" not in proc.stdout


def test_batch_shows_progress_on_a_terminal(tmp_path, photo):
    """stderr on a pseudo-terminal gets a progress bar; a pipe (as above) gets none."""
    import os
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kmc_tui",
            "compress",
            "-i",
            photo,
            "-i",
            SAMPLES / "camera.png",
            "-o",
            out,
            "-k",
            "4",
        ],
        stdout=subprocess.DEVNULL,
        stderr=slave,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=120) == 0
    os.close(master)
    text = b"".join(chunks).decode()
    assert "1/2" in text and "files/s" in text and "saved" in text  # rich's progress


def test_plugins_listing_survives_a_plugin_whose_import_hangs(cli):
    import time

    start = time.monotonic()
    proc = cli(
        "plugins", "--timeout", "1", "--plugin-dir", DATA / "plugins" / "hanging_import", timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - start < 30
    assert "hang_on_import  [BROKEN]" in proc.stdout and "timed out after 1 s" in proc.stdout
    assert "kmeans  (kmc-tui" in proc.stdout  # the others are still listed


def test_batch_inputs_with_one_stem_do_not_clash(cli, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(DATA / "pillow" / "hopper.png", folder / "hopper.png")
    shutil.copy(DATA / "pillow" / "hopper.jpg", folder / "hopper.jpg")
    out = tmp_path / "out"
    proc = cli("compress", "-i", folder, "-o", out, "-k", "4")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["hopper.jpg.png", "hopper.png.png"]


def test_tui_path_errors_before_any_screen(cli, tmp_path):
    proc = cli("--plugin-dir", tmp_path, tmp_path / "nope")
    assert proc.returncode == 2 and "no such file or folder" in proc.stderr
    proc = cli(tmp_path / "nope")
    assert proc.returncode == 2 and "no such file or folder" in proc.stderr
