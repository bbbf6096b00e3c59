"""The example third-party plugin (plugins/kmc_websafe) installs with pip and is used by kmc-tui.

How the fresh virtual environment is made, and why: ``python -m venv --without-pip`` gives an
empty environment of its own; a ``.pth`` file in it then runs ``site.addsitedir`` on the running
interpreter's site-packages, so kmc-tui, numpy, pip and hatchling (the plugin's build backend,
in the ``test`` extra) come from there instead of being downloaded and installed again. Only the
example package is installed into the new environment, with ``pip install --no-index
--no-build-isolation``: no network at all, a few seconds. ``--system-site-packages`` would not do:
under CI the running interpreter is itself a virtual environment, and ``--system-site-packages``
exposes the base Python's packages, not that environment's.

The main wheel must not carry the example: the listing before the install shows no ``websafe``,
and the wheel built from this checkout is inspected directly.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "plugins" / "kmc_websafe"
OLD_PATHS = ROOT / "tests" / "data" / "plugins" / "old_paths"


def _env() -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KMC_TUI_PLUGIN_PATH", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
        and not k.startswith("PIP_")
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # leave no __pycache__ in the example's source tree
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(*args, cwd=None, timeout=180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, env=_env(), cwd=cwd, timeout=timeout
    )


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory) -> Path:
    """A new virtual environment that sees this interpreter's packages but owns none of them."""
    venv = tmp_path_factory.mktemp("venv")
    made = _run(sys.executable, "-m", "venv", "--without-pip", venv)
    assert made.returncode == 0, made.stderr
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
    own_site = Path(purelib.stdout.strip())
    assert own_site.is_dir() and venv in own_site.parents
    parents = dict.fromkeys(
        [sysconfig.get_path("purelib"), sysconfig.get_path("platlib"), *site.getsitepackages()]
    )
    # addsitedir also processes the .pth files there (editable installs of kmc-tui use one).
    (own_site / "_parent_site_packages.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in parents if os.path.isdir(p))
    )
    return python


def _plugins(python: Path) -> dict:
    listing = _run(python, "-m", "kmc_tui", "plugins", "--json")
    assert listing.returncode == 0, listing.stderr
    return {p["name"]: p for p in json.loads(listing.stdout)}


def test_example_plugin_installs_into_a_fresh_venv_and_runs(fresh_venv, tmp_path, data):
    python = fresh_venv
    before = _plugins(python)
    assert "kmeans" in before  # kmc-tui itself is visible in the new environment...
    assert "websafe" not in before  # ...and does not bring the example along

    installed = _run(
        python, "-m", "pip", "install", "--no-index", "--no-build-isolation", "--no-input", EXAMPLE
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "Successfully installed kmc-websafe-1.0.0" in installed.stdout

    after = _plugins(python)
    websafe = after["websafe"]
    assert websafe["error"] is None
    assert websafe["origin"] == "kmc-websafe 1.0.0"
    assert websafe["description"].startswith("Uniform palette")
    assert [
        (p["name"], p["type"], p["default"], p["min"], p["max"]) for p in websafe["params"]
    ] == [("levels", "int", 6, 2, 16)]
    text = _run(python, "-m", "kmc_tui", "plugins")
    assert "websafe  (kmc-websafe 1.0.0)" in text.stdout
    assert "--param levels (int, default 6, 2..16)" in text.stdout

    out = tmp_path / "hopper_websafe.png"
    done = _run(
        python,
        "-m",
        "kmc_tui",
        "compress",
        "-i",
        data / "pillow" / "hopper.png",
        "-o",
        out,
        "-k",
        "256",
        "--plugin",
        "websafe",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["plugin"] == "websafe" and record["params"] == {"levels": 6}
    with Image.open(out) as written:
        assert written.mode == "P"
        colors = np.asarray(written.convert("RGB")).reshape(-1, 3)
    # Web-safe: every channel of every pixel is a multiple of 0x33; k-means would not do that.
    assert np.all(colors % 0x33 == 0)
    assert 1 < len(np.unique(colors, axis=0)) <= 216

    coarse = _run(
        python,
        "-m",
        "kmc_tui",
        "compress",
        "-i",
        data / "pillow" / "hopper.png",
        "-o",
        tmp_path / "coarse.png",
        "-k",
        "256",
        "--plugin",
        "websafe",
        "--param",
        "levels=2",
        "--json",
    )
    assert coarse.returncode == 0, coarse.stderr
    assert json.loads(coarse.stdout)["colors"] <= 8  # 2 levels per channel: at most 2**3

    refused = _run(
        python,
        "-m",
        "kmc_tui",
        "compress",
        "-i",
        data / "pillow" / "hopper.png",
        "-o",
        tmp_path / "bad.png",
        "--plugin",
        "websafe",
        "--param",
        "levels=1",
    )
    assert refused.returncode == 2
    assert refused.stderr.strip() == "kmc-tui: error: parameter levels: 1 is below the minimum 2"
    assert not (tmp_path / "bad.png").exists()

    # The plugin's own test suite, which runs kmc-tui's conformance kit against the
    # installed package (the working directory is not the source tree).
    own_tests = _run(
        python, "-m", "pytest", "-q", "-p", "no:cacheprovider", EXAMPLE / "tests", cwd=tmp_path
    )
    assert own_tests.returncode == 0, own_tests.stdout[-3000:]
    assert "3 passed" in own_tests.stdout


def test_plugin_written_against_the_old_import_paths_installs_and_runs(fresh_venv, tmp_path, data):
    """kmc_tui.registry and kmc_tui.testing keep re-exporting what plugins first imported."""
    python = fresh_venv
    source = shutil.copytree(OLD_PATHS, tmp_path / "old_paths")  # the build leaves no trace
    for old in ("from kmc_tui.registry import", "from kmc_tui.testing import"):
        assert old in "".join(p.read_text() for p in source.rglob("*.py"))
    installed = _run(
        python, "-m", "pip", "install", "--no-index", "--no-build-isolation", "--no-input", source
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    listed = _plugins(python)["oldpaths"]
    assert listed["error"] is None and listed["origin"] == "kmc-oldpaths 0.9.0"

    out = tmp_path / "gray.png"
    done = _run(
        python, "-m", "kmc_tui", "compress", "-i", data / "pillow" / "hopper.png", "-o", out,
        "-k", "6", "--plugin", "oldpaths", "--param", "spread=0.5", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["plugin"] == "oldpaths" and record["params"] == {"spread": 0.5}
    with Image.open(out) as written:
        colors = np.asarray(written.convert("RGB")).reshape(-1, 3)
    assert np.all(colors[:, 0] == colors[:, 1]) and len(np.unique(colors, axis=0)) <= 6

    own_tests = _run(
        python, "-m", "pytest", "-q", "-p", "no:cacheprovider", source / "tests", cwd=tmp_path
    )
    assert own_tests.returncode == 0, own_tests.stdout[-3000:]
    assert "2 passed" in own_tests.stdout


def test_main_wheel_ships_the_built_ins_but_not_the_example(tmp_path):
    built = _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-index",
        "--no-build-isolation",
        "-w",
        tmp_path,
        ROOT,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = tmp_path.glob("kmc_tui-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(
            archive.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt")
        )
    tops = {n.split("/")[0] for n in names}
    assert {"kmc_tui", "kmc_kmeans", "kmc_mediancut", "kmc_minibatch"} <= tops
    assert not any("websafe" in n for n in names)
    for line in (
        "kmeans = kmc_kmeans:KMeansQuantizer",
        "mediancut = kmc_mediancut:MedianCutQuantizer",
        "octree = kmc_mediancut:OctreeQuantizer",
        "minibatch = kmc_minibatch:MiniBatchKMeansQuantizer",
    ):
        assert line in entry_points
    assert "websafe" not in entry_points
