"""Discovery of quantizer plugins, and the registry that holds them by name.

Plugins are found through the entry-point group ``kmc_tui.quantizers`` (the built-ins register
there too, through this project's own ``pyproject.toml``) and as single ``.py`` files in plugin
folders given explicitly (``--plugin-dir``) or by ``KMC_TUI_PLUGIN_PATH``. Every one of them comes
in through :meth:`Registry.register`, as does a class the conformance kit checks. Discovery
imports no plugin: a plugin is imported when first used, and an import error is kept on its
record, never raised past the registry. The contract itself is :mod:`kmc_tui.plugin_api`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

from .errors import ContractError, ParameterError, PluginError, describe
from .plugin_api import (
    NAME_PATTERN,
    ColorHistogram,
    ParamSpec,
    Quantizer,
    QuantizerOutput,
    validate_declaration,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "PLUGIN_PATH_ENV",
    "PluginRecord",
    "Registry",
    "default_registry",
    "warm_up_in_background",
    # The contract's names, re-exported: plugins written before kmc_tui.plugin_api existed
    # import them from here.
    "ColorHistogram",
    "ParamSpec",
    "Quantizer",
    "QuantizerOutput",
]

ENTRY_POINT_GROUP = "kmc_tui.quantizers"
PLUGIN_PATH_ENV = "KMC_TUI_PLUGIN_PATH"


@dataclass(eq=False)
class PluginRecord:
    """A registered plugin: known by name and origin before it is imported.

    Attributes
    ----------
    name : str
    origin : str
        Where it came from: ``"kmc-tui 0.1.0"`` (distribution of an entry point) or a file path.
    target : str
        The entry point's ``module:attr`` or the plugin file.
    loader : callable
        Returns the plugin class; called once, on first use.
    error : str or None
        Why it cannot be used (it failed to load, or its name is claimed twice); it stays.
    last_error : str or None
        The latest failure of this plugin, as one line: loading, running or its output.
    last_traceback : str or None
        The plugin's traceback for `last_error`, when it raised.
    """

    name: str
    origin: str
    target: str
    loader: Callable[[], Any] = field(repr=False, default=None)
    error: str | None = None
    last_error: str | None = None
    last_traceback: str | None = None
    _cls: type | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def loaded(self) -> bool:
        return self._cls is not None and self.error is None

    def load(self) -> type[Quantizer]:
        """Import the plugin (once) and check its declaration; raise PluginError on failure."""
        with self._lock:
            if self.error is not None:  # an unusable plugin never runs: last_error says why
                raise PluginError(
                    self.last_error or f"plugin {self.name!r} is unavailable: {self.error}",
                    traceback=self.last_traceback,
                )
            if self._cls is not None:
                return self._cls
            try:
                cls = self.loader()
            except BaseException as exc:  # noqa: BLE001 - a broken plugin must never take us down
                if isinstance(exc, KeyboardInterrupt):
                    raise
                # A ContractError (a ParamSpec refusing itself at import) says all in its message.
                reason = str(exc) if isinstance(exc, ContractError) else describe(exc)
                self._fail_to_load(reason, "".join(traceback.format_exception(exc)))
            try:
                validate_declaration(cls, self.name)
            except ContractError as exc:
                self._fail_to_load(str(exc), None)
            self._cls = cls
            return cls

    def _fail_to_load(self, reason: str, traceback: str | None) -> NoReturn:
        self.error = reason
        self.note_failure(f"plugin {self.name!r} failed to load: {reason}", traceback)
        raise PluginError(self.last_error, traceback=traceback) from None

    @property
    def cls(self) -> type[Quantizer] | None:
        """The loaded class, or None when not loaded or broken (never raises)."""
        try:
            return self.load()
        except PluginError:
            return None

    def note_failure(self, message: str, traceback: str | None = None) -> None:
        """Keep `message` (one line) and `traceback` as this plugin's latest failure."""
        self.last_error, self.last_traceback = message, traceback

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
    cls = record._cls if record.loaded else None
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


def _file_plugin_loader(path: Path, name: str) -> Callable[[], type]:
    """Import `path` as a module of its own; its one Quantizer subclass is the plugin."""

    def loader() -> type:
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
            raise ContractError(
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

    Attributes
    ----------
    records : dict of str to PluginRecord
        The first record registered under each name.
    rejected : list of PluginRecord
        Records no name leads to: the later claimants of a name, folders that do not exist.
    """

    def __init__(self, plugin_dirs=(), *, use_entry_points: bool = True, use_env: bool = True):
        self.records: dict[str, PluginRecord] = {}
        self.rejected: list[PluginRecord] = []
        dirs = [Path(d) for d in plugin_dirs]
        if use_env:
            dirs += [Path(d) for d in os.environ.get(PLUGIN_PATH_ENV, "").split(os.pathsep) if d]
        if use_entry_points:
            for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
                dist = getattr(ep, "dist", None)
                origin = f"{dist.name} {dist.version}" if dist is not None else "entry point"
                self.register(ep.name, ep.load, origin=origin, target=ep.value)
        for folder in dirs:
            if not folder.is_dir():
                missing = PluginRecord(folder.name, str(folder), str(folder))
                missing.error = missing.last_error = "plugin folder does not exist"
                self.rejected.append(missing)
                continue
            for file in sorted(folder.glob("*.py")):
                if not file.name.startswith("_"):
                    loader = _file_plugin_loader(file, file.stem)
                    self.register(file.stem, loader, origin=str(file), target=str(file))

    def register(
        self, name: str, plugin: type | Callable[[], type], *, origin: str, target: str = ""
    ) -> PluginRecord:
        """Add a plugin under `name`: the one way in, for entry points, files and the kit.

        Parameters
        ----------
        name : str
        plugin : Quantizer subclass, or a callable returning one
            A callable is called (the plugin imported) only when the plugin is first used.
        origin : str, keyword-only
            Where it comes from, as shown to users (a distribution, a file).
        target : str, keyword-only
            What was loaded (``module:attr``, a file); defaults to `origin`.

        Returns
        -------
        PluginRecord
            Registering never raises for the plugin's faults: a bad name, and a name already
            claimed by another plugin, are kept as the record's error. A clash makes the name
            unusable, naming every claimant, rather than silently picking one.
        """
        loader = (lambda: plugin) if isinstance(plugin, type) else plugin
        record = PluginRecord(name, origin, target or origin, loader)
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            record.error = f"name {name!r} must be letters, digits, '_', '.' or '-'"
            record.last_error = f"plugin {name!r} is unavailable: {record.error}"
        first = self.records.get(name)
        if first is None:
            self.records[name] = record
            return record
        if (first.origin, first.target) == (record.origin, record.target):
            return first  # the same plugin seen twice (one distribution on two paths)
        self.rejected.append(record)
        claimants = [first, *(r for r in self.rejected if r.name == name)]
        clash = (
            f"the name {name!r} is claimed by "
            + " and by ".join(r.origin for r in claimants)
            + "; remove or rename all but one"
        )
        for claimant in claimants:
            claimant.error = clash
            claimant.note_failure(f"plugin {name!r} is unavailable: {clash}")
        return record

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
