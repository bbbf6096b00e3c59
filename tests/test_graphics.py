"""Real pixels in the terminal: the encoders, the detection, and the app's escape stream.

The encoders' output is decoded back (ImageMagick reads Sixel; Kitty and iTerm2 payloads are
base64 PNG) and compared with the pixels given. The app runs under a pseudo-terminal with each
protocol forced; the result pane's last image at 1:1 must decode to the saved result.
"""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from pty_terminal import PtyTerminal

from kmc_tui.tui.graphics import detection, encoders
from kmc_tui.tui.graphics.terminal_colors import XTERM_240, TerminalPalette

DATA = Path(__file__).resolve().parent / "data"
HOPPER = DATA / "pillow" / "hopper.png"

needs_imagemagick = pytest.mark.skipif(
    shutil.which("convert") is None, reason="ImageMagick's convert is not installed"
)


# -- decoding what a terminal is sent ----------------------------------------------------------


def decode_sixel(sequence: bytes) -> np.ndarray:
    """RGB pixels of a Sixel image, decoded by ImageMagick (written to PNG: IM 6's raw
    RGB output of a Sixel image comes out black)."""
    done = subprocess.run(
        ["convert", "sixel:-", "png:-"], input=sequence, capture_output=True, check=True
    )
    return np.asarray(PILImage.open(io.BytesIO(done.stdout)).convert("RGB"))


def decode_png(payload: bytes) -> np.ndarray:
    return np.asarray(PILImage.open(io.BytesIO(base64.b64decode(payload))).convert("RGB"))


_IMAGE = re.compile(
    rb"\x1b7\x1b\[(\d+);(\d+)H"
    rb"(\x1bP0;1;0q.*?\x1b\\|(?:\x1b_G[^;]*;[^\x1b]*\x1b\\)+|\x1b\]1337;File=[^:]*:[^\x07]*\x07)"
    rb"\x1b8",
    re.S,
)


def images_in(stream: bytes) -> list[tuple[int, int, str, np.ndarray]]:
    """Every image in a stream: (column, row) 0-based, the protocol, the decoded pixels."""
    found = []
    for match in _IMAGE.finditer(stream):
        row, column = int(match.group(1)) - 1, int(match.group(2)) - 1
        body = match.group(3)
        if body.startswith(b"\x1bP"):
            found.append((column, row, "sixel", decode_sixel(body)))
        elif body.startswith(b"\x1b_G"):
            chunks = re.findall(rb"\x1b_G([^;]*);([^\x1b]*)\x1b\\", body)
            assert b"a=T" in chunks[0][0] and b"f=100" in chunks[0][0]
            found.append((column, row, "kitty", decode_png(b"".join(c for _, c in chunks))))
        else:
            header, payload = body[len(b"\x1b]1337;File=") : -1].split(b":", 1)
            image = decode_png(payload)
            assert f"width={image.shape[1]}px;height={image.shape[0]}px".encode() in header
            found.append((column, row, "iterm", image))
    return found


# -- encoders ------------------------------------------------------------------------------------


def blocky_indices(shape=(47, 61), colors=16, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, colors, (shape[0] // 3 + 1, shape[1] // 3 + 1))
    return np.repeat(np.repeat(small, 3, 0), 3, 1)[: shape[0], : shape[1]]


@needs_imagemagick
@pytest.mark.parametrize("colors", [2, 16, 256])
def test_sixel_decodes_to_the_same_pixels(colors):
    rng = np.random.default_rng(colors)
    palette = rng.integers(0, 256, (colors, 3), dtype=np.uint8)
    indices = blocky_indices(colors=colors)
    decoded = decode_sixel(encoders.sixel(indices, palette).encode())
    assert decoded.shape == (*indices.shape, 3)
    # Sixel colors are whole percents: within 1.3 levels of 255.
    assert np.abs(decoded.astype(int) - palette[indices]).max() <= 1


def test_sixel_run_length_and_undrawn_pixels():
    indices = np.full((6, 40), 1)
    indices[:, :3] = -1  # not drawn: no bits set for them
    text = encoders.sixel(indices, np.array([[0, 0, 0], [255, 255, 255]], np.uint8))
    body = text.split("#1;2;100;100;100", 1)[1]
    assert body == "#1???!37~-\x1b\\"  # 3 columns left as they are, then one run of 37


def test_kitty_and_iterm_payloads_are_the_png():
    indices = blocky_indices(shape=(30, 50), colors=8)
    palette = np.random.default_rng(1).integers(0, 256, (8, 3), dtype=np.uint8)
    png = encoders.png_bytes(indices=indices, palette=palette)
    kitty = encoders.kitty(png, image_id=7)
    chunks = re.findall(r"\x1b_G([^;]*);([^\x1b]*)\x1b\\", kitty)
    assert all(len(c) <= encoders.KITTY_CHUNK for _, c in chunks)
    assert chunks[0][0].startswith("a=T,f=100,i=7,p=1,q=2,C=1")
    assert [k.endswith("m=1") for k, _ in chunks] == [True] * (len(chunks) - 1) + [False]
    assert np.array_equal(decode_png("".join(c for _, c in chunks).encode()), palette[indices])
    iterm = encoders.iterm(png, width=50, height=30)
    assert np.array_equal(decode_png(iterm.split(":", 1)[1][:-1].encode()), palette[indices])


@pytest.mark.parametrize("protocol", ["kitty", "iterm"])
def test_a_result_frame_is_a_well_compressed_exact_png(protocol):
    # Frames off the key's path (the result, pan, zoom) are what a slow link waits for most:
    # their palette PNG is compressed harder than the quickest zlib level, and stays exact.
    from kmc_tui.tui.graphics import Graphics
    from kmc_tui.tui.widgets.preview import encode_frame

    with PILImage.open(HOPPER) as photo:
        reduced = photo.convert("RGB").resize((420, 315)).quantize(17)
    indices = np.asarray(reduced)
    palette = np.array(reduced.getpalette(), np.uint8).reshape(-1, 3)[:17]
    graphics = Graphics(protocol, "test", cell_size=(10, 20))
    data = encode_frame(indices, palette, graphics, image_id=1)
    if protocol == "kitty":
        payload = "".join(re.findall(r"\x1b_G[^;]*;([^\x1b]*)\x1b\\", data))
    else:
        payload = data.split(":", 1)[1][:-1]
    assert np.array_equal(decode_png(payload.encode()), palette[indices])
    quickest = io.BytesIO()
    reduced.save(quickest, "PNG", compress_level=1)
    assert len(base64.b64decode(payload)) <= 0.92 * len(quickest.getvalue())


def test_tmux_passthrough_doubles_escapes():
    wrapped = encoders.tmux_passthrough("\x1b_Ga=q\x1b\\")
    assert wrapped == "\x1bPtmux;\x1b\x1b_Ga=q\x1b\x1b\\\x1b\\"


# -- detection -----------------------------------------------------------------------------------


class FakeTerminal:
    """A pty whose far end answers the queries as a given terminal would."""

    def __init__(self, reply: bytes, *, cell_pixels: bool = False):
        import fcntl
        import struct
        import termios
        import threading

        self.master, self.slave = os.openpty()
        pixels = (1200, 720) if cell_pixels else (0, 0)
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, *pixels))
        self.received = b""

        def answer():
            while b"\x1b[c" not in self.received:
                try:
                    self.received += os.read(self.master, 4096)
                except OSError:  # closed: nothing was asked (an override)
                    return
            if reply:
                os.write(self.master, reply)

        self.thread = threading.Thread(target=answer, daemon=True)
        self.thread.start()

    def detect(self, option=None, environ=None, timeout=2.0):
        try:
            return detection.detect(
                option, fd_in=self.slave, fd_out=self.slave, environ=environ or {}, timeout=timeout
            )
        finally:
            self.thread.join(1)
            os.close(self.slave)
            os.close(self.master)


KITTY_OK = b"\x1b_Gi=31;OK\x1b\\"
DA1_SIXEL = b"\x1b[?63;1;2;4;6;9;15;22c"
DA1_PLAIN = b"\x1b[?62;22c"


@pytest.mark.parametrize(
    "reply, protocol",
    [
        (KITTY_OK + b"\x1b[6;20;10t" + DA1_PLAIN, "kitty"),
        (b"\x1bP>|iTerm2 3.5.0\x1b\\" + DA1_SIXEL, "iterm"),
        (b"\x1b[?1;0;16S\x1b[6;24;12t" + DA1_SIXEL, "sixel"),
        (DA1_PLAIN, "halfblock"),
    ],
)
def test_detection_asks_the_terminal(reply, protocol):
    found = FakeTerminal(reply).detect()
    assert found.protocol == protocol, found.reason
    if protocol == "sixel":
        assert found.cell_size == (12, 24) and found.color_registers == 16
    if protocol == "kitty":
        assert found.cell_size == (10, 20)


def test_detection_sends_the_queries_and_prefers_the_window_size():
    terminal = FakeTerminal(b"\x1b[6;99;99t" + DA1_SIXEL, cell_pixels=True)
    found = terminal.detect()
    assert found.protocol == "sixel" and found.cell_size == (10, 20)  # 1200/120, 720/36
    for query in ("\x1b_Gi=31,", "\x1b[>0q", "\x1b[?1;1;0S", "\x1b[16t", "\x1b[c"):
        assert query.encode() in terminal.received


def test_detection_without_an_answer_is_halfblock_and_quick():
    start = time.monotonic()
    found = FakeTerminal(b"").detect(timeout=0.3)
    assert found.protocol == "halfblock" and "did not answer" in found.reason
    assert time.monotonic() - start < 2


def test_override_by_option_and_variable():
    assert FakeTerminal(KITTY_OK + DA1_PLAIN).detect("sixel").protocol == "sixel"
    environ = {"KMC_TUI_GRAPHICS": "halfblock"}
    found = FakeTerminal(KITTY_OK + DA1_PLAIN).detect(None, environ)
    assert found.protocol == "halfblock" and "KMC_TUI_GRAPHICS" in found.reason
    with pytest.raises(ValueError, match="KMC_TUI_GRAPHICS='bogus'"):
        detection.requested_protocol(None, {"KMC_TUI_GRAPHICS": "bogus"})


def test_bad_variable_is_a_one_line_error(tmp_path):
    terminal = PtyTerminal(["tui", str(tmp_path)], cwd=tmp_path, env={"KMC_TUI_GRAPHICS": "bogus"})
    try:
        assert terminal.process.wait(60) == 2
    finally:
        terminal.close()
    assert terminal.snapshot().decode().strip().splitlines() == [
        "kmc-tui: error: KMC_TUI_GRAPHICS='bogus': expected one of "
        "auto, kitty, sixel, iterm, halfblock"
    ]


# -- half-blocks in 256 and 16 colors -----------------------------------------------------------


def test_terminal_palette_is_the_nearest_in_cielab():
    from kmc_tui.stats import srgb8_to_lab

    rng = np.random.default_rng(3)
    colors = rng.integers(0, 256, (500, 3), dtype=np.uint8)
    palette = TerminalPalette(256)
    numbers = palette.nearest(colors)
    lab, table = srgb8_to_lab(colors), srgb8_to_lab(XTERM_240)
    brute = ((lab[:, None] - table[None]) ** 2).sum(-1).argmin(1) + 16
    assert np.array_equal(numbers, brute)


@pytest.mark.parametrize("colors", [256, 16])
def test_terminal_palette_beats_the_generic_downgrade_on_a_photo(colors):
    from rich.color import Color, ColorSystem

    from kmc_tui.stats import srgb8_to_lab

    rgb = np.asarray(PILImage.open(HOPPER).convert("RGB")).reshape(-1, 3)
    distinct = np.unique(rgb, axis=0)[::7]
    palette = TerminalPalette(colors)
    ours = palette.nearest(distinct)
    system = ColorSystem.EIGHT_BIT if colors == 256 else ColorSystem.STANDARD
    table = {n: c for n, c in enumerate(palette.rgb, start=palette.first)}
    theirs = np.array(
        [Color.from_rgb(*c).downgrade(system).number for c in distinct.tolist()], np.int64
    )
    shown_ours = np.array([table[n] for n in ours.tolist()], np.uint8)
    keep = np.isin(theirs, list(table))  # rich may pick entries 0-15 (theme colors)
    shown_theirs = np.array([table[n] for n in theirs[keep].tolist()], np.uint8)
    lab = srgb8_to_lab(distinct)
    error_ours = np.linalg.norm(srgb8_to_lab(shown_ours) - lab, axis=1).mean()
    error_theirs = np.linalg.norm(srgb8_to_lab(shown_theirs) - lab[keep], axis=1).mean()
    assert error_ours < error_theirs


def test_terminal_palette_map_keeps_outside_and_dithers():
    packed = np.full((8, 8), (64 << 16) | (64 << 8) | 64, np.int32)
    packed[0, 0] = -1
    plain = TerminalPalette(16).map(packed)
    assert plain[0, 0] == -1 and len(set(plain[1:].ravel().tolist())) == 1
    dithered = TerminalPalette(16, dither=True).map(packed)
    assert dithered[0, 0] == -1 and len(set(dithered[1:].ravel().tolist())) > 1


# -- the app under a pseudo-terminal, each protocol forced ---------------------------------------

MARKERS = {"sixel": b"\x1bP0;1;0q", "kitty": b"\x1b_Ga=T", "iterm": b"\x1b]1337;File"}


@pytest.mark.parametrize("protocol", ["sixel", "kitty", "iterm"])
def test_result_pane_at_one_to_one_is_the_saved_result(tmp_path, protocol):
    if protocol == "sixel":
        assert shutil.which("convert"), "ImageMagick decodes Sixel here (.ci/run installs it)"
    shutil.copy(HOPPER, tmp_path / "hopper.png")
    terminal = PtyTerminal(
        ["tui", "hopper.png", "--graphics", protocol], cwd=tmp_path, columns=120, rows=36
    )
    marker = MARKERS[protocol]
    try:
        terminal.wait_for(lambda out: b"colors" in out and marker in out, what="the result")
        time.sleep(0.5)
        mark = terminal.mark()
        terminal.type("1")  # zoom to 1:1
        terminal.wait_for(lambda out: out.count(marker) >= 2, after=mark, what="1:1 frames")
        time.sleep(0.5)
        stream = terminal.snapshot()[mark:]
        terminal.type("s")
        saved = terminal.wait_for(lambda _: list(tmp_path.glob("hopper-k*.png")), what="save")
    finally:
        terminal.close()
    images = images_in(stream)
    assert images and {p for _, _, p, _ in images} == {protocol}
    result_column = max(column for column, _, _, _ in images)
    column, row, _, pixels = [i for i in images if i[0] == result_column][-1]
    expected = np.asarray(PILImage.open(saved[0]).convert("RGB"))
    assert pixels.shape == expected.shape == (128, 128, 3)  # one image pixel per screen pixel
    tolerance = 1 if protocol == "sixel" else 0  # Sixel colors are whole percents
    assert np.abs(pixels.astype(int) - expected.astype(int)).max() <= tolerance
    # Kitty images persist over redrawn cells: leaving the app takes them off.
    if protocol == "kitty":
        tail = terminal.snapshot()
        assert tail.rfind(b"\x1b_Ga=d,d=I") > tail.rfind(b"\x1b_Ga=T")
        assert tail.rfind(b"\x1b_Ga=d,d=I") < tail.rfind(b"\x1b[?1049l")


def test_kitty_images_leave_when_a_dialog_opens_or_a_pane_hides(tmp_path):
    shutil.copy(HOPPER, tmp_path / "hopper.png")
    terminal = PtyTerminal(["tui", "hopper.png", "--graphics", "kitty"], cwd=tmp_path)
    deletes = re.compile(rb"\x1b_Ga=d,d=I,i=(\d+),q=2\x1b\\")
    placed = re.compile(rb"\x1b_Ga=T,f=100,i=(\d+),")
    try:
        terminal.wait_for(lambda out: b" colors" in out and len(placed.findall(out)) >= 2)
        time.sleep(0.5)
        ids = set(placed.findall(terminal.snapshot()))
        assert len(ids) == 2  # one image per pane, replaced in place frame after frame
        mark = terminal.mark()
        terminal.type("?")  # the help dialog opens over the panes
        terminal.wait_for(lambda out: set(deletes.findall(out)) == ids, after=mark, what="delete")
        mark = terminal.mark()
        terminal.type("\x1b")  # closed: the pictures come back
        terminal.wait_for(lambda out: set(placed.findall(out)) == ids, after=mark, what="back")
        time.sleep(0.5)
        mark = terminal.mark()
        terminal.type("v")  # both panes -> the result alone: the original's image goes
        gone = terminal.wait_for(lambda out: deletes.findall(out), after=mark, what="hidden")
        assert len(set(gone)) == 1 and gone[0] in ids
    finally:
        terminal.close()


# -- the panes in pixels, through the app's public pieces ----------------------------------------


@pytest.fixture
def folder(tmp_path):
    shutil.copy(HOPPER, tmp_path / "hopper.png")
    return tmp_path


def test_pixel_pane_geometry_and_flip(folder):
    import asyncio

    from textual import events

    from kmc_tui.tui.app import KmcApp
    from kmc_tui.tui.graphics import Graphics
    from kmc_tui.tui.widgets.preview import HalfBlockView

    graphics = Graphics("sixel", "test", cell_size=(8, 16), color_registers=256)

    async def run():
        app = KmcApp(folder / "hopper.png", k=8, graphics=graphics)
        async with app.run_test(size=(120, 40)) as pilot:
            start = time.monotonic()
            while app.session.result is None or app.session.result_settings != app.session.settings:
                assert time.monotonic() - start < 60
                await pilot.pause(0.05)
            await pilot.pause(0.1)
            result = app.query_one("#result", HalfBlockView)
            original = app.query_one("#original", HalfBlockView)
            width, height = result.size.width, result.size.height - 1
            assert result.pixel_size == (width * 8, height * 16)
            pixels, palette, _ = result.frame()  # fit: the image fills the pane's height or width
            assert pixels.shape[0] == height * 16 or pixels.shape[1] == width * 8
            app.post_message(events.Key("1", "1"))
            await pilot.pause(0.2)
            pixels, palette, (column, row) = result.frame()
            quantized = app.session.result.quantized
            assert np.array_equal(palette[pixels], palette[quantized.indices])  # 1:1, whole
            assert column == (width * 8 - 128) // 2 // 8 and row == (height * 16 - 128) // 2 // 16
            shown = result.picture
            app.post_message(events.Key("b", "b"))  # flip
            await pilot.pause(0.2)
            assert result.picture is original._picture and original.picture is shown
            assert result.title.startswith("Original") and original.title.startswith("Result")
            app.post_message(events.Key("b", "b"))
            await pilot.pause(0.2)
            assert result.picture is shown and result.title.startswith("Result")
            # The help screen says how pictures are drawn and why.
            from kmc_tui.tui.screens.help import HelpScreen

            app.action_help()
            await pilot.pause(0.2)
            assert isinstance(app.screen, HelpScreen)
            line = str(app.screen.query_one("#graphics").render())
            assert "Sixel (real pixels, 256 colors per image), because test" in line
            assert "Cell: 8×16 pixels" in line

    asyncio.run(run())


# -- inside tmux: passthrough off is half-blocks with a note; a 16-color terminal is said -------


def end_tmux(tmux: list[str]) -> None:
    """Kill the tmux server, then make sure the app in its pane is gone: it leaves on the hangup
    (it used to hang in Textual's shutdown when its terminal vanished); a test must not leave it."""
    panes = subprocess.run(
        [*tmux, "list-panes", "-a", "-F", "#{pane_pid}"], capture_output=True, text=True
    ).stdout.split()
    subprocess.run([*tmux, "kill-server"], capture_output=True)
    for pid in map(int, panes):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, 9)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.parametrize(
    "passthrough, term, note",
    [
        ("off", "screen-256color", "allow-passthrough is off"),
        ("on", "screen", "16 colors: previews approximate"),
    ],
)
def test_inside_tmux_the_app_says_what_limits_the_previews(tmp_path, passthrough, term, note):
    import uuid

    shutil.copy(HOPPER, tmp_path / "hopper.png")
    tmux = ["tmux", "-L", f"kmc-graphics-{uuid.uuid4().hex[:8]}"]
    script = Path(os.sys.executable).parent / "kmc-tui"
    command = (
        f"env -u KMC_TUI_GRAPHICS -u COLUMNS -u LINES TERM={term} XDG_CONFIG_HOME={tmp_path} "
        f"{script} hopper.png"
    )
    subprocess.run(
        [*tmux, "-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "36"],
        cwd=tmp_path,
        check=True,
        timeout=30,
    )
    try:
        subprocess.run([*tmux, "set", "-g", "allow-passthrough", passthrough], check=True)
        subprocess.run([*tmux, "respawn-pane", "-k", "-c", str(tmp_path), command], check=True)

        def wait_for_text(text: str) -> None:
            deadline = time.monotonic() + 60
            screen = ""
            while text not in " ".join(screen.split()):
                assert time.monotonic() < deadline, f"no {text!r} on screen:\n{screen}"
                time.sleep(0.3)
                screen = subprocess.run(
                    [*tmux, "capture-pane", "-p"], capture_output=True, text=True
                ).stdout

        wait_for_text(note)
        if term == "screen":  # ctrl+o: ordered dithering of the 16-color previews
            subprocess.run([*tmux, "send-keys", "C-o"], check=True)
            wait_for_text("16 colors: dithering on")
    finally:
        end_tmux(tmux)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_tmux_passes_kitty_images_through_when_allowed(tmp_path):
    import uuid

    shutil.copy(HOPPER, tmp_path / "hopper.png")
    tmux = ["tmux", "-L", f"kmc-graphics-{uuid.uuid4().hex[:8]}", "-f", "/dev/null"]
    script = Path(os.sys.executable).parent / "kmc-tui"
    subprocess.run([*tmux, "new-session", "-d", "-x", "120", "-y", "36"], check=True, timeout=30)
    outer = None
    try:
        subprocess.run([*tmux, "set", "-g", "allow-passthrough", "on"], check=True)
        subprocess.run([*tmux, "set", "-g", "status", "off"], check=True)
        # The outer terminal: a client attached in a pty; what tmux passes through lands there.
        outer = PtyTerminal([], cwd=tmp_path, command=[*tmux, "attach"])
        outer.wait_for(lambda out: len(out) > 0, what="tmux drawing")
        command = (
            f"env -u KMC_TUI_GRAPHICS -u COLUMNS -u LINES XDG_CONFIG_HOME={tmp_path} {script} "
            "--graphics kitty hopper.png"
        )
        subprocess.run([*tmux, "respawn-pane", "-k", "-c", str(tmp_path), command], check=True)
        outer.wait_for(lambda out: out.count(b"\x1b_Ga=T,f=100") >= 2, what="kitty images")
        time.sleep(0.5)
        stream = outer.snapshot()
    finally:
        end_tmux(tmux)
        if outer is not None:
            outer.close()
    assert b"\x1bPtmux;" not in stream  # tmux unwrapped it for the outer terminal
    images = images_in(stream)
    assert len(images) >= 2 and all(protocol == "kitty" for _, _, protocol, _ in images)


# -- the one private Textual hook the panes use -------------------------------------------------

#: Textual versions KmcApp._display (an override of Textual's private App._display) was
#: checked with: images come right after each screen update that went over them.
TEXTUAL_CHECKED = ("8.2.8",)


def test_the_private_display_hook_is_the_one_checked():
    """No public Textual call hands over the spans an update writes (docs/design.md says
    why), so the app overrides ``App._display``: this fails as soon as Textual changes."""
    import inspect
    from importlib.metadata import version

    from textual._compositor import ChopsUpdate
    from textual.app import App
    from textual.screen import Screen

    from kmc_tui.tui.app import KmcApp

    installed = version("textual")
    assert installed in TEXTUAL_CHECKED, (
        f"Textual {installed}: KmcApp._display overrides Textual's private App._display, "
        f"checked with {', '.join(TEXTUAL_CHECKED)} only. Run tests/test_graphics*.py (images "
        "after each update, pixel-exact in xterm), then add the version to TEXTUAL_CHECKED"
    )
    hook = getattr(App, "_display", None)
    assert hook is not None, "Textual's App._display is gone: images would never be drawn"
    assert list(inspect.signature(hook).parameters) == ["self", "screen", "renderable"]
    assert KmcApp._display is not App._display
    assert "app._display(" in inspect.getsource(Screen._compositor_refresh)
    assert "spans" in inspect.signature(ChopsUpdate).parameters
