"""A pseudo-terminal that runs the real `kmc-tui`, records what it writes and types keys.

It can play a terminal's part in the graphics queries: `answers` maps a query's bytes to the
reply a terminal would send.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path


def kmc_tui_command() -> str:
    script = Path(sys.executable).parent / "kmc-tui"
    assert script.exists(), f"kmc-tui is not installed next to {sys.executable}"
    return str(script)


class PtyTerminal:
    """`columns` × `rows` cells of `cell` pixels, the size told through TIOCSWINSZ.

    Runs ``kmc-tui *args``, or `command` when given.
    """

    def __init__(
        self,
        args: list[str],
        *,
        cwd: Path,
        columns: int = 120,
        rows: int = 36,
        cell: tuple[int, int] | None = (10, 20),
        env: dict[str, str] | None = None,
        answers: dict[bytes, bytes] | None = None,
        command: list[str] | None = None,
    ):
        self.output = bytearray()
        self.arrivals: list[tuple[float, int]] = []  # (time.perf_counter(), output length)
        self.cpu_at_arrival: list[float] = []  # the app's CPU seconds when each read came
        self.answers = dict(answers or {})
        self._lock = threading.Lock()
        master, slave = os.openpty()
        xpixels, ypixels = (columns * cell[0], rows * cell[1]) if cell else (0, 0)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, xpixels, ypixels))
        # pytest-xdist's workers have COLUMNS=80 and LINES=24, which override the pty's size.
        dropped = ("KMC_TUI", "TMUX", "COLUMNS", "LINES")
        environment = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
        environment.update({"TERM": "xterm-256color", "COLORTERM": "truecolor"})
        # A config folder of its own: the user's remembered k or folder must not change what
        # a run shows, nor a run change what the user has.
        self._config_home = tempfile.TemporaryDirectory(prefix="kmc-pty-config-")
        environment["XDG_CONFIG_HOME"] = self._config_home.name
        environment.update(env or {})
        self.process = subprocess.Popen(
            command or [kmc_tui_command(), *args],
            cwd=cwd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=environment,
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                ready = select.select([self.master], [], [], 0.1)[0]
                if not ready:
                    if self.process.poll() is not None:
                        return
                    continue
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            cpu = self.cpu_seconds()
            with self._lock:
                start = max(0, len(self.output) - 64)
                self.output += chunk
                self.arrivals.append((time.perf_counter(), len(self.output)))
                self.cpu_at_arrival.append(cpu)
                window = bytes(self.output[start:])
            for query, reply in list(self.answers.items()):
                if query in window:
                    self.answers.pop(query)
                    os.write(self.master, reply)

    def snapshot(self) -> bytes:
        with self._lock:
            return bytes(self.output)

    def mark(self) -> int:
        """The current end of the output: `wait_for(..., after=mark)` looks only past it."""
        with self._lock:
            return len(self.output)

    def wait_for(self, predicate, *, after: int = 0, timeout: float = 60.0, what: str = ""):
        """Wait until ``predicate(output after `after`)`` is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate(self.snapshot()[after:])
            if value:
                return value
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        tail = self.snapshot()[-600:]
        raise AssertionError(f"timed out waiting for {what or predicate}; output ends {tail!r}")

    def cpu_seconds(self) -> float:
        """CPU seconds the app's threads have run so far (Linux's schedstat, nanoseconds;
        NaN elsewhere): less moved by other work on the machine than wall time."""
        total = 0
        try:
            for task in Path(f"/proc/{self.process.pid}/task").iterdir():
                total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return float("nan")
        return total / 1e9

    def cpu_at(self, offset: int) -> float:
        """The app's CPU seconds when the output byte at `offset` arrived."""
        with self._lock:
            for n, (_, length) in enumerate(self.arrivals):
                if length > offset:
                    return self.cpu_at_arrival[n]
        raise ValueError(f"no output at offset {offset}")

    def arrival(self, offset: int) -> float:
        """When the output byte at `offset` arrived (perf_counter seconds)."""
        with self._lock:
            for moment, length in self.arrivals:
                if length > offset:
                    return moment
        raise ValueError(f"no output at offset {offset}")

    def burst_end(self, offset: int, *, gap: float = 0.005) -> int:
        """The end of the burst of reads holding the byte at `offset`: reads less than `gap`
        seconds apart (one write of the app comes out of the pty in pieces)."""
        with self._lock:
            arrivals = list(self.arrivals)
        n = next((i for i, (_, length) in enumerate(arrivals) if length > offset), None)
        if n is None:
            raise ValueError(f"no output at offset {offset}")
        while n + 1 < len(arrivals) and arrivals[n + 1][0] - arrivals[n][0] < gap:
            n += 1
        return arrivals[n][1]

    def type(self, text: str | bytes) -> None:
        os.write(self.master, text.encode() if isinstance(text, str) else text)

    def close(self) -> None:
        if self.process.poll() is None:
            self.type(b"\x11")  # ctrl+q
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._reader.join(5)
        os.close(self.master)
        self._config_home.cleanup()
