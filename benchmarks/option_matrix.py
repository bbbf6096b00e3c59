"""The whole option matrix of issue 17 through the real CLI (tests/option_matrix.py says what
each run must give); the timed suite runs only its covering sample.

    nice -n 10 .venv/bin/python benchmarks/option_matrix.py --runs 300 --jobs 2

Prints one line per failing run and a summary: runs, passed, failed, by expected exit status.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from option_matrix import covering_cases, random_cases, run_case  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=300, help="random cases after the covering ones"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    cases = covering_cases() + random_cases(args.runs, seed=args.seed)
    started = time.monotonic()
    by_status: collections.Counter = collections.Counter()
    failed = 0
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:
        runs = pool.map(
            lambda ic: (ic[1], run_case(ic[1], Path(tmp) / str(ic[0]))), enumerate(cases)
        )
        for case, problems in runs:
            by_status["/".join(map(str, sorted(case.expected_status())))] += 1
            if problems:
                failed += 1
                print(f"FAIL {case}: {'; '.join(problems)}", flush=True)
    seconds = time.monotonic() - started
    statuses = ", ".join(f"exit {s}: {n}" for s, n in sorted(by_status.items()))
    print(
        f"{len(cases)} runs ({statuses}) in {seconds:.0f} s: "
        f"{len(cases) - failed} passed, {failed} failed"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
