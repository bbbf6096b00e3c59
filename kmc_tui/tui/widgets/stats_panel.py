"""The numbers of the current result: sizes, ratio, bits per pixel, colors, PSNR, ΔE2000, time."""

from __future__ import annotations

import math

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from ...formats import human_bytes


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


class StatsPanel(Static):
    """Figures for the full-resolution result (or what is known while it is computed)."""

    COMPONENT_CLASSES = {"stats-panel--label", "stats-panel--status", "stats-panel--larger"}

    DEFAULT_CSS = """
    StatsPanel { height: auto; }
    StatsPanel > .stats-panel--label { text-style: dim; }
    StatsPanel > .stats-panel--status { text-style: italic; color: ansi_yellow; }
    StatsPanel > .stats-panel--larger { text-style: bold reverse; color: $error; }
    """

    #: Turned off by tests that need a frame independent of the machine's speed.
    show_times = True

    def _part(self, name: str):
        return self.get_component_rich_style(f"stats-panel--{name}", partial=True)

    def clear(self, text: str = "") -> None:
        self.update(Text(text, style=self._part("label")))

    def show_stats(self, stats, *, input_bytes: int | None, status: str = "") -> None:
        """Render a :class:`kmc_tui.stats.Stats`."""
        ratio = "—" if stats.ratio is None else f"{stats.ratio:.3f}"
        saved = "—" if stats.saved_percent is None else f"{stats.saved_percent:.1f}%"
        psnr = "∞" if math.isinf(stats.psnr) else f"{stats.psnr:.1f} dB"
        took = format_seconds(stats.total_seconds) if self.show_times else "—"
        label = self._part("label")
        larger = stats.ratio is not None and stats.ratio > 1
        if larger:
            # Not a saving: the figures say so where they are read, and a line says it in words.
            ratio = Text(f"{ratio} ▲", style=self._part("larger"))
            saved = Text(saved, style=self._part("larger"))
        table = Table.grid(padding=(0, 1), expand=True)
        for _ in range(3):
            table.add_column(style=label, no_wrap=True)
            table.add_column(justify="right", no_wrap=True)
        table.add_row("in", human_bytes(input_bytes, missing="—"), "ratio", ratio, "PSNR", psnr)
        table.add_row(
            "out",
            human_bytes(stats.output_bytes, missing="—"),
            "saved",
            saved,
            "ΔE00",
            f"{stats.delta_e:.2f}",
        )
        table.add_row(
            "bpp", f"{stats.bits_per_pixel:.2f}", "colors", str(stats.colors), "time", took
        )
        lines = [table]
        if larger:
            lines.append(
                Text(
                    f"LARGER than the input: {stats.ratio:.2f}× its size",
                    style=self._part("larger"),
                )
            )
        if status:
            lines.append(Text(status, style=self._part("status")))
        self.update(Group(*lines) if len(lines) > 1 else table)
