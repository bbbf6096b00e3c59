"""What each way of drawing pictures costs: key press to new image, and bytes per frame.

The installed ``kmc-tui`` runs under a pseudo-terminal of 120×36 cells of 10×20 pixels with
``--graphics`` forced to each protocol in turn (half-blocks are the baseline, in the same run),
on a 12 MP image (a sample upscaled into a temporary folder, never committed). Once the first
result is shown, ``+`` is typed; the clock stops when the result pane's new picture (the quick
preview, then the full result) has arrived in full on the terminal's side. The bytes are all
the app wrote from the key until a second after the full result, and the result pane's image
alone; the seconds
those take over a 1 Mbit/s and a 10 Mbit/s link are computed from them.

Usage::

    python benchmarks/graphics.py [--repeat 3] [--write-docs]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
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


def make_big_image(folder: Path) -> Path:
    from PIL import Image

    with Image.open(ROOT / "samples" / "chelsea.png") as src:
        big = src.convert("RGB").resize((4000, 3000), Image.Resampling.LANCZOS)
    path = folder / "big.png"
    big.save(path, compress_level=1)
    return path


def caption_pattern(k: int, status: str) -> re.Pattern:
    """The result pane's caption as the app writes it (its own `result_caption`), with
    `status` a regular expression: the wait follows the app when its captions change."""
    text = result_caption(Settings(k=k, plugin="kmeans"), "\0")
    before, after = (re.escape(part) for part in text.split("\0"))
    return re.compile(f"{before}{status}{after}".encode())


def measure(protocol: str, image: Path) -> dict:
    # --no-config: the remembered k (a run before this one pressed +) must not be read,
    # nor this run's written.
    terminal = PtyTerminal(
        ["tui", "--no-config", image.name, "--graphics", protocol],
        cwd=image.parent,
        columns=120,
        rows=36,
    )
    first, preview, result = (
        caption_pattern(16, r"\d+-color palette"),
        caption_pattern(17, "preview…"),
        caption_pattern(17, r"\d+-color palette"),
    )
    try:
        terminal.wait_for(first.search, timeout=120, what=f"the k=16 result ({first.pattern!r})")
        time.sleep(1.0)
        mark = terminal.mark()
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
        if protocol == "halfblock":
            # The caption is the pane's first line: its frame ends with the burst holding it.
            preview_end = terminal.burst_end(mark + preview_at.end()) - mark
            result_end = terminal.burst_end(mark + result_at.end()) - mark
            image_bytes = 0
        else:
            # The result pane's images: the rightmost column of the two panes' placements.
            images = [(column_of(stream, m.start()), m) for m in IMAGE[protocol].finditer(stream)]
            right = max((c for c, _ in images), default=0)
            panes = [m for c, m in images if c == right]
            after_preview = [m for m in panes if m.start() > preview_at.start()]
            after_result = [m for m in panes if m.start() > result_at.start()]
            assert after_preview and after_result, f"no {protocol} image after the captions"
            preview_end, result_end = after_preview[0].end(), after_result[0].end()
            image_bytes = len(after_result[0].group(0))
        return {
            "preview": terminal.arrival(mark + preview_end - 1) - pressed,
            "result": terminal.arrival(mark + result_end - 1) - pressed,
            "bytes": len(stream),
            "image_bytes": image_bytes,
        }
    finally:
        terminal.close()


def column_of(stream: bytes, start: int) -> int:
    """The column of the cursor move written just before an image (0 if none)."""
    moves = list(re.finditer(rb"\x1b\[(\d+);(\d+)H", stream[max(0, start - 40) : start]))
    return int(moves[-1].group(2)) if moves else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    import os

    load = os.getloadavg()[0]
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        image = make_big_image(Path(tmp))
        runs = {p: [] for p in PROTOCOLS}
        for _ in range(args.repeat):
            for protocol in PROTOCOLS:  # interleaved: load changes hit every protocol alike
                runs[protocol].append(measure(protocol, image))
        for protocol, found in runs.items():
            rows[protocol] = {k: statistics.median(r[k] for r in found) for k in found[0]}
    base = rows["halfblock"]
    lines = [
        "| drawing | key → preview | key → result | × half-blocks | bytes after the key "
        "| result image | 1 Mbit/s | 10 Mbit/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for protocol, row in rows.items():
        lines.append(
            f"| {protocol} | {row['preview'] * 1000:.0f} ms | {row['result'] * 1000:.0f} ms "
            f"| {row['preview'] / base['preview']:.2f} | {row['bytes'] / 1000:.0f} kB "
            f"| {row['image_bytes'] / 1000:.0f} kB | {row['bytes'] * 8 / 1e6:.2f} s "
            f"| {row['bytes'] * 8 / 1e7:.2f} s |"
        )
    table = "\n".join(lines)
    print(f"load average {load:.1f}")
    print(table)
    if args.write_docs:
        write_docs(table, load, args.repeat)
    return 0


def write_docs(table: str, load: float, repeat: int) -> None:
    import platform

    path = ROOT / "docs" / "performance.md"
    text = path.read_text()
    body = (
        f"{SECTION}\n\n"
        f"`python benchmarks/graphics.py --repeat {repeat} --write-docs` on {platform.machine()} "
        f"({platform.python_version()}), load average {load:.1f} on 2 cores shared with other "
        "work. A 12 MP image (4000×3000) in a 120×36 terminal of 10×20-pixel cells "
        "(a pseudo-terminal: no terminal draws, so this is the app's side: sampling, encoding, "
        "writing); `+` from k=16 to 17; medians of the runs. The bytes are everything written "
        "from the key until a second after the full result (preview and result frames, text, "
        "notifications); "
        "the result image is the result pane's picture alone. The link columns are the "
        "bytes' time on a link of that speed.\n\n"
        f"{table}\n"
    )
    if SECTION in text:
        start = text.index(SECTION)
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + body + (text[end:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + body
    path.write_text(text)


if __name__ == "__main__":
    raise SystemExit(main())
