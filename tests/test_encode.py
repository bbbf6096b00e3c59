"""PNG size levels give the same pixels; metadata is kept only when asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from kmc_tui import as_image, quantize
from kmc_tui.encode import encode
from kmc_tui.errors import ParameterError


def decoded(data: bytes) -> np.ndarray:
    import io

    with PILImage.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGBA"))


@pytest.mark.parametrize("k", [2, 4, 16, 64, 256])
@pytest.mark.parametrize("name", ["chelsea.png", "dice.png"])
def test_every_level_decodes_to_the_same_pixels(samples, name, k):
    with PILImage.open(samples / name) as im:
        image = as_image(np.asarray(im))
    q = quantize(image, k, plugin="mediancut" if image.alpha is None else "octree")
    expected = q.rgba()
    sizes = []
    for level in (0, 1, 2):
        data = encode(q, "png", optimize=level)
        np.testing.assert_array_equal(decoded(data), expected)
        sizes.append(len(data))
    assert sizes[0] >= sizes[1] >= sizes[2]


def test_odd_widths_pack_sub_byte_rows_right():
    rng = np.random.default_rng(2)
    for k, width in ((2, 13), (4, 7), (16, 5)):
        rgb = rng.integers(0, k, (9, width, 1)).repeat(3, axis=2).astype(np.uint8) * 17
        q = quantize(as_image(rgb), k, plugin="mediancut")
        np.testing.assert_array_equal(decoded(encode(q, "png"))[..., :3], q.rgb())


@pytest.mark.parametrize("level", [3, -1, "2", True, None])
def test_unknown_level_is_refused(level):
    q = quantize(as_image(np.zeros((2, 2, 3), np.uint8)), 2)
    with pytest.raises(ParameterError, match="optimize"):
        encode(q, "png", optimize=level)


def exif_photo(path: Path) -> Path:
    """A JPEG turned by EXIF orientation 6, with XMP and a comment."""
    img = PILImage.new("RGB", (40, 20), (200, 30, 30))
    img.paste((30, 30, 200), (0, 0, 10, 20))
    exif = PILImage.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "kmc-tui test camera"
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    img.save(path, exif=exif.tobytes(), xmp=xmp, comment=b"hello")
    return path


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_keep_metadata_keeps_exif_with_orientation_reset(tmp_path, cli, suffix):
    src = exif_photo(tmp_path / "photo.jpg")
    kept, plain = tmp_path / f"kept{suffix}", tmp_path / f"plain{suffix}"
    assert cli("compress", "-i", src, "-o", kept, "-k", "4", "--keep-metadata").returncode == 0
    assert cli("compress", "-i", src, "-o", plain, "-k", "4").returncode == 0
    with PILImage.open(kept) as im:
        exif = im.getexif()
        assert exif.get(0x010F) == "kmc-tui test camera"
        assert exif.get(0x0112) == 1  # the pixels are upright already
        assert im.size == (20, 40)
        xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
        assert xmp and b"xmpmeta" in (xmp if isinstance(xmp, bytes) else xmp.encode())
    with PILImage.open(plain) as im:
        assert not im.getexif() and not im.info.get("xmp")
        assert im.size == (20, 40)
    assert plain.stat().st_size < kept.stat().st_size


def test_keep_metadata_keeps_png_text_and_gif_comment(tmp_path, cli):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "Café at night")
    info.add_text("Author", "someone")
    src = tmp_path / "text.png"
    PILImage.new("RGB", (8, 8), (1, 2, 3)).save(src, pnginfo=info)
    out = tmp_path / "out.png"
    assert cli("compress", "-i", src, "-o", out, "--keep-metadata").returncode == 0
    with PILImage.open(out) as im:
        assert im.text == {"Title": "Café at night", "Author": "someone"}
    gif = tmp_path / "out.gif"
    src_jpg = exif_photo(tmp_path / "photo.jpg")
    assert cli("compress", "-i", src_jpg, "-o", gif, "--keep-metadata").returncode == 0
    with PILImage.open(gif) as im:
        assert im.info.get("comment") == b"hello"
