"""The `cli` fixture's processes (forked from an interpreter with kmc-tui imported, see
cli_zygote.py) behave as a fresh `python -m kmc_tui`: same exit codes, same output, same
files, same signals. If they did not, every CLI test would be testing something else."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from conftest import _base_env, run_cli

DATA = os.path.join(os.path.dirname(__file__), "data")
HOPPER = os.path.join(DATA, "pillow", "hopper.png")
RAISING_PLUGIN = """
from kmc_tui.plugin_api import ParamSpec, Quantizer

class Raises(Quantizer):
    name = "raises"
    description = "raises on every image"
    params = ()

    def quantize(self, hist, k, *, seed=0):
        print("a plugin's print")
        raise RuntimeError("broken on purpose")
"""


def fresh(*args, cwd, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kmc_tui", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**_base_env(), **(env or {})},
        cwd=cwd,
    )


def comparable(text: str) -> str:
    """Output with the run's own figures (seconds, its folder) taken out."""
    text = re.sub(r"\d+\.\d+ s\b", "<s>", text)
    text = re.sub(r'"(\w*seconds|\w*time\w*|histogram|quantize|map|encode|stats|read|write)": '
                  r"[0-9.e-]+", r'"\1": <s>', text)  # fmt: skip
    return re.sub(r" +\d+\.\d+$", " <s>", text, flags=re.M)  # a batch table's seconds


@pytest.mark.parametrize(
    "case",
    [
        ["compress", "-i", HOPPER, "-o", "{out}/a.png", "-k", "8"],
        ["compress", "-i", HOPPER, "-o", "relative.png", "-k", "8", "--plugin", "raises"],
        ["compress", "-i", HOPPER, "-o", "{out}/a.png", "-k", "8", "--json", "--plugin", "octree"],
        ["compress", "-i", HOPPER, "-i", HOPPER, "-o", "{out}/many", "-k", "4"],
        ["compress", "-i", "{out}/missing.png", "-o", "{out}/a.png"],
        ["compress", "-i", HOPPER, "-o", "{out}/a.png", "-k", "0"],
        ["compress", "-i", HOPPER, "-o", "{out}/a.png", "--plugin", "raises", "--plugin-dir",
         "{out}"],
        ["compress", "-i", HOPPER, "-o", "{out}/a.png", "--plugin", "raises", "--plugin-dir",
         "{out}", "--debug"],
        ["plugins", "--plugin-dir", "{out}"],
        ["--help"],
    ],
    ids=["compress", "relative-env", "json", "batch", "missing", "bad-k", "plugin-raises", "debug",
         "plugins", "help"],
)  # fmt: skip
def test_the_fixture_runs_what_a_fresh_interpreter_runs(tmp_path, case):
    outputs = {}
    for way in ("fixture", "fresh"):
        folder = tmp_path / way
        folder.mkdir()
        (folder / "raises.py").write_text(RAISING_PLUGIN)
        args = [a.replace("{out}", str(folder)) for a in case]
        env = {"KMC_TUI_PLUGIN_PATH": str(folder)} if "relative.png" in args else None
        done = (run_cli if way == "fixture" else fresh)(*args, cwd=folder, env=env)
        files = {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "raises.py"
        }
        outputs[way] = (
            done.returncode,
            comparable(done.stdout.replace(str(folder), "<dir>")),
            comparable(done.stderr.replace(str(folder), "<dir>")),
            files,
        )
    assert outputs["fixture"] == outputs["fresh"]


def test_a_non_utf8_name_reaches_argv_as_python_decodes_it(tmp_path):
    name = b"caf\xe9.png"  # Latin-1: not UTF-8
    os.link(HOPPER, os.path.join(os.fsencode(tmp_path), name))
    done = run_cli("compress", "-i", name, "-o", b"out-" + name, "-k", "4", cwd=tmp_path,
                   text=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert os.path.exists(os.path.join(os.fsencode(tmp_path), b"out-" + name))


def test_a_timeout_kills_the_process_and_says_so(tmp_path):
    plugin = tmp_path / "sleeps.py"
    plugin.write_text(
        "import time\nfrom kmc_tui.plugin_api import Quantizer\n"
        "class Sleeps(Quantizer):\n    name = 'sleeps'\n    description = 'sleeps'\n"
        "    params = ()\n    def quantize(self, hist, k, *, seed=0):\n        time.sleep(60)\n"
    )
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        run_cli("compress", "-i", HOPPER, "-o", tmp_path / "a.png", "--plugin", "sleeps",
                "--plugin-dir", tmp_path, timeout=3)  # fmt: skip
    assert time.monotonic() - started < 20
    assert not (tmp_path / "a.png").exists()


def test_a_signal_ends_it_as_it_ends_a_fresh_one(tmp_path):
    """SIGTERM on the process started by the fixture gives the CLI's own exit code."""
    plugin = tmp_path / "sleeps.py"
    plugin.write_text(
        "import os, signal, time\nfrom kmc_tui.plugin_api import Quantizer\n"
        "class Sleeps(Quantizer):\n    name = 'sleeps'\n    description = 'sleeps'\n"
        "    params = ()\n    def quantize(self, hist, k, *, seed=0):\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n        time.sleep(30)\n"
    )
    args = ["compress", "-i", HOPPER, "-o", tmp_path / "a.png", "--plugin", "sleeps",
            "--plugin-dir", tmp_path]  # fmt: skip
    via_fixture = run_cli(*args, timeout=60)
    via_fresh = fresh(*map(str, args), cwd=tmp_path)
    assert via_fixture.returncode == via_fresh.returncode == 128 + signal.SIGTERM
    assert via_fixture.stderr == via_fresh.stderr
    assert not (tmp_path / "a.png").exists()
