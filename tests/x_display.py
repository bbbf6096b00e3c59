"""A real terminal on an X display of our own (Xvfb), typed into with xdotool and screenshot
with ImageMagick, for the tests that check what a terminal really shows."""

from __future__ import annotations

import io
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from pty_terminal import kmc_tui_command

TOOLS = ("Xvfb", "import", "xdotool")


def require_tools(*tools: str) -> None:
    """A missing tool fails the test: .ci/run installs them, and a skip would pass unseen."""
    missing = [tool for tool in (*TOOLS, *tools) if shutil.which(tool) is None]
    assert not missing, f"needs {', '.join(missing)} (.ci/run installs them)"


class XServer:
    """An Xvfb display of our own, and a terminal on it."""

    def __init__(self, tmp_path: Path):
        # Xvfb picks a free display number itself and writes it when it accepts connections: a
        # number chosen here could be another worker's, or a server still going away.
        read_end, write_end = os.pipe()
        screen = ["-screen", "0", "1000x700x24", "-nolisten", "tcp"]
        self.xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_end), *screen],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(write_end,),
        )
        os.close(write_end)
        number = b""
        with os.fdopen(read_end, "rb", buffering=0) as told:
            while not number.endswith(b"\n"):
                ready, _, _ = select.select([told], [], [], 20)
                chunk = told.read(16) if ready else b""
                if not chunk:
                    self.xvfb.kill()
                    self.xvfb.wait()
                    raise AssertionError("Xvfb did not start")
                number += chunk
        self.display = f":{int(number)}"
        # A config folder of its own: the user's remembered k must not change the run.
        self.env = {**os.environ, "DISPLAY": self.display, "XDG_CONFIG_HOME": str(tmp_path)}
        # xdist's COLUMNS/LINES would override xterm's size.
        for key in [k for k in self.env if k.startswith(("KMC_TUI", "TMUX", "COLUMNS", "LINES"))]:
            del self.env[key]
        self.terminal: subprocess.Popen | None = None

    def start_terminal(self, argv: list[str], cwd: Path, **env: str) -> None:
        """Start a terminal program (its own command line included) on the display."""
        self.terminal = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**self.env, **env},
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
        for process in (self.terminal, self.xvfb):
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


def save_then_find_at_one_to_one(server: XServer, folder: Path, deadline: float):
    """Save the result (``s``, until the file is there), zoom to 1:1 (``1``) and look for the
    saved image on screen: (where it was found or None, the last screenshot)."""
    saved: list[Path] = []
    pressed = 0.0
    while not saved:  # save as soon as the result is there (s waits for it)
        assert time.monotonic() < deadline, "the app did not save its result"
        if time.monotonic() - pressed > 5:
            server.keys("s")
            pressed = time.monotonic()
        time.sleep(0.3)
        saved = list(folder.glob("hopper-k*.png"))
    expected = np.asarray(PILImage.open(saved[0]).convert("RGB"))
    server.keys("1")
    found = None
    while found is None and time.monotonic() < deadline:
        time.sleep(1)
        screen = server.screenshot()
        found = find(screen, expected, tolerance=2)
    PILImage.fromarray(screen).save(folder / "screen.png")  # to look at if it fails
    return found, screen


__all__ = ["XServer", "find", "kmc_tui_command", "require_tools", "save_then_find_at_one_to_one"]
