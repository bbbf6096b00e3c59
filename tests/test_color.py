"""Color management on reading: ICC profiles to sRGB, 16-bit precision, the pixel limit.

The Adobe RGB photo is made here from an sRGB one with LittleCMS (Pillow's ImageCms) and a
profile written by tests/icc_support.py, so the truth (the sRGB original) is known.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from icc_support import adobe_rgb_profile
from PIL import Image as PILImage
from PIL import ImageCms
from skimage.color import deltaE_ciede2000, rgb2lab

from kmc_tui.errors import InputError
from kmc_tui.read import read_image

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def mean_delta_e(a: np.ndarray, b: np.ndarray) -> float:
    return float(deltaE_ciede2000(rgb2lab(a), rgb2lab(b)).mean())


@pytest.fixture(scope="module")
def srgb_photo() -> np.ndarray:
    with PILImage.open(SAMPLES / "coffee.png") as im:
        return np.asarray(im.convert("RGB"))[100:260, 200:440].copy()


def adobe_rgb_file(rgb: np.ndarray, path: Path, **save) -> Path:
    """`rgb` (sRGB) converted to Adobe RGB and saved with that profile embedded."""
    adobe = adobe_rgb_profile()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    src = ImageCms.ImageCmsProfile(io.BytesIO(adobe))
    converted = ImageCms.profileToProfile(PILImage.fromarray(rgb), srgb, src)
    converted.save(path, icc_profile=adobe, **save)
    return path


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tif"])
def test_adobe_rgb_photo_is_read_as_its_srgb_colors(tmp_path, srgb_photo, suffix):
    save = {"quality": 95, "subsampling": 0} if suffix == ".jpg" else {}
    if suffix == ".webp":
        save = {"lossless": True}
    path = adobe_rgb_file(srgb_photo, tmp_path / f"adobe{suffix}", **save)
    with PILImage.open(path) as im:
        assert im.info.get("icc_profile")
        as_stored = np.asarray(im.convert("RGB"))  # the numbers without the conversion
    image = read_image(path)
    converted = mean_delta_e(srgb_photo, image.rgb)
    unconverted = mean_delta_e(srgb_photo, as_stored)
    assert converted < (1.2 if suffix == ".jpg" else 0.3), converted  # JPEG loses ~0.9 itself
    assert unconverted > 2.5, unconverted  # the stored numbers are visibly other colors
    assert any("Adobe RGB" in note and "sRGB" in note for note in image.notes)


def test_adobe_rgb_through_the_cli_is_srgb_and_says_so(tmp_path, srgb_photo, cli):
    src = adobe_rgb_file(srgb_photo, tmp_path / "adobe.png")
    out = tmp_path / "out.png"
    done = cli("compress", "-i", src, "-o", out, "-k", "256")
    assert done.returncode == 0, done.stderr
    assert "converted from ICC profile" in done.stdout
    with PILImage.open(out) as im:
        assert im.mode == "P"
        assert "icc_profile" not in im.info
        decoded = np.asarray(im.convert("RGB"))
    assert chunk_types(out)[:3] == [b"IHDR", b"sRGB", b"PLTE"]
    assert mean_delta_e(srgb_photo, decoded) < 2.0


def chunk_types(path: Path) -> list[bytes]:
    data = Path(path).read_bytes()
    pos, kinds = 8, []
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kinds.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return kinds


def test_srgb_profile_is_left_alone(tmp_path, srgb_photo):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = tmp_path / "srgb.png"
    PILImage.fromarray(srgb_photo).save(path, icc_profile=srgb)
    image = read_image(path)
    np.testing.assert_array_equal(image.rgb, srgb_photo)
    assert not image.notes


@pytest.mark.parametrize("profile", [b"not a profile at all" * 8, adobe_rgb_profile()[:200]])
def test_broken_profile_is_a_note_not_a_failure(tmp_path, srgb_photo, profile):
    path = tmp_path / "broken.png"
    PILImage.fromarray(srgb_photo).save(path, icc_profile=profile)
    image = read_image(path)
    np.testing.assert_array_equal(image.rgb, srgb_photo)  # taken as sRGB
    assert any("ICC profile not usable" in note for note in image.notes)


def test_profile_for_another_color_space_is_a_note(tmp_path):
    cmyk = PILImage.new("CMYK", (8, 8), (0, 255, 255, 0))  # red ink
    path = tmp_path / "cmyk.jpg"
    cmyk.save(path, icc_profile=adobe_rgb_profile())
    image = read_image(path)
    assert any("is for RGB, not CMYK" in note for note in image.notes)
    assert image.rgb[..., 0].mean() > 200 and image.rgb[..., 1].mean() < 60


def test_transparency_survives_the_conversion(tmp_path, srgb_photo):
    rgba = np.dstack(
        [srgb_photo, np.tile(np.arange(srgb_photo.shape[1], dtype=np.uint8), (160, 1))]
    )
    adobe = adobe_rgb_profile()
    path = tmp_path / "alpha.png"
    PILImage.fromarray(rgba, "RGBA").save(path, icc_profile=adobe)
    image = read_image(path)
    np.testing.assert_array_equal(image.alpha, rgba[..., 3])
    assert any("converted from ICC profile" in note for note in image.notes)


# --- 16-bit precision ---------------------------------------------------------------------


def ramp16(width: int = 1024, height: int = 8) -> np.ndarray:
    """A smooth 16-bit ramp that crosses only a few 8-bit levels: 100.0 to 103.0 in 8-bit units."""
    levels = np.linspace(100 * 257, 103 * 257, width)
    row = np.round(levels).astype(np.uint16)
    rgb = np.stack([row, row // 2 + 20000, 60000 - row // 3], axis=-1)
    return np.ascontiguousarray(np.broadcast_to(rgb, (height, width, 3)))


def test_16_bit_tiff_keeps_full_precision(tmp_path):
    tifffile = pytest.importorskip("tifffile")  # a dependency of scikit-image
    ramp = ramp16()
    for compression in (None, "zlib"):
        path = tmp_path / f"ramp_{compression}.tif"
        tifffile.imwrite(path, ramp, photometric="rgb", compression=compression)
        image = read_image(path)
        np.testing.assert_array_equal(image.rgb16, ramp)
        expected8 = np.floor(ramp.astype(np.float64) * 255 / 65535 + 0.5).astype(np.uint8)
        np.testing.assert_array_equal(image.rgb, expected8)


def test_16_bit_file_of_8_bit_data_keeps_no_second_copy(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    rgb8 = np.random.default_rng(1).integers(0, 256, (8, 9, 3), dtype=np.uint8)
    tif = tmp_path / "wide8.tif"
    tifffile.imwrite(tif, rgb8.astype(np.uint16) * 257, photometric="rgb")
    image = read_image(tif)
    assert image.rgb16 is None
    np.testing.assert_array_equal(image.rgb, rgb8)


# --- the decompression-bomb limit ---------------------------------------------------------


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_max_pixels_raises_the_limit_for_one_read(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    PILImage.new("RGB", (40, 40), (10, 20, 30)).save(path)
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(InputError, match=r"decompression bomb.*--max-pixels"):
        read_image(path)
    image = read_image(path, max_pixels=1600)
    assert image.pixels == 1600
    assert PILImage.MAX_IMAGE_PIXELS == 1000  # Pillow's own limit is back as it was


def test_cli_refusal_names_the_option(tmp_path, cli):
    path = tmp_path / "img.png"
    PILImage.new("RGB", (30, 20), (200, 20, 30)).save(path)
    done = cli("compress", "-i", path, "-o", tmp_path / "out.png", "--max-pixels", "500")
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "--max-pixels" in done.stderr and "600 pixels" in done.stderr
    assert not (tmp_path / "out.png").exists()
    done = cli("compress", "-i", path, "-o", tmp_path / "out.png", "--max-pixels", "600")
    assert done.returncode == 0, done.stderr
    done = cli("compress", "-i", path, "-o", tmp_path / "x.png", "--max-pixels", "0")
    assert done.returncode == 2 and "--max-pixels" in done.stderr


def write_png16(path: Path, rgb: np.ndarray, icc: bytes | None = None) -> Path:
    """A 16-bit RGB PNG, written from the specification (Pillow writes no such files)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    h, w = rgb.shape[:2]
    rows = rgb.astype(">u2").reshape(h, w * 6 // 2).view(np.uint8).reshape(h, w * 6)
    raw = b"".join(b"\0" + row.tobytes() for row in rows)
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    iccp = chunk(b"iCCP", b"profile\0\0" + zlib.compress(icc)) if icc else b""
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + iccp
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    return path


def local_means(path: Path, window: int = 32) -> np.ndarray:
    """Red of the middle row, averaged over `window` pixels: what an eye at a distance sees."""
    with PILImage.open(path) as im:
        red = np.asarray(im.convert("RGB"))[..., 0].astype(np.float64)
    row = red[red.shape[0] // 2]
    return np.convolve(row, np.ones(window) / window, mode="valid")


def test_16_bit_gradient_keeps_more_levels_than_8_bit_input(tmp_path, cli):
    ramp = ramp16(1024, 16)
    ramp[..., 1:] = (30000, 50000)  # only red changes: the 8-bit version has four colors
    wide = write_png16(tmp_path / "ramp16.png", ramp)
    np.testing.assert_array_equal(read_image(wide).rgb16, ramp)
    narrow = tmp_path / "ramp8.png"
    PILImage.fromarray(read_image(wide).rgb).save(narrow)  # the same ramp rounded to 8 bits
    truth = np.convolve(ramp[0, :, 0] / 257.0, np.ones(32) / 32, mode="valid")
    errors, flat = {}, {}
    for name, src in (("16", wide), ("8", narrow)):
        out = tmp_path / f"out{name}.png"
        done = cli("compress", "-i", src, "-o", out, "-k", "4", "--dither")
        assert done.returncode == 0, done.stderr
        means = local_means(out)
        errors[name] = float(np.abs(means - truth).mean())
        # Windows whose mean is a whole level: inside a flat step of the output.
        flat[name] = float(np.isclose(means, np.round(means)).mean())
    # The 8-bit input is flat steps that dithering leaves alone; the 16-bit one is dithered
    # between them, so its local means follow the ramp between the levels.
    assert flat["8"] > 0.8 and flat["16"] < 0.2, flat
    assert errors["16"] < 0.5 * errors["8"], errors


def test_16_bit_adobe_rgb_is_converted_at_16_bits(tmp_path):
    """Matrix/TRC profiles are converted in floats, so 16-bit input keeps its precision."""
    rng = np.random.default_rng(4)
    narrow = rng.integers(0, 256, (24, 40, 3)).astype(np.uint8)
    wide = narrow.astype(np.uint16) * 257  # what LittleCMS sees at 8 bits, exactly
    wide[0] = ramp16(40, 1)[0]
    narrow[0] = np.floor(wide[0] / 257 + 0.5)
    path = write_png16(tmp_path / "adobe16.png", wide, icc=adobe_rgb_profile())
    image = read_image(path)
    assert image.rgb16 is not None
    assert any("converted from ICC profile" in note for note in image.notes)
    # LittleCMS on the 8-bit rounding of the same pixels, as the reference.
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    adobe = ImageCms.ImageCmsProfile(io.BytesIO(adobe_rgb_profile()))
    reference = np.asarray(ImageCms.profileToProfile(PILImage.fromarray(narrow), adobe, srgb))
    assert np.abs(image.rgb[1:].astype(int) - reference[1:]).max() <= 1
    assert np.abs(image.rgb[1:].astype(int) - reference[1:]).mean() < 0.1
    # The ramp's first row crosses three 8-bit levels but keeps its many 16-bit steps.
    assert len(np.unique(image.rgb16[0, :, 0])) > 3 * len(np.unique(image.rgb[0, :, 0]))


def test_parametric_tone_curve_is_the_srgb_curve():
    from kmc_tui.read import _matrix_shaper

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    _, curves = _matrix_shaper(profile)
    x = np.linspace(0, 1, 1001)
    truth = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    for curve in curves:
        assert np.abs(curve(x) - truth).max() < 1e-3
