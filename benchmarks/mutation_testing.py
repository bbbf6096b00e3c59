"""Mutation testing (cosmic-ray) of the core modules, on a copy of the repository.

cosmic-ray is a tool, not a dependency: ``.venv/bin/pip install cosmic-ray``. It mutates the
copy's files in place; the copy is first on PYTHONPATH, so the tests (the CLI in subprocesses
too) run the mutant while this worktree stays untouched. All mutants take hours here, so a
random sample of them is run:

    nice -n 10 .venv/bin/python benchmarks/mutation_testing.py --sample 40 --seed 0

Prints cosmic-ray's report (kill rate, and each surviving mutant as a diff).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ["read.py", "quantize.py", "encode.py", "stats.py", "plugin_api.py"]
#: In-process tests of these modules: quick enough to run once per mutant.
TESTS = [
    "tests/test_read.py",
    "tests/test_properties.py",
    "tests/test_conformance.py",
    "tests/test_breaks_noticed.py",
    "-k",
    "not tui",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=40, help="mutants to run (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="folder for the copy and the session")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="kmc-mutants-"))
    copy = work / "repo"
    if copy.exists():
        shutil.rmtree(copy)
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in files:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, copy / name)
    test_command = " ".join(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"]
        + ["-n", "0", *(f"'{t}'" if " " in t else t for t in TESTS)]
    )
    config = work / "cosmic-ray.toml"
    modules = ", ".join(f'"kmc_tui/{m}"' for m in MODULES)
    config.write_text(
        "[cosmic-ray]\n"
        f"module-path = [{modules}]\n"
        "timeout = 600.0\n"
        "excluded-modules = []\n"
        f'test-command = "{test_command}"\n'
        "[cosmic-ray.distributor]\n"
        'name = "local"\n'
    )
    session = work / "session.sqlite"
    session.unlink(missing_ok=True)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PYTHONPATH": str(copy), "OMP_NUM_THREADS": "1"}
    env.pop("KMC_TUI_PLUGIN_PATH", None)
    subprocess.run([bin_dir / "cosmic-ray", "init", config, session], cwd=copy, check=True)
    with sqlite3.connect(session) as db:
        ids = [row[0] for row in db.execute("SELECT job_id FROM work_items")]
        print(f"{len(ids)} mutants in {', '.join(MODULES)}", flush=True)
        if args.sample and args.sample < len(ids):
            keep = set(random.Random(args.seed).sample(ids, args.sample))
            drop = [(i,) for i in ids if i not in keep]
            db.executemany("DELETE FROM mutation_specs WHERE job_id = ?", drop)
            db.executemany("DELETE FROM work_items WHERE job_id = ?", drop)
    subprocess.run([bin_dir / "cosmic-ray", "exec", config, session], cwd=copy, env=env, check=True)
    report = subprocess.run(
        [bin_dir / "cr-report", "--show-diff", session], capture_output=True, text=True
    )
    print(report.stdout)
    print(f"session: {session}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
