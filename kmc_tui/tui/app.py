"""The terminal UI: browse images, choose k and a quantizer, compare, read the numbers, save.

Threads: the UI thread only draws and handles keys. Reading, quantizing, encoding, statistics
and saving run in ``@work(thread=True)`` workers; each request carries an id and results that
are not for the latest request are dropped. The computation itself runs in a daemon thread the
worker waits on, so a plugin that never returns can be abandoned (escape) without holding a
worker slot or keeping the process alive at exit.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.worker import get_current_worker

from ..errors import Cancelled, KmcError
from ..formats import FORMAT_EXTENSIONS, FORMATS, K_MAX, K_MIN, human_bytes
from ..quantize import call_with_timeout
from ..registry import Registry
from .widgets.controls import Controls
from .widgets.file_browser import FileBrowser
from .widgets.palette import PaletteView
from .widgets.preview import ZOOM_STEPS, HalfBlockView, Picture, Viewport
from .widgets.stats_panel import StatsPanel

#: Pixels of the copy the quick preview is quantized from (measured: ~16k pixels keeps a
#: k-means preview near 100 ms once scikit-learn is loaded; see benchmarks/tui_latency.py).
PREVIEW_PIXELS = 16_000
#: Pixels of the area-averaged copy the original pane is drawn from when zoomed out.
DISPLAY_PIXELS = 160_000
#: How many full results (per image) are kept, so going back to a k shows it at once.
RESULT_CACHE = 6
#: Seconds a plugin may take to import before it is reported as failed.
PLUGIN_LOAD_TIMEOUT = 20.0
#: Background behind transparent pixels.
BACKDROP = (40, 40, 46)


@dataclass(frozen=True)
class Settings:
    """Everything a result depends on besides the image."""

    k: int = 16
    plugin: str = "kmeans"
    params: tuple = ()  # sorted (name, value) pairs, hashable for the result cache
    dither: bool = False
    format: str = "png"

    @property
    def param_dict(self) -> dict:
        return dict(self.params)


@dataclass
class Shown:
    """What the panes currently show."""

    image: Any = None  # kmc_tui.read.Image
    result: Any = None  # kmc_tui.api.Result for `settings`, once complete
    settings: Settings | None = None
    cache: dict = field(default_factory=dict)


def _composite(rgb, alpha):
    """RGB over the backdrop where alpha is below 255 (for display only)."""
    import numpy as np

    if alpha is None:
        return rgb
    a = alpha.astype(np.float32)[..., None] / 255.0
    back = np.array(BACKDROP, np.float32)
    return np.round(rgb * a + back * (1.0 - a)).astype(np.uint8)


class KmcApp(App):
    """kmc-tui: reduce an image to k colors and see the result before keeping it.

    Parameters
    ----------
    path : path-like, optional
        A folder to browse, or an image (its folder opens with it selected and shown).
    plugin_dirs : sequence of path-like
        Folders of single-file quantizer plugins.
    k, plugin : initial settings.
    registry : Registry, optional
        Use this registry instead of discovering plugins.
    """

    TITLE = "kmc-tui"
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live elsewhere

    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
        Binding("question_mark,f1", "help", "Help"),
        Binding("plus,equals_sign", "step_k(1)", "k+1", key_display="+"),
        Binding("minus", "step_k(-1)", "k-1", key_display="-"),
        Binding("right_square_bracket", "scale_k(2)", "k×2", key_display="]"),
        Binding("left_square_bracket", "scale_k(0.5)", "k÷2", key_display="["),
        Binding("k", "focus_k", "Type k", show=False),
        Binding("s", "save", "Save"),
        Binding("p", "next_plugin", "Plugin"),
        Binding("f2,P", "plugins", "Plugins list", show=False),
        Binding("d", "toggle_dither", "Dither on/off", show=False),
        Binding("f", "next_format", "Next output format", show=False),
        Binding("v", "cycle_view", "View"),
        Binding("z", "zoom(1)", "Zoom in", show=False),
        Binding("x", "zoom(-1)", "Zoom out", show=False),
        Binding("1", "zoom_one", "Zoom to 1:1 pixels", show=False),
        Binding("0", "zoom_fit", "Zoom to fit", show=False),
        Binding("shift+left", "pan(-1,0)", "Pan left", show=False),
        Binding("shift+right", "pan(1,0)", "Pan right", show=False),
        Binding("shift+up", "pan(0,-1)", "Pan up", show=False),
        Binding("shift+down", "pan(0,1)", "Pan down", show=False),
        Binding("escape", "cancel", "Cancel the running job (in a field: leave it)", show=False),
        Binding("ctrl+p", "command_palette", "Command palette", show=False),
    ]

    # -- messages from workers --------------------------------------------------------------
    class ImageLoaded(Message):
        def __init__(self, request: int, image, display, preview_input) -> None:
            super().__init__()
            self.request, self.image, self.display = request, image, display
            self.preview_input = preview_input

    class LoadFailed(Message):
        def __init__(self, request: int, path: Path, text: str) -> None:
            super().__init__()
            self.request, self.path, self.text = request, path, text

    class PreviewReady(Message):
        def __init__(self, job: int, quantized, seconds: float) -> None:
            super().__init__()
            self.job, self.quantized, self.seconds = job, quantized, seconds

    class ResultReady(Message):
        def __init__(self, job: int, result, settings: Settings, seconds: float) -> None:
            super().__init__()
            self.job, self.result, self.settings, self.seconds = job, result, settings, seconds

    class JobFailed(Message):
        def __init__(self, job: int, text: str) -> None:
            super().__init__()
            self.job, self.text = job, text

    class PluginReady(Message):
        def __init__(self, name: str, specs: tuple, error: str | None) -> None:
            super().__init__()
            self.name, self.specs, self.error = name, specs, error

    class Saved(Message):
        def __init__(self, path: Path | None, size: int, text: str = "") -> None:
            super().__init__()
            self.path, self.size, self.text = path, size, text

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        *,
        plugin_dirs=(),
        k: int = 16,
        plugin: str = "kmeans",
        registry: Registry | None = None,
    ):
        super().__init__()
        self.registry = registry if registry is not None else Registry(plugin_dirs)
        names = self.registry.names()
        if plugin not in names and names:
            plugin = names[0]
        self.settings = Settings(k=max(K_MIN, min(K_MAX, int(k))), plugin=plugin)
        self.shown = Shown()
        self.viewport = Viewport()
        self.view_mode = ""  # "", "both", "original", "result": "" means decide by width
        self._plugin_specs: dict[str, tuple] = {}
        self._params_memory: dict[str, dict] = {}
        self._no_image_text = ""
        self._told: set[str] = set()
        self._load_request = 0
        self._job = 0
        self._job_running = False
        self._job_started = 0.0
        self._last_job_start = 0.0
        self._pending_save = False
        self._opening = False  # an image is being read: a save waits for it
        self._preview_input = None
        #: Seconds from the latest request to its quick preview and to its full result.
        self.latency: dict[str, float] = {}
        target = Path(path) if path is not None else Path.cwd()
        target = target.absolute()
        self._open_on_start: Path | None = None
        self._start_error: str | None = None
        if target.is_dir():
            self._folder = target
        elif target.exists() or target.parent.is_dir():
            self._folder = target.parent
            self._open_on_start = target
        else:
            self._folder = Path.cwd()
            self._start_error = f"{target}: no such file or folder"

    # -- layout -----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="sidebar"):
                browser = FileBrowser(self._folder, select=self._open_on_start, id="files")
                yield browser
                controls = Controls(
                    k=self.settings.k,
                    plugins=self.registry.names(),
                    plugin=self.settings.plugin,
                    dither=self.settings.dither,
                    format=self.settings.format,
                    id="controls",
                )
                controls.border_title = "settings"
                yield controls
            with Vertical(id="center"):
                with Horizontal(id="panes"):
                    yield HalfBlockView("Original", id="original")
                    yield HalfBlockView("Result", id="result")
                with Horizontal(id="info"):
                    stats = StatsPanel(id="stats")
                    stats.border_title = "stats"
                    yield stats
                    palette = PaletteView(id="palette")
                    palette.border_title = "palette"
                    yield palette
        from textual.widgets import Footer

        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#files", FileBrowser).focus()
        if self._open_on_start is not None:
            self._show_no_image(f"reading {self._open_on_start.name}…")
        else:
            self._show_no_image("choose an image and press enter")
        self.query_one("#stats", StatsPanel).clear("no image open")
        self._load_plugin(self.settings.plugin)
        if self._start_error:
            self.notify(self._start_error, severity="error")
        if self._open_on_start is not None:
            self.open_image(self._open_on_start)
        self._apply_layout(self.size.width)

    def on_resize(self, event) -> None:
        self._apply_layout(event.size.width)

    def _apply_layout(self, width: int) -> None:
        narrow = width < 110
        self.screen.set_class(narrow, "narrow")
        mode = self.view_mode or ("result" if narrow else "both")
        original = self.query_one("#original", HalfBlockView)
        result = self.query_one("#result", HalfBlockView)
        original.display = mode in ("both", "original")
        result.display = mode in ("both", "result")
        panes = self.query_one("#panes")
        panes.set_class(mode == "both" and narrow, "stacked")
        rows = 2 if narrow else (6 if self.size.height >= 36 else 4)
        self.query_one("#palette", PaletteView).set_rows(rows)
        if self.shown.image is None and self._no_image_text:
            result.show_message("" if original.display else self._no_image_text)

    # -- plugins -----------------------------------------------------------------------------
    @work(thread=True, group="plugin-load", description="load plugin")
    def _load_plugin(self, name: str) -> None:
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
            self.post_message(self.PluginReady(name, tuple(cls.params), None))
        except Cancelled:
            return
        except KmcError as exc:  # failed to load, or timed out (PluginTimeout)
            self.post_message(self.PluginReady(name, (), str(exc)))

    async def on_kmc_app_plugin_ready(self, message: PluginReady) -> None:
        if message.error:
            self._plugin_specs[message.name] = ()
            if message.name == self.settings.plugin:
                self.notify(message.error, severity="error", timeout=8)
        else:
            self._plugin_specs[message.name] = message.specs
        if message.name != self.settings.plugin:
            return
        # Defaults, then what was chosen for this plugin before (switching away and back keeps it).
        values = {spec.name: spec.default for spec in message.specs}
        remembered = self._params_memory.get(message.name, {})
        values.update({k: v for k, v in remembered.items() if k in values})
        self.settings = replace(self.settings, params=tuple(sorted(values.items())))
        await self.query_one(Controls).set_params(message.specs, values)
        if self.shown.image is not None:
            self.start_job()

    def _choose_plugin(self, name: str) -> None:
        if name == self.settings.plugin or name not in self.registry:
            return
        self._params_memory[self.settings.plugin] = self.settings.param_dict
        self.settings = replace(self.settings, plugin=name, params=())
        self.query_one(Controls).set_plugin(name)
        self.notify(f"plugin: {name}", timeout=2)
        if name in self._plugin_specs:
            self.post_message(self.PluginReady(name, self._plugin_specs[name], None))
        else:
            self._load_plugin(name)

    # -- opening -----------------------------------------------------------------------------
    def on_file_browser_file_selected(self, message: FileBrowser.FileSelected) -> None:
        self.open_image(message.path)

    def on_file_browser_folder_listed(self, message: FileBrowser.FolderListed) -> None:
        if message.error:
            self.notify(f"{message.folder}: {message.error}", severity="error")

    def open_image(self, path: Path) -> None:
        """Read `path` in a worker; the panes show it when it is decoded."""
        self._load_request += 1
        self._cancel_job(quiet=True)
        self._opening = True
        self.query_one("#original", HalfBlockView).set_caption(f"loading {path.name}…")
        self._load(self._load_request, Path(path))

    @work(thread=True, exclusive=True, group="load", description="read image")
    def _load(self, request: int, path: Path) -> None:
        from ..read import read_image

        worker = get_current_worker()

        def read():
            image = read_image(path)
            display = image.downscaled(DISPLAY_PIXELS)
            preview_input = image.downscaled(PREVIEW_PIXELS)
            # Composite once here so drawing never touches alpha.
            display_rgb = _composite(display.rgb, display.alpha)
            full_rgb = _composite(image.rgb, image.alpha) if image.alpha is not None else image.rgb
            return image, (display_rgb, full_rgb), preview_input

        try:
            image, display, preview_input = call_with_timeout(
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
        self.post_message(self.ImageLoaded(request, image, display, preview_input))

    def on_kmc_app_image_loaded(self, message: ImageLoaded) -> None:
        if message.request != self._load_request:
            return
        self._opening = False
        image = message.image
        display_rgb, full_rgb = message.display
        self.shown = Shown(image=image)
        self._told = set()
        self._preview_input = message.preview_input
        self.viewport = Viewport()
        size = (image.width, image.height)
        detail = Picture(size, rgb=full_rgb)
        picture = Picture(
            size, rgb=display_rgb, detail=detail if full_rgb is not display_rgb else None
        )
        original = self.query_one("#original", HalfBlockView)
        original.show(picture, self._original_caption())
        self._set_viewport(Viewport())
        self.query_one("#result", HalfBlockView).show_message("")
        self.query_one("#palette", PaletteView).show_palette(None, None)
        for note in image.notes:
            self.notify(f"{image.path.name}: {note}", timeout=4)
        self.start_job()

    def on_kmc_app_load_failed(self, message: LoadFailed) -> None:
        if message.request != self._load_request:
            return
        self._opening = False
        self._pending_save = False
        self.shown = Shown()
        self._show_no_image(f"cannot open {message.path.name}")
        self.query_one("#stats", StatsPanel).clear("no image open")
        self.query_one("#palette", PaletteView).show_palette(None, None)
        self.notify(message.text, title="cannot open", severity="error", timeout=8)

    def _show_no_image(self, text: str) -> None:
        """Say why there is no picture, in whichever pane is on screen."""
        self._no_image_text = text
        original = self.query_one("#original", HalfBlockView)
        original.show_message(text)
        original.set_caption("")
        self.query_one("#result", HalfBlockView).show_message("" if original.display else text)

    def _original_caption(self) -> str:
        image = self.shown.image
        if image is None:
            return ""
        # Name last: it is what gets cut when the pane is narrow.
        name = image.path.name if image.path else ""
        return f"{image.width}×{image.height} · {human_bytes(image.file_bytes)} · {name}"

    # -- quantizing --------------------------------------------------------------------------
    def start_job(self) -> None:
        """Compute the preview, then the full result, for the current image and settings."""
        image = self.shown.image
        if image is None:
            return
        if self.settings.plugin not in self._plugin_specs:
            return  # starts when the plugin's parameters are known
        self._job += 1
        settings = self.settings
        now = time.perf_counter()
        self._job_started = now
        rapid = now - self._last_job_start < 0.15
        self._last_job_start = now
        cached = self.shown.cache.get(settings)
        result_pane = self.query_one("#result", HalfBlockView)
        if cached is not None:
            self._job_running = False
            self.workers.cancel_group(self, "quantize")
            self._show_result(cached, settings)
            return
        self._job_running = True
        result_pane.set_caption(self._result_caption(settings, "computing…"))
        stats = self.query_one("#stats", StatsPanel)
        if self.shown.result is not None:
            stats.show_stats(
                self.shown.result.stats,
                input_bytes=image.file_bytes,
                status=f"computing k={settings.k}…",
            )
        else:
            stats.clear(f"computing k={settings.k}…")
        self.shown.result = None
        preview_input = self._preview_input if self._preview_input is not image else None
        self._quantize(
            self._job,
            image,
            preview_input,
            settings,
            self._plugin_specs.get(settings.plugin, ()),
            0.05 if rapid else 0.0,
        )

    @work(thread=True, exclusive=True, group="quantize", description="quantize")
    def _quantize(
        self, job: int, image, preview_input, settings: Settings, specs: tuple, settle: float
    ) -> None:
        from ..api import process
        from ..quantize import quantize

        worker = get_current_worker()
        stop = lambda: worker.is_cancelled  # noqa: E731
        started = time.perf_counter()
        if settle:  # keys held down: let the burst settle before starting heavy work
            end = time.perf_counter() + settle
            while time.perf_counter() < end:
                if stop():
                    return
                time.sleep(0.01)
        params = settings.param_dict
        try:
            if preview_input is not None:
                quick = dict(params)
                for spec in specs:  # cheaper values the plugin offers for previews
                    if spec.preview is not None and spec.name in quick:
                        quick[spec.name] = min(quick[spec.name], spec.preview)
                q = call_with_timeout(
                    lambda: quantize(
                        preview_input,
                        settings.k,
                        plugin=settings.plugin,
                        params=quick,
                        dither=settings.dither,
                        registry=self.registry,
                        should_stop=stop,
                    ),
                    None,
                    should_stop=stop,
                    poll=0.01,
                )
                self.post_message(self.PreviewReady(job, q, time.perf_counter() - started))
            result = call_with_timeout(
                lambda: process(
                    image,
                    settings.k,
                    plugin=settings.plugin,
                    params=params,
                    dither=settings.dither,
                    format=settings.format,
                    registry=self.registry,
                    should_stop=stop,
                ),
                None,
                should_stop=stop,
                poll=0.01,
            )
        except Cancelled:
            return
        except KmcError as exc:
            self.post_message(self.JobFailed(job, str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - a plugin's bug must not end the app
            self.post_message(self.JobFailed(job, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(self.ResultReady(job, result, settings, time.perf_counter() - started))

    def on_kmc_app_preview_ready(self, message: PreviewReady) -> None:
        if message.job != self._job or self.shown.image is None:
            return  # stale: a newer request is on its way
        self.latency["preview"] = time.perf_counter() - self._job_started
        q = message.quantized
        image = self.shown.image
        picture = Picture(
            (image.width, image.height), indices=q.indices, palette=self._display_palette(q)
        )
        self.query_one("#result", HalfBlockView).show(
            picture, self._result_caption(self.settings, "preview…")
        )
        self.query_one("#palette", PaletteView).show_palette(q.palette, q.counts, q.alpha)

    def on_kmc_app_result_ready(self, message: ResultReady) -> None:
        if message.job != self._job or self.shown.image is None:
            return
        self.latency["result"] = time.perf_counter() - self._job_started
        self._job_running = False
        cache = self.shown.cache
        cache[message.settings] = message.result
        while len(cache) > RESULT_CACHE:
            cache.pop(next(iter(cache)))
        self._show_result(message.result, message.settings)

    def _show_result(self, result, settings: Settings) -> None:
        image = self.shown.image
        self.shown.result = result
        self.shown.settings = settings
        q = result.quantized
        picture = Picture(
            (image.width, image.height), indices=q.indices, palette=self._display_palette(q)
        )
        self.query_one("#result", HalfBlockView).show(
            picture, self._result_caption(settings, f"{q.colors} colors")
        )
        self.query_one("#stats", StatsPanel).show_stats(result.stats, input_bytes=image.file_bytes)
        self.query_one("#palette", PaletteView).show_palette(q.palette, q.counts, q.alpha)
        for note in q.notes:
            if note not in self._told:  # once per image, not at every k
                self._told.add(note)
                self.notify(note, timeout=4)
        if self._pending_save:
            self._pending_save = False
            self.action_save()

    def on_kmc_app_job_failed(self, message: JobFailed) -> None:
        if message.job != self._job:
            return
        self._job_running = False
        self._pending_save = False
        self.query_one("#result", HalfBlockView).show_message("failed: see the notification")
        self.query_one("#stats", StatsPanel).clear("no result")
        self.query_one("#palette", PaletteView).show_palette(None, None)
        self.notify(message.text, title="quantizing failed", severity="error", timeout=8)

    @staticmethod
    def _display_palette(q):
        import numpy as np

        if q.alpha is None:
            return q.palette
        return _composite(q.palette[None], q.alpha[None])[0].astype(np.uint8)

    @staticmethod
    def _result_caption(settings: Settings, status: str) -> str:
        dither = " dithered" if settings.dither else ""
        return f"k={settings.k} {settings.plugin}{dither} · {status}"

    def _cancel_job(self, *, quiet: bool = False) -> bool:
        """Stop waiting for the running job; its result, if it ever comes, is ignored."""
        was_running = self._job_running
        self._job += 1
        self._job_running = False
        self._pending_save = False
        self.workers.cancel_group(self, "quantize")
        if was_running and not quiet:
            result = self.query_one("#result", HalfBlockView)
            result.show_message("cancelled: change a setting to try again")
            self.query_one("#stats", StatsPanel).clear("cancelled")
            self.notify("cancelled the running job", timeout=3)
        return was_running

    # -- settings ------------------------------------------------------------------------------
    def set_k(self, k: int) -> None:
        k = max(K_MIN, min(K_MAX, int(k)))
        self.query_one(Controls).set_k(k)
        if k == self.settings.k:
            return
        self.settings = replace(self.settings, k=k)
        self.start_job()

    def on_controls_changed(self, message: Controls.Changed) -> None:
        name, value = message.name, message.value
        if name == "k":
            self.set_k(value)
        elif name == "plugin":
            self._choose_plugin(value)
        elif name == "dither":
            if value != self.settings.dither:
                self.settings = replace(self.settings, dither=bool(value))
                self.start_job()
        elif name == "format":
            if value != self.settings.format:
                self.settings = replace(self.settings, format=value)
                self.start_job()
        elif name.startswith("param:"):
            pname = name.removeprefix("param:")
            params = self.settings.param_dict
            if pname in params and params[pname] != value:
                params[pname] = value
                self.settings = replace(self.settings, params=tuple(sorted(params.items())))
                self.start_job()

    def on_controls_invalid(self, message: Controls.Invalid) -> None:
        self.notify(message.text, severity="error")

    # -- actions ------------------------------------------------------------------------------
    def action_step_k(self, delta: int) -> None:
        self.set_k(self.settings.k + delta)

    def action_scale_k(self, factor: float) -> None:
        k = self.settings.k
        self.set_k(k * 2 if factor > 1 else max(1, k // 2))

    def action_focus_k(self) -> None:
        self.query_one("#k").focus()

    def action_next_plugin(self) -> None:
        names = self.registry.names()
        if not names:
            self.notify("no quantizer plugins found", severity="error")
            return
        i = names.index(self.settings.plugin) if self.settings.plugin in names else -1
        self._choose_plugin(names[(i + 1) % len(names)])

    def action_plugins(self) -> None:
        from .screens.plugins import PluginsScreen

        def chosen(name: str | None) -> None:
            if name:
                self._choose_plugin(name)

        self.push_screen(
            PluginsScreen(self.registry, self.settings.plugin, load_timeout=PLUGIN_LOAD_TIMEOUT),
            chosen,
        )

    def action_toggle_dither(self) -> None:
        self.settings = replace(self.settings, dither=not self.settings.dither)
        self.query_one(Controls).set_dither(self.settings.dither)
        self.start_job()

    def action_next_format(self) -> None:
        i = FORMATS.index(self.settings.format)
        self.settings = replace(self.settings, format=FORMATS[(i + 1) % len(FORMATS)])
        self.query_one(Controls).set_format(self.settings.format)
        self.start_job()

    def action_cycle_view(self) -> None:
        order = ("both", "result", "original")
        current = self.view_mode or ("result" if self.size.width < 110 else "both")
        self.view_mode = order[(order.index(current) + 1) % len(order)]
        self._apply_layout(self.size.width)

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen([b for b in self.BINDINGS if isinstance(b, Binding)]))

    def action_cancel(self) -> None:
        files = self.query_one("#files", FileBrowser)
        focused = self.focused
        if (
            focused is not None
            and focused is not files
            and self.query_one(Controls) in focused.ancestors
        ):
            files.focus()  # leaving a field: not a request to stop anything
            return
        if not self._cancel_job():
            files.focus()

    # -- zoom and pan -----------------------------------------------------------------------
    def _pane(self) -> HalfBlockView | None:
        for pane in self.query(HalfBlockView):
            if pane.display and pane.picture is not None:
                return pane
        return None

    def _set_viewport(self, viewport: Viewport) -> None:
        self.viewport = viewport
        for pane in self.query(HalfBlockView):
            pane.viewport = viewport
        zoom = "" if viewport.scale is None else f" [{viewport.label}]"
        self.query_one("#original", HalfBlockView).title = f"Original{zoom}"
        self.query_one("#result", HalfBlockView).title = f"Result{zoom}"

    def action_zoom(self, direction: int) -> None:
        pane = self._pane()
        if pane is None:
            return
        image = self.shown.image
        fit = pane.fit_scale()
        scale = self.viewport.scale if self.viewport.scale is not None else fit
        if direction > 0:
            steps = [s for s in ZOOM_STEPS if s < scale * 0.99]
            if not steps:
                return
            new = steps[0]
        else:
            steps = [s for s in reversed(ZOOM_STEPS) if s > scale * 1.01]
            new = steps[0] if steps and steps[0] < fit else None
        if new is None:
            self._set_viewport(Viewport())
            return
        cx = self.viewport.center_x if self.viewport.scale is not None else image.width / 2
        cy = self.viewport.center_y if self.viewport.scale is not None else image.height / 2
        self._set_viewport(Viewport(new, cx, cy))

    def action_zoom_one(self) -> None:
        image = self.shown.image
        if image is None:
            return
        vp = self.viewport
        cx = vp.center_x if vp.scale is not None else image.width / 2
        cy = vp.center_y if vp.scale is not None else image.height / 2
        self._set_viewport(Viewport(1.0, cx, cy))

    def action_zoom_fit(self) -> None:
        self._set_viewport(Viewport())

    def action_pan(self, dx: int, dy: int) -> None:
        pane = self._pane()
        vp = self.viewport
        if pane is None or vp.scale is None:
            return
        image = self.shown.image
        step_x = max(1.0, pane.size.width * vp.scale / 4)
        step_y = max(1.0, 2 * pane.size.height * vp.scale / 4)
        cx = min(max(vp.center_x + dx * step_x, 0), image.width)
        cy = min(max(vp.center_y + dy * step_y, 0), image.height)
        self._set_viewport(Viewport(vp.scale, cx, cy))

    def on_half_block_view_clicked(self, message: HalfBlockView.Clicked) -> None:
        scale = self.viewport.scale if self.viewport.scale is not None else 1.0
        self._set_viewport(Viewport(min(scale, 1.0), message.x, message.y))

    # -- saving -------------------------------------------------------------------------------
    def action_save(self) -> None:
        image = self.shown.image
        if image is None and not self._opening:
            self.notify("open an image first", severity="warning")
            return
        result = self.shown.result
        if image is None or result is None or self.shown.settings != self.settings:
            self._pending_save = True
            self.notify("saving when the full result is ready…", timeout=3)
            return
        self._save(result, self.settings)

    @work(thread=True, group="save", description="save")
    def _save(self, result, settings: Settings) -> None:
        from ..api import save
        from ..errors import OutputError, OutputExists

        image = result.image
        folder = image.path.parent
        base = f"{image.path.stem}-k{settings.k}"
        ext = FORMAT_EXTENSIONS[settings.format][0]
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
            self.post_message(self.Saved(saved.output, len(result.data), note))
            return
        self.post_message(self.Saved(None, 0, f"{folder}: no free name for {base}{ext}"))

    def on_kmc_app_saved(self, message: Saved) -> None:
        if message.path is None:
            self.notify(message.text, title="save failed", severity="error", timeout=8)
        else:
            self.notify(
                f"{message.path} ({human_bytes(message.size)}){message.text}",
                title="saved",
                timeout=6,
            )

    # -- command palette ----------------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        commands = [
            ("Save result", "Save next to the input as <stem>-k<k>.<format>", self.action_save),
            ("k + 1", "One more color", lambda: self.action_step_k(1)),
            ("k - 1", "One color fewer", lambda: self.action_step_k(-1)),
            ("Double k", "Twice as many colors", lambda: self.action_scale_k(2)),
            ("Halve k", "Half as many colors", lambda: self.action_scale_k(0.5)),
            ("Type k", "Focus the k field", self.action_focus_k),
            ("Next plugin", "Switch to the next quantizer", self.action_next_plugin),
            ("Plugins", "List every plugin, its parameters and load errors", self.action_plugins),
            (
                "Toggle dithering",
                "Floyd–Steinberg onto the same palette",
                self.action_toggle_dither,
            ),
            ("Next output format", "png, gif, webp, jpeg", self.action_next_format),
            ("Cycle view", "Both panes, result only, original only", self.action_cycle_view),
            ("Zoom in", "Closer, down to pixels", lambda: self.action_zoom(1)),
            ("Zoom out", "Further, up to fit", lambda: self.action_zoom(-1)),
            ("Zoom 1:1", "One image pixel per half cell", self.action_zoom_one),
            ("Zoom to fit", "The whole image", self.action_zoom_fit),
            ("Cancel job", "Stop waiting for the running quantizer", self._cancel_job),
            ("Keys", "Every key of the app", self.action_help),
        ]
        for title, help_text, callback in commands:
            yield SystemCommand(title, help_text, callback)
