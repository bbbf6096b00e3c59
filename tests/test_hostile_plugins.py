"""A hostile plugin folder: each broken plugin is reported, none stops the rest.

tests/data/plugins/hostile/ holds a file that raises at import, one with a syntax error, one that
returns a palette of the wrong shape, one that never returns (on images of more than 1000
pixels), and a well-behaved one, all side by side in one folder given with --plugin-dir.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from kmc_tui.errors import PluginError, PluginTimeout
from kmc_tui.quantize import quantize
from kmc_tui.read import read_image
from kmc_tui.registry import Registry

DATA = Path(__file__).resolve().parent / "data"
HOSTILE = DATA / "plugins" / "hostile"
PHOTO = DATA / "pillow" / "hopper.png"  # 128x128: the spinning plugin spins on it
BROKEN = {
    "raises_at_import": "RuntimeError: this plugin is broken at import",
    "syntax_error": "SyntaxError",
    "wrong_shape": "palette has shape (5, 5), expected (m, 3) with 1 <= m <= 4",
    "never_returns": "timed out after 2 s",
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_listing_reports_each_broken_plugin_and_keeps_the_others(cli):
    done = cli("plugins", "--plugin-dir", HOSTILE, "--json", timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    plugins = {p["name"]: p for p in json.loads(done.stdout)}
    assert "kmeans" in plugins and plugins["kmeans"]["error"] is None
    assert plugins["most_common"]["error"] is None
    assert plugins["wrong_shape"]["error"] is None  # loads fine; its results are refused
    assert plugins["never_returns"]["error"] is None
    assert "RuntimeError: this plugin is broken at import" in plugins["raises_at_import"]["error"]
    assert "SyntaxError" in plugins["syntax_error"]["error"]
    for name in ("raises_at_import", "syntax_error"):
        assert plugins[name]["origin"] == str(HOSTILE / f"{name}.py")


def test_listing_in_text_marks_the_broken(cli):
    done = cli("plugins", "--plugin-dir", HOSTILE, timeout=60)
    assert done.returncode == 0
    assert "raises_at_import  [BROKEN]" in done.stdout
    assert "syntax_error  [BROKEN]" in done.stdout
    assert "error: RuntimeError: this plugin is broken at import" in done.stdout
    assert "most_common  (" in done.stdout and "kmeans  (" in done.stdout


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_each_hostile_plugin_is_one_clear_line(name, cli, tmp_path):
    out = tmp_path / "out.png"
    before = sha256(PHOTO)
    started = time.monotonic()
    done = cli(
        "compress",
        "-i",
        PHOTO,
        "-o",
        out,
        "-k",
        "4",
        "--plugin",
        name,
        "--plugin-dir",
        HOSTILE,
        "--timeout",
        "2",
        timeout=60,
    )
    assert time.monotonic() - started < 30
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("kmc-tui: error: ") and name in lines[0]
    assert BROKEN[name] in lines[0], lines[0]
    assert "Traceback" not in done.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert sha256(PHOTO) == before


def test_the_good_plugin_works_beside_them(cli, tmp_path):
    out = tmp_path / "out.png"
    done = cli(
        "compress",
        "-i",
        PHOTO,
        "-o",
        out,
        "-k",
        "4",
        "--plugin",
        "most_common",
        "--plugin-dir",
        HOSTILE,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    with PILImage.open(out) as im:
        assert im.mode == "P" and len(im.getcolors()) <= 4


def test_default_plugin_unharmed_by_the_hostile_folder(cli, tmp_path):
    out = tmp_path / "out.png"
    done = cli("compress", "-i", PHOTO, "-o", out, "-k", "4", "--plugin-dir", HOSTILE, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_never_returning_plugin_does_not_stop_the_next_file(cli, tmp_path):
    small = tmp_path / "in" / "small.png"
    small.parent.mkdir()
    pixels = np.zeros((10, 10, 3), np.uint8)
    for i, color in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255), (9, 9, 9), (200, 200, 0)]):
        pixels[2 * i : 2 * i + 2] = color
    PILImage.fromarray(pixels).save(small)
    out_dir = tmp_path / "out"
    started = time.monotonic()
    done = cli(
        "compress",
        "-i",
        PHOTO,
        "-i",
        small,
        "-o",
        out_dir,
        "-k",
        "2",
        "--plugin",
        "never_returns",
        "--plugin-dir",
        HOSTILE,
        "--timeout",
        "2",
        timeout=60,
    )
    assert time.monotonic() - started < 30
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kmc-tui: error: ")
    assert "'never_returns' timed out after 2 s" in lines[0]
    assert sorted(p.name for p in out_dir.iterdir()) == ["small.png"]
    with PILImage.open(out_dir / "small.png") as im:
        assert len(im.getcolors()) == 2


# --- the same through the Python API ---------------------------------------------------------


def test_registry_keeps_every_plugin_and_records_errors():
    registry = Registry([HOSTILE], use_env=False)
    names = set(registry.names())
    assert {
        "kmeans",
        "most_common",
        "wrong_shape",
        "never_returns",
        "raises_at_import",
        "syntax_error",
    } <= names
    for name in ("raises_at_import", "syntax_error"):
        with pytest.raises(PluginError, match="failed to load"):
            registry.get(name).load()
        assert registry.get(name).error
    assert registry.get("most_common").load().name == "most_common"


def test_api_refuses_a_wrong_result_and_times_out_a_hang():
    registry = Registry([HOSTILE], use_env=False)
    image = read_image(PHOTO)
    with pytest.raises(PluginError, match="invalid result"):
        quantize(image, 4, plugin="wrong_shape", registry=registry)
    started = time.monotonic()
    try:
        with pytest.raises(PluginTimeout):
            quantize(image, 4, plugin="never_returns", registry=registry, timeout=1)
        assert time.monotonic() - started < 10
    finally:
        sys.modules[registry.get("never_returns").load().__module__].RELEASE.set()
    # The abandoned thread would otherwise spin through every later test of this process.
    for thread in threading.enumerate():
        if thread.name == "kmc-tui plugin 'never_returns'":
            thread.join(5)
            assert not thread.is_alive()
    # The registry still serves the others after all that.
    q = quantize(image, 4, plugin="most_common", registry=registry)
    assert q.colors <= 4
