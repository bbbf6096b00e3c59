"""The TUI when the disk fails it: a save into a full filesystem, into a read-only one, the open
image's folder removed. Each is a notification; the app goes on; nothing half-written is left.

Where a small filesystem can be mounted (root, as in CI) the faults are real: a 128 KB tmpfs
filled up, then remounted read-only. Elsewhere the same errors are injected where the write
makes them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import uuid
from pathlib import Path

from tui_support import HOPPER, press, record_notifications, sync, wait_result, wait_until

import kmc_tui.fsio
from kmc_tui.tui.app import KmcApp


@contextlib.contextmanager
def small_filesystem(parent: Path):
    """A 128 KB tmpfs under `parent` (None when it cannot be mounted here)."""
    where = parent / f"tmpfs-{uuid.uuid4().hex[:6]}"
    where.mkdir()
    mounted = (
        os.geteuid() == 0
        and shutil.which("mount")
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(where)], capture_output=True
        ).returncode
        == 0
    )
    try:
        yield where if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(folder: Path) -> None:
    """Take every free byte of `folder`'s filesystem."""
    with open(folder / "filler", "wb", buffering=0) as fh:
        with contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 512)


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def save_fails_then_app_goes_on(
    pilot, app, seen, folder: Path, says: str, *, besides: str | None = None
) -> None:
    """`besides`: another error the fault itself may show (the file list saying it cannot list
    a removed folder), not counted."""
    await press(pilot, "s")
    await wait_until(
        pilot, lambda: any(s == "error" and says in m for s, m in seen), 20, "the save's error"
    )
    errors = [m for s, m in seen if s == "error" and not (besides and besides in m)]
    assert len(errors) == 1 and says in errors[0], errors
    assert app.is_running
    # The app goes on: another k still gives a result.
    k = app.session.settings.k
    await press(pilot, "plus")
    result = await wait_result(pilot, app)
    assert result.quantized.k == k + 1


@sync
async def test_save_into_a_full_disk(tmp_path, monkeypatch):
    with small_filesystem(tmp_path) as disk:
        folder = disk or tmp_path
        shutil.copy(HOPPER, folder / "hopper.png")
        if disk is not None:
            fill(disk)
        else:  # injected where a full disk fails a write: the data does not fit

            def full(fd, data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            monkeypatch.setattr(kmc_tui.fsio, "_write_all", full)
        before = listing(folder)
        app = KmcApp(folder / "hopper.png", k=4)
        seen = record_notifications(app)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_result(pilot, app)
            await save_fails_then_app_goes_on(pilot, app, seen, folder, "No space left")
        assert listing(folder) == before  # not even a hidden temporary


@sync
async def test_save_into_a_read_only_folder(tmp_path, monkeypatch):
    with small_filesystem(tmp_path) as disk:
        folder = disk or tmp_path
        shutil.copy(HOPPER, folder / "hopper.png")
        if disk is not None:
            subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
            says = "Read-only file system"
        elif os.geteuid() != 0:
            folder.chmod(0o555)
            says = "Permission denied"
        else:  # root without mount: the refusal a read-only folder gives, injected

            def refuse(*args, **kwargs):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

            monkeypatch.setattr(kmc_tui.fsio, "_open_unnamed", refuse)
            monkeypatch.setattr(kmc_tui.fsio.tempfile, "mkstemp", refuse)
            says = "Permission denied"
        before = listing(folder)
        app = KmcApp(folder / "hopper.png", k=4)
        seen = record_notifications(app)
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                await wait_result(pilot, app)
                await save_fails_then_app_goes_on(pilot, app, seen, folder, says)
        finally:
            if disk is None:
                folder.chmod(0o755)
        assert listing(folder) == before


@sync
async def test_folder_of_the_open_image_removed(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(HOPPER, folder / "hopper.png")
    app = KmcApp(folder / "hopper.png", k=4)
    seen = record_notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_result(pilot, app)
        shutil.rmtree(folder)
        # The picture is in memory: another k still works.
        await press(pilot, "plus")
        result = await wait_result(pilot, app)
        assert result.quantized.k == 5
        await save_fails_then_app_goes_on(
            pilot, app, seen, tmp_path, "does not exist", besides="cannot list"
        )
    assert listing(tmp_path) == []
