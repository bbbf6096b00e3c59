"""How the core runs plugin code: stdout kept for the CLI's own output, a plugin's failure in one
line (its traceback with --debug and on its record), and the should_stop cancellation hook.

The plugins are single files written to a temporary folder and used through the real CLI in a
subprocess, or through the Python API.
"""

from __future__ import annotations

import json
import pickle
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from kmc_tui import (
    Cancelled,
    PluginError,
    PluginTimeout,
    Registry,
    as_image,
    compress,
    process,
    read_image,
)
from kmc_tui.plugin_api import ColorHistogram
from kmc_tui.stats import Stats

PHOTO = Path(__file__).resolve().parent / "data" / "pillow" / "hopper.png"

NOISY = """
import ctypes, os, sys, threading, time
import numpy as np
from kmc_tui.plugin_api import Quantizer, QuantizerOutput

print("printed at import")
libc = ctypes.CDLL(None)
FROM_C = b"written to fd 1 from C\\n"
FROM_THREAD = b"written to fd 1 from C by a thread\\n"


def chatter():
    for _ in range(100):  # goes on after quantize() has returned, as an abandoned thread would
        print("printed by a thread", flush=True)
        libc.write(1, FROM_THREAD, len(FROM_THREAD))
        time.sleep(0.005)


class Noisy(Quantizer):
    name = "noisy"
    description = "prints, and writes to file descriptor 1, while it works"

    def quantize(self, hist, k, *, seed=0):
        print("printed by quantize")
        sys.stdout.write("no newline, in the buffer")
        libc.write(1, FROM_C, len(FROM_C))
        os.write(1, b"os.write to fd 1\\n")
        threading.Thread(target=chatter, daemon=True).start()
        time.sleep(0.05)
        return QuantizerOutput(hist.colors[np.argsort(-hist.counts, kind="stable")[:k]].copy())
"""

RAISES = """
from kmc_tui.plugin_api import Quantizer


def deep_inside(hist):
    raise ZeroDivisionError("the plugin divided by zero\\nand said more on a second line")


class Raises(Quantizer):
    name = "raises"
    description = "always raises, from a helper"

    def quantize(self, hist, k, *, seed=0):
        return deep_inside(hist)
"""

BARE_ARRAY = """
import numpy as np
from kmc_tui.plugin_api import Quantizer


class BareArray(Quantizer):
    name = "bare_array"
    description = "returns a bare palette array, not a QuantizerOutput"

    def quantize(self, hist, k, *, seed=0):
        return hist.colors[:k].copy()
"""


def _plugins(tmp_path: Path, **sources: str) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir(exist_ok=True)
    for name, source in sources.items():
        (folder / f"{name}.py").write_text(source)
    return folder


# --- stdout belongs to the CLI ----------------------------------------------------------------


@pytest.mark.parametrize("batch", [False, True], ids=["one file", "batch"])
def test_plugin_output_never_reaches_the_json_on_stdout(cli, tmp_path, batch):
    folder = _plugins(tmp_path, noisy=NOISY)
    inputs = ["-i", PHOTO] + (["-i", PHOTO.with_name("hopper.jpg")] if batch else [])
    out = tmp_path / ("out" if batch else "out.png")
    done = cli(
        "compress", *inputs, "-o", out, "-k", 8, "--plugin", "noisy", "--plugin-dir", folder,
        "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]  # nothing else in there
    assert len(records) == (2 if batch else 1) and all(r["plugin"] == "noisy" for r in records)
    # What the plugin wrote went to stderr instead, Python and C alike.
    for said in ("printed at import", "printed by quantize", "written to fd 1 from C"):
        assert said in done.stderr
    assert "os.write to fd 1" in done.stderr and "no newline, in the buffer" in done.stderr


def test_plugin_output_never_reaches_the_plugins_listing(cli, tmp_path):
    folder = _plugins(tmp_path, noisy=NOISY)
    done = cli("plugins", "--json", "--plugin-dir", folder)
    assert done.returncode == 0, done.stderr
    listing = {p["name"]: p for p in json.loads(done.stdout)}
    assert listing["noisy"]["error"] is None
    assert "printed at import" in done.stderr


def test_in_process_main_gives_stdout_back(tmp_path, capfd):
    from kmc_tui.cli import main

    # Without the lingering thread: once main() returns, stdout is the caller's again.
    folder = _plugins(
        tmp_path,
        noisy=NOISY.replace("threading.Thread(target=chatter, daemon=True).start()", "pass"),
    )
    code = main(
        ["compress", "-i", str(PHOTO), "-o", str(tmp_path / "o.png"), "-k", "4",
         "--plugin", "noisy", "--plugin-dir", str(folder), "--json"]
    )  # fmt: skip
    assert code == 0
    captured = capfd.readouterr()
    assert json.loads(captured.out)["k"] == 4  # the record, alone
    assert "printed by quantize" in captured.err and "written to fd 1 from C" in captured.err
    print("after main")  # file descriptor 1 is stdout again
    assert capfd.readouterr().out.startswith("after main")


# --- a plugin's failure: one line, its traceback on request -----------------------------------


def test_plugin_exception_is_one_line_and_its_traceback_comes_with_debug(cli, tmp_path):
    folder = _plugins(tmp_path, raises=RAISES)
    args = ["compress", "-i", PHOTO, "-o", tmp_path / "o.png", "--plugin", "raises",
            "--plugin-dir", folder]  # fmt: skip
    quiet = cli(*args)
    assert quiet.returncode == 1
    assert quiet.stderr.splitlines() == [
        "kmc-tui: error: plugin 'raises' failed: ZeroDivisionError: the plugin divided by zero"
    ]
    loud = cli(*args, "--debug")
    assert loud.returncode == 1
    lines = loud.stderr.splitlines()
    assert lines[0] == quiet.stderr.splitlines()[0]
    assert lines[1] == "Traceback (most recent call last):"
    assert any("in deep_inside" in line for line in lines)  # the plugin's own frames
    assert lines[-2:] == [
        "ZeroDivisionError: the plugin divided by zero",
        "and said more on a second line",
    ]
    assert not (tmp_path / "o.png").exists()


def test_plugin_import_error_traceback_with_debug_in_the_listing(cli, tmp_path):
    folder = _plugins(tmp_path, broken="import os\nos.path.join(None)\n")
    quiet = cli("plugins", "--plugin-dir", folder)
    assert "    error: TypeError: " in quiet.stdout and "Traceback" not in quiet.stdout
    loud = cli("plugins", "--plugin-dir", folder, "--debug")
    assert "      Traceback (most recent call last):" in loud.stdout
    assert str(folder / "broken.py") in loud.stdout  # the plugin's file and line
    listed = {
        p["name"]: p for p in json.loads(cli("plugins", "--json", "--plugin-dir", folder).stdout)
    }
    assert "Traceback" in listed["broken"]["traceback"] and listed["kmeans"]["traceback"] is None


def test_plugin_error_carries_its_traceback_and_the_record_keeps_the_last(tmp_path):
    registry = Registry([_plugins(tmp_path, raises=RAISES, bare_array=BARE_ARRAY)], use_env=False)
    image = as_image(np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8))
    with pytest.raises(PluginError) as info:
        process(image, 4, plugin="raises", registry=registry)
    error = info.value
    assert str(error) == "plugin 'raises' failed: ZeroDivisionError: the plugin divided by zero"
    assert "in deep_inside" in error.traceback
    record = registry.get("raises")
    assert record.last_error == str(error) and record.last_traceback == error.traceback
    assert record.error is None  # it loads: only this run failed
    # A PluginError crosses process boundaries (batches) with its traceback.
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) and copy.traceback == error.traceback


def test_a_bare_array_is_refused_by_the_runtime_as_by_the_kit(cli, tmp_path):
    folder = _plugins(tmp_path, bare_array=BARE_ARRAY)
    done = cli("compress", "-i", PHOTO, "-o", tmp_path / "o.png", "-k", 4,
               "--plugin", "bare_array", "--plugin-dir", folder)  # fmt: skip
    assert done.returncode == 1 and not (tmp_path / "o.png").exists()
    assert done.stderr.splitlines() == [
        "kmc-tui: error: plugin 'bare_array' returned an invalid result: "
        "a ndarray, not a QuantizerOutput"
    ]
    registry = Registry([folder], use_env=False)
    with pytest.raises(PluginError):
        process(read_image(PHOTO), 4, plugin="bare_array", registry=registry)
    assert registry.get("bare_array").last_error.endswith("a ndarray, not a QuantizerOutput")
    assert registry.get("bare_array").last_traceback is None


# --- the cancellation hook --------------------------------------------------------------------

HOOKED = """
import threading
import numpy as np
from kmc_tui.plugin_api import Cancelled, Quantizer, QuantizerOutput

SEEN = []
STOPPED = threading.Event()


class Hooked(Quantizer):
    name = "hooked"
    description = "polls should_stop every 10 ms for up to 30 s, then gives the common colors"

    def quantize(self, hist, k, *, seed=0, should_stop=None):
        SEEN.append(should_stop)
        for _ in range(3000):
            if should_stop():
                STOPPED.set()
                raise Cancelled("stopped at a pass")
            if hist.total < 1000:
                break
            threading.Event().wait(0.01)
        return QuantizerOutput(hist.colors[np.argsort(-hist.counts, kind="stable")[:k]].copy())
"""

UNHOOKED = """
import numpy as np
from kmc_tui.plugin_api import Quantizer, QuantizerOutput

CALLS = []


class Unhooked(Quantizer):
    name = "unhooked"
    description = "an older plugin: no should_stop, takes **params"

    def quantize(self, hist, k, *, seed=0, **params):
        CALLS.append(params)
        return QuantizerOutput(hist.colors[np.argsort(-hist.counts, kind="stable")[:k]].copy())
"""


@pytest.fixture
def hook_registry(tmp_path):
    return Registry([_plugins(tmp_path, hooked=HOOKED, unhooked=UNHOOKED)], use_env=False)


def _module(registry: Registry, name: str):
    import sys

    registry.get(name).load()
    return sys.modules[f"kmc_tui_plugin_{name}"]


def test_should_stop_reaches_plugins_that_name_it_and_only_them(hook_registry):
    small = as_image(np.random.default_rng(2).integers(0, 256, (20, 20, 3), dtype=np.uint8))
    process(small, 4, plugin="hooked", registry=hook_registry)
    process(small, 4, plugin="unhooked", registry=hook_registry)
    (stop,) = _module(hook_registry, "hooked").SEEN
    assert callable(stop) and stop() is False  # a callable even when nothing asks to stop
    assert _module(hook_registry, "unhooked").CALLS == [{}]  # no should_stop among its params


def test_a_cancelled_request_stops_the_plugin_at_its_next_pass(hook_registry):
    big = as_image(np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        process(big, 8, plugin="hooked", registry=hook_registry, should_stop=cancel.is_set)
    assert time.monotonic() - started < 10  # not the plugin's 30 s
    assert _module(hook_registry, "hooked").STOPPED.is_set()


def test_a_timeout_stops_a_plugin_with_the_hook_instead_of_abandoning_it(hook_registry):
    big = as_image(np.random.default_rng(4).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    with pytest.raises(PluginTimeout, match="plugin 'hooked' timed out after 0.3 s"):
        process(big, 8, plugin="hooked", registry=hook_registry, timeout=0.3)
    # The thread left behind saw the deadline and stopped itself.
    assert _module(hook_registry, "hooked").STOPPED.wait(10)
    assert "timed out" in hook_registry.get("hooked").last_error


# --- Stats ------------------------------------------------------------------------------------


def test_stats_are_immutable_and_as_dict_is_the_cli_record(cli, tmp_path):
    result = compress(PHOTO, tmp_path / "api.png", 8)
    stats = result.stats
    with pytest.raises(TypeError):
        stats.seconds["write"] = 0.0
    with pytest.raises(TypeError):
        stats.params["color_space"] = "rgb"
    assert set(stats.seconds) == {
        "read",
        "histogram",
        "quantize",
        "map",
        "encode",
        "stats",
        "write",
    }
    assert pickle.loads(pickle.dumps(stats)) == stats
    assert isinstance(stats, Stats) and stats.output == str(tmp_path / "api.png")
    done = cli("compress", "-i", PHOTO, "-o", tmp_path / "cli.png", "-k", 8, "--json")
    record = json.loads(done.stdout)
    ours = stats.as_dict()
    assert list(record) == list(ours)  # one builder: the same keys in the same order
    timing = {"seconds", "stage_seconds"}
    for key in set(record) - timing - {"output"}:
        assert record[key] == ours[key], key
    assert set(record["stage_seconds"]) == set(ours["stage_seconds"])


@pytest.mark.parametrize("name", ["mediancut", "octree", "minibatch"])
def test_built_ins_with_the_hook_stop_when_asked(name):
    cls = Registry(use_env=False).get(name).load()
    colors = np.random.default_rng(5).integers(0, 256, (5000, 3), dtype=np.uint8)
    hist = ColorHistogram(colors, np.ones(len(colors), np.int64))
    asked = []

    def stop() -> bool:
        asked.append(True)
        return True

    with pytest.raises(Cancelled):
        cls().quantize(hist, 16, should_stop=stop)
    assert asked
    assert len(cls().quantize(hist, 16, should_stop=lambda: False).palette) <= 16
