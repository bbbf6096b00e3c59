"""The main screen: file list and settings on the left, original and result, stats and palette.

It owns the layout and turns keys, widget messages and worker results into calls on the
:class:`~kmc_tui.tui.session.Session`, then shows what the session holds. Threads: this screen
only draws and handles keys; reading, importing plugins, quantizing and saving run in
``@work(thread=True)`` workers whose messages carry a request or job id, so stale answers are
dropped. Quantizing goes through the session's one job runner (one computation at a time).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input
from textual.worker import get_current_worker

from ...errors import (
    Cancelled,
    KmcError,
    OutputError,
    OutputExists,
    TargetUnreachable,
    shown,
)
from ...formats import FORMAT_EXTENSIONS, human_bytes
from ..config import SORT_ORDERS
from ..session import (
    DISPLAY_PIXELS,
    PREVIEW_PIXELS,
    Job,
    Session,
    Settings,
    freeze_long_lived,
    release_free_memory,
    thaw_long_lived,
)
from ..viewport import Viewport
from ..widgets.controls import Controls
from ..widgets.file_browser import FileBrowser
from ..widgets.key_footer import KeyFooter
from ..widgets.palette import PaletteView
from ..widgets.pane_pair import PanePair
from ..widgets.preview import HalfBlockView, Picture, palette_lookup
from ..widgets.stats_panel import StatsPanel

#: Seconds a plugin may take to import before it is reported as failed.
PLUGIN_LOAD_TIMEOUT = 20.0
#: Background behind transparent pixels.
BACKDROP = (40, 40, 46)
#: Requests closer together than this (keys held down) wait until the keys pause this long.
RAPID_SECONDS = 0.15
SETTLE_SECONDS = 0.05
#: Seconds the full result waits at most for its quick preview to be on screen.
PREVIEW_DRAW_WAIT = 0.5
#: Below this width (the "-narrow" breakpoint) one pane is shown unless asked for both.
NARROW = 110


def composite(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """RGB over the backdrop where alpha is below 255 (for display only)."""
    if alpha is None:
        return rgb
    a = alpha.astype(np.float32)[..., None] / 255.0
    back = np.array(BACKDROP, np.float32)
    return np.round(rgb * a + back * (1.0 - a)).astype(np.uint8)


def display_palette(quantized) -> np.ndarray:
    if quantized.alpha is None:
        return quantized.palette
    return composite(quantized.palette[None], quantized.alpha[None])[0]


#: The longest file name most filesystems take, in bytes.
NAME_MAX = 255


def fitting_name(stem: str, tail: str, room: str) -> str:
    """`stem` + `tail`, the stem cut (at a character) so that ``room`` still fits after it
    within NAME_MAX bytes: a 255-byte input name still gets a save name."""
    budget = NAME_MAX - len(os.fsencode(tail + room))
    while len(os.fsencode(stem)) > budget:
        stem = stem[:-1]
    return stem + tail


def result_caption(settings: Settings, status: str, name: str = "") -> str:
    """The result pane's title: the settings, what is shown, the file it is of (last: it is
    what gets cut when the pane is narrow)."""
    dither = f" dithered {settings.dither:g}" if settings.dither else ""
    text = f"k={settings.k} {settings.plugin}{dither} · {status}"
    return f"{text} · {name}" if name else text


def key_is_typed(key: str) -> bool:
    """Whether a key is a character a text field takes for itself."""
    return len(key) == 1 or key in {
        "plus", "minus", "equals_sign", "question_mark", "full_stop", "comma", "slash",
        "left_square_bracket", "right_square_bracket", "space",
    }  # fmt: skip


class MainScreen(Screen):
    """Browse, choose settings, compare the original with the result, save."""

    BINDINGS = [
        Binding("q", "app.quit", "Quit"),
        Binding("question_mark,f1", "app.help", "Help", tooltip="Keys"),
        Binding("plus,equals_sign", "step_k(1)", "k+1", key_display="+", tooltip="k + 1"),
        Binding("minus", "step_k(-1)", "k-1", key_display="-", tooltip="k - 1"),
        Binding("right_square_bracket", "scale_k(2)", "k×2", key_display="]", tooltip="Double k"),
        Binding("left_square_bracket", "scale_k(0.5)", "k÷2", key_display="[", tooltip="Halve k"),
        # Keys that move focus are priority bindings: run at once, before the keys typed next
        # are routed (those then land in the field, not in the list).
        Binding("k", "focus_k", "Type k", show=False, priority=True),
        Binding("s", "save", "Save", tooltip="Save result"),
        Binding("p", "next_plugin", "Plugin", tooltip="Next quantizer (cycle)"),
        Binding("f2,P", "plugins", "Plugins", show=False, tooltip="Plugins, with their errors"),
        Binding("d", "next_dither", "Dither", show=False, tooltip="Dithering: off, 0.5, 1"),
        Binding("comma", "step_frame(-1)", "Frame back", show=False, tooltip="Previous frame"),
        Binding("full_stop", "step_frame(1)", "Frame on", show=False, tooltip="Next frame"),
        Binding("e", "export_palette", "Export palette", show=False, tooltip="Export palette"),
        Binding("f", "next_format", "Next output format", show=False),
        Binding("v", "cycle_view", "View", tooltip="Cycle view: both, result, original"),
        Binding(
            "b",
            "flip",
            "Flip",
            show=False,
            tooltip="Flip: original and result swap places",
        ),
        Binding(
            "ctrl+o",
            "dither_preview",
            "Preview dithering",
            show=False,
            tooltip="Dither previews in 256/16 colors",
        ),
        Binding("r", "rate_distortion", "R–D", tooltip="Rate–distortion view: size against ΔE2000"),
        Binding("t", "target", "Target", tooltip="Target: choose k for a ΔE2000 or a size"),
        Binding("c", "compare", "Compare", tooltip="Compare: both panes, 1:1, scrolling together"),
        Binding("o", "sort", "Sort", show=False, tooltip="Sort files by name, size or date"),
        Binding(
            "slash",
            "filter",
            "Filter",
            key_display="/",
            tooltip="Filter the file list",
            priority=True,
        ),
        Binding("z", "zoom(1)", "Zoom in", show=False),
        Binding("x", "zoom(-1)", "Zoom out", show=False),
        Binding("1", "zoom_one", "Zoom to 1:1 pixels", show=False),
        Binding("0", "zoom_fit", "Zoom to fit", show=False),
        Binding("shift+left", "pan(-1,0)", "Pan left", show=False),
        Binding("shift+right", "pan(1,0)", "Pan right", show=False),
        Binding("shift+up", "pan(0,-1)", "Pan up", show=False),
        Binding("shift+down", "pan(0,1)", "Pan down", show=False),
        Binding("escape", "cancel", "Cancel the running job (in a field: leave it)", show=False),
    ]

    # -- messages from workers ----------------------------------------------------------------
    class ImageLoaded(Message):
        """An image was read, with the copies the panes and the quick preview use."""

        def __init__(
            self, request: int, image, display, full_rgb, preview_input, animation=None
        ) -> None:
            super().__init__()
            self.request, self.image, self.animation = request, image, animation
            self.display, self.full_rgb, self.preview_input = display, full_rgb, preview_input

    class LoadFailed(Message):
        def __init__(self, request: int, path: Path, text: str) -> None:
            super().__init__()
            self.request, self.path, self.text = request, path, text

    class PreviewReady(Message):
        def __init__(self, job: Job, quantized, picture, encoded=None) -> None:
            super().__init__()
            self.job, self.quantized, self.picture = job, quantized, picture
            self.encoded = encoded  # the result pane's frame of it, encoded in the worker

    class ResultReady(Message):
        def __init__(self, job: Job, result) -> None:
            super().__init__()
            self.job, self.result = job, result

    class JobFailed(Message):
        def __init__(self, job: Job, error: BaseException) -> None:
            super().__init__()
            self.job, self.error = job, error

    class JobWaiting(Message):
        """A job waits for an older computation that has not stopped yet."""

        def __init__(self, job: Job, blocker: Job) -> None:
            super().__init__()
            self.job, self.blocker = job, blocker

    class TargetProgress(Message):
        """A target search tried a k."""

        def __init__(self, job: Job, target, trial) -> None:
            super().__init__()
            self.job, self.target, self.trial = job, target, trial

    class TargetFound(Message):
        def __init__(self, job: Job, target, result) -> None:
            super().__init__()
            self.job, self.target, self.result = job, target, result

    class PluginReady(Message):
        def __init__(self, name: str, specs: tuple | None, error: BaseException | None) -> None:
            super().__init__()
            self.name, self.specs, self.error = name, specs, error

    class Saved(Message):
        def __init__(
            self, path: Path | None, size: int, text: str = "", input_bytes: int | None = None
        ) -> None:
            super().__init__()
            self.path, self.size, self.text = path, size, text
            self.input_bytes = input_bytes

    class PaletteExported(Message):
        """The palette was written to `path`, or not (None) for the reason in `text`."""

        def __init__(self, path: Path | None, text: str = "") -> None:
            super().__init__()
            self.path, self.text = path, text

    def __init__(
        self,
        session: Session,
        registry,
        *,
        folder: Path,
        open_on_start: Path | None = None,
        start_error: str | None = None,
        sort: str = "name",
    ) -> None:
        super().__init__(classes="-view-auto")  # the view mode's class, styled with the rest
        self._sort = sort
        self.session = session
        self.registry = registry
        self.folder = folder
        self.open_on_start = open_on_start
        self.start_error = start_error
        self.viewport = Viewport()
        self.view_mode = "auto"  # or "both", "original", "result"
        self.comparing = False
        self._view_before_compare = "auto"
        self._no_image_text = ""
        self._preview_input = None
        self._freeze_asked = False
        self._long_lived_frozen = False  # by this screen: given back when it goes
        self._original_picture: Picture | None = None  # what the original pane shows
        self._last_request = 0.0
        self._settling: Timer | None = None
        self.target = None  # the last target asked for (kmc_tui.targets.Target)

    # -- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="sidebar"):
                yield Input(placeholder="filter: type part of a name", compact=True, id="filter")
                yield FileBrowser(
                    self.folder, select=self.open_on_start, sort=self._sort, id="files"
                )
                controls = Controls(plugins=self.session.plugin_names, id="controls")
                controls.border_title = "settings"
                yield controls
            with Vertical(id="center"):
                with PanePair(id="panes"):
                    yield HalfBlockView("Original", id="original")
                    yield HalfBlockView("Result", id="result")
                with Horizontal(id="info"):
                    stats = StatsPanel(id="stats")
                    stats.border_title = "stats"
                    yield stats
                    palette = PaletteView(id="palette")
                    palette.border_title = "palette"
                    yield palette
        yield KeyFooter(compact=True)

    @property
    def file_order(self) -> str:
        """The file list's order: "name", "size" or "date"."""
        return self._sort

    def on_mount(self) -> None:
        original = self.query_one("#original", HalfBlockView)
        result = self.query_one("#result", HalfBlockView)
        original.partner, result.partner = result, original
        self._tell_graphics()
        self.query_one(Controls).show(self.session.settings)
        self.query_one("#files", FileBrowser).focus()
        if self.open_on_start is not None:
            self._show_no_image(f"reading {shown(self.open_on_start.name)}…")
        else:
            self._show_no_image("choose an image and press enter")
        self.query_one(StatsPanel).clear("no image open")
        self._load_plugin(self.session.settings.plugin)
        if self.start_error:
            self.notify(self.start_error, severity="error")
        if self.open_on_start is not None:
            self.open_image(self.open_on_start)

    def on_resize(self, event) -> None:
        width, height = event.size
        self.query_one(PaletteView).set_rows(2 if width < NARROW else 6 if height >= 36 else 4)
        self._show_no_image(self._no_image_text)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """A key a text field types into is not offered (nor run) while one has focus."""
        if isinstance(self.focused, Input):
            for binding in self.BINDINGS:
                if isinstance(binding, Binding) and binding.action.split("(")[0] == action:
                    keys = [key.strip() for key in binding.key.split(",")]
                    return not all(key_is_typed(key) for key in keys)
        return True

    def on_descendant_focus(self) -> None:
        self.refresh_bindings()

    def on_descendant_blur(self) -> None:
        self.refresh_bindings()

    def _freeze_long_lived(self) -> None:
        self._long_lived_frozen = freeze_long_lived()

    def on_unmount(self) -> None:
        self.session.stop()  # a computation still running ends at its next pass
        if self._long_lived_frozen:
            thaw_long_lived()

    def _tell_graphics(self) -> None:
        """Say once when the terminal limits what the previews can show."""
        graphics = getattr(self.app, "graphics", None)
        if graphics is not None and graphics.note:
            self.notify(graphics.note, timeout=10)
        elif graphics is not None and not graphics.pixels and not self.app.is_headless:
            system = str(self.app.console.color_system)
            if system in ("256", "standard", "windows"):
                colors = 256 if system == "256" else 16
                self.notify(f"{colors} colors: previews approximate", timeout=6)

    def on_screen_suspend(self) -> None:
        for pane in self.query(HalfBlockView):
            pane.clear_pixels()  # a dialog opens over the panes: no image over it

    def on_screen_resume(self) -> None:
        for pane in self.query(HalfBlockView):
            pane.refresh()

    @property
    def shown_view(self) -> str:
        """ "both", "original" or "result": the view mode with "auto" decided by the width."""
        if self.view_mode != "auto":
            return self.view_mode
        return "result" if self.size.width < NARROW else "both"

    # -- plugins ------------------------------------------------------------------------------
    @work(thread=True, group="plugin-load", description="load plugin")
    def _load_plugin(self, name: str) -> None:
        from ...quantize import call_with_timeout

        worker = get_current_worker()
        try:
            record = self.registry.get(name)
            # Importing runs the plugin's code: one that hangs must not hold a worker forever.
            cls = call_with_timeout(
                record.load,
                PLUGIN_LOAD_TIMEOUT,
                what=f"importing plugin {name!r}",
                should_stop=lambda: worker.is_cancelled,
            )
        except Cancelled:
            return
        except KmcError as exc:  # failed to load, or timed out (PluginTimeout)
            self.post_message(self.PluginReady(name, None, exc))
            return
        self.post_message(self.PluginReady(name, tuple(cls.params), None))

    async def on_main_screen_plugin_ready(self, message: PluginReady) -> None:
        session = self.session
        if message.error is not None:
            text = session.plugin_failed(message.name, message.error)
            if message.name == session.settings.plugin:
                self.notify(text, title="plugin failed", severity="error", timeout=8)
            current = message.name == session.settings.plugin
        else:
            current = session.plugin_loaded(message.name, message.specs)
        if not current:
            return
        controls = self.query_one(Controls)
        await controls.set_params(session.plugin(message.name).specs, session.settings)
        self.start_job()

    def _plugin_changed(self) -> None:
        """The session switched plugins: show it, and load it or start a job with it."""
        name = self.session.settings.plugin
        self.query_one(Controls).show(self.session.settings)
        self.notify(f"plugin: {name}", timeout=2)
        specs = self.session.plugin(name).specs
        if specs is None:
            self._load_plugin(name)
        else:
            self.post_message(self.PluginReady(name, specs, None))

    # -- opening ------------------------------------------------------------------------------
    def on_file_browser_file_selected(self, message: FileBrowser.FileSelected) -> None:
        self.open_image(message.path)

    def on_file_browser_folder_listed(self, message: FileBrowser.FolderListed) -> None:
        self.folder = message.folder
        if message.error:
            self.notify(f"{message.folder}: {message.error}", severity="error")

    def open_image(self, path: Path) -> None:
        """Read `path` in a worker; the panes show it when it is decoded."""
        self._stop_settling()
        request = self.session.begin_open()
        self.query_one("#original", HalfBlockView).set_caption(f"loading {shown(path.name)}…")
        self._load(request, Path(path))

    @work(thread=True, exclusive=True, group="load", description="read image")
    def _load(self, request: int, path: Path) -> None:
        from ...quantize import call_with_timeout
        from ...read import read_image

        worker = get_current_worker()

        def read():
            image = read_image(path)
            animation = None
            if image.frames > 1:
                from ...animation import read_animation

                animation = read_animation(path)
            display = image.downscaled(DISPLAY_PIXELS)
            preview_input = image.downscaled(PREVIEW_PIXELS)
            # Composite once here so drawing never touches alpha.
            display_rgb = composite(display.rgb, display.alpha)
            full_rgb = composite(image.rgb, image.alpha) if image.alpha is not None else image.rgb
            if animation is not None:
                preview_input = image  # no quick preview: the result covers every frame
            return self.ImageLoaded(request, image, display_rgb, full_rgb, preview_input, animation)

        try:
            loaded = call_with_timeout(
                read, None, what="reading", should_stop=lambda: worker.is_cancelled, poll=0.01
            )
        except Cancelled:
            return
        except KmcError as exc:
            self.post_message(self.LoadFailed(request, path, str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - any decoder failure is the file's, not ours
            self.post_message(
                self.LoadFailed(request, path, f"{path}: {type(exc).__name__}: {exc}")
            )
            return
        finally:
            release_free_memory()  # the decoder's and the downscaling's temporaries
        self.post_message(loaded)

    def on_main_screen_image_loaded(self, message: ImageLoaded) -> None:
        image = message.image
        if not self.session.opened(message.request, image, message.animation):
            return
        self._preview_input = message.preview_input
        size = (image.width, image.height)
        full_rgb, display_rgb = message.full_rgb, message.display
        detail = Picture(size, rgb=full_rgb) if full_rgb is not display_rgb else None
        picture = Picture(size, rgb=display_rgb, detail=detail)
        self._original_picture = picture
        self.query_one("#original", HalfBlockView).show(picture, self._original_caption())
        self._set_viewport(Viewport())
        self.query_one("#result", HalfBlockView).show_message("")
        self.query_one(PaletteView).show_palette(None, None)
        for note in image.notes:
            self.notify(f"{image.path.name}: {note}", timeout=4)
        self.start_job()

    def on_main_screen_load_failed(self, message: LoadFailed) -> None:
        if not self.session.open_failed(message.request):
            return
        self._show_no_image(f"cannot open {shown(message.path.name)}")
        self.query_one(StatsPanel).clear("no image open")
        self.query_one(PaletteView).show_palette(None, None)
        self.notify(message.text, title="cannot open", severity="error", timeout=8)

    def _show_no_image(self, text: str) -> None:
        """Say why there is no picture, in whichever pane is on screen."""
        self._no_image_text = text
        if self.session.image is not None or not self.is_mounted:
            return
        original = self.query_one("#original", HalfBlockView)
        original.show_message(text)
        original.set_caption("")
        shown = self.shown_view
        self.query_one("#result", HalfBlockView).show_message("" if shown != "result" else text)

    def _image_name(self) -> str:
        image = self.session.image
        return image.path.name if image is not None and image.path else ""

    def _original_caption(self) -> str:
        image = self.session.image
        if image is None:
            return ""
        # Name last: it is what gets cut when the pane is narrow.
        name = shown(image.path.name) if image.path else ""
        frames = self.session.frames
        counter = f"{frames.label} · " if frames is not None else ""
        return f"{counter}{image.width}×{image.height} · {human_bytes(image.file_bytes)} · {name}"

    # -- quantizing ---------------------------------------------------------------------------
    def start_job(self) -> None:
        """Compute the preview, then the full result, for the current image and settings.

        Keys held down start no job per key: the running one is stopped at once and the new
        one starts when the keys have paused for a moment.
        """
        now = time.perf_counter()
        rapid = now - self._last_request < RAPID_SECONDS
        self._last_request = now
        self._stop_settling()
        if rapid and self.session.ready():
            self.session.stop_job()
            self.query_one("#result", HalfBlockView).set_caption(
                result_caption(self.session.settings, "computing…", self._image_name())
            )
            self._settling = self.set_timer(SETTLE_SECONDS, self._start_job_now)
        else:
            self._start_job_now()

    def _stop_settling(self) -> None:
        if self._settling is not None:
            self._settling.stop()
            self._settling = None

    def _start_job_now(self) -> None:
        self._settling = None
        session = self.session
        job = session.start_job()
        if job is None:
            return
        if job.result is not None:  # from the cache
            self._show_result(job.result, job.settings)
            return
        settings = job.settings
        self.query_one("#result", HalfBlockView).set_caption(
            result_caption(settings, "computing…", self._image_name())
        )
        stats = self.query_one(StatsPanel)
        shown = session.result
        if shown is not None:
            stats.show_stats(
                shown.stats,
                input_bytes=job.image.file_bytes,
                status=f"computing k={settings.k}…",
            )
        else:
            stats.clear(f"computing k={settings.k}…")
        preview_input = self._preview_input if self._preview_input is not job.image else None
        specs = session.plugin(settings.plugin).specs or ()
        self._quantize(job, preview_input, specs, session.animation)

    @work(thread=True, exclusive=True, group="quantize", description="quantize")
    def _quantize(self, job: Job, preview_input, specs: tuple, animation=None) -> None:
        from ...animation import ANIMATED_FORMATS, process_animation
        from ...api import process
        from ...quantize import quantize

        settings = job.settings

        def preview(should_stop) -> None:
            quick = quantize(
                preview_input,
                settings.k,
                plugin=settings.plugin,
                params=Session.preview_params(settings, specs),
                dither=settings.dither,
                registry=self.registry,
                should_stop=should_stop,
            )
            picture = self._preview_picture(job, quick)
            # Encoded here, as soon as the pixels exist, not in a thread started later.
            encoded = self.query_one("#result", HalfBlockView).encode_ahead(picture)
            self.post_message(self.PreviewReady(job, quick, picture, encoded))
            # The full result starts once the preview is on screen (or after a while).
            deadline = time.monotonic() + PREVIEW_DRAW_WAIT
            while not job.preview_drawn.wait(0.005):
                if should_stop() or time.monotonic() > deadline:
                    break

        def compute(should_stop):
            if preview_input is not None and not previewed:
                preview(should_stop)
            job.past_preview = True
            if animation is not None and settings.format in ANIMATED_FORMATS:
                return process_animation(
                    animation,
                    settings.k,
                    format=settings.format,
                    plugin=settings.plugin,
                    params=settings.param_dict,
                    dither=settings.dither,
                    registry=self.registry,
                    should_stop=should_stop,
                )
            return process(
                job.image,
                settings.k,
                plugin=settings.plugin,
                params=settings.param_dict,
                dither=settings.dither,
                format=settings.format,
                registry=self.registry,
                should_stop=should_stop,
            )

        previewed = False
        blocker = self.session.runner.computing
        if (
            preview_input is not None
            and blocker is not None
            and blocker.past_preview
            and blocker.should_stop()
        ):
            # The previous job is ending its full result (its stages between passes do not
            # stop at once): the quick preview need not wait for it.
            try:
                preview(job.should_stop)
                previewed = True
            except Cancelled:
                return
            except Exception:  # noqa: BLE001 - computed again in the runner, which reports it
                pass

        def waiting(blocker: Job) -> None:
            self.post_message(self.JobWaiting(job, blocker))

        try:
            result = self.session.runner.run(job, compute, waiting=waiting)
        except Cancelled:
            return
        except Exception as exc:  # noqa: BLE001 - a plugin's bug must not end the app
            self.post_message(self.JobFailed(job, exc))
            return
        self.post_message(self.ResultReady(job, result))

    def on_main_screen_preview_ready(self, message: PreviewReady) -> None:
        job = message.job
        if not self.session.previewed(job):
            job.preview_drawn.set()
            return  # stale: a newer request is on its way
        q, picture = message.quantized, message.picture
        pane = self.query_one("#result", HalfBlockView)
        caption = result_caption(job.settings, "preview…", self._image_name())
        pane.show(picture, caption, encoded=message.encoded)
        panes = list(self.query(HalfBlockView))
        shown = [p for p in panes if p.picture is picture] or [pane]

        def drawn() -> None:
            job.preview_drawn.set()
            # The swatches after the picture: their rendering does not delay it.
            if any(p.picture is picture for p in panes):
                self.query_one(PaletteView).show_palette(q.palette, q.counts, q.alpha)

        shown[0].when_drawn(drawn)

    def _preview_picture(self, job: Job, quick) -> Picture:
        """The preview's picture (in the worker): the original's pixels mapped to the quick
        palette, as sharp as the original however few pixels the palette came from; the
        preview copy's own indices when dithered or with alpha."""
        original = self._original_picture
        if quick.alpha is None and not quick.dithered and len(quick.palette) and original:
            return original.mapped(quick.palette, palette_lookup(quick.palette))
        image = job.image
        return Picture(
            (image.width, image.height), indices=quick.indices, palette=display_palette(quick)
        )

    def on_main_screen_result_ready(self, message: ResultReady) -> None:
        if self.session.finished(message.job, message.result):
            self._show_result(message.result, message.job.settings)

    def on_main_screen_job_waiting(self, message: JobWaiting) -> None:
        if message.job is not self.session.job or not self.session.computing:
            return
        blocker = message.blocker.settings
        self.query_one("#result", HalfBlockView).set_caption(
            result_caption(message.job.settings, f"waiting for k={blocker.k}…", self._image_name())
        )
        self.notify(
            f"plugin {blocker.plugin!r} (k={blocker.k}) has not stopped yet; escape leaves it "
            "running in the background",
            title="waiting",
            timeout=6,
        )

    def _show_result(self, result, settings: Settings) -> None:
        image = result.image
        q = result.quantized
        frames = self.session.frames
        indices = q.indices if frames is None else frames.rows(q.indices)
        picture = Picture(
            (indices.shape[1], indices.shape[0]), indices=indices, palette=display_palette(q)
        )
        # The palette's size; the stats give the colors a decoder sees in the file (more,
        # for JPEG).
        self.query_one("#result", HalfBlockView).show(
            picture, result_caption(settings, f"{q.colors}-color palette", self._image_name())
        )
        self.query_one(StatsPanel).show_stats(result.stats, input_bytes=image.file_bytes)
        if not self._freeze_asked:
            # The app is up and the user is looking at a result: a moment to spare.
            self._freeze_asked = True
            self.call_after_refresh(self._freeze_long_lived)
        self.query_one(PaletteView).show_palette(q.palette, q.counts, q.alpha)
        for note in self.session.notes_to_tell(q.notes):
            self.notify(note, timeout=4)
        if self.session.pending_save:
            self.session.pending_save = False
            self.action_save()

    def on_main_screen_job_failed(self, message: JobFailed) -> None:
        if isinstance(message.error, TargetUnreachable):
            self._target_unreachable(message.job, message.error)
            return
        text = self.session.failed(message.job, message.error)
        if text is None:
            return  # a stale job (its plugin's error is still kept for the plugins screen)
        settings = message.job.settings
        result = self.query_one("#result", HalfBlockView)
        result.show_message(f"{text} — F2 lists the plugins with their last errors")
        result.set_caption(result_caption(settings, "failed", self._image_name()))
        self.query_one(StatsPanel).clear("no result: quantizing failed")
        self.query_one(PaletteView).show_palette(None, None)
        self.notify(text, title="quantizing failed", severity="error", timeout=8)

    def _target_unreachable(self, job: Job, error: TargetUnreachable) -> None:
        """A target no k meets: say so; k and the result shown stay as they were."""
        if not self.session.search_ended(job):
            return
        self.notify(str(error), title="target not reachable", severity="warning", timeout=8)
        shown, settings = self.session.result, self.session.result_settings
        if shown is not None and settings == self.session.settings:
            self._show_result(shown, settings)
        else:
            self._start_job_now()

    # -- settings -----------------------------------------------------------------------------
    def _settings_changed(self, changed: bool) -> None:
        self.query_one(Controls).show(self.session.settings)
        if changed:
            self.start_job()

    def on_controls_changed(self, message: Controls.Changed) -> None:
        session, name, value = self.session, message.name, message.value
        if name == "plugin":
            if session.choose_plugin(value):
                self._plugin_changed()
            return
        if name == "k":
            changed = session.set_k(value)
        elif name == "dither":
            changed = session.set_dither(value)
        elif name == "format":
            changed = session.set_format(value)
        else:
            changed = session.set_param(name.removeprefix("param:"), value)
        self._settings_changed(changed)

    def on_controls_invalid(self, message: Controls.Invalid) -> None:
        self.notify(message.text, severity="error")
        self.query_one(Controls).show(self.session.settings)  # the field shows what is in use

    # -- actions ------------------------------------------------------------------------------
    def action_step_k(self, delta: int) -> None:
        self._settings_changed(self.session.step_k(delta))

    def action_scale_k(self, factor: float) -> None:
        self._settings_changed(self.session.scale_k(factor))

    def action_focus_k(self) -> None:
        self.set_focus(self.query_one("#k"))  # now: digits typed right after "k" go to it

    def action_next_plugin(self) -> None:
        if not self.session.plugin_names:
            self.notify("no quantizer plugins found", severity="error")
        elif self.session.next_plugin():
            self._plugin_changed()

    def action_plugins(self) -> None:
        from .plugins import PluginsScreen

        def chosen(name: str | None) -> None:
            if name and self.session.choose_plugin(name):
                self._plugin_changed()

        self.app.push_screen(
            PluginsScreen(
                self.registry,
                self.session.settings.plugin,
                states=self.session.plugins,
                load_timeout=PLUGIN_LOAD_TIMEOUT,
            ),
            chosen,
        )

    def action_next_dither(self) -> None:
        self._settings_changed(self.session.next_dither())

    def action_next_format(self) -> None:
        self._settings_changed(self.session.next_format())

    def _set_view(self, mode: str) -> None:
        self.set_class(False, f"-view-{self.view_mode}", update=False)  # one restyle, not two
        self.view_mode = mode
        self.set_class(True, f"-view-{mode}")
        self._show_no_image(self._no_image_text)
        self.call_after_refresh(self.query_one(PanePair).even_out)

    def action_cycle_view(self) -> None:
        """Both panes, the result, the original: each press changes what is on screen."""
        if self.comparing:
            self._end_compare()
        order = ("both", "result", "original")
        self._set_view(order[(order.index(self.shown_view) + 1) % len(order)])

    def action_compare(self) -> None:
        """Both panes at 1:1 around the same place; scrolling either moves both. Again: back."""
        if self.comparing:
            self._end_compare()
            return
        self.comparing = True
        self._view_before_compare = self.view_mode
        self.set_class(True, "-comparing")
        self._set_view("both")
        image = self.session.image
        if image is not None and self.viewport.scale is None:
            self._set_viewport(self.viewport.one_to_one((image.width, image.height)))
        else:
            self._set_viewport(self.viewport)  # the titles say "compare"

    def _end_compare(self) -> None:
        self.comparing = False
        self.set_class(False, "-comparing")
        self._set_view(self._view_before_compare)
        self._set_viewport(Viewport())

    def action_sort(self) -> None:
        files = self.query_one("#files", FileBrowser)
        order = SORT_ORDERS[(SORT_ORDERS.index(files.file_order) + 1) % len(SORT_ORDERS)]
        files.sort_by(order)
        self._sort = order
        self.notify(f"files sorted by {order}", timeout=2)

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.add_class("-shown")
        self.set_focus(field)  # now: keys typed right after "/" go to the field

    @on(Input.Changed, "#filter")
    def _filter_typed(self, event: Input.Changed) -> None:
        self.query_one("#files", FileBrowser).filter(event.value.strip())

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        self._leave_filter(keep=True)

    def _leave_filter(self, *, keep: bool) -> None:
        field = self.query_one("#filter", Input)
        if not keep:
            field.value = ""
            self.query_one("#files", FileBrowser).filter("")
        field.set_class(bool(field.value.strip()), "-shown")
        self.set_focus(self.query_one("#files", FileBrowser))

    def on_controls_field_done(self, message: Controls.FieldDone) -> None:
        self.set_focus(self.query_one("#files", FileBrowser))

    def action_flip(self) -> None:
        """Swap what the two panes show, in place; again to swap back."""
        panes = list(self.query(HalfBlockView))
        flipped = not panes[0].flipped
        for pane in panes:
            pane.flipped = flipped
        self.notify("flipped: original and result swapped" if flipped else "unflipped", timeout=2)

    def action_dither_preview(self) -> None:
        """Ordered dithering of half-block previews in a 256- or 16-color terminal."""
        panes = list(self.query(HalfBlockView))
        colors = panes[0].terminal_colors
        if colors is None:
            self.notify("previews show every color here: nothing to dither", timeout=3)
            return
        dither = not panes[0].dither_preview
        for pane in panes:
            pane.dither_preview = dither
        state = "on" if dither else "off"
        self.notify(f"{colors} colors: dithering {state}", timeout=3)

    def action_rate_distortion(self) -> None:
        from .rate_distortion import RateDistortionScreen

        if not self.session.ready():
            self.notify("open an image first", severity="warning")
            return

        def taken(k: int | None) -> None:
            if k is not None:
                self._settings_changed(self.session.set_k(k))

        screen = RateDistortionScreen(
            self.session, self.registry, preview_input=self._preview_input
        )
        self.app.push_screen(screen, taken)

    def action_target(self) -> None:
        from .target import TargetScreen

        if not self.session.ready():
            self.notify("open an image first", severity="warning")
            return
        self.app.push_screen(TargetScreen(self.target), self.find_k)

    def find_k(self, target) -> None:
        """Search for k under `target` as the CLI does (same search, same settings), as a job
        that escape or any new setting stops; k jumps to the answer when it comes."""
        if target is None:
            return
        self.target = target
        self._stop_settling()
        job = self.session.start_search()
        if job is None:
            return
        self.query_one("#result", HalfBlockView).set_caption(
            result_caption(job.settings, f"finding k for {target}…")
        )
        self.query_one(StatsPanel).clear(f"finding k for {target}…")
        self._search(job, target)

    @work(thread=True, exclusive=True, group="quantize", description="find k")
    def _search(self, job: Job, target) -> None:
        from ...targets import search_k

        settings = job.settings

        def compute(should_stop):
            return search_k(
                job.image,
                target,
                plugin=settings.plugin,
                params=settings.param_dict,
                dither=settings.dither,
                format=settings.format,
                registry=self.registry,
                should_stop=should_stop,
                on_trial=lambda trial: self.post_message(self.TargetProgress(job, target, trial)),
            )

        try:
            result = self.session.runner.run(job, compute)
        except Cancelled:
            return
        except Exception as exc:  # noqa: BLE001 - unreachable, or a plugin's error
            self.post_message(self.JobFailed(job, exc))
            return
        self.post_message(self.TargetFound(job, target, result))

    def on_main_screen_target_progress(self, message: TargetProgress) -> None:
        if message.job is not self.session.job or not self.session.computing:
            return
        trial = message.trial
        kind = "estimate" if trial.estimate else "run"
        self.query_one("#result", HalfBlockView).set_caption(
            result_caption(
                message.job.settings, f"finding k for {message.target}: {kind} k={trial.k}…"
            )
        )

    def on_main_screen_target_found(self, message: TargetFound) -> None:
        result = message.result
        if not self.session.found(message.job, result):
            return
        search = result.search
        real = sum(1 for t in search.trials if not t.estimate)
        self.notify(
            f"{message.target}: k={search.k} ({real} real runs, "
            f"{len(search.trials) - real} estimates)",
            title="target",
            timeout=6,
        )
        self.query_one(Controls).show(self.session.settings)
        self._start_job_now()  # the answer is in the cache: shown at once

    def action_cancel(self) -> None:
        files = self.query_one("#files", FileBrowser)
        focused = self.focused
        controls = self.query_one(Controls)
        if focused is not None and focused.id == "filter":
            self._leave_filter(keep=False)  # escape clears the filter; enter keeps it
            return
        if focused is not None and focused is not files and controls in focused.ancestors:
            self.set_focus(files)  # leaving a field: not a request to stop anything
            return
        settling = self._settling is not None
        self._stop_settling()
        if not self.session.cancel() and not settling:
            self.set_focus(files)
            return
        pane = self.query_one("#result", HalfBlockView)
        pane.show_message("cancelled: change a setting to try again")
        pane.set_caption(result_caption(self.session.settings, "cancelled", self._image_name()))
        self.query_one(StatsPanel).clear("cancelled")
        self.notify("cancelled the running job", timeout=3)

    # -- zoom and pan -------------------------------------------------------------------------
    def _pane(self) -> HalfBlockView | None:
        """The pane zoom and pan are measured on: the first one on screen with a picture."""
        for pane in self.query(HalfBlockView):
            if pane.display and pane.picture is not None:
                return pane
        return None

    def _set_viewport(self, viewport: Viewport) -> None:
        self.viewport = viewport
        zoom = "" if viewport.scale is None else f" [{viewport.label}]"
        if self.comparing:
            zoom = f" [compare {viewport.label}]"
        for pane in self.query(HalfBlockView):
            pane.viewport = viewport
        self.query_one("#original", HalfBlockView).title = f"Original{zoom}"
        self.query_one("#result", HalfBlockView).title = f"Result{zoom}"

    def action_zoom(self, direction: int) -> None:
        pane = self._pane()
        if pane is not None:
            self._set_viewport(
                self.viewport.zoomed(
                    direction, image_size=pane.picture.full_size, pane_pixels=pane.pixel_size
                )
            )

    def action_zoom_one(self) -> None:
        image = self.session.image
        if image is not None:
            self._set_viewport(self.viewport.one_to_one((image.width, image.height)))

    def action_zoom_fit(self) -> None:
        self._set_viewport(Viewport())

    def action_pan(self, dx: int, dy: int) -> None:
        pane = self._pane()
        if pane is not None:
            self._set_viewport(
                self.viewport.panned(
                    dx, dy, image_size=pane.picture.full_size, pane_pixels=pane.pixel_size
                )
            )

    def on_half_block_view_clicked(self, message: HalfBlockView.Clicked) -> None:
        self._set_viewport(self.viewport.centered_on(message.x, message.y))

    def on_half_block_view_scrolled(self, message: HalfBlockView.Scrolled) -> None:
        self.action_pan(message.dx, message.dy)

    # -- saving -------------------------------------------------------------------------------
    def action_save(self) -> None:
        session = self.session
        if session.image is None and not session.opening:
            self.notify("open an image first", severity="warning")
            return
        result = session.result_to_save()
        if result is None:
            session.pending_save = True
            self.notify("saving when the full result is ready…", timeout=3)
            return
        self._save(result, session.settings)

    @work(thread=True, group="save", description="save")
    def _save(self, result, settings: Settings) -> None:
        from ...api import save

        image = result.image
        folder = image.path.parent
        ext = FORMAT_EXTENSIONS[settings.format][0]
        base = fitting_name(image.path.stem, f"-k{settings.k}", f"-9999{ext}")
        for n in range(1, 10_000):
            target = folder / (base + ext if n == 1 else f"{base}-{n}{ext}")
            if target.exists() or target.is_symlink():
                continue
            try:
                saved = save(result, target)
            except OutputExists:
                continue  # created meanwhile: take the next number
            except OutputError as exc:
                self.post_message(self.Saved(None, 0, str(exc)))
                return
            except Exception as exc:  # noqa: BLE001 - reported, never fatal
                self.post_message(self.Saved(None, 0, f"{target}: {exc}"))
                return
            note = "" if image.path.exists() else " (the input file is gone)"
            self.post_message(self.Saved(saved.output, len(result.data), note, image.file_bytes))
            return
        self.post_message(self.Saved(None, 0, f"{folder}: no free name for {base}{ext}"))

    def action_step_frame(self, delta: int) -> None:
        session = self.session
        if not session.step_frame(delta):
            return
        frame = session.animation.frames[session.frames.index]
        rgb = composite(frame.rgb, frame.alpha)
        self.query_one("#original", HalfBlockView).show(
            Picture((frame.width, frame.height), rgb=rgb), self._original_caption()
        )
        if session.result is not None:
            self._show_result(session.result, session.result_settings)

    def action_export_palette(self) -> None:
        session = self.session
        result = session.result_to_save()
        if result is None:
            waiting = session.image is not None or session.opening
            text = "no palette yet: wait for the result" if waiting else "open an image first"
            self.notify(text, severity="warning")
            return
        self._export_palette(result, session.settings.k)

    @work(thread=True, group="save", description="export palette")
    def _export_palette(self, result, k: int) -> None:
        from ..palette_export import export_palette

        try:
            path = export_palette(result, k)
        except KmcError as exc:
            self.post_message(self.PaletteExported(None, str(exc)))
        except Exception as exc:  # noqa: BLE001 - reported, never fatal
            self.post_message(self.PaletteExported(None, f"{type(exc).__name__}: {exc}"))
        else:
            self.post_message(self.PaletteExported(path))

    def on_main_screen_palette_exported(self, message: PaletteExported) -> None:
        if message.path is None:
            self.notify(message.text, title="palette not written", severity="error", timeout=8)
        else:
            self.notify(str(message.path), title="palette written", timeout=6)

    def on_main_screen_saved(self, message: Saved) -> None:
        if message.path is None:
            self.notify(message.text, title="save failed", severity="error", timeout=8)
        else:
            session = self.session
            session.record_save(message.input_bytes, message.size)
            self.query_one(StatsPanel).show_totals(
                session.saved_files, session.saved_input_bytes, session.saved_output_bytes
            )
            files = self.query_one("#files", FileBrowser)
            if files.folder == message.path.parent:
                files.refresh_listing()
            self.notify(
                f"{message.path} ({human_bytes(message.size)}){message.text}",
                title="saved",
                timeout=6,
            )
