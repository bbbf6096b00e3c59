"""The R–D view: file size against ΔE2000 over a ladder of k, and a preview of the chosen k.

The curve fills in the background: first estimates (each k run on a small sample of the image),
then real runs at full resolution, each a background job of the session's runner, which gives
the runner up whenever a foreground job (a preview) asks for it. Left and right move along the
curve and show that k's quick preview; enter takes it; escape leaves (what was computed stays
for next time).
"""

from __future__ import annotations

from dataclasses import replace

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from ...errors import Cancelled
from ...formats import human_bytes
from ..curve import ESTIMATE_PIXELS, Curve
from ..session import Job, Preempted, Session, error_text
from ..widgets.key_footer import KeyFooter
from ..widgets.preview import HalfBlockView, Picture
from ..widgets.rd_plot import (
    MARK_CURRENT,
    MARK_ESTIMATE,
    MARK_KNEE,
    MARK_REAL,
    MARK_SELECTED,
    RateDistortionPlot,
)
from .main import display_palette


class RateDistortionScreen(Screen[int | None]):
    """Size and ΔE2000 for k from 2 to 256; pick a k from the curve.

    Dismissed with the k taken (enter) or None (escape).

    Parameters
    ----------
    session : Session
        Its image and settings are the curve's; its runner computes the points.
    registry : Registry
    preview_input : Image, optional
        The small copy quick previews are quantized from (the image itself when None).
    """

    BINDINGS = [
        Binding("left", "move(-1)", "Fewer", key_display="←", tooltip="Fewer colors"),
        Binding("right", "move(1)", "More", key_display="→", tooltip="More colors"),
        Binding("home", "move(-1000)", "Fewest colors", show=False),
        Binding("end", "move(1000)", "Most colors", show=False),
        Binding("n", "to_knee", "Knee", tooltip="Go to the knee"),
        Binding("enter", "take", "Take k", tooltip="Take this k"),
        Binding("escape,r", "leave", "Back", tooltip="Back without changing k"),
    ]

    #: Pixels of the sample the first estimates run on (tests lower it for small images).
    estimate_pixels = ESTIMATE_PIXELS

    class PointReady(Message):
        """A point of `curve` was computed."""

        def __init__(self, curve: Curve, trial) -> None:
            super().__init__()
            self.curve, self.trial = curve, trial

    class FillEnded(Message):
        """The fill stopped: done (`error` None) or failed."""

        def __init__(self, curve: Curve, error: BaseException | None) -> None:
            super().__init__()
            self.curve, self.error = curve, error

    class PreviewReady(Message):
        def __init__(self, k: int, quantized) -> None:
            super().__init__()
            self.k, self.quantized = k, quantized

    def __init__(self, session: Session, registry, *, preview_input=None) -> None:
        super().__init__()
        self.session = session
        self.registry = registry
        self.settings = session.settings
        self.image = session.image
        self.preview_input = preview_input if preview_input is not None else self.image
        curve = session.curve
        if curve is None or not curve.matches(self.image, self.settings):
            curve = Curve(self.image, self.settings)
            session.curve = curve
        curve.include(self.settings.k)
        self.curve = curve
        #: The k the view opened at, and the one selected on the curve.
        self.current = self.settings.k
        self.selected = self.settings.k
        self._fill_job = Job(0, self.settings, self.image, background=True)
        self._preview_job: Job | None = None
        self._previews: dict[int, object] = {}
        self._fill_error: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="rd-body"):
            plot = RateDistortionPlot(id="rd-plot")
            yield plot
            yield HalfBlockView("Preview", id="rd-preview")
        yield Static(id="rd-point")
        yield Static(id="rd-knee")
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self._redraw()
        self._preview(self.selected)
        self._fill(self._fill_job)

    def on_unmount(self) -> None:
        self._fill_job.stop()
        if self._preview_job is not None:
            self._preview_job.stop()

    # -- filling the curve ------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="rd-fill", description="rate–distortion curve")
    def _fill(self, job: Job) -> None:
        from ...targets import rate_distortion

        curve, settings = self.curve, self.settings
        done: dict[bool, set[int]] = {True: set(), False: set()}
        for estimate in (True, False):
            while True:
                todo = [k for k in curve.missing(estimate=estimate) if k not in done[estimate]]
                if estimate:
                    todo = [k for k in todo if k not in done[False]]
                if not todo:
                    break

                def compute(should_stop, todo=tuple(todo), estimate=estimate):
                    for trial in rate_distortion(
                        self.image,
                        todo,
                        estimate=estimate,
                        sample=self.estimate_pixels,
                        plugin=settings.plugin,
                        params=settings.param_dict,
                        dither=settings.dither,
                        format=settings.format,
                        registry=self.registry,
                        should_stop=should_stop,
                    ):
                        done[trial.estimate].add(trial.k)
                        self.post_message(self.PointReady(curve, trial))

                try:
                    self.session.runner.run(job, compute)
                except Preempted:
                    continue  # a preview went first; go on with what is left
                except Cancelled:
                    return
                except Exception as exc:  # noqa: BLE001 - a plugin's error is shown, not raised
                    self.post_message(self.FillEnded(curve, exc))
                    return
                break
        self.post_message(self.FillEnded(curve, None))

    def on_rate_distortion_screen_point_ready(self, message: PointReady) -> None:
        if message.curve.add(message.trial) and message.curve is self.curve:
            self._redraw()

    def on_rate_distortion_screen_fill_ended(self, message: FillEnded) -> None:
        if message.curve is not self.curve:
            return
        if message.error is not None:
            text, _ = error_text(message.error)
            self._fill_error = text
            self.notify(text, title="rate–distortion curve", severity="error", timeout=8)
        self._redraw()

    # -- the selected k -----------------------------------------------------------------------
    def _preview(self, k: int) -> None:
        pane = self.query_one("#rd-preview", HalfBlockView)
        quantized = self._previews.get(k)
        if quantized is not None:
            self._show_preview(k, quantized)
            return
        pane.set_caption(f"k={k} · computing…")
        if self._preview_job is not None:
            self._preview_job.stop()
        self.session.jobs += 1
        job = Job(self.session.jobs, replace(self.settings, k=k), self.preview_input)
        self._preview_job = job
        specs = self.session.plugin(self.settings.plugin).specs or ()
        self._compute_preview(job, specs)

    @work(thread=True, exclusive=True, group="rd-preview", description="preview")
    def _compute_preview(self, job: Job, specs: tuple) -> None:
        from ...quantize import quantize

        settings = job.settings

        def compute(should_stop):
            return quantize(
                job.image,
                settings.k,
                plugin=settings.plugin,
                params=Session.preview_params(settings, specs),
                dither=settings.dither,
                registry=self.registry,
                should_stop=should_stop,
            )

        try:
            quantized = self.session.runner.run(job, compute)
        except Cancelled:
            return
        except Exception as exc:  # noqa: BLE001 - shown in the pane
            self.post_message(self.PreviewReady(settings.k, exc))
            return
        self.post_message(self.PreviewReady(settings.k, quantized))

    def on_rate_distortion_screen_preview_ready(self, message: PreviewReady) -> None:
        if isinstance(message.quantized, BaseException):
            if message.k == self.selected:
                text, _ = error_text(message.quantized)
                self.query_one("#rd-preview", HalfBlockView).show_message(text)
            return
        self._previews[message.k] = message.quantized
        if message.k == self.selected:
            self._show_preview(message.k, message.quantized)

    def _show_preview(self, k: int, quantized) -> None:
        image = self.image
        picture = Picture(
            (image.width, image.height),
            indices=quantized.indices,
            palette=display_palette(quantized),
        )
        self.query_one("#rd-preview", HalfBlockView).show(
            picture, f"k={k} · {quantized.colors} colors"
        )

    # -- drawing ------------------------------------------------------------------------------
    def _redraw(self) -> None:
        curve = self.curve
        found = curve.knee()
        input_bytes = self.image.file_bytes
        self.query_one(RateDistortionPlot).show_curve(
            curve.points(),
            selected=self.selected,
            current=self.current,
            knee=None if found is None else found.k,
            input_bytes=input_bytes,
        )
        self.query_one("#rd-point", Static).update(self._point_line(input_bytes))
        if found is None:
            knee_line = "knee: none yet (it needs three points and a bend in the curve)"
        else:
            knee_line = f"{MARK_KNEE} knee k={found.k}: {found.how}"
        progress = f"{curve.real_count}/{len(curve.ks)} real runs"
        if self._fill_error:
            progress += f" · stopped: {self._fill_error}"
        elif not curve.complete:
            progress += " · computing…"
        legend = (
            f"{MARK_REAL} real  {MARK_ESTIMATE} estimate  {MARK_SELECTED} selected  "
            f"{MARK_CURRENT} k={self.current} now  · {progress}"
        )
        self.query_one("#rd-knee", Static).update(f"{knee_line}\n{legend}")

    def _point_line(self, input_bytes: int | None) -> str:
        k = self.selected
        point = self.curve.point(k)
        if point is None:
            return f"{MARK_SELECTED} k={k}: not computed yet"
        size = human_bytes(point.bytes)
        ratio = f" ({point.bytes / input_bytes:.2f}× the input)" if input_bytes else ""
        kind = "estimate" if point.estimate else "real run"
        found = self.curve.knee()
        knee = " · the knee" if found is not None and found.k == k else ""
        return f"{MARK_SELECTED} k={k}: {size}{ratio} · ΔE2000 {point.delta_e:.2f} · {kind}{knee}"

    # -- keys ---------------------------------------------------------------------------------
    def _select(self, k: int) -> None:
        if k == self.selected:
            return
        self.selected = k
        self._redraw()
        self._preview(k)

    def action_move(self, delta: int) -> None:
        self._select(self.curve.step(self.selected, delta))

    def action_to_knee(self) -> None:
        found = self.curve.knee()
        if found is None:
            self.notify("no knee yet", timeout=2)
        else:
            self._select(found.k)

    def action_take(self) -> None:
        self.dismiss(self.selected)

    def action_leave(self) -> None:
        self.dismiss(None)
