"""Nothing lost: inputs are never modified, and a write that fails halfway leaves nothing behind.

Every test that writes checks the input's hash before and after. Failures are injected where
they happen for real: the disk filling up in the middle of the write (a file object that raises
after writing half), fsync or the final rename failing, and the process being killed while it
writes (a real CLI process stopped at that moment by SIGTERM or SIGKILL).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

import kmc_tui.fsio
from kmc_tui.api import compress
from kmc_tui.errors import OutputError

DATA = Path(__file__).resolve().parent / "data"
INPUTS = [
    DATA / "pillow" / "hopper.png",
    DATA / "pillow" / "hopper_gray.jpg",
    DATA / "pillow" / "dispose_bgnd.gif",
    DATA / "pngsuite" / "basn6a16.png",
]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listing(folder: Path) -> dict[str, str]:
    """Every file in `folder` (hidden ones too) with its hash; folders are left out."""
    return {p.name: sha256(p) for p in folder.iterdir() if not p.is_dir()}


@pytest.fixture
def work(tmp_path) -> Path:
    """A folder with copies of the inputs, so that a bug could not harm tests/data."""
    for src in INPUTS:
        shutil.copy(src, tmp_path / src.name)
    return tmp_path


@pytest.mark.parametrize("fmt", ["png", "jpg"])
def test_compress_never_modifies_the_input(work, cli, fmt):
    before = listing(work)
    out_dir = work / "out"
    inputs = [arg for src in INPUTS for arg in ("-i", work / src.name)]
    done = cli("compress", *inputs, "-o", out_dir, "-k", "8", "--format", fmt)
    assert done.returncode == 0, done.stderr
    assert listing(work) == before
    assert len(list(out_dir.iterdir())) == len(INPUTS)


def test_output_path_that_is_the_input_is_refused_in_any_spelling(work, cli):
    src = work / "hopper.png"
    before = sha256(src)
    (work / "sub").mkdir()
    os.symlink(src, work / "link.png")
    for spelling in [src, work / "sub" / ".." / "hopper.png", work / "link.png"]:
        done = cli("compress", "-i", src, "-o", spelling, "-k", "4")
        assert done.returncode != 0
        assert done.stderr.count("\n") == 1 and "kmc-tui: error:" in done.stderr
        assert sha256(src) == before
    assert sorted(p.name for p in work.iterdir()) == sorted(
        [s.name for s in INPUTS] + ["sub", "link.png"]
    )


def test_existing_output_kept_without_force(work, cli):
    src, out = work / "hopper_gray.jpg", work / "hopper.png"  # another input, not ours
    before = listing(work)
    done = cli("compress", "-i", src, "-o", out, "-k", "4")
    assert done.returncode != 0 and "already exists" in done.stderr
    assert listing(work) == before


# --- failures in the middle of a write, injected in-process ---------------------------------


class HalfWriter:
    """A file object that writes half of what it is given, then finds the disk full."""

    def __init__(self, real):
        self.real = real

    def write(self, data):
        self.real.write(data[: len(data) // 2])
        self.real.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self.real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.real.close()


def fail_half_write(monkeypatch):
    real_fdopen = os.fdopen
    monkeypatch.setattr(
        kmc_tui.fsio.os, "fdopen", lambda *a, **kw: HalfWriter(real_fdopen(*a, **kw))
    )


def fail_fsync(monkeypatch):
    def fsync(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(kmc_tui.fsio.os, "fsync", fsync)


def fail_rename(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(kmc_tui.fsio.os, "replace", refuse)
    monkeypatch.setattr(kmc_tui.fsio.os, "link", refuse)


@pytest.mark.parametrize("inject", [fail_half_write, fail_fsync, fail_rename])
@pytest.mark.parametrize("existing", [False, True], ids=["new", "replacing"])
def test_write_failing_halfway_leaves_nothing_and_changes_nothing(
    work, monkeypatch, inject, existing
):
    src = work / "hopper.png"
    out = work / "result.png"
    if existing:
        out.write_bytes(b"the user's own file, which must survive")
    before = listing(work)
    inject(monkeypatch)
    with pytest.raises(OutputError) as info:
        compress(src, out, 8, force=existing)
    monkeypatch.undo()
    message = str(info.value)
    assert str(out) in message and "\n" not in message
    assert listing(work) == before  # no partial file, no temporary file, nothing changed


def test_disk_full_through_the_cli_is_one_line(work):
    """The same disk-full failure, in the real CLI process (injected before it starts)."""
    src, out = work / "hopper_gray.jpg", work / "result.png"
    before = listing(work)
    code = textwrap.dedent(f"""
        import errno, os, sys
        real_fdopen = os.fdopen
        class Full:
            def __init__(self, real): self.real = real
            def write(self, data):
                self.real.write(data[: len(data) // 2]); self.real.flush()
                raise OSError(errno.ENOSPC, "No space left on device")
            def __getattr__(self, name): return getattr(self.real, name)
            def __enter__(self): return self
            def __exit__(self, *exc): self.real.close()
        os.fdopen = lambda *a, **kw: Full(real_fdopen(*a, **kw))
        from kmc_tui.cli import main
        sys.exit(main(["compress", "-i", {str(src)!r}, "-o", {str(out)!r}, "-k", "4"]))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip() == f"kmc-tui: error: {out}: cannot write: No space left on device"
    assert listing(work) == before


# --- the process killed while it writes -----------------------------------------------------


def start_stalled_write(src: Path, out: Path, force: bool) -> subprocess.Popen:
    """The real CLI, stopped in the middle of writing: half the bytes are in its temporary file
    when it says WRITING (on a pipe of its own: the CLI keeps stdout for its results) and waits."""
    said, say = os.pipe()
    code = textwrap.dedent(f"""
        import os, sys, time
        real_fdopen = os.fdopen
        class Slow:
            def __init__(self, real): self.real = real
            def write(self, data):
                self.real.write(data[: len(data) // 2]); self.real.flush()
                os.write({say}, b"WRITING\\n")
                time.sleep(60)
                self.real.write(data[len(data) // 2:])
            def __getattr__(self, name): return getattr(self.real, name)
            def __enter__(self): return self
            def __exit__(self, *exc): self.real.close()
        os.fdopen = lambda *a, **kw: Slow(real_fdopen(*a, **kw))
        from kmc_tui.cli import main
        sys.exit(main(["compress", "-i", {str(src)!r}, "-o", {str(out)!r}, "-k", "4"]
                      + (["--force"] if {force!r} else [])))
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        pass_fds=(say,),
    )
    os.close(say)
    deadline = time.monotonic() + 60
    with os.fdopen(said) as signals:
        line = signals.readline()
    assert line.strip() == "WRITING" and time.monotonic() < deadline, proc.stderr.read()
    return proc


def temporaries_open(pid: int, folder: Path) -> list[str]:
    """Files in `folder` that process `pid` holds open as temporaries: hidden ``.tmp`` names, or
    unnamed files (Linux O_TMPFILE, shown by /proc as ``folder/#inode (deleted)``)."""
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        name = target.removesuffix(" (deleted)")
        if Path(name).parent == folder and (name.endswith(".tmp") or target.endswith("(deleted)")):
            found.append(target)
    return found


@pytest.mark.parametrize(
    "signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"]
)
@pytest.mark.parametrize("existing", [False, True], ids=["new", "replacing"])
def test_terminated_while_writing_leaves_nothing(work, existing, signum, code):
    src, out = work / "hopper_gray.jpg", work / "result.png"
    if existing:
        out.write_bytes(b"the user's own file")
    before = listing(work)
    proc = start_stalled_write(src, out, force=existing)
    assert temporaries_open(proc.pid, work)  # caught mid-write indeed
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code
    name = signal.Signals(signum).name
    assert err.splitlines() == [f"kmc-tui: stopped by {name} (nothing partial was written)"]
    assert listing(work) == before


@pytest.mark.parametrize("existing", [False, True], ids=["new", "replacing"])
def test_killed_while_writing_never_touches_the_target(work, existing):
    """SIGKILL allows no clean-up: the target is absent or exactly as it was. On Linux the
    half-written bytes are in an unnamed file that vanishes with the process; elsewhere they
    can only be in the hidden temporary file."""
    src, out = work / "hopper_gray.jpg", work / "result.png"
    if existing:
        out.write_bytes(b"the user's own file")
    before = listing(work)
    proc = start_stalled_write(src, out, force=existing)
    assert temporaries_open(proc.pid, work)
    proc.kill()
    proc.communicate(timeout=30)
    after = listing(work)
    leftovers = set(after) - set(before)
    if sys.platform == "linux":
        assert not leftovers
    assert all(name.startswith(".result.png.") and name.endswith(".tmp") for name in leftovers)
    assert {name: after[name] for name in before} == before


# --- batch mode -----------------------------------------------------------------------------


def test_batch_goes_past_bad_files_and_says_so(work, cli):
    (work / "empty.png").write_bytes(b"")
    (work / "notes.png").write_text("not an image at all\n")
    shutil.copy(DATA / "pillow" / "truncated_image.png", work / "truncated.png")
    shutil.copy(DATA / "pngsuite" / "xcsn0g01.png", work / "badcrc.png")
    before = listing(work)
    out_dir = work.parent / "batch-out"
    done = cli("compress", "-i", work, "-o", out_dir, "-k", "8")
    assert done.returncode == 1
    errors = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(errors) == 4 and all(ln.startswith("kmc-tui: error: ") for ln in errors)
    for bad in ("empty", "notes", "truncated", "badcrc"):
        assert sum(f"{bad}.png" in ln for ln in errors) == 1
    assert "Traceback" not in done.stderr
    good = sorted(src.stem for src in INPUTS)
    assert sorted(p.stem for p in out_dir.iterdir()) == good
    for stem in good:
        with PILImage.open(out_dir / f"{stem}.png") as im:
            assert im.mode == "P" and len(np.unique(np.asarray(im))) <= 8
    assert listing(work) == before
    assert f"{len(INPUTS)} of {len(INPUTS) + 4} done" in done.stdout
