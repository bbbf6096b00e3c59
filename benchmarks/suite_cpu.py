"""Pytest plugin: where the test suite's CPU goes, per test, per file and per fixture.

Each test's CPU is the worker's own (``time.process_time``) plus its children's
(``RUSAGE_CHILDREN``, the `kmc-tui` processes a test waits for) plus what live descendants
spent meanwhile (``/proc``: a forkserver and its batch workers, a tmux server and the app in
it). A tmux server double-forks away from the process that starts it, so its CPU would be
reaped by init and never show: each worker makes itself a child subreaper and reaps the orphans
that come to it (never a process it started with ``subprocess`` or ``multiprocessing``).

Not part of the suite; from the repository root::

    PYTHONPATH=benchmarks SUITE_CPU_OUT=/tmp/suite_cpu .venv/bin/python -m pytest -q -p suite_cpu
    python benchmarks/suite_cpu.py /tmp/suite_cpu            # the tables again, from the records
    python benchmarks/suite_cpu.py reap CMD...   # CMD's CPU with every orphan of its tree reaped

Each worker writes one JSON line per test and per fixture set-up into ``$SUITE_CPU_OUT``; the
run ends with the tables (files, tests, fixtures) on the terminal.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

_TICK = os.sysconf("SC_CLK_TCK")
_started: set[int] = set()  # pids this worker started with subprocess: never reaped here


def _own_and_children() -> float:
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + child.ru_utime + child.ru_stime


def _processes():
    """(pid, fields of /proc/<pid>/stat after the command name) of every live process."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        yield int(entry.name), stat[stat.rindex(b")") + 2 :].split()


def _descendants() -> dict[int, float]:
    """CPU seconds (own + reaped children) of every live process below this one."""
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for pid, fields in _processes():
        parent[pid] = int(fields[1])
        cpu[pid] = sum(int(v) for v in fields[11:15]) / _TICK
    me = os.getpid()
    below: dict[int, float] = {}
    for pid in cpu:
        p, seen = parent.get(pid), 0
        while p and p != me and seen < 64:
            p, seen = parent.get(p), seen + 1
        if p == me:
            below[pid] = cpu[pid]
    return below


def _reap_orphans() -> None:
    """Wait for zombie children that came here as orphans (a tmux server and what it ran)."""
    import multiprocessing.process as mp_process

    own = set(_started) | {p.pid for p in mp_process._children if p.pid}
    with _suppress():
        from multiprocessing import forkserver

        own.add(forkserver._forkserver._forkserver_pid or 0)
    me = os.getpid()
    for pid, fields in _processes():
        if pid not in own and fields[0] == b"Z" and int(fields[1]) == me:
            with _suppress():
                os.waitpid(pid, os.WNOHANG)


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return exc[0] is not None and issubclass(exc[0], Exception)


class _Meter:
    def __init__(self):
        self.cpu0 = _own_and_children()
        self.tree0 = _descendants()
        self.wall0 = time.perf_counter()

    def stop(self) -> tuple[float, float]:
        _reap_orphans()
        tree1 = _descendants()
        live = sum(v - self.tree0.get(p, 0.0) for p, v in tree1.items())
        gone = sum(v for p, v in self.tree0.items() if p not in tree1)
        cpu = _own_and_children() - self.cpu0 + live - gone
        return cpu, time.perf_counter() - self.wall0


_out = None


def pytest_configure(config):
    global _out
    folder = os.environ.get("SUITE_CPU_OUT")
    if not folder:
        return
    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    Path(folder).mkdir(parents=True, exist_ok=True)
    if not hasattr(config, "workerinput"):  # the controller, or a run without xdist
        for old in Path(folder).glob("*.jsonl"):
            old.unlink()
    _out = open(Path(folder) / f"{worker}.jsonl", "a")  # noqa: SIM115 - open for the session
    with _suppress():  # PR_SET_CHILD_SUBREAPER
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)
    real_init = subprocess.Popen.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        _started.add(self.pid)

    subprocess.Popen.__init__ = init


def _write(record: dict) -> None:
    if _out is not None:
        _out.write(json.dumps(record) + "\n")
        _out.flush()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    meter = _Meter() if _out is not None else None
    yield
    if meter is not None:
        cpu, wall = meter.stop()
        _write({"test": item.nodeid, "file": item.nodeid.split("::")[0], "cpu": cpu, "wall": wall})


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    meter = _Meter() if _out is not None else None
    yield
    if meter is not None:
        cpu, wall = meter.stop()
        _write({"fixture": fixturedef.argname, "scope": fixturedef.scope, "cpu": cpu, "wall": wall})


def pytest_sessionfinish(session):
    if _out is not None and not hasattr(session.config, "workerinput"):
        _out.close()
        print()
        print(report(Path(os.environ["SUITE_CPU_OUT"])))


def report(folder: Path, *, top: int = 25) -> str:
    tests, fixtures = [], defaultdict(lambda: [0, 0.0, 0.0])
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            r = json.loads(line)
            if "test" in r:
                tests.append(r)
            else:
                f = fixtures[r["fixture"]]
                f[0], f[1], f[2] = f[0] + 1, f[1] + r["cpu"], f[2] + r["wall"]
    files = defaultdict(lambda: [0, 0.0, 0.0])
    for r in tests:
        f = files[r["file"]]
        f[0], f[1], f[2] = f[0] + 1, f[1] + r["cpu"], f[2] + r["wall"]
    total_cpu = sum(r["cpu"] for r in tests)
    total_wall = sum(r["wall"] for r in tests)
    lines = [
        f"{len(tests)} tests: {total_cpu:.0f} CPU-s, {total_wall:.0f} s of test time (summed "
        "over workers)",
        "",
        "| file | tests | CPU s | share | test time s |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, (n, cpu, wall) in sorted(files.items(), key=lambda kv: -kv[1][1]):
        lines.append(f"| {name} | {n} | {cpu:.1f} | {cpu / total_cpu:.1%} | {wall:.1f} |")
    lines += ["", f"The {top} tests with the most CPU:", "", "| test | CPU s | time s |"]
    lines.append("|---|---:|---:|")
    for r in sorted(tests, key=lambda r: -r["cpu"])[:top]:
        lines.append(f"| {r['test']} | {r['cpu']:.1f} | {r['wall']:.1f} |")
    lines += ["", f"The {top} fixtures with the most CPU (set-up):", "", "| fixture | set-ups |"]
    lines[-1] += " CPU s | time s |"
    lines.append("|---|---:|---:|---:|")
    for name, (n, cpu, wall) in sorted(fixtures.items(), key=lambda kv: -kv[1][1])[:top]:
        lines.append(f"| {name} | {n} | {cpu:.1f} | {wall:.1f} |")
    return "\n".join(lines)


def reap(argv: list[str]) -> int:
    """Run `argv` as a child subreaper and reap every orphan of its tree; print the tree's CPU."""
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    start = time.perf_counter()
    proc = subprocess.Popen(argv)
    code = None
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        if pid == proc.pid:
            code = proc.returncode = os.waitstatus_to_exitcode(status)
    tree = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        f"whole tree: user {tree.ru_utime:.1f} s, sys {tree.ru_stime:.1f} s, "
        f"{tree.ru_utime + tree.ru_stime:.1f} CPU-s; wall {time.perf_counter() - start:.1f} s",
        file=sys.stderr,
    )
    return code or 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["reap"]:
        sys.exit(reap(sys.argv[2:]))
    print(report(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/suite_cpu")))
