"""A keyboard-driven list of the folders and images in one folder, with each file's size.

The folder is listed in a worker thread (one ``scandir`` plus a ``stat`` per entry), so a folder
of tens of thousands of files never blocks the UI; the list draws only the lines on screen.
Unreadable folders, broken symlinks and symlink loops are shown as such.
"""

from __future__ import annotations

import errno
import os
import stat
import textwrap
from dataclasses import dataclass
from pathlib import Path

from rich.segment import Segment
from rich.style import Style
from textual import work
from textual.binding import Binding
from textual.geometry import Size
from textual.markup import escape
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import get_current_worker

from ...errors import shown
from ...formats import IMAGE_EXTENSIONS


@dataclass(frozen=True)
class Entry:
    """One line of the browser.

    Attributes
    ----------
    name : str
    path : Path
    kind : {"parent", "folder", "image", "broken", "unreadable"}
    size : int or None
        Bytes, for images.
    note : str
        Why an entry is broken or unreadable.
    """

    name: str
    path: Path
    kind: str
    size: int | None = None
    note: str = ""


def human_size(n: int | None) -> str:
    """1234567 -> '1.2M' (short enough for a narrow column)."""
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "K", "M", "G"):
        if value < 1000 or unit == "G":
            return f"{value:.0f}{unit}" if unit == "B" or value >= 100 else f"{value:.1f}{unit}"
        value /= 1000.0
    return f"{value:.1f}G"  # pragma: no cover


def list_folder(folder: Path, should_stop=lambda: False) -> tuple[list[Entry], str | None]:
    """The folders and images in `folder` (not hidden ones), folders first, each sorted by name.

    Returns the entries and an error message (the folder could not be listed) or None.
    """
    entries: list[Entry] = []
    parent = folder.parent
    if parent != folder:
        entries.append(Entry("..", parent, "parent"))
    folders: list[Entry] = []
    images: list[Entry] = []
    try:
        with os.scandir(folder) as it:
            for n, item in enumerate(it):
                if n % 512 == 0 and should_stop():
                    return entries, None
                if item.name.startswith("."):
                    continue  # hidden, as in ls: .git, .venv, our own temporary files
                entry = _describe(item)
                if entry is None:
                    continue
                (images if entry.kind == "image" else folders).append(entry)
    except OSError as exc:
        return entries, f"cannot list: {exc.strerror or exc}"
    folders.sort(key=lambda e: e.name.lower())
    images.sort(key=lambda e: e.name.lower())
    return entries + folders + images, None


def _describe(item: os.DirEntry) -> Entry | None:
    path = Path(item.path)
    try:
        st = item.stat()  # follows symlinks
    except OSError as exc:
        if item.is_symlink():
            why = "symlink loop" if exc.errno == errno.ELOOP else "broken symlink"
            return Entry(item.name, path, "broken", note=why)
        return Entry(item.name, path, "broken", note=exc.strerror or str(exc))
    if stat.S_ISDIR(st.st_mode):
        if not os.access(path, os.R_OK | os.X_OK):
            return Entry(item.name, path, "unreadable", note="no permission")
        return Entry(item.name, path, "folder")
    if stat.S_ISREG(st.st_mode) and path.suffix.lower() in IMAGE_EXTENSIONS:
        return Entry(item.name, path, "image", size=st.st_size)
    return None


class FileBrowser(ScrollView, can_focus=True):
    """The list of one folder. Enter opens a folder or an image; backspace goes up."""

    BINDINGS = [
        Binding("enter", "open", "Open", show=False),
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "cursor_to(0)", "First", show=False),
        Binding("end", "cursor_to(-1)", "Last", show=False),
        Binding("backspace", "parent", "Parent folder", show=False),
    ]

    COMPONENT_CLASSES = {
        "file-browser--parent",
        "file-browser--folder",
        "file-browser--broken",
        "file-browser--cursor",
        "file-browser--cursor-unfocused",
        "file-browser--error",
    }

    DEFAULT_CSS = """
    FileBrowser { height: 1fr; }
    FileBrowser > .file-browser--parent { text-style: bold; }
    FileBrowser > .file-browser--folder { text-style: bold; color: ansi_cyan; }
    FileBrowser > .file-browser--broken { text-style: dim; color: ansi_red; }
    FileBrowser > .file-browser--cursor { text-style: reverse; }
    FileBrowser > .file-browser--cursor-unfocused { background: #585858; }
    FileBrowser > .file-browser--error { color: ansi_red; }
    """

    cursor: reactive[int] = reactive(0)

    class FileSelected(Message):
        """Enter (or a click) on an image."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    class FolderListed(Message):
        """A folder finished listing (its entries are on screen)."""

        def __init__(self, folder: Path, count: int, error: str | None) -> None:
            super().__init__()
            self.folder = folder
            self.count = count
            self.error = error

    class Listing(Message):
        """A worker finished listing a folder (internal: the browser handles it)."""

        def __init__(
            self, request: int, folder: Path, entries: list[Entry], error: str | None
        ) -> None:
            super().__init__()
            self.request = request
            self.folder = folder
            self.entries = entries
            self.error = error

    def __init__(
        self,
        folder: Path | None = None,
        *,
        select: Path | None = None,
        id: str | None = None,
        classes: str | None = None,
    ):
        super().__init__(id=id, classes=classes)
        self.folder = folder
        self.entries: list[Entry] = []
        self.error: str | None = None
        self.loading_folder = folder is not None
        self._select = select
        self._request = 0
        self._base: Style | None = None

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base = None

    @property
    def base_style(self) -> Style:
        """The widget's own style (computing it is not free: kept until styles change)."""
        if self._base is None:
            self._base = self.rich_style
        return self._base

    def on_mount(self) -> None:
        if self.folder is not None:
            self.open_folder(self.folder, select=self._select)

    # -- listing ---------------------------------------------------------------------------
    def open_folder(self, folder: Path, *, select: Path | None = None) -> None:
        """List `folder` in a worker; the cursor goes to `select` (or the folder we came from)."""
        self._request += 1
        self.folder = folder
        self._select = select
        self.loading_folder = True
        self.border_title = escape(_short(folder))
        self.refresh()
        self._list(self._request, folder)

    @work(thread=True, exclusive=True, group="list-folder")
    def _list(self, request: int, folder: Path) -> None:
        worker = get_current_worker()
        entries, error = list_folder(folder, should_stop=lambda: worker.is_cancelled)
        if not worker.is_cancelled:
            self.post_message(self.Listing(request, folder, entries, error))

    def on_file_browser_listing(self, message: Listing) -> None:
        message.stop()
        if message.request != self._request:
            return  # a newer folder was asked for meanwhile
        self.entries = message.entries
        self.error = message.error
        self.loading_folder = False
        target = self._select
        self._select = None
        index = 0
        if target is not None:
            for i, entry in enumerate(self.entries):
                if entry.path == target:
                    index = i
                    break
        elif len(self.entries) > 1:
            index = 1  # the first thing in the folder, not ".."
        self.virtual_size = Size(self.size.width, len(self.entries) + (4 if self.error else 0))
        self.cursor = index
        self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.FolderListed(message.folder, len(self.entries), message.error))

    # -- navigation ------------------------------------------------------------------------
    @property
    def current(self) -> Entry | None:
        if 0 <= self.cursor < len(self.entries):
            return self.entries[self.cursor]
        return None

    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, len(self.entries) - 1)) if self.entries else 0

    def watch_cursor(self) -> None:
        self._scroll_to_cursor()
        self.refresh()

    def _scroll_to_cursor(self) -> None:
        height = self.scrollable_content_region.height
        if height <= 0:
            return
        top = self.scroll_offset.y
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)

    def action_cursor(self, delta: int) -> None:
        self.cursor += delta

    def action_page(self, direction: int) -> None:
        self.cursor += direction * max(1, self.scrollable_content_region.height - 1)

    def action_cursor_to(self, index: int) -> None:
        self.cursor = index if index >= 0 else len(self.entries) - 1

    def action_parent(self) -> None:
        if self.folder is not None and self.folder.parent != self.folder:
            self.open_folder(self.folder.parent, select=self.folder)

    def action_open(self) -> None:
        entry = self.current
        if entry is None:
            return
        if entry.kind == "parent":
            self.open_folder(entry.path, select=self.folder)
        elif entry.kind == "folder":
            self.open_folder(entry.path)
        elif entry.kind == "image":
            self.post_message(self.FileSelected(entry.path))
        else:
            self.app.notify(f"{shown(entry.name)}: {entry.note}", severity="warning", markup=False)

    def select_path(self, path: Path) -> None:
        """Put the cursor on `path` if it is listed."""
        for i, entry in enumerate(self.entries):
            if entry.path == path:
                self.cursor = i
                return

    def on_click(self, event) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return  # on the border or the scrollbar
        row = offset.y + self.scroll_offset.y
        if 0 <= row < len(self.entries):
            self.cursor = row
            if event.chain >= 2 or self.entries[row].kind == "image":
                self.action_open()

    # -- drawing ---------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width or self.size.width
        row = y + self.scroll_offset.y
        base = self.base_style
        if self.loading_folder and not self.entries:
            text = "listing…" if y == 0 else ""
            return Strip([Segment(text.ljust(width), base)], width)
        if row < len(self.entries):
            entry = self.entries[row]
            left, right, style = self._line(entry)
            room = max(1, width - len(right) - 1)
            if len(left) > room:
                left = left[: max(0, room - 1)] + "…"
            text = " " + left.ljust(room - 1) + " " + right
            text = text[:width].ljust(width)
            line_style = base + style
            if row == self.cursor:
                cursor = "cursor" if self.has_focus else "cursor-unfocused"
                line_style += self._part(cursor)
            return Strip([Segment(text, line_style)], width)
        if self.error and row >= len(self.entries):
            lines = textwrap.wrap(self.error, max(4, width - 2))
            if row - len(self.entries) < len(lines):
                text = " " + lines[row - len(self.entries)]
                style = base + self._part("error")
                return Strip([Segment(text[:width].ljust(width), style)], width)
        return Strip.blank(width, base)

    def _part(self, name: str) -> Style:
        """The style of a themable part (see COMPONENT_CLASSES)."""
        return self.get_component_rich_style(f"file-browser--{name}", partial=True)

    def _line(self, entry: Entry) -> tuple[str, str, Style]:
        # A name may hold a newline, an escape sequence or bytes that are not UTF-8.
        name = shown(entry.name)
        if entry.kind == "parent":
            return "../", "", self._part("parent")
        if entry.kind == "folder":
            return name + "/", "", self._part("folder")
        if entry.kind == "image":
            return name, human_size(entry.size), Style()
        if entry.kind == "unreadable":
            return name + "/", entry.note, self._part("broken")
        return name, entry.note, self._part("broken")

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()


def _short(folder: Path, limit: int = 40) -> str:
    text = shown(folder)
    home = str(Path.home())
    if text.startswith(home + os.sep):
        text = "~" + text[len(home) :]
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]
