"""Animated GIF, APNG and WebP through the real CLI: frames, timing, loop and disposal kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

DATA = Path(__file__).resolve().parent / "data"
DURATIONS = [100, 200, 300, 450]


def source_frames(n: int = 4, alpha: bool = False) -> list[PILImage.Image]:
    """Gradient frames with a square that moves: every frame differs from the one before."""
    frames = []
    for i in range(n):
        a = np.zeros((32, 48, 4), np.uint8)
        a[..., 0] = np.linspace(0, 255, 48)[None, :]
        a[..., 1] = 40 * i
        a[..., 2] = np.linspace(255, 0, 32)[:, None]
        a[..., 3] = 255
        a[5:15, 5 + 8 * i : 15 + 8 * i, :3] = (250, 250, 0)
        if alpha:
            a[:, :6, 3] = 0
        frames.append(PILImage.fromarray(a, "RGBA").convert("RGBA" if alpha else "RGB"))
    return frames


def save_animation(path: Path, frames, **options) -> Path:
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=DURATIONS, **options)
    return path


def played(path: Path) -> dict:
    """What a player sees: full frames (RGBA), durations, loop, disposal per frame."""
    out = {"frames": [], "durations": [], "disposal": []}
    with PILImage.open(path) as im:
        out["loop"] = im.info.get("loop")
        out["format"] = im.format
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            im.load()
            out["durations"].append(int(im.info.get("duration") or 0))
            out["disposal"].append(
                getattr(im, "disposal_method", 0)
                if im.format == "GIF"
                else (im.info.get("disposal") or 0)  # a default image may have none
            )
            out["frames"].append(np.asarray(im.convert("RGBA")))
    return out


KINDS = {
    "gif": {"loop": 0, "disposal": 2},
    "png": {"loop": 3, "disposal": 1},
    "webp": {"loop": 0, "lossless": True},
}


@pytest.mark.parametrize("out_kind", ["gif", "png", "webp"])
@pytest.mark.parametrize("in_kind", ["gif", "png", "webp"])
def test_animation_keeps_frames_timing_and_loop(tmp_path, cli, in_kind, out_kind):
    src = save_animation(tmp_path / f"in.{in_kind}", source_frames(), **KINDS[in_kind])
    before = played(src)
    out = tmp_path / f"out.{out_kind}"
    done = cli("compress", "-i", src, "-o", out, "-k", "16")
    assert done.returncode == 0, done.stderr
    assert "4 frames, one shared palette" in done.stdout
    after = played(out)
    assert len(after["frames"]) == 4
    assert after["durations"] == DURATIONS
    assert after["loop"] == before["loop"]
    colors = np.unique(np.concatenate([f.reshape(-1, 4) for f in after["frames"]]), axis=0)
    assert len(colors) <= 16  # one palette for the whole animation
    # Each frame is its own source frame reduced, not another one's.
    for i, got in enumerate(after["frames"]):
        errors = [
            np.abs(got[..., :3].astype(int) - want[..., :3]).mean() for want in before["frames"]
        ]
        assert int(np.argmin(errors)) == i and errors[i] < 40, errors
    # The square moves: frames are not all the same picture.
    assert not np.array_equal(after["frames"][0], after["frames"][3])
    if in_kind == out_kind and in_kind in ("gif", "png"):
        assert after["disposal"] == before["disposal"]


def test_transparent_gif_stays_transparent_in_every_frame(tmp_path, cli):
    src = save_animation(tmp_path / "in.gif", source_frames(alpha=True), loop=0, disposal=2)
    for kind in ("gif", "png", "webp"):
        out = tmp_path / f"out.{kind}"
        assert cli("compress", "-i", src, "-o", out, "-k", "8").returncode == 0
        for frame in played(out)["frames"]:
            assert (frame[:, :6, 3] == 0).all() and (frame[:, 6:, 3] == 255).all()


def test_per_frame_palette_where_the_format_allows(tmp_path, cli):
    src = save_animation(tmp_path / "in.gif", source_frames(), loop=0)
    totals = {}
    for flag in ([], ["--per-frame-palette"]):
        out = tmp_path / f"out{len(flag)}.gif"
        done = cli("compress", "-i", src, "-o", out, "-k", "4", *flag)
        assert done.returncode == 0, done.stderr
        frames = played(out)["frames"]
        for f in frames:
            assert len(np.unique(f.reshape(-1, 4), axis=0)) <= 4
        totals[bool(flag)] = len(
            np.unique(np.concatenate([f.reshape(-1, 4) for f in frames]), axis=0)
        )
    assert totals[False] <= 4 < totals[True]
    done = cli("compress", "-i", src, "-o", tmp_path / "x.png", "--per-frame-palette")
    assert done.returncode == 1 and "APNG holds one palette" in done.stderr
    assert done.stderr.strip().count("\n") == 0 and not (tmp_path / "x.png").exists()


def test_jpeg_output_takes_the_first_frame(tmp_path, cli):
    src = save_animation(tmp_path / "in.gif", source_frames(), loop=0)
    done = cli("compress", "-i", src, "-o", tmp_path / "out.jpg")
    assert done.returncode == 0 and "first of 4 frames used" in done.stdout


@pytest.mark.parametrize(
    "name",
    [
        "pillow/apng/delay.png",
        "pillow/apng/dispose_op_background.png",
        "pillow/dispose_bgnd.gif",
        "pillow/chi.gif",
    ],
)
def test_real_animations_keep_their_frames_and_timing(tmp_path, cli, name):
    src = DATA / name
    before = played(src)
    out = tmp_path / ("out" + src.suffix)
    done = cli("compress", "-i", src, "-o", out, "-k", "32")
    assert done.returncode == 0, done.stderr
    after = played(out)
    assert len(after["frames"]) == len(before["frames"]) > 1
    assert after["durations"] == before["durations"]
    assert after["loop"] == before["loop"]
    assert after["disposal"] == before["disposal"]


def test_frames_count_toward_the_pixel_limit(tmp_path, cli):
    src = save_animation(tmp_path / "in.gif", source_frames(), loop=0)  # 4 x 1536 pixels
    done = cli("compress", "-i", src, "-o", tmp_path / "out.gif", "--max-pixels", "4000")
    assert done.returncode == 1 and "4 frames" in done.stderr and "--max-pixels" in done.stderr
    assert not (tmp_path / "out.gif").exists()


def test_a_target_is_refused_for_an_animated_output(tmp_path, cli):
    src = save_animation(tmp_path / "in.gif", source_frames(), loop=0)
    out = tmp_path / "out.gif"
    done = cli("compress", "-i", src, "-o", out, "--max-delta-e", "3")
    assert done.returncode == 1
    assert "a target chooses k for one still image" in done.stderr
    assert done.stderr.strip().count("\n") == 0 and not out.exists()
    # The first frame alone (a still output) can have one.
    done = cli("compress", "-i", src, "-o", tmp_path / "out.jpg", "--max-delta-e", "3")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("out_kind", ["gif", "png"])
def test_keep_metadata_keeps_an_animations_comment(tmp_path, cli, out_kind):
    src = save_animation(tmp_path / "in.gif", source_frames(), loop=0, comment=b"made by hand")
    kept, dropped = tmp_path / f"kept.{out_kind}", tmp_path / f"dropped.{out_kind}"
    done = cli("compress", "-i", src, "-o", kept, "-k", "8", "--keep-metadata")
    assert done.returncode == 0, done.stderr
    assert cli("compress", "-i", src, "-o", dropped, "-k", "8").returncode == 0
    with PILImage.open(kept) as im, PILImage.open(dropped) as plain:
        assert im.n_frames == plain.n_frames == 4
        comment = im.info.get("comment")
        assert (comment.decode() if isinstance(comment, bytes) else comment) == "made by hand"
        assert "comment" not in plain.info
