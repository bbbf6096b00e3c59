"""Batches through the real CLI on real files: folder trees with odd names, links and loops,
results beside their inputs, the standard streams, worker processes, signals, a kill -9 and its
resume, and Dask (a LocalCluster in this process, and a real scheduler with two workers)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import DATA, SAMPLES, run_cli, sha256
from PIL import Image as PILImage

from kmc_tui import batch

PLUGINS = DATA / "plugins" / "batch"
KMC = [sys.executable, "-m", "kmc_tui"]
#: Crops (256x192) of real photos; at k=64 the first two came out different with one and two
#: threads in scikit-learn's Lloyd passes, so they show whether the thread count leaks in.
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "camera.png", "toucan.png")


def make_photos(folder: Path, count: int, *, size=(256, 192)) -> list[Path]:
    """`count` deterministic real-photo crops p00.png, p01.jpg … (every third one a JPEG)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        src = PILImage.open(SAMPLES / PHOTOS[i % len(PHOTOS)])
        src = src.convert("RGBA" if src.mode in ("RGBA", "P") else "RGB")
        w, h = src.size
        cw, ch = min(size[0] + i, w), min(size[1], h)  # distinct widths: p01 is 257 wide
        x0, y0 = (i * 37) % (w - cw + 1), (i * 23) % (h - ch + 1)
        crop = src.crop((x0, y0, x0 + cw, y0 + ch))
        path = folder / (f"p{i:02d}.jpg" if i % 3 == 2 else f"p{i:02d}.png")
        if path.suffix == ".jpg":
            crop.convert("RGB").save(path, quality=92)
        else:
            crop.save(path)
        paths.append(path)
    return paths


def everything(root: Path) -> dict[str, str]:
    """Every file under `root`, hidden ones too, by relative path, with its hash."""
    return {str(p.relative_to(root)): sha256(p) for p in sorted(root.rglob("*")) if p.is_file()}


def assert_no_temporaries(root: Path) -> None:
    hidden = [p for p in root.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]
    assert not hidden, hidden


def assert_whole_images(root: Path, k: int) -> None:
    for path in root.rglob("*.png"):
        with PILImage.open(path) as im:
            im.load()  # a truncated file raises here
            assert len(im.convert("RGBA").getcolors(1 << 16)) <= k, path


def records(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def status(record: dict) -> str:
    """A --json record's status: a written file's record has none (it is Stats.as_dict())."""
    if "status" not in record:
        assert record["output"] is not None and "colors" in record, record
        return "done"
    return record["status"]


def group_gone(pgid: int, within: float = 20.0) -> bool:
    """Whether every process of the group has exited (workers included) within a few seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def start_cli(*args, env=None) -> subprocess.Popen:
    """The real CLI in its own process group (as a shell starts a job)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("DASK_SCHEDULER_ADDRESS", None)
    return subprocess.Popen(
        [*KMC, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=full_env,
    )


def wait_for_line(proc: subprocess.Popen, text: bytes, timeout: float = 120) -> bytes:
    """Read stdout until a line containing `text`; everything read so far."""
    seen = b""
    deadline = time.monotonic() + timeout
    while text not in seen:
        left = deadline - time.monotonic()
        assert left > 0, seen
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            assert chunk, (seen, proc.stderr.read())
            seen += chunk
    return seen


# -- trees, names, links -------------------------------------------------------------------------


def test_recursive_tree_is_mirrored_with_odd_names_links_and_loops(cli, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    [photo] = make_photos(tmp_path / "one", 1, size=(96, 64))
    names = [
        "plain.png",
        "with space.png",
        "new\nline.png",
        os.fsdecode(b"caf\xe9.png"),
        "-dash.png",
    ]
    for name in names:
        src.mkdir(exist_ok=True)
        shutil.copy(photo, src / name)
    (src / "deep" / "er").mkdir(parents=True)
    PILImage.open(photo).convert("RGB").save(src / "deep" / "er" / "nested.jpg")
    (src / "notes.txt").write_text("not an image, not picked up")
    (src / "loop").symlink_to(".")
    (src / "deep" / "up").symlink_to("..")
    (src / "gone.png").symlink_to("missing.png")
    before = everything(src)

    proc = cli("compress", "-r", src, "-o", out, "-k", "4", "--json")
    assert proc.returncode == 1, proc.stderr  # the broken link is a file that failed
    recs = records(proc.stdout)  # every line is JSON, and stdout decoded as UTF-8
    done = sorted(Path(r["output"]).relative_to(out) for r in recs if status(r) == "done")
    expected = sorted(
        [Path(os.path.splitext(n)[0] + ".png") for n in names] + [Path("deep/er/nested.png")]
    )
    assert done == expected
    assert sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()) == expected
    assert_whole_images(out, 4)
    loops = [r for r in recs if status(r) == "skipped"]
    assert sorted(Path(r["input"]).name for r in loops) == ["loop", "up"]
    [broken] = [r for r in recs if status(r) == "failed"]
    assert broken["input"].endswith("gone.png") and "broken symbolic link" in broken["error"]
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("kmc-tui: error:")]
    assert len(errors) == 1 and "gone.png" in errors[0]
    assert "Traceback" not in proc.stderr
    assert everything(src) == before

    # Without --json: one line per file, a name's newline and undecodable byte escaped.
    proc = cli("compress", "-r", src, "-o", tmp_path / "out2", "-k", "4")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(f"{src}/")]
    assert len(lines) == 6
    assert any("new\\nline.png" in ln for ln in lines)
    assert any("caf\\xe9.png" in ln for ln in lines)
    assert "6 of 7 done" in proc.stdout and "2 skipped" in proc.stdout


def run_unprivileged(args: list, cwd: Path) -> subprocess.CompletedProcess:
    """The CLI as a user that file permissions apply to (root reads any folder)."""
    command = [*KMC, *map(str, args)]
    if os.geteuid() == 0:
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    return subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=cwd, env=env)


def test_unreadable_folder_is_reported_and_the_rest_done():
    root = Path(tempfile.mkdtemp(prefix="kmc-tui-test-"))
    locked = root / "in" / "locked"
    try:
        root.chmod(0o755)
        [photo] = make_photos(root / "in", 1, size=(96, 64))
        locked.mkdir()
        shutil.copy(photo, locked / "inside.png")
        (root / "out").mkdir(mode=0o777)
        (root / "out").chmod(0o777)
        for folder in (root / "in",):
            folder.chmod(0o755)
        locked.chmod(0)
        proc = run_unprivileged(["compress", "-r", "in", "-o", "out", "-k", "4"], cwd=root)
        assert proc.returncode == 1, proc.stderr
        [error] = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert error == "kmc-tui: error: in/locked: cannot read folder: Permission denied"
        assert [p.name for p in (root / "out").iterdir()] == ["p00.png"]
        assert "1 of 2 done" in proc.stdout
    finally:
        locked.chmod(0o755)
        shutil.rmtree(root)


def test_two_inputs_for_one_output_and_one_input_twice(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        make_photos(folder, 1, size=(32, 32))
    found = batch.walk_inputs([str(a), str(b), str(a / "p00.png")])
    plan = batch.plan(found, output=str(tmp_path / "out"), into_folder=True, k=4, format="png")
    assert [t.input for t in plan.tasks] == [str(a / "p00.png")]
    [clash] = plan.settled
    assert clash.status == "failed" and clash.input == str(b / "p00.png")
    assert "the output of" in clash.message and str(a / "p00.png") in clash.message


# -- beside the input, the standard streams ------------------------------------------------------


def test_results_beside_inputs_never_overwrite_and_are_not_taken_as_inputs(cli, tmp_path):
    make_photos(tmp_path, 2, size=(64, 48))
    shutil.copy(tmp_path / "p00.png", tmp_path / "-dash.png")
    shutil.copy(tmp_path / "p01.png", tmp_path / "p01.jpg")  # one stem, two inputs
    proc = cli(
        "compress", "-k", "4", "p00.png", "p01.png", "p01.jpg", "--", "-dash.png", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    made = {"p00-k4.png", "p01.png-k4.png", "p01.jpg-k4.png", "-dash-k4.png"}
    assert made <= {p.name for p in tmp_path.iterdir()}
    first = {name: (tmp_path / name).stat().st_mtime_ns for name in made}

    proc = cli("compress", "-k", "4", "p00.png", cwd=tmp_path)
    assert proc.returncode == 1
    assert "p00-k4.png: already exists" in proc.stderr and "--skip-existing" in proc.stderr

    # The folder holds inputs and results: the results are left alone, the rest skipped.
    proc = cli("compress", "-k", "4", ".", "--skip-existing", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(status(r) for r in records(proc.stdout)) == ["skipped"] * 4
    assert not [p for p in tmp_path.iterdir() if "-k4-k4" in p.name or "-k4.png-k4" in p.name]
    assert {name: (tmp_path / name).stat().st_mtime_ns for name in made} == first


def test_a_target_in_worker_processes_names_results_beside_by_the_target(cli, tmp_path):
    make_photos(tmp_path, 3, size=(96, 72))
    args = ("compress", "--max-delta-e", "4", "-k", "32", "--jobs", "2", "--json", ".")
    proc = cli(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    recs = sorted(records(proc.stdout), key=lambda r: r["input"])
    assert [Path(r["output"]).name for r in recs] == ["p00-de4.png", "p01-de4.png", "p02-de4.png"]
    for r in recs:
        assert status(r) == "done" and r["target"] == {"kind": "delta_e", "max": 4.0}
        tried = {t["k"]: t for t in r["tried"] if not t["estimate"]}
        assert r["delta_e"] <= 4 and tried[r["k"]]["delta_e"] == r["delta_e"]
        assert r["k"] == 1 or tried[r["k"] - 1]["delta_e"] > 4
        assert (tmp_path / r["output"]).is_file()
    # The names are known before any search: a second run skips them all, and its own results
    # are not taken as inputs.
    proc = cli(*args, "--skip-existing", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [status(r) for r in records(proc.stdout)] == ["skipped"] * 3


def test_stdin_to_stdout_pipeline(cli, tmp_path):
    [photo] = make_photos(tmp_path, 1, size=(128, 96))
    reference = tmp_path / "file.png"
    assert cli("compress", "-i", photo, "-o", reference, "-k", "16").returncode == 0
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    piped = subprocess.run(
        [*KMC, "compress", "-i", "-", "-o", "-", "--format", "png", "-k", "16"],
        input=photo.read_bytes(),
        capture_output=True,
        timeout=120,
        env=env,
    )
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == reference.read_bytes()  # the image and nothing else on stdout
    assert b"stdin -> stdout: 16 colors" in piped.stderr
    bad = subprocess.run(
        [*KMC, "compress", "-", "-k", "4"], input=b"not an image", capture_output=True, timeout=60
    )
    assert bad.returncode == 1 and bad.stdout == b""
    assert bad.stderr.decode().strip() == (
        "kmc-tui: error: stdin: not an image file (or a format that cannot be read)"
    )


# -- worker processes ----------------------------------------------------------------------------


def test_same_bytes_for_any_number_of_jobs_and_threads_within_the_cores(tmp_path):
    photos = tmp_path / "photos"
    make_photos(photos, 6)
    outputs = {}
    for jobs in (1, 2):
        probes = tmp_path / f"probe{jobs}"
        probes.mkdir()
        out = tmp_path / f"out{jobs}"
        proc = run_cli(
            "compress", photos, "-o", out, "-k", "64", "--jobs", jobs,
            "--plugin", "threadprobe", "--plugin-dir", PLUGINS, "--param", f"probe_dir={probes}",
            timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        outputs[jobs] = everything(out)
        seen = {p.stem: set(p.read_text().split()) for p in probes.iterdir()}
        assert len(seen) == jobs  # jobs 1 runs here; others in that many workers
        # The cores shared among the workers: --jobs 1 computes with two threads on two cores.
        assert set().union(*seen.values()) == {str(max(1, batch.default_jobs() // jobs))}
    assert len(outputs[1]) == 6
    assert outputs[1] == outputs[2]


def test_workers_are_forked_from_one_warmed_up_process(cli, tmp_path):
    """The plugin is imported and warmed up once, and both workers start from there."""
    make_photos(tmp_path / "in", 6, size=(64, 48))
    log = tmp_path / "probe.log"
    proc = cli(
        "compress", tmp_path / "in", "-o", tmp_path / "out", "-k", "8", "--jobs", "2",
        "--plugin", "warmprobe", "--plugin-dir", PLUGINS,
        env={"KMC_TEST_PROBE_LOG": str(log)}, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = [line.split() for line in log.read_text().splitlines()]
    warmed = {pid for what, pid in lines if what == "warm"}
    computed = {pid for what, pid in lines if what == "file"}
    assert len(warmed) == 1 and len(computed) == 2 and not warmed & computed
    assert sum(what == "file" for what, _ in lines) == 6


def test_a_worker_that_dies_fails_only_its_file(cli, tmp_path):
    make_photos(tmp_path / "in", 4, size=(96, 64))  # p01 is 97 pixels wide
    proc = cli(
        "compress", tmp_path / "in", "-o", tmp_path / "out", "-k", "8", "--jobs", "2",
        "--plugin", "killer", "--plugin-dir", PLUGINS, "--param", "width=97", timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1
    [error] = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert error == (
        f"kmc-tui: error: {tmp_path / 'in' / 'p01.png'}: the worker process was killed by "
        "SIGKILL while on this file"
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p00.png", "p02.png", "p03.png"]


def test_a_plugin_error_in_a_worker_names_its_file_and_debug_brings_its_traceback(cli, tmp_path):
    make_photos(tmp_path / "in", 3, size=(96, 64))  # p01 is 97 pixels wide
    args = [
        "compress", tmp_path / "in", "-o", tmp_path / "out", "-k", "8", "--jobs", "2", "--json",
        "--plugin", "picky", "--plugin-dir", PLUGINS, "--param", "width=97",
    ]  # fmt: skip
    first = f"kmc-tui: error: {tmp_path / 'in' / 'p01.png'}: plugin 'picky' failed: "
    first += "ZeroDivisionError: picky divided by zero on width 97"
    quiet = cli(*args, timeout=300)
    assert quiet.returncode == 1
    said = [ln for ln in quiet.stderr.splitlines() if ln.strip()]
    assert [ln for ln in said if ln != "picky is looking"] == [first]  # its prints: stderr
    by_name = {Path(r["input"]).name: r for r in records(quiet.stdout)}  # stdout: records only
    assert [status(by_name[n]) for n in ("p00.png", "p01.png", "p02.jpg")] == [
        "done", "failed", "done"
    ]  # fmt: skip
    assert "traceback" not in by_name["p01.png"]

    shutil.rmtree(tmp_path / "out")
    loud = cli(*args, "--debug", timeout=300)
    assert loud.returncode == 1
    lines = [ln for ln in loud.stderr.splitlines() if ln != "picky is looking"]
    at = lines.index(first)
    assert lines[at + 1] == "Traceback (most recent call last):"
    assert any("in refuse" in ln for ln in lines[at:])  # the plugin's own frames
    [failed] = [r for r in records(loud.stdout) if status(r) == "failed"]
    assert "in refuse" in failed["traceback"]


# -- signals, kill -9 and resume -----------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signals_stop_cleanly_keep_finished_files_and_say_so(tmp_path, signum):
    photos = tmp_path / "photos"
    make_photos(photos, 12)
    out = tmp_path / "out"
    proc = start_cli("compress", photos, "-o", out, "-k", "64", "--jobs", "2")
    try:
        seen = wait_for_line(proc, b" -> ")
        if signum == signal.SIGINT:
            os.killpg(proc.pid, signum)  # Ctrl-C: the terminal signals the whole group
        else:
            proc.send_signal(signum)  # `kill PID`: the command alone
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    stdout, err = (seen + rest).decode(), err.decode()
    assert proc.returncode == 128 + signum
    name = signal.Signals(signum).name
    [stopped] = [ln for ln in err.splitlines() if ln.strip()]
    assert stopped.startswith(f"kmc-tui: stopped by {name}: ")
    done = int(re.search(r": (\d+) done,", stopped)[1])
    assert 1 <= done < 12 and f"{12 - done} not finished" in stopped
    assert f"{done} of {done} done" in stdout  # the summary table of what was done
    assert group_gone(proc.pid)  # no worker left behind
    assert len(list(out.iterdir())) == done
    assert_no_temporaries(out)
    assert_whole_images(out, 64)


def test_kill_9_then_skip_existing_finishes_the_rest(cli, tmp_path):
    photos = tmp_path / "photos"
    make_photos(photos, 12)
    out = tmp_path / "out"
    proc = start_cli("compress", photos, "-o", out, "-k", "64", "--jobs", "2")
    try:
        deadline = time.monotonic() + 180
        while not (out.is_dir() and len(list(out.iterdir())) >= 2):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)  # the command and its workers, no clean-up at all
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert group_gone(proc.pid)
    assert_no_temporaries(out)
    assert_whole_images(out, 64)
    kept = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.iterdir()}
    assert 2 <= len(kept) < 12

    resumed = cli(
        "compress", photos, "-o", out, "-k", "64", "--jobs", "2", "--skip-existing", "--json",
        timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    statuses = [status(r) for r in records(resumed.stdout)]
    assert statuses.count("skipped") == len(kept) and statuses.count("done") == 12 - len(kept)
    assert {n: ((out / n).stat().st_ino, (out / n).stat().st_mtime_ns) for n in kept} == kept
    assert_no_temporaries(out)

    reference = cli("compress", photos, "-o", tmp_path / "ref", "-k", "64", "--jobs", "1")
    assert reference.returncode == 0
    assert everything(out) == everything(tmp_path / "ref")


def test_parent_killed_alone_takes_its_workers_with_it(tmp_path):
    photos = tmp_path / "photos"
    make_photos(photos, 12)
    out = tmp_path / "out"
    proc = start_cli("compress", photos, "-o", out, "-k", "64", "--jobs", "2")
    try:
        wait_for_line(proc, b" -> ")
        proc.kill()  # SIGKILL to the command only: its workers are orphans
        proc.communicate(timeout=30)
        assert group_gone(proc.pid)
    finally:
        with pytest.raises(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert_no_temporaries(out)
    assert_whole_images(out, 64)


# -- Dask ----------------------------------------------------------------------------------------


def test_dask_local_cluster_gives_the_same_bytes_in_chunks(tmp_path):
    distributed = pytest.importorskip("distributed")  # in the test extra: always there
    photos = make_photos(tmp_path / "photos", 5, size=(96, 64))
    settings = batch.Settings(k=8)
    here = [batch.Task(str(p), str(tmp_path / "here" / p.name)) for p in photos]
    there = [batch.Task(str(p), str(tmp_path / "there" / p.name)) for p in photos]
    (tmp_path / "here").mkdir()
    assert [o.status for o in batch.run_in_process(here, settings)] == ["done"] * 5
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        outcomes = list(batch.run_dask(there, settings, client, files_per_task=2))
    assert sorted(o.input for o in outcomes) == sorted(t.input for t in there)
    assert {o.status for o in outcomes} == {"done"}
    assert everything(tmp_path / "here") == everything(tmp_path / "there")


def test_a_retried_file_is_not_written_twice(tmp_path):
    """What a Dask retry meets: the output it is about to write is already there, whole."""
    [photo] = make_photos(tmp_path, 1, size=(64, 48))
    task = batch.Task(str(photo), str(tmp_path / "out.png"))
    first = batch.compress_file(task, batch.Settings(k=4))
    assert first.status == "done" and first.notes == ()
    before = os.stat(task.output)
    again = batch.compress_file(task, batch.Settings(k=4))
    assert again.status == "done"
    assert again.notes == ("the output already held these very bytes: not written again",)
    after = os.stat(task.output)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    other = batch.compress_file(task, batch.Settings(k=5))  # different bytes: refused
    assert other.status == "failed" and "already exists" in other.message


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dask_cluster(tmp_path):
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1, always stopped after.

    The scheduler gives up on a task after its second lost worker (Dask's default is the
    fourth), to keep the test that kills workers short.
    """
    pytest.importorskip("distributed")
    from distributed import Client

    dask = str(Path(sys.executable).parent / "dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    env["DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES"] = "1"
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    started = []

    def start(name, *args):
        with open(logs / f"{name}.log", "wb") as log:
            started.append(
                subprocess.Popen(
                    [dask, *args], stdout=log, stderr=log, start_new_session=True, env=env
                )
            )

    try:
        start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(port),
              "--no-dashboard")  # fmt: skip
        for n in (1, 2):
            start(f"worker{n}", "worker", address, "--nthreads", "1", "--host", "127.0.0.1",
                  "--no-dashboard", "--death-timeout", "60")  # fmt: skip
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for proc in reversed(started):  # workers first, then the scheduler
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for proc in started:
            assert group_gone(proc.pid), (logs / "scheduler.log").read_text()


def test_dask_scheduler_and_two_workers_same_bytes_lost_workers(cli, tmp_path, dask_cluster):
    photos = tmp_path / "photos"
    make_photos(photos, 16, size=(48, 32))  # 2 files a task (16 files, 2 threads); p01 is 49 wide
    local = cli("compress", photos, "-o", tmp_path / "local", "-k", "8", "--jobs", "1")
    assert local.returncode == 0, local.stderr
    marker = tmp_path / "killed-once"
    run = (
        "compress", photos, "-k", "8", "--json", "--dask", dask_cluster,
        "--plugin", "killer", "--plugin-dir", PLUGINS, "--param", "width=49",
    )  # fmt: skip

    # p01 kills its worker once, after p00 of the same task is written; Dask runs the task again.
    remote = cli(*run, "-o", tmp_path / "remote", "--param", f"once={marker}", timeout=300)
    assert remote.returncode == 0, remote.stderr
    assert marker.exists()
    recs = {Path(r["input"]).name: r for r in records(remote.stdout)}
    assert [status(r) for r in recs.values()] == ["done"] * 16
    assert "the output already held these very bytes: not written again" in recs["p00.png"]["notes"]
    assert everything(tmp_path / "local") == everything(tmp_path / "remote")
    assert_no_temporaries(tmp_path / "remote")

    # p01 kills every worker it meets: its task is retried file by file, and only p01 fails.
    remote = cli(*run, "-o", tmp_path / "again", timeout=300)
    assert remote.returncode == 1
    recs = {Path(r["input"]).name: r for r in records(remote.stdout)}
    assert [n for n, r in recs.items() if status(r) != "done"] == ["p01.png"]
    assert recs["p01.png"]["error"].endswith("p01.png: Dask workers died on this file")
    assert len(list((tmp_path / "again").iterdir())) == 15


def test_dask_without_the_extra_says_how_to_install(cli, tmp_path):
    shim = tmp_path / "no-dask"
    (shim / "distributed").mkdir(parents=True)
    (shim / "distributed" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'distributed'\")\n"
    )
    [photo] = make_photos(tmp_path, 1, size=(32, 32))
    proc = cli(
        "compress", photo, "-k", "4", "--dask", "tcp://127.0.0.1:1",
        env={"PYTHONPATH": str(shim)},
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "kmc-tui: error: --dask needs Dask's distributed scheduler: pip install 'kmc-tui[dask]'"
    )
    assert not list(tmp_path.glob("*-k4.png"))
