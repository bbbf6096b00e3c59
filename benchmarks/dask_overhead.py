"""Benchmark: how many tasks a second a Dask scheduler hands out here, for docs/scale.md.

Starts ``dask scheduler`` and two ``dask worker --nthreads 1`` processes on 127.0.0.1 (as
batch_throughput.py does), then submits N tasks that do nothing, the way ``kmc-tui compress
--dask`` submits its chunks (``client.submit``, ``pure=False``), and times them from the first
submission to the last result. The rate is an upper bound on tasks per second that this
scheduler can take from one client; divided into a run's files per second, it says how many
files a task needs so the scheduler is not the limit.

Not part of the test suite. Run from the repository root:

    python benchmarks/dask_overhead.py [--tasks 2000]
"""

from __future__ import annotations

import argparse
import os
import time

from batch_throughput import dask_cluster


def nothing(i: int) -> int:
    return i


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=2000)
    args = parser.parse_args()
    from distributed import Client, wait

    load_before = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    with dask_cluster() as (address, _), Client(address) as client:
        client.submit(nothing, -1, pure=False).result()  # connections warm
        start = time.perf_counter()
        futures = [client.submit(nothing, i, pure=False) for i in range(args.tasks)]
        wait(futures)
        seconds = time.perf_counter() - start
    load_after = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{args.tasks} empty tasks in {seconds:.2f} s: {args.tasks / seconds:.0f} tasks/s, "
        f"{1000 * seconds / args.tasks:.2f} ms a task (2 workers x 1 thread, 127.0.0.1; "
        f"load {load_before} before, {load_after} after)"
    )


if __name__ == "__main__":
    main()
