"""The terminal goes away under the running TUI (an SSH connection drops, a terminal window is
closed): the app leaves at once with 129, keeping its settings, instead of living on without a
terminal."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import shutil
import struct
import sys
import termios
import time
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "coffee.png"
KMC_TUI = shutil.which("kmc-tui", path=os.path.dirname(sys.executable)) or "kmc-tui"


def read_until(fd: int, needle: bytes, deadline: float) -> bytes:
    seen = b""
    while needle not in seen:
        assert time.monotonic() < deadline, f"the app never showed {needle!r}; got {seen[-300:]!r}"
        if select.select([fd], [], [], 0.2)[0]:
            seen += os.read(fd, 65536)
    return seen


def wait_exit(pid: int, seconds: float) -> int | None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.1)
    return None


@pytest.mark.parametrize("settle", [0.0, 2.0], ids=["at-first-frame", "later"])
def test_the_app_leaves_when_its_terminal_hangs_up(tmp_path, settle):
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "coffee.png")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KMC_TUI", "TMUX"))}
    env.update(TERM="xterm-256color", XDG_CONFIG_HOME=str(tmp_path / "config"))
    env.pop("COLUMNS", None), env.pop("LINES", None)
    # pty.fork makes the pseudo-terminal the child's controlling terminal, as a terminal
    # emulator or sshd does, so closing our side hangs it up (SIGHUP).
    pid, master = pty.fork()
    if pid == 0:
        os.chdir(folder)
        os.execve(KMC_TUI, [KMC_TUI, "coffee.png"], env)
    try:
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        read_until(master, b"coffee.png", time.monotonic() + 60)
        end = time.monotonic() + settle
        while time.monotonic() < end:  # keep reading, as a terminal does
            if select.select([master], [], [], 0.1)[0]:
                os.read(master, 65536)
    finally:
        os.close(master)
    code = wait_exit(pid, 15)
    if code is None:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    assert code == 129, f"exit status {code} after the hangup (None: still running after 15 s)"
    config = json.loads((tmp_path / "config" / "kmc-tui" / "config.json").read_text())
    assert Path(config["folder"]) == folder
