"""A real terminal for end-to-end tests: a tmux server of our own running `kmc-tui` or a shell.

The counterpart of pty_terminal.py (a bare pseudo-terminal that records bytes): here tmux
draws the screen, and tests read it as text with `screen()` and type with `keys()`.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path

from pty_terminal import kmc_tui_command

__all__ = ["Tmux", "kmc_tui_command", "quote"]


def quote(text: str) -> str:
    """`text` as one word for the shell."""
    return "'" + text.replace("'", "'\\''") + "'"


class Tmux:
    """A tmux server of our own (its own socket), one session named e2e, a fixed size."""

    def __init__(self, width: int = 100, height: int = 30):
        assert shutil.which("tmux"), "tmux is needed for this test (.ci/run installs it)"
        self.socket = f"kmc-e2e-{uuid.uuid4().hex[:8]}"
        self.width, self.height = width, height

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=30,
        )

    def _new_session(self, cwd: Path, shell_command: str) -> None:
        self.run(
            "new-session",
            "-d",
            "-s",
            "e2e",
            "-x",
            str(self.width),
            "-y",
            str(self.height),
            "-c",
            str(cwd),
            shell_command,
        )

    def start(
        self, command: list[str], cwd: Path, *, config_home: Path, term: str = "xterm-256color"
    ) -> None:
        """Run `command` in `cwd` under TERM=`term`, with `config_home` as the user's config
        folder (the app remembers its settings there: never the real one)."""
        env_command = " ".join(quote(c) for c in command)
        self._new_session(
            cwd,
            f"env -u KMC_TUI_PLUGIN_PATH -u COLORTERM XDG_CONFIG_HOME={quote(str(config_home))} "
            f"TERM={term} {env_command}",
        )

    def start_shell(self, cwd: Path, *, config_home: Path) -> None:
        """A shell in `cwd`, so what a program leaves behind can be looked at after it; the
        app it runs keeps its config in `config_home`, not the user's."""
        self._new_session(
            cwd,
            f"env -u KMC_TUI_PLUGIN_PATH XDG_CONFIG_HOME={quote(str(config_home))} "
            "TERM=xterm-256color PS1='$ ' bash --norc --noprofile",
        )

    def screen(self, *, escapes: bool = False) -> str:
        flags = ["-p", "-e"] if escapes else ["-p"]
        return self.run("capture-pane", "-t", "e2e", *flags, check=False).stdout

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "e2e", *keys)

    def type_line(self, line: str) -> None:
        """`line` typed literally, then Enter."""
        self.run("send-keys", "-t", "e2e", "-l", line)
        self.keys("Enter")

    def alive(self) -> bool:
        return self.run("has-session", "-t", "e2e", check=False).returncode == 0

    def wait_for(self, predicate, timeout: float, what: str) -> str:
        """The screen as soon as ``predicate(screen)`` is truthy (looked at every 0.1 s)."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if predicate(text):
                return text
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; screen was:\n{text}")

    def wait_gone(self, timeout: float = 20) -> None:
        """Wait for the session's program to end (tmux closes the session with it)."""
        deadline = time.monotonic() + timeout
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not self.alive(), "the program in tmux did not end"

    def kill(self) -> None:
        self.run("kill-server", check=False)
