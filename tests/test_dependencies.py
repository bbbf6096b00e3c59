"""Every package imported at run time is declared: stdlib, ours, or in pyproject.toml.

The imports are read with ``ast`` from every module of kmc_tui/ and plugins/ (function-level
imports included: they run too), and each top-level name is mapped to the distribution that
provides it. plugins/kmc_websafe is a package of its own and is held to its own pyproject.toml.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the test extra brings tomli
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
OURS = {"kmc_tui", "kmc_kmeans", "kmc_mediancut", "kmc_minibatch", "kmc_websafe"}


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(pyproject: Path) -> set[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = list(project.get("dependencies", []))
    # An extra a user installs for one feature (e.g. dask for --dask) declares its imports too;
    # the test extra does not: nothing at run time may need it.
    for extra, extra_requirements in project.get("optional-dependencies", {}).items():
        if extra != "test":
            requirements += extra_requirements
    return {_normalize(re.match(r"[A-Za-z0-9_.-]+", r).group()) for r in requirements}


def _imports(files: list[Path], root: Path) -> dict[str, list[str]]:
    """Top-level module name -> the places that import it (absolute imports only)."""
    found: dict[str, list[str]] = {}
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                found.setdefault(top, []).append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def _undeclared(files: list[Path], pyproject: Path) -> dict[str, list[str]]:
    """Modules imported by `files` that neither stdlib, ours, nor `pyproject` provides."""
    declared = _declared(pyproject)
    providers = metadata.packages_distributions()
    missing = {}
    for module, places in _imports(files, pyproject.parent).items():
        if module in sys.stdlib_module_names or module in OURS or module == "__future__":
            continue
        dists = {_normalize(d) for d in providers.get(module, [module])}
        if not dists & declared:
            missing[module] = places
    return missing


CASES = {
    "kmc-tui": (
        sorted((ROOT / "kmc_tui").rglob("*.py"))
        + sorted(
            p
            for d in ("kmc_kmeans", "kmc_mediancut", "kmc_minibatch")
            for p in (ROOT / "plugins" / d).rglob("*.py")
        ),  # fmt: skip
        ROOT / "pyproject.toml",
    ),
    "kmc-websafe": (
        sorted((ROOT / "plugins" / "kmc_websafe" / "kmc_websafe").rglob("*.py")),
        ROOT / "plugins" / "kmc_websafe" / "pyproject.toml",
    ),
}


@pytest.mark.parametrize("package", sorted(CASES))
def test_every_run_time_import_is_declared(package):
    files, pyproject = CASES[package]
    assert len(files) >= 1
    assert _undeclared(files, pyproject) == {}


def test_the_check_sees_an_undeclared_import(tmp_path):
    module = tmp_path / "uses_yaml.py"
    module.write_text("def later():\n    import yaml\n    from PIL import Image\n")
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["Pillow>=10"]\n')
    assert list(_undeclared([module], pyproject)) == ["yaml"]
