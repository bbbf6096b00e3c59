"""Every quantizer plugin found: origin, description, parameters, and its last error with the
traceback (failing to load, or raising in this session).

Plugins are imported in worker threads (one each: a plugin that hangs at import holds up only
its own line). Enter picks the plugin under the cursor.
"""

from __future__ import annotations

import textwrap

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker


def _wrapped(
    text: Text,
    line: str,
    style: str = "",
    *,
    width: int = 84,
    indent: str = "    ",
    hang: str = "      ",
) -> None:
    for part in textwrap.wrap(line, width, initial_indent=indent, subsequent_indent=hang) or [
        indent
    ]:
        text.append("\n" + part, style=style)


def describe_record(record, current: str | None = None, state=None) -> Text:
    """Several lines about one plugin record (loads nothing: call after loading).

    `state` is the session's :class:`~kmc_tui.tui.session.PluginState` for it, if any: its
    last error (and traceback) is shown under the plugin.
    """
    text = Text()
    mark = "● " if record.name == current else "  "
    text.append(mark + record.name, style="bold")
    last_error = state.error if state is not None else None
    if record.error:
        text.append("  failed to load", style="bold red")
    elif last_error:
        text.append("  failed", style="bold red")
    elif record.loaded:
        text.append("  loaded", style="green")
    else:
        text.append("  loading…", style="yellow")
    _wrapped(text, f"from {record.origin}", "dim")
    cls = record.cls if record.loaded else None
    if cls is not None:
        _wrapped(text, cls.description)
        if cls.params:
            for spec in cls.params:
                _wrapped(text, f"· {spec.describe()}", "cyan")
        else:
            _wrapped(text, "· no parameters", "dim")
    if record.error:
        _wrapped(text, f"error: {record.error}", "red")
    if last_error and last_error != record.error:
        _wrapped(text, f"last error: {last_error}", "red")
    traceback = state.traceback if state is not None else None
    if traceback:
        for line in traceback.splitlines():
            text.append("\n      " + line, style="dim red")
    return text


class PluginsScreen(ModalScreen[str | None]):
    """The plugin list; dismissed with the chosen plugin's name, or None."""

    BINDINGS = [
        Binding("escape,q", "dismiss(None)", "Close"),
    ]

    DEFAULT_CSS = """
    PluginsScreen { align: center middle; }
    PluginsScreen > Vertical {
        width: 90; max-width: 100%; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    PluginsScreen OptionList { height: auto; max-height: 30; border: none; padding: 0; }
    PluginsScreen OptionList:focus { border: none; }
    PluginsScreen .hint { color: $text-muted; }
    """

    class RecordLoaded(Message):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(
        self,
        registry,
        current: str | None,
        *,
        states: dict | None = None,
        load_timeout: float | None = None,
    ):
        super().__init__()
        self.registry = registry
        self.current = current
        #: The session's plugin states by name (their last errors), read when drawn.
        self.states = states if states is not None else {}
        #: Seconds a plugin's import may take before it is left behind (None: no limit).
        self.load_timeout = load_timeout

    def _records(self):
        return list(self.registry) + list(self.registry.rejected)

    def compose(self) -> ComposeResult:
        options = [
            Option(describe_record(r, self.current, self.states.get(r.name)), id=f"{i}")
            for i, r in enumerate(self._records())
        ]
        with Vertical() as box:
            box.border_title = "Quantizer plugins"
            box.border_subtitle = "enter: use · escape: close"
            yield OptionList(*options, id="plugin-list")
            yield Static(
                f"{len(self.registry.records)} usable names, "
                f"{len(self.registry.rejected)} rejected. Add plugins with "
                "--plugin-dir DIR or KMC_TUI_PLUGIN_PATH.",
                classes="hint",
            )

    def on_mount(self) -> None:
        records = self._records()
        for i, record in enumerate(records):
            if record.name == self.current and i < len(self.registry.records):
                self.query_one(OptionList).highlighted = i
            if not record.loaded and record.error is None:
                self._load(record)

    @work(thread=True, group="plugin-load", description="load plugin")
    def _load(self, record) -> None:
        from ...quantize import call_with_timeout

        worker = get_current_worker()
        try:
            # Imports the plugin (an error is kept on the record); one that hangs is left behind.
            call_with_timeout(
                lambda: record.cls, self.load_timeout, should_stop=lambda: worker.is_cancelled
            )
        except Exception:  # noqa: BLE001 - cancelled or timed out: the line stays "loading…"
            return
        self.post_message(self.RecordLoaded(record.name))

    def on_plugins_screen_record_loaded(self, message: RecordLoaded) -> None:
        option_list = self.query_one(OptionList)
        for i, record in enumerate(self._records()):
            if record.name == message.name:
                option_list.replace_option_prompt_at_index(
                    i, describe_record(record, self.current, self.states.get(record.name))
                )

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        index = int(event.option.id)
        record = self._records()[index]
        if index >= len(self.registry.records):  # lost a name clash: not usable
            self.app.notify(f"{record.name}: {record.error}", severity="error")
            return
        self.dismiss(record.name)
