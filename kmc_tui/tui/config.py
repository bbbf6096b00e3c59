"""What the terminal UI remembers between runs: the last folder, k, plugin and settings.

One small JSON file in the user's config folder (``platformdirs``: ``~/.config/kmc-tui`` on
Linux). Reading never fails the app: a missing file is the defaults, an unreadable or damaged
one is the defaults plus a one-line warning. No Textual here.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..formats import FORMATS

#: File-list orders, in the order the `o` key goes through them.
SORT_ORDERS = ("name", "size", "date")


def default_config_path() -> Path:
    """The config file in the user's config folder (it need not exist)."""
    from platformdirs import user_config_path

    return user_config_path("kmc-tui", appauthor=False) / "config.json"


@dataclass
class Config:
    """The remembered state. Unknown or ill-typed values read from a file are dropped.

    Attributes
    ----------
    folder : str or None
        The folder last browsed.
    k, plugin, dither, format : the last settings.
    params : dict of str to dict
        Parameter values chosen per plugin.
    sort : {"name", "size", "date"}
        The file list's order.
    """

    folder: str | None = None
    k: int = 16
    plugin: str = "kmeans"
    dither: float = 0.0  # the strength, 0..1 (true/false read as 1/0)
    format: str = "png"
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    sort: str = "name"


_CHECKS = {
    "folder": lambda v: isinstance(v, str),
    "k": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "plugin": lambda v: isinstance(v, str),
    "dither": lambda v: isinstance(v, (bool, int, float)) and 0 <= v <= 1,
    "format": lambda v: v in FORMATS,
    "params": lambda v: isinstance(v, dict) and all(isinstance(p, dict) for p in v.values()),
    "sort": lambda v: v in SORT_ORDERS,
}


def load_config(path: Path) -> tuple[Config, str | None]:
    """The config in `path` and a warning, or None; the defaults when there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config(), None
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        return Config(), f"{path}: cannot read the config ({why}); using the defaults"
    try:
        data = json.loads(text)
    except ValueError as exc:
        return Config(), f"{path}: not valid JSON ({exc}); using the defaults"
    if not isinstance(data, dict):
        return Config(), f"{path}: not a JSON object; using the defaults"
    known = {f.name for f in fields(Config)}
    kept = {key: v for key, v in data.items() if key in known and _CHECKS[key](v)}
    return Config(**kept), None


def save_config(config: Config, path: Path) -> str | None:
    """Write `config` to `path` (through a temporary file and a rename); an error, or None."""
    from ..errors import KmcError
    from ..fsio import write_atomic

    data = (json.dumps(asdict(config), indent=2, sort_keys=True) + "\n").encode()
    try:
        os.makedirs(path.parent, exist_ok=True)
        write_atomic(path, data, force=True)
    except (OSError, KmcError) as exc:
        return f"{path}: cannot save the config: {exc}"
    return None
