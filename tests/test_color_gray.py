"""Gray images with an embedded gray ICC profile are read as the sRGB grays they stand for.

The profiles are written by tests/icc_support.py (gamma 1.8 as "Gray Gamma 1.8", a table like
Photoshop's "Dot Gain 20%", and a lookup-table profile); LittleCMS (Pillow's ImageCms) is the
reference for 8-bit pixels, the profile's curve computed in floats for 16-bit ones.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from icc_support import adobe_rgb_profile, gray_lut_profile, gray_profile
from PIL import Image as PILImage
from PIL import ImageCms

from kmc_tui import read_image

DOT_GAIN_TABLE = [round(65535 * x**1.6) for x in np.linspace(0.0, 1.0, 256)]
#: A gamma is stored in 1/256ths.
GAMMA_18 = round(1.8 * 256) / 256
#: Each profile's gray curve (0..1 to linear light), as the profile states it.
CURVES = {
    "gamma18": lambda x: x**GAMMA_18,
    "dotgain": lambda x: np.interp(x, np.linspace(0.0, 1.0, 256), np.array(DOT_GAIN_TABLE) / 65535),
    "lut": lambda x: x**1.8,
}
PROFILES = {
    "gamma18": gray_profile("Gray Gamma 1.8", 1.8),
    "dotgain": gray_profile("Dot Gain 20% (test)", DOT_GAIN_TABLE, device_class=b"prtr"),
    "lut": gray_lut_profile("Gray lookup table 1.8", 1.8),
}


def gray_photo() -> np.ndarray:
    """A gray ramp with texture: every level, smooth areas and edges."""
    rng = np.random.default_rng(7)
    ramp = np.tile(np.arange(256, dtype=np.uint8), (48, 1))
    noise = rng.integers(-12, 13, ramp.shape)
    return np.clip(ramp.astype(int) + noise * (np.arange(48)[:, None] > 24), 0, 255).astype(
        np.uint8
    )


def srgb_levels(gray: np.ndarray, curve, top: int = 255) -> np.ndarray:
    """`gray` (0..top) through a profile's `curve` to sRGB levels (0..top), computed in floats."""
    linear = curve(gray / top)
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.round(srgb * top).astype(int)


def littlecms_srgb(gray: np.ndarray, icc: bytes) -> np.ndarray:
    """What LittleCMS makes of 8-bit `gray` under `icc`, as sRGB (H, W, 3)."""
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    transform = ImageCms.buildTransform(source, ImageCms.createProfile("sRGB"), "L", "RGB")
    return np.asarray(ImageCms.applyTransform(PILImage.fromarray(gray, "L"), transform))


def save(gray: np.ndarray, path: Path, icc: bytes | None, mode: str = "L") -> Path:
    extra = {"icc_profile": icc} if icc else {}
    if path.suffix == ".jpg":
        extra["quality"] = 95
    PILImage.fromarray(gray, mode).save(path, **extra)
    return path


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
@pytest.mark.parametrize("profile", list(PROFILES))
def test_gray_profile_is_converted_to_srgb_gray(tmp_path, suffix, profile):
    gray = gray_photo()
    icc = PROFILES[profile]
    tagged = save(gray, tmp_path / f"tagged{suffix}", icc)
    plain = save(gray, tmp_path / f"plain{suffix}", None)
    with PILImage.open(tagged) as im:
        decoded = np.asarray(im.convert("L"))  # the file's own gray levels, not converted

    image = read_image(tagged)
    assert image.is_gray
    assert any("converted from ICC profile Gray" in n or "Dot Gain" in n for n in image.notes)
    ours = image.rgb.astype(int)
    assert np.abs(ours - srgb_levels(decoded, CURVES[profile])[..., None]).max() <= 1
    # LittleCMS's own 8-bit transform is up to 2 levels off the exact curve near black.
    difference = np.abs(ours - littlecms_srgb(decoded, icc))
    assert difference.max() <= 2 and difference.mean() < 0.1
    # Without the profile the same levels are taken as sRGB; these curves are flatter than
    # sRGB's, so the converted midtones are visibly lighter.
    unconverted = read_image(plain)
    assert not unconverted.notes
    assert np.mean(image.rgb.astype(int) - unconverted.rgb) > 8


def test_gray_with_alpha_keeps_its_alpha(tmp_path):
    gray = gray_photo()
    alpha = np.tile(np.linspace(0, 255, gray.shape[1]).astype(np.uint8), (gray.shape[0], 1))
    path = save(np.dstack([gray, alpha]), tmp_path / "la.png", PROFILES["gamma18"], "LA")
    image = read_image(path)
    np.testing.assert_array_equal(image.alpha, alpha)
    expected = srgb_levels(gray, CURVES["gamma18"])
    assert np.abs(image.rgb[..., 0].astype(int) - expected).max() <= 1


def test_16_bit_gray_keeps_its_precision(tmp_path):
    # A ramp across three 8-bit levels at the bottom: 8-bit conversion would leave a handful.
    row = np.round(np.linspace(40 * 257, 43 * 257, 1024)).astype(np.uint16)
    gray16 = np.tile(row, (4, 1))
    path = tmp_path / "gray16.png"
    PILImage.fromarray(gray16).save(path, icc_profile=PROFILES["gamma18"])
    with PILImage.open(path) as im:
        assert im.mode.startswith("I;16")

    image = read_image(path)
    assert image.rgb16 is not None
    expected = srgb_levels(gray16, CURVES["gamma18"], 65535)
    for channel in range(3):
        assert np.abs(image.rgb16[..., channel].astype(int) - expected).max() <= 1
    assert len(np.unique(image.rgb16[..., 0])) > 500
    # The 8-bit view agrees with LittleCMS at 8 bits.
    reference8 = littlecms_srgb(np.round(gray16 / 257.0).astype(np.uint8), PROFILES["gamma18"])
    assert np.abs(image.rgb.astype(int) - reference8).max() <= 1


@pytest.mark.parametrize(
    "icc, note",
    [
        (PROFILES["gamma18"][:150], "ICC profile not usable"),
        (b"GRAY" * 60, "ICC profile not usable"),
        (adobe_rgb_profile(), "is for RGB, not GRAY"),
    ],
)
def test_unusable_profile_on_gray_is_a_note_and_the_levels_are_kept(tmp_path, icc, note):
    gray = gray_photo()
    image = read_image(save(gray, tmp_path / "gray.png", icc))
    assert any(note in n for n in image.notes), image.notes
    np.testing.assert_array_equal(image.rgb[..., 0], gray)


def test_gray_profile_on_color_pixels_is_a_note(tmp_path):
    rgb = np.dstack([gray_photo()] * 3)
    rgb[..., 0] //= 2
    path = tmp_path / "rgb.png"
    PILImage.fromarray(rgb).save(path, icc_profile=PROFILES["gamma18"])
    image = read_image(path)
    assert any("is for GRAY, not RGB" in n for n in image.notes), image.notes
    np.testing.assert_array_equal(image.rgb, rgb)


def test_cli_reads_a_tagged_gray_jpeg_as_srgb(tmp_path, cli):
    gray = gray_photo()
    tagged = save(gray, tmp_path / "tagged.jpg", PROFILES["dotgain"])
    out = tmp_path / "out.png"
    proc = cli("compress", "-i", tagged, "-o", out, "-k", "256", "--json")
    assert proc.returncode == 0, proc.stderr
    with PILImage.open(tagged) as im:
        reference = srgb_levels(np.asarray(im.convert("L")), CURVES["dotgain"])
    with PILImage.open(out) as im:
        written = np.asarray(im.convert("L")).astype(int)
    # Up to 256 levels, every one kept: the file holds the converted grays.
    assert np.abs(written - reference).max() <= 1
