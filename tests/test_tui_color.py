"""Pilot tests of issue 16 in the terminal UI: dithering off / 0.5 / 1 and the palette export."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from tui_support import (
    HOPPER,
    disk_full,
    pane_colors,
    press,
    record_notifications,
    settle,
    sync,
    wait_error,
    wait_result,
    wait_until,
    wait_workers,
    widget_text,
)

from kmc_tui.palettes import read_palette
from kmc_tui.tui.app import KmcApp


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copy(HOPPER, tmp_path / "hopper.png")
    return tmp_path


@sync
async def test_d_goes_through_off_half_and_full_dithering(folder):
    app = KmcApp(folder / "hopper.png", k=8)
    async with app.run_test(size=(120, 40)) as pilot:
        plain = await wait_result(pilot, app)
        assert not plain.quantized.dithered
        state = app.query_one("#dither-state")
        assert widget_text(state).strip() == "off"
        await press(pilot, "d")
        half = await wait_result(pilot, app)
        assert app.session.settings.dither == 0.5 and half.quantized.dithered
        assert widget_text(state).strip() == "0.5"
        await press(pilot, "d")
        full = await wait_result(pilot, app)
        assert app.session.settings.dither == 1.0 and full.quantized.dithered
        assert widget_text(state).strip() == "1"
        # The same palette, three ways of placing it: half strength moves fewer pixels.
        moved_half = (half.quantized.indices != plain.quantized.indices).mean()
        moved_full = (full.quantized.indices != plain.quantized.indices).mean()
        assert 0 < moved_half < moved_full
        await press(pilot, "d")
        again = await wait_result(pilot, app)
        assert app.session.settings.dither == 0.0 and not again.quantized.dithered
        assert widget_text(state).strip() == "off"
        # The switch in the settings turns full dithering on and off.
        app.query_one("#dither").toggle()
        await settle(pilot)
        assert app.session.settings.dither == 1.0


@sync
async def test_e_exports_the_palette_beside_the_image_and_never_overwrites(folder):
    taken = folder / "hopper-k8.gpl"
    taken.write_text("someone else's file\n")
    app = KmcApp(folder / "hopper.png", k=8)
    seen = record_notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        result = await wait_result(pilot, app)
        await press(pilot, "e")
        first = folder / "hopper-k8-2.gpl"
        await wait_workers(pilot.app)
        await settle(pilot)
        assert first.exists()
        await press(pilot, "e")
        await wait_workers(pilot.app)
        await settle(pilot)
        second = folder / "hopper-k8-3.gpl"
        assert second.exists()
    assert taken.read_text() == "someone else's file\n"
    for path in (first, second):
        np.testing.assert_array_equal(read_palette(path).colors, result.quantized.palette)
    assert [m for s, m in seen if s == "information" and m.endswith(".gpl")] == [
        str(first),
        str(second),
    ]


@sync
async def test_e_without_a_result_says_so(tmp_path):
    app = KmcApp(tmp_path, k=8)
    seen = record_notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "e")
        await settle(pilot)
    assert ("warning", "open an image first") in seen
    assert list(tmp_path.iterdir()) == []


@sync
async def test_a_failed_export_is_a_notification_and_leaves_nothing(folder, monkeypatch):
    app = KmcApp(folder / "hopper.png", k=8)
    seen = record_notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_result(pilot, app)
        disk_full(monkeypatch)
        await press(pilot, "e")
        error = await wait_error(pilot, seen)
        assert app.is_running
    assert "No space left" in error
    assert sorted(p.name for p in folder.iterdir()) == ["hopper.png"]


FRAME_COLORS = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]


@pytest.fixture
def animated(tmp_path: Path) -> Path:
    """A 3-frame GIF, each frame one flat color, shown 100, 200 and 300 ms."""
    frames = [PILImage.new("RGB", (32, 24), color) for color in FRAME_COLORS]
    path = tmp_path / "blink.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=[100, 200, 300], loop=0)
    return path


@sync
async def test_an_animation_shows_one_frame_with_a_counter_and_steps_with_comma_and_dot(animated):
    app = KmcApp(animated, k=4)
    async with app.run_test(size=(120, 40)) as pilot:
        result = await wait_result(pilot, app)
        original, shown = app.query_one("#original"), app.query_one("#result")
        # One shared palette for the whole animation; the stats count every frame.
        assert result.quantized.indices.shape == (3 * 24, 32)
        assert result.stats.colors == 3 and result.stats.height == 24
        assert "frame 1/3" in original.caption
        assert pane_colors(original) == pane_colors(shown) == {FRAME_COLORS[0]}
        await press(pilot, "full_stop")
        assert "frame 2/3" in original.caption
        assert pane_colors(original) == pane_colors(shown) == {FRAME_COLORS[1]}
        await press(pilot, "comma", "comma")
        assert "frame 3/3" in original.caption
        assert pane_colors(original) == pane_colors(shown) == {FRAME_COLORS[2]}
        # Saving writes the whole animation (APNG for the default PNG output).
        await press(pilot, "s")
        saved = animated.with_name("blink-k4.png")
        await wait_until(pilot, saved.exists, 30, "the saved file")
        await wait_workers(pilot.app)
    with PILImage.open(saved) as im:
        assert im.n_frames == 3
        durations = []
        for i in range(3):
            im.seek(i)
            durations.append(im.info["duration"])
            assert im.convert("RGB").getpixel((5, 5)) == FRAME_COLORS[i]
    assert durations == [100, 200, 300]


@sync
async def test_comma_and_dot_do_nothing_on_a_still_image(folder):
    app = KmcApp(folder / "hopper.png", k=4)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_result(pilot, app)
        before = app.query_one("#original").caption
        await press(pilot, "full_stop", "comma")
        assert app.query_one("#original").caption == before
        assert "frame" not in before
