"""Help: every key of the app, generated from the bindings so it cannot go out of date."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

#: Keys handled by widgets rather than app bindings, listed for completeness.
WIDGET_KEYS = (
    ("↑ ↓ pgup pgdn home end", "move in the file list"),
    ("enter", "open the folder or image under the cursor"),
    ("backspace", "go to the parent folder"),
    ("tab / shift+tab", "next / previous control (file list, settings)"),
    ("enter (in a field)", "apply a typed k or parameter and leave the field"),
    ("escape (in a field)", "leave the field (the filter: clear it)"),
    ("mouse wheel", "pan both pictures when zoomed (shift: sideways)"),
    ("mouse", "click a file to open it; click the picture to zoom there"),
)


def command_title(binding: Binding) -> str:
    """What a binding does, in words: its tooltip, else its (short, footer) description."""
    return binding.tooltip or binding.description


def key_label(binding: Binding) -> str:
    names = []
    for key in binding.key.split(","):
        key = key.strip()
        names.append(
            {
                "question_mark": "?",
                "plus": "+",
                "minus": "-",
                "equals_sign": "=",
                "left_square_bracket": "[",
                "right_square_bracket": "]",
                "full_stop": ".",
            }.get(key, key)
        )
    return " / ".join(names)


class HelpScreen(ModalScreen[None]):
    """A list of every key; escape, q, ? or F1 closes it."""

    BINDINGS = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close", show=True),
    ]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 76; max-width: 100%; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """

    def __init__(self, bindings: list[Binding]):
        super().__init__()
        self._key_bindings = bindings

    def on_mount(self) -> None:
        # Without a rack here, notifications wait under help and show on the screen below.
        for rack in self.query("#textual-toastrack"):
            rack.remove()

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        seen = set()
        for binding in self._key_bindings:
            label = key_label(binding)
            if label in seen or not command_title(binding):
                continue
            seen.add(label)
            table.add_row(label, command_title(binding))
        table.add_row("", "")
        for keys, what in WIDGET_KEYS:
            table.add_row(keys, what)
        with VerticalScroll() as scroll:
            scroll.border_title = "kmc-tui keys"
            scroll.border_subtitle = "escape closes"
            yield Static(
                Text("Reduce an image to k colors and see it before you keep it.\n", style="italic")
            )
            yield Static(table)
