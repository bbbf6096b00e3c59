"""Several real CLI processes writing one output at once: never a corrupt file; without
--force exactly one wins and the others say the file exists; with --force the file is one
writer's whole result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from tui_support import HOPPER

WRITERS = 4


def start(k: int, out: Path, force: bool, gate: Path) -> subprocess.Popen:
    """The real CLI, held after writing its bytes and before putting them in place until
    `gate`/go exists, so every writer reaches that moment together (past the CLI's early
    "already exists" check)."""
    code = textwrap.dedent(f"""
        import os, sys, time
        import kmc_tui.fsio as fsio
        from kmc_tui.cli import main

        write_all = fsio._write_all

        def held(fd, data):
            write_all(fd, data)
            open(os.path.join({str(gate)!r}, "ready-%d" % os.getpid()), "w").close()
            while not os.path.exists(os.path.join({str(gate)!r}, "go")):
                time.sleep(0.01)

        fsio._write_all = held
        sys.exit(main(["compress", "-i", {str(HOPPER)!r}, "-o", {str(out)!r}, "-k", "{k}",
                       "--plugin", "mediancut", "--json"] + (["--force"] if {force!r} else [])))
    """)
    env = dict(os.environ)
    env.pop("KMC_TUI_PLUGIN_PATH", None)
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.parametrize("force", [False, True], ids=["no-force", "force"])
def test_concurrent_writers_to_one_output(tmp_path, force):
    out = tmp_path / "out.png"
    gate = tmp_path.parent / f"gate-{tmp_path.name}"
    gate.mkdir()
    procs = {k: start(k, out, force, gate) for k in range(2, 2 + WRITERS)}
    deadline = time.monotonic() + 120
    while len(list(gate.glob("ready-*"))) < WRITERS and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(list(gate.glob("ready-*"))) == WRITERS  # all hold their bytes, none in place
    assert not out.exists()
    (gate / "go").touch()
    done = {k: (p.wait(timeout=120), *p.communicate()) for k, p in procs.items()}
    winners = [k for k, (code, _, _) in done.items() if code == 0]
    if force:
        assert len(winners) == WRITERS, done
    else:
        assert len(winners) == 1, done
        for k, (code, _, err) in done.items():
            if k not in winners:
                assert code == 1 and err.count("\n") == 1 and "already exists" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no temporaries
    with PILImage.open(out) as im:
        colors = len(np.unique(np.asarray(im.convert("RGB")).reshape(-1, 3), axis=0))
    # The file is whole and is the result of one writer: its colors and its size.
    records = {k: json.loads(done[k][1]) for k in winners}
    assert any(
        r["colors"] == colors and r["output_bytes"] == out.stat().st_size for r in records.values()
    ), (colors, records)
