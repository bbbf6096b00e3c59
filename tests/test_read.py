"""Reading every kind of input, checked against an independent decoding.

The reference is Pillow used directly (no imageio, no kmc_tui), or, where Pillow itself cannot
give the truth (16-bit color, a 2/4-bit gray tRNS key), the small PNG decoder below, written
from the PNG specification.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageOps

from kmc_tui.errors import InputError
from kmc_tui.read import read_image

DATA = Path(__file__).resolve().parent / "data"
SUITE = DATA / "pngsuite"
PIL_DIR = DATA / "pillow"


# --- independent references ---------------------------------------------------------------


def pillow_rgba(path: Path) -> np.ndarray:
    """Pillow's own upright, first-frame RGBA (8-bit kinds only)."""
    with PILImage.open(path) as im:
        im.seek(0)
        return np.asarray(ImageOps.exif_transpose(im).convert("RGBA"))


def scale16(values: np.ndarray) -> np.ndarray:
    """16 -> 8 bits by the definition: round(v * 255 / 65535)."""
    return np.floor(values.astype(np.float64) * 255.0 / 65535.0 + 0.5).astype(np.uint8)


def decode_png(path: Path) -> tuple[np.ndarray, dict]:
    """Decode a non-interlaced PNG from the specification: samples (H, W, C) at their bit depth.

    Returns the samples (uint16) and the header plus tRNS. Written for the tests, independent of
    Pillow and kmc_tui; slow, so only for the small PngSuite files.
    """
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, info = 8, b"", {}
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert interlace == 0
            info.update(width=w, height=h, depth=depth, ctype=ctype)
        elif kind == b"tRNS":
            info["trns"] = [int.from_bytes(body[i : i + 2], "big") for i in range(0, len(body), 2)]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    w, h, depth, ctype = info["width"], info["height"], info["depth"], info["ctype"]
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    bits = depth * channels
    bpp = max(1, bits // 8)
    stride = (w * bits + 7) // 8
    raw = zlib.decompress(idat)
    rows, prev = [], bytearray(stride)
    for y in range(h):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                pred = a
            elif ftype == 2:
                pred = b
            elif ftype == 3:
                pred = (a + b) // 2
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            else:
                pred = 0
            line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    buf = np.frombuffer(b"".join(rows), np.uint8).reshape(h, stride)
    if depth == 16:
        samples = (buf[:, 0::2].astype(np.uint16) << 8) | buf[:, 1::2]
    elif depth == 8:
        samples = buf.astype(np.uint16)
    else:
        samples = np.unpackbits(buf, axis=1).reshape(h, -1, depth)
        samples = (samples * (1 << np.arange(depth - 1, -1, -1))).sum(-1).astype(np.uint16)
    return samples[:, : w * channels].reshape(h, w, channels), info


def to8(samples: np.ndarray, depth: int) -> np.ndarray:
    if depth == 16:
        return scale16(samples)
    return (samples.astype(np.uint32) * 255 // ((1 << depth) - 1)).astype(np.uint8)


# --- bit depths and color types ------------------------------------------------------------


@pytest.mark.parametrize("name", ["basn0g01", "basn0g02", "basn0g04", "basn0g08", "tp0n0g08"])
def test_gray_of_every_depth_reads_as_gray(name):
    image = read_image(SUITE / f"{name}.png")
    ref = pillow_rgba(SUITE / f"{name}.png")
    assert image.alpha is None
    assert image.is_gray
    np.testing.assert_array_equal(image.rgb, ref[..., :3])


def test_one_bit_is_black_and_white_not_0_and_1():
    image = read_image(SUITE / "basn0g01.png")
    assert set(np.unique(image.rgb)) == {0, 255}


@pytest.mark.parametrize("name", ["basn0g16", "basi0g16", "g10n0g16", "oi1n0g16"])
def test_16_bit_gray_is_scaled_not_truncated(name):
    path = SUITE / f"{name}.png"
    with PILImage.open(path) as im:
        raw = np.asarray(im)  # Pillow's I;16: the file's own 16-bit values
        clipped = np.asarray(im.convert("L"))  # what a naive conversion gives
    assert raw.dtype == np.uint16 and raw.max() > 255
    image = read_image(path)
    np.testing.assert_array_equal(image.rgb[..., 0], scale16(raw))
    assert image.is_gray
    # The naive conversion is visibly wrong on these files, so the check above means something.
    assert np.abs(clipped.astype(int) - scale16(raw)).max() > 64
    if np.any(raw % 257):  # more than 8 bits of information: kept
        np.testing.assert_array_equal(image.rgb16, np.repeat(raw[..., None], 3, axis=2))
    else:
        assert image.rgb16 is None


@pytest.mark.parametrize(
    "name", ["basn2c16", "basn6a16", "basn4a16", "tbbn2c16", "tbgn2c16", "oi9n2c16"]
)
def test_16_bit_color_and_alpha_scaled_exactly(name):
    path = SUITE / f"{name}.png"
    samples, info = decode_png(path)
    image = read_image(path)
    ctype = info["ctype"]
    color = samples[..., :3] if ctype in (2, 6) else np.repeat(samples[..., :1], 3, axis=2)
    np.testing.assert_array_equal(image.rgb, scale16(color))
    np.testing.assert_array_equal(image.rgb16, color)  # the full precision, kept as well
    if ctype in (4, 6):
        np.testing.assert_array_equal(image.alpha, scale16(samples[..., -1]))
    elif "trns" in info:  # 16-bit color key
        hidden = np.all(samples == np.array(info["trns"], np.uint16), axis=-1)
        assert hidden.any()
        np.testing.assert_array_equal(image.alpha, np.where(hidden, 0, 255))
    else:
        assert image.alpha is None


def test_16_bit_values_that_truncation_would_get_wrong():
    """Keeping the high byte floors; scaling rounds. Find pixels where the two differ."""
    samples, _ = decode_png(SUITE / "basn6a16.png")
    floor = (samples >> 8).astype(np.uint8)
    assert (floor != scale16(samples)).any()
    image = read_image(SUITE / "basn6a16.png")
    np.testing.assert_array_equal(image.rgb, scale16(samples[..., :3]))


def test_interlaced_16_bit_equals_plain():
    plain, interlaced = read_image(SUITE / "basn6a16.png"), read_image(SUITE / "basi6a16.png")
    np.testing.assert_array_equal(plain.rgb, interlaced.rgb)
    np.testing.assert_array_equal(plain.alpha, interlaced.alpha)


@pytest.mark.parametrize("name", ["basn2c08", "basi2c08", "f04n2c08", "z09n2c08"])
def test_rgb(name):
    image = read_image(SUITE / f"{name}.png")
    ref = pillow_rgba(SUITE / f"{name}.png")
    assert image.alpha is None
    np.testing.assert_array_equal(image.rgb, ref[..., :3])


@pytest.mark.parametrize(
    "path",
    [
        SUITE / "basn6a08.png",
        SUITE / "basi6a08.png",
        SUITE / "basn4a08.png",
        PIL_DIR / "pil123rgba.png",
        PIL_DIR / "transparent.png",
    ],
)
def test_rgba_and_gray_alpha(path):
    image = read_image(path)
    ref = pillow_rgba(path)
    np.testing.assert_array_equal(image.rgba(), ref)
    assert 0 < (ref[..., 3] < 255).mean() < 1


def test_gray_alpha_stays_gray():
    image = read_image(SUITE / "basn4a08.png")
    assert image.is_gray and image.alpha is not None


# --- transparency from tRNS ----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        SUITE / "tbbn3p08.png",
        SUITE / "tbwn3p08.png",
        SUITE / "tp1n3p08.png",
        SUITE / "tm3n3p02.png",
        PIL_DIR / "p_trns_single.png",
        PIL_DIR / "pil123p.png",
        PIL_DIR / "tRNS_null_1x1.png",
    ],
)
def test_palette_trns_keeps_its_transparency(path):
    image = read_image(path)
    ref = pillow_rgba(path)
    assert image.alpha is not None
    np.testing.assert_array_equal(image.alpha, ref[..., 3])
    visible = ref[..., 3] > 0
    np.testing.assert_array_equal(image.rgb[visible], ref[..., :3][visible])


def test_palette_trns_partial_levels_kept():
    image = read_image(SUITE / "tm3n3p02.png")  # palette entries with several alpha levels
    levels = set(np.unique(image.alpha))
    assert len(levels - {0, 255}) >= 1


@pytest.mark.parametrize(
    "path",
    [
        PIL_DIR / "l_trns.png",
        PIL_DIR / "1_trns.png",
        PIL_DIR / "rgb_trns.png",
        SUITE / "tbrn2c08.png",
    ],
)
def test_8_bit_color_key_trns(path):
    image = read_image(path)
    ref = pillow_rgba(path)
    assert (ref[..., 3] == 0).any()
    np.testing.assert_array_equal(image.alpha, ref[..., 3])


@pytest.mark.parametrize("name", ["tbbn0g04", "tbwn0g16"])
def test_gray_key_trns_at_4_and_16_bits(name):
    """Pillow leaves these opaque (it compares the 4-bit key with 8-bit pixels, and has no
    alpha for I;16); the PNG's key says which pixels are transparent."""
    samples, info = decode_png(SUITE / f"{name}.png")
    hidden = samples[..., 0] == info["trns"][0]
    assert hidden.any() and not hidden.all()
    image = read_image(SUITE / f"{name}.png")
    np.testing.assert_array_equal(image.alpha, np.where(hidden, 0, 255))
    np.testing.assert_array_equal(image.rgb[..., 0], to8(samples[..., 0], info["depth"]))


def test_i16_with_trns_key():
    path = PIL_DIR / "i_trns.png"
    with PILImage.open(path) as im:
        raw, key = np.asarray(im), im.info["transparency"]
    image = read_image(path)
    np.testing.assert_array_equal(image.alpha, np.where(raw == key, 0, 255))
    np.testing.assert_array_equal(image.rgb[..., 0], scale16(raw))


# --- CMYK, EXIF orientation, animation -----------------------------------------------------


def test_cmyk_jpeg_is_converted_not_taken_for_rgba():
    path = PIL_DIR / "pil_sample_cmyk.jpg"
    image = read_image(path)
    with PILImage.open(path) as im:
        assert im.mode == "CMYK"
        ref = np.asarray(im.convert("RGB"))
        cmyk = np.asarray(im)
    assert image.alpha is None  # K is not alpha
    np.testing.assert_array_equal(image.rgb, ref)
    # The same picture saved as RGB by its authors: converted CMYK is close to it, raw is not.
    rgb_version = pillow_rgba(PIL_DIR / "pil_sample_rgb.jpg")[..., :3].astype(int)
    assert np.abs(image.rgb.astype(int) - rgb_version).mean() < 10
    assert np.abs(cmyk[..., :3].astype(int) - rgb_version).mean() > 100
    assert any("CMYK" in note for note in image.notes)


@pytest.mark.parametrize("n", range(2, 9))
def test_exif_orientation_applied(n):
    path = PIL_DIR / f"hopper_orientation_{n}.jpg"
    with PILImage.open(path) as im:
        assert im.getexif().get(0x0112) == n
        stored = np.asarray(im.convert("RGB")).astype(int)
        upright = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    image = read_image(path)
    np.testing.assert_array_equal(image.rgb, upright)
    # And upright means: like the plain hopper.jpg, which the stored pixels are not.
    plain = pillow_rgba(PIL_DIR / "hopper.jpg")[..., :3].astype(int)
    assert np.abs(image.rgb.astype(int) - plain).mean() < 8
    assert np.abs(stored - plain).mean() > 40


def test_exif_orientation_through_cli_gives_the_same_upright_output(tmp_path, cli):
    names = ["hopper", *(f"hopper_orientation_{i}" for i in range(2, 9))]
    inputs = [arg for name in names for arg in ("-i", PIL_DIR / f"{name}.jpg")]
    done = cli("compress", *inputs, "-o", tmp_path, "-k", "8")
    assert done.returncode == 0, done.stderr
    outputs = [
        np.asarray(PILImage.open(tmp_path / f"{name}.png").convert("RGB")).astype(int)
        for name in names
    ]
    first = outputs[0]
    for other in outputs[1:]:
        assert other.shape == first.shape
        assert np.abs(other - first).mean() < 12  # 8 colors of slightly different JPEGs


@pytest.mark.parametrize(
    "path,frames",
    [
        (PIL_DIR / "dispose_bgnd.gif", 5),
        (PIL_DIR / "iss634.gif", None),
        (PIL_DIR / "apng" / "delay.png", 5),
    ],
)
def test_animation_first_frame_and_user_told(path, frames):
    with PILImage.open(path) as im:
        n_frames = im.n_frames
        first = np.asarray(im.convert("RGBA"))
        im.seek(1)
        second = np.asarray(im.convert("RGBA"))
    assert n_frames > 1 and (frames is None or n_frames == frames)
    assert not np.array_equal(first, second)
    image = read_image(path)
    np.testing.assert_array_equal(image.rgba(), first)
    assert any(f"first of {n_frames} frames" in note for note in image.notes)


def test_animated_gif_note_reaches_the_cli(tmp_path, cli):
    # JPEG holds one frame: the note says which; PNG (APNG) keeps them all and says so.
    for ext, note in ((".jpg", "animated: first of 5 frames used"), (".png", "animated: 5 frames")):
        out = tmp_path / f"out{ext}"
        done = cli("compress", "-i", PIL_DIR / "dispose_bgnd.gif", "-o", out, "-k", "4")
        assert done.returncode == 0, done.stderr
        assert f"note: {note}" in done.stdout


# --- refused -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        PIL_DIR / "decompression_bomb.gif",
        PIL_DIR / "decompression_bomb.ico",
        PIL_DIR / "bmp" / "b" / "reallybig.bmp",
    ],
)
def test_decompression_bombs_refused(path):
    limit = PILImage.MAX_IMAGE_PIXELS
    with pytest.raises(InputError, match="decompression bomb") as info:
        read_image(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert PILImage.MAX_IMAGE_PIXELS == limit  # Pillow's limit kept, not lifted


def test_bomb_in_second_frame_is_never_decoded():
    """decompression_bomb_extents.gif: its first frame is fine, its second a bomb."""
    path = PIL_DIR / "decompression_bomb_extents.gif"
    with PILImage.open(path) as im:
        first = np.asarray(im.convert("RGBA"))
        with pytest.raises(PILImage.DecompressionBombError):
            im.seek(1)
            im.load()
    image = read_image(path)
    np.testing.assert_array_equal(image.rgba(), first)
    assert any("first of 2 frames" in note for note in image.notes)


def test_unreadable_later_frame_is_named_in_the_cli_output(tmp_path, cli):
    # The GIF says 2 frames; the second is a bomb. The output animates what could be read and
    # the notes say what was dropped, with the frame count as written.
    out = tmp_path / "out.gif"
    done = cli("compress", "-i", PIL_DIR / "decompression_bomb_extents.gif", "-o", out, "-k", "4")
    assert done.returncode == 0, done.stderr
    assert "note: animated: 1 frame, one shared palette" in done.stdout
    assert "note: frame 2 not read (" in done.stdout and "): 1 kept" in done.stdout
    with PILImage.open(out) as im:
        assert getattr(im, "n_frames", 1) == 1


def test_png_decompression_dos_refused():
    with pytest.raises(InputError, match="cannot read image"):
        read_image(PIL_DIR / "png_decompression_dos.png")


def test_bad_idat_crc_refused_although_pillow_decodes_it():
    path = SUITE / "xcsn0g01.png"
    with PILImage.open(path) as im:
        im.load()  # Pillow does not check IDAT's CRC
    with pytest.raises(InputError, match="bad CRC in IDAT"):
        read_image(path)


@pytest.mark.parametrize("path", sorted(SUITE.glob("x*.png")), ids=lambda p: p.name)
def test_every_corrupt_pngsuite_file_refused(path):
    with pytest.raises(InputError) as info:
        read_image(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_png_without_its_first_byte_refused():
    with pytest.raises(InputError, match="not an image"):
        read_image(PIL_DIR / "pngtest_bad.png.bin")


# --- what reading feeds through: alpha and gray survive quantization (real CLI) ------------


def output_rgba(path: Path) -> np.ndarray:
    with PILImage.open(path) as im:
        assert im.format == "PNG" and im.mode == "P"
        return np.asarray(im.convert("RGBA"))


ALPHA_FILES = [
    PIL_DIR / "pil123rgba.png",
    PIL_DIR / "transparent.png",
    SUITE / "basn6a08.png",
    SUITE / "basn4a08.png",
]


def test_alpha_survives_kmeans(tmp_path, cli):
    inputs = [arg for path in ALPHA_FILES for arg in ("-i", path)]
    done = cli("compress", *inputs, "-o", tmp_path, "-k", "64")
    assert done.returncode == 0, done.stderr
    for path in ALPHA_FILES:
        src = pillow_rgba(path)[..., 3].astype(int)
        out = output_rgba(tmp_path / f"{path.stem}.png")[..., 3].astype(int)
        # Fully transparent stays fully transparent; what was visible stays visible.
        np.testing.assert_array_equal(out[src == 0], 0)
        assert (out[src > 0] > 0).all()
        # Partial transparency keeps its level: far closer than reducing it to on/off would.
        partial = (src > 0) & (src < 255)
        assert partial.sum() > 100
        on_off_error = np.abs(src - np.where(src >= 128, 255, 0))[partial].mean()
        error = np.abs(src - out)[partial].mean()
        assert error < on_off_error / 3, (path.name, error, on_off_error)


def test_few_alpha_levels_round_trip_exactly(tmp_path, cli):
    """tm3n3p02: a palette of 4 colors with 4 alpha levels; k=4 keeps every one of them."""
    path = SUITE / "tm3n3p02.png"
    src = pillow_rgba(path)
    assert len(np.unique(src.reshape(-1, 4), axis=0)) == 4
    out = tmp_path / "out.png"
    done = cli("compress", "-i", path, "-o", out, "-k", "4")
    assert done.returncode == 0, done.stderr
    got = output_rgba(out)
    np.testing.assert_array_equal(got[..., 3], src[..., 3])
    visible = src[..., 3] > 0
    np.testing.assert_array_equal(got[..., :3][visible], src[..., :3][visible])


NO_ALPHA_PLUGIN = """
import numpy as np
from kmc_tui.registry import Quantizer, QuantizerOutput

class MostCommon(Quantizer):
    name = "mostcommon"
    description = "The k most common colors (test plugin without alpha support)"

    def quantize(self, hist, k, *, seed=0):
        assert hist.colors.shape[1] == 3  # no alpha for plugins that did not ask for it
        return QuantizerOutput(hist.colors[np.argsort(-hist.counts)[:k]])
"""


def test_plugin_without_alpha_support_gets_on_off_alpha_and_a_note(tmp_path, cli):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "mostcommon.py").write_text(NO_ALPHA_PLUGIN)
    path = PIL_DIR / "pil123rgba.png"
    out = tmp_path / "out.png"
    done = cli(
        "compress",
        "-i",
        path,
        "-o",
        out,
        "-k",
        "16",
        "--plugin",
        "mostcommon",
        "--plugin-dir",
        plugins,
    )
    assert done.returncode == 0, done.stderr
    assert "no alpha support: transparency reduced to on/off" in done.stdout
    src = pillow_rgba(path)[..., 3]
    got = output_rgba(out)[..., 3]
    np.testing.assert_array_equal(got, np.where(src >= 128, 255, 0))


GRAY_FILES = [
    SUITE / "basn0g08.png",
    SUITE / "basn0g16.png",
    SUITE / "basn4a08.png",
    PIL_DIR / "hopper_gray.jpg",
    PIL_DIR / "l_trns.png",
]


def test_gray_stays_gray(tmp_path, cli):
    inputs = [arg for path in GRAY_FILES for arg in ("-i", path)]
    done = cli("compress", *inputs, "-o", tmp_path, "-k", "6")
    assert done.returncode == 0, done.stderr
    for path in GRAY_FILES:
        with PILImage.open(tmp_path / f"{path.stem}.png") as im:
            used = [index for _, index in im.getcolors()]
            palette = np.asarray(im.getpalette()).reshape(-1, 3)[used]
        assert len(palette) <= 6
        assert (palette[:, 0] == palette[:, 1]).all() and (palette[:, 1] == palette[:, 2]).all(), (
            path.name,
            palette,
        )
