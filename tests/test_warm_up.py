"""Quantizer.warm_up: the CLI runs it in a background thread while the image is read.

The plugins here are single files written to a temporary folder and given with --plugin-dir.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image as PILImage

PHOTO = Path(__file__).resolve().parent / "data" / "pillow" / "hopper.png"

_PLUGIN = """
import threading

import numpy as np

from kmc_tui.registry import Quantizer, QuantizerOutput

WARMED = threading.Event()
WARMED_IN_MAIN_THREAD = []


class {cls}(Quantizer):
    name = "{name}"
    description = "most common colors; checks that warm_up ran"

    @classmethod
    def warm_up(cls):
        WARMED_IN_MAIN_THREAD.append(threading.current_thread() is threading.main_thread())
        WARMED.set()
        {warm_up_body}

    def quantize(self, hist, k, *, seed=0):
        if not WARMED.wait(30):
            raise RuntimeError("warm_up was never called")
        if any(WARMED_IN_MAIN_THREAD):
            raise RuntimeError("warm_up ran in the main thread")
        return QuantizerOutput(hist.colors[np.argsort(-hist.counts, kind="stable")[:k]])
"""


def _write_plugin(folder: Path, name: str, warm_up_body: str = "pass") -> Path:
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.py").write_text(
        _PLUGIN.format(cls=name.title().replace("_", ""), name=name, warm_up_body=warm_up_body)
    )
    return folder


def test_compress_runs_the_plugins_warm_up_in_a_background_thread(cli, tmp_path):
    plugins = _write_plugin(tmp_path / "plugins", "warmed")
    out = tmp_path / "out.png"
    done = cli(
        "compress", "-i", PHOTO, "-o", out, "-k", 8, "--plugin", "warmed", "--plugin-dir", plugins
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    with PILImage.open(out) as img:
        assert len(img.getcolors()) == 8


def test_a_failing_warm_up_is_ignored(cli, tmp_path):
    plugins = _write_plugin(
        tmp_path / "plugins", "cold", warm_up_body='raise RuntimeError("warm-up failed")'
    )
    out = tmp_path / "out.png"
    done = cli(
        "compress", "-i", PHOTO, "-o", out, "-k", 8, "--plugin", "cold", "--plugin-dir", plugins
    )
    assert done.returncode == 0, done.stderr
    assert "warm-up failed" not in done.stderr and done.stderr == ""
    with PILImage.open(out) as img:
        assert len(img.getcolors()) == 8
