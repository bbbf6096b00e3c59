"""Palette files (.gpl .act .hex .json .png) and the palette plugin, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from kmc_tui.errors import InputError
from kmc_tui.palettes import Palette, palette_bytes, read_palette, write_palette

DATA = Path(__file__).resolve().parent / "data"
BRAND = DATA / "palettes" / "brand16.gpl"


def png_palette(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(colors (n, 3), alpha (n,), pixel counts (n,)) of a palette PNG, in PLTE order."""
    with PILImage.open(path) as im:
        assert im.mode == "P"
        entries = np.asarray(im.getpalette("RGB"), np.uint8).reshape(-1, 3)
        trns = im.info.get("transparency", b"")
        indices = np.asarray(im)
    n = int(indices.max()) + 1
    alpha = np.full(n, 255, np.uint8)
    if isinstance(trns, bytes):
        alpha[: len(trns)] = np.frombuffer(trns, np.uint8)[:n]
    return entries[:n], alpha, np.bincount(indices.ravel(), minlength=n)


# Which formats keep what: gpl no alpha, act one fully transparent entry.
KEEPS_ALPHA = {"gpl": False, "act": "transparent", "hex": True, "json": True, "png": True}


@pytest.mark.parametrize("ext", ["gpl", "act", "hex", "json", "png"])
@pytest.mark.parametrize("image, k", [("chelsea.png", 16), ("dice.png", 8)])
def test_exported_palette_is_the_pngs_palette_in_order(tmp_path, cli, samples, ext, image, k):
    out, pal = tmp_path / "out.png", tmp_path / f"palette.{ext}"
    done = cli("compress", "-i", samples / image, "-o", out, "-k", k, "--palette-out", pal)
    assert done.returncode == 0, done.stderr
    colors, alpha, counts = png_palette(out)
    got = read_palette(pal)
    np.testing.assert_array_equal(got.colors, colors)
    got_alpha = got.alpha if got.alpha is not None else np.full(len(colors), 255, np.uint8)
    if KEEPS_ALPHA[ext] is True:
        np.testing.assert_array_equal(got_alpha, alpha)
    elif KEEPS_ALPHA[ext] == "transparent":
        np.testing.assert_array_equal(got_alpha == 0, alpha == 0)
    if ext == "json":
        doc = json.loads(pal.read_text())
        np.testing.assert_array_equal(got.counts, counts)
        shares = [entry["share"] for entry in doc["colors"]]
        assert abs(sum(shares) - 1) < 1e-4
        assert doc["colors"][0]["hex"] == "#" + bytes(colors[0].tolist()).hex()


def test_dice_has_transparency_so_the_alpha_checks_mean_something(tmp_path, cli, samples):
    out = tmp_path / "out.png"
    assert cli("compress", "-i", samples / "dice.png", "-o", out, "-k", "8").returncode == 0
    _, alpha, _ = png_palette(out)
    assert (alpha == 0).any() and ((alpha > 0) & (alpha < 255)).any()


def test_palette_out_never_overwrites_and_checks_the_extension_first(tmp_path, cli, samples):
    pal = tmp_path / "p.gpl"
    pal.write_text("mine")
    out = tmp_path / "out.png"
    done = cli("compress", "-i", samples / "chelsea.png", "-o", out, "--palette-out", pal)
    assert done.returncode == 2 and "already exists" in done.stderr
    assert pal.read_text() == "mine" and not out.exists()
    done = cli("compress", "-i", samples / "chelsea.png", "-o", out, "--palette-out", "p.txt")
    assert done.returncode == 2 and "palette format" in done.stderr and not out.exists()
    done = cli(
        "compress",
        "-i",
        samples / "chelsea.png",
        "-o",
        out,
        "-k",
        "4",
        "--palette-out",
        pal,
        "--force",
    )
    assert done.returncode == 0 and read_palette(pal).colors.shape == (4, 3)


@pytest.mark.parametrize("ext", ["gpl", "act", "hex", "json", "png"])
def test_palette_files_round_trip(tmp_path, ext):
    rng = np.random.default_rng(5)
    colors = rng.integers(0, 256, (37, 3), dtype=np.uint8)
    palette = Palette(colors, None, rng.integers(1, 1000, 37), "round trip")
    path = write_palette(tmp_path / f"p.{ext}", palette)
    back = read_palette(path)
    np.testing.assert_array_equal(back.colors, colors)
    with pytest.raises(Exception, match="already exists"):
        write_palette(path, palette)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("a.gpl", b"not a palette\n1 2 3\n", "not a GIMP palette"),
        ("b.gpl", b"GIMP Palette\n1 2\n", "line 2"),
        ("c.gpl", b"GIMP Palette\n1 2 300\n", "0..255"),
        ("d.act", b"\0" * 10, "768 or 772 bytes"),
        ("e.hex", b"#12345\n", "not a color"),
        ("f.json", b"{", "not JSON"),
        ("g.json", b'{"colors": [{"rgb": [1, 2]}]}', "three whole numbers"),
        ("h.hex", b"", "no colors"),
        ("i.hex", b"\xff\xfe\x00", "not a text file"),
        ("j.png", b"\x89PNG junk", "not an image"),
    ],
)
def test_broken_palette_files_are_one_line_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        read_palette(path)
    assert "\n" not in str(info.value)


def test_image_with_too_many_colors_is_not_a_palette(samples):
    with pytest.raises(InputError, match="at most 256"):
        read_palette(samples / "chelsea.png")


def test_palette_image_gives_its_entries_in_use_in_order(tmp_path):
    indices = np.array([[3, 1], [1, 3]], np.uint8)
    img = PILImage.fromarray(indices, "P")
    img.putpalette(bytes(range(0, 12)) + bytes(756))
    img.save(tmp_path / "p.gif")
    got = read_palette(tmp_path / "p.gif")
    assert got.colors.tolist() == [[3, 4, 5], [9, 10, 11]]


# --- the palette plugin -------------------------------------------------------------------


def colors_of(path: Path) -> set[tuple[int, int, int]]:
    with PILImage.open(path) as im:
        rgb = np.asarray(im.convert("RGB")).reshape(-1, 3)
    return set(map(tuple, np.unique(rgb, axis=0).tolist()))


BRAND_COLORS = set(map(tuple, read_palette(BRAND).colors.tolist()))


@pytest.mark.parametrize("extra", [[], ["--dither"], ["--dither-strength", "0.5"]])
@pytest.mark.parametrize("image", ["chelsea.png", "camera.png", "rocket.jpg"])
def test_palette_plugin_output_is_within_the_palette(tmp_path, cli, samples, extra, image):
    out = tmp_path / "out.png"
    done = cli(
        "compress", "-i", samples / image, "-o", out, "--plugin", "palette",
        "--param", f"file={BRAND}", *extra,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    got = colors_of(out)
    assert got <= BRAND_COLORS, got - BRAND_COLORS
    assert len(got) >= 2


def test_palette_plugin_keeps_the_palette_on_an_image_with_few_colors(tmp_path, cli):
    src = tmp_path / "two.png"
    PILImage.fromarray(np.array([[[250, 10, 70], [10, 40, 90]]] * 2, np.uint8)).save(
        src
    )  # two colors, fewer than k: still mapped, not kept as they are
    out = tmp_path / "out.png"
    done = cli("compress", "-i", src, "-o", out, "--plugin", "palette", "--param", f"file={BRAND}")
    assert done.returncode == 0, done.stderr
    assert colors_of(out) == {(255, 0, 77), (29, 43, 83)}


def test_palette_plugin_with_more_entries_than_k_keeps_the_most_used(tmp_path, cli, samples):
    out = tmp_path / "out.png"
    done = cli(
        "compress", "-i", samples / "chelsea.png", "-o", out, "-k", "3", "--plugin", "palette",
        "--param", f"file={BRAND}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    got = colors_of(out)
    assert len(got) <= 3 and got <= BRAND_COLORS


@pytest.mark.parametrize("ext", ["act", "hex", "json", "png"])
def test_palette_plugin_reads_every_format(tmp_path, cli, samples, ext):
    pal = write_palette(tmp_path / f"brand.{ext}", read_palette(BRAND))
    out = tmp_path / "out.png"
    done = cli(
        "compress", "-i", samples / "coffee.png", "-o", out, "--plugin", "palette",
        "--param", f"file={pal}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert colors_of(out) <= BRAND_COLORS


def test_palette_plugin_takes_an_images_colors(tmp_path, cli, samples):
    ref = tmp_path / "ref.png"
    assert cli("compress", "-i", samples / "coffee.png", "-o", ref, "-k", "6").returncode == 0
    out = tmp_path / "out.png"
    done = cli(
        "compress", "-i", samples / "chelsea.png", "-o", out, "--plugin", "palette",
        "--param", f"file={ref}", "--dither",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert colors_of(out) <= colors_of(ref)


def test_palette_plugin_without_a_file_says_what_it_needs(tmp_path, cli, samples):
    done = cli(
        "compress", "-i", samples / "chelsea.png", "-o", tmp_path / "o.png", "--plugin", "palette"
    )
    assert done.returncode != 0
    assert "file=" in done.stderr and done.stderr.strip().count("\n") == 0
    done = cli(
        "compress", "-i", samples / "chelsea.png", "-o", tmp_path / "o.png", "--plugin", "palette",
        "--param", "file=/nonexistent/brand.gpl",
    )  # fmt: skip
    assert done.returncode != 0 and "no such file" in done.stderr
    assert not (tmp_path / "o.png").exists()


def test_palette_bytes_refuses_an_empty_palette():
    with pytest.raises(ValueError, match="1 to 256"):
        palette_bytes(Palette(np.zeros((0, 3), np.uint8)), "gpl")
