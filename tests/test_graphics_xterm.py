"""A real terminal that speaks Sixel: xterm as a VT340 under Xvfb, screenshot with ImageMagick.

The app is started with nothing forced: it must find Sixel by asking xterm, and the screenshot
must hold the saved result at one image pixel per screen pixel after "1" (zoom to 1:1).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from pty_terminal import kmc_tui_command

DATA = Path(__file__).resolve().parent / "data"
TOOLS = ("Xvfb", "xterm", "import", "xdotool")

pytestmark = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in TOOLS),
    reason=f"needs {', '.join(TOOLS)} (.ci/run installs them)",
)


class XServer:
    """An Xvfb display of our own, and an xterm on it."""

    def __init__(self, tmp_path: Path):
        self.display = f":{os.getpid() % 400 + 100}"
        self.xvfb = subprocess.Popen(
            ["Xvfb", self.display, "-screen", "0", "1000x700x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # A config folder of its own: the user's remembered k must not change the run.
        self.env = {**os.environ, "DISPLAY": self.display, "XDG_CONFIG_HOME": str(tmp_path)}
        # xdist's COLUMNS/LINES would override xterm's size.
        for key in [k for k in self.env if k.startswith(("KMC_TUI", "TMUX", "COLUMNS", "LINES"))]:
            del self.env[key]
        self.xterm: subprocess.Popen | None = None
        deadline = time.monotonic() + 20
        while subprocess.run(
            ["xdotool", "getmouselocation"], env=self.env, capture_output=True
        ).returncode:
            assert time.monotonic() < deadline, "Xvfb did not start"
            time.sleep(0.2)

    def start_xterm(self, command: list[str], cwd: Path) -> None:
        self.xterm = subprocess.Popen(
            ["xterm", "-ti", "vt340", "-geometry", "120x36+0+0", "-e", *command],
            cwd=cwd,
            env={**self.env, "TERM": "xterm-256color"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def keys(self, *keys: str) -> None:
        subprocess.run(["xdotool", "key", *keys], env=self.env, check=True, timeout=10)

    def screenshot(self) -> np.ndarray:
        done = subprocess.run(
            ["import", "-window", "root", "png:-"], env=self.env, capture_output=True, timeout=30
        )
        assert done.returncode == 0, done.stderr
        return np.asarray(PILImage.open(io.BytesIO(done.stdout)).convert("RGB"))

    def close(self) -> None:
        for process in (self.xterm, self.xvfb):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)


def find(screen: np.ndarray, image: np.ndarray, tolerance: int) -> tuple[int, int] | None:
    """Where `image` appears in `screen` pixel for pixel (within `tolerance`), or None."""
    h, w = image.shape[:2]
    screen = screen.astype(np.int16)
    image = image.astype(np.int16)
    first = np.abs(screen - image[0, 0]).max(-1) <= tolerance
    for y, x in zip(*np.nonzero(first), strict=True):
        if y + h > screen.shape[0] or x + w > screen.shape[1]:
            continue
        if np.abs(screen[y : y + h, x : x + w] - image).max() <= tolerance:
            return int(x), int(y)
    return None


def test_xterm_shows_the_result_at_real_resolution(tmp_path):
    shutil.copy(DATA / "pillow" / "hopper.png", tmp_path / "hopper.png")
    server = XServer(tmp_path)
    try:
        server.start_xterm([kmc_tui_command(), "tui", "hopper.png"], tmp_path)
        deadline = time.monotonic() + 90
        saved: list[Path] = []
        pressed = 0.0
        while not saved:  # save as soon as the result is there (s waits for it)
            assert time.monotonic() < deadline, "the app did not save its result"
            if time.monotonic() - pressed > 5:
                server.keys("s")
                pressed = time.monotonic()
            time.sleep(0.3)
            saved = list(tmp_path.glob("hopper-k*.png"))
        expected = np.asarray(PILImage.open(saved[0]).convert("RGB"))
        server.keys("1")
        found = None
        while found is None and time.monotonic() < deadline:
            time.sleep(1)
            screen = server.screenshot()
            found = find(screen, expected, tolerance=2)
        PILImage.fromarray(screen).save(tmp_path / "screen.png")  # to look at if it fails
        assert found is not None, f"the quantized image at 1:1 is not on {tmp_path}/screen.png"
        assert found[0] > screen.shape[1] // 3  # in the result pane, right of the original
    finally:
        server.close()
