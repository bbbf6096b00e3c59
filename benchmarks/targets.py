"""Benchmark: what a ΔE2000 or size target costs against a plain run at the k it chose, and
the k each target picks on the bundled samples.

The cost is measured side by side in one invocation, two ways:

1. CLI: ``kmc-tui compress --max-delta-e D`` (or ``--max-bytes N``) against ``kmc-tui compress
   -k K`` with the K the target chose, each a fresh process, interleaved, medians of the runs.
2. In-process: :func:`kmc_tui.search_k` against :func:`kmc_tui.process` at K, on an image
   already read, imports warm (the TUI's situation), interleaved, medians.

Cases: the sample photos at their size, and a 12 MP photo (scikit-learn's china.jpg upscaled to
4248x2832, made by benchmarks/bench.py's make_case into benchmarks/work/).

Not part of the test suite. From the repository root, with the environment that has kmc-tui:

    python benchmarks/targets.py             # samples and 12 MP, 3 runs (2 at 12 MP)
    python benchmarks/targets.py --quick     # samples only, 1 run, no 12 MP
    python benchmarks/targets.py --write     # also write the tables into docs/performance.md
    python benchmarks/targets.py --no-picks --repeat 1 --photos astronaut.png   # one table
    python benchmarks/targets.py --no-picks --against /tmp/old   # before/after, interleaved
    python benchmarks/targets.py --no-picks --photos rocket.jpg --targets 2,2.5  # some cases

``--against DIR`` takes an older checkout's package (``git archive REV | tar -x -C DIR``; its
kmc_tui is put first on PYTHONPATH, the plugins stay this tree's) and runs its CLI target search
interleaved with this one's, against the same plain runs: the "before" columns.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench import make_case  # noqa: E402 - the same 12 MP image as the main benchmark

from kmc_tui import Target, TargetUnreachable, process, read_image, search_k  # noqa: E402
from kmc_tui.formats import human_bytes  # noqa: E402

SAMPLES = ROOT / "samples"
DOC = ROOT / "docs" / "performance.md"
PICKS_HEADING = "## Targets: the k each target picks"
COST_HEADING = "## Targets: what the search costs"

#: Targets whose k is shown for every sample.
PICK_TARGETS = ("1.5", "2", "3", "4"), ("20K", "50K", "100K")
#: (case, targets) whose cost is measured.
COST_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")
COST_TARGETS_REAL = (("max_delta_e", "2"), ("max_delta_e", "3"), ("max_bytes", "60K"))
COST_TARGETS_BIG = (("max_delta_e", "2.5"), ("max_bytes", "1.5M"))


def children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli(*args: str, package: str | None = None) -> tuple[float, dict, float]:
    """Run kmc-tui compress with --json in a fresh process: (wall seconds, its record, CPU
    seconds). `package`: a folder whose kmc_tui is imported instead of this tree's."""
    exe = Path(sys.executable).with_name("kmc-tui")
    env = None if package is None else {**os.environ, "PYTHONPATH": package}
    cpu = children_cpu()
    t = time.perf_counter()
    proc = subprocess.run(
        [str(exe), "compress", *args, "--json", "--force"], capture_output=True, text=True, env=env
    )
    seconds = time.perf_counter() - t
    if proc.returncode not in (0, 3):
        raise RuntimeError(proc.stderr)
    return seconds, json.loads(proc.stdout.splitlines()[-1]), children_cpu() - cpu


def flag(kind: str) -> str:
    return "--max-delta-e" if kind == "max_delta_e" else "--max-bytes"


def picks(write_rows: list[str]) -> None:
    de_targets, size_targets = PICK_TARGETS
    head = (
        "| sample | pixels | "
        + " | ".join(f"ΔE2000 ≤ {d}" for d in de_targets)
        + " | "
        + " | ".join(f"≤ {s}" for s in size_targets)
        + " |"
    )
    rows = [head, "|" + "---|" * (2 + len(de_targets) + len(size_targets))]
    for path in sorted(SAMPLES.glob("*.*")):
        if path.suffix not in (".png", ".jpg"):
            continue
        image = read_image(path)
        cells = []
        for kind, values in (("max_delta_e", de_targets), ("max_bytes", size_targets)):
            for value in values:
                try:
                    result = search_k(image, Target(**{kind: value}))
                except TargetUnreachable as exc:
                    best = f"{exc.best:.2f}" if kind == "max_delta_e" else human_bytes(exc.best)
                    cells.append(f"— (best {best})")
                    continue
                real = sum(not t.estimate for t in result.search.trials)
                figure = (
                    f"{result.stats.delta_e:.2f}"
                    if kind == "max_delta_e"
                    else human_bytes(result.stats.output_bytes)
                )
                runs = f"{real} run{'s' if real != 1 else ''}"
                cells.append(f"{result.quantized.k} ({figure}; {runs})")
        rows.append(f"| {path.name} | {image.pixels:,} | " + " | ".join(cells) + " |")
        print(rows[-1], flush=True)
    write_rows.extend(rows)


def runs_of(tried: list[dict]) -> str:
    real = sum(not t["estimate"] for t in tried)
    return f"{real} + {len(tried) - real}"


def cost(
    cases: list[tuple[str, Path, tuple, int]], write_rows: list[str], against: str | None = None
) -> None:
    head = (
        "| image | target | k chosen | runs (real + estimates) | CLI target s | CLI plain s "
        "| CLI ratio | CLI CPU ratio | API target s | API plain s | API ratio |"
    )
    columns = 11
    if against:
        head += " before: k | runs | CLI target s | CLI plain s | CLI ratio | CLI CPU ratio |"
        columns += 6
    rows = [head, "|" + "---|" * columns]
    median = statistics.median
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "out.png")
        for label, path, targets, repeats in cases:
            image = read_image(path)
            for kind, value in targets:
                target = Target(**{kind: value})
                # Each: (wall seconds, CPU seconds) of the runs.
                cli_target, cli_plain, old_target, old_plain = [], [], [], []
                api_target, api_plain = [], []
                k = runs = old_k = old_runs = None
                for _ in range(repeats):
                    seconds, record, cpu = cli("-i", str(path), "-o", out, flag(kind), value)
                    if record.get("output") is None:  # not reachable, or skipped
                        break
                    k = record["k"]
                    cli_target.append((seconds, cpu))
                    plain = cli("-i", str(path), "-o", out, "-k", str(k))
                    cli_plain.append((plain[0], plain[2]))
                    if against:
                        seconds, old, cpu = cli(
                            "-i", str(path), "-o", out, flag(kind), value, package=against
                        )
                        old_k, old_runs = old["k"], runs_of(old["tried"])
                        old_target.append((seconds, cpu))
                        if old_k == k:
                            old_plain.append(cli_plain[-1])
                        else:
                            plain = cli("-i", str(path), "-o", out, "-k", str(old_k))
                            old_plain.append((plain[0], plain[2]))
                    t = time.perf_counter()
                    result = search_k(image, target)
                    api_target.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    process(image, k)
                    api_plain.append(time.perf_counter() - t)
                    trials = result.search.trials
                    real = sum(not t.estimate for t in trials)
                    runs = f"{real} + {len(trials) - real}"
                if k is None:
                    rows.append(f"| {label} | {target} | not reachable |" + " |" * (columns - 3))
                    continue

                def figures(target_runs, plain_runs) -> str:
                    wall_t, cpu_t = (median(x) for x in zip(*target_runs, strict=True))
                    wall_p, cpu_p = (median(x) for x in zip(*plain_runs, strict=True))
                    return (
                        f"{wall_t:.2f} | {wall_p:.2f} | {wall_t / wall_p:.2f} "
                        f"| {cpu_t / cpu_p:.2f} |"
                    )

                at, ap = median(api_target), median(api_plain)
                row = (
                    f"| {label} | {target} | {k} | {runs} | {figures(cli_target, cli_plain)}"
                    f" {at:.2f} | {ap:.2f} | {at / ap:.2f} |"
                )
                if against:
                    row += f" {old_k} | {old_runs} | {figures(old_target, old_plain)}"
                rows.append(row)
                print(rows[-1], flush=True)
    write_rows.extend(rows)


def write_doc(heading: str, text: str) -> None:
    """Replace the section of docs/performance.md under `heading` (to the next), or add it at
    the end."""
    old = DOC.read_text()
    if heading in old:
        start = old.index(heading)
        end = old.find("\n## ", start + len(heading))
        new = old[:start] + text + ("\n\n" + old[end + 1 :] if end >= 0 else "\n")
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    DOC.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="samples only, one run each")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (default 3)")
    parser.add_argument("--no-picks", action="store_true", help="skip the table of k picked")
    parser.add_argument("--no-cost", action="store_true", help="skip the table of costs")
    parser.add_argument(
        "--photos", default=",".join(COST_PHOTOS), help="samples whose cost is measured"
    )
    parser.add_argument(
        "--targets",
        help="only the cost cases with these target values, e.g. 2,2.5 (default: all)",
    )
    parser.add_argument("--write", action="store_true", help="write into docs/performance.md")
    parser.add_argument(
        "--against", metavar="DIR", help="an older checkout whose CLI search runs alongside"
    )
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    command = "python benchmarks/targets.py " + " ".join(a for a in sys.argv[1:] if a != "--write")

    def machine(load_before: tuple, started: float) -> str:
        return (
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}; load average {load_before[0]:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after; {time.perf_counter() - started:.0f} s in all"
        )

    if not args.no_picks:
        load, started = os.getloadavg(), time.perf_counter()
        rows: list[str] = []
        picks(rows)
        text = "\n".join(
            [
                PICKS_HEADING,
                "",
                f"`{command.strip()}` ({machine(load, started)}).",
                "",
                "The k each target picks on the bundled samples (kmeans, PNG, seed 0), with the "
                "figure it reached and how many real runs the search made (estimates on a "
                "sample not counted); — when no k up to 256 meets it. Each answer meets the "
                "target and its neighbour (k−1 under a ΔE2000 target, k+1 under a size) does "
                "not; the samples smaller than 32k pixels (dice, toucan) are searched with real "
                "runs only, and every k keeps all of their colors under 20 KB.",
                "",
                *rows,
            ]
        )
        print(text)
        if args.write:
            write_doc(PICKS_HEADING, text)
    if not args.no_cost:
        load, started = os.getloadavg(), time.perf_counter()
        photos = [name for name in args.photos.split(",") if name]
        wanted = None if args.targets is None else set(args.targets.split(","))

        def chosen(targets: tuple) -> tuple:
            return tuple(t for t in targets if wanted is None or t[1] in wanted)

        cases = [(name, SAMPLES / name, chosen(COST_TARGETS_REAL), repeat) for name in photos]
        if not args.quick:
            big = make_case("china", "12mp")
            cases.append(("china 12 MP", big.jpg, chosen(COST_TARGETS_BIG), max(1, repeat - 1)))
        rows = []
        cost(cases, rows, against=args.against and str(Path(args.against).resolve()))
        text = "\n".join(
            [
                COST_HEADING,
                "",
                f"`{command.strip()}` ({machine(load, started)}).",
                "",
                "What a target run costs against a plain run at the k it chose. `CLI`: fresh "
                "`kmc-tui compress` processes (start-up, reading and writing included); `API`: "
                "`search_k()` against `process()` on an image already read. Medians; the two "
                "sides interleaved; `CLI CPU ratio`: the same with user + system CPU seconds of "
                "the processes, which vary less under load than wall time. The 12 MP image is "
                "scikit-learn's china.jpg upscaled to 4248x2832 (benchmarks/bench.py).",
                "",
                *rows,
            ]
        )
        print(text)
        if args.write:
            write_doc(COST_HEADING, text)


if __name__ == "__main__":
    main()
