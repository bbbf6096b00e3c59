"""Shared fixtures: real files on disk and the real CLI in a subprocess."""

from __future__ import annotations

import compileall
import gc
import hashlib
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cli_zygote import Zygote

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SAMPLES = ROOT / "samples"
# OpenMP threads (scikit-learn's k-means) wait for the next parallel region by spinning, by
# default: with a worker per core and one more, that spinning takes the CPU the other workers
# wait for. Read when OpenMP loads, after this (the CLI tests' server and children inherit it).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Plugin packages used as data (their own tests run inside the venvs they are installed in).
collect_ignore_glob = ["data/*"]


def pytest_configure(config):
    # Every `kmc-tui` process a test starts imports the package; with PYTHONDONTWRITEBYTECODE
    # set, Python never caches its bytecode, so each would compile it again: do it once here.
    if not hasattr(config, "workerinput"):  # the xdist controller, or a run without xdist
        compileall.compile_dir(ROOT / "kmc_tui", quiet=2)
        for plugin in ("kmc_kmeans", "kmc_mediancut", "kmc_minibatch", "kmc_palette"):
            compileall.compile_dir(ROOT / "plugins" / plugin, quiet=2)
        if (getattr(config.option, "numprocesses", None) or 0) > 1:
            _rewrite_test_modules_once(config)


def _rewrite_test_modules_once(config) -> None:
    """Rewrite the asserts of every test module once, into pytest's cache of rewritten modules.

    Each xdist worker collects every module, and they all start at once: with an empty cache
    (a fresh clone, or PYTHONDONTWRITEBYTECODE, under which pytest caches nothing) each would
    rewrite them all. This uses pytest's own rewriting and cache format; where those are not
    what this expects, nothing is written and the workers rewrite as they always do.
    """
    try:
        from _pytest.assertion import rewrite

        if config.getoption("assertmode") != "rewrite":
            return
        state = config.stash[rewrite.assertstate_key]
        todo = []
        for source in sorted(Path(__file__).parent.glob("test_*.py")):
            cache = rewrite.get_cache_dir(source)
            pyc = cache / (source.name[:-3] + rewrite.PYC_TAIL)
            if rewrite._read_pyc(source, pyc, state.trace) is None and rewrite.try_makedirs(cache):
                todo.append((source, pyc))
        if not todo:
            return

        def rewrite_and_write(part):
            for source, pyc in part:
                stat, code = rewrite._rewrite_test(source, config)
                rewrite._write_pyc(state, code, stat, pyc)

        # Half in a forked child: the workers have not started, so both cores are free.
        halves = [todo[0::2], todo[1::2]]
        pid = os.fork()
        if pid == 0:
            try:
                rewrite_and_write(halves[1])
            finally:
                os._exit(0)
        try:
            rewrite_and_write(halves[0])
        finally:
            os.waitpid(pid, 0)
    except Exception:  # noqa: BLE001 - a pytest whose internals differ: workers do it
        return


def pytest_xdist_auto_num_workers(config):
    """`-n auto`: a worker per core and one more. Part of the suite's time is spent waiting
    (for a subprocess, a terminal, a timer); the extra worker fills those gaps."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist reads it
    return len(os.sched_getaffinity(0)) + 1


def pytest_collection_finish(session):
    """Freeze what every test of this process shares (modules, the collected tests): the
    collector's full passes then walk only what tests make. The pilot tests allocate a lot, and
    full passes over everything took a large share of their CPU (docs/performance.md). The app
    leaves a collector with frozen objects to whatever runs it (`freeze_long_lived`)."""
    import kmc_kmeans

    kmc_kmeans.lloyd_kernels()  # scikit-learn's modules, imported by the first k-means
    gc.collect()
    gc.freeze()


try:
    # Textual keeps the styles caches of its last 1024 widgets in an ``lru_cache`` on
    # ``StylesCache.get_inner_outer`` (each with its rendered lines): across the tests of one
    # process, those of ended apps, which every full pass of the collector walks again.
    from textual._styles_cache import StylesCache

    _forget_styles_caches = StylesCache.get_inner_outer.cache_clear
except (ImportError, AttributeError):  # a Textual without that cache: nothing to forget
    _forget_styles_caches = None


#: Threads that tests left running: ident -> (test, thread name, native id, its CPU-s then).
_left_threads: dict[int, tuple[str, str, int, float]] = {}
#: CPU a left thread may take after its test ended (an app's job finishing after the app did).
LEFT_THREAD_CPU_SECONDS = 1.0


def _thread_cpu(native_id: int) -> float | None:
    try:
        with open(f"/proc/self/task/{native_id}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(autouse=True)
def _no_busy_threads_left(request):
    """A thread a test leaves behind (a plugin the timeout abandoned) must not keep computing:
    it would hold the GIL and the CPU through every later test of this process, as one once
    did (docs/performance.md). The test during which it passes the limit fails."""
    before = {thread.ident for thread in threading.enumerate()}
    yield
    if not os.path.isdir("/proc/self/task"):
        return
    busy = []
    alive = {thread.ident for thread in threading.enumerate()}
    for ident, (test, name, native_id, cpu) in list(_left_threads.items()):
        now = _thread_cpu(native_id)
        if now is None or ident not in alive:
            del _left_threads[ident]
        elif now - cpu > LEFT_THREAD_CPU_SECONDS:
            busy.append(
                f"{name!r}, left by {test}, took {now - cpu:.1f} CPU-s after that test ended"
            )
            del _left_threads[ident]
    for thread in threading.enumerate():
        if thread.ident not in before and thread.native_id is not None:
            cpu = _thread_cpu(thread.native_id)
            if cpu is not None:
                _left_threads[thread.ident] = (
                    request.node.nodeid,
                    thread.name,
                    thread.native_id,
                    cpu,
                )
    assert not busy, "a thread left by an earlier test keeps computing: " + "; ".join(busy)


@pytest.fixture(autouse=True)
def _forget_ended_apps():
    yield
    if _forget_styles_caches is not None:
        _forget_styles_caches()


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


_zygote: Zygote | None = None
_zygote_lock = threading.Lock()


def _base_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("KMC_TUI_PLUGIN_PATH", None)
    env.pop("DASK_SCHEDULER_ADDRESS", None)  # would send `compress` to a cluster
    return env


def run_cli(*args, env=None, timeout=120, cwd=None, text=True) -> subprocess.CompletedProcess:
    """Run the real `kmc-tui` command line (`python -m kmc_tui ARGS`) in a subprocess.

    The subprocess is forked from a server that has imported kmc-tui and its libraries already
    (tests/cli_zygote.py), unless `env` changes what is read at import time.
    """
    global _zygote
    full_env = _base_env()
    full_env.update(env or {})
    args = [a if isinstance(a, bytes) else str(a) for a in args]
    with _zygote_lock:
        if _zygote is None:
            _zygote = Zygote(_base_env())
    if _zygote.suits(full_env):
        return _zygote.run(args, env=full_env, cwd=cwd, timeout=timeout, text=text)
    return subprocess.run(
        [sys.executable, "-m", "kmc_tui", *args],
        capture_output=True,
        text=text,
        timeout=timeout,
        env=full_env,
        cwd=cwd,
    )


@pytest.fixture
def cli():
    return run_cli


def pytest_unconfigure(config):
    if _zygote is not None:
        _zygote.close()
