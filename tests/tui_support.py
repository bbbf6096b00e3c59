"""Helpers shared by the pilot tests of the terminal UI."""

from __future__ import annotations

import asyncio
import functools
import time
from pathlib import Path

from kmc_tui.tui.app import KmcApp
from kmc_tui.tui.widgets.file_browser import FileBrowser

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


async def wait_until(pilot, condition, timeout: float = 60.0, what: str = "condition") -> None:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def result_ready(app: KmcApp) -> bool:
    return app.shown.result is not None and app.shown.settings == app.settings


async def wait_result(pilot, app: KmcApp, timeout: float = 60.0):
    await wait_until(pilot, lambda: result_ready(app), timeout, "the full result")
    await pilot.pause()  # let the layout take the new content in
    return app.shown.result


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
