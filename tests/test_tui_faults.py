"""The terminal UI under faults.

Files vanishing, unreadable folders, loops, huge folders, key storms.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

from PIL import Image as PILImage
from textual import events
from tui_support import (
    DATA,
    HOPPER,
    press,
    record_notifications,
    settle,
    sync,
    wait_listed,
    wait_result,
    wait_until,
)

from kmc_tui.tui.app import KmcApp
from kmc_tui.tui.widgets.file_browser import FileBrowser


@sync
async def test_open_file_deleted_while_shown(tmp_path, monkeypatch):
    # The watcher's look is made rare so an entry deleted since is still listed when opened.
    monkeypatch.setattr(FileBrowser, "poll_seconds", 3600.0)
    image = tmp_path / "hopper.png"
    shutil.copy(HOPPER, image)
    app = KmcApp(image, k=4)
    seen = record_notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_result(pilot, app)
        image.unlink()
        # The decoded image is in memory: changing k still works, and so does saving.
        await press(pilot, "plus")
        result = await wait_result(pilot, app)
        assert result.quantized.k == 5
        await press(pilot, "s")
        saved = tmp_path / "hopper-k5.png"
        await wait_until(pilot, saved.exists, 20, "saved file")
        await wait_until(
            pilot, lambda: any("input file is gone" in m for _, m in seen), 10, "notice"
        )
        # Saving lists the folder again: the file is gone from it, the saved one is in it.
        browser = app.query_one(FileBrowser)
        await wait_until(
            pilot,
            lambda: [e.name for e in browser.entries] == ["..", "hopper-k5.png"],
            10,
            "the list to follow the disk",
        )
        # Opening an entry deleted since the last look is one clear error, not a crash.
        other = tmp_path / "other.png"
        shutil.copy(HOPPER, other)
        await wait_until(pilot, lambda: browser.current is not None, 10, "listing")
        browser.refresh_listing()
        await wait_until(
            pilot, lambda: "other.png" in [e.name for e in browser.entries], 10, "other listed"
        )
        browser.select_path(other)
        other.unlink()
        await press(pilot, "enter")
        await wait_until(pilot, lambda: any(s == "error" for s, _ in seen), 20, "error")
        assert any("no such file" in m for s, m in seen if s == "error")
        assert app.is_running
    with PILImage.open(saved) as out:
        assert len(out.convert("RGB").getcolors(1 << 16)) <= 5


@sync
async def test_open_file_replaced_while_shown(tmp_path):
    image = tmp_path / "picture.png"
    shutil.copy(HOPPER, image)  # 128x128
    app = KmcApp(image, k=4)
    seen = record_notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_result(pilot, app)
        assert app.session.image.width == 128
        # Replaced by another image: what is shown stays consistent until it is reopened.
        tmp = tmp_path / "new.tmp"
        shutil.copy(DATA / "pngsuite" / "basn2c08.png", tmp)  # 32x32
        os.replace(tmp, image)
        await press(pilot, "plus")
        result = await wait_result(pilot, app)
        assert result.image.width == 128 and result.quantized.indices.shape == (128, 128)
        await press(pilot, "enter")  # the cursor is on picture.png
        await wait_until(
            pilot,
            lambda: app.session.image is not None and app.session.image.width == 32,
            20,
            "reopened image",
        )
        result = await wait_result(pilot, app)
        assert result.quantized.indices.shape == (32, 32)
        # Replaced by garbage: reopening it is an error notification; the app goes on.
        image.write_bytes(b"garbage" * 100)
        await press(pilot, "enter")
        await wait_until(pilot, lambda: any(s == "error" for s, _ in seen), 20, "error")
        assert app.session.image is None
        await press(pilot, "plus")  # nothing open: only the setting changes
        assert app.is_running


@sync
async def test_folder_that_cannot_be_listed(tmp_path, monkeypatch):
    """Tests run as root, for whom chmod 000 changes nothing; so the listing itself is made to
    fail the way it does for an unprivileged user: os.scandir raises PermissionError."""
    locked = tmp_path / "locked"
    locked.mkdir()
    shutil.copy(HOPPER, locked / "inside.png")
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    app = KmcApp(tmp_path)
    seen = record_notifications(app)
    async with app.run_test(size=(100, 30)) as pilot:
        browser = app.query_one(FileBrowser)
        await wait_listed(pilot, browser, tmp_path)
        browser.select_path(locked)
        await press(pilot, "enter")
        await wait_listed(pilot, browser, locked)
        assert [e.kind for e in browser.entries] == ["parent"]
        assert browser.error and "Permission denied" in browser.error
        assert any(s == "error" and "Permission denied" in m for s, m in seen)
        # The error is on screen, and the way back works.
        text = " ".join(
            "".join(seg.text for seg in browser.render_line(y)) for y in range(browser.size.height)
        )
        assert "Permission denied" in " ".join(text.split())
        await press(pilot, "backspace")
        await wait_listed(pilot, browser, tmp_path)
        assert browser.current.path == locked


@sync
async def test_symlink_loop_and_broken_link_are_shown_as_such(tmp_path):
    shutil.copy(HOPPER, tmp_path / "real.png")
    os.symlink(tmp_path / "loop_b.png", tmp_path / "loop_a.png")
    os.symlink(tmp_path / "loop_a.png", tmp_path / "loop_b.png")
    os.symlink(tmp_path / "missing.png", tmp_path / "dangling.png")
    os.symlink(tmp_path, tmp_path / "self")  # a folder that contains itself
    app = KmcApp(tmp_path)
    seen = record_notifications(app)
    async with app.run_test(size=(100, 30)) as pilot:
        browser = app.query_one(FileBrowser)
        await wait_listed(pilot, browser, tmp_path)
        kinds = {e.name: (e.kind, e.note) for e in browser.entries}
        assert kinds["loop_a.png"] == ("broken", "symlink loop")
        assert kinds["loop_b.png"] == ("broken", "symlink loop")
        assert kinds["dangling.png"] == ("broken", "broken symlink")
        assert kinds["real.png"][0] == "image"
        assert kinds["self"][0] == "folder"
        browser.select_path(tmp_path / "loop_a.png")
        await press(pilot, "enter")
        await settle(pilot)
        assert any(s == "warning" and "symlink loop" in m for s, m in seen)
        # Following the self-link a few levels deep stays finite and responsive.
        target = tmp_path
        for _ in range(3):
            target = target / "self"
            browser.select_path(target)
            await press(pilot, "enter")
            await wait_listed(pilot, browser, target)
        browser.select_path(target / "real.png")
        await press(pilot, "enter")
        result = await wait_result(pilot, app)
        assert result.image.width == 128


@sync
async def test_folder_of_10000_files_stays_responsive(tmp_path):
    big = tmp_path / "big"
    big.mkdir()
    for i in range(10_000):
        (big / f"img{i:05d}.png").touch()
    started = time.monotonic()
    app = KmcApp(big)
    async with app.run_test(size=(100, 30)) as pilot:
        browser = app.query_one(FileBrowser)
        await wait_listed(pilot, browser, big, timeout=30)
        listed = time.monotonic() - started
        assert len(browser.entries) == 10_001
        # Not a speed test (see benchmarks/tui_latency.py): a bound that only a hang breaks.
        assert listed < 30
        await press(pilot, "end")
        assert browser.current.name == "img09999.png"
        assert browser.scroll_offset.y > 9_000
        await press(pilot, "home", "down", "pagedown")
        assert browser.cursor > 10
        text = "".join(seg.text for seg in browser.render_line(0))
        assert "img" in text
        # Keys are answered promptly while it is shown (sent as a terminal sends them:
        # pilot.press also waits for the whole process to go idle, which measures the machine).
        before = browser.cursor
        t = time.monotonic()
        for _ in range(20):
            key = events.Key("down", None)
            key.set_sender(app)
            app._driver.send_message(key)
        await wait_until(pilot, lambda: browser.cursor == before + 20, 10, "20 moves")
        assert time.monotonic() - t < 10


@sync
async def test_k_changed_50_times_in_a_second_ends_on_the_last_k(tmp_path):
    image = tmp_path / "hopper.png"
    shutil.copy(HOPPER, image)
    app = KmcApp(image, k=2)
    shown_ks: list[int] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_result(pilot, app)
        original = app.main._show_result

        def spy(result, settings):
            shown_ks.append(settings.k)
            return original(result, settings)

        app.main._show_result = spy  # type: ignore[method-assign]
        # pilot.press() waits for the process to go idle after each key, which it never is
        # while quantizing; so the keys go through the driver as a terminal would send them.
        start = time.monotonic()
        for i in range(50):
            key = events.Key("plus", "+")
            key.set_sender(app)
            app._driver.send_message(key)
            # One key every 20 ms on a schedule (a late loop sends the next one at once).
            await asyncio.sleep(max(0.0, start + 0.02 * (i + 1) - time.monotonic()))
        pressing = time.monotonic() - start
        await wait_until(pilot, lambda: app.session.settings.k == 52, 10, "all 50 keys handled")
        assert pressing < 5.0  # 1 s when the event loop keeps up; more means it stalled
        result = await wait_result(pilot, app)
        await pilot.pause(1.0)  # any stale result would arrive in this time
        assert app.session.result.quantized.k == 52
        assert result.quantized.k == 52 and result.quantized.colors <= 52
        assert shown_ks and shown_ks[-1] == 52
        assert app.query_one("#k").value == "52"
        assert "k=52" in app.query_one("#result").caption
        print(f"50 presses took {pressing:.2f} s; results shown for k = {shown_ks}")


@sync
async def test_folder_without_permission_is_marked_in_its_parent(tmp_path, monkeypatch):
    """As root every folder is accessible, so os.access answers as for an unprivileged user."""
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access

    def access(path, mode, *args, **kwargs):
        if Path(path) == locked:
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    app = KmcApp(tmp_path)
    seen = record_notifications(app)
    async with app.run_test(size=(100, 30)) as pilot:
        browser = app.query_one(FileBrowser)
        await wait_listed(pilot, browser, tmp_path)
        entry = next(e for e in browser.entries if e.name == "locked")
        assert (entry.kind, entry.note) == ("unreadable", "no permission")
        row = browser.entries.index(entry)
        line = "".join(seg.text for seg in browser.render_line(row - browser.scroll_offset.y))
        assert "locked/" in line and "no permission" in line
        browser.select_path(locked)
        await press(pilot, "enter")
        assert browser.folder == tmp_path
        assert any(s == "warning" and "no permission" in m for s, m in seen)
