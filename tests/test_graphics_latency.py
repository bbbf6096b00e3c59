"""What keeps a key press quick to show: the preview first, images encoded off the UI thread.

The real app through ``App.run_test()``, with a plugin that is quick on the preview's small copy
and slow, without polling, on the full image (as a stage between k-means passes is), so the
order of things can be seen.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import textual.screen
from PIL import Image as PILImage
from tui_support import press, sync, wait_result, wait_until

from kmc_tui.stats import srgb8_to_lab
from kmc_tui.tui.app import KmcApp
from kmc_tui.tui.graphics import Graphics
from kmc_tui.tui.screens import main as main_screen
from kmc_tui.tui.session import PREVIEW_PIXELS
from kmc_tui.tui.widgets import preview
from kmc_tui.tui.widgets.preview import HalfBlockView

HOPPER = Path(__file__).resolve().parent / "data" / "pillow" / "hopper.png"

#: Seconds the plugin takes on the full image (360,000 pixels), never polling.
FULL_SECONDS = 3.0

SLOW_FULL = """
import time
import numpy as np
from pathlib import Path
from kmc_tui.plugin_api import QuantizerOutput, Quantizer
LOG = Path({log!r})
class SlowFull(Quantizer):
    name = "slowfull"
    description = "quick on the preview's copy, slow on the full image"
    def quantize(self, hist, k, *, seed=0):
        with LOG.open("a") as log:
            log.write(f"{{hist.total}} {{time.monotonic()}}\\n")
        if hist.total > 100_000:
            time.sleep({seconds})
        order = np.argsort(-hist.counts, kind="stable")[:k]
        return QuantizerOutput(hist.colors[order].astype(np.uint8))
"""


@pytest.fixture
def folder(tmp_path):
    shutil.copy(HOPPER, tmp_path / "hopper.png")
    with PILImage.open(HOPPER) as small:  # 128×128: its preview copy would be the whole image
        small.convert("RGB").resize((600, 600)).save(tmp_path / "big.png")
    return tmp_path


@pytest.fixture
def slow_full(tmp_path_factory):
    plugins = tmp_path_factory.mktemp("slowfull")
    log = plugins / "calls.log"
    (plugins / "slowfull.py").write_text(SLOW_FULL.format(log=str(log), seconds=FULL_SECONDS))
    return plugins, log


def full_starts(log: Path) -> list[float]:
    """When each call on the full image began (time.monotonic)."""
    lines = log.read_text().split() if log.exists() else []
    pairs = zip(lines[::2], lines[1::2], strict=True)
    return [float(start) for total, start in pairs if int(total) > 100_000]


async def use_slow_full(pilot, app: KmcApp) -> None:
    """Choose the slow plugin (as the Select does) and wait for its result."""
    await wait_result(pilot, app)
    app.query_one("#plugin").value = "slowfull"
    await wait_until(pilot, lambda: app.session.settings.plugin == "slowfull", 10, "slowfull")
    await wait_result(pilot, app, FULL_SECONDS * 4)


@sync
async def test_the_full_result_starts_once_the_preview_is_drawn(folder, slow_full, monkeypatch):
    plugins, log = slow_full
    drawn: list[float] = []
    when_drawn = HalfBlockView.when_drawn

    def timed(self, callback):
        def done():
            drawn.append(time.monotonic())
            callback()

        when_drawn(self, done)

    monkeypatch.setattr(HalfBlockView, "when_drawn", timed)
    # The wait's limit (for a preview that never gets drawn) out of the way: under heavy load
    # the frame can take longer than it, and the order is what is checked here.
    monkeypatch.setattr(main_screen, "PREVIEW_DRAW_WAIT", 60.0)
    app = KmcApp(folder / "big.png", k=8, plugin_dirs=[plugins])
    async with app.run_test(size=(120, 40)) as pilot:
        await use_slow_full(pilot, app)
        assert drawn and full_starts(log)
        # The preview was on screen (its callback ran) before the full image's call began.
        assert full_starts(log)[0] >= drawn[-1]


@sync
async def test_a_key_during_a_full_result_shows_its_preview_without_waiting(folder, slow_full):
    plugins, log = slow_full
    app = KmcApp(folder / "big.png", k=8, plugin_dirs=[plugins])
    async with app.run_test(size=(120, 40)) as pilot:
        await use_slow_full(pilot, app)
        pane = app.screen.query_one("#result", HalfBlockView)
        await press(pilot, "plus")  # k=9: its preview, then its full result (not polling)
        await wait_until(pilot, lambda: len(full_starts(log)) == 2, FULL_SECONDS, "k=9's full")
        pressed = time.monotonic()
        await press(pilot, "plus")  # k=10 while k=9's full result cannot stop
        await wait_until(
            pilot, lambda: "k=10" in pane.caption and "preview" in pane.caption, 20, "k=10"
        )
        waited = time.monotonic() - pressed
        assert waited < FULL_SECONDS * 2 / 3, f"k=10's preview waited {waited:.2f} s"
        await wait_result(pilot, app, FULL_SECONDS * 4)
        assert app.session.result.quantized.k == 10


@sync
async def test_pixel_frames_are_encoded_off_the_ui_thread_once_each(folder, monkeypatch):
    calls: list[tuple[str, tuple]] = []
    encode = preview.encode_frame

    def recorded(pixels, palette, graphics, **options):
        calls.append((threading.current_thread().name, pixels.shape))
        return encode(pixels, palette, graphics, **options)

    monkeypatch.setattr(preview, "encode_frame", recorded)
    graphics = Graphics("sixel", "test", cell_size=(8, 16), color_registers=256)
    app = KmcApp(folder / "hopper.png", k=8, graphics=graphics)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_result(pilot, app)
        result = app.screen.query_one("#result", HalfBlockView)
        original = app.screen.query_one("#original", HalfBlockView)
        shown, source = result.picture, original.picture

        def showing(result_picture, original_picture) -> bool:
            # Both panes have written the frames of these pictures: their encodes are counted.
            return all(
                pane._drawn is not None and pane._drawn[0][0] is picture
                for pane, picture in ((result, result_picture), (original, original_picture))
            )

        await wait_until(pilot, lambda: showing(shown, source), 10, "both panes drawn")
        assert calls and all(name != threading.main_thread().name for name, _ in calls)
        before = len(calls)
        await press(pilot, "b")  # flip: each pane shows the other's picture, encoded anew
        await wait_until(pilot, lambda: showing(source, shown), 10, "flipped")
        flipped = len(calls)
        assert flipped >= before + 2
        await press(pilot, "b")  # back: both frames are still encoded
        await wait_until(pilot, lambda: showing(shown, source), 10, "back")
        assert len(calls) == flipped
        assert np.all([name != threading.main_thread().name for name, _ in calls])


@pytest.mark.parametrize("protocol", ["iterm", "sixel", "kitty"])
@sync
async def test_a_picture_is_written_after_its_caption(folder, monkeypatch, protocol):
    """The preview's image comes after the caption that says it is the preview, however late
    the screen's update: an image written before it was read as no preview at all (the
    caption, then the full result's image), and it showed under the last k's caption."""
    # Screen updates late, as on a loaded machine: the image is encoded well before.
    monkeypatch.setattr(textual.screen, "UPDATE_PERIOD", 1.0)
    events: list[tuple[str, str]] = []
    display = KmcApp._display

    def recorded_display(self, screen, renderable):
        if renderable is not None and hasattr(renderable, "render_segments"):
            events.append(("update", renderable.render_segments(self.console)))
        display(self, screen, renderable)

    write_frame = HalfBlockView._write_frame

    def recorded_write(self, key, data, box):
        drawn = self._drawn
        write_frame(self, key, data, box)
        if data and self.id == "result" and self._drawn is not drawn:  # written now
            events.append(("image", self.caption))

    monkeypatch.setattr(KmcApp, "_display", recorded_display)
    monkeypatch.setattr(HalfBlockView, "_write_frame", recorded_write)
    graphics = Graphics(protocol, "test", cell_size=(8, 16), color_registers=256)
    app = KmcApp(folder / "big.png", k=8, graphics=graphics)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_result(pilot, app)
        events.clear()
        await press(pilot, "plus")
        await wait_result(pilot, app)
        await wait_until(
            pilot, lambda: sum(kind == "image" for kind, _ in events) >= 2, 10, "both images"
        )
    images = [n for n, (kind, caption) in enumerate(events) if kind == "image"]
    preview_image = next(n for n in images if "k=9" in events[n][1] and "preview" in events[n][1])
    captions = [
        n for n, (kind, text) in enumerate(events) if kind == "update" and "preview" in text
    ]
    assert captions and captions[0] < preview_image, "the preview's image came before its caption"


def test_palette_lookup_is_the_nearest_entry_in_cielab():
    rng = np.random.default_rng(3)
    palette = rng.integers(0, 256, (17, 3), dtype=np.uint8)
    lookup = preview.palette_lookup(palette)
    levels = np.arange(32) * 8 + 4
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 3)
    lab = srgb8_to_lab(grid.astype(np.uint8)).astype(np.float64)
    entries = srgb8_to_lab(palette).astype(np.float64)
    distance = ((lab[:, None, :] - entries[None, :, :]) ** 2).sum(-1)
    chosen = distance[np.arange(len(grid)), lookup]
    assert lookup.shape == (32768,) and lookup.dtype == np.uint8
    assert np.allclose(chosen, distance.min(1), rtol=1e-4, atol=1e-3)
    with pytest.raises(ValueError, match="at least one"):
        preview.palette_lookup(np.zeros((0, 3), np.uint8))


@sync
async def test_the_preview_is_the_originals_pixels_in_the_preview_palette(folder, slow_full):
    """As sharp as the original pane, however few pixels the preview's palette comes from."""
    plugins, _ = slow_full
    graphics = Graphics("sixel", "test", cell_size=(8, 16), color_registers=256)
    app = KmcApp(folder / "big.png", k=8, plugin_dirs=[plugins], graphics=graphics)
    async with app.run_test(size=(120, 40)) as pilot:
        await use_slow_full(pilot, app)
        result = app.screen.query_one("#result", HalfBlockView)
        original = app.screen.query_one("#original", HalfBlockView)
        await press(pilot, "plus")  # k=9: its preview stays while the full result takes 3 s
        await wait_until(pilot, lambda: "preview" in result.caption, 10, "k=9's preview")
        indices, palette, place = result.frame()
        rgb, no_palette, original_place = original.frame()
        assert no_palette is None and place == original_place and indices.shape == rgb.shape[:2]
        assert len(palette) == 9
        expected = preview.palette_lookup(palette)[
            (rgb[..., 0].astype(int) >> 3) << 10
            | (rgb[..., 1].astype(int) >> 3) << 5
            | rgb[..., 2] >> 3
        ]
        assert np.array_equal(indices, expected)
        # The original's frame has more distinct pixels than the preview's own copy
        # (PREVIEW_PIXELS) holds: the preview, pixel for pixel the same, has its detail.
        assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > PREVIEW_PIXELS
        await wait_result(pilot, app, FULL_SECONDS * 4)


@sync
async def test_a_full_collection_after_the_first_result_skips_the_apps_long_lived_objects(folder):
    # A full garbage collection walks every object the collector tracks, holding the
    # interpreter meanwhile; the app's own (widgets, modules, scikit-learn) are out of its reach
    # once the first result is shown, and given back when the app ends.
    import gc

    async def run_app() -> int:
        """The number of frozen objects once the first result is shown and the app idle."""
        app = KmcApp(folder / "hopper.png", k=8)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_result(pilot, app)
            await pilot.pause()
            await pilot.pause()
            return gc.get_freeze_count()

    gc.unfreeze()  # as in a process of its own (conftest freezes what the tests share)
    try:
        frozen = await run_app()
        assert frozen > len(gc.get_objects()), (frozen, len(gc.get_objects()))
        assert gc.get_freeze_count() == 0
        # Objects frozen before the app starts belong to whoever runs it: the app leaves them be.
        gc.freeze()
        before = gc.get_freeze_count()  # frozen objects freed meanwhile leave the count
        assert await run_app() <= before
        assert before * 0.9 < gc.get_freeze_count() <= before
    finally:
        gc.unfreeze()
        gc.collect()
        gc.freeze()


@sync
async def test_a_keys_status_in_the_stats_border_does_not_render_the_figures_again(
    folder, slow_full, monkeypatch
):
    # The status goes in the panel's border on every key, on the way to the preview: the
    # figures below it are the same, and rendering their table again took 5-8 ms of the UI
    # thread there.
    from rich.table import Table
    from textual.geometry import Region

    from kmc_tui.tui.widgets.stats_panel import StatsPanel

    plugins, log = slow_full
    app = KmcApp(folder / "big.png", k=8, plugin_dirs=[plugins])
    async with app.run_test(size=(120, 40)) as pilot:
        await use_slow_full(pilot, app)
        stats = app.screen.query_one(StatsPanel)
        tables: list[int] = []
        render_table = Table.__rich_console__

        def counted(self, console, options):
            tables.append(1)
            return render_table(self, console, options)

        monkeypatch.setattr(Table, "__rich_console__", counted)
        await press(pilot, "plus")  # k=9: its preview, then a full result that takes seconds
        await wait_until(pilot, lambda: stats.border_subtitle is not None, 10, "the status")
        await pilot.pause(0.2)
        assert len(full_starts(log)) == 2, "k=9's full result has started"
        width, height = stats.outer_size
        drawn = "".join(strip.text for strip in stats.render_lines(Region(0, 0, width, height)))
        assert "computing k=9" in drawn and "ratio" in drawn
        assert tables == []
