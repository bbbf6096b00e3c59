"""The terminal UI driven through Textual's pilot: every key path, on real files on disk."""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import pytest
from PIL import Image as PILImage
from textual import events
from tui_support import (
    DATA,
    HOPPER,
    disk_full,
    pane_colors,
    press,
    record_notifications,
    settle,
    sync,
    wait_error,
    wait_result,
    wait_until,
    widget_text,
)

from kmc_tui.tui.app import KmcApp
from kmc_tui.tui.screens.help import HelpScreen, command_title, key_label
from kmc_tui.tui.screens.plugins import PluginsScreen
from kmc_tui.tui.widgets.file_browser import FileBrowser
from kmc_tui.tui.widgets.preview import HalfBlockView


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder with two real images, a corrupt one and a subfolder."""
    shutil.copy(HOPPER, tmp_path / "hopper.png")
    shutil.copy(DATA / "pngsuite" / "basn2c08.png", tmp_path / "basn2c08.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 20)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    shutil.copy(HOPPER, tmp_path / ".hidden.png")
    return tmp_path


# -- opening ----------------------------------------------------------------------------------


@sync
async def test_image_path_opens_its_folder_with_it_selected_and_shows_result(folder):
    app = KmcApp(folder / "hopper.png", k=8)
    async with app.run_test(size=(120, 40)) as pilot:
        result = await wait_result(pilot, app)
        browser = app.query_one(FileBrowser)
        assert browser.folder == folder
        assert browser.current.path == folder / "hopper.png"
        assert result.quantized.colors <= 8
        original = app.query_one("#original", HalfBlockView)
        assert original.picture is not None and "hopper.png" in original.caption
        # The result pane draws exactly the palette's colors (nearest-neighbour downscale).
        palette = {tuple(int(v) for v in c) for c in result.quantized.palette}
        drawn = pane_colors(app.query_one("#result", HalfBlockView))
        assert drawn and drawn <= palette
        stats_text = widget_text(app.query_one("#stats"))
        assert "saved" in stats_text and "ΔE00" in stats_text and "PSNR" in stats_text
        assert f"{result.stats.output_bytes / 1000:.1f} KB" in stats_text


@sync
async def test_browser_lists_folders_and_images_only_with_sizes_and_enter_opens(folder):
    app = KmcApp(folder, k=4)
    async with app.run_test(size=(100, 30)) as pilot:
        browser = app.query_one(FileBrowser)
        await wait_until(pilot, lambda: not browser.loading_folder, 10, "listing")
        names = [e.name for e in browser.entries]
        assert names == ["..", "sub", "basn2c08.png", "broken.png", "hopper.png"]
        sizes = {e.name: e.size for e in browser.entries if e.kind == "image"}
        assert sizes["hopper.png"] == HOPPER.stat().st_size
        # The size column, short enough for a narrow list: 30605 and 145 bytes.
        lines = widget_text(browser).splitlines()
        assert any("hopper.png" in line and line.rstrip().endswith(" 30.6K") for line in lines)
        assert any("basn2c08.png" in line and line.rstrip().endswith(" 145B") for line in lines)
        # Cursor starts on the first entry after "..": go down to basn2c08.png and open it.
        await press(pilot, "down", "enter")
        result = await wait_result(pilot, app)
        assert result.image.path == folder / "basn2c08.png"
        assert result.quantized.colors <= 4
        # Enter on a folder lists it; backspace returns with the cursor on it.
        await press(pilot, "up", "enter")
        await wait_until(
            pilot,
            lambda: browser.folder == folder / "sub" and not browser.loading_folder,
            10,
            "sub listing",
        )
        assert [e.name for e in browser.entries] == [".."]
        await press(pilot, "backspace")
        await wait_until(
            pilot,
            lambda: browser.folder == folder and not browser.loading_folder,
            10,
            "parent listing",
        )
        assert browser.current.name == "sub"


@sync
async def test_corrupt_file_is_a_notification_and_the_app_goes_on(folder):
    app = KmcApp(folder / "broken.png")
    seen = record_notifications(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: any(s == "error" for s, _ in seen), 20, "error")
        assert any("broken.png" in m for s, m in seen if s == "error")
        assert app.session.image is None
        # Still alive: open a good file from the browser.
        browser = app.query_one(FileBrowser)
        browser.select_path(folder / "hopper.png")
        await press(pilot, "enter")
        result = await wait_result(pilot, app)
        assert result.image.path == folder / "hopper.png"


# -- k from the keyboard ----------------------------------------------------------------------


@sync
async def test_k_keys_step_double_and_halve(folder):
    app = KmcApp(folder / "hopper.png", k=16)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_result(pilot, app)
        await press(pilot, "plus")
        assert app.session.settings.k == 17
        await press(pilot, "minus", "minus")
        assert app.session.settings.k == 15
        await press(pilot, "right_square_bracket")
        assert app.session.settings.k == 30
        await press(pilot, "left_square_bracket", "left_square_bracket")
        assert app.session.settings.k == 7
        result = await wait_result(pilot, app)
        assert result.quantized.k == 7 and result.quantized.colors <= 7
        assert app.query_one("#k").value == "7"


@sync
async def test_k_stays_between_1_and_256(folder):
    app = KmcApp(folder, k=3)  # no image open: only the setting moves
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "left_square_bracket", "left_square_bracket", "minus")
        assert app.session.settings.k == 1
        for _ in range(9):
            await press(pilot, "right_square_bracket")
        assert app.session.settings.k == 256
        await press(pilot, "plus")
        assert app.session.settings.k == 256
        assert app.query_one("#k").value == "256"


@sync
async def test_typing_k_applies_it_and_refuses_bad_values(folder):
    app = KmcApp(folder / "hopper.png", k=16)
    seen = record_notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_result(pilot, app)
        await press(pilot, "k")
        assert app.focused.id == "k"
        await press(pilot, "backspace", "backspace", "5", "enter")
        result = await wait_result(pilot, app)
        assert app.session.settings.k == 5 and result.quantized.colors <= 5
        assert app.focused.id == "files"  # enter leaves the field
        await press(pilot, "k", "backspace", "0", "enter")
        await settle(pilot)
        assert app.session.settings.k == 5
        assert any(s == "error" and "k must be" in m for s, m in seen)
        assert app.query_one("#k").value == "5"


# -- plugins and parameters -------------------------------------------------------------------


@sync
async def test_switch_plugin_and_parameter_from_the_keyboard(folder):
    app = KmcApp(folder / "hopper.png", k=8)
    seen = record_notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_result(pilot, app)
        names = app.registry.names()
        assert len(names) >= 2, "the built-in plugins are installed"
        # Parameter: color space lab -> rgb through its Select, by keys.
        app.query_one("#param-color_space").focus()
        await press(pilot, "enter", "down", "enter")
        assert app.session.settings.param_dict["color_space"] == "rgb"
        result = await wait_result(pilot, app)
        assert result.quantized.params["color_space"] == "rgb"
        # Plugin: p goes to the next one; its own parameters replace the controls.
        await press(pilot, "escape")
        await press(pilot, "p")
        second = names[(names.index("kmeans") + 1) % len(names)]
        assert app.session.settings.plugin == second
        result = await wait_result(pilot, app)
        assert result.quantized.plugin == second and result.quantized.colors <= 8
        specs = app.registry.get(second).load().params
        shown = {w.id for row in app.query_one("#params").children for w in row.children if w.id}
        assert shown == {f"param-{s.name}" for s in specs}
        # Dithering toggle and output format.
        await press(pilot, "d")
        result = await wait_result(pilot, app)
        assert result.quantized.dithered
        await press(pilot, "f")
        result = await wait_result(pilot, app)
        assert result.format == "gif"
        # Keys faster than the fields follow: two p's go two plugins on, and the plugin field
        # showing the first one does not pull the setting back to it.
        at = names.index(app.session.settings.plugin)
        seen.clear()
        app.post_message(events.Key("p", "p"))
        app.post_message(events.Key("p", "p"))
        await settle(pilot)
        await pilot.pause(0.2)
        await settle(pilot)
        assert app.session.settings.plugin == names[(at + 2) % len(names)]
        chosen = [m for _, m in seen if m.startswith("plugin: ")]
        assert chosen == [f"plugin: {names[(at + n) % len(names)]}" for n in (1, 2)]
        assert app.query_one("#plugin").value == app.session.settings.plugin
        # Round the plugins back to k-means: its parameter keeps the value chosen before.
        for _ in range(len(names)):
            if app.session.settings.plugin == "kmeans":
                break
            await press(pilot, "p")
        result = await wait_result(pilot, app)
        assert result.quantized.params["color_space"] == "rgb"
        assert app.query_one("#param-color_space").value == "rgb"


@sync
async def test_plugins_screen_lists_every_plugin_with_errors_and_picks_one(
    folder, tmp_path_factory
):
    plugins = tmp_path_factory.mktemp("plugins")
    (plugins / "broken_syntax.py").write_text("def oops(:\n")
    (plugins / "tui_grays.py").write_text(
        "import numpy as np\n"
        "from kmc_tui.registry import ParamSpec, Quantizer, QuantizerOutput\n"
        "class Uniform(Quantizer):\n"
        "    name = 'tui_grays'\n"
        "    description = 'Evenly spaced grays'\n"
        "    params = (ParamSpec('levels_only', bool, False, 'ignored'),)\n"
        "    def quantize(self, hist, k, *, seed=0, levels_only=False):\n"
        "        v = np.linspace(0, 255, k).round().astype(np.uint8)\n"
        "        return QuantizerOutput(np.repeat(v[:, None], hist.channels, 1))\n"
    )
    app = KmcApp(folder / "hopper.png", k=4, plugin_dirs=[plugins])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_result(pilot, app)
        await press(pilot, "f2")
        assert isinstance(app.screen, PluginsScreen)
        screen = app.screen
        await wait_until(
            pilot, lambda: all(r.loaded or r.error for r in app.registry), 30, "plugins loaded"
        )
        await settle(pilot)
        from textual.widgets import OptionList

        options = screen.query_one(OptionList)
        text = "\n".join(
            str(options.get_option_at_index(i).prompt) for i in range(options.option_count)
        )
        for name in app.registry.names():
            assert name in text
        assert "broken_syntax" in text and "SyntaxError" in text
        assert "levels_only" in text and str(plugins / "tui_grays.py") in text
        # Pick "tui_grays" with the keyboard.
        index = app.registry.names().index("tui_grays")
        options.highlighted = index
        await press(pilot, "enter")
        assert not isinstance(app.screen, PluginsScreen)
        assert app.session.settings.plugin == "tui_grays"
        result = await wait_result(pilot, app)
        assert result.quantized.plugin == "tui_grays"
        assert app.query_one("#param-levels_only") is not None


@sync
async def test_a_hanging_plugin_can_be_cancelled_and_the_app_stays_responsive(
    folder, tmp_path_factory
):
    plugins = tmp_path_factory.mktemp("hang")
    release = plugins / "release"
    (plugins / "hang.py").write_text(
        "import time\nfrom pathlib import Path\n"
        "from kmc_tui.registry import Quantizer\n"
        f"RELEASE = Path({str(release)!r})\n"
        "class Hang(Quantizer):\n"
        "    name = 'hang'\n"
        "    description = 'Never returns until released'\n"
        "    def quantize(self, hist, k, *, seed=0):\n"
        "        deadline = time.monotonic() + 120\n"
        "        while not RELEASE.exists() and time.monotonic() < deadline:\n"
        "            time.sleep(0.02)\n"
        "        raise RuntimeError('released')\n"
    )
    app = KmcApp(folder / "hopper.png", k=8, plugin_dirs=[plugins])
    seen = record_notifications(app)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_result(pilot, app)
            app.query_one("#plugin").value = "hang"  # what choosing it in the Select does
            await wait_until(
                pilot,
                lambda: app.session.computing and app.session.settings.plugin == "hang",
                10,
                "hanging job",
            )
            await pilot.pause(0.3)
            # Responsive: keys are handled while the plugin hangs.
            started = time.monotonic()
            await press(pilot, "plus")
            assert app.session.settings.k == 9
            assert time.monotonic() - started < 10
            # One computation at a time: k=9 waits for the hung k=8, and the pane says so.
            pane = app.screen.query_one("#result", HalfBlockView)
            await wait_until(pilot, lambda: "waiting for k=8" in pane.caption, 10, "waiting")
            assert any("'hang' (k=8) has not stopped yet; escape leaves it" in m for _, m in seen)
            # Escape in a field only leaves the field; escape again cancels the job.
            app.query_one("#k").focus()
            await press(pilot, "escape")
            assert app.session.computing and app.focused.id == "files"
            await press(pilot, "escape")
            assert not app.session.computing
            assert any("cancelled" in m for _, m in seen)
            # Its result, whenever it comes, is ignored: release it and nothing changes.
            release.write_text("go")
            await pilot.pause(0.5)
            assert not any(s == "error" for s, _ in seen)
            # Back to a working plugin: results come again.
            app.query_one("#plugin").value = "kmeans"
            result = await wait_result(pilot, app)
            assert result.quantized.plugin == "kmeans" and result.quantized.k == 9
    finally:
        release.write_text("go")


# -- saving -----------------------------------------------------------------------------------


@sync
async def test_save_writes_a_palette_png_next_to_the_input_and_never_overwrites(folder):
    before = sha256(folder / "hopper.png")
    app = KmcApp(folder / "hopper.png", k=6)
    seen = record_notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_result(pilot, app)
        await press(pilot, "s")
        target = folder / "hopper-k6.png"
        await wait_until(pilot, target.exists, 20, "saved file")
        await wait_until(pilot, lambda: any(str(target) in m for _, m in seen), 10, "notice")
        await press(pilot, "s")
        second = folder / "hopper-k6-2.png"
        await wait_until(pilot, second.exists, 20, "second file")
    for path in (target, second):
        with PILImage.open(path) as saved:
            assert saved.format == "PNG" and saved.mode == "P"
            assert len(saved.convert("RGB").getcolors(1 << 16)) <= 6
    assert target.read_bytes() == second.read_bytes()
    assert sha256(folder / "hopper.png") == before
    assert not list(folder.glob(".*.tmp"))


@sync
async def test_save_before_the_result_is_ready_saves_when_it_is(folder, monkeypatch):
    import kmc_tui.read

    slow_read = kmc_tui.read.read_image

    def read_image(path):  # a slow disk: the key comes while the image is still being read
        time.sleep(0.5)
        return slow_read(path)

    monkeypatch.setattr(kmc_tui.read, "read_image", read_image)
    app = KmcApp(folder / "hopper.png", k=3)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.session.image is None
        await press(pilot, "s")  # pressed at once: neither the image nor the result is there yet
        target = folder / "hopper-k3.png"
        await wait_until(pilot, target.exists, 60, "saved file")
        with PILImage.open(target) as saved:
            assert len(saved.convert("RGB").getcolors(1 << 16)) <= 3


@sync
async def test_a_save_asked_for_between_quick_keys_saves_the_result_after_the_last(
    folder, monkeypatch
):
    # Keys in quick succession restart the job once they pause; a save asked for between them
    # waits for the result after the last key (it used to be forgotten at the next quick key).
    import kmc_tui.tui.screens.main as main_screen

    monkeypatch.setattr(main_screen, "RAPID_SECONDS", 60.0)  # every key here comes quickly
    monkeypatch.setattr(main_screen, "SETTLE_SECONDS", 1.5)  # no job starts between the keys
    app = KmcApp(folder / "hopper.png", k=4)
    seen = record_notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_result(pilot, app)
        await press(pilot, "plus", "s")
        assert any("saving when the full result is ready" in m for _, m in seen)
        await press(pilot, "plus")
        target = folder / "hopper-k6.png"
        await wait_until(pilot, target.exists, 30, "saved file")
        with PILImage.open(target) as saved:
            assert len(saved.convert("RGB").getcolors(1 << 16)) <= 6
    assert not (folder / "hopper-k5.png").exists()


@sync
async def test_save_failure_is_a_notification(folder, monkeypatch):
    app = KmcApp(folder / "hopper.png", k=4)
    seen = record_notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_result(pilot, app)
        disk_full(monkeypatch)
        await press(pilot, "s")
        error = await wait_error(pilot, seen)
        assert "No space left" in error
        assert not (folder / "hopper-k4.png").exists()
        assert app.is_running


# -- screens, layout, zoom ----------------------------------------------------------------------


@sync
async def test_help_lists_every_key_and_command_palette_offers_actions(folder):
    app = KmcApp(folder)
    async with app.run_test(size=(120, 50)) as pilot:
        await press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        await settle(pilot)
        text = "\n".join(widget_text(static) for static in app.screen.query("Static"))
        bindings = [binding for _, binding in app.key_bindings()]
        assert {b.action for b in bindings} >= {
            "save",
            "step_k(1)",
            "plugins",
            "app.quit",
            "app.help",
        }
        for binding in bindings:
            assert command_title(binding) in text and key_label(binding) in text
        await press(pilot, "escape")
        assert not isinstance(app.screen, HelpScreen)
        await press(pilot, "f1")
        assert isinstance(app.screen, HelpScreen)
        await press(pilot, "escape")
        # The palette offers every binding (one list: the bindings), each title once.
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert len(titles) == len(set(titles))
        for binding in bindings:
            assert command_title(binding) in titles or binding.action in (
                "app.quit",
                "command_palette",
            )
        for title in (
            "Save result",
            "Double k",
            "Next quantizer (cycle)",
            "Dithering: off, 0.5, 1",
        ):
            assert title in titles
        await press(pilot, "ctrl+p")
        from textual.command import CommandPalette

        assert isinstance(app.screen, CommandPalette)
        await press(pilot, *"halve k")
        await pilot.pause(0.3)
        await press(pilot, "enter")
        await settle(pilot)
        assert app.session.settings.k == 8


@sync
async def test_resize_to_80x24_shows_one_pane_and_v_toggles(folder):
    app = KmcApp(folder / "hopper.png", k=4)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_result(pilot, app)
        original = app.query_one("#original", HalfBlockView)
        result = app.query_one("#result", HalfBlockView)
        assert original.display and result.display
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert app.screen.has_class("-narrow")
        assert result.display and not original.display
        assert result.size.width > 20 and result.size.height > 5
        await press(pilot, "v")
        await settle(pilot)
        assert original.display and not result.display
        await press(pilot, "v")
        await settle(pilot)
        assert original.display and result.display
        # Both panes fit in the narrow screen: one above the other.
        assert original.region.bottom <= result.region.y
        assert original.region.width == result.region.width
        assert pane_colors(result)


@sync
async def test_zoom_to_one_to_one_and_pan(folder):
    app = KmcApp(folder / "hopper.png", k=4)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_result(pilot, app)
        result = app.query_one("#result", HalfBlockView)
        await press(pilot, "1")
        assert app.main.viewport.scale == 1.0
        assert result.title == "Result [1:1]"
        assert result.viewport == app.main.viewport == app.query_one("#original").viewport
        center = app.main.viewport.center_x
        await press(pilot, "shift+right")
        assert app.main.viewport.center_x > center
        await press(pilot, "z")
        assert app.main.viewport.scale == 0.5
        await press(pilot, "x", "x")
        assert app.main.viewport.scale == 2.0 or app.main.viewport.scale is None
        await press(pilot, "0")
        assert app.main.viewport.scale is None and result.title == "Result"
        # Still only palette colors, at any zoom.
        palette = {tuple(int(v) for v in c) for c in app.session.result.quantized.palette}
        await press(pilot, "1")
        await settle(pilot)
        assert pane_colors(result) <= palette


@sync
async def test_q_quits(folder):
    app = KmcApp(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "q")
        await settle(pilot)
    assert app.return_code == 0 or app.return_code is None
    assert not app.is_running


@sync
async def test_mouse_opens_a_file_and_zooms_where_clicked(folder):
    app = KmcApp(folder, k=4)
    async with app.run_test(size=(120, 40)) as pilot:
        browser = app.query_one(FileBrowser)
        await wait_until(pilot, lambda: not browser.loading_folder, 10, "listing")
        index = [e.name for e in browser.entries].index("hopper.png")
        await pilot.click("#files", offset=(4, 1 + index))  # row 0 is the border
        result = await wait_result(pilot, app)
        assert result.image.path == folder / "hopper.png"
        pane = app.query_one("#result", HalfBlockView)
        await pilot.click("#result", offset=(pane.size.width // 2, pane.size.height // 2))
        assert app.main.viewport.scale == 1.0
        assert (
            abs(app.main.viewport.center_x - 64) < 16 and abs(app.main.viewport.center_y - 64) < 16
        )


def plugin_list_text(screen: PluginsScreen) -> str:
    from textual.widgets import OptionList

    options = screen.query_one(OptionList)
    return "\n".join(
        str(options.get_option_at_index(i).prompt) for i in range(options.option_count)
    )


@sync
async def test_failing_plugins_are_shown_where_they_can_be_found_again(folder, tmp_path_factory):
    plugins = tmp_path_factory.mktemp("failing")
    (plugins / "tui_raises.py").write_text(
        "from kmc_tui.registry import Quantizer\n"
        "def check_the_palette(k):\n"
        "    raise ValueError('deliberately broken')\n"
        "class Raises(Quantizer):\n"
        "    name = 'tui_raises'\n"
        "    description = 'Always fails'\n"
        "    def quantize(self, hist, k, *, seed=0):\n"
        "        check_the_palette(k)\n"
    )
    (plugins / "tui_noimport.py").write_text("raise ImportError('missing dependency xyz')\n")
    app = KmcApp(folder / "hopper.png", k=4, plugin_dirs=[plugins])
    seen = record_notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_result(pilot, app)
        pane = app.screen.query_one("#result", HalfBlockView)
        app.query_one("#plugin").focus()
        app.query_one("#plugin").value = "tui_raises"  # what choosing it in the Select does
        await wait_until(
            pilot,
            lambda: any("deliberately broken" in m for s, m in seen if s == "error"),
            30,
            "plugin error",
        )
        await settle(pilot)
        assert app.session.result is None
        # Not only a toast: the result pane says what failed, and no longer "computing…".
        assert "deliberately broken" in " ".join(widget_text(pane).split())
        assert pane.caption == "k=4 tui_raises · failed · hopper.png"
        assert "quantizing failed" in widget_text(app.screen.query_one("#stats"))
        # The plugins screen keeps the error and its traceback, down to the plugin's function.
        await press(pilot, "f2")
        assert isinstance(app.screen, PluginsScreen)
        text = plugin_list_text(app.screen)
        assert "tui_raises  failed" in text and "last error: plugin 'tui_raises'" in text
        assert "in check_the_palette" in text and "ValueError: deliberately broken" in text
        await press(pilot, "escape")
        app.query_one("#plugin").value = "tui_noimport"
        await wait_until(
            pilot,
            lambda: any("missing dependency xyz" in m for s, m in seen if s == "error"),
            30,
            "import error",
        )
        app.query_one("#plugin").value = "kmeans"
        result = await wait_result(pilot, app)
        assert result.quantized.plugin == "kmeans" and app.is_running
        assert "failed" not in pane.caption and "palette" in pane.caption
        # Once working again the errors are still there to read.
        await press(pilot, "f2")
        text = plugin_list_text(app.screen)
        assert "deliberately broken" in text and "missing dependency xyz" in text


@sync
async def test_a_plugin_that_hangs_at_import_is_reported_and_others_still_work(
    folder, tmp_path_factory, monkeypatch
):
    import kmc_tui.tui.screens.main

    monkeypatch.setattr(kmc_tui.tui.screens.main, "PLUGIN_LOAD_TIMEOUT", 1.0)
    plugins = tmp_path_factory.mktemp("hang_import")
    release = plugins / "release"
    (plugins / "tui_slow_import.py").write_text(
        "import time\nfrom pathlib import Path\n"
        f"deadline = time.monotonic() + 60\n"
        f"while not Path({str(release)!r}).exists() and time.monotonic() < deadline:\n"
        "    time.sleep(0.02)\n"
        "raise ImportError('released')\n"
    )
    app = KmcApp(folder / "hopper.png", k=4, plugin_dirs=[plugins])
    seen = record_notifications(app)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_result(pilot, app)
            app.query_one("#plugin").value = "tui_slow_import"
            await wait_until(
                pilot,
                lambda: any("timed out after 1 s" in m for s, m in seen if s == "error"),
                20,
                "import timeout",
            )
            await press(pilot, "p")  # on to the next plugin, which works
            result = await wait_result(pilot, app)
            assert result.quantized.plugin != "tui_slow_import"
    finally:
        release.write_text("go")
