"""The quantizer plugin contract and its registry.

Plugins are found through the entry-point group ``kmc_tui.quantizers`` (the built-ins register
there too, through this project's own ``pyproject.toml``) and as single ``.py`` files in plugin
folders given explicitly (``--plugin-dir``) or by ``KMC_TUI_PLUGIN_PATH``. Discovery imports no
plugin: a plugin is imported when first used, and an import error is kept on its record, never
raised past the registry.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .errors import ParameterError, PluginError

ENTRY_POINT_GROUP = "kmc_tui.quantizers"
PLUGIN_PATH_ENV = "KMC_TUI_PLUGIN_PATH"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class ParamSpec:
    """One parameter a quantizer declares, so front ends can offer it without knowing the plugin.

    Parameters
    ----------
    name : str
    type : {int, float, bool, str}
    default : object
    help : str
    choices : tuple, optional
        The only values allowed.
    min, max : float, optional
        Inclusive range for numbers.
    preview : object, optional
        A cheaper value front ends may use for a quick preview (e.g. fewer iterations); a
        preview uses the smaller of it and the chosen value.
    """

    name: str
    type: type
    default: Any
    help: str = ""
    choices: tuple | None = None
    min: float | None = None
    max: float | None = None
    preview: Any = None

    def coerce(self, value: Any) -> Any:
        """Convert `value` (often a string from the command line) and check it; or raise."""
        try:
            if self.type is bool and isinstance(value, str):
                low = value.strip().lower()
                if low not in _TRUE | _FALSE:
                    raise ValueError
                out = low in _TRUE
            elif self.type is bool:
                if value not in (True, False, 0, 1):
                    raise ValueError
                out = bool(value)
            elif self.type is int and isinstance(value, float) and not value.is_integer():
                raise ValueError
            else:
                out = self.type(value)
        except (TypeError, ValueError):
            raise ParameterError(
                f"parameter {self.name}: {value!r} is not a valid {self.type.__name__}"
            ) from None
        if self.choices is not None and out not in self.choices:
            raise ParameterError(
                f"parameter {self.name}: {out!r} is not one of " + ", ".join(map(str, self.choices))
            )
        if self.min is not None and out < self.min:
            raise ParameterError(f"parameter {self.name}: {out} is below the minimum {self.min}")
        if self.max is not None and out > self.max:
            raise ParameterError(f"parameter {self.name}: {out} is above the maximum {self.max}")
        return out

    def describe(self) -> str:
        """A one-line summary: ``name (type, default x; one of a|b)``."""
        parts = [self.type.__name__, f"default {self.default}"]
        if self.choices is not None:
            parts.append("one of " + "|".join(map(str, self.choices)))
        if self.min is not None or self.max is not None:
            parts.append(
                f"{'' if self.min is None else self.min}..{'' if self.max is None else self.max}"
            )
        return f"{self.name} ({', '.join(parts)})" + (f": {self.help}" if self.help else "")


@dataclass(frozen=True)
class ColorHistogram:
    """The distinct colors of an image and how many pixels have each: what a plugin quantizes.

    Minimising an objective over the distinct colors weighted by `counts` is the same as
    minimising it over every pixel, at a fraction of the cost.

    Attributes
    ----------
    colors : ndarray of uint8, shape (n, C)
        Distinct colors; C is 3 (RGB) or 4 (RGBA, only for plugins with ``supports_alpha``;
        fully transparent pixels are left out, the core gives them an entry of its own).
    counts : ndarray of int64, shape (n,)
        Pixels of each color; all positive.
    image : ndarray of uint8, shape (H, W, C) or (N, 1, C), or None
        The pixels themselves, for plugins that work on the image; (N, 1, C) when some
        (transparent) pixels were left out; may be None.
    """

    colors: np.ndarray
    counts: np.ndarray
    image: np.ndarray | None = None

    @property
    def channels(self) -> int:
        return self.colors.shape[1]

    @property
    def total(self) -> int:
        return int(self.counts.sum())


@dataclass(frozen=True)
class QuantizerOutput:
    """What a plugin returns.

    Attributes
    ----------
    palette : ndarray of uint8, shape (m, C), 1 <= m <= k
    labels : ndarray of int, shape (n,), or None
        For each distinct color of the histogram, its palette entry. When None, the core assigns
        each color to its nearest palette entry in RGB(A).
    """

    palette: np.ndarray
    labels: np.ndarray | None = None


class Quantizer:
    """Base class of quantizer plugins.

    Subclasses set the class attributes and implement :meth:`quantize`. They receive 8-bit
    colors only: reading, alpha handling (unless ``supports_alpha``), dithering, writing and
    statistics are the core's, so every plugin gets them for free.
    """

    #: Short unique name, used as ``--plugin NAME``.
    name: ClassVar[str] = ""
    #: One line saying what it does.
    description: ClassVar[str] = ""
    #: The parameters it accepts as keyword arguments of :meth:`quantize`.
    params: ClassVar[tuple[ParamSpec, ...]] = ()
    #: True if it quantizes RGBA colors itself; otherwise it sees RGB of visible pixels only.
    supports_alpha: ClassVar[bool] = False

    def quantize(
        self, hist: ColorHistogram, k: int, *, seed: int = 0, **params: Any
    ) -> QuantizerOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def warm_up(cls) -> None:
        """Import what :meth:`quantize` will need, ahead of time; optional (default: nothing).

        Front ends may call it in a background thread while the image is being read, so a slow
        import (scikit-learn: about 1 s) overlaps the decoding. It must be safe to call from any
        thread and more than once; whatever it raises is ignored (:meth:`quantize` meets the
        same problem and reports it).
        """


@dataclass
class PluginRecord:
    """A discovered plugin: known by name and origin before it is imported.

    Attributes
    ----------
    name : str
    origin : str
        Where it came from: ``"kmc-tui 0.1.0"`` (distribution of an entry point) or a file path.
    target : str
        The entry point's ``module:attr`` or the plugin file.
    error : str or None
        Why it could not be loaded, once a load was tried (or a name clash was found).
    """

    name: str
    origin: str
    target: str
    _loader: Any = field(repr=False, default=None)
    error: str | None = None
    _cls: type | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def loaded(self) -> bool:
        return self._cls is not None

    def load(self) -> type[Quantizer]:
        """Import the plugin (once) and check its declaration; raise PluginError on failure."""
        with self._lock:
            if self._cls is not None:
                return self._cls
            if self.error is not None:
                raise PluginError(f"plugin {self.name!r} is unavailable: {self.error}")
            try:
                cls = self._loader()
                _check_declaration(cls, self.name)
            except BaseException as exc:  # noqa: BLE001 - a broken plugin must never take us down
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self.error = _one_line(exc)
                raise PluginError(f"plugin {self.name!r} failed to load: {self.error}") from None
            self._cls = cls
            return cls

    @property
    def cls(self) -> type[Quantizer] | None:
        """The loaded class, or None when not loaded or broken (never raises)."""
        try:
            return self.load()
        except PluginError:
            return None

    def coerce_params(self, values: dict[str, Any] | None) -> dict[str, Any]:
        """Defaults of every declared parameter, overridden by `values` (converted and checked)."""
        cls = self.load()
        specs = {p.name: p for p in cls.params}
        out = {p.name: p.default for p in cls.params}
        for key, value in (values or {}).items():
            if key not in specs:
                known = ", ".join(specs) or "none"
                raise ParameterError(
                    f"plugin {self.name!r} has no parameter {key!r} (its parameters: {known})"
                )
            out[key] = specs[key].coerce(value)
        return out


def warm_up_in_background(record: PluginRecord) -> threading.Thread | None:
    """Run the loaded plugin's :meth:`Quantizer.warm_up` in a daemon thread (None: nothing to run).

    Only an already loaded plugin is warmed, so load errors keep being raised where they were.
    The thread swallows every error and, being a daemon, never holds up the interpreter's exit.
    """
    cls = record._cls
    warm_up = getattr(cls, "warm_up", None)
    if warm_up is None or getattr(warm_up, "__func__", None) is Quantizer.warm_up.__func__:
        return None

    def target() -> None:
        try:
            warm_up()
        except BaseException:  # noqa: BLE001 - quantize() meets it again and reports it
            pass

    thread = threading.Thread(target=target, name=f"kmc-tui warm-up {record.name}", daemon=True)
    thread.start()
    return thread


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _check_declaration(cls: Any, expected_name: str) -> None:
    if not isinstance(cls, type):
        raise TypeError(f"entry point gives {type(cls).__name__}, not a class")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError("class declares no name")
    if name != expected_name:
        raise TypeError(f"class declares name {name!r} but is registered as {expected_name!r}")
    if not isinstance(getattr(cls, "description", None), str) or not cls.description.strip():
        raise TypeError("class declares no description")
    params = getattr(cls, "params", None)
    if not isinstance(params, tuple) or not all(isinstance(p, ParamSpec) for p in params):
        raise TypeError("params must be a tuple of ParamSpec")
    for p in params:
        if p.type not in (int, float, bool, str):
            raise TypeError(f"parameter {p.name}: type must be int, float, bool or str")
        p.coerce(p.default)
    if not callable(getattr(cls, "quantize", None)):
        raise TypeError("class has no quantize method")


def _load_file_plugin(path: Path, name: str):
    def loader():
        mod_name = f"kmc_tui_plugin_{name}"
        spec = importlib.util.spec_from_file_location(mod_name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(mod_name, None)
            raise
        found = [
            obj
            for obj in vars(module).values()
            if isinstance(obj, type)
            and issubclass(obj, Quantizer)
            and obj is not Quantizer
            and obj.__module__ == mod_name
        ]
        if len(found) != 1:
            raise TypeError(
                f"{path.name} must define exactly one Quantizer subclass (found {len(found)})"
            )
        return found[0]

    return loader


class Registry:
    """All quantizer plugins that can be found, by name, in discovery order.

    Parameters
    ----------
    plugin_dirs : sequence of path-like, optional
        Folders of single-file plugins, searched after the entry points; the folders in
        ``KMC_TUI_PLUGIN_PATH`` are added unless `use_env` is False.
    use_entry_points : bool
    use_env : bool
    """

    def __init__(self, plugin_dirs=(), *, use_entry_points: bool = True, use_env: bool = True):
        self.records: dict[str, PluginRecord] = {}
        #: Records that could not be registered (a name clash), kept to be reported.
        self.rejected: list[PluginRecord] = []
        dirs = [Path(d) for d in plugin_dirs]
        if use_env:
            dirs += [Path(d) for d in os.environ.get(PLUGIN_PATH_ENV, "").split(os.pathsep) if d]
        if use_entry_points:
            for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
                dist = getattr(ep, "dist", None)
                origin = f"{dist.name} {dist.version}" if dist is not None else "entry point"
                self._add(PluginRecord(ep.name, origin, ep.value, ep.load))
        for folder in dirs:
            if not folder.is_dir():
                self.rejected.append(
                    PluginRecord(
                        folder.name, str(folder), str(folder), error="plugin folder does not exist"
                    )
                )
                continue
            for file in sorted(folder.glob("*.py")):
                if file.name.startswith("_"):
                    continue
                self._add(
                    PluginRecord(
                        file.stem, str(file), str(file), _load_file_plugin(file, file.stem)
                    )
                )

    def _add(self, record: PluginRecord) -> None:
        if record.name in self.records:
            record.error = f"name already taken by {self.records[record.name].origin}"
            self.rejected.append(record)
        else:
            self.records[record.name] = record

    def __iter__(self):
        return iter(self.records.values())

    def __contains__(self, name: str) -> bool:
        return name in self.records

    def names(self) -> list[str]:
        return list(self.records)

    def get(self, name: str) -> PluginRecord:
        """The record of plugin `name`; PluginError naming the ones there are if unknown."""
        try:
            return self.records[name]
        except KeyError:
            known = ", ".join(self.records) or "none"
            raise PluginError(f"no quantizer plugin named {name!r} (available: {known})") from None


_default: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The registry of entry points and ``KMC_TUI_PLUGIN_PATH`` folders, built once."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Registry()
        return _default
