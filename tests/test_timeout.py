"""`kmc-tui compress --timeout`: a plugin that hangs does not hang the command line.

The hanging plugins are real single-file plugins in tests/data/plugins/, loaded with
--plugin-dir. ``hang`` spins forever in pure Python and first starts a non-daemon thread that
never ends, so the command must not wait for threads at exit; ``hang_on_import`` never finishes
importing.
"""

from __future__ import annotations

import json
import shutil
import time

import numpy as np
from PIL import Image

TIMEOUT = "0.5"


def _folder(tmp_path, data):
    """a.png: a photo (the plugin runs and hangs); b.png: 3 colors (kept as is, no plugin)."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(data / "pillow" / "hopper.png", folder / "a.png")
    three = np.zeros((8, 8, 3), np.uint8)
    three[:, 3:] = (200, 30, 30)
    three[:, 6:] = (20, 20, 220)
    Image.fromarray(three).save(folder / "b.png")
    return folder


def test_hanging_plugin_times_out_and_batch_goes_on(cli, data, tmp_path):
    src = _folder(tmp_path, data)
    out = tmp_path / "out"
    started = time.monotonic()
    done = cli(
        "compress",
        "-i",
        src,
        "-o",
        out,
        "-k",
        "16",
        "--plugin",
        "hang",
        "--plugin-dir",
        data / "plugins" / "hanging",
        "--timeout",
        TIMEOUT,
        "--json",
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"kmc-tui: error: {src / 'a.png'}: plugin 'hang' timed out after {TIMEOUT} s"
    ]  # in a batch, the line names the file
    # The file after the hung one was still done; the hung one left nothing behind.
    records = [json.loads(line) for line in done.stdout.splitlines()]
    # Records come as files finish (two workers here), so in any order.
    assert sorted((r["input"], r.get("status", "done")) for r in records) == [
        (str(src / "a.png"), "failed"),  # every file gets its record, the failed one too
        (str(src / "b.png"), "done"),
    ]
    assert sorted(p.name for p in out.iterdir()) == ["b.png"]
    assert elapsed < 30  # it exited despite a spinning thread and a never-ending one


def test_single_file_timeout(cli, data, tmp_path):
    src = data / "pillow" / "hopper.png"
    out = tmp_path / "out.png"
    done = cli(
        "compress",
        "-i",
        src,
        "-o",
        out,
        "--plugin",
        "hang",
        "--param",
        "spin=no",
        "--plugin-dir",
        data / "plugins" / "hanging",
        "--timeout",
        TIMEOUT,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr == f"kmc-tui: error: plugin 'hang' timed out after {TIMEOUT} s\n"
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_plugin_that_hangs_while_importing(cli, data, tmp_path):
    out = tmp_path / "out.png"
    done = cli(
        "compress",
        "-i",
        data / "pillow" / "hopper.png",
        "-o",
        out,
        "--plugin",
        "hang_on_import",
        "--plugin-dir",
        data / "plugins" / "hanging_import",
        "--timeout",
        TIMEOUT,
        timeout=60,
    )
    # A failure at run time, as a plugin that hangs on the image (not a bad command line).
    assert done.returncode == 1
    assert done.stderr == (
        f"kmc-tui: error: loading plugin 'hang_on_import' timed out after {TIMEOUT} s\n"
    )
    assert not out.exists()


def test_timeout_leaves_working_plugins_alone(cli, data, tmp_path):
    out = tmp_path / "out.png"
    done = cli(
        "compress",
        "-i",
        data / "pillow" / "hopper.png",
        "-o",
        out,
        "-k",
        "8",
        "--plugin",
        "mediancut",
        "--timeout",
        "60",
        "--json",
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["colors"] <= 8 and out.exists()


def test_timeout_must_be_positive(cli, data, tmp_path):
    for bad in ("0", "-1", "soon", "nan", "0.0"):
        done = cli(
            "compress",
            "-i",
            data / "pillow" / "hopper.png",
            "-o",
            tmp_path / "x.png",
            "--timeout",
            bad,
        )
        assert done.returncode == 2
        assert (
            f"argument --timeout: expected a positive number of seconds, got '{bad}'" in done.stderr
        )
    assert list(tmp_path.iterdir()) == []


def test_timeout_inf_is_no_limit_and_a_tiny_one_always_fails_at_run_time(cli, data, tmp_path):
    """inf means no limit; 1e-9 is a plugin out of time (exit 1) whichever plugin it is."""
    hopper = data / "pillow" / "hopper.png"
    done = cli("compress", "-i", hopper, "-o", tmp_path / "inf.png", "-k", "4", "--timeout", "inf")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "inf.png").exists()
    for plugin in ("kmeans", "mediancut"):
        out = tmp_path / f"{plugin}.png"
        done = cli("compress", "-i", hopper, "-o", out, "--plugin", plugin, "--timeout", "1e-9")
        assert done.returncode == 1, (plugin, done.stderr)
        assert done.stderr.startswith("kmc-tui: error: ") and done.stderr.count("\n") == 1
        assert "timed out after 1e-09 s" in done.stderr
        assert not out.exists()


SLEEPY = """
import threading

from kmc_tui.registry import Quantizer

CALLS = []
RELEASE = threading.Event()  # set by the test when done, so the abandoned threads end


class Sleepy(Quantizer):
    name = "sleepy"
    description = "Waits forever without using the CPU"

    def quantize(self, hist, k, *, seed=0):
        CALLS.append(k)
        RELEASE.wait()
"""


def test_api_timeout_and_cancel_while_the_plugin_runs(tmp_path, data, request):
    import sys

    from kmc_tui import Cancelled, PluginError, PluginTimeout, Registry, process, read_image

    (tmp_path / "sleepy.py").write_text(SLEEPY)
    registry = Registry([tmp_path], use_entry_points=False, use_env=False)
    image = read_image(data / "pillow" / "hopper.png")
    registry.get("sleepy").load()
    calls = sys.modules["kmc_tui_plugin_sleepy"].CALLS
    request.addfinalizer(sys.modules["kmc_tui_plugin_sleepy"].RELEASE.set)

    # With a timeout the wait polls should_stop too, so a front end can cancel mid-plugin:
    # should_stop turns True only once the plugin is running.
    started = time.monotonic()
    try:
        process(
            image,
            8,
            plugin="sleepy",
            registry=registry,
            timeout=60,
            should_stop=lambda: bool(calls),
        )
    except Cancelled:
        pass
    else:
        raise AssertionError("not cancelled")
    assert calls == [8] and time.monotonic() - started < 10

    started = time.monotonic()
    try:
        process(image, 8, plugin="sleepy", registry=registry, timeout=0.3)
    except PluginTimeout as exc:
        assert isinstance(exc, PluginError)
        assert str(exc) == "plugin 'sleepy' timed out after 0.3 s"
    else:
        raise AssertionError("no timeout")
    assert calls == [8, 8] and time.monotonic() - started < 10
