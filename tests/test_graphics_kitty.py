"""A real terminal that speaks the Kitty graphics protocol: kitty under Xvfb (software GL).

As with xterm: nothing is forced, the app must find Kitty graphics by asking the terminal, and
the screenshot must hold the saved result at one image pixel per screen pixel after "1".
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from x_display import XServer, kmc_tui_command, require_tools, save_then_find_at_one_to_one

DATA = Path(__file__).resolve().parent / "data"


def test_kitty_shows_the_result_at_real_resolution(tmp_path):
    shutil.copy(DATA / "pillow" / "hopper.png", tmp_path / "hopper.png")
    require_tools("kitty")
    server = XServer(tmp_path)
    try:
        server.start_terminal(
            ["kitty", "--config", "NONE", "-o", "remember_window_size=no"]
            + ["-o", "initial_window_width=1000", "-o", "initial_window_height=700"]
            + ["-o", "window_padding_width=0", kmc_tui_command(), "tui", "hopper.png"],
            tmp_path,
            LIBGL_ALWAYS_SOFTWARE="1",  # no GPU under Xvfb: Mesa's software OpenGL
        )
        found, screen = save_then_find_at_one_to_one(server, tmp_path, time.monotonic() + 90)
        assert found is not None, f"the quantized image at 1:1 is not on {tmp_path}/screen.png"
        assert found[0] > screen.shape[1] // 3  # in the result pane, right of the original
    finally:
        server.close()
