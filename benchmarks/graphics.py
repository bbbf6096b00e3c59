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


def measure(protocol: str, image: Path) -> dict:
    terminal = PtyTerminal(
        ["tui", image.name, "--graphics", protocol], cwd=image.parent, columns=120, rows=36
    )
    try:
        terminal.wait_for(lambda out: b"k=16 kmeans" in out and b" colors" in out, timeout=120)
        time.sleep(1.0)
        mark = terminal.mark()
        pressed = time.perf_counter()
        terminal.type("+")
        # The full result's caption ("k=17 … N colors") comes in the same frame as its image.
        terminal.wait_for(
            lambda out: re.search(rb"k=17 kmeans[^\x1b]*\d+ colors", out), after=mark, timeout=120
        )
        time.sleep(1.0)
        stream = terminal.snapshot()[mark:]
        preview_at = stream.find(b"preview")
        result = re.search(rb"k=17 kmeans[^\x1b]*\d+ colors", stream)
        if protocol == "halfblock":
            preview_end, result_end = preview_at, result.end()
            image_bytes = 0
        else:
            images = list(IMAGE[protocol].finditer(stream))
            after_preview = [m for m in images if m.start() > preview_at]
            after_result = [m for m in images if m.start() > result.start()]
            preview_end = after_preview[0].end() if after_preview else preview_at
            result_end = after_result[0].end() if after_result else result.end()
            image_bytes = len(after_result[0].group(0)) if after_result else 0
        return {
            "preview": terminal.arrival(mark + preview_end - 1) - pressed,
            "result": terminal.arrival(mark + result_end - 1) - pressed,
            "bytes": len(stream),
            "image_bytes": image_bytes,
        }
    finally:
        terminal.close()


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
