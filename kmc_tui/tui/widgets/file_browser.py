"""A keyboard-driven list of the folders and images in one folder, with each file's size.

The folder is listed in a worker thread (one ``scandir`` plus a ``stat`` per entry), so a folder
of tens of thousands of files never blocks the UI; the list draws only the lines on screen.
Unreadable folders, broken symlinks and symlink loops are shown as such. The list follows the
folder: once a second a worker looks at the folder's own modification time (one ``stat``) and
lists it again only when it changed (a file created, removed or renamed in it).
"""

from __future__ import annotations

import errno
import os
import stat
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

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
from ...formats import IMAGE_EXTENSIONS, human_bytes


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
    mtime : float
        Last modification (seconds since the epoch), 0 when unknown.
    """

    name: str
    path: Path
    kind: str
    size: int | None = None
    note: str = ""
    mtime: float = 0.0


#: File-list orders: the key each sorts images by (folders always by name, first).
SORT_KEYS = {
    "name": lambda e: e.name.lower(),
    "size": lambda e: -(e.size or 0),  # largest first
    "date": lambda e: -e.mtime,  # newest first
}
#: Seconds between looks at the folder's modification time.
POLL_SECONDS = 1.0
#: After a relist that took t seconds, the next look waits at least this many times t (a
#: folder that changes all the time is not listed all the time).
RELIST_PAUSE = 10.0


def folder_stamp(folder: Path) -> tuple[int, int] | None:
    """What changes when an entry of `folder` is created, removed or renamed (None: gone)."""
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def arrange(entries: list[Entry], *, order: str = "name", pattern: str = "") -> list[Entry]:
    """`entries` ("..", folders, images) with the images in `order`, and only names that
    contain `pattern` (case-insensitive; ".." always stays)."""
    pattern = pattern.lower()
    parent, folders, images = [], [], []
    for entry in entries:
        if entry.kind == "parent":
            parent.append(entry)
        elif not pattern or pattern in entry.name.lower():
            (images if entry.kind == "image" else folders).append(entry)
    if order != "name":  # listed by name already
        images.sort(key=SORT_KEYS[order])
    return parent + folders + images


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
        return Entry(item.name, path, "image", size=st.st_size, mtime=st.st_mtime)
    return None


class FileBrowser(ScrollView, can_focus=True):
    """The list of one folder. Enter opens a folder or an image; backspace goes up.

    Images are sorted by name, size or date (:meth:`sort_by`) and can be narrowed to the names
    that contain a text (:meth:`filter`).
    """

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
    FileBrowser > .file-browser--parent { text-style: dim; }
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
        """A folder finished listing (its entries are on screen); not sent when a folder
        already shown is listed again because it changed."""

        def __init__(self, folder: Path, count: int, error: str | None) -> None:
            super().__init__()
            self.folder = folder
            self.count = count
            self.error = error

    class Listing(Message):
        """A worker finished listing a folder (internal: the browser handles it)."""

        def __init__(
            self,
            request: int,
            folder: Path,
            entries: list[Entry],
            error: str | None,
            stamp: tuple[int, int] | None,
        ) -> None:
            super().__init__()
            self.request = request
            self.folder = folder
            self.entries = entries
            self.error = error
            self.stamp = stamp

    class Changed(Message):
        """The folder changed on disk (internal: the browser lists it again)."""

        def __init__(self, request: int) -> None:
            super().__init__()
            self.request = request

    #: How often the folder is looked at (tests make it shorter).
    poll_seconds: ClassVar[float] = POLL_SECONDS

    def __init__(
        self,
        folder: Path | None = None,
        *,
        select: Path | None = None,
        sort: str = "name",
        id: str | None = None,
        classes: str | None = None,
    ):
        super().__init__(id=id, classes=classes)
        self.folder = folder
        #: The lines shown: the listing arranged by `file_order` and `pattern`.
        self.entries: list[Entry] = []
        self.error: str | None = None
        self.loading_folder = folder is not None
        self.file_order = sort if sort in SORT_KEYS else "name"
        self.pattern = ""
        self._listed: list[Entry] = []
        self._stamp: tuple[int, int] | None = None
        self._select = select
        self._request = 0
        self._relisting = False
        self._watching = False
        self._next_look = 0.0
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
        self.set_interval(self.poll_seconds, self._watch_folder)

    def on_resize(self) -> None:
        self._show_title()

    # -- listing ---------------------------------------------------------------------------
    def open_folder(self, folder: Path, *, select: Path | None = None) -> None:
        """List `folder` in a worker; the cursor goes to `select` (or the folder we came from)."""
        self._request += 1
        self.folder = folder
        self._select = select
        self._relisting = False
        self.loading_folder = True
        self._show_title()
        self.refresh()
        self._list(self._request, folder)

    def refresh_listing(self) -> None:
        """List the folder again now (a file was written to it), keeping the cursor's file."""
        if self.folder is None or self.loading_folder:
            return
        self._request += 1
        self._relisting = True
        self._list(self._request, self.folder)

    @work(thread=True, exclusive=True, group="list-folder")
    def _list(self, request: int, folder: Path) -> None:
        worker = get_current_worker()
        started = time.monotonic()
        stamp = folder_stamp(folder)  # before listing: a change while listing lists it again
        entries, error = list_folder(folder, should_stop=lambda: worker.is_cancelled)
        if not worker.is_cancelled:
            took = time.monotonic() - started
            self._next_look = time.monotonic() + RELIST_PAUSE * took
            self.post_message(self.Listing(request, folder, entries, error, stamp))

    def _watch_folder(self) -> None:
        if self.folder is None or self.loading_folder or self._watching:
            return  # a look that hangs (a network folder) is not followed by more
        if time.monotonic() < self._next_look:
            return
        self._watching = True
        self._look(self._request, self.folder, self._stamp)

    @work(thread=True, group="watch-folder")
    def _look(self, request: int, folder: Path, stamp: tuple[int, int] | None) -> None:
        try:
            if folder_stamp(folder) != stamp:
                self.post_message(self.Changed(request))
        finally:
            self._watching = False

    def on_file_browser_changed(self, message: Changed) -> None:
        message.stop()
        if message.request == self._request:
            self.refresh_listing()

    def on_file_browser_listing(self, message: Listing) -> None:
        message.stop()
        if message.request != self._request:
            return  # a newer folder was asked for meanwhile
        relisted = self._relisting
        self._relisting = False
        self._listed = message.entries
        self._stamp = message.stamp
        old_error, self.error = self.error, message.error
        self.loading_folder = False
        target = self._select
        self._select = None
        if relisted:
            current = self.current
            self._arrange(keep=current.path if current else None, index=self.cursor)
        else:
            self._arrange(keep=target)
        if not relisted or message.error != old_error:
            self.post_message(self.FolderListed(message.folder, len(self.entries), message.error))

    # -- order and filter ------------------------------------------------------------------
    def sort_by(self, order: str) -> None:
        """Sort the images by "name", "size" (largest first) or "date" (newest first)."""
        if order not in SORT_KEYS:
            raise ValueError(f"unknown order {order!r}; one of {', '.join(SORT_KEYS)}")
        self.file_order = order
        current = self.current
        self._arrange(keep=current.path if current else None)

    def filter(self, pattern: str) -> None:
        """Show only the names that contain `pattern` (case-insensitive); "" shows all."""
        if pattern == self.pattern:
            return
        self.pattern = pattern
        current = self.current
        self._arrange(keep=current.path if current else None)

    def _arrange(self, *, keep: Path | None = None, index: int | None = None) -> None:
        """Rebuild the lines; the cursor on `keep` if shown, else at `index`, else the first
        thing in the folder (not "..")."""
        self.entries = arrange(self._listed, order=self.file_order, pattern=self.pattern)
        position = next((i for i, e in enumerate(self.entries) if e.path == keep), None)
        if position is None:
            position = index if index is not None else (1 if len(self.entries) > 1 else 0)
        self.virtual_size = Size(self.size.width, len(self.entries) + (4 if self.error else 0))
        self.cursor = position
        self._show_title()
        self._scroll_to_cursor()
        self.refresh()

    def _show_title(self) -> None:
        if self.folder is None:
            return
        # The border keeps two corners and a space each side: the rest is the path's end.
        self.border_title = escape(short_path(self.folder, max(8, self.outer_size.width - 6)))
        images = sum(1 for e in self.entries if e.kind == "image")
        parts = [f"{images} image{'s' if images != 1 else ''}"] if not self.loading_folder else []
        if self.file_order != "name":
            parts.append(f"by {self.file_order}")
        if self.pattern:
            parts.append(f"/{self.pattern}")
        self.border_subtitle = escape(" · ".join(parts))

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
            return name, human_bytes(entry.size, missing="", short=True), Style()
        if entry.kind == "unreadable":
            return name + "/", entry.note, self._part("broken")
        return name, entry.note, self._part("broken")

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()


def short_path(folder: Path, limit: int = 40) -> str:
    """`folder` in at most `limit` characters, home as "~", cut at the start: the end of a
    path (the folder one is in) is what tells it apart."""
    text = shown(folder)
    home = str(Path.home())
    if text == home:
        text = "~"
    elif text.startswith(home + os.sep):
        text = "~" + text[len(home) :]
    if len(text) <= limit:
        return text
    tail = text[-(limit - 1) :]
    cut = tail.find(os.sep)
    return "…" + (tail[cut:] if cut > 0 else tail)  # whole names where there is room
