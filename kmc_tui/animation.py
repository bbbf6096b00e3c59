"""Animated GIF, APNG and WebP: every frame quantized, timing kept, written back animated.

Frames are read as full canvases (Pillow applies each frame's disposal and blending), so any
frame can be shown on its own. With one shared palette (the default) the frames are stacked
into one tall image and quantized once: the histogram, the plugin, alpha and dithering are the
same code as for a still image, and the statistics are those of the whole animation.
"""

from __future__ import annotations

import io
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .encode import DEFAULT_OPTIMIZE
from .errors import InputError, ParameterError
from .read import _DECODE_ERRORS, Image, _bomb_message, _describe, as_image

#: Output formats that can hold an animation.
ANIMATED_FORMATS = frozenset({"gif", "png", "webp"})


@dataclass(frozen=True, eq=False)
class Animation:
    """The frames of an animated file and how they are played.

    Attributes
    ----------
    frames : tuple of Image
        Full-canvas frames, in order.
    durations : tuple of int
        Milliseconds each frame is shown.
    loop : int or None
        Times to play (0: forever); None when the file says nothing (played once).
    disposal : tuple of int or None
        Per-frame disposal as the source format numbers it (GIF and APNG), else None.
    format : str
        The decoder's name for the source format.
    """

    frames: tuple[Image, ...]
    durations: tuple[int, ...]
    loop: int | None
    disposal: tuple[int, ...] | None
    format: str

    def stacked(self) -> Image:
        """All frames one above the other, as one image (what a shared palette is made from)."""
        first = self.frames[0]
        rgb = np.concatenate([f.rgb for f in self.frames])
        alpha = None
        if any(f.alpha is not None for f in self.frames):
            alpha = np.concatenate(
                [
                    f.alpha if f.alpha is not None else np.full(f.rgb.shape[:2], 255, np.uint8)
                    for f in self.frames
                ]
            )
        return Image(
            rgb,
            alpha,
            first.path,
            first.file_bytes,
            first.format,
            first.mode,
            frames=len(self.frames),
        )


def _on_canvas(frame: np.ndarray, canvas: tuple[int, int]) -> np.ndarray:
    """`frame` (RGBA) cut or padded (transparent) to the first frame's canvas, as players
    clip a GIF frame that reaches past the logical screen."""
    if frame.shape[:2] == canvas:
        return frame
    out = np.zeros((*canvas, 4), dtype=np.uint8)
    h, w = min(canvas[0], frame.shape[0]), min(canvas[1], frame.shape[1])
    out[:h, :w] = frame[:h, :w]
    return out


def read_animation(path: str | os.PathLike, *, max_pixels: int | None = None) -> Animation:
    """Read every frame of an animated GIF, APNG or WebP as 8-bit sRGB(A) full canvases.

    The pixels of all frames together must stay under the decompression-bomb limit
    (`max_pixels`, default Pillow's), so a long animation cannot exhaust memory.
    """
    from PIL import Image as PILImage

    from .read import read_image

    path = Path(path)
    first = read_image(path, max_pixels=max_pixels)  # checks, and the first frame's notes
    limit = max_pixels if max_pixels is not None else PILImage.MAX_IMAGE_PIXELS
    frames, durations, disposal = [], [], []
    try:
        with PILImage.open(path) as im:
            n = getattr(im, "n_frames", 1)
            if limit and n * im.width * im.height > limit:
                raise InputError(
                    _bomb_message(
                        path,
                        f"{n} frames of {im.width}x{im.height} = {n * im.width * im.height} "
                        f"pixels is over the limit of {limit}",
                    )
                )
            loop = im.info.get("loop")
            canvas = (im.height, im.width)
            for index in range(n):
                try:
                    im.seek(index)
                    im.load()  # WebP sets the frame's duration when it is decoded
                except (PILImage.DecompressionBombError, *_DECODE_ERRORS) as exc:
                    if index == 0:
                        raise
                    # A player shows what it could decode; so do we, and say what was dropped.
                    which = f"frame {n}" if index + 1 == n else f"frames {index + 1}-{n}"
                    dropped = f"{which} not read ({_describe(exc)}): {index} kept"
                    frames[0] = replace(frames[0], notes=(*frames[0].notes, dropped))
                    durations, disposal = durations[:index], disposal[:index]
                    break
                durations.append(int(round(float(im.info.get("duration") or 0))))
                if im.format == "GIF":
                    disposal.append(int(getattr(im, "disposal_method", 0) or 0))
                elif im.format == "PNG":
                    disposal.append(int(im.info.get("disposal", 0) or 0))
                frame = _on_canvas(np.asarray(im.convert("RGBA")), canvas)
                frames.append(
                    as_image(frame, path=path, file_bytes=first.file_bytes, format=first.format)
                )
    except InputError:
        raise
    except PILImage.DecompressionBombError as exc:
        raise InputError(_bomb_message(path, _describe(exc))) from None
    except _DECODE_ERRORS as exc:
        raise InputError(f"{path}: cannot read frame {len(frames) + 1}: {_describe(exc)}") from None
    return Animation(
        tuple(frames),
        tuple(durations),
        None if loop is None else int(loop),
        tuple(disposal) if disposal else None,
        first.format,
    )


def quantize_animation(
    animation: Animation, k: int, *, per_frame_palette: bool = False, **options
) -> list:
    """Quantized frames: one shared palette (one run over all frames) or one per frame.

    `options` are :func:`kmc_tui.quantize.quantize`'s.
    """
    from .quantize import quantize

    if per_frame_palette:
        return [quantize(frame, k, **options) for frame in animation.frames]
    whole = quantize(animation.stacked(), k, **options)
    height = animation.frames[0].height
    return [
        replace(
            whole,
            indices=whole.indices[i * height : (i + 1) * height],
            counts=np.bincount(
                whole.indices[i * height : (i + 1) * height].ravel(), minlength=len(whole.palette)
            ),
            source_pairs=None,
        )
        for i in range(len(animation.frames))
    ]


def encode_animation(
    animation: Animation,
    frames: list,
    format: str,
    *,
    optimize: int = DEFAULT_OPTIMIZE,
    metadata=None,
) -> bytes:
    """The quantized `frames` as an animated GIF, APNG (``png``) or lossless WebP; `metadata`
    (:class:`~kmc_tui.read.Metadata`) where the format holds it, as for a still image."""
    from PIL import Image as PILImage

    from .encode import _pillow_metadata

    fmt = format
    if fmt not in ANIMATED_FORMATS:
        raise ParameterError(f"{fmt} cannot hold an animation")
    if fmt == "png":
        return encode_apng(animation, frames, optimize=optimize, metadata=metadata)
    options: dict = {"save_all": True, "duration": list(animation.durations)}
    if animation.loop is not None:
        options["loop"] = animation.loop
    images = []
    if fmt == "webp":
        for q in frames:
            images.append(PILImage.fromarray(q.rgba() if q.alpha is not None else q.rgb()))
        options.update(lossless=True, quality=100 if optimize >= 2 else 80)
        options.update(_pillow_metadata(metadata, "webp"))
        if animation.loop is None:
            options["loop"] = 1
    else:  # GIF: one transparent entry at most, a local palette where frames differ
        for q in frames:
            indices = q.indices
            transparent = None
            if q.alpha is not None:
                hidden = np.flatnonzero(q.alpha < 128)
                if len(hidden):
                    lut = np.arange(len(q.palette))
                    lut[hidden] = hidden[0]
                    indices, transparent = lut[indices], int(hidden[0])
            img = PILImage.fromarray(np.asarray(indices, np.uint8), "P")
            img.putpalette(q.palette.tobytes(), rawmode="RGB")
            if transparent is not None:
                img.info["transparency"] = transparent
            images.append(img)
        return _gif_bytes(animation, images, _pillow_metadata(metadata, "gif").get("comment"))
    buf = io.BytesIO()
    images[0].save(buf, format=fmt.upper(), append_images=images[1:], **options)
    return buf.getvalue()


def process_animation(
    animation: Animation,
    k: int,
    *,
    format: str,
    per_frame_palette: bool = False,
    optimize: int = DEFAULT_OPTIMIZE,
    metadata=None,
    **options,
):
    """Quantize, encode and measure an animation; the :class:`~kmc_tui.api.Result` of it all.

    The statistics cover every frame; width and height are a frame's.
    """
    from .api import Result
    from .quantize import Quantized
    from .stats import compute_stats

    if per_frame_palette and format == "png":
        raise ParameterError("APNG holds one palette for all frames: use GIF or WebP output")
    started = time.perf_counter()
    frames = quantize_animation(animation, k, per_frame_palette=per_frame_palette, **options)
    quantize_seconds = time.perf_counter() - started
    started = time.perf_counter()
    data = encode_animation(animation, frames, format, optimize=optimize, metadata=metadata)
    encode_seconds = time.perf_counter() - started
    # The whole animation as one quantized image: per-frame palettes side by side.
    first = frames[0]
    if per_frame_palette:
        offsets = np.cumsum([0] + [len(q.palette) for q in frames[:-1]])
        palette = np.concatenate([q.palette for q in frames])
        alpha = None
        if any(q.alpha is not None for q in frames):
            alpha = np.concatenate(
                [
                    q.alpha if q.alpha is not None else np.full(len(q.palette), 255, np.uint8)
                    for q in frames
                ]
            )
    else:
        offsets = np.zeros(len(frames), np.int64)
        palette, alpha = first.palette, first.alpha
    dtype = np.uint8 if len(palette) <= 256 else np.uint16
    indices = np.concatenate(
        [
            (q.indices.astype(np.int64) + o).astype(dtype)
            for q, o in zip(frames, offsets, strict=True)
        ]
    )
    whole = Quantized(
        palette=palette,
        alpha=alpha,
        indices=indices,
        counts=np.bincount(indices.ravel(), minlength=len(palette)),
        k=first.k,
        plugin=first.plugin,
        params=first.params,
        seed=first.seed,
        dithered=first.dithered,
        seconds={"quantize": quantize_seconds},
        notes=tuple(dict.fromkeys(n for q in frames for n in q.notes)),
    )
    stacked = animation.stacked()
    seconds = {"quantize": quantize_seconds, "encode": encode_seconds}
    stats = compute_stats(stacked, whole, data, format, seconds)
    stats = replace(stats, height=animation.frames[0].height)
    count = f"{len(frames)} frame" + ("s" if len(frames) != 1 else "")
    note = f"animated: {count}, " + (
        "a palette per frame" if per_frame_palette else "one shared palette"
    )
    # The first frame carries what reading found (e.g. later frames that could not be decoded).
    image = replace(stacked, notes=(note, *animation.frames[0].notes))
    return Result(image, whole, data, format, stats)


def encode_apng(
    animation: Animation, frames: list, *, optimize: int = DEFAULT_OPTIMIZE, metadata=None
) -> bytes:
    """An indexed APNG: one palette, every frame a full canvas drawn with blend "source".

    Written here (not by Pillow) so the frames stay indexed, none is merged into another, and
    each keeps its duration and its disposal (APNG's numbering; GIF's is mapped onto it).
    """
    import struct

    from .encode import _chunk, _deflate, _pack_rows, encode_png

    palettes = {
        q.palette.tobytes() + (b"" if q.alpha is None else q.alpha.tobytes()) for q in frames
    }
    if len(palettes) > 1:
        raise ParameterError("APNG holds one palette for all frames: use GIF or WebP output")
    first = frames[0]
    still = encode_png(
        first.palette, first.alpha, first.indices, optimize=optimize, metadata=metadata
    )
    # The still image's chunks up to its IDAT, then acTL; the IDAT is frame 1's pixels.
    idat_at = 8
    while still[idat_at + 4 : idat_at + 8] != b"IDAT":
        idat_at += 12 + int.from_bytes(still[idat_at : idat_at + 4], "big")
    idat_end = idat_at + 12 + int.from_bytes(still[idat_at : idat_at + 4], "big")
    head, first_idat = still[:idat_at], still[idat_at:idat_end]
    h, w = first.indices.shape
    n = len(first.palette)
    bits = 1 if n <= 2 else 2 if n <= 4 else 4 if n <= 16 else 8
    disposal = _apng_disposal(animation)
    loop = 0 if animation.loop is None else animation.loop
    plays = 1 if animation.loop is None else loop
    parts = [head, _chunk(b"acTL", struct.pack(">II", len(frames), plays))]
    sequence = 0
    for i, q in enumerate(frames):
        delay = min(max(animation.durations[i], 0), 65535)
        parts.append(
            _chunk(
                b"fcTL",
                struct.pack(">IIIIIHHBB", sequence, w, h, 0, 0, delay, 1000, disposal[i], 0),
            )
        )
        sequence += 1
        if i == 0:
            parts.append(first_idat)
            continue
        data = _deflate(_pack_rows(q.indices, bits), optimize)
        parts.append(_chunk(b"fdAT", struct.pack(">I", sequence) + data))
        sequence += 1
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)


def _apng_disposal(animation: Animation) -> list[int]:
    """Per-frame APNG dispose_op (0 none, 1 background, 2 previous) from the source's values."""
    n = len(animation.frames)
    if animation.disposal is None:
        return [0] * n
    if animation.format == "GIF":  # GIF: 0/1 leave it, 2 background, 3 previous
        return [{2: 1, 3: 2}.get(d, 0) for d in animation.disposal]
    return [d if d in (0, 1, 2) else 0 for d in animation.disposal]


def _gif_bytes(animation: Animation, images: list, comment: bytes | None = None) -> bytes:
    """An animated GIF of palette frames, one image block per frame.

    Pillow's own writer merges a frame into the one before when they are the same picture;
    its block writer (``getheader``/``getdata``) keeps every frame as it is.
    """
    from PIL import GifImagePlugin

    first = images[0]
    info: dict = {"optimize": False}
    if animation.loop is not None:
        info["loop"] = animation.loop
    if comment:
        info["comment"] = comment
    header, _ = GifImagePlugin.getheader(first.copy(), None, info)
    parts = list(header)
    disposal = animation.disposal if animation.format == "GIF" else None
    shared = len({im.palette.tobytes() for im in images}) == 1
    for i, im in enumerate(images):
        params: dict = {"duration": animation.durations[i], "optimize": False}
        if disposal is not None:
            params["disposal"] = disposal[i]
        if "transparency" in im.info:
            params["transparency"] = im.info["transparency"]
        if not shared:
            params["include_color_table"] = True
        parts.extend(GifImagePlugin.getdata(im, **params))
    parts.append(b";")
    return b"".join(parts)
