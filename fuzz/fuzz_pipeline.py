"""Coverage-guided fuzzing (atheris) of read -> quantize -> encode, seeded from tests/data.

atheris is a tool, not a dependency: ``.venv/bin/pip install atheris``. Run (nice: the machine
is shared), for at least ten minutes:

    nice -n 10 .venv/bin/python fuzz/fuzz_pipeline.py -max_total_time=900 \\
        -artifact_prefix=/tmp/kmc-fuzz/ -timeout=60 -rss_limit_mb=4096

Each input is 3 bytes of options (k, plugin/format/dither) and then a file. A finding is any
exception other than KmcError (the one-line errors the CLI shows), a hang, or a result whose
encoded bytes do not decode to the palette's colors. Findings go to -artifact_prefix; each
fixed one is copied into tests/data/fuzz/ and read by tests/test_fuzz_findings.py.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["kmc_tui", "PIL"]):
    from PIL import Image as PILImage

    from kmc_tui.api import process
    from kmc_tui.errors import KmcError
    from kmc_tui.read import read_image

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ("mediancut", "octree", "kmeans")
FORMATS = ("png", "gif", "webp", "jpeg")
#: Inputs decoded larger than this are skipped: they are slow, not interesting.
MAX_PIXELS = 1 << 18
WORK = Path(tempfile.mkdtemp(prefix="kmc-fuzz-"))


def options(head: bytes) -> tuple[int, str, str, bool]:
    k = 1 + head[0]  # 1..256
    plugin = PLUGINS[head[1] % len(PLUGINS)]
    fmt = FORMATS[(head[1] // len(PLUGINS)) % len(FORMATS)]
    return k, plugin, fmt, bool(head[2] & 1)


def one_input(data: bytes) -> None:
    if len(data) < 4:
        return
    k, plugin, fmt, dither = options(data[:3])
    path = WORK / "input"
    path.write_bytes(data[3:])
    try:
        image = read_image(path)
    except KmcError:
        return
    if image.width * image.height > MAX_PIXELS:
        return
    try:
        result = process(image, k, plugin=plugin, format=fmt, dither=dither)
    except KmcError:
        return
    with PILImage.open(io.BytesIO(result.data)) as written:
        written.load()
        if written.size != (image.width, image.height):
            raise AssertionError(f"wrote {written.size} for {image.width}x{image.height}")
    if fmt in ("png", "gif") and result.quantized.colors > k:
        raise AssertionError(f"{result.quantized.colors} colors for k={k}")


def seed_corpus() -> Path:
    """tests/data's small image files, each behind 3 option bytes, in a fresh folder."""
    corpus = Path(tempfile.mkdtemp(prefix="kmc-fuzz-corpus-"))
    files = [p for p in sorted((ROOT / "tests" / "data").rglob("*")) if p.is_file()]
    for n, path in enumerate(f for f in files if 0 < f.stat().st_size <= 64_000):
        head = bytes([(n * 37) % 256, n % 12, n % 2])
        (corpus / f"{n:04d}").write_bytes(head + path.read_bytes())
    return corpus


def main() -> None:
    argv = [arg for arg in sys.argv if not arg.startswith("--no-seed")]
    corpus_dirs = [a for a in argv[1:] if not a.startswith("-")]
    if not corpus_dirs:  # a fresh run: grow a corpus from tests/data
        argv.append(str(seed_corpus()))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
