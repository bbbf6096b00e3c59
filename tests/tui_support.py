"""Helpers shared by the pilot tests of the terminal UI."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import time
import unicodedata
from pathlib import Path

from textual import events
from textual.keys import key_to_character
from textual.worker import WorkerCancelled

import kmc_tui.fsio
from kmc_tui.tui.app import KmcApp
from kmc_tui.tui.widgets.file_browser import FileBrowser
from kmc_tui.tui.widgets.preview import HalfBlockView

DATA = Path(__file__).resolve().parent / "data"
HOPPER = DATA / "pillow" / "hopper.png"  # 128x128 RGB: quick to quantize


def sync(test):
    """Run an async pilot test with asyncio (no async pytest plugin needed)."""

    @functools.wraps(test)
    def run(*args, **kwargs):
        asyncio.run(test(*args, **kwargs))

    return run


def record_notifications(app: KmcApp) -> list[tuple[str, str]]:
    """Wrap the app's public notify() to see (severity, message) of every notification."""
    seen: list[tuple[str, str]] = []
    original = app.notify

    def notify(message, *args, **kwargs):
        seen.append((kwargs.get("severity", "information"), str(message)))
        return original(message, *args, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    return seen


async def settle(pilot) -> None:
    """Wait until the app and its screen have handled every message waiting for them.

    What a key caused (the key, the action, the messages the action posted …) is then done.
    Unlike ``pilot.pause()`` this does not wait for the process to go idle, which it is not
    while a worker computes (that wait lasts up to a second each time).
    """
    app = pilot.app
    for _ in range(100):
        await pilot.pause(0)  # every node handles what was queued before this round
        nodes = [app, *app.screen.walk_children(with_self=True)]
        if not any(node.message_queue_size for node in nodes):
            return


async def press(pilot, *keys: str) -> None:
    """Press keys as a terminal sends them, each one handled (`settle`) before the next.

    ``pilot.press`` waits after each key for the process to go idle, up to two seconds while
    a result is computing; these keys are the same events through the same path (the app
    forwards them to the focused widget and checks the bindings).
    """
    app = pilot.app
    for key in keys:
        if len(key) == 1 and not key.isalnum():
            char = key
            key = unicodedata.name(key).lower().replace("-", "_").replace(" ", "_")
        else:
            char = key_to_character(key)
        app.post_message(events.Key(key, char))
        await settle(pilot)


async def wait_until(pilot, condition, timeout: float = 60.0, what: str = "condition") -> None:
    """Poll `condition` every 20 ms while the app runs; return once it holds after a pause.

    The polls sleep and draw what changed (what ``pilot.pause(0.02)`` does after its sleep)
    without its wait for every widget to handle a callback posted to it: several ms of CPU per
    poll, taken from the workers the test waits for. Once the condition holds, one
    ``pilot.pause(0)`` lets every widget handle what was queued (a layout, a scroll after the
    refresh) and the condition is checked again, as each poll did before.
    """
    start = time.monotonic()
    while True:
        if condition():
            await pilot.pause(0)
            if condition():
                return
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
        pilot.app.screen._on_timer_update()  # what Pilot.pause does after its sleep


async def wait_workers(app) -> None:
    """Wait until every worker of `app` has ended. One that a newer one replaced (an exclusive
    worker) ends cancelled, which ``WorkerManager.wait_for_complete`` raises; a failure still
    raises here."""
    for worker in list(app.workers):
        with contextlib.suppress(WorkerCancelled):
            await worker.wait()


def result_ready(app: KmcApp) -> bool:
    return app.session.result is not None and app.session.result_settings == app.session.settings


async def wait_result(pilot, app: KmcApp, timeout: float = 60.0):
    await wait_until(pilot, lambda: result_ready(app), timeout, "the full result")
    await settle(pilot)  # let the layout take the new content in
    return app.session.result


def widget_text(widget) -> str:
    """The text a widget shows on screen, line by line."""
    return "\n".join(
        "".join(seg.text for seg in widget.render_line(y)) for y in range(widget.size.height)
    )


async def wait_listed(pilot, browser: FileBrowser, folder: Path, timeout: float = 20.0) -> None:
    await wait_until(
        pilot,
        lambda: browser.folder == folder and not browser.loading_folder,
        timeout,
        f"listing of {folder}",
    )


def pane_colors(pane: HalfBlockView) -> set[tuple[int, int, int]]:
    """Every color drawn in a pane's picture cells (fg and bg of the half blocks).

    The pane's own background (around a picture that does not fill it) is left out.
    """
    colors = set()
    background = pane.rich_style.bgcolor
    for y in range(1, pane.size.height):
        for segment in pane.render_line(y):
            if segment.text.strip() and segment.style is not None:
                for color in (segment.style.color, segment.style.bgcolor):
                    if color is not None and color.triplet is not None and color != background:
                        colors.add(tuple(color.triplet))
    return colors


def disk_full(monkeypatch) -> None:
    """From now on every write the app makes fails as on a full disk (when it syncs the file)."""

    def refuse(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(kmc_tui.fsio.os, "fsync", refuse)


async def wait_error(pilot, seen: list[tuple[str, str]], timeout: float = 20.0) -> str:
    """The first error notification in `seen` (from `record_notifications`), once it comes."""
    await wait_until(pilot, lambda: any(s == "error" for s, _ in seen), timeout, "an error")
    return next(m for s, m in seen if s == "error")
