"""Benchmark: files per second of a batch, kmc-tui against parallel pngquant, and peak memory.

Makes 24 real photos of 0.3-1 MP deterministically in benchmarks/work/batch/ (gitignored):
crops of the two photos in benchmarks/photos/ (Hubble's deep field, a retina) and the photos of
samples/ side by side in pairs, all written as PNG (what every tool reads). Then, in rounds that
interleave the tools so that load from elsewhere falls on all alike, at k=64:

- ``kmc-tui compress -k 64 -o OUT --jobs 1 photos/*.png`` and the same with ``--jobs 2``
- ``xargs -P 2 -n 1 pngquant --nofs 64`` (two pngquant processes at a time), and
  ``xargs -P 2 pngquant --nofs 64`` as typed (xargs then starts one pngquant for all files)
- ``kmc-tui compress … --dask ADDRESS`` on a ``dask scheduler`` with two ``dask worker
  --nthreads 1`` processes on 127.0.0.1, started here once (warm after the first round), in
  this benchmark's own session like every other command: on a busy machine Linux gives each
  session (autogroup) an equal share of the CPU, whatever its number of processes

Files per second are 24 / wall seconds of the whole command (start-up included), medians of the
rounds. Peak memory is sampled every 20 ms over the command's process tree (and the Dask
workers): the largest sum, and the largest single process. Then memory against the number of
files: ``--jobs 2`` over 24 and over 2,400 small photos (160x120 crops), peak of the parent and
of the largest worker.

Not part of the test suite. Run from the repository root with the environment that has kmc-tui
and its ``dask`` extra:

    python benchmarks/batch_throughput.py              # 3 rounds, the memory runs, the table
    python benchmarks/batch_throughput.py --rounds 1 --no-memory --no-write

The table goes to stdout and, unless --no-write, into docs/performance.md (its own section).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "work" / "batch"
PHOTOS = ROOT / "benchmarks" / "photos"
SAMPLES = ROOT / "samples"
DOC = ROOT / "docs" / "performance.md"
SECTION = "## Batch throughput: worker processes, Dask and parallel pngquant"
K = 64
FILES = 24


# -- the photos ----------------------------------------------------------------------------------


def crops(path: Path, boxes) -> list[Image.Image]:
    with Image.open(path) as im:
        rgb = im.convert("RGB")
        return [rgb.crop(box) for box in boxes]


def photo_set() -> list[Image.Image]:
    """24 photos of 0.3-1 MP, the same every time."""
    images = []
    # Hubble deep field (1000x872): the whole of it and five crops.
    images += crops(
        PHOTOS / "hubble_deep_field.jpg",
        [
            (0, 0, 1000, 872),
            (0, 0, 800, 600),
            (200, 272, 1000, 872),
            (100, 100, 900, 700),
            (0, 272, 720, 872),
            (280, 0, 1000, 540),
        ],
    )
    # The retina (1411x1411): eight crops across the eye.
    boxes = []
    for i in range(8):
        x, y = 120 + (i % 4) * 150, 150 + (i // 4) * 380
        w, h = (800, 600) if i % 2 == 0 else (960, 720)
        boxes.append((x, y, min(x + w, 1411), min(y + h, 1411)))
    images += crops(PHOTOS / "retina.jpg", boxes)
    # The photos of samples/ side by side at a common height: pairs, and the small chelsea
    # with two others.
    opened = {
        n: Image.open(SAMPLES / n).convert("RGB")
        for n in ["astronaut.png", "coffee.png", "rocket.jpg", "camera.png", "chelsea.png"]
    }
    groups = [
        ("astronaut.png", "coffee.png"),
        ("astronaut.png", "rocket.jpg"),
        ("astronaut.png", "camera.png"),
        ("coffee.png", "rocket.jpg"),
        ("coffee.png", "camera.png"),
        ("rocket.jpg", "camera.png"),
        ("chelsea.png", "astronaut.png", "coffee.png"),
        ("chelsea.png", "rocket.jpg", "camera.png"),
        ("chelsea.png", "coffee.png", "rocket.jpg"),
        ("chelsea.png", "astronaut.png", "camera.png"),
    ]
    for group in groups:
        parts = [opened[n] for n in group]
        h = min(p.height for p in parts)
        row = Image.new("RGB", (sum(p.width for p in parts), h))
        x = 0
        for part in parts:
            row.paste(part.crop((0, 0, part.width, h)), (x, 0))
            x += part.width
        images.append(row)
    assert len(images) == FILES, len(images)
    return images


def make_photos() -> tuple[Path, list[Path]]:
    folder = WORK / "photos"
    paths = [folder / f"photo{i:02d}.png" for i in range(FILES)]
    if not all(p.exists() for p in paths):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for path, image in zip(paths, photo_set(), strict=True):
            image.save(path)
    for path in paths:
        with Image.open(path) as im:
            assert 0.29e6 <= im.width * im.height <= 1.0e6, (path, im.size)
    return folder, paths


def make_small_photos(count: int) -> list[Path]:
    """`count` distinct 160x120 crops of the photos above (for memory against file count)."""
    folder = WORK / f"small{count}"
    paths = [folder / f"s{i:05d}.png" for i in range(count)]
    if not all(p.exists() for p in paths):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        sources = [np.asarray(Image.open(p)) for p in sorted((WORK / "photos").glob("*.png"))]
        for i, path in enumerate(paths):
            src = sources[i % len(sources)]
            y = (i * 7) % (src.shape[0] - 120)
            x = (i * 13) % (src.shape[1] - 160)
            Image.fromarray(src[y : y + 120, x : x + 160]).save(path)
    return paths


# -- running and measuring -----------------------------------------------------------------------


class TreeMemory:
    """Peak resident memory of a process tree (and extra processes), sampled every 20 ms."""

    def __init__(self, root_pid: int, extra: list[int] = ()):
        self.root = psutil.Process(root_pid)
        self.extra = [psutil.Process(p) for p in extra]
        self.peak_sum = 0
        self.peak_one = 0
        self.peak_root = 0
        self.peak_child = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.is_set():
            with contextlib.suppress(psutil.Error):
                children = self.root.children(recursive=True)
                procs = [self.root, *children, *self.extra]
                sizes = {}
                for p in procs:
                    with contextlib.suppress(psutil.Error):
                        sizes[p.pid] = p.memory_info().rss
                if sizes:
                    self.peak_sum = max(self.peak_sum, sum(sizes.values()))
                    self.peak_one = max(self.peak_one, max(sizes.values()))
                    self.peak_root = max(self.peak_root, sizes.get(self.root.pid, 0))
                    kids = [sizes[c.pid] for c in children if c.pid in sizes]
                    self.peak_child = max(self.peak_child, max(kids, default=0))
            time.sleep(0.02)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def become_subreaper() -> None:
    """Orphans of a command (the forkserver of kmc-tui's workers, which the command never
    waits for, and the workers it forked) become this process's children, so they are reaped
    here and their CPU time counts in RUSAGE_CHILDREN."""
    import ctypes

    if ctypes.CDLL(None, use_errno=True).prctl(36, 1) != 0:  # PR_SET_CHILD_SUBREAPER
        raise SystemExit("cannot become a child subreaper: CPU times would miss the forkserver")


def reap_orphans(keep: set[int]) -> None:
    """Wait for every child but `keep` (the Dask processes) to exit, and reap it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        left = [c.pid for c in psutil.Process().children() if c.pid not in keep]
        if not left:
            return
        for pid in left:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
    raise SystemExit(f"processes left behind by a command: {left}")


def run(command: list[str], *, cwd: Path | None = None, extra_pids=(), shell=False) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    extra = [psutil.Process(p) for p in extra_pids]
    extra_cpu = sum(sum(p.cpu_times()[:2]) for p in extra)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        shell=shell,
    )
    memory = TreeMemory(proc.pid, list(extra_pids))
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    reap_orphans(KEEP)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cpu += sum(sum(p.cpu_times()[:2]) for p in extra) - extra_cpu
    memory.stop()
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {command}\n{err.decode()[-2000:]}")
    return {
        "seconds": seconds,
        "cpu": cpu,
        "peak_sum": memory.peak_sum,
        "peak_one": memory.peak_one,
        "peak_root": memory.peak_root,
        "peak_child": memory.peak_child,
    }


def kmc(*args: str) -> list[str]:
    return [sys.executable, "-m", "kmc_tui", "compress", *args]


#: kmc-tui with its workers spawned, each importing and warming up the plugin itself (how
#: they started before the forkserver): the baseline of the forkserver, side by side.
SPAWNED = (
    "import multiprocessing, sys, kmc_tui.batch as b\n"
    "b.worker_context = lambda settings: multiprocessing.get_context('spawn')\n"
    "from kmc_tui.cli import main\n"
    "sys.exit(main(['compress', *sys.argv[1:]]))\n"
)


def kmc_spawned(*args: str) -> list[str]:
    return [sys.executable, "-c", SPAWNED, *args]


#: Children of this process that outlive a command (the Dask scheduler and workers).
KEEP: set[int] = set()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def dask_cluster(workers: int = 2):
    """A scheduler and `workers` single-threaded workers on 127.0.0.1; yields (address, pids)."""
    from distributed import Client

    dask = str(Path(sys.executable).parent / "dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = WORK / "dask-logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = []
    try:
        with open(logs / "scheduler.log", "wb") as log:
            started.append(
                subprocess.Popen(
                    [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                     "--no-dashboard"],
                    stdout=log, stderr=log, process_group=0,
                )
            )  # fmt: skip
        for n in range(workers):
            with open(logs / f"worker{n}.log", "wb") as log:
                started.append(
                    subprocess.Popen(
                        [dask, "worker", address, "--nthreads", "1", "--host", "127.0.0.1",
                         "--no-dashboard"],
                        stdout=log, stderr=log, process_group=0,
                    )
                )  # fmt: skip
        KEEP.update(p.pid for p in started)
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(workers, timeout=120)
            pids = list(client.run(os.getpid).values())
        yield address, pids
    finally:
        for proc in reversed(started):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 15)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()


def throughput(rounds: int) -> tuple[list[tuple], dict]:
    folder, paths = make_photos()
    names = [p.name for p in paths]
    out = WORK / "out"
    results: dict[str, list[dict]] = {}
    megapixels = []
    for p in paths:
        with Image.open(p) as im:
            megapixels.append(im.width * im.height / 1e6)

    def fresh(name: str) -> Path:
        target = out / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        return target

    def pngquant_copy(name: str) -> Path:
        target = fresh(name)
        for p in paths:
            shutil.copy(p, target / p.name)
        return target

    with dask_cluster() as (address, worker_pids):
        for r in range(rounds):
            cases = [
                ("kmc-tui --jobs 1", lambda: run(
                    kmc("-k", str(K), "--jobs", "1", "-o", str(fresh("j1")), *map(str, paths)))),
                ("kmc-tui --jobs 2", lambda: run(
                    kmc("-k", str(K), "--jobs", "2", "-o", str(fresh("j2")), *map(str, paths)))),
                ("kmc-tui --jobs 2, spawned workers", lambda: run(
                    kmc_spawned("-k", str(K), "--jobs", "2", "-o", str(fresh("j2s")),
                                *map(str, paths)))),
                ("xargs -P 2 -n 1 pngquant --nofs 64", lambda: run(
                    "printf '%s\\n' " + " ".join(names)
                    + " | xargs -P 2 -n 1 pngquant --nofs --force 64",
                    cwd=pngquant_copy("pq1"), shell=True)),
                ("xargs -P 2 pngquant --nofs 64", lambda: run(
                    "printf '%s\\n' " + " ".join(names)
                    + " | xargs -P 2 pngquant --nofs --force 64",
                    cwd=pngquant_copy("pqn"), shell=True)),
                ("kmc-tui --dask (2 workers x 1 thread)", lambda: run(
                    kmc("-k", str(K), "--dask", address, "-o", str(fresh("dask")),
                        *map(str, paths)),
                    extra_pids=worker_pids)),
            ]  # fmt: skip
            order = cases if r % 2 == 0 else list(reversed(cases))
            for name, fn in order:
                result = fn()
                results.setdefault(name, []).append(result)
                print(
                    f"round {r + 1}: {name}: {result['seconds']:.2f} s, "
                    f"{FILES / result['seconds']:.2f} files/s, CPU {result['cpu']:.1f} s, "
                    f"peak {result['peak_sum'] / 2**20:.0f} MB, load {load()}",
                    file=sys.stderr,
                    flush=True,
                )
    same = all(
        (out / "j1" / n).read_bytes()
        == (out / "j2" / n).read_bytes()
        == (out / "j2s" / n).read_bytes()
        == (out / "dask" / n).read_bytes()
        for n in names
    )
    base = statistics.median(r["seconds"] for r in results["kmc-tui --jobs 1"])
    rows = []
    for name, runs in results.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        rows.append(
            (
                name,
                len(runs),
                seconds,
                FILES / seconds,
                base / seconds,
                cpu / FILES,
                max(r["peak_sum"] for r in runs) / 2**20,
                max(r["peak_one"] for r in runs) / 2**20,
            )
        )
    info = {
        "megapixels": (min(megapixels), statistics.median(megapixels), max(megapixels)),
        "same_bytes": same,
        "bytes": {
            name: sum((out / d / n).stat().st_size for n in names)
            for name, d in (("kmc-tui", "j2"),)
        },
    }
    pq = out / "pq1"
    info["bytes"]["pngquant"] = sum(
        (pq / (Path(n).stem + "-or8.png")).stat().st_size for n in names
    )
    return rows, info


def memory_against_files() -> list[tuple]:
    rows = []
    for count in (24, 2400):
        paths = make_small_photos(count)
        folder = paths[0].parent
        for jobs in (2,):
            target = WORK / "out" / f"mem{count}-j{jobs}"
            shutil.rmtree(target, ignore_errors=True)
            result = run(kmc("-k", "16", "--jobs", str(jobs), "-o", str(target), str(folder)))
            rows.append(
                (
                    count,
                    jobs,
                    result["seconds"],
                    count / result["seconds"],
                    result["peak_root"] / 2**20,
                    result["peak_child"] / 2**20,
                    result["peak_sum"] / 2**20,
                )
            )
            print(f"memory: {rows[-1]}", file=sys.stderr, flush=True)
    return rows


# -- the table -----------------------------------------------------------------------------------


def table(rows, info, memory_rows, command: str, load_before: str, load_after: str) -> str:
    lo, mid, hi = info["megapixels"]
    lines = [
        SECTION,
        "",
        f"`benchmarks/batch_throughput.py`: {FILES} photos of {lo:.2f}-{hi:.2f} MP (median "
        f"{mid:.2f}) made from `benchmarks/photos/` and `samples/`, PNG in, k={K}, each "
        "command a fresh process (start-up included), rounds interleaved; medians. Peak memory "
        "sampled every 20 ms over the command's process tree (with `--dask`, plus the two "
        "workers); CPU seconds of the whole tree (user + system, the Dask workers' included, "
        "and kmc-tui's forkserver and its workers, reaped here as a child subreaper). "
        "`--jobs 1` computes with two threads (the cores), `--jobs 2` with one per worker; "
        "`spawned workers` is `--jobs 2` with each worker a fresh interpreter importing and "
        "warming up the plugin itself (before the forkserver), side by side.",
        "",
        f"Command: `{command}`. Load average before: {load_before}; after: {load_after}.",
        "",
        "| command | rounds | seconds | files/s | ÷ `--jobs 1` | CPU s per file | "
        "peak MB (tree) | peak MB (one process) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, n, seconds, fps, speedup, cpu, peak_sum, peak_one in rows:
        lines.append(
            f"| `{name}` | {n} | {seconds:.2f} | {fps:.2f} | {speedup:.2f}× | {cpu:.2f} | "
            f"{peak_sum:.0f} | {peak_one:.0f} |"
        )
    by = {r[0]: r for r in rows}
    j1, j2 = by["kmc-tui --jobs 1"], by["kmc-tui --jobs 2"]
    j2s = by["kmc-tui --jobs 2, spawned workers"]
    pq = max(by["xargs -P 2 -n 1 pngquant --nofs 64"][3], by["xargs -P 2 pngquant --nofs 64"][3])
    pq_cpu = by["xargs -P 2 -n 1 pngquant --nofs 64"][5]
    lines += [
        "",
        f"Targets: `--jobs 2` ÷ `--jobs 1` = {j2[3] / j1[3]:.2f}× (target ≥ 1.4×); "
        f"`--jobs 2` ÷ the faster pngquant = {j2[3] / pq:.2f}× (target ≥ 1×). "
        f"Forkserver ÷ spawned workers: {j2[3] / j2s[3]:.2f}× the files/s, "
        f"{j2[5] - j2s[5]:+.3f} CPU s per file. "
        "Same bytes from `--jobs 1`, `--jobs 2` (both kinds of workers) and `--dask`: "
        f"{'yes' if info['same_bytes'] else 'NO'}. "
        f"Total output: kmc-tui {info['bytes']['kmc-tui'] / 1e6:.2f} MB, "
        f"pngquant {info['bytes']['pngquant'] / 1e6:.2f} MB.",
        "",
        "Reading it: on a busy machine Linux gives each session (autogroup) an equal share of "
        "the CPU, whatever its number of processes, so with a load average well above 2 the "
        "files/s above are bounded by this session's share of the CPU more than by "
        "parallelism. The CPU seconds per "
        "file do not depend on the load: on two idle cores, 2 ÷ CPU s per file bounds the "
        f"files/s of a two-process run ({2 / j2[5]:.2f} for `--jobs 2`, {2 / pq_cpu:.2f} for "
        "`xargs -P 2 -n 1 pngquant`): derived, not measured. `--jobs 1` computes each file "
        f"with two threads, at {j1[5]:.2f} CPU s per file against {j2[5]:.2f} for a worker's "
        "one thread: threads of one file cost more CPU than processes of two.",
    ]
    if memory_rows:
        lines += [
            "",
            "Memory against the number of files: 160×120 crops of the photos above, k=16, "
            "`kmc-tui compress -k 16 --jobs N -o OUT FOLDER`.",
            "",
            "| files | --jobs | seconds | files/s | peak MB: command | peak MB: largest worker "
            "| peak MB: tree |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for count, jobs, seconds, fps, root, child, total in memory_rows:
            lines.append(
                f"| {count:,} | {jobs} | {seconds:.1f} | {fps:.1f} | {root:.0f} | "
                f"{child:.0f} | {total:.0f} |"
            )
    return "\n".join(lines) + "\n"


def write_section(text: str) -> None:
    doc = DOC.read_text()
    if SECTION in doc:
        start = doc.index(SECTION)
        nxt = doc.find("\n## ", start + len(SECTION))
        doc = doc[:start] + text + ("" if nxt < 0 else doc[nxt:])
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    DOC.write_text(doc)


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-memory", action="store_true", help="skip the 24/2,400-file runs")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    become_subreaper()
    command = "python benchmarks/batch_throughput.py" + (
        f" --rounds {args.rounds}" if args.rounds != 3 else ""
    )
    before = load()
    rows, info = throughput(args.rounds)
    memory_rows = [] if args.no_memory else memory_against_files()
    text = table(rows, info, memory_rows, command, before, load())
    text += (
        f"\nMachine: see [Machine](#machine); Python {platform.python_version()}, "
        f"{os.cpu_count()} cores.\n"
    )
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
