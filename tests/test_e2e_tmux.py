"""End to end: the installed `kmc-tui` in a real terminal (tmux), driven by keys like a person.

Open a sample, change k, save, quit; then check the saved file on disk.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

from PIL import Image as PILImage
from tmux_terminal import Tmux, kmc_tui_command

DATA = Path(__file__).resolve().parent / "data"


def _quit(tmux: Tmux) -> None:
    tmux.keys("q")
    tmux.wait_gone()  # kmc-tui quits on q


def test_open_change_k_save_quit_in_a_real_terminal(tmp_path, tmp_path_factory):
    image = tmp_path / "hopper.png"
    shutil.copy(DATA / "pillow" / "hopper.png", image)
    before = hashlib.sha256(image.read_bytes()).hexdigest()
    tmux = Tmux(100, 30)
    try:
        tmux.start(
            [kmc_tui_command(), str(image)], tmp_path, config_home=tmp_path_factory.mktemp("xdg")
        )
        tmux.wait_for(lambda s: "k=16" in s and "palette" in s, 90, "the first result")
        tmux.keys("+")
        tmux.wait_for(lambda s: "k=17" in s and "palette" in s, 60, "the result for k=17")
        tmux.keys("s")
        saved = tmp_path / "hopper-k17.png"
        deadline = time.monotonic() + 30
        while not saved.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert saved.exists(), tmux.screen()
        tmux.wait_for(lambda s: "saved" in s, 10, "the saved notification")
        _quit(tmux)
    finally:
        tmux.kill()
    with PILImage.open(saved) as out:
        assert out.format == "PNG" and out.mode == "P"
        assert out.size == (128, 128)
        assert len(out.convert("RGB").getcolors(1 << 16)) <= 17
    assert hashlib.sha256(image.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hopper-k17.png", "hopper.png"]


def test_rate_distortion_view_at_80x24_in_256_colors_inside_tmux(tmp_path):
    image = tmp_path / "basn2c08.png"  # 32x32: the whole curve in seconds
    shutil.copy(DATA / "pngsuite" / "basn2c08.png", image)
    tmux = Tmux(80, 24)
    try:
        tmux.start(
            [kmc_tui_command(), str(image)],
            tmp_path,
            config_home=tmp_path / "xdg",
            term="screen-256color",
        )
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
        _quit(tmux)
    finally:
        tmux.kill()


def test_the_config_remembers_the_folder_and_settings_unless_no_config(tmp_path):
    """`kmc-tui` with no path opens the last folder with the last k; --no-config leaves
    no file and reads none."""
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(DATA / "pillow" / "hopper.png", images / "hopper.png")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config_home = tmp_path / "xdg"
    config = config_home / "kmc-tui" / "config.json"
    tmux = Tmux(100, 30)
    try:
        tmux.start([kmc_tui_command(), "--no-config", str(images)], images, config_home=config_home)
        tmux.wait_for(lambda s: "hopper.png" in s, 60, "the file list")
        tmux.keys("]")
        tmux.wait_for(lambda s: "32" in s, 10, "k=32")
        _quit(tmux)
        assert not config.exists()
        tmux.start([kmc_tui_command(), str(images)], images, config_home=config_home)
        tmux.wait_for(lambda s: "hopper.png" in s, 60, "the file list")
        tmux.keys("]")
        tmux.wait_for(lambda s: "32" in s, 10, "k=32")
        _quit(tmux)
        assert config.exists()
        # No path, started elsewhere: the last folder, the last k.
        tmux.start([kmc_tui_command()], elsewhere, config_home=config_home)
        tmux.wait_for(lambda s: "hopper.png" in s and "32" in s, 60, "the remembered state")
        _quit(tmux)
        # --no-config: neither the folder nor k comes back.
        tmux.start([kmc_tui_command(), "--no-config"], elsewhere, config_home=config_home)
        screen = tmux.wait_for(lambda s: "elsewhere" in s, 60, "the current folder")
        assert "hopper.png" not in screen and "32" not in screen
        _quit(tmux)
    finally:
        tmux.kill()
