"""File names as users have them: a newline, bytes that are not UTF-8, an escape sequence, a
leading dash, 255 bytes. Through the real CLI (as inputs and outputs) and in the TUI's browser
and save: each works, and is shown on one printable line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import run_cli
from PIL import Image as PILImage
from textual.app import App
from tui_support import HOPPER, press, sync, wait_listed, wait_result
from tui_support import wait_until as wait_for

from kmc_tui.tui.app import KmcApp
from kmc_tui.tui.widgets.file_browser import FileBrowser

NAMES = {
    "newline": b"new\nline.png",
    "not-utf8": b"bad\xff\xfebytes.png",
    "escape": b"tab\tand\x1b[31mred.png",
    "dash": b"-dash.png",
    "long": b"x" * 251 + b".png",  # 255 bytes, the most a name may have
    "markup": b"[b]bold[@click=app.quit].png",
}


def kmc(*args: str | bytes | Path, cwd: Path) -> subprocess.CompletedProcess:
    return run_cli(*(os.fsencode(a) for a in args), cwd=cwd, text=False)


def printable_line(raw: bytes) -> str:
    """`raw` output is one line of valid UTF-8 without control characters."""
    text = raw.decode("utf-8")  # strict: no stray bytes reach the terminal
    assert text.endswith("\n") and text.count("\n") == 1, text
    assert text[:-1].isprintable(), text
    return text[:-1]


@pytest.mark.parametrize("kind", NAMES)
def test_cli_reads_and_writes_any_name(tmp_path, kind):
    name = NAMES[kind]
    src = tmp_path / os.fsdecode(name)
    shutil.copy(HOPPER, src)
    out_name = name[:-4] + b".gif"  # same length: the long one stays at 255 bytes
    done = kmc("compress", b"--input=" + name, "-o", b"./" + out_name, "-k", "8", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    line = printable_line(done.stdout.split(b"\n  note:")[0].rstrip(b"\n") + b"\n")
    assert "8 colors" in line
    with PILImage.open(tmp_path / os.fsdecode(out_name)) as im:
        assert im.format == "GIF" and im.size == (128, 128)
    # Again over the file just written, with --force (a temporary beside a 255-byte name
    # must fit too), and with --json.
    done = kmc(
        "compress", "-i", b"./" + name, b"--output=" + out_name, "--force", "--json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert os.fsencode(record["output"]) == out_name
    assert sorted(os.listdir(tmp_path.as_posix().encode())) == sorted([name, out_name])


@pytest.mark.parametrize("kind", ["newline", "not-utf8", "escape"])
def test_cli_errors_name_the_file_on_one_printable_line(tmp_path, kind):
    name = NAMES[kind]
    (tmp_path / os.fsdecode(name)).write_bytes(b"not an image")
    done = kmc("compress", b"--input=" + name, "-o", "out.png", cwd=tmp_path)
    assert done.returncode == 1
    line = printable_line(done.stderr)
    assert line.startswith("kmc-tui: error: ")
    assert sorted(os.listdir(tmp_path.as_posix().encode())) == [name]


def test_a_leading_dash_without_dot_slash_is_refused_with_the_way_out(tmp_path):
    shutil.copy(HOPPER, tmp_path / "-dash.png")
    done = kmc("compress", "-i", "-dash.png", "-o", "out.png", cwd=tmp_path)
    assert done.returncode == 2
    line = printable_line(done.stderr)
    assert "argument -i/--input: expected one argument" in line
    assert "write ./NAME or --input=NAME" in line
    assert os.listdir(tmp_path) == ["-dash.png"]


def record_shown(monkeypatch) -> list[tuple[str, str]]:
    """(severity, text) of each notification as Textual gets it to show, with its markup
    flag checked: what reaches the screen, after the app's own notify."""
    seen: list[tuple[str, str]] = []
    textual_notify = App.notify

    def notify(self, message, *, title="", severity="information", timeout=None, markup=True):
        assert markup is False, message
        seen.append((severity, message))
        return textual_notify(
            self, message, title=title, severity=severity, timeout=timeout, markup=markup
        )

    monkeypatch.setattr(App, "notify", notify)
    return seen


@sync
async def check_tui_lists_opens_and_saves_any_name(tmp_path, seen):
    for name in NAMES.values():
        shutil.copy(HOPPER, tmp_path / os.fsdecode(name))
    app = KmcApp(tmp_path, k=4)
    async with app.run_test(size=(120, 40)) as pilot:
        browser = app.query_one(FileBrowser)
        await wait_listed(pilot, browser, tmp_path)
        assert len(browser.entries) == 1 + len(NAMES)
        for y in range(len(browser.entries)):
            text = "".join(seg.text for seg in browser.render_line(y))
            assert text.isprintable(), repr(text)
        saved_before = 0
        for name in (NAMES["long"], NAMES["newline"], NAMES["markup"]):
            path = tmp_path / os.fsdecode(name)
            browser.select_path(path)
            await press(pilot, "enter")
            await wait_for(
                pilot,
                lambda p=path: app.session.image is not None and app.session.image.path == p,
                30,
                "the image",
            )
            await wait_result(pilot, app)
            await press(pilot, "s")
            await wait_for(
                pilot,
                lambda n=saved_before: sum(s == "information" and "k4" in m for s, m in seen) > n,
                30,
                "saved",
            )
            saved_before += 1
        assert app.is_running
    assert not [m for s, m in seen if s == "error"]
    assert all(m.isprintable() for _, m in seen), seen
    assert any("[b]bold[@click=app.quit]-k4.png" in m for _, m in seen), seen  # taken literally
    made = sorted(set(os.listdir(tmp_path.as_posix().encode())) - set(NAMES.values()))
    assert made == sorted(
        [b"x" * 243 + b"-k4.png", b"new\nline-k4.png", NAMES["markup"][:-4] + b"-k4.png"]
    )
    assert len(made[-1]) <= 255 and all(len(n) <= 255 for n in made)


def test_tui_lists_opens_and_saves_any_name(tmp_path, monkeypatch):
    check_tui_lists_opens_and_saves_any_name(tmp_path, record_shown(monkeypatch))
