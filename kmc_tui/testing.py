"""Conformance kit for quantizer plugins, in the spirit of scikit-learn's ``check_estimator``.

A plugin author runs it in their own tests::

    from kmc_tui.testing import check_quantizer
    from kmc_websafe import WebSafeQuantizer

    def test_conformance():
        check_quantizer(WebSafeQuantizer)

The rules themselves are :mod:`kmc_tui.plugin_api`'s (:data:`~kmc_tui.plugin_api.DECLARATION_RULES`
and :func:`~kmc_tui.plugin_api.validate_output`, the very ones the registry and the runtime
apply); the kit adds behaviour: it calls the plugin on small synthetic images, as the core would.
Every check runs (one failure does not hide the next); if any fails, :class:`ConformanceError`
(an ``AssertionError``) names each failed check and why. The whole kit takes about a second for
a typical plugin.

The checks:

Declaration (one per rule of ``DECLARATION_RULES``)
    ``is_quantizer``, ``declares_name``, ``declares_description``, ``declares_params`` (a tuple
    of uniquely named ParamSpecs; each ParamSpec checks itself when built),
    ``declares_supports_alpha``, ``signature_accepts_params`` (``quantize`` takes ``seed``,
    every declared parameter and, if it names it, ``should_stop`` as keywords),
    ``registry_accepts`` (:meth:`kmc_tui.registry.Registry.register` and loading it).
Output contract (the plugin called directly, as the core calls it)
    ``output_contract`` (palette an (m, C) uint8 array with 1 <= m <= k, labels None or integers
    of shape (n,) in 0..m-1), ``k_is_1``, ``k_above_colors`` (k larger than the colors present),
    ``large_k`` (k=300, more than a palette format holds), ``gray_input``, ``rgba_input``,
    ``one_pixel`` (a 1x1 image), ``without_pixels`` (``hist.image`` is None),
    ``deterministic`` (same seed, same result), ``input_untouched``, ``declared_values_work``
    (every choice, both booleans, each min and max), ``end_to_end`` (RGB, gray and RGBA images
    through :func:`kmc_tui.quantize.quantize`), ``honours_should_stop`` (for plugins that take
    the hook: with ``should_stop()`` always True, Cancelled or a valid result, nothing else).
Error behaviour
    ``invalid_params_rejected`` (values outside the declaration are refused with a one-line
    ParameterError naming the parameter, before the plugin runs), ``edge_values_handled``
    (values the declaration allows at its open ends, such as 0 or -1 for a number without a
    minimum, give a valid result or a ValueError, never another crash), ``quiet`` (nothing
    printed to stdout), ``finishes`` (every call returns within `timeout`; after a hang the
    remaining calls are skipped).
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import Cancelled, ContractError, ParameterError, PluginError, PluginTimeout, describe
from .plugin_api import (
    DECLARATION_RULES,
    ColorHistogram,
    ParamSpec,
    Quantizer,
    QuantizerOutput,
    takes_should_stop,
    validate_output,
)
from .quantize import call_with_timeout, distinct_colors, quantize
from .read import as_image
from .registry import PluginRecord, Registry, default_registry

__all__ = ["CheckResult", "ConformanceError", "check_quantizer"]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    Attributes
    ----------
    name : str
    passed : bool
    message : str
        Why it failed (empty when it passed).
    seconds : float
        How long it took.
    """

    name: str
    passed: bool
    message: str = ""
    seconds: float = 0.0


class ConformanceError(AssertionError):
    """Raised by :func:`check_quantizer`; names each failed check.

    Attributes
    ----------
    plugin : str
    failures : list of CheckResult
    results : list of CheckResult
        Every check, passed or not.
    """

    def __init__(self, plugin: str, results: list[CheckResult]):
        self.plugin = plugin
        self.results = results
        self.failures = [r for r in results if not r.passed]
        lines = [
            f"plugin {plugin!r} failed {len(self.failures)} of {len(results)} conformance checks:"
        ]
        lines += [f"  {r.name}: {r.message}" for r in self.failures]
        super().__init__("\n".join(lines))

    @property
    def failed(self) -> list[str]:
        """Names of the failed checks."""
        return [r.name for r in self.failures]


class _Failed(Exception):
    """One check's failure, with its message."""


class _Hung(Exception):
    """A call did not return in time; later calls are skipped."""


# --- synthetic images -------------------------------------------------------------------------


def _photo(height: int = 24, width: int = 32) -> np.ndarray:
    """A small "photo": smooth gradients, a blob and noise; several hundred distinct colors."""
    rng = np.random.default_rng(20240611)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 255 * x / (width - 1)
    g = 255 * y / (height - 1)
    b = 255 * np.exp(-((x - width * 0.6) ** 2 + (y - height * 0.4) ** 2) / (0.1 * width * height))
    rgb = np.stack([r, g, b], axis=-1) + rng.normal(0, 12, (height, width, 3))
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def _alpha(height: int, width: int) -> np.ndarray:
    """Transparent top rows, a partial ramp, opaque bottom: every kind of alpha."""
    alpha = np.full((height, width), 255, np.uint8)
    alpha[: height // 4] = 0
    ramp = np.linspace(0, 255, width).round().astype(np.uint8)
    alpha[height // 4 : height // 2] = ramp
    return alpha


def _hist(pixels: np.ndarray, *, with_image: bool = True) -> ColorHistogram:
    """The histogram the core would hand over for (H, W, C) `pixels`."""
    colors, counts, _ = distinct_colors(pixels.reshape(-1, pixels.shape[-1]))
    return ColorHistogram(colors, counts, pixels if with_image else None)


def _fixtures() -> dict[str, ColorHistogram]:
    photo = _photo()
    gray = np.repeat(np.round(photo.mean(-1)).astype(np.uint8)[..., None], 3, axis=-1)
    alpha = _alpha(*photo.shape[:2])
    # As the core hands it over: fully transparent pixels left out (they get their own entry).
    rgba = np.dstack([photo, alpha])[alpha > 0].reshape(-1, 1, 4)
    visible = photo[alpha >= 128].reshape(-1, 1, 3)  # what a plugin without alpha sees
    few = np.array(
        [[10, 20, 30], [200, 10, 10], [10, 200, 10], [10, 10, 200], [250, 250, 250]], np.uint8
    )[np.array([0, 0, 0, 1, 1, 2, 3, 3, 3, 3, 4, 4, 0, 1, 2, 3, 4, 0, 0, 0])]
    return {
        "photo": _hist(photo),
        "gray": _hist(gray),
        "rgba": _hist(rgba),
        "visible": _hist(visible),
        "few": _hist(few.reshape(4, 5, 3)),
        "one_pixel": _hist(photo[:1, :1]),
        "photo_no_pixels": _hist(photo, with_image=False),
    }


# --- the kit ----------------------------------------------------------------------------------


def _resolve(plugin: Any) -> tuple[str, PluginRecord | None, type | None, str | None]:
    """(name, record, class, load error) for a class, instance, record or registered name."""
    if isinstance(plugin, str):
        try:
            plugin = default_registry().get(plugin)
        except PluginError as exc:
            return plugin, None, None, str(exc)
    if isinstance(plugin, PluginRecord):
        try:
            return plugin.name, plugin, plugin.load(), None
        except PluginError as exc:
            return plugin.name, plugin, None, str(exc)
    if isinstance(plugin, Quantizer):
        plugin = type(plugin)
    if isinstance(plugin, type):
        name = getattr(plugin, "name", None)
        return (name if isinstance(name, str) and name else plugin.__name__), None, plugin, None
    return (
        repr(plugin),
        None,
        None,
        (
            f"expected a Quantizer subclass, instance, PluginRecord "
            f"or registered name; got {type(plugin).__name__}"
        ),
    )


class _Runner:
    """Calls the plugin under a timeout with stdout captured, and validates what it returns."""

    def __init__(self, cls: type, timeout: float):
        self.cls = cls
        self.timeout = timeout
        self.printed: list[str] = []
        self.hung: str | None = None

    @contextlib.contextmanager
    def guard(self):
        """Capture stdout; turn a timeout into _Hung and skip every call after a hang."""
        if self.hung is not None:
            raise _Hung(f"not run: {self.hung}")
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                yield
        except PluginTimeout as exc:
            self.hung = f"an earlier call hung ({exc})"
            raise _Hung(str(exc)) from None
        finally:
            if out.getvalue():
                self.printed.append(out.getvalue())

    def call(
        self,
        hist: ColorHistogram,
        k: int,
        *,
        seed: int = 0,
        copy: bool = True,
        should_stop: Callable[[], bool] | None = None,
        **params: Any,
    ) -> Any:
        """Call quantize as the core does: `should_stop` only if the plugin takes it."""
        if copy:  # a plugin that writes into its input must not spoil the later checks
            hist = ColorHistogram(
                hist.colors.copy(),
                hist.counts.copy(),
                None if hist.image is None else hist.image.copy(),
            )
        if takes_should_stop(self.cls):
            params["should_stop"] = should_stop or (lambda: False)
        with self.guard():
            return call_with_timeout(
                lambda: self.cls().quantize(hist, k, seed=seed, **params),
                self.timeout,
                what="quantize()",
            )

    def run(
        self, hist: ColorHistogram, k: int, *, seed: int = 0, copy: bool = True, **params: Any
    ) -> QuantizerOutput:
        """Call and validate; _Failed with the reason on any problem."""
        try:
            result = self.call(hist, k, seed=seed, copy=copy, **params)
        except (_Hung, KeyboardInterrupt):
            raise
        except BaseException as exc:  # noqa: BLE001 - even sys.exit() is the check's failure
            raise _Failed(f"quantize(k={k}{_kw(params)}) raised {describe(exc)}") from None
        _check_output(result, hist, k, context=f"quantize(k={k}{_kw(params)})")
        return result


def _kw(params: dict) -> str:
    return "".join(f", {name}={value!r}" for name, value in params.items())


def _check_output(result: Any, hist: ColorHistogram, k: int, *, context: str) -> None:
    """The contract's own :func:`validate_output`, its refusal as this check's failure."""
    try:
        validate_output(result, hist, k, context=context)
    except ContractError as exc:
        raise _Failed(str(exc)) from None


def _declaration_checks(cls: type, name: str) -> list[tuple[str, Callable[[], None]]]:
    def rule_check(rule: Callable[[Any, str | None], None]) -> Callable[[], None]:
        def check() -> None:
            try:
                rule(cls, None)
            except ContractError as exc:
                raise _Failed(str(exc)) from None

        return check

    def registry_accepts():
        record = Registry(use_entry_points=False, use_env=False).register(
            name, cls, origin="conformance kit"
        )
        try:
            record.load()
        except PluginError as exc:
            raise _Failed(f"the registry refuses it: {exc}") from None

    checks = [(rule_name, rule_check(rule)) for rule_name, rule in DECLARATION_RULES]
    return checks + [("registry_accepts", registry_accepts)]


def _defaults(cls: type) -> dict[str, Any]:
    return {p.name: p.default for p in getattr(cls, "params", ()) or () if isinstance(p, ParamSpec)}


def _declared_values(spec: ParamSpec) -> list[Any]:
    """The values a declaration promises explicitly: choices, both booleans, min and max."""
    if spec.choices is not None:
        return list(spec.choices)
    if spec.type is bool:
        return [False, True]
    return [spec.type(v) for v in (spec.min, spec.max) if v is not None]


def _invalid_values(spec: ParamSpec) -> list[Any]:
    """Values the declaration itself must refuse."""
    values: list[Any] = []
    if spec.type in (int, float):
        values.append("not-a-number")
    if spec.type is bool:
        values.append("maybe")
    if spec.type is int:
        values.append("1.5")
    if spec.min is not None:
        values.append(spec.min - 1)
    if spec.max is not None:
        values.append(spec.max + 1)
    if spec.choices is not None:
        values.append("not-one-of-the-choices")
    return values


def _edge_values(spec: ParamSpec) -> list[Any]:
    """Values the declaration allows at its open ends, where plugins tend to crash."""
    if spec.choices is not None or spec.type is bool:
        return []
    if spec.type in (int, float) and spec.min is None:
        return [v for v in (spec.type(0), spec.type(-1)) if spec.max is None or v <= spec.max]
    if spec.type is str:
        return [""]
    return []


def _output_checks(
    cls: type,
    name: str,
    runner: _Runner,
    hists: dict[str, ColorHistogram],
    seed: int,
    given: dict[str, Any],
) -> list[tuple[str, Callable[[], None]]]:
    defaults = {**_defaults(cls), **given}
    photo = hists["photo"]

    def output_contract():
        runner.run(photo, 8, seed=seed, **defaults)

    def k_is_1():
        runner.run(photo, 1, seed=seed, **defaults)

    def k_above_colors():
        few = hists["few"]
        runner.run(few, 16, seed=seed, **defaults)
        runner.run(few, len(few.colors), seed=seed, **defaults)

    def large_k():
        runner.run(photo, 300, seed=seed, **defaults)

    def gray_input():
        runner.run(hists["gray"], 4, seed=seed, **defaults)

    def rgba_input():
        hist = hists["rgba"] if getattr(cls, "supports_alpha", False) else hists["visible"]
        runner.run(hist, 6, seed=seed, **defaults)

    def one_pixel():
        runner.run(hists["one_pixel"], 1, seed=seed, **defaults)
        runner.run(hists["one_pixel"], 4, seed=seed, **defaults)

    def without_pixels():
        runner.run(hists["photo_no_pixels"], 8, seed=seed, **defaults)

    def deterministic():
        first = runner.run(photo, 8, seed=seed, **defaults)
        second = runner.run(photo, 8, seed=seed, **defaults)
        same_labels = (first.labels is None) == (second.labels is None) and (
            first.labels is None or np.array_equal(first.labels, second.labels)
        )
        if not (np.array_equal(first.palette, second.palette) and same_labels):
            raise _Failed(
                f"two runs with seed={seed} gave different results; derive all "
                "randomness from the seed argument"
            )

    def input_untouched():
        colors, counts = photo.colors.copy(), photo.counts.copy()
        image = photo.image.copy()
        hist = ColorHistogram(colors, counts, image)
        runner.run(hist, 8, seed=seed, copy=False, **defaults)
        for label, before, after in (
            ("colors", photo.colors, colors),
            ("counts", photo.counts, counts),
            ("image", photo.image, image),
        ):
            if not np.array_equal(before, after):
                raise _Failed(f"quantize changed hist.{label} in place; work on a copy")

    def declared_values_work():
        for spec in getattr(cls, "params", ()) or ():
            for value in _declared_values(spec):
                runner.run(photo, 4, seed=seed, **{**defaults, spec.name: value})

    def end_to_end():
        registry = Registry(use_entry_points=False, use_env=False)
        registry.register(name, cls, origin="conformance kit")
        photo_pixels = _photo()
        gray = np.round(photo_pixels.mean(-1)).astype(np.uint8)
        rgba = np.dstack([photo_pixels, _alpha(*photo_pixels.shape[:2])])
        for label, array in (("RGB", photo_pixels), ("gray", gray), ("RGBA", rgba)):
            image = as_image(array)
            try:
                with runner.guard():
                    quantize(
                        image,
                        8,
                        plugin=name,
                        params=given,
                        seed=seed,
                        registry=registry,
                        timeout=runner.timeout,
                    )
            except (_Hung, KeyboardInterrupt):
                raise
            except BaseException as exc:  # noqa: BLE001 - reported
                raise _Failed(f"quantize() on a {label} image raised {describe(exc)}") from None

    def honours_should_stop():
        if not takes_should_stop(cls):
            return  # the hook is optional; the core never passes it to this plugin
        try:
            result = runner.call(photo, 8, seed=seed, should_stop=lambda: True, **defaults)
        except (_Hung, KeyboardInterrupt):
            raise
        except Cancelled:
            return
        except BaseException as exc:  # noqa: BLE001 - reported
            raise _Failed(
                f"with should_stop() always True, quantize raised {describe(exc)}; raise "
                "kmc_tui.plugin_api.Cancelled (or finish, if it is quick)"
            ) from None
        _check_output(result, photo, 8, context="quantize(k=8, should_stop=lambda: True)")

    return [
        ("output_contract", output_contract),
        ("k_is_1", k_is_1),
        ("k_above_colors", k_above_colors),
        ("large_k", large_k),
        ("gray_input", gray_input),
        ("rgba_input", rgba_input),
        ("one_pixel", one_pixel),
        ("without_pixels", without_pixels),
        ("deterministic", deterministic),
        ("input_untouched", input_untouched),
        ("declared_values_work", declared_values_work),
        ("end_to_end", end_to_end),
        ("honours_should_stop", honours_should_stop),
    ]


def _error_checks(
    cls: type,
    name: str,
    runner: _Runner,
    hists: dict[str, ColorHistogram],
    seed: int,
    given: dict[str, Any],
) -> list[tuple[str, Callable[[], None]]]:
    defaults = {**_defaults(cls), **given}
    specs = [p for p in getattr(cls, "params", ()) or () if isinstance(p, ParamSpec)]

    def invalid_params_rejected():
        calls = []

        class Spy(cls):  # type: ignore[misc, valid-type]
            def quantize(self, *args, **kwargs):  # pragma: no cover - must not run
                calls.append(kwargs)
                return super().quantize(*args, **kwargs)

        registry = Registry(use_entry_points=False, use_env=False)
        registry.register(name, Spy, origin="conformance kit")
        image = as_image(_photo())
        probes = [(spec.name, value) for spec in specs for value in _invalid_values(spec)]
        probes.append(("no_such_parameter_xyz", 1))
        for key, value in probes:
            try:
                with runner.guard():
                    quantize(
                        image,
                        4,
                        plugin=name,
                        params={**given, key: value},
                        seed=seed,
                        registry=registry,
                        timeout=runner.timeout,
                    )
            except (_Hung, KeyboardInterrupt):
                raise
            except ParameterError as exc:
                message = str(exc)
                if key not in message or "\n" in message.strip():
                    raise _Failed(
                        f"{key}={value!r} was refused without naming the parameter "
                        f"in one line: {message!r}"
                    ) from None
                continue
            except BaseException as exc:  # noqa: BLE001 - reported
                raise _Failed(
                    f"{key}={value!r} gave {describe(exc)} instead of a ParameterError"
                ) from None
            raise _Failed(f"{key}={value!r} is outside the declaration but was accepted")
        if calls:
            raise _Failed("quantize ran with a parameter the declaration refuses")

    def edge_values_handled():
        for spec in specs:
            for value in _edge_values(spec):
                try:
                    spec.coerce(value)
                except ParameterError:
                    continue
                params = {**defaults, spec.name: value}
                try:
                    result = runner.call(hists["photo"], 4, seed=seed, **params)
                except (_Hung, KeyboardInterrupt):
                    raise
                except ValueError:
                    continue  # a clean refusal (ParameterError is a ValueError)
                except BaseException as exc:  # noqa: BLE001 - reported
                    raise _Failed(
                        f"{spec.name}={value!r} is allowed by the declaration but "
                        f"quantize raised {describe(exc)}; declare min/max/choices "
                        "or raise ValueError"
                    ) from None
                _check_output(
                    result, hists["photo"], 4, context=f"quantize(k=4, {spec.name}={value!r})"
                )

    return [
        ("invalid_params_rejected", invalid_params_rejected),
        ("edge_values_handled", edge_values_handled),
    ]


def check_quantizer(
    plugin: Any, *, seed: int = 0, timeout: float = 60.0, params: dict[str, Any] | None = None
) -> list[CheckResult]:
    """Check that a quantizer plugin meets the contract the core relies on.

    Parameters
    ----------
    plugin : Quantizer subclass, Quantizer instance, PluginRecord or str
        The plugin; a str is looked up in the default registry (entry points and
        ``KMC_TUI_PLUGIN_PATH``).
    seed : int, keyword-only
        Seed passed to every call (the determinism check runs twice with it).
    timeout : float, keyword-only
        Seconds any single call may take; a call that hangs fails ``finishes`` and the calls
        after it are skipped (its thread cannot be stopped and is abandoned).
    params : dict, keyword-only
        Parameters every call gets instead of the declared defaults, for a plugin that needs
        one the user must give (the palette plugin's ``file``).

    Returns
    -------
    list of CheckResult
        Every check, all passed.

    Raises
    ------
    ConformanceError
        An AssertionError naming each failed check and why.
    """
    name, record, cls, load_error = _resolve(plugin)
    if cls is None:
        raise ConformanceError(name, [CheckResult("loads", False, load_error or "not loaded")])
    results = [CheckResult("loads", True)]
    runner = _Runner(cls, timeout)
    hists = _fixtures()
    checks = (
        _declaration_checks(cls, name)
        + _output_checks(cls, name, runner, hists, seed, dict(params or {}))
        + _error_checks(cls, name, runner, hists, seed, dict(params or {}))
    )
    for check_name, check in checks:
        started = time.perf_counter()
        try:
            check()
        except (_Failed, _Hung) as exc:
            passed, message = False, str(exc)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - a check must not stop the others
            passed, message = False, f"raised {describe(exc)}"
        else:
            passed, message = True, ""
        results.append(CheckResult(check_name, passed, message, time.perf_counter() - started))
    results.append(
        CheckResult(
            "quiet",
            not runner.printed,
            ""
            if not runner.printed
            else f"quantize printed to stdout ({runner.printed[0][:60]!r}…); use "
            "warnings or logging (the CLI sends a plugin's stdout to stderr, away from --json)",
        )
    )
    results.append(
        CheckResult(
            "finishes",
            runner.hung is None,
            ""
            if runner.hung is None
            else runner.hung.replace("an earlier call hung", "a call hung"),
        )
    )
    if not all(r.passed for r in results):
        raise ConformanceError(name, results)
    return results
