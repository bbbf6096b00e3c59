"""What a `kmc-tui` process imports before it has work to do: the command line is checked
before numpy or any other heavy library is imported, and `import kmc_tui` imports a module of
the API only when one of its names is first used (docs/performance.md, "Test suite")."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("numpy", "PIL", "imageio", "skimage", "scipy", "sklearn", "textual")

# Runs the real `main` of the CLI in this interpreter, then prints the heavy packages imported.
_PROBE = """
import json, sys
from kmc_tui.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
loaded = [m for m in HEAVY if m in sys.modules]
print(json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
""".replace("HEAVY", repr(HEAVY))


def imported_by(*argv, cwd=None) -> tuple[int, list[str]]:
    env = dict(os.environ)
    env.pop("KMC_TUI_PLUGIN_PATH", None)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )
    record = json.loads(done.stderr.strip().splitlines()[-1])
    return record["code"], record["loaded"]


def test_import_kmc_tui_is_light_and_its_names_arrive_when_used():
    code = (
        "import sys, kmc_tui\n"
        "before = [m for m in HEAVY if m in sys.modules]\n"
        "from kmc_tui import compress, encode, quantize, KmcError\n"
        "import kmc_tui.encode, kmc_tui.quantize\n"
        "assert callable(kmc_tui.encode) and callable(kmc_tui.quantize)\n"
        "assert set(kmc_tui.__all__) <= set(dir(kmc_tui))\n"
        "print(before, [getattr(kmc_tui, n).__module__ for n in ('compress', 'KmcError')])\n"
    ).replace("HEAVY", repr(HEAVY))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "['kmc_tui.api',", "'kmc_tui.errors']"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["compress", "--help"],
        ["compress", "-k", "many", "in.png"],
        ["compress", "-i", "in.png", "--optimize", "9"],
        ["-i", "in.png", "-k", "8", "--timeout", "nan"],
        ["plugins", "--plugin-dir", "no-such-folder"],
    ],
    ids=" ".join,
)
def test_help_and_option_errors_import_nothing_heavy(argv, tmp_path):
    code, loaded = imported_by(*argv, cwd=tmp_path)
    assert code in (0, 2)
    assert loaded == []


def test_listing_plugins_imports_no_library_a_plugin_uses_to_quantize():
    code, loaded = imported_by("plugins")
    assert code == 0
    assert set(loaded) <= {"numpy"}
