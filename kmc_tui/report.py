"""What ``kmc-tui compress`` shows: a line (or a JSON record) per file as it finishes, progress
on a terminal (rich), and the summary table at the end."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field

from .batch import CANCELLED, DONE, FAILED, SKIPPED, STDIO, UNREACHABLE, Outcome
from .errors import shown
from .formats import human_bytes


def _fmt_float(x: float | None, digits: int = 2) -> str:
    return "inf" if x is None or math.isinf(x) else f"{x:.{digits}f}"


def _stream_name(path: str, stream: str) -> str:
    return stream if path == STDIO else shown(path)


def file_line(outcome: Outcome) -> str:
    """One line for a done file: what went where, sizes, colors and color error."""
    r = outcome.record
    source = _stream_name(outcome.input, "stdin")
    target = _stream_name(outcome.output, "stdout")
    ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3f} ({r['saved_percent']:.0f}% saved)"
    exact = "" if r["exact_colors"] else " (lossy format: not exactly k colors)"
    return (
        f"{source} -> {target}: {r['colors']} colors{exact}, "
        f"{human_bytes(r['input_bytes'])} -> {human_bytes(r['output_bytes'])}, ratio {ratio}, "
        f"{r['bits_per_pixel']:.2f} bpp, PSNR {_fmt_float(r['psnr'])} dB, "
        f"ΔE2000 {r['delta_e']:.2f}, {r['seconds']:.2f} s"
    )


def skipped_line(outcome: Outcome) -> str:
    """One line for a result not written because it was not smaller (--skip-if-larger)."""
    r = outcome.record
    return (
        f"{_stream_name(outcome.input, 'stdin')}: skipped: {human_bytes(r['output_bytes'])} "
        f"would not be smaller than the input's {human_bytes(r['input_bytes'])}"
    )


def search_line(search) -> str:
    """How a target chose k (a :class:`kmc_tui.targets.TargetSearch`), for the line under a
    result."""
    real = {t.k: t for t in search.trials if not t.estimate}
    estimates = len(search.trials) - len(real)
    runs = f"{len(real)} run{'s' if len(real) != 1 else ''}"
    if estimates:
        runs += f" and {estimates} estimate{'s' if estimates != 1 else ''}"
    runs += f" in {sum(t.seconds for t in search.trials):.1f} s"
    if search.at_bound:
        return f"target {search.target}: k={search.k}, the end of the range ({runs})"
    kind = search.target.kind
    other = real[search.k - 1 if kind == "delta_e" else search.k + 1]
    figure = f"ΔE2000 {other.delta_e:.3f}" if kind == "delta_e" else f"{other.bytes} B"
    return f"target {search.target}: k={search.k} (k={other.k} gives {figure}; {runs})"


def json_line(outcome: Outcome, *, traceback: bool = False) -> str:
    """The ``--json`` record of any outcome: the figures of a done file, else its status and
    the error or reason (and, with `traceback`, a plugin's traceback when there is one). Paths
    are kept exactly (undecodable bytes as ``\\udcXX`` escapes)."""
    if outcome.record is not None:
        return json.dumps(outcome.record)
    key = "error" if outcome.status == FAILED else "reason"
    record = {
        "input": outcome.input,
        "output": outcome.output or None,
        "status": outcome.status,
        key: outcome.message or None,
    }
    if traceback and outcome.traceback:
        record["traceback"] = outcome.traceback
    return json.dumps(record)


@dataclass
class Tally:
    """Counts and bytes so far, and a short row per file for the summary table.

    `skipped` counts outputs already there and results not smaller; only the latter were
    considered in this run (`not_smaller`), and they have a row.
    """

    total: int = 0
    done: int = 0
    skipped: int = 0
    not_smaller: int = 0
    unreachable: int = 0
    failed: int = 0
    cancelled: int = 0
    input_bytes: int = 0
    output_bytes: int = 0
    started: float = field(default_factory=time.perf_counter)
    rows: list[tuple] = field(default_factory=list)

    @property
    def finished(self) -> int:
        return self.done + self.skipped + self.unreachable + self.failed

    @property
    def saved_bytes(self) -> int:
        return self.input_bytes - self.output_bytes

    def add(self, outcome: Outcome) -> None:
        name = os.path.basename(outcome.input) or outcome.input
        if outcome.status == DONE:
            r = outcome.record
            self.done += 1
            self.input_bytes += r["input_bytes"] or 0
            self.output_bytes += r["output_bytes"]
            self.rows.append(
                (
                    name,
                    r["input_bytes"],
                    r["output_bytes"],
                    r["ratio"],
                    r["colors"],
                    r["psnr"],
                    r["delta_e"],
                    r["seconds"],
                )
            )
        elif outcome.status == SKIPPED:
            self.skipped += 1
            if outcome.record is not None:  # computed, and not smaller
                self.not_smaller += 1
                r = outcome.record
                self.rows.append((name, r["input_bytes"], r["output_bytes"], r["ratio"]))
        elif outcome.status == CANCELLED:
            self.cancelled += 1
        elif outcome.status == UNREACHABLE:
            self.unreachable += 1
            self.rows.append((name, f"not reachable: {outcome.message}"))
        else:
            self.failed += 1
            self.rows.append((name, f"failed: {outcome.message}"))

    def files_per_second(self) -> float:
        elapsed = time.perf_counter() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def table(self) -> str:
        """The summary table: a row per done or failed file, then the totals."""
        head = (
            f"{'file':<32} {'in':>9} {'out':>9} {'ratio':>6} {'colors':>6} "
            f"{'PSNR':>6} {'ΔE':>5} {'s':>6}"
        )
        lines = [head, "-" * len(head)]
        for row in self.rows:
            name = shown(row[0])
            name = name if len(name) <= 32 else "…" + name[-31:]
            if len(row) == 2:
                lines.append(f"{name:<32} {shown(row[1])}")
                continue
            if len(row) == 4:
                _, size_in, size_out, ratio = row
                lines.append(
                    f"{name:<32} {human_bytes(size_in):>9} {human_bytes(size_out):>9} "
                    f"{(ratio or 0):>6.3f} skipped: not smaller"
                )
                continue
            _, size_in, size_out, ratio, colors, psnr, delta_e, seconds = row
            lines.append(
                f"{name:<32} {human_bytes(size_in):>9} {human_bytes(size_out):>9} "
                f"{(ratio or 0):>6.3f} {colors:>6} {_fmt_float(psnr, 1):>6} "
                f"{delta_e:>5.2f} {seconds:>6.2f}"
            )
        lines.append("-" * len(head))
        lines.append(self.totals())
        return "\n".join(lines)

    def totals(self) -> str:
        ratio = f"{self.output_bytes / self.input_bytes:.3f}" if self.input_bytes else "-"
        considered = self.done + self.not_smaller + self.unreachable + self.failed
        text = (
            f"{self.done} of {considered} done, {human_bytes(self.input_bytes)} -> "
            f"{human_bytes(self.output_bytes)} (ratio {ratio}), {self.skipped} skipped, "
        )
        if self.unreachable:
            text += f"{self.unreachable} not reachable, "
        return text + f"{self.failed} failed"


class Progress:
    """rich's progress bar on the terminal behind stderr: files done, files/s, bytes saved, ETA.

    It draws on its own copy of file descriptor 2, so catching decoders' chatter on fd 2 cannot
    swallow it. Lines for `out` (the command's own output) go through :meth:`print`, above the
    bar when `out` is the same terminal.
    """

    def __init__(self, tally: Tally, *, out, enabled: bool):
        self.tally = tally
        self.out = out
        self.enabled = enabled
        self._progress = None
        self._task = None
        self._stream = None

    def __enter__(self) -> Progress:
        if not self.enabled:
            return self
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import (
            Progress as RichProgress,
        )

        self._stream = os.fdopen(os.dup(sys.stderr.fileno()), "w", encoding="utf-8")
        console = Console(file=self._stream, highlight=False)
        self._progress = RichProgress(
            TextColumn("compressing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TextColumn("{task.fields[saved]}"),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
            refresh_per_second=4,
        )
        self._progress.start()
        self._task = self._progress.add_task("compress", total=self.tally.total, rate="", saved="")
        return self

    def update(self) -> None:
        if self._progress is None:
            return
        t = self.tally
        self._progress.update(
            self._task,
            completed=t.finished,
            rate=f"{t.files_per_second():.2f} files/s",
            saved=f"{human_bytes(t.saved_bytes)} saved",
        )

    def print(self, line: str, *, stderr: bool = False) -> None:
        """Print a line to `out` (or stderr), above the bar when they share its terminal."""
        same_terminal = self._progress is not None and (stderr or self.out.isatty())
        if same_terminal:
            self._progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            print(line, file=sys.stderr if stderr else self.out, flush=True)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            with contextlib.suppress(Exception):
                self._progress.stop()
            with contextlib.suppress(OSError):
                self._stream.close()
            self._progress = None
