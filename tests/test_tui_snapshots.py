"""Snapshots of the main screen at 80x24 and 120x40 (pytest-textual-snapshot).

Deterministic by construction: a 15-color PngSuite image quantized with k=16 (the plugin keeps
its exact colors), workers awaited, no notifications, render times masked.
Update after a deliberate change with ``pytest tests/test_tui_snapshots.py --snapshot-update``
and look at the SVGs.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from kmc_tui.app import KmcApp
from kmc_tui.widgets.stats_panel import StatsPanel

DATA = Path(__file__).resolve().parent / "data"


class SnapshotApp(KmcApp):
    """The real app with render times masked (they depend on the machine)."""

    def on_mount(self) -> None:
        self.query_one(StatsPanel).show_times = False
        super().on_mount()


@pytest.fixture
def snapshot_folder(tmp_path, monkeypatch):
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(DATA / "pngsuite" / "basn3p04.png", folder / "basn3p04.png")
    shutil.copy(DATA / "pngsuite" / "s39n3p04.png", folder / "s39n3p04.png")
    (folder / "more").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path))  # the browser's title reads ~/images
    monkeypatch.delenv("KMC_TUI_PLUGIN_PATH", raising=False)
    return folder


async def settle(pilot) -> None:
    app = pilot.app
    start = time.monotonic()
    while not (app.shown.result is not None and app.shown.settings == app.settings):
        assert time.monotonic() - start < 60, "no result"
        await pilot.pause(0.05)
    await app.workers.wait_for_complete()
    await pilot.pause()
    app.clear_notifications()
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_main_screen(snap_compare, snapshot_folder, size):
    app = SnapshotApp(snapshot_folder / "basn3p04.png", k=16)
    assert snap_compare(app, terminal_size=size, run_before=settle)
