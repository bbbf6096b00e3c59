"""How quickly the terminal UI answers: first frame, and key press to updated preview.

1. ``kmc-tui samples/`` to first frame: the installed command runs in tmux; the clock stops when
   the file list is on screen (polled every 10 ms with ``capture-pane``).
2. Key press to updated preview / full result, for a 0.3 MP sample and a 12 MP image (made here
   by upscaling a sample into a temporary folder, never committed): the real app in Textual's
   headless mode; ``+`` goes in through the driver like a terminal's key; the clock stops when
   the app has handled the preview (then the full result) for the new k.

Usage::

    python benchmarks/tui_latency.py [--repeat 3] [--k 16] [--big-only | --small-only]
                                     [--preview-pixels N]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def first_frame_seconds(folder: Path, repeat: int) -> list[float]:
    script = Path(sys.executable).parent / "kmc-tui"
    times = []
    for _ in range(repeat):
        sock = f"kmc-bench-{uuid.uuid4().hex[:8]}"
        tmux = ["tmux", "-L", sock]
        start = time.perf_counter()
        subprocess.run(
            tmux
            + [
                "new-session",
                "-d",
                "-s",
                "b",
                "-x",
                "120",
                "-y",
                "40",
                f"TERM=xterm-256color {script} {folder}",
            ],
            check=True,
        )
        try:
            while True:
                screen = subprocess.run(
                    tmux + ["capture-pane", "-t", "b", "-p"], capture_output=True, text=True
                ).stdout
                if "astronaut.png" in screen:
                    times.append(time.perf_counter() - start)
                    break
                if time.perf_counter() - start > 60:
                    raise RuntimeError("no first frame within 60 s")
                time.sleep(0.01)
        finally:
            subprocess.run(tmux + ["kill-server"], capture_output=True)
        time.sleep(0.5)
    return times


def make_big_image(folder: Path) -> Path:
    from PIL import Image

    target = folder / "chelsea_12mp.jpg"
    with Image.open(ROOT / "samples" / "chelsea.png") as src:
        big = src.convert("RGB").resize((4000, 3000), Image.Resampling.LANCZOS)
    big.save(target, quality=92)
    return target


async def key_latency(image: Path, k: int, repeat: int) -> dict[str, list[float]]:
    from textual import events

    from kmc_tui.tui.app import KmcApp

    app = KmcApp(image, k=k)
    session = app.session
    out: dict[str, list[float]] = {"open_to_result": [], "key_to_preview": [], "key_to_result": []}
    async with app.run_test(size=(120, 40)) as pilot:
        start = time.perf_counter()
        while not (session.result is not None and session.result_settings == session.settings):
            await asyncio.sleep(0.005)
        out["open_to_result"].append(time.perf_counter() - start)
        for _ in range(repeat):
            await asyncio.sleep(0.5)  # let the last frame settle, as between a person's keys
            target_k = session.settings.k + 1
            key = events.Key("plus", "+")
            key.set_sender(app)
            start = time.perf_counter()
            app._driver.send_message(key)
            preview_seen = None
            while True:
                await asyncio.sleep(0.002)
                caption = app.screen.query_one("#result").caption
                if (
                    preview_seen is None
                    and f"k={target_k} " in caption
                    and "computing" not in caption
                ):
                    preview_seen = time.perf_counter() - start
                if (
                    session.result is not None
                    and session.result_settings == session.settings
                    and session.settings.k == target_k
                ):
                    break
            out["key_to_preview"].append(preview_seen)
            out["key_to_result"].append(time.perf_counter() - start)
        await pilot.pause()
    return out


def fmt(values: list[float]) -> str:
    return (
        f"median {statistics.median(values) * 1000:7.0f} ms  (n={len(values)}, "
        f"min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--big-only", action="store_true")
    parser.add_argument("--small-only", action="store_true")
    parser.add_argument(
        "--preview-pixels",
        type=int,
        default=None,
        help="try another size for the quick preview's copy",
    )
    args = parser.parse_args()
    if args.k + args.repeat > 256:
        parser.error("--k plus --repeat must stay at most 256: + stops there (e.g. --k 250)")
    if args.preview_pixels:
        import kmc_tui.tui.screens.main

        kmc_tui.tui.screens.main.PREVIEW_PIXELS = args.preview_pixels

    if not args.big_only and not args.preview_pixels:
        if shutil.which("tmux"):
            first = first_frame_seconds(ROOT / "samples", args.repeat)
            print(f"kmc-tui samples/ -> first frame : {fmt(first)}")
        else:
            print("tmux not found: first-frame time not measured")
    cases = []
    if not args.big_only:
        cases.append(("0.3 MP chelsea.png (451x300 = 0.14 MP)", ROOT / "samples" / "chelsea.png"))
        cases.append(("0.3 MP coffee.png (600x400 = 0.24 MP)", ROOT / "samples" / "coffee.png"))
    with tempfile.TemporaryDirectory() as tmp:
        if not args.small_only:
            cases.append(("12 MP (4000x3000, upscaled chelsea)", make_big_image(Path(tmp))))
        for label, path in cases:
            res = asyncio.run(key_latency(path, args.k, args.repeat))
            print(f"{label}, k={args.k} then +:")
            print(f"    open -> full result      : {fmt(res['open_to_result'])}")
            print(f"    key  -> updated preview  : {fmt(res['key_to_preview'])}")
            print(f"    key  -> full result+stats: {fmt(res['key_to_result'])}")


if __name__ == "__main__":
    main()
