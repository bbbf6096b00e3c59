"""Snapshots of the main screen at each layout: 80x24, 100x30 (narrow: one pane), 120x36 and
200x50 (wide: both panes), with an image open (pytest-textual-snapshot).

Deterministic by construction: a 15-color PngSuite image quantized with k=16 by a small plugin
written here (so the frame does not change when the built-in plugins' parameters do), workers
awaited, no notifications, render times masked.
Update after a deliberate change with ``pytest tests/test_tui_snapshots.py --snapshot-update``
and look at the SVGs.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest
from tui_support import result_ready, wait_workers

from kmc_tui.registry import Registry
from kmc_tui.tui.app import KmcApp
from kmc_tui.tui.widgets.stats_panel import StatsPanel

#: Keeps the most used colors; exact when the image has at most k. Two declared parameters so
#: the generated controls (a Select and an Input) are in the frame.
SNAPSHOT_PLUGIN = """
import numpy as np
from kmc_tui.registry import ParamSpec, Quantizer, QuantizerOutput

class MostUsed(Quantizer):
    name = "most_used"
    description = "The k most used colors"
    params = (ParamSpec("order", str, "count", "how ties are broken", choices=("count", "value")),
              ParamSpec("passes", int, 1, "unused", min=1, max=9))

    def quantize(self, hist, k, *, seed=0, order="count", passes=1):
        keep = np.argsort(-hist.counts, kind="stable")[:k]
        return QuantizerOutput(hist.colors[keep])
"""

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def registry(tmp_path) -> Registry:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "most_used.py").write_text(SNAPSHOT_PLUGIN)
    return Registry([plugins], use_entry_points=False, use_env=False)


@pytest.fixture
def snapshot_folder(tmp_path, monkeypatch):
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(DATA / "pngsuite" / "basn3p04.png", folder / "basn3p04.png")
    shutil.copy(DATA / "pngsuite" / "s39n3p04.png", folder / "s39n3p04.png")
    (folder / "more").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path))  # the browser's title reads ~/images
    monkeypatch.delenv("KMC_TUI_PLUGIN_PATH", raising=False)
    monkeypatch.setattr(StatsPanel, "show_times", False)  # render times depend on the machine
    return folder


async def settle(pilot) -> None:
    app = pilot.app
    start = time.monotonic()
    while not result_ready(app):
        assert time.monotonic() - start < 60, "no result"
        await asyncio.sleep(0.05)  # the app works meanwhile; pilot.pause would also draw
    await wait_workers(app)
    await pilot.pause()
    app.clear_notifications()
    await pilot.pause()


@pytest.mark.parametrize(
    "size", [(80, 24), (100, 30), (120, 36), (200, 50)], ids=["80x24", "100x30", "120x36", "200x50"]
)
def test_main_screen(snap_compare, snapshot_folder, registry, size):
    app = KmcApp(snapshot_folder / "basn3p04.png", k=16, plugin="most_used", registry=registry)
    assert snap_compare(app, terminal_size=size, run_before=settle)
