"""The terminal UI: browse images, choose k and a quantizer, compare, read the numbers, save.

The app composes and routes: it builds the :class:`~kmc_tui.tui.session.Session`, opens the
:class:`~kmc_tui.tui.screens.main.MainScreen` (which owns the layout and the work), sets the
width breakpoints, offers every key binding in the command palette, and reads and writes the
config file (:mod:`~kmc_tui.tui.config`) when it is given one.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import Screen

from .. import Registry
from ..errors import shown
from .config import Config, load_config, save_config
from .graphics import Graphics
from .screens.main import NARROW, MainScreen
from .session import Session


class KmcApp(App):
    """kmc-tui: reduce an image to k colors and see the result before keeping it.

    Parameters
    ----------
    path : path-like, optional
        A folder to browse, or an image (its folder opens with it selected and shown).
    plugin_dirs : sequence of path-like
        Folders of single-file quantizer plugins.
    k, plugin : initial settings (when there is no config).
    registry : Registry, optional
        Use this registry instead of discovering plugins.
    config : path-like, optional
        Remember the folder, settings and file order in this file: read at start (its settings
        replace `k` and `plugin`; its folder is opened when `path` is None), written at exit.
    graphics : Graphics, optional
        How the panes draw pictures (`kmc_tui.tui.graphics.detect` asks the terminal before
        the app starts); half-blocks by default.
    """

    TITLE = "kmc-tui"
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live elsewhere
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW, "-wide")]

    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
        Binding("ctrl+p", "command_palette", "Command palette", show=False),
    ]

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        *,
        plugin_dirs=(),
        k: int = 16,
        plugin: str = "kmeans",
        registry: Registry | None = None,
        config: str | os.PathLike | None = None,
        graphics: Graphics | None = None,
    ):
        super().__init__()
        self.graphics = graphics if graphics is not None else Graphics()
        self.registry = registry if registry is not None else Registry(plugin_dirs)
        self.config_path = Path(config) if config is not None else None
        self._config_warning: str | None = None
        self.config_error: str | None = None
        if self.config_path is not None:
            remembered, self._config_warning = load_config(self.config_path)
        else:
            remembered = Config(k=k, plugin=plugin)
        self.config = remembered
        self.session = Session(
            self.registry.names(),
            k=remembered.k,
            plugin=remembered.plugin,
            dither=remembered.dither,
            format=remembered.format,
            params=remembered.params,
        )
        if path is None and remembered.folder and Path(remembered.folder).is_dir():
            path = remembered.folder
        target = Path(path if path is not None else Path.cwd()).absolute()
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

    #: Signals that end the app as ``q`` does, so the terminal is given back as it was found.
    STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)

    def on_mount(self) -> None:
        self.stopped_by: str | None = None
        if self._config_warning:
            self.notify(self._config_warning, title="config", severity="warning", timeout=8)
        if self.is_headless:
            return  # under a test's pilot: the signals stay the test runner's
        loop = asyncio.get_running_loop()
        for signum in self.STOP_SIGNALS:
            loop.add_signal_handler(signum, self._stop, signum)

    def on_unmount(self) -> None:
        self._remember()
        if not self.is_headless:
            loop = asyncio.get_running_loop()
            for signum in self.STOP_SIGNALS:
                loop.remove_signal_handler(signum)

    #: Seconds a signalled exit may take before the process leaves without Textual's shutdown.
    SHUTDOWN_GRACE = 5.0

    def _stop(self, signum: int) -> None:
        self.stopped_by = signal.Signals(signum).name
        if signum == signal.SIGHUP:
            # The terminal is gone: there is nothing to give back, and Textual's output thread
            # may have died writing to it, so its shutdown would wait on that thread forever.
            self._remember()
            os._exit(128 + signum)
        self.exit(return_code=128 + signum)
        # A terminal that stopped reading must not keep the process alive either.
        timer = threading.Timer(self.SHUTDOWN_GRACE, os._exit, (128 + signum,))
        timer.daemon = True
        timer.start()

    def notify(self, message: str, *, title: str = "", markup: bool = False, **kwargs) -> None:
        """Textual's notify with the text taken literally and made printable: messages name
        files, and a name may hold ``[``, a newline, an escape sequence or non-UTF-8 bytes."""
        del markup  # plain text always (a widget's notify passes markup=True)
        super().notify(shown(message), title=shown(title), markup=False, **kwargs)

    def get_default_screen(self) -> Screen:
        self._main = MainScreen(
            self.session,
            self.registry,
            folder=self._folder,
            open_on_start=self._open_on_start,
            start_error=self._start_error,
            sort=self.config.sort,
        )
        return self._main

    def _remember(self) -> None:
        """Write the folder and the settings to the config file (when there is one)."""
        if self.config_path is None:
            return
        main = self._main
        settings = self.session.settings
        folder = main.folder  # the last folder listed
        self.config = Config(
            folder=str(folder) if folder is not None else self.config.folder,
            k=settings.k,
            plugin=settings.plugin,
            dither=settings.dither,
            format=settings.format,
            params=self.session.chosen_params(),
            sort=main.file_order,
        )
        #: Why the config could not be written, for the command line to say after the exit.
        self.config_error = save_config(self.config, self.config_path)

    def _display(self, screen: Screen, renderable) -> None:
        """Write the screen's update, then the pictures it went over (real-pixel panes).

        Images are not cells Textual knows about: a Sixel or iTerm2 image is erased by the
        blank cells under it whenever Textual rewrites them, so it is written again right
        after, and only then.
        """
        super()._display(screen, renderable)
        if not self.graphics.pixels or renderable is None or self._batch_count:
            return
        from .widgets.preview import HalfBlockView, written_spans

        spans = written_spans(renderable)
        for pane in screen.query(HalfBlockView):
            pane.after_screen_update(spans)

    def exit(self, *args, **kwargs) -> None:
        """Take images off the terminal while the screen is still the app's, then exit."""
        from .widgets.preview import HalfBlockView

        for screen in self.screen_stack:
            for pane in screen.query(HalfBlockView):
                pane.clear_pixels()
        super().exit(*args, **kwargs)

    @property
    def main(self) -> MainScreen:
        """The main screen (under any dialog open over it)."""
        return self.screen_stack[0]  # type: ignore[return-value]

    def key_bindings(self, screen: Screen | None = None) -> Iterator[tuple[DOMNode, Binding]]:
        """Each binding declared by `screen` (the main one by default) and the app, once."""
        seen = set()
        for node in (screen or self.main, self):
            for binding in type(node).BINDINGS:
                if isinstance(binding, Binding) and binding.action not in seen:
                    seen.add(binding.action)
                    yield node, binding

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(
                HelpScreen([b for _, b in self.key_bindings()], graphics=self.graphics_line())
            )

    def graphics_line(self) -> str:
        """Which way pictures are drawn, and why (for the help screen)."""
        graphics = self.graphics
        names = {
            "kitty": "Kitty graphics (real pixels)",
            "sixel": f"Sixel (real pixels, {graphics.color_registers} colors per image)",
            "iterm": "iTerm2 inline images (real pixels)",
            "halfblock": "half-blocks (two pixels per cell)",
        }
        line = f"Pictures: {names[graphics.protocol]}, because {graphics.reason}."
        if graphics.pixels:
            width, height = graphics.cell_size
            line += f" Cell: {width}×{height} pixels."
        elif not self.is_headless and str(self.console.color_system) in (
            "256",
            "standard",
            "windows",
        ):
            colors = 256 if str(self.console.color_system) == "256" else 16
            line += f" The terminal shows {colors} colors: previews approximate."
        return line + " --graphics or KMC_TUI_GRAPHICS chooses."

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's commands, then one per key binding (the bindings are the one list)."""
        from .screens.help import command_title, key_label

        titles = set()
        for command in super().get_system_commands(screen):
            if command.title == "Keys":
                continue  # Textual's key panel: ours (the help screen) lists every key
            titles.add(command.title)
            yield command
        for node, binding in self.key_bindings(screen):
            title = command_title(binding)
            if title in titles or binding.action == "command_palette":
                continue
            titles.add(title)
            yield SystemCommand(
                title, f"key: {key_label(binding)}", partial(self.run_action, binding.action, node)
            )
