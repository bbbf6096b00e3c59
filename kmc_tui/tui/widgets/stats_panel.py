"""The numbers of the current result: sizes, ratio, bits per pixel, colors, PSNR, ΔE2000, time;
and the bytes saved by every file written since the app started."""

from __future__ import annotations

import math

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.strip import Strip
from textual.widgets import Static

from ...formats import human_bytes


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


class StatsPanel(Static):
    """Figures for the full-resolution result (or what is known while it is computed)."""

    COMPONENT_CLASSES = {
        "stats-panel--label",
        "stats-panel--status",
        "stats-panel--larger",
        "stats-panel--totals",
    }

    DEFAULT_CSS = """
    StatsPanel { height: auto; }
    StatsPanel > .stats-panel--label { text-style: dim; }
    StatsPanel > .stats-panel--status { text-style: italic; color: ansi_yellow; }
    StatsPanel > .stats-panel--larger { text-style: bold reverse; color: $error; }
    StatsPanel > .stats-panel--totals { color: ansi_green; }
    """

    #: Turned off by tests that need a frame independent of the machine's speed.
    show_times = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._body = None
        self._totals: Text | None = None
        self._shape: tuple | None = None  # the lines shown, when known without rendering
        self._version = 0  # counts the contents shown
        self._lines: list[Strip] = []
        self._lines_key: tuple | None = None  # what self._lines were rendered for
        self._stats_shown: tuple | None = None  # (stats, input_bytes, show_times, body)

    def _part(self, name: str):
        return self.get_component_rich_style(f"stats-panel--{name}", partial=True)

    def _show(self, body) -> None:
        self._body = body
        self._version += 1
        content = body if self._totals is None else Group(body, self._totals)
        # Laying the screen out again costs every widget a render: done only when the panel's
        # height may change (another number of lines, or a line that could wrap).
        shape = _line_shape(content, self.content_size.width)
        self.update(content, layout=shape is None or shape != self._shape)
        self._shape = shape

    def clear(self, text: str = "") -> None:
        self.border_subtitle = None
        self._show(Text(text, style=self._part("label")))

    def show_totals(self, files: int, input_bytes: int, output_bytes: int) -> None:
        """What the files saved since the start weigh against their inputs (one line)."""
        if not files:
            self._totals = None
        else:
            saved = input_bytes - output_bytes
            share = f" ({100 * saved / input_bytes:.0f}%)" if input_bytes else ""
            what = "saved" if saved >= 0 else "grew by"
            self._totals = Text(
                f"since start: {files} file{'s' if files != 1 else ''} written, "
                f"{what} {human_bytes(abs(saved))}{share}",
                style=self._part("totals"),
                no_wrap=True,
                overflow="ellipsis",
            )
        if self._body is not None:
            self._show(self._body)

    def show_stats(self, stats, *, input_bytes: int | None, status: str = "") -> None:
        """Render a :class:`kmc_tui.stats.Stats`."""
        shown = (stats, input_bytes, self.show_times)
        if self._body is not None and self._stats_shown == (*shown, self._body):
            self._show_status(status)  # the figures on screen already (a key's "computing")
            return
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
        # The colors a decoder sees in the file: the palette's for PNG and GIF, more for JPEG.
        table.add_row(
            "bpp", f"{stats.bits_per_pixel:.2f}", "file colors", str(stats.colors), "time", took
        )
        lines = [table]
        if larger:
            lines.append(
                Text(
                    f"LARGER than the input: {stats.ratio:.2f}× its size",
                    style=self._part("larger"),
                )
            )
        self._show(Group(*lines) if len(lines) > 1 else table)
        self._stats_shown = (*shown, self._body)
        self._show_status(status)

    def _show_status(self, status: str) -> None:
        # In the border: a status line would change the panel's height, and so lay the whole
        # screen out again, on every key.
        self.border_subtitle = Text(status, style=self._part("status")) if status else None

    def render_line(self, y: int) -> Strip:
        # A new status in the border repaints the panel, and Textual would render the table
        # again; the lines are kept while the contents, size, style and selection are the same.
        key = (self._version, self.size, self.visual_style, self.text_selection)
        if key != self._lines_key:
            self._lines_key = key
            render = super().render_line
            self._lines = [render(n) for n in range(self.size.height)]
        if 0 <= y < len(self._lines):
            return self._lines[y]
        return super().render_line(y)


def _line_shape(content, width: int) -> tuple | None:
    """The kinds of lines `content` shows ("table" rows, one "line" per unwrapped text), or
    None when that cannot be told without rendering (a text that may wrap at `width`)."""
    parts = content.renderables if isinstance(content, Group) else [content]
    shape = []
    for part in parts:
        if isinstance(part, Group):
            inner = _line_shape(part, width)
            if inner is None:
                return None
            shape.extend(inner)
        elif isinstance(part, Table):
            shape.append(("table", part.row_count))
        elif isinstance(part, Text) and "\n" not in part.plain and part.cell_len <= width:
            shape.append("line")
        else:
            return None
    return tuple(shape)
