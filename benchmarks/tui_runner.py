"""Keys held down on a big photo: does the TUI's job runner keep memory, latency and CPU in check?

The app runs in tmux at 120x36 on a 12 MP photo (scikit-learn's china.jpg upscaled to
4248x2832 and saved as a JPEG, made by bench.py in benchmarks/work/), driven by keys:

1. ``k 256 enter escape``: k-means at k=256; wait for the result and for the CPU to go idle.
2. One quiet step: ``-`` once; the time from the key to the full result for k=255 on screen.
3. The storm: ``-`` every 0.3 s, twelve times (k=254 … 243); the time from the last key to the
   full result for k=243 on screen, against the quiet step; the app's resident memory and
   threads sampled every 20 ms from /proc from the first key to that result.
4. CPU after: the app's CPU time over the 2 s after that result is on screen (idle: below 5% of
   one core), and how long until a quarter second passes with the CPU idle.

The same is done for a baseline (another commit's code, unpacked with ``git archive``) and for
this tree, alternately, ``--repeat`` times each; the table gives medians side by side, with the
load average, and is written into docs/performance.md (section "TUI job runner …").
Targets (issue 11): peak ≤ 600 MB, last key → result ≤ 1.15 × one quiet step, CPU idle after.

Not part of the test suite. From the repository root, with the environment kmc-tui is in::

    python benchmarks/tui_runner.py                    # baseline: the merge base with main
    python benchmarks/tui_runner.py --baseline b9ef0ef --baseline main --repeat 3
    python benchmarks/tui_runner.py --no-baseline      # this tree only
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
DOC = ROOT / "docs" / "performance.md"
SECTION = "## TUI job runner: keys held down on a 12 MP photo"
WIDTH, HEIGHT = 120, 36
K_START, PRESSES, INTERVAL = 256, 12, 0.3
CLOCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
#: The full result's pane title: "k=16 kmeans · 16-color palette" ("· 16 colors" in older trees).
RESULT = re.compile(r"k=(\d+) kmeans(?: dithered[^·]*)? · (\d+)(?: colors|-color palette)")


def photo_12mp() -> Path:
    sys.path.insert(0, str(BENCH))
    from bench import make_case

    return make_case("china", "12mp").jpg


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK  # utime + stime


def status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (kB) and Threads from /proc/PID/status."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            out[key] = int(value.split()[0])
    return out


class Tmux:
    def __init__(self) -> None:
        self.cmd = ["tmux", "-L", f"kmc-runner-{uuid.uuid4().hex[:8]}"]

    def run(self, *args: str) -> str:
        done = subprocess.run(self.cmd + list(args), capture_output=True, text=True, timeout=30)
        return done.stdout

    def start(self, command: str) -> int:
        self.run("new-session", "-d", "-s", "b", "-x", str(WIDTH), "-y", str(HEIGHT), command)
        return int(self.run("display-message", "-p", "-t", "b", "#{pane_pid}").strip())

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "b")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "b", *keys)

    def kill(self) -> None:
        subprocess.run(self.cmd + ["kill-server"], capture_output=True)


def wait_for_result(tmux: Tmux, k: int, timeout: float) -> float:
    """Poll the screen until the result pane shows the full result for `k`; the time then."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if any(int(m.group(1)) == k for m in RESULT.finditer(tmux.screen())):
            return time.perf_counter()
        time.sleep(0.02)
    raise RuntimeError(f"no result for k={k} within {timeout:.0f} s:\n{tmux.screen()}")


def wait_idle(pid: int, *, window: float = 0.25, timeout: float = 120.0) -> float:
    """Seconds until the process spends less than 5% of a core over `window`."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        before = cpu_seconds(pid)
        time.sleep(window)
        if cpu_seconds(pid) - before < 0.05 * window:
            return time.perf_counter() - start - window
    return float("inf")


@dataclass
class Run:
    quiet: float = 0.0
    final: float = 0.0
    peak_mb: float = 0.0
    hwm_mb: float = 0.0
    threads: int = 0
    cpu_after: float = 0.0
    idle_after: float = 0.0
    samples: list = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.final / self.quiet


def one_run(code: Path, image: Path) -> Run:
    """The whole key sequence on the app in `code` (a tree with kmc_tui/ and plugins/)."""
    tmux = Tmux()
    pythonpath = f"{code}:{code / 'plugins'}"
    # A config folder of its own: a k or plugin remembered from using the app would change the run.
    config = Path(tempfile.mkdtemp(prefix="kmc-runner-config-"))
    command = (
        f"exec env -u KMC_TUI_PLUGIN_PATH TERM=xterm-256color PYTHONPATH={pythonpath} "
        f"XDG_CONFIG_HOME={config} {sys.executable} -m kmc_tui {image}"
    )
    run = Run()
    try:
        pid = tmux.start(command)
        wait_for_result(tmux, 16, 180)  # the app opens the photo at k=16
        wait_idle(pid)
        tmux.keys("k")
        time.sleep(0.3)
        tmux.keys("256")
        time.sleep(0.3)
        # Leaving the field applies k, and - is a key of the app again. (After enter, which
        # leaves the field too in newer trees, escape would cancel the job that k started.)
        tmux.keys("Escape")
        wait_for_result(tmux, K_START, 180)
        wait_idle(pid)

        sent = time.perf_counter()
        tmux.keys("-")
        run.quiet = wait_for_result(tmux, K_START - 1, 120) - sent
        wait_idle(pid)

        stop_sampling = threading.Event()

        def sample() -> None:
            while not stop_sampling.is_set():
                try:
                    run.samples.append(status(pid))
                except OSError:
                    return
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.perf_counter()
        for i in range(PRESSES):
            time.sleep(max(0.0, start + i * INTERVAL - time.perf_counter()))
            sent = time.perf_counter()
            tmux.keys("-")
        shown = wait_for_result(tmux, K_START - 1 - PRESSES, 180)
        run.final = shown - sent
        stop_sampling.set()
        sampler.join()
        before = cpu_seconds(pid)
        time.sleep(2.0)
        run.cpu_after = (cpu_seconds(pid) - before) / 2.0
        run.idle_after = wait_idle(pid)
        run.hwm_mb = status(pid)["VmHWM"] / 1024
        run.peak_mb = max(s["VmRSS"] for s in run.samples) / 1024
        run.threads = max(s["Threads"] for s in run.samples)
        tmux.keys("q")
    finally:
        tmux.kill()
        shutil.rmtree(config, ignore_errors=True)
    return run


def unpack(rev: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "kmc_tui", "plugins"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def table(results: dict[str, list[Run]]) -> str:
    def med(runs, attr):
        return statistics.median(getattr(r, attr) for r in runs)

    lines = [
        "| code | quiet step | last key → result | ratio | peak RSS (keys) | peak RSS (run) "
        "| threads | CPU in the 2 s after | idle after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, runs in results.items():
        ratios = ", ".join(f"{r.ratio:.2f}" for r in runs)
        lines.append(
            f"| {name} | {med(runs, 'quiet'):.2f} s | {med(runs, 'final'):.2f} s "
            f"| {med(runs, 'ratio'):.2f} ({ratios}) | {med(runs, 'peak_mb'):.0f} MB "
            f"| {med(runs, 'hwm_mb'):.0f} MB | {max(r.threads for r in runs)} "
            f"| {100 * med(runs, 'cpu_after'):.0f}% of a core | {med(runs, 'idle_after'):.2f} s |"
        )
    return "\n".join(lines)


def write_doc(text: str) -> None:
    """Replace this benchmark's section of docs/performance.md (or add it at the end)."""
    doc = DOC.read_text() if DOC.exists() else "# Performance\n"
    start = doc.find(SECTION + "\n")
    if start < 0:
        doc = doc.rstrip("\n") + "\n\n" + text
    else:
        end = doc.find("\n## ", start + len(SECTION))
        rest = doc[end + 1 :] if end >= 0 else ""
        doc = doc[:start] + text.rstrip("\n") + "\n\n" + rest
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(doc.rstrip("\n") + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--baseline",
        action="append",
        help="git revision to compare with (repeatable; default: the merge base with main)",
    )
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-doc", action="store_true", help="print only")
    args = parser.parse_args()
    if not shutil.which("tmux"):
        sys.exit("tmux is needed")
    image = photo_12mp()
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "kmc_tui", "plugins"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = f"this tree ({head}{' + changes' if dirty else ''})"
    variants: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="kmc-runner-") as tmp:
        if not args.no_baseline:
            revs = args.baseline or [
                subprocess.run(
                    ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.strip()
            ]
            for rev in revs:
                short = subprocess.run(
                    ["git", "-C", str(ROOT), "rev-parse", "--short", rev],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.strip()
                folder = Path(tmp) / short
                folder.mkdir()
                variants[f"baseline {rev} ({short})"] = unpack(rev, folder)
        variants[ours] = ROOT
        results: dict[str, list[Run]] = {name: [] for name in variants}
        load_before = load()
        for n in range(args.repeat):
            for name, code in variants.items():
                run = one_run(code, image)
                results[name].append(run)
                print(
                    f"[{n + 1}/{args.repeat}] {name}: quiet {run.quiet:.2f} s, last key → result "
                    f"{run.final:.2f} s ({run.ratio:.2f}x), peak {run.peak_mb:.0f} MB "
                    f"(run {run.hwm_mb:.0f} MB), {run.threads} threads, CPU after "
                    f"{100 * run.cpu_after:.0f}%, idle after {run.idle_after:.2f} s; load {load()}",
                    flush=True,
                )
        load_after = load()
    body = table(results)
    print()
    print(body)
    command = "python benchmarks/tui_runner.py" + "".join(
        f" {a}" for a in sys.argv[1:] if a != "--no-doc"
    )
    text = (
        f"{SECTION}\n\n"
        f"`{command}`: {image.name} (4248×2832, 12 MP) in the app in tmux at {WIDTH}×{HEIGHT}, "
        f"k-means at k={K_START}; one quiet `-`, then `-` every {INTERVAL} s, {PRESSES} times. "
        f"Medians of {args.repeat} runs per code, run alternately (ratios of each run in "
        f"brackets); peak RSS (keys) is sampled every 20 ms from the first key of the storm to "
        f"its final result, peak RSS (run) is the kernel's high-water mark over the whole run. "
        f"Load average {load_before} before, {load_after} after. Targets (issue 11): peak ≤ "
        f"600 MB, last key → result ≤ 1.15 × the quiet step, CPU idle once it is shown.\n\n"
        f"{body}\n"
    )
    if not args.no_doc:
        write_doc(text)
        print(f"\nwritten to {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
