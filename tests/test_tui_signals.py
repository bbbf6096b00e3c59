"""The TUI stopped by a signal in a real terminal (tmux): the terminal is given back as it was
(main screen, no mouse reporting, cursor shown, line editing and echo on), a clear line, exit
128 + the signal; a save caught mid-write by the signal leaves no partial file."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest
from tmux_terminal import Tmux, kmc_tui_command, quote

DATA = Path(__file__).resolve().parent / "data"


class Shell(Tmux):
    """A tmux pane running a shell, so what the TUI leaves behind can be looked at after it."""

    def flags(self) -> dict[str, str]:
        names = ("alternate_on", "mouse_any_flag", "cursor_flag")
        shown = self.run("display", "-p", "-t", "e2e", " ".join(f"#{{{n}}}" for n in names))
        return dict(zip(names, shown.stdout.split(), strict=True))

    def pid_of_pane_child(self) -> int:
        """The process the shell is running (the TUI)."""
        shell = int(self.run("display", "-p", "-t", "e2e", "#{pane_pid}").stdout)
        children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
        assert len(children) == 1, children
        return int(children[0])


def assert_terminal_given_back(tmux: Shell) -> str:
    """The TUI has ended and left the terminal as it found it; returns the screen."""
    tmux.wait_for(lambda s: re.search(r"EXIT=\d", s), 60, "the shell's prompt after the TUI")
    assert tmux.flags() == {"alternate_on": "0", "mouse_any_flag": "0", "cursor_flag": "1"}
    tmux.type_line("echo TTY:$(stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(icanon|echo|isig)')")
    text = tmux.wait_for(lambda s: re.search(r"TTY:[a-z-]", s), 15, "stty's answer")
    modes = set(re.search(r"TTY:([a-z -]+)", text).group(1).split())
    assert modes == {"icanon", "isig", "echo"}, text  # not raw mode, echo on
    return text


@pytest.fixture
def shell(tmp_path, tmp_path_factory):
    tmux = Shell(100, 30)
    tmux.start_shell(tmp_path, config_home=tmp_path_factory.mktemp("xdg"))
    yield tmux
    tmux.kill()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_tui_stopped_by_a_signal_gives_the_terminal_back(tmp_path, shell, signum):
    image = tmp_path / "hopper.png"
    shutil.copy(DATA / "pillow" / "hopper.png", image)
    shell.type_line(f"{quote(kmc_tui_command())} {quote(str(image))}; echo EXIT=$?")
    shell.wait_for(lambda s: "k=16" in s and "palette" in s, 90, "the first result")
    assert shell.flags()["alternate_on"] == "1"  # the TUI indeed owned the terminal
    pid = shell.pid_of_pane_child()
    os.kill(pid, signum)
    screen = assert_terminal_given_back(shell)
    name = signal.Signals(signum).name
    assert f"kmc-tui: stopped by {name}" in screen and f"EXIT={128 + signum}" in screen
    assert "Traceback" not in screen
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hopper.png"]


def test_signal_during_a_tui_save_leaves_no_partial_file(tmp_path, shell):
    """The save is held in the middle of its write (half the bytes in the unnamed file) when
    SIGTERM comes: the terminal comes back at once; the file appears whole or not at all."""
    image = tmp_path / "hopper.png"
    shutil.copy(DATA / "pillow" / "hopper.png", image)
    writing, go = tmp_path.parent / "writing", tmp_path.parent / "go"
    wrapper = tmp_path.parent / "stalled_save.py"
    wrapper.write_text(
        textwrap.dedent(f"""
        import os, sys, time
        import kmc_tui.fsio as fsio
        from kmc_tui.cli import main

        def held(fd, data):
            os.write(fd, data[: len(data) // 2])
            open({str(writing)!r}, "w").close()
            while not os.path.exists({str(go)!r}):
                time.sleep(0.05)
            os.write(fd, data[len(data) // 2 :])
            os.fsync(fd)

        fsio._write_all = held
        sys.exit(main([{str(image)!r}]))
        """)
    )
    shell.type_line(f"{quote(sys.executable)} {quote(str(wrapper))}; echo EXIT=$?")
    shell.wait_for(lambda s: "k=16" in s and "palette" in s, 90, "the first result")
    shell.keys("s")
    deadline = time.monotonic() + 30
    while not writing.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert writing.exists(), shell.screen()
    pid = shell.pid_of_pane_child()
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while shell.flags()["alternate_on"] != "0" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert shell.flags()["alternate_on"] == "0"  # back before the held write ends
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["hopper.png"]  # nothing half-written is visible, not even hidden
    go.touch()
    assert "EXIT=143" in assert_terminal_given_back(shell)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names in (["hopper.png"], ["hopper-k16.png", "hopper.png"])
    if "hopper-k16.png" in names:  # the save finished whole after the signal
        from PIL import Image as PILImage

        with PILImage.open(tmp_path / "hopper-k16.png") as im:
            im.load()
            assert im.size == (128, 128)
