"""Real terminals under Xvfb, screenshot with ImageMagick: xterm as a VT340 (Sixel) and kitty
(the Kitty graphics protocol, on Mesa's software OpenGL).

The app is started with nothing forced: it must find the protocol by asking the terminal, and
the screenshot must hold the saved result at one image pixel per screen pixel after "1" (zoom
to 1:1), in the result pane.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from x_display import XServer, kmc_tui_command, require_tools, save_then_find_at_one_to_one

DATA = Path(__file__).resolve().parent / "data"

TERMINALS = {
    "xterm": (
        ["xterm", "-ti", "vt340", "-geometry", "120x36+0+0", "-e"],
        {"TERM": "xterm-256color"},
    ),
    "kitty": (
        ["kitty", "--config", "NONE", "-o", "remember_window_size=no"]
        + ["-o", "initial_window_width=1000", "-o", "initial_window_height=700"]
        + ["-o", "window_padding_width=0"],
        {"LIBGL_ALWAYS_SOFTWARE": "1"},  # no GPU under Xvfb
    ),
}


@pytest.mark.parametrize("terminal", list(TERMINALS))
def test_a_real_terminal_shows_the_result_at_real_resolution(tmp_path, terminal):
    shutil.copy(DATA / "pillow" / "hopper.png", tmp_path / "hopper.png")
    require_tools(terminal)
    argv, env = TERMINALS[terminal]
    server = XServer(tmp_path)
    try:
        server.start_terminal([*argv, kmc_tui_command(), "tui", "hopper.png"], tmp_path, **env)
        found, screen = save_then_find_at_one_to_one(server, tmp_path, time.monotonic() + 90)
        assert found is not None, f"the quantized image at 1:1 is not on {tmp_path}/screen.png"
        assert found[0] > screen.shape[1] // 3  # in the result pane, right of the original
    finally:
        server.close()
