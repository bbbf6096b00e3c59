"""What each way of drawing pictures costs: key press to new image, and bytes per frame.

The installed ``kmc-tui`` runs under a pseudo-terminal of 120×36 cells of 10×20 pixels with
``--graphics`` forced to each protocol in turn (half-blocks are the reference, in the same run),
on a 12 MP image (a sample upscaled into a temporary folder, never committed). Once the first
result is shown, ``+`` is typed; the clock stops when the result pane's new picture (the quick
preview, then the full result) has arrived in full on the terminal's side. Then ``+`` is typed
again, and once more a second later while that full result is being computed: the clock of the
last key stops at its preview ("key during a result"). "App CPU" is the CPU time all the app's
threads used from the key to its preview on the terminal (Linux's schedstat): less moved by
other work on the machine than the wall time. The bytes are all the app wrote from the
first key until a second after its full result, and the result pane's preview and result
images alone (half-blocks: none, their cells are in the bytes after the key); the seconds
those take over a 1 Mbit/s and a 10 Mbit/s link are computed from them.

The preview's picture is the result pane's first image after the key that the pane had not
shown before and that comes before the result's caption (so an image written before its own
caption counts too); with the key during a result, the first image after the preview's
caption. A run without one has no preview frame: it is counted ("no preview drawn"), not timed.

With ``--baseline REF`` the same runs are made with another commit's code (unpacked with ``git
archive`` and put first on ``PYTHONPATH``), interleaved with this tree's, so both see the same
load.

Usage::

    python benchmarks/graphics.py [--repeat 3] [--baseline REF] [--write-docs]
"""

from __future__ import annotations

import argparse
import io
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from pty_terminal import PtyTerminal  # noqa: E402

from kmc_tui.tui.screens.main import result_caption  # noqa: E402
from kmc_tui.tui.session import Settings  # noqa: E402

PROTOCOLS = ("halfblock", "sixel", "kitty", "iterm")
IMAGE = {
    "sixel": re.compile(rb"\x1bP0;1;0q.*?\x1b\\", re.S),
    "kitty": re.compile(rb"(?:\x1b_G[^;]*;[^\x1b]*\x1b\\)+"),
    "iterm": re.compile(rb"\x1b\]1337;File=[^\x07]*\x07"),
}
SECTION = "## Pictures in the terminal: graphics protocols"
TABLE_START, TABLE_END = "<!-- graphics.py table -->", "<!-- end of graphics.py table -->"
#: Seconds after the key before the next one, while the full result is being computed.
DURING_RESULT = 1.0


def make_big_image(folder: Path) -> Path:
    from PIL import Image

    with Image.open(ROOT / "samples" / "chelsea.png") as src:
        big = src.convert("RGB").resize((4000, 3000), Image.Resampling.LANCZOS)
    path = folder / "big.png"
    big.save(path, compress_level=1)
    return path


def unpack(rev: str, folder: Path) -> str:
    """`rev`'s kmc_tui and built-in plugins, unpacked into `folder`: the ``PYTHONPATH`` that
    runs them (the plugins too: the core and its plugins change together)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "kmc_tui", "plugins"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return os.pathsep.join([str(folder), str(folder / "plugins")])


def caption_pattern(k: int, status: str) -> re.Pattern:
    """The result pane's caption as the app writes it (its own `result_caption`), with
    `status` a regular expression: the wait follows the app when its captions change."""
    text = result_caption(Settings(k=k, plugin="kmeans"), "\0")
    before, after = (re.escape(part) for part in text.split("\0"))
    return re.compile(f"{before}{status}{after}".encode())


def result_caption_of(k: int) -> re.Pattern:
    return caption_pattern(k, r"\d+-color palette")


def picture_end(terminal, stream, mark, protocol, caption) -> int:
    """Where in `stream` the result pane's picture that follows `caption` ends."""
    if protocol == "halfblock":
        # The caption is the pane's first line: its frame ends with the burst holding it.
        return terminal.burst_end(mark + caption.end()) - mark
    # The result pane's images: the rightmost column of the two panes' placements.
    images = [(column_of(stream, m.start()), m) for m in IMAGE[protocol].finditer(stream)]
    right = max((c for c, _ in images), default=0)
    after = [m for c, m in images if c == right and m.start() > caption.start()]
    assert after, f"no {protocol} image after {caption.group()!r}"
    return after[0].end()


def measure(protocol: str, image: Path, pythonpath: str | None) -> dict:
    # --no-config: the remembered k (a run before this one pressed +) must not be read,
    # nor this run's written.
    terminal = PtyTerminal(
        ["tui", "--no-config", image.name, "--graphics", protocol],
        cwd=image.parent,
        columns=120,
        rows=36,
        env={"PYTHONPATH": pythonpath} if pythonpath else None,
    )
    first, preview = result_caption_of(16), caption_pattern(17, "preview…")
    result = result_caption_of(17)
    try:
        terminal.wait_for(first.search, timeout=120, what=f"the k=16 result ({first.pattern!r})")
        time.sleep(1.0)
        mark = terminal.mark()
        cpu_pressed = terminal.cpu_seconds()
        pressed = time.perf_counter()
        terminal.type("+")
        terminal.wait_for(
            result.search, after=mark, timeout=120, what=f"the k=17 result ({result.pattern!r})"
        )
        time.sleep(1.0)
        stream = terminal.snapshot()[mark:]
        preview_at = preview.search(stream)
        assert preview_at, f"no preview caption ({preview.pattern!r}) before the result"
        result_at = result.search(stream)
        result_end = picture_end(terminal, stream, mark, protocol, result_at)
        pattern = IMAGE.get(protocol)
        images = pattern.finditer(stream) if pattern else ()
        image_bytes = next((len(m.group(0)) for m in images if m.end() == result_end), 0)
        if protocol == "halfblock":
            preview_end, shown = picture_end(terminal, stream, mark, protocol, preview_at), True
        else:
            # The result pane's first new picture before the result's caption, whether its
            # caption came before or after it; none means no preview frame was drawn, which
            # is counted, not timed.
            preview_end = new_picture_end(terminal.snapshot(), mark, protocol, result_at.start())
            shown = preview_end is not None
        images = list(pattern.finditer(stream)) if pattern else []
        preview_image = next((len(m.group(0)) for m in images if m.end() == preview_end), 0)
        row = {
            "preview": terminal.arrival(mark + preview_end - 1) - pressed if shown else None,
            "preview_cpu": terminal.cpu_at(mark + preview_end - 1) - cpu_pressed if shown else None,
            "result": terminal.arrival(mark + result_end - 1) - pressed,
            "bytes": len(stream),
            "image_bytes": image_bytes,
            "preview_image_bytes": preview_image if shown else None,
        }
        # A key while a full result is being computed: k=18's, then + again (k=19).
        terminal.type("+")
        time.sleep(DURING_RESULT)
        mark = terminal.mark()
        pressed = time.perf_counter()
        terminal.type("+")
        late = caption_pattern(19, "preview…")
        terminal.wait_for(
            late.search, after=mark, timeout=120, what=f"the k=19 preview ({late.pattern!r})"
        )
        terminal.wait_for(result_caption_of(19).search, after=mark, timeout=120, what="k=19")
        time.sleep(0.5)
        stream = terminal.snapshot()[mark:]
        end = picture_end(terminal, stream, mark, protocol, late.search(stream))
        shown = protocol == "halfblock" or end <= result_caption_of(19).search(stream).start()
        row["during"] = terminal.arrival(mark + end - 1) - pressed if shown else None
        return row
    finally:
        terminal.close()


def new_picture_end(output: bytes, mark: int, protocol: str, limit: int) -> int | None:
    """Where the result pane's first image after `mark` that it had not shown before ends
    (relative to `mark`), if it starts before `limit`; else None. Textual's redraws of a
    Sixel or iTerm2 picture resend the same bytes: those are not new."""
    pattern = IMAGE[protocol]
    images = [(column_of(output, m.start()), m) for m in pattern.finditer(output)]
    right = max((c for c, _ in images), default=0)
    seen = {m.group(0) for c, m in images if c == right and m.end() <= mark}
    for column, m in images:
        if column == right and m.start() >= mark and m.group(0) not in seen:
            return m.end() - mark if m.start() - mark < limit else None
    return None


def summary(found: list[dict]) -> dict:
    """Medians of the runs; a preview never drawn counts in "missing", not in the median."""
    row = {}
    for name in found[0]:
        values = [r[name] for r in found if r[name] is not None]
        row[name] = statistics.median(values) if values else float("nan")
    row["missing"] = sum(r[name] is None for r in found for name in ("preview", "during"))
    row["preview_image_bytes"] = statistics.median(
        [r["preview_image_bytes"] for r in found if r["preview_image_bytes"] is not None] or [0]
    )
    return row


def column_of(stream: bytes, start: int) -> int:
    """The column of the cursor move written just before an image (0 if none)."""
    moves = list(re.finditer(rb"\x1b\[(\d+);(\d+)H", stream[max(0, start - 40) : start]))
    return int(moves[-1].group(2)) if moves else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", help="also measure this commit's code, interleaved")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        image = make_big_image(Path(tmp))
        codes: dict[str, str | None] = {"this tree": None}
        if args.baseline:
            rev = subprocess.run(
                ["git", "-C", str(ROOT), "rev-parse", "--short", args.baseline],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            codes = {f"baseline {rev}": unpack(rev, Path(tmp) / "baseline"), **codes}
        runs = {(c, p): [] for c in codes for p in PROTOCOLS}
        for _ in range(args.repeat):
            for protocol in PROTOCOLS:  # interleaved: load changes hit every run alike
                for code, path in codes.items():
                    try:
                        runs[code, protocol].append(measure(protocol, image, path))
                    except AssertionError as exc:
                        raise SystemExit(f"{code}, {protocol}: {exc}") from None
        rows = {key: summary(found) for key, found in runs.items()}
    after = os.getloadavg()
    lines = [
        "| code | drawing | key → preview | app CPU, key → preview | key during a result → preview "
        "| key → result | × half-blocks | no preview drawn | bytes after the key | preview image "
        "| result image | 1 Mbit/s | 10 Mbit/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (code, protocol), row in rows.items():
        base = rows[code, "halfblock"]
        lines.append(
            f"| {code} | {protocol} | {row['preview'] * 1000:.0f} ms "
            f"| {row['preview_cpu'] * 1000:.0f} ms "
            f"| {row['during'] * 1000:.0f} ms | {row['result'] * 1000:.0f} ms "
            f"| {row['preview'] / base['preview']:.2f} "
            f"| {row['missing']} of {2 * len(runs[code, protocol])} "
            f"| {row['bytes'] / 1000:.0f} kB | {row['preview_image_bytes'] / 1000:.0f} kB "
            f"| {row['image_bytes'] / 1000:.0f} kB | {row['bytes'] * 8 / 1e6:.2f} s "
            f"| {row['bytes'] * 8 / 1e7:.2f} s |"
        )
    table = "\n".join(lines)
    loads = f"load average {load[0]:.1f} before, {after[0]:.1f} after"
    print(loads)
    print(table)
    for (code, protocol), found in runs.items():
        each = ", ".join(
            f"{ms(r['preview'])}/{ms(r['during'])}/{ms(r['preview_cpu'])}" for r in found
        )
        print(f"  {code} {protocol}: preview/during/CPU to the preview, each run (ms): {each}")
    if args.write_docs:
        write_docs(table, loads, args)
    return 0


def ms(seconds: float | None) -> str:
    return "none" if seconds is None else f"{seconds * 1000:.0f}"


def write_docs(table: str, loads: str, args) -> None:
    """Put the table between its markers in the graphics section of docs/performance.md."""
    path = ROOT / "docs" / "performance.md"
    text = path.read_text()
    command = f"nice -n 10 python benchmarks/graphics.py --repeat {args.repeat}"
    if args.baseline:
        command += f" --baseline {args.baseline}"
    block = f"{TABLE_START}\n`{command}` ({loads}; medians):\n\n{table}\n{TABLE_END}"
    if TABLE_START in text:
        start, end = text.index(TABLE_START), text.index(TABLE_END) + len(TABLE_END)
        text = text[:start] + block + text[end:]
    elif SECTION in text:
        at = text.index(SECTION) + len(SECTION)
        text = text[:at] + "\n\n" + block + text[at:]
    else:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n{block}\n"
    path.write_text(text)


if __name__ == "__main__":
    raise SystemExit(main())
