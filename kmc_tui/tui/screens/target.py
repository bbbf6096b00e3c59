"""Ask for a target instead of k: a mean ΔE2000 or a file size, not above."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from ...errors import ParameterError
from ...targets import Target


class TargetScreen(ModalScreen[Target | None]):
    """Two fields, ΔE2000 and size; enter in one of them sets that target, escape leaves.

    Dismissed with the :class:`~kmc_tui.targets.Target` (checked the same way as the CLI's
    ``--max-delta-e`` and ``--max-bytes``) or None.
    """

    BINDINGS = [Binding("escape", "dismiss(None)", "Back")]

    DEFAULT_CSS = """
    TargetScreen { align: center middle; }
    TargetScreen > Vertical {
        width: 60; max-width: 100%; height: auto;
        border: round $accent; background: $surface; padding: 0 1;
    }
    TargetScreen Input { width: 1fr; }
    TargetScreen #target-error { color: $error; height: auto; }
    TargetScreen .target-help { text-style: dim; }
    """

    def __init__(self, previous: Target | None = None) -> None:
        super().__init__()
        self.previous = previous

    def compose(self) -> ComposeResult:
        de = bytes_ = ""
        if self.previous is not None:
            if self.previous.kind == "delta_e":
                de = f"{self.previous.max_delta_e:g}"
            else:
                bytes_ = str(self.previous.max_bytes)
        with Vertical() as box:
            box.border_title = "choose k for a target"
            box.border_subtitle = "enter: find k · escape: back"
            yield Label("mean ΔE2000 at most (the fewest colors that do it):")
            yield Input(value=de, placeholder="e.g. 2", id="target-delta-e")
            yield Label("or file size at most (the most colors that fit):")
            yield Input(value=bytes_, placeholder="e.g. 150K or 1.5M", id="target-bytes")
            yield Static(
                "Same search as kmc-tui compress --max-delta-e / --max-bytes, with the "
                "current plugin and settings.",
                classes="target-help",
            )
            yield Static(id="target-error")

    def on_mount(self) -> None:
        if self.previous is not None and self.previous.kind == "bytes":
            self.query_one("#target-bytes", Input).focus()
        else:
            self.query_one("#target-delta-e", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        try:
            if event.input.id == "target-delta-e":
                target = Target(max_delta_e=text)
            else:
                target = Target(max_bytes=text)
        except ParameterError as exc:
            self.query_one("#target-error", Static).update(str(exc))
            return
        self.dismiss(target)
