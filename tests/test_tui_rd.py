"""The R–D view (r) and targets (t) driven by keys through Textual's pilot, on real files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image as PILImage
from tui_support import (
    DATA,
    HOPPER,
    press,
    record_notifications,
    settle,
    sync,
    wait_result,
    wait_until,
    widget_text,
)

from kmc_tui.targets import k_ladder
from kmc_tui.tui.app import KmcApp
from kmc_tui.tui.curve import Curve
from kmc_tui.tui.screens.rate_distortion import RateDistortionScreen
from kmc_tui.tui.screens.target import TargetScreen
from kmc_tui.tui.session import Settings
from kmc_tui.tui.widgets.preview import HalfBlockView
from kmc_tui.tui.widgets.rd_plot import (
    MARK_CURRENT,
    MARK_KNEE,
    MARK_SELECTED,
    RateDistortionPlot,
)

SMALL = DATA / "pngsuite" / "basn2c08.png"  # 32x32 RGB: a whole curve in seconds


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for source in (SMALL, HOPPER, DATA / "pillow" / "hopper_gray.jpg"):
        shutil.copy(source, tmp_path / source.name)
    with PILImage.open(HOPPER) as hopper:  # 64x64: estimates on one 32x32 tile differ
        hopper.convert("RGB").crop((32, 32, 96, 96)).save(tmp_path / "crop.png")
    return tmp_path


# -- the curve, without a terminal -------------------------------------------------------------


def test_curve_holds_the_ladder_and_the_current_k_and_real_runs_replace_estimates():
    from kmc_tui.targets import Trial

    image = object()
    curve = Curve(image, Settings(k=15))
    assert set(k_ladder(256, steps=24)) < set(curve.ks) and 15 in curve.ks
    assert curve.ks == tuple(sorted(curve.ks)) and curve.ks[0] == 2 and curve.ks[-1] == 256
    assert curve.matches(image, Settings(k=40)) and not curve.matches(
        image, Settings(k=40, dither=True)
    )
    assert not curve.matches(object(), Settings(k=15))
    curve.add(Trial(15, 3.0, 1000, True, None, 0.1))
    assert 15 not in curve.missing(estimate=True) and 15 in curve.missing(estimate=False)
    assert curve.add(Trial(15, 2.9, 990, False, None, 0.1))
    assert not curve.add(Trial(15, 3.1, 1010, True, None, 0.1))  # never back to an estimate
    assert curve.point(15).delta_e == 2.9 and curve.real_count == 1
    assert curve.step(15, 1) == curve.ks[curve.ks.index(15) + 1]
    assert curve.step(15, -1000) == 2 and curve.step(15, 1000) == 256


# -- the R–D view -----------------------------------------------------------------------------


def plot_text(app) -> str:
    return widget_text(app.screen.query_one(RateDistortionPlot))


@sync
async def test_r_fills_the_curve_marks_k_and_the_knee_and_keys_pick_a_k(folder, monkeypatch):
    # Estimates on a 32x32 tile of the 64x64 image first, then real runs replace them.
    monkeypatch.setattr(RateDistortionScreen, "estimate_pixels", 1024)
    added = []
    add = Curve.add

    def recording_add(self, trial):
        added.append((trial.k, trial.estimate))
        return add(self, trial)

    monkeypatch.setattr(Curve, "add", recording_add)
    app = KmcApp(folder / "crop.png", k=16)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_result(pilot, app)
        await press(pilot, "r")
        screen = app.screen
        assert isinstance(screen, RateDistortionScreen)
        curve = screen.curve
        await wait_until(pilot, lambda: curve.complete, 240, "every point a real run")
        await settle(pilot)
        first_real = [estimate for _, estimate in added].index(False)
        assert sorted(k for k, _ in added[:first_real]) == list(curve.ks)  # all estimates
        assert sorted(k for k, e in added[first_real:] if not e) == list(curve.ks)
        assert len(curve.ks) >= 20 and curve.ks[0] == 2 and curve.ks[-1] == 256
        # Each point is what a plain run at that k gives (the curve is the stats' figures).
        from kmc_tui import process

        k = curve.ks[len(curve.ks) // 2]
        plain = process(app.session.image, k)
        point = curve.point(k)
        assert not point.estimate and point.bytes == plain.stats.output_bytes
        assert point.delta_e == pytest.approx(plain.stats.delta_e)
        text = plot_text(app)
        assert MARK_SELECTED in text  # the selection starts on the current k
        found = curve.knee()
        below = widget_text(screen.query_one("#rd-knee"))
        if found is not None:
            if found.k != 16:  # else the selection's mark covers it, and its line says so
                assert MARK_KNEE in text
            else:
                assert "the knee" in widget_text(screen.query_one("#rd-point"))
            assert f"knee k={found.k}" in below and "Kneedle" in below
        else:
            assert "knee: none" in below
        assert f"{curve.real_count}/{len(curve.ks)} real runs" in below
        assert "k=16:" in widget_text(screen.query_one("#rd-point"))
        # Left twice: two places down the ladder; the preview shows that k.
        await press(pilot, "left", "left")
        expected = curve.step(curve.step(16, -1), -1)
        assert screen.selected == expected
        preview = screen.query_one("#rd-preview", HalfBlockView)
        await wait_until(
            pilot, lambda: preview.caption.startswith(f"k={expected} "), 30, "the preview"
        )
        assert f"k={expected}:" in widget_text(screen.query_one("#rd-point"))
        text = plot_text(app)
        assert MARK_SELECTED in text and MARK_CURRENT in text  # both marks, apart
        # Enter takes it: the main screen computes the result at that k.
        await press(pilot, "enter")
        assert not isinstance(app.screen, RateDistortionScreen)
        result = await wait_result(pilot, app)
        assert app.session.settings.k == expected and result.stats.colors <= expected
        # Back in the view: the curve is kept, nothing to compute again.
        await press(pilot, "r")
        assert app.screen.curve is curve and curve.complete
        await press(pilot, "escape")
        assert app.session.settings.k == expected


@sync
async def test_escape_leaves_the_view_stops_the_fill_and_keeps_k(folder):
    app = KmcApp(folder / HOPPER.name, k=8)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_result(pilot, app)
        await press(pilot, "r")
        screen = app.screen
        await wait_until(pilot, lambda: screen.curve.points(), 60, "a first point")
        await press(pilot, "right", "escape")
        assert not isinstance(app.screen, RateDistortionScreen)
        assert app.session.settings.k == 8
        assert screen._fill_job.should_stop()
        # The runner is free again: a new k computes.
        await press(pilot, "plus")
        result = await wait_result(pilot, app)
        assert result.stats.colors <= 9 and app.session.settings.k == 9


@sync
async def test_the_view_is_in_the_command_palette_and_needs_an_image(folder):
    app = KmcApp(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        seen = record_notifications(app)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert any("Rate–distortion" in t for t in titles)
        assert any(t.startswith("Target") for t in titles)
        await press(pilot, "r")
        await press(pilot, "t")
        assert not isinstance(app.screen, (RateDistortionScreen, TargetScreen))
        assert seen.count(("warning", "open an image first")) == 2


# -- targets --------------------------------------------------------------------------------


def cli_k(path: Path, *args: str) -> int:
    exe = Path(sys.executable).with_name("kmc-tui")
    out = path.parent / "cli-out.png"
    proc = subprocess.run(
        [str(exe), "compress", "-i", str(path), "-o", str(out), "--json", "--force", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out.unlink()
    return json.loads(proc.stdout.strip().splitlines()[-1])["k"]


@sync
async def test_t_with_a_delta_e_target_sets_the_k_the_cli_chooses(folder):
    app = KmcApp(folder / SMALL.name, k=4)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_result(pilot, app)
        await press(pilot, "d")  # the search runs with the settings in use: dithered (0.5) here
        await wait_result(pilot, app)
        await press(pilot, "t")
        assert isinstance(app.screen, TargetScreen)
        await press(pilot, *"2", "enter")
        assert not isinstance(app.screen, TargetScreen)
        await wait_until(pilot, lambda: app.session.settings.k != 4, 120, "k to jump")
        result = await wait_result(pilot, app)
        k = app.session.settings.k
        assert result.search is not None and result.search.k == k
        assert result.stats.delta_e <= 2 and app.session.settings.dither == 0.5
        assert str(k) == app.query_one("#k").value
    assert k == cli_k(folder / SMALL.name, "--dither-strength", "0.5", "--max-delta-e", "2")


@sync
async def test_t_with_a_size_target_and_an_unreachable_one(folder):
    app = KmcApp(folder / SMALL.name, k=4)
    async with app.run_test(size=(100, 30)) as pilot:
        seen = record_notifications(app)
        await wait_result(pilot, app)
        await press(pilot, "t", "tab", *"1k", "enter")
        await wait_until(pilot, lambda: app.session.settings.k != 4, 120, "k to jump")
        result = await wait_result(pilot, app)
        assert result.stats.output_bytes <= 1000 and result.search.k == app.session.settings.k
        k = app.session.settings.k
        # The dialog comes back on the size, with the last target in it.
        await press(pilot, "t")
        assert app.screen.focused.id == "target-bytes" and app.screen.focused.value == "1000"
        # Not reachable: said in one line; k and the result shown stay.
        await press(pilot, *["backspace"] * 4, *"50", "enter")
        await wait_until(
            pilot,
            lambda: any(s == "warning" and "not reachable" in m for s, m in seen),
            120,
            "the unreachable notice",
        )
        await settle(pilot)
        assert app.session.settings.k == k and app.session.result is result
        caption = app.query_one("#result", HalfBlockView).caption
        assert caption.startswith(f"k={k} ") and "finding" not in caption
    assert k == cli_k(folder / SMALL.name, "--max-bytes", "1k")


@sync
async def test_t_refuses_a_bad_target_and_escape_stops_a_search(folder):
    app = KmcApp(folder / HOPPER.name, k=4)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_result(pilot, app)
        await press(pilot, "t", *"abc", "enter")
        assert isinstance(app.screen, TargetScreen)
        assert "ΔE2000 target" in widget_text(app.screen.query_one("#target-error"))
        await press(pilot, "backspace", "backspace", "backspace", *"0.5", "enter")
        assert not isinstance(app.screen, TargetScreen)
        assert "finding k for ΔE2000 ≤ 0.5" in app.query_one("#result", HalfBlockView).caption
        assert app.session.computing
        await press(pilot, "escape")
        assert not app.session.computing
        assert "cancelled" in app.query_one("#result", HalfBlockView).caption
        assert app.session.settings.k == 4


# -- the stats panel ---------------------------------------------------------------------------


@sync
async def test_a_result_larger_than_its_input_is_unmistakable(folder):
    app = KmcApp(folder / "hopper_gray.jpg", k=64)
    async with app.run_test(size=(100, 30)) as pilot:
        result = await wait_result(pilot, app)
        assert result.stats.ratio > 1  # a palette PNG of a small JPEG
        text = widget_text(app.query_one("#stats"))
        assert "LARGER than the input" in text and f"{result.stats.ratio:.2f}×" in text
    app = KmcApp(folder / HOPPER.name, k=4)
    async with app.run_test(size=(100, 30)) as pilot:
        result = await wait_result(pilot, app)
        assert result.stats.ratio < 1
        assert "LARGER" not in widget_text(app.query_one("#stats"))
