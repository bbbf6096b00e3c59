"""The TUI as a daily tool (issue 18): focus, layout, the file list following the disk, the
config, compare mode, sorting and filtering, running totals; each through the real app."""

from __future__ import annotations

import inspect
import json
import os
import shutil
from pathlib import Path

import pytest
from textual import events
from tui_support import (
    DATA,
    HOPPER,
    press,
    record_notifications,
    settle,
    sync,
    wait_result,
    wait_until,
    widget_text,
)

from kmc_tui.registry import Registry
from kmc_tui.tui.app import KmcApp
from kmc_tui.tui.config import Config, load_config
from kmc_tui.tui.screens.help import HelpScreen
from kmc_tui.tui.screens.plugins import PluginsScreen
from kmc_tui.tui.widgets.file_browser import FileBrowser
from kmc_tui.tui.widgets.preview import HalfBlockView

#: A quick plugin with an int parameter that has a maximum (for the refused-value test).
BOUNDED_PLUGIN = """
import numpy as np
from kmc_tui.registry import ParamSpec, Quantizer, QuantizerOutput

class Bounded(Quantizer):
    name = "bounded"
    description = "The k most used colors"
    params = (ParamSpec("bits", int, 4, "unused", min=1, max=8),)

    def quantize(self, hist, k, *, seed=0, bits=4):
        keep = np.argsort(-hist.counts, kind="stable")[:k]
        return QuantizerOutput(hist.colors[keep])
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(HOPPER, images / "hopper.png")
    shutil.copy(DATA / "pngsuite" / "basn2c08.png", images / "basn2c08.png")
    (images / "sub").mkdir()
    return images


@pytest.fixture
def bounded(tmp_path: Path) -> Registry:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "bounded.py").write_text(BOUNDED_PLUGIN)
    return Registry([plugins], use_entry_points=False, use_env=False)


def footer_keys(app) -> set[str]:
    return {key.key for key in app.screen.query("FooterKey")}


def names(browser: FileBrowser) -> list[str]:
    return [entry.name for entry in browser.entries]


# -- focus ------------------------------------------------------------------------------------


@sync
async def test_enter_and_escape_leave_the_k_field_and_keys_work_again(folder):
    app = KmcApp(folder / "hopper.png", k=4)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_result(pilot, app)
        await press(pilot, "k")
        assert app.focused.id == "k"
        # In the field only keys that work there are offered.
        assert "q" not in footer_keys(app) and "plus" not in footer_keys(app)
        await press(pilot, "backspace", "6", "enter")
        assert app.focused.id == "files"
        assert app.session.settings.k == 6
        assert {"q", "plus", "s"} <= footer_keys(app)
        await press(pilot, "plus")
        assert app.session.settings.k == 7
        await press(pilot, "k", "escape")
        assert app.focused.id == "files"
        await press(pilot, "minus")
        assert app.session.settings.k == 6


@sync
async def test_keys_typed_right_after_k_or_slash_land_in_the_field(folder):
    """A terminal delivers "k32" or "/hop" typed fast (or pasted) as one burst: none of the
    keys after the first may be taken by the list or the bindings."""
    app = KmcApp(folder, k=4)
    async with app.run_test(size=(120, 36)) as pilot:
        browser = app.query_one(FileBrowser)
        await wait_until(pilot, lambda: not browser.loading_folder, 10, "listing")
        for key, char in [("k", "k"), ("3", "3"), ("2", "2"), ("enter", "\r")]:
            app.post_message(events.Key(key, char))  # no pause between them
        await wait_until(pilot, lambda: app.session.settings.k == 32, what="k=32")
        assert app.focused is browser
        for key, char in [("slash", "/"), ("h", "h"), ("o", "o"), ("enter", "\r")]:
            app.post_message(events.Key(key, char))
        await wait_until(pilot, lambda: browser.pattern == "ho", what="the filter")
        assert names(browser) == ["..", "hopper.png"] and browser.file_order == "name"
        assert not app.screen.comparing


@sync
async def test_every_key_works_from_every_panel_but_a_text_field(folder):
    app = KmcApp(folder / "hopper.png", k=4)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_result(pilot, app)
        for widget in list(app.screen.focus_chain):
            widget.focus()
            await settle(pilot)
            k = app.session.settings.k
            await press(pilot, "plus")
            typed = widget.__class__.__name__ == "Input"
            assert app.session.settings.k == (k if typed else k + 1), widget
            assert ("plus" in footer_keys(app)) is not typed, widget
            await press(pilot, "escape")
            assert app.focused is app.query_one("#files"), widget
            assert app.is_running


@sync
async def test_the_footer_is_rebuilt_only_when_its_keys_change(folder):
    """A focus change publishes the screen's bindings several times: the footer builds its
    keys again (a widget per key, each styled) only when what it shows changes."""
    app = KmcApp(folder / "hopper.png", k=4)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_result(pilot, app)
        shown = list(app.screen.query("FooterKey"))
        app.query_one("#plugin").focus()  # the same keys are offered there
        await settle(pilot)
        assert list(app.screen.query("FooterKey")) == shown
        assert all(a is b for a, b in zip(app.screen.query("FooterKey"), shown, strict=True))
        await press(pilot, "k")  # a text field: fewer keys
        assert "plus" not in footer_keys(app)
        await press(pilot, "escape")
        assert "plus" in footer_keys(app)


@sync
async def test_a_refused_parameter_value_does_not_stay_red(folder, bounded):
    app = KmcApp(folder / "hopper.png", k=4, plugin="bounded", registry=bounded)
    seen = record_notifications(app)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_result(pilot, app)
        field = app.query_one("#param-bits")
        field.focus()
        await settle(pilot)
        await press(pilot, "9")
        assert field.has_class("-invalid")
        await press(pilot, "escape")
        await settle(pilot)
        assert app.focused.id == "files"
        assert any(s == "error" and "bits" in m for s, m in seen)
        assert field.value == "4" and app.session.settings.param_dict["bits"] == 4
        assert not field.has_class("-invalid")


# -- the file list ----------------------------------------------------------------------------


@sync
async def test_a_saved_file_is_listed_at_once(folder, monkeypatch):
    monkeypatch.setattr(FileBrowser, "poll_seconds", 3600.0)  # no help from the watcher
    app = KmcApp(folder / "hopper.png", k=4)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_result(pilot, app)
        browser = app.query_one(FileBrowser)
        await press(pilot, "s")
        await wait_until(pilot, lambda: "hopper-k4.png" in names(browser), 10, "saved file listed")
        assert (folder / "hopper-k4.png").exists()
        assert browser.current.name == "hopper.png"  # the cursor stayed


@sync
async def test_the_list_follows_files_created_renamed_and_removed(folder, monkeypatch):
    monkeypatch.setattr(FileBrowser, "poll_seconds", 0.05)
    app = KmcApp(folder, k=4)
    async with app.run_test(size=(120, 36)) as pilot:
        browser = app.query_one(FileBrowser)
        await wait_until(pilot, lambda: "hopper.png" in names(browser), 10, "listing")
        browser.select_path(folder / "hopper.png")
        shutil.copy(HOPPER, folder / "new.png")
        await wait_until(pilot, lambda: "new.png" in names(browser), 10, "new file")
        os.rename(folder / "new.png", folder / "renamed.png")
        await wait_until(
            pilot,
            lambda: "renamed.png" in names(browser) and "new.png" not in names(browser),
            10,
            "renamed file",
        )
        (folder / "basn2c08.png").unlink()
        await wait_until(pilot, lambda: "basn2c08.png" not in names(browser), 10, "removed")
        assert browser.current.name == "hopper.png"  # the cursor kept its file throughout


@sync
async def test_sort_by_name_size_date_and_filter_as_you_type(folder):
    os.utime(folder / "basn2c08.png", (1e9, 1e9))  # older
    shutil.copy(HOPPER, folder / "a-newest.png")
    app = KmcApp(folder, k=4)
    async with app.run_test(size=(120, 36)) as pilot:
        browser = app.query_one(FileBrowser)
        await wait_until(pilot, lambda: len(browser.entries) == 5, 10, "listing")
        assert names(browser) == ["..", "sub", "a-newest.png", "basn2c08.png", "hopper.png"]
        sizes = {e.name: e.size for e in browser.entries if e.kind == "image"}
        await press(pilot, "o")
        by_size = names(browser)[2:]
        assert [sizes[n] for n in by_size] == sorted(sizes.values(), reverse=True)
        assert "by size" in browser.border_subtitle
        await press(pilot, "o")
        assert names(browser)[-1] == "basn2c08.png"  # the oldest last
        await press(pilot, "o")
        assert names(browser)[2:] == ["a-newest.png", "basn2c08.png", "hopper.png"]
        # Filter: typing narrows the list at once; enter keeps it, escape clears it.
        await press(pilot, "slash")
        assert app.focused.id == "filter" and "q" not in footer_keys(app)
        await press(pilot, "h", "o", "p")
        assert names(browser) == ["..", "hopper.png"]
        await press(pilot, "enter")
        assert app.focused.id == "files" and names(browser) == ["..", "hopper.png"]
        assert browser.current.name == "hopper.png"
        await press(pilot, "slash", "escape")
        assert app.focused.id == "files" and len(browser.entries) == 5
        await press(pilot, "slash", "z", "z", "z", "enter")
        assert names(browser) == [".."]
        await press(pilot, "q")
    assert not app.is_running


@pytest.mark.parametrize("size", [(100, 30), (120, 36)])
@sync
async def test_the_folder_title_keeps_the_end_of_a_long_path(tmp_path, size):
    deep = tmp_path / "a-rather-long-folder-name" / "another-long-one" / "the-one-that-matters"
    deep.mkdir(parents=True)
    shutil.copy(HOPPER, deep / "hopper.png")
    app = KmcApp(deep, k=4)
    async with app.run_test(size=size) as pilot:
        browser = app.query_one(FileBrowser)
        await wait_until(pilot, lambda: not browser.loading_folder, 10, "listing")
        await settle(pilot)
        title = str(browser.border_title)
        assert title.startswith("…/") and title.endswith("/the-one-that-matters")  # whole names
        assert len(title) <= browser.size.width - 4


@sync
async def test_the_cursor_is_the_only_emphasised_line_at_start(folder):
    app = KmcApp(folder, k=4)
    async with app.run_test(size=(120, 36)) as pilot:
        browser = app.query_one(FileBrowser)
        await wait_until(pilot, lambda: not browser.loading_folder, 10, "listing")
        await settle(pilot)
        assert browser.cursor == 1 and browser.has_focus
        emphasised = []
        for y in range(len(browser.entries)):
            styles = [seg.style for seg in browser.render_line(y) if seg.text.strip()]
            if any(s is not None and (s.bold or s.reverse) for s in styles):
                emphasised.append(y)
        assert emphasised == [browser.cursor]


# -- what the panes say -----------------------------------------------------------------------


@sync
async def test_result_title_names_the_file_and_colors_are_unambiguous(folder):
    app = KmcApp(folder / "hopper.png", k=8)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_result(pilot, app)
        pane = app.screen.query_one("#result", HalfBlockView)
        assert pane.caption.endswith("· hopper.png")
        while app.session.settings.format != "jpeg":
            await press(pilot, "f")
        result = await wait_result(pilot, app)
        assert result.stats.colors > 8  # JPEG: many more colors in the file than the palette
        assert f"{result.quantized.colors}-color palette" in pane.caption
        stats = " ".join(widget_text(app.screen.query_one("#stats")).split())
        assert f"file colors {result.stats.colors}" in stats
        assert "colors" not in stats.replace("file colors", "")


@sync
async def test_plugin_errors_stay_findable_and_no_title_is_left_computing(folder, tmp_path):
    plugins = tmp_path / "failing"
    plugins.mkdir()
    (plugins / "raises.py").write_text(
        "from kmc_tui.registry import Quantizer\n"
        "class Raises(Quantizer):\n"
        "    name = 'raises'\n"
        "    description = 'Always fails'\n"
        "    def quantize(self, hist, k, *, seed=0):\n"
        "        raise RuntimeError('deliberately broken')\n"
    )
    registry = Registry([plugins], use_env=False)
    app = KmcApp(folder / "hopper.png", k=4, registry=registry)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_result(pilot, app)
        pane = app.screen.query_one("#result", HalfBlockView)
        while app.session.settings.plugin != "raises":
            await press(pilot, "p")
            await settle(pilot)
        await wait_until(pilot, lambda: "failed" in pane.caption, 30, "failure shown")
        await press(pilot, "plus", "plus")  # held keys: the settle timer, then a failing job
        await wait_until(pilot, lambda: "failed" in pane.caption, 30, "failure shown again")
        app.clear_notifications()
        assert "computing" not in pane.caption
        assert "deliberately broken" in " ".join(widget_text(pane).split())
        await press(pilot, "f2")
        assert isinstance(app.screen, PluginsScreen)
        text = " ".join(widget_text(app.screen.query_one("#plugin-list")).split())
        assert "raises failed" in text and "deliberately broken" in text
        assert "raises loaded" not in text


@sync
async def test_toasts_wait_under_the_help_screen(folder):
    app = KmcApp(folder / "hopper.png", k=4)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await wait_result(pilot, app)
        app.clear_notifications()
        await press(pilot, "s")
        await press(pilot, "question_mark")  # help opened while the file is being written
        assert isinstance(app.screen, HelpScreen)
        await wait_until(pilot, lambda: (folder / "hopper-k4.png").exists(), what="saved")
        # The "saved" notification is there (it follows the write) …
        await wait_until(pilot, lambda: len(app._notifications) > 0, what="the notification")
        await pilot.pause(0.3)
        assert not [t for t in app.screen.query("Toast") if t.region.area]  # … not over help
        await press(pilot, "escape")
        await wait_until(
            pilot,
            lambda: [t for t in app.screen.query("Toast") if t.region.area],
            what="the toast on the main screen",
        )


@sync
async def test_one_keys_command_and_the_palette_runs_what_it_highlights(folder):
    from textual.command import CommandList

    app = KmcApp(folder / "hopper.png", k=4)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_result(pilot, app)
        commands = list(app.get_system_commands(app.screen))
        titles = [c.title for c in commands]
        assert titles.count("Keys") == 1 and len(titles) == len(set(titles))
        # … and it is ours: the help screen with every key.
        keys = next(c for c in commands if c.title == "Keys")
        ran = keys.callback()
        if inspect.isawaitable(ran):  # ours run an action, which is a coroutine
            await ran
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        await press(pilot, "escape")
        await press(pilot, "ctrl+p")
        await pilot.pause(0.2)
        await press(pilot, "p", "l", "u", "g")
        commands = app.screen.query_one(CommandList)
        await wait_until(pilot, lambda: commands.option_count > 0, 10, "matches")
        await pilot.pause(0.4)  # every batch of matches is in
        await press(pilot, "down", "down")
        highlighted = commands.get_option_at_index(commands.highlighted).prompt
        chosen = str(highlighted).split("\n")[0]
        assert chosen.startswith("Plugins")
        await press(pilot, "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PluginsScreen), 10, "plugins")
        assert app.session.settings.plugin == "kmeans"


# -- layout -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 36), (200, 50)])
@sync
async def test_v_changes_the_view_at_every_press_and_the_panes_line_up(folder, size):
    app = KmcApp(folder / "hopper.png", k=4)
    async with app.run_test(size=size) as pilot:
        await wait_result(pilot, app)

        def shown():
            return tuple(p.id for p in app.screen.query(HalfBlockView) if p.display)

        def assert_lined_up():
            original, result = app.screen.query(HalfBlockView)
            assert original.size == result.size
            assert original.region.y == result.region.y or original.region.x == result.region.x
            # The picture is drawn over the same cells in both.
            for axis in (0, 1):
                drawn = (original._grid()[axis] >= 0).tolist()
                assert drawn == (result._grid()[axis] >= 0).tolist()

        if shown() == ("original", "result"):
            assert_lined_up()  # as opened, before any key
        views = [shown()]
        for _ in range(3):
            await press(pilot, "v")
            await pilot.pause(0.1)
            views.append(shown())
        assert all(a != b for a, b in zip(views, views[1:], strict=False)), views
        assert views[0] == views[3]
        while shown() != ("original", "result"):
            await press(pilot, "v")
            await pilot.pause(0.1)
        assert_lined_up()


@sync
async def test_compare_mode_shows_both_at_one_zoom_scrolling_together(folder):
    app = KmcApp(folder / "hopper.png", k=4)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_result(pilot, app)
        original = app.screen.query_one("#original", HalfBlockView)
        result = app.screen.query_one("#result", HalfBlockView)
        assert not original.display  # narrow: the result alone
        await press(pilot, "c")
        await pilot.pause(0.1)
        assert original.display and result.display
        assert app.screen.viewport.scale == 1.0
        assert "compare" in original.title and "compare" in result.title
        before = app.screen.viewport
        await pilot._post_mouse_events([events.MouseScrollDown], original, (10, 5))
        await settle(pilot)
        assert app.screen.viewport.center_y > before.center_y
        assert original.viewport == result.viewport == app.screen.viewport
        at = app.screen.viewport
        await pilot._post_mouse_events([events.MouseScrollUp], result, (10, 5))
        await settle(pilot)
        assert app.screen.viewport.center_y < at.center_y
        assert original.viewport == result.viewport
        await press(pilot, "c")
        await pilot.pause(0.1)
        assert app.screen.viewport.scale is None and not original.display


@sync
async def test_the_stats_panel_counts_bytes_saved_since_start(folder):
    app = KmcApp(folder / "hopper.png", k=4)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_result(pilot, app)
        stats = app.screen.query_one("#stats")
        assert "since start" not in widget_text(stats)
        await press(pilot, "s")
        await wait_until(pilot, lambda: "1 file written" in widget_text(stats), 10, "one save")
        await press(pilot, "plus")
        await wait_result(pilot, app)
        await press(pilot, "s")
        await wait_until(pilot, lambda: "2 files written" in widget_text(stats), 10, "two")
        written = (folder / "hopper-k4.png").stat().st_size
        written += (folder / "hopper-k5.png").stat().st_size
        saved = 2 * (folder / "hopper.png").stat().st_size - written
        from kmc_tui.formats import human_bytes

        assert f"saved {human_bytes(saved)}" in widget_text(stats)


# -- config -----------------------------------------------------------------------------------


@sync
async def test_folder_k_plugin_and_settings_are_remembered(folder, bounded, tmp_path):
    config = tmp_path / "config" / "kmc-tui" / "config.json"
    app = KmcApp(folder / "hopper.png", registry=bounded, config=config)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_result(pilot, app)
        await press(pilot, "plus", "d", "o")
        field = app.query_one("#param-bits")
        field.focus()
        await press(pilot, "backspace", "6", "enter")
        await wait_result(pilot, app)
        await press(pilot, "q")
    saved = json.loads(config.read_text())
    assert saved["folder"] == str(folder) and saved["k"] == 17 and saved["dither"] == 0.5
    assert saved["plugin"] == "bounded" and saved["params"]["bounded"] == {"bits": 6}
    assert saved["sort"] == "size"
    again = KmcApp(None, registry=bounded, config=config)
    async with again.run_test(size=(120, 36)) as pilot:
        browser = again.query_one(FileBrowser)
        await wait_until(pilot, lambda: browser.folder == folder, 10, "the remembered folder")
        await wait_until(pilot, lambda: "bits" in again.session.settings.param_dict, 10, "specs")
        settings = again.session.settings
        assert (settings.k, settings.plugin, settings.dither) == (17, "bounded", 0.5)
        assert settings.param_dict == {"bits": 6} and browser.file_order == "size"
        assert again.query_one("#param-bits").value == "6"


def test_a_damaged_config_is_the_defaults_with_a_warning(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{not json")
    config, warning = load_config(path)
    assert config == Config() and "not valid JSON" in warning
    path.write_text(json.dumps({"k": "many", "format": "tiff", "sort": "size", "x": 1}))
    config, warning = load_config(path)
    assert config == Config(sort="size") and warning is None
