"""The option matrix of issue 17: input kinds × k extremes × formats × dither × plugins × each
plugin parameter at its limits and just past them × odd option values, each run through the real
CLI and checked the same way. tests/test_option_matrix.py runs a covering sample (every value of
every axis at least once); benchmarks/option_matrix.py runs as many as asked.

A run passes when it gives a valid file whose ``--json`` figures agree with what was written, or
a one-line refusal with the documented exit status (2: a bad command line, nothing written;
1: the run failed, as a plugin out of time); never a traceback, a hang, or a leftover file.
"""

from __future__ import annotations

import json
import random
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from conftest import run_cli
from PIL import Image as PILImage

DATA = Path(__file__).resolve().parent / "data"

K_VALUES = (1, 2, 255, 256, 257, 65536, 65537)
FORMATS = ("png", "gif", "webp", "jpg")
PALETTE = ("png", "gif")
#: Each plugin's parameters at their limits and just past them ("bad" ones must be refused).
#: (name, value, good) — kept in step with `kmc-tui plugins`.
PLUGIN_PARAMS = {
    "kmeans": [
        ("max_iter", "1", True),
        ("max_iter", "10000", True),
        ("max_iter", "0", False),
        ("max_iter", "10001", False),
        ("color_space", "rgb", True),
        ("color_space", "hsv", False),
    ],
    "mediancut": [
        ("kmeans", "0", True),
        ("kmeans", "100", True),
        ("kmeans", "-1", False),
        ("kmeans", "101", False),
        ("method", "maxcoverage", True),
        ("method", "octree", False),
    ],
    "minibatch": [
        ("batch_size", "16", True),
        ("batch_size", "15", False),
        ("batch_size", "1048577", False),
        ("sample_size", "1024", True),
        ("sample_size", "16777217", False),
        ("max_iter", "1", True),
        ("max_iter", "0", False),
    ],
    "octree": [
        ("kmeans", "100", True),
        ("kmeans", "101", False),
        ("kmeans", "1.5", False),
    ],
}
#: Odd values of the other options: (argv, good, exit status when it is good).
ODD_OPTIONS = [
    ([], True, 0),
    (["--seed", "4294967295"], True, 0),
    (["--seed", "4294967296"], False, 2),
    (["--timeout", "inf"], True, 0),
    (["--timeout", "1e-9"], True, 1),  # valid, but no plugin finishes in a nanosecond
    (["--timeout", "nan"], False, 2),
]


def _noise(h: int, w: int, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _save(array: np.ndarray, mode: str, path: Path) -> Path:
    PILImage.fromarray(array, mode).save(path)
    return path


def make_input(kind: str, folder: Path) -> Path:
    """A small input file of `kind` in `folder` (made, or copied from tests/data)."""
    h, w = 16, 24
    if kind == "rgb":
        return _save(_noise(h, w), "RGB", folder / "rgb.png")
    if kind in ("rgba-partial", "rgba-transparent"):
        rgba = np.dstack([_noise(h, w), np.zeros((h, w), np.uint8)])
        if kind == "rgba-partial":
            rgba[..., 3] = np.linspace(0, 255, h * w).reshape(h, w).round()
        return _save(rgba, "RGBA", folder / f"{kind}.png")
    if kind == "gray":
        return _save(_noise(h, w)[..., 0], "L", folder / "gray.png")
    if kind == "gray-alpha":
        la = np.dstack([_noise(h, w)[..., 0], np.linspace(0, 255, h * w).reshape(h, w)])
        return _save(la.astype(np.uint8), "LA", folder / "gray-alpha.png")
    if kind == "1x1":
        return _save(_noise(1, 1), "RGB", folder / "1x1.png")
    if kind == "1xN":
        return _save(_noise(1, 97), "RGB", folder / "1xN.png")
    if kind == "one-color":
        return _save(np.full((h, w, 3), 77, np.uint8), "RGB", folder / "one-color.png")
    if kind == "few-colors":
        few = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
        return _save(few[np.arange(h * w).reshape(h, w) % 3], "RGB", folder / "few.png")
    copied = {
        "rgb16": DATA / "pngsuite" / "basn2c16.png",  # 16-bit RGB
        "rgba16": DATA / "pngsuite" / "basn6a16.png",  # 16-bit RGBA
        "palette-trns": DATA / "pngsuite" / "tbbn3p08.png",  # palette with tRNS
        "animation": DATA / "pillow" / "dispose_bgnd.gif",
        "cmyk": DATA / "pillow" / "pil_sample_cmyk.jpg",
    }[kind]
    target = folder / copied.name
    target.write_bytes(copied.read_bytes())
    return target


KINDS = (
    "rgb",
    "rgba-partial",
    "rgba-transparent",
    "gray",
    "gray-alpha",
    "rgb16",
    "rgba16",
    "palette-trns",
    "1x1",
    "1xN",
    "one-color",
    "few-colors",
    "animation",
    "cmyk",
)


@dataclass(frozen=True)
class Case:
    kind: str
    k: int
    fmt: str
    dither: bool
    plugin: str
    param: tuple[str, str, bool] | None
    odd: tuple = field(default_factory=tuple)  # one entry of ODD_OPTIONS, as a tuple

    @property
    def argv_tail(self) -> list[str]:
        argv = ["-k", str(self.k), "--plugin", self.plugin]
        if self.dither:
            argv.append("--dither")
        if self.param is not None:
            argv += ["--param", f"{self.param[0]}={self.param[1]}"]
        return argv + list(self.odd[0])

    def expected_status(self) -> frozenset[int]:
        """The exit statuses this case may end with.

        2 for a bad command line. k and the other options are checked first; the plugin's
        parameters need the plugin, whose loading `--timeout` bounds too, so with no time at
        all (1e-9 s) a run fails with 1 before they can be checked. That timeout may also give
        a result: a plugin that loads in a moment, or is not needed (fewer colors than k).
        """
        bad_k = self.k > 65536 or (self.fmt in PALETTE and self.k > 256)
        if bad_k or not self.odd[1]:
            return frozenset({2})
        no_time = self.odd[2] == 1
        bad_param = self.param is not None and not self.param[2]
        if bad_param:
            return frozenset({1, 2}) if no_time else frozenset({2})
        return frozenset({0, 1}) if no_time else frozenset({0})

    def __str__(self) -> str:
        return " ".join([self.kind, f"-o out.{self.fmt}", *self.argv_tail])


def covering_cases() -> list[Case]:
    """Every value of every axis at least once (row i takes value i of each axis, cycling)."""
    params = [(plugin, p) for plugin, ps in PLUGIN_PARAMS.items() for p in [None, *ps]]
    rows = max(len(KINDS), len(K_VALUES), len(params), len(ODD_OPTIONS))
    return [
        Case(
            KINDS[i % len(KINDS)],
            K_VALUES[i % len(K_VALUES)],
            FORMATS[i % len(FORMATS)],
            bool(i % 2),
            params[i % len(params)][0],
            params[i % len(params)][1],
            tuple(ODD_OPTIONS[i % len(ODD_OPTIONS)]),
        )
        for i in range(rows)
    ]


def random_cases(n: int, seed: int = 0) -> list[Case]:
    rng = random.Random(seed)
    cases = []
    for _ in range(n):
        plugin = rng.choice(list(PLUGIN_PARAMS))
        param = rng.choice([None, None, *PLUGIN_PARAMS[plugin]])
        cases.append(
            Case(
                rng.choice(KINDS),
                rng.choice(K_VALUES),
                rng.choice(FORMATS),
                rng.random() < 0.5,
                plugin,
                param,
                tuple(rng.choice(ODD_OPTIONS)),
            )
        )
    return cases


def decoded_colors(path: Path) -> int:
    """Distinct RGBA colors of the first frame, every fully transparent pixel counted as one."""
    with PILImage.open(path) as im:
        rgba = np.asarray(im.convert("RGBA")).reshape(-1, 4).copy()
    rgba[rgba[:, 3] == 0] = 0
    return len(np.unique(rgba, axis=0))


def run_case(case: Case, folder: Path, *, timeout: float = 180) -> list[str]:
    """Run `case` through the real CLI in `folder`; the problems found (empty: it passed)."""
    folder.mkdir(parents=True, exist_ok=True)
    src = make_input(case.kind, folder)
    out = folder / f"out.{case.fmt}"
    argv = ["compress", "-i", str(src), "-o", str(out)]
    try:
        done = run_cli(*argv, *case.argv_tail, "--json", timeout=timeout)
    except subprocess.TimeoutExpired:
        return [f"hung for {timeout} s"]
    problems = []
    expected = case.expected_status()
    if done.returncode not in expected:
        problems.append(f"exit {done.returncode}, expected {expected}: {done.stderr[-300:]}")
    if "Traceback" in done.stderr:
        problems.append("traceback: " + done.stderr[-500:])
    left = sorted(p.name for p in folder.iterdir() if p != src and p != out)
    if left:
        problems.append(f"left behind: {left}")
    if done.returncode != 0:
        lines = done.stderr.splitlines()
        if not (len(lines) == 1 and lines[0].startswith("kmc-tui: error: ")):
            problems.append(f"not one error line: {done.stderr[-300:]!r}")
        if out.exists():
            problems.append("an output was written by a failed run")
        return problems
    try:
        record = json.loads(done.stdout)
    except json.JSONDecodeError:
        return [*problems, f"--json is not one JSON object: {done.stdout[:300]!r}"]
    if not out.exists():
        return [*problems, "exit 0 but no output"]
    size = out.stat().st_size
    if record["output_bytes"] != size:
        problems.append(f"output_bytes {record['output_bytes']} but the file has {size}")
    with PILImage.open(out) as im:
        im.load()
        if (record["width"], record["height"]) != im.size:
            problems.append(f"size {record['width']}x{record['height']} but the file {im.size}")
    if record["exact_colors"]:
        if record["colors"] > case.k:
            problems.append(f"{record['colors']} colors for k={case.k}")
        written = decoded_colors(out)
        if record["colors"] != written:
            problems.append(f"colors {record['colors']} but the file holds {written}")
    return problems
