"""A real terminal that speaks Sixel: xterm as a VT340 under Xvfb, screenshot with ImageMagick.

The app is started with nothing forced: it must find Sixel by asking xterm, and the screenshot
must hold the saved result at one image pixel per screen pixel after "1" (zoom to 1:1).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from x_display import XServer, kmc_tui_command, require_tools, save_then_find_at_one_to_one

DATA = Path(__file__).resolve().parent / "data"


def test_xterm_shows_the_result_at_real_resolution(tmp_path):
    shutil.copy(DATA / "pillow" / "hopper.png", tmp_path / "hopper.png")
    require_tools("xterm")
    server = XServer(tmp_path)
    try:
        server.start_terminal(
            ["xterm", "-ti", "vt340", "-geometry", "120x36+0+0", "-e"]
            + [kmc_tui_command(), "tui", "hopper.png"],
            tmp_path,
            TERM="xterm-256color",
        )
        found, screen = save_then_find_at_one_to_one(server, tmp_path, time.monotonic() + 90)
        assert found is not None, f"the quantized image at 1:1 is not on {tmp_path}/screen.png"
        assert found[0] > screen.shape[1] // 3  # in the result pane, right of the original
    finally:
        server.close()
