"""The quantizer plugin contract: what a plugin declares, what it gets and what it returns.

This module is the one public path for plugin authors::

    from kmc_tui.plugin_api import Cancelled, ColorHistogram, ParamSpec, Quantizer, QuantizerOutput

A plugin is a subclass of :class:`Quantizer`, found through the entry-point group
``kmc_tui.quantizers`` or as the one subclass defined in a single ``.py`` file of a plugin folder;
its ``name`` is the name it is registered under. :func:`validate_declaration` and
:func:`validate_output` are the contract's rules: the registry, the runtime
(:func:`kmc_tui.quantize.run_plugin`) and the conformance kit (:mod:`kmc_tui.testing`) all call
these two, and nothing else decides what a valid plugin is.

Cancellation is cooperative and optional: a plugin whose ``quantize`` names a ``should_stop``
keyword gets a callable there (never None from the core) and may poll it, raising
:class:`Cancelled` once it returns True. Plugins without it keep working; the core then stops
waiting for them instead.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .errors import Cancelled, ContractError, ParameterError

__all__ = [
    "Cancelled",
    "ColorHistogram",
    "ContractError",
    "DECLARATION_RULES",
    "NAME_PATTERN",
    "PARAM_TYPES",
    "ParamSpec",
    "Quantizer",
    "QuantizerOutput",
    "RESERVED_PARAM_NAMES",
    "takes_should_stop",
    "validate_declaration",
    "validate_output",
]

#: What a plugin name may look like: it is typed as ``--plugin NAME``.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
#: Names a parameter may not take: they are quantize's own arguments.
RESERVED_PARAM_NAMES = frozenset({"self", "hist", "k", "seed", "should_stop"})
#: The types a parameter may have (front ends know how to offer these).
PARAM_TYPES = (int, float, bool, str)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class ParamSpec:
    """One parameter a quantizer declares, so front ends can offer it without knowing the plugin.

    Checked when it is built: a declaration that contradicts itself raises
    :class:`~kmc_tui.errors.ContractError` at the plugin's import, naming the parameter.

    Parameters
    ----------
    name : str
        A Python identifier, not one of :data:`RESERVED_PARAM_NAMES`.
    type : {int, float, bool, str}
    default : object
        A valid value of `type` (an int is fine for a float), inside `choices`, `min`, `max`.
    help : str
    choices : tuple, optional
        The only values allowed; each a valid value.
    min, max : float, optional
        Inclusive range, for int and float only; ``min <= max``.
    preview : int or float, optional
        A cheaper value front ends may use for a quick preview (e.g. fewer iterations); a
        preview uses the smaller of it and the chosen value. Numbers only; a valid value.
    """

    name: str
    type: type
    default: Any
    help: str = ""
    choices: tuple | None = None
    min: float | None = None
    max: float | None = None
    preview: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ContractError(f"parameter name {self.name!r} is not a Python identifier")
        if self.name in RESERVED_PARAM_NAMES:
            raise ContractError(
                f"parameter name {self.name!r} is reserved: quantize() takes it itself"
            )
        if self.type not in PARAM_TYPES:
            raise ContractError(
                f"parameter {self.name}: type {self.type!r} is not int, float, bool or str"
            )
        if not isinstance(self.help, str):
            raise ContractError(f"parameter {self.name}: help must be a str")
        numeric = self.type in (int, float)
        for label in ("min", "max"):
            bound = getattr(self, label)
            if bound is None:
                continue
            if not numeric:
                raise ContractError(f"parameter {self.name}: {label} only applies to int and float")
            if isinstance(bound, bool) or not isinstance(bound, (int, float)):
                raise ContractError(f"parameter {self.name}: {label} {bound!r} is not a number")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ContractError(f"parameter {self.name}: min {self.min} is above max {self.max}")
        if self.choices is not None:
            if not isinstance(self.choices, tuple) or not self.choices:
                raise ContractError(f"parameter {self.name}: choices must be a non-empty tuple")
            for choice in self.choices:
                self._require_valid(choice, "choice")
        self._require_valid(self.default, "default")
        if self.preview is not None:
            if not numeric:
                raise ContractError(f"parameter {self.name}: preview only applies to int and float")
            self._require_valid(self.preview, "preview")

    def _require_valid(self, value: Any, what: str) -> None:
        """A declared value must be of the declared type and pass its own coercion."""
        prefix = f"parameter {self.name}: "
        if not (type(value) is self.type or (self.type is float and type(value) is int)):
            raise ContractError(f"{prefix}{what} {value!r} is not of type {self.type.__name__}")
        try:
            self.coerce(value)
        except ParameterError as exc:
            raise ContractError(f"{prefix}{what} {str(exc).removeprefix(prefix)}") from None

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
        except (TypeError, ValueError, OverflowError):
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
    """What a plugin returns; :func:`validate_output` says exactly what is accepted.

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

    #: Short unique name, used as ``--plugin NAME`` (see :data:`NAME_PATTERN`).
    name: ClassVar[str] = ""
    #: One line saying what it does.
    description: ClassVar[str] = ""
    #: The parameters it accepts as keyword arguments of :meth:`quantize`.
    params: ClassVar[tuple[ParamSpec, ...]] = ()
    #: True if it quantizes RGBA colors itself; otherwise it sees RGB of visible pixels only.
    supports_alpha: ClassVar[bool] = False

    def quantize(
        self,
        hist: ColorHistogram,
        k: int,
        *,
        seed: int = 0,
        should_stop: Callable[[], bool] | None = None,
        **params: Any,
    ) -> QuantizerOutput:  # pragma: no cover - abstract
        """Reduce `hist` to at most `k` colors.

        `seed` is the only source of randomness. Name `should_stop` in the signature to be
        handed a callable to poll (e.g. once per pass); raise :class:`Cancelled` when it
        returns True. Leave it out and the core never passes it.
        """
        raise NotImplementedError

    @classmethod
    def warm_up(cls) -> None:
        """Import what :meth:`quantize` will need, ahead of time; optional (default: nothing).

        Front ends may call it in a background thread while the image is being read, so a slow
        import (scikit-learn: about 1 s) overlaps the decoding. It must be safe to call from any
        thread and more than once; whatever it raises is ignored (:meth:`quantize` meets the
        same problem and reports it).
        """


# --- the declaration --------------------------------------------------------------------------


def _is_quantizer(cls: Any, name: str | None) -> None:
    if not isinstance(cls, type) or not issubclass(cls, Quantizer):
        what = cls.__name__ if isinstance(cls, type) else f"a {type(cls).__name__}"
        raise ContractError(
            f"{what} is not a subclass of kmc_tui.plugin_api.Quantizer; a plugin must be one"
        )


def _declares_name(cls: Any, name: str | None) -> None:
    value = getattr(cls, "name", None)
    if not isinstance(value, str) or not value:
        raise ContractError(f"name is {value!r}; declare a short str such as name = 'myquant'")
    if not NAME_PATTERN.fullmatch(value):
        raise ContractError(
            f"name {value!r} must be letters, digits, '_', '.' or '-' "
            "(it is typed as --plugin NAME)"
        )
    if name is not None and value != name:
        raise ContractError(
            f"class {cls.__name__} declares name {value!r} but is registered as {name!r}"
        )


def _declares_description(cls: Any, name: str | None) -> None:
    value = getattr(cls, "description", None)
    if not isinstance(value, str) or not value.strip():
        raise ContractError(f"description is {value!r}; declare one line saying what it does")
    if "\n" in value.strip():
        raise ContractError("description must be one line")


def _declares_params(cls: Any, name: str | None) -> None:
    params = getattr(cls, "params", None)
    if not isinstance(params, tuple):
        raise ContractError(f"params is a {type(params).__name__}, expected a tuple of ParamSpec")
    seen = set()
    for spec in params:
        if not isinstance(spec, ParamSpec):
            raise ContractError(f"params holds a {type(spec).__name__}, expected ParamSpec")
        if spec.name in seen:
            raise ContractError(f"parameter {spec.name!r} is declared twice")
        seen.add(spec.name)


def _declares_supports_alpha(cls: Any, name: str | None) -> None:
    value = getattr(cls, "supports_alpha", None)
    if not isinstance(value, bool):
        raise ContractError(f"supports_alpha is {value!r}, expected True or False")


def _signature_accepts_params(cls: Any, name: str | None) -> None:
    method = getattr(cls, "quantize", None)
    if not callable(method) or method is Quantizer.quantize:
        raise ContractError("quantize(hist, k, *, seed, **params) is not implemented")
    try:
        sig = inspect.signature(method)
    except (TypeError, ValueError):
        return  # a builtin or C method: nothing to inspect
    params = getattr(cls, "params", ())
    specs = [p for p in params if isinstance(p, ParamSpec)] if isinstance(params, tuple) else []
    keywords = {p.name: p.default for p in specs}
    if takes_should_stop(cls):
        keywords["should_stop"] = _never
    try:
        sig.bind(None, None, 1, seed=0, **keywords)
    except TypeError as exc:
        raise ContractError(
            f"quantize{sig} does not accept seed and every declared parameter as keywords: {exc}"
        ) from None


#: The rules of a declaration, in order, as (name, rule(cls, registered_name)); each raises
#: ContractError. :func:`validate_declaration` runs them all; the conformance kit reports each.
DECLARATION_RULES: tuple[tuple[str, Callable[[Any, str | None], None]], ...] = (
    ("is_quantizer", _is_quantizer),
    ("declares_name", _declares_name),
    ("declares_description", _declares_description),
    ("declares_params", _declares_params),
    ("declares_supports_alpha", _declares_supports_alpha),
    ("signature_accepts_params", _signature_accepts_params),
)


def validate_declaration(cls: Any, name: str | None = None) -> None:
    """Check that `cls` is a plugin: a Quantizer subclass with a valid declaration.

    Parameters
    ----------
    cls : object
        What an entry point or a plugin file gave.
    name : str, optional
        The name it is registered under; the class must declare the same.

    Raises
    ------
    ContractError
        The first broken rule of :data:`DECLARATION_RULES`, in one line.
    """
    for _, rule in DECLARATION_RULES:
        rule(cls, name)


def _never() -> bool:
    return False


def takes_should_stop(cls: Any) -> bool:
    """Whether `cls.quantize` names a ``should_stop`` keyword (the cancellation hook)."""
    try:
        parameter = inspect.signature(cls.quantize).parameters.get("should_stop")
    except (AttributeError, TypeError, ValueError):
        return False
    return parameter is not None and parameter.kind in (
        inspect.Parameter.KEYWORD_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    )


# --- the output -------------------------------------------------------------------------------


def validate_output(
    result: Any, hist: ColorHistogram, k: int, *, context: str = "quantize()"
) -> None:
    """Check what a plugin returned for `hist` and `k`; the one rule, no conversions.

    Accepted: a :class:`QuantizerOutput` whose palette is a uint8 ndarray of shape (m, C),
    ``1 <= m <= k``, C the histogram's channels; labels None or an integer ndarray of shape
    (n,) with values in ``0..m-1``. Nothing else (a bare array, a tuple, a float or int64
    palette): converting silently would hide a plugin's bug from its author's tests.

    Raises
    ------
    ContractError
        ``"{context}: what is wrong"``, in one line.
    """
    if not isinstance(result, QuantizerOutput):
        raise ContractError(f"{context}: a {type(result).__name__}, not a QuantizerOutput")
    palette, labels = result.palette, result.labels
    n, channels = len(hist.colors), hist.channels
    if not isinstance(palette, np.ndarray):
        raise ContractError(f"{context}: palette is a {type(palette).__name__}, not a numpy array")
    if palette.dtype != np.uint8:
        raise ContractError(f"{context}: palette dtype is {palette.dtype}, expected uint8")
    if palette.ndim != 2 or palette.shape[1] != channels or not 1 <= len(palette) <= k:
        raise ContractError(
            f"{context}: palette has shape {palette.shape}, "
            f"expected (m, {channels}) with 1 <= m <= {k}"
        )
    if labels is None:
        return
    if not isinstance(labels, np.ndarray):
        raise ContractError(f"{context}: labels are a {type(labels).__name__}, not a numpy array")
    if labels.dtype.kind not in "iu":
        raise ContractError(f"{context}: labels dtype is {labels.dtype}, expected integers")
    if labels.shape != (n,):
        raise ContractError(
            f"{context}: labels shape is {labels.shape}, expected ({n},), one per distinct color"
        )
    if n and (labels.min() < 0 or labels.max() >= len(palette)):
        raise ContractError(
            f"{context}: labels span {labels.min()}..{labels.max()}, outside the "
            f"palette's 0..{len(palette) - 1}"
        )
