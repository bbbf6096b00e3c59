"""A minimal ICC v2 matrix/TRC display profile, written here so the tests ship no profile file.

``adobe_rgb_profile()`` gives Adobe RGB (1998)'s published primaries (adapted to the D50 PCS)
and its 563/256 gamma: what a camera or an editor embeds as "Adobe RGB".
"""

from __future__ import annotations

import struct

#: Adobe RGB (1998) colorants in the D50 profile connection space, as its specification lists.
ADOBE_RGB_COLORANTS = {
    "rXYZ": (0.60974, 0.31111, 0.01947),
    "gXYZ": (0.20528, 0.62567, 0.06087),
    "bXYZ": (0.14919, 0.06322, 0.74457),
}
D50 = (0.9642, 1.0, 0.8249)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(values) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15(v) for v in values)


def _desc(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\0"
    return (
        b"desc\0\0\0\0"
        + struct.pack(">I", len(ascii_))
        + ascii_
        + b"\0" * 8  # no Unicode description
        + b"\0\0\0"  # no ScriptCode description
        + b"\0" * 67
    )


def _curve(gamma_or_table) -> bytes:
    """A 'curv' tag: one gamma (u8Fixed8) or a table of 16-bit values."""
    if isinstance(gamma_or_table, float | int):
        return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma_or_table * 256)) + b"\0\0"
    table = list(gamma_or_table)
    return b"curv\0\0\0\0" + struct.pack(f">I{len(table)}H", len(table), *table)


def _profile(device_class: bytes, space: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    """ICC v2 profile bytes: a header for `device_class` and `space` (PCS XYZ), then `tags`."""
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    table, body = [struct.pack(">I", len(tags))], b""
    for sig, data in tags:
        while (offset + len(body)) % 4:
            body += b"\0"
        table.append(sig + struct.pack(">II", offset + len(body), len(data)))
        body += data
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"\0\0\0\0"  # preferred CMM
        + bytes([2, 0x10, 0, 0])  # version 2.1
        + device_class
        + space
        + b"XYZ "
        + struct.pack(">6H", 2026, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\0" * 24  # platform, flags, manufacturer, model, attributes
        + b"\0\0\0\0"  # perceptual intent
        + b"".join(_s15(v) for v in D50)
        + b"\0" * 4  # creator
        + b"\0" * 44  # profile id, reserved
    )
    assert len(header) == 128
    return header + b"".join(table) + body


def matrix_profile(name: str, colorants: dict, gamma: float) -> bytes:
    """ICC v2 RGB display profile bytes: three colorants, one gamma curve for all channels."""
    curve = _curve(gamma)
    tags = [
        (b"desc", _desc(name)),
        (b"cprt", b"text\0\0\0\0" + b"No copyright, test data\0"),
        (b"wtpt", _xyz(D50)),
        *((sig.encode(), _xyz(colorants[sig])) for sig in ("rXYZ", "gXYZ", "bXYZ")),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    return _profile(b"mntr", b"RGB ", tags)


def gray_profile(name: str, curve, *, device_class: bytes = b"mntr") -> bytes:
    """ICC v2 gray profile bytes: one gray tone curve (kTRC), a gamma or a 16-bit table.

    Photoshop embeds such profiles in gray images: "Gray Gamma 1.8" / "2.2" (a gamma, display
    class) and "Dot Gain 20%" (a table, printer class).
    """
    tags = [
        (b"desc", _desc(name)),
        (b"cprt", b"text\0\0\0\0" + b"No copyright, test data\0"),
        (b"wtpt", _xyz(D50)),
        (b"kTRC", _curve(curve)),
    ]
    return _profile(device_class, b"GRAY", tags)


def adobe_rgb_profile() -> bytes:
    return matrix_profile(
        "Adobe RGB (1998) compatible, made by the tests", ADOBE_RGB_COLORANTS, 2.2
    )


def gray_lut_profile(name: str, gamma: float) -> bytes:
    """ICC v2 gray profile whose gray goes to the PCS through a lookup table (A2B0, lut16).

    The gamma sits in the table's input curve (256 entries) and a two-point grid maps gray
    0..1 to the D50 white's XYZ; no kTRC, so a reader must use the table.
    """
    levels = [round(65535 * (i / 255) ** gamma) for i in range(256)]
    white = [round(v * 32768) for v in D50]  # lut16's XYZ: 1.0 is 0x8000
    identity = [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0]
    lut = (
        b"mft2\0\0\0\0"
        + bytes([1, 3, 2, 0])  # 1 input channel, 3 outputs, 2 grid points
        + b"".join(_s15(v) for v in identity)
        + struct.pack(">HH", 256, 2)
        + struct.pack(">256H", *levels)
        + struct.pack(">6H", 0, 0, 0, *white)
        + struct.pack(">6H", 0, 65535, 0, 65535, 0, 65535)
    )
    tags = [(b"desc", _desc(name)), (b"wtpt", _xyz(D50)), (b"A2B0", lut)]
    return _profile(b"mntr", b"GRAY", tags)
