"""Shared fixtures: real files on disk and the real CLI in a subprocess."""

from __future__ import annotations

import compileall
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SAMPLES = ROOT / "samples"
# Plugin packages used as data (their own tests run inside the venvs they are installed in).
collect_ignore_glob = ["data/*"]


def pytest_configure(config):
    # Every `kmc-tui` process a test starts imports the package; with PYTHONDONTWRITEBYTECODE
    # set, Python never caches its bytecode, so each would compile it again: do it once here.
    if not hasattr(config, "workerinput"):  # the xdist controller, or a run without xdist
        compileall.compile_dir(ROOT / "kmc_tui", quiet=2)
        for plugin in ("kmc_kmeans", "kmc_mediancut", "kmc_minibatch", "kmc_palette"):
            compileall.compile_dir(ROOT / "plugins" / plugin, quiet=2)


@pytest.fixture(autouse=True)
def _no_env_plugins(monkeypatch):
    """Plugins named by the user's KMC_TUI_PLUGIN_PATH never reach a test."""
    monkeypatch.delenv("KMC_TUI_PLUGIN_PATH", raising=False)


@pytest.fixture
def data() -> Path:
    return DATA


@pytest.fixture
def samples() -> Path:
    return SAMPLES


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run_cli(*args, env=None, timeout=120, cwd=None) -> subprocess.CompletedProcess:
    """Run the real `kmc-tui` command line in a subprocess."""
    full_env = dict(os.environ)
    full_env.pop("KMC_TUI_PLUGIN_PATH", None)
    full_env.pop("DASK_SCHEDULER_ADDRESS", None)  # would send `compress` to a cluster
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "kmc_tui", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=cwd,
    )


@pytest.fixture
def cli():
    return run_cli
