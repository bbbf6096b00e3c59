"""End to end: the installed `kmc-tui` in a real terminal (tmux), driven by keys like a person.

Open a sample, change k, save, quit; then check the saved file on disk.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from PIL import Image as PILImage

DATA = Path(__file__).resolve().parent / "data"


def kmc_tui_command() -> str:
    """The console script installed next to this Python (what `pip install` puts on PATH)."""
    script = Path(sys.executable).parent / "kmc-tui"
    assert script.exists(), f"kmc-tui is not installed next to {sys.executable}"
    return str(script)


class Tmux:
    """A tmux server of our own (its own socket), one session, a fixed size."""

    def __init__(self, width: int = 100, height: int = 30):
        self.socket = f"kmc-e2e-{uuid.uuid4().hex[:8]}"
        self.width, self.height = width, height

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=30,
        )

    def start(self, command: list[str], cwd: Path, *, term: str = "xterm-256color") -> None:
        env_command = " ".join(_quote(c) for c in command)
        self.run(
            "new-session",
            "-d",
            "-s",
            "e2e",
            "-x",
            str(self.width),
            "-y",
            str(self.height),
            "-c",
            str(cwd),
            f"env -u KMC_TUI_PLUGIN_PATH -u COLORTERM TERM={term} {env_command}",
        )

    def screen(self, *, escapes: bool = False) -> str:
        flags = ["-p", "-e"] if escapes else ["-p"]
        return self.run("capture-pane", "-t", "e2e", *flags, check=False).stdout

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "e2e", *keys)

    def alive(self) -> bool:
        return self.run("has-session", "-t", "e2e", check=False).returncode == 0

    def wait_for(self, predicate, timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if predicate(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; screen was:\n{text}")

    def kill(self) -> None:
        self.run("kill-server", check=False)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def test_open_change_k_save_quit_in_a_real_terminal(tmp_path):
    assert shutil.which("tmux"), "tmux is needed for this test (.ci/run installs it)"
    image = tmp_path / "hopper.png"
    shutil.copy(DATA / "pillow" / "hopper.png", image)
    before = hashlib.sha256(image.read_bytes()).hexdigest()
    tmux = Tmux(100, 30)
    try:
        tmux.start([kmc_tui_command(), str(image)], tmp_path)
        tmux.wait_for(lambda s: "k=16" in s and "colors" in s, 90, "the first result")
        tmux.keys("+")
        tmux.wait_for(lambda s: "k=17" in s and "colors" in s, 60, "the result for k=17")
        tmux.keys("s")
        saved = tmp_path / "hopper-k17.png"
        deadline = time.monotonic() + 30
        while not saved.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert saved.exists(), tmux.screen()
        tmux.wait_for(lambda s: "saved" in s, 10, "the saved notification")
        tmux.keys("q")
        deadline = time.monotonic() + 20
        while tmux.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not tmux.alive(), "kmc-tui did not quit on q"
    finally:
        tmux.kill()
    with PILImage.open(saved) as out:
        assert out.format == "PNG" and out.mode == "P"
        assert out.size == (128, 128)
        assert len(out.convert("RGB").getcolors(1 << 16)) <= 17
    assert hashlib.sha256(image.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hopper-k17.png", "hopper.png"]


def test_rate_distortion_view_at_80x24_in_256_colors_inside_tmux(tmp_path):
    assert shutil.which("tmux"), "tmux is needed for this test (.ci/run installs it)"
    image = tmp_path / "basn2c08.png"  # 32x32: the whole curve in seconds
    shutil.copy(DATA / "pngsuite" / "basn2c08.png", image)
    tmux = Tmux(80, 24)
    try:
        tmux.start([kmc_tui_command(), str(image)], tmp_path, term="screen-256color")
        tmux.wait_for(lambda s: "k=16" in s and "colors" in s, 90, "the first result")
        tmux.keys("r")
        screen = tmux.wait_for(
            lambda s: "23/23 real runs" in s and "knee" in s, 120, "the curve, all real runs"
        )
        assert "mean ΔE2000" in screen and "◆ k=16:" in screen and "■ k=16 now" in screen
        assert "× the input" in screen and "Kneedle" in screen
        colored = tmux.screen(escapes=True)
        assert "\x1b[38;5;" in colored and "\x1b[38;2;" not in colored  # 256 colors only
        tmux.keys("Left")
        tmux.wait_for(lambda s: "◆ k=13:" in s and "k=13 · " in s, 30, "k=13 and its preview")
        tmux.keys("Enter")
        tmux.wait_for(lambda s: "k=13 kmeans" in s and "colors" in s, 60, "the result at k=13")
        tmux.keys("q")
    finally:
        tmux.kill()
