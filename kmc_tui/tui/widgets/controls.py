"""The settings: k, the plugin, the plugin's own parameters, dithering and the output format.

Parameter controls are generated from the plugin's declared ``ParamSpec``s (choices -> Select,
bool -> Switch, int/float/str -> Input with validation), so no plugin needs code here. The
fields only show the session's settings and report edits; they keep no copy of their own.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.validation import Integer, Number
from textual.widgets import Input, Label, Select, Switch

from ...formats import FORMATS, K_MAX, K_MIN


def strength_text(strength: float) -> str:
    """A dithering strength as the controls show it: off, 0.5, 1."""
    return "off" if strength <= 0 else f"{strength:g}"


def _label(name: str) -> str:
    text = name.replace("_", " ")
    return text if len(text) <= 11 else text[:10] + "…"


class Controls(Vertical):
    """Editable settings. Each edit is posted as :class:`Controls.Changed`; the screen decides."""

    DEFAULT_CSS = """
    Controls { height: auto; }
    Controls .row { height: 1; margin-bottom: 0; }
    Controls .row > Label { width: 12; color: $text-muted; }
    Controls Switch { border: none; padding: 0; height: 1; width: 8; }
    Controls Switch:focus { border: none; }
    Controls Switch > .switch--slider { color: $foreground-muted; background: $panel-darken-2; }
    Controls Switch.-on > .switch--slider { color: $success; }
    Controls Switch:focus > .switch--slider { background: $accent-darken-2; }
    Controls .row > .state { width: auto; color: $text-muted; margin-left: 1; }
    Controls .row > Input { width: 1fr; }
    Controls .row > Select { width: 1fr; }
    Controls #params { height: auto; }
    """

    class Changed(Message):
        """A setting was edited: `name` is "k", "plugin", "dither", "format" or "param:<name>"."""

        def __init__(self, name: str, value: Any) -> None:
            super().__init__()
            self.name = name
            self.value = value

    class Invalid(Message):
        """A typed value was refused (shown to the user; nothing changes)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(
        self, *, plugins: list[str], id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._plugins = plugins
        self._specs: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(classes="row"):
            yield Label(f"k ({K_MIN}-{K_MAX})")
            yield Input(
                type="integer",
                max_length=len(str(K_MAX)),
                compact=True,
                id="k",
                validators=[Integer(K_MIN, K_MAX)],
                select_on_focus=True,
            )
        with Horizontal(classes="row"):
            yield Label("plugin")
            yield Select(
                [(n, n) for n in self._plugins], allow_blank=False, compact=True, id="plugin"
            )
        yield Vertical(id="params")
        with Horizontal(classes="row"):
            yield Label("dither")
            yield Switch(id="dither")
            yield Label("off", classes="state", id="dither-state")
        with Horizontal(classes="row"):
            yield Label("format")
            yield Select([(f, f) for f in FORMATS], allow_blank=False, compact=True, id="format")

    # -- the screen shows the settings --------------------------------------------------------
    def show(self, settings) -> None:
        """Show `settings` (a :class:`kmc_tui.tui.session.Settings`) in the fields.

        Setting a field here is not an edit: no :class:`Changed` is posted for it.
        """
        with self.prevent(Select.Changed, Switch.Changed):
            k_field = self.query_one("#k", Input)
            if k_field.value != str(settings.k):
                k_field.value = str(settings.k)
            plugin = self.query_one("#plugin", Select)
            if settings.plugin in self._plugins and plugin.value != settings.plugin:
                plugin.value = settings.plugin
            dither = self.query_one("#dither", Switch)
            if dither.value != (settings.dither > 0):
                dither.value = settings.dither > 0
            state = self.query_one("#dither-state", Label)
            if str(state.content) != strength_text(settings.dither):
                state.update(strength_text(settings.dither))
            fmt = self.query_one("#format", Select)
            if fmt.value != settings.format:
                fmt.value = settings.format
            for name, value in settings.params:
                self._show_param(name, value)

    def _show_param(self, name: str, value: Any) -> None:
        try:
            widget = self.query_one(f"#param-{name}")
        except NoMatches:  # not built yet
            return
        if isinstance(widget, Input):
            if widget.value != str(value):
                widget.value = str(value)
        elif widget.value != value:
            widget.value = value

    async def set_params(self, specs, settings) -> None:
        """Replace the parameter controls with ones for `specs`, showing `settings`' values."""
        box = self.query_one("#params", Vertical)
        values = settings.param_dict
        with self.prevent(Select.Changed, Switch.Changed):
            await box.remove_children()
            self._specs = {spec.name: spec for spec in specs}
            rows = [
                Horizontal(
                    Label(_label(spec.name)),
                    self._control(spec, values.get(spec.name, spec.default)),
                    classes="row",
                )
                for spec in specs
            ]
            if rows:
                await box.mount_all(rows)

    @staticmethod
    def _control(spec, value):
        tooltip = spec.describe()
        wid = f"param-{spec.name}"
        if spec.choices is not None:
            widget = Select(
                [(str(c), c) for c in spec.choices],
                value=value,
                allow_blank=False,
                compact=True,
                id=wid,
            )
        elif spec.type is bool:
            widget = Switch(bool(value), id=wid)
            widget.tooltip = tooltip
            return widget
        elif spec.type in (int, float):
            lo = spec.min if spec.min is not None else None
            hi = spec.max if spec.max is not None else None
            validator = Integer(lo, hi) if spec.type is int else Number(lo, hi)
            widget = Input(
                str(value),
                type="integer" if spec.type is int else "number",
                compact=True,
                id=wid,
                validators=[validator],
                select_on_focus=True,
            )
        else:
            widget = Input(str(value), compact=True, id=wid)
        widget.tooltip = tooltip
        return widget

    # -- user edits ---------------------------------------------------------------------------
    @on(Input.Submitted, "#k")
    @on(Input.Blurred, "#k")
    def _k_typed(self, event: Input.Submitted | Input.Blurred) -> None:
        event.stop()
        text = event.value.strip()
        result = event.validation_result
        if not text or (result is not None and not result.is_valid):
            self.post_message(
                self.Invalid(
                    f"k must be a whole number from {K_MIN} to {K_MAX}; got {text or 'nothing'}"
                )
            )
            return
        self.post_message(self.Changed("k", int(text)))

    @on(Select.Changed, "#plugin")
    def _plugin_chosen(self, event: Select.Changed) -> None:
        event.stop()
        if event.value is not Select.BLANK:
            self.post_message(self.Changed("plugin", event.value))

    @on(Switch.Changed, "#dither")
    def _dither_switched(self, event: Switch.Changed) -> None:
        event.stop()
        strength = 1.0 if event.value else 0.0
        self.query_one("#dither-state", Label).update(strength_text(strength))
        self.post_message(self.Changed("dither", strength))

    @on(Select.Changed, "#format")
    def _format_chosen(self, event: Select.Changed) -> None:
        event.stop()
        if event.value is not Select.BLANK:
            self.post_message(self.Changed("format", event.value))

    @on(Select.Changed, "#params Select")
    @on(Switch.Changed, "#params Switch")
    def _param_picked(self, event) -> None:
        event.stop()
        name = event.control.id.removeprefix("param-")
        self.post_message(self.Changed(f"param:{name}", event.value))

    @on(Input.Submitted, "#params Input")
    @on(Input.Blurred, "#params Input")
    def _param_typed(self, event) -> None:
        event.stop()
        name = event.input.id.removeprefix("param-")
        spec = self._specs.get(name)
        if spec is None:
            return
        try:
            value = spec.coerce(event.value)
        except ValueError as exc:  # ParameterError is a ValueError
            self.post_message(self.Invalid(str(exc)))
            return
        self.post_message(self.Changed(f"param:{name}", value))
