"""The command line's edges (issue 17): no terminal, a path named like a command, and the option
values that once slipped through, each run through the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import DATA, SAMPLES
from PIL import Image as PILImage

HOPPER = DATA / "pillow" / "hopper.png"  # 128x128, 9,684 colors


def kmc(*args, cwd=None, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, timeout=60):
    """The real CLI with explicit stdin/stdout (the `cli` fixture's are pipes)."""
    env = dict(os.environ)
    env.pop("KMC_TUI_PLUGIN_PATH", None)
    return subprocess.run(
        [sys.executable, "-m", "kmc_tui", *map(str, args)],
        stdin=stdin,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("kmc-tui: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


# -- no terminal, no TUI ---------------------------------------------------------------------


@pytest.mark.parametrize("which", ["stdout", "stdin"])
def test_tui_refuses_to_start_without_a_terminal(tmp_path, which):
    """`kmc-tui samples/ > file` once drew the app into the file at 100% CPU until killed."""
    primary, secondary = os.openpty()  # the other stream is a real terminal
    try:
        started = time.monotonic()
        if which == "stdout":
            done = kmc(SAMPLES, stdin=secondary, timeout=30)
        else:
            done = kmc(SAMPLES, stdout=secondary, timeout=30)
        seconds = time.monotonic() - started
    finally:
        os.close(primary)
        os.close(secondary)
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    assert "needs a terminal" in line and "kmc-tui compress" in line
    assert seconds < 20  # refused at once, not after drawing anything
    assert list(tmp_path.iterdir()) == []


def test_options_before_a_command_name_that_is_also_a_folder(tmp_path):
    """`kmc-tui --plugin-dir D plugins` beside a folder named plugins is the plugins command."""
    (tmp_path / "plugins").mkdir()
    plugdir = tmp_path / "plugdir"
    plugdir.mkdir()
    (plugdir / "flat.py").write_text(
        "import numpy as np\n"
        "from kmc_tui.plugin_api import Quantizer, QuantizerOutput\n"
        "class Flat(Quantizer):\n"
        "    name = 'flat'\n"
        "    description = 'one gray'\n"
        "    def quantize(self, hist, k, *, seed=0):\n"
        "        return QuantizerOutput(np.full((1, 3), 128, np.uint8))\n"
    )
    for argv in (
        ["--plugin-dir", plugdir, "plugins"],
        [f"--plugin-dir={plugdir}", "plugins"],
        ["plugins", "--plugin-dir", plugdir],
    ):
        done = kmc(*argv, cwd=tmp_path, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "flat  (" in done.stdout and "kmeans" in done.stdout
    # The script's form with the option first is compress, not a TUI on a path.
    out = tmp_path / "out.png"
    done = kmc("--plugin-dir", plugdir, "-i", HOPPER, "-o", out, "--plugin", "flat", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with PILImage.open(out) as im:
        assert np.unique(np.asarray(im.convert("RGB")).reshape(-1, 3), axis=0).tolist() == [
            [128, 128, 128]
        ]


# -- the option values of issue 17 -----------------------------------------------------------


@pytest.mark.parametrize("fmt", ["webp", "jpg"])
def test_k_above_256_with_dither_is_a_result_not_a_traceback(tmp_path, cli, fmt):
    out = tmp_path / f"out.{fmt}"
    done = cli("compress", "-i", HOPPER, "-o", out, "-k", "257", "--dither", "--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    record = json.loads(done.stdout)
    assert any("dithering skipped" in note for note in record["notes"])
    with PILImage.open(out) as im:
        assert im.size == (128, 128)
    if fmt == "webp":  # lossless: the file holds the 257 colors it reports
        with PILImage.open(out) as im:
            written = len(np.unique(np.asarray(im.convert("RGB")).reshape(-1, 3), axis=0))
        assert record["colors"] == written == 257


@pytest.mark.parametrize("plugin", ["kmeans", "mediancut", "octree", "minibatch"])
@pytest.mark.parametrize("seed", ["-1", "4294967296", "1.5", "x"])
def test_seed_out_of_range_is_refused_the_same_for_every_plugin(tmp_path, cli, plugin, seed):
    done = cli(
        "compress", "-i", HOPPER, "-o", tmp_path / "o.png", "--plugin", plugin, "--seed", seed
    )
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    assert "argument --seed" in line and "4294967295" in line
    assert list(tmp_path.iterdir()) == []


def test_largest_seed_works(tmp_path, cli):
    out = tmp_path / "o.png"
    done = cli("compress", "-i", HOPPER, "-o", out, "-k", "4", "--seed", "4294967295")
    assert done.returncode == 0, done.stderr
    assert out.exists()


def test_seed_is_checked_by_the_api_too(tmp_path):
    from kmc_tui import compress
    from kmc_tui.errors import ParameterError

    for plugin in ("kmeans", "mediancut"):
        with pytest.raises(ParameterError, match="seed must be between 0 and 4294967295"):
            compress(HOPPER, tmp_path / "o.png", 4, plugin=plugin, seed=-1)
    assert list(tmp_path.iterdir()) == []


def partially_transparent(path, size=(48, 32)):
    """Color noise under an alpha ramp 0..255: every alpha level, many colors."""
    rng = np.random.default_rng(7)
    h, w = size[1], size[0]
    rgba = np.empty((h, w, 4), np.uint8)
    rgba[..., :3] = rng.integers(0, 256, (h, w, 3))
    rgba[..., 3] = np.linspace(0, 255, w * h).reshape(h, w).round()
    PILImage.fromarray(rgba, "RGBA").save(path)
    return path


def decoded_colors(path) -> int:
    """Distinct RGBA colors a decoder shows, every fully transparent pixel counted as one."""
    with PILImage.open(path) as im:
        rgba = np.asarray(im.convert("RGBA")).reshape(-1, 4).copy()
    rgba[rgba[:, 3] == 0] = 0
    return len(np.unique(rgba, axis=0))


@pytest.mark.parametrize("k", [3, 255])
@pytest.mark.parametrize("plugin", ["kmeans", "octree"])
def test_gif_colors_are_the_colors_written(tmp_path, cli, k, plugin):
    """GIF holds on/off transparency: `colors` once counted the palette before that (3 reported,
    2 written; 255 reported, 129 written)."""
    src = partially_transparent(tmp_path / "in.png")
    out = tmp_path / "out.gif"
    done = cli("compress", "-i", src, "-o", out, "-k", k, "--plugin", plugin, "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["colors"] == decoded_colors(out)
    # Every entry the plugin made is one the file keeps (octree may make fewer than k).
    assert record["colors"] == k if plugin == "kmeans" else 0.95 * k <= record["colors"] <= k
    assert any("transparency on or off" in note for note in record["notes"])


@pytest.mark.parametrize("command", ["compress", "plugins", "tui"])
def test_plugin_dir_that_does_not_exist_is_refused(tmp_path, cli, command):
    missing = tmp_path / "nonexistent"
    args = {
        "compress": ["-i", HOPPER, "-o", tmp_path / "o.png"],
        "plugins": [],
        "tui": [SAMPLES],
    }[command]
    done = cli(command, "--plugin-dir", missing, *args)
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    assert f"argument --plugin-dir: {missing}: no such folder" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv, says",
    [
        (["compress", "-o", "o.png"], "no input"),  # without -o results go beside inputs
        (["compress", "-i", HOPPER, "-o", "o.png", "-k", "many"], "argument -k/--colors"),
        (["compress", "-i", HOPPER, "-o", "o.png", "--format", "bmp"], "argument --format"),
        (["compress", "-i", HOPPER, "-o", "o.png", "--param", "oops"], "argument --param"),
        (["compress", "-i", HOPPER, "-o", "o.png", "--bogus"], "unrecognized arguments"),
        (["compress", "-i", HOPPER, "-o", "o.png", "-k", "300"], "k=300 is too large"),
        (["compress", "-i", HOPPER, "-o", "o.png", "--plugin", "nope"], "nope"),
        (["plugins", "--timeout", "0"], "argument --timeout"),
        (["frobnicate"], "no such file or folder"),
    ],
)
def test_every_refusal_has_one_prefix_and_one_line(tmp_path, cli, argv, says):
    done = cli(*argv, cwd=tmp_path)
    assert done.returncode == 2
    assert says in one_error_line(done.stderr)
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_help_and_version_still_answer(cli):
    assert cli("--version").returncode == 0
    done = cli("compress", "--help")
    assert done.returncode == 0 and "--seed" in done.stdout and "0..4294967295" in done.stdout
