"""The conformance kit: every built-in plugin passes it, and it catches each kind of broken plugin.

Each broken plugin below is a correct reference plugin (``Popular``) with one defect, so the
failure the kit reports is that defect's; ``test_reference_plugin_passes`` is the control.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from kmc_tui.errors import ContractError
from kmc_tui.plugin_api import Cancelled, ParamSpec, Quantizer, QuantizerOutput
from kmc_tui.registry import ENTRY_POINT_GROUP, Registry
from kmc_tui.testing import CheckResult, ConformanceError, check_quantizer

BUILT_IN = sorted(
    ep.name
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)
    if ep.dist is not None and ep.dist.name == "kmc-tui"
)


# --- built-ins --------------------------------------------------------------------------------


def test_all_built_in_plugins_are_registered():
    assert {"kmeans", "mediancut", "octree", "minibatch", "palette"} <= set(BUILT_IN)


#: Parameters a built-in needs from its user (the kit runs the others on their defaults).
GIVEN = {"palette": {"file": str(Path(__file__).parent / "data" / "palettes" / "brand16.gpl")}}


@pytest.mark.parametrize("name", BUILT_IN)
def test_built_in_plugin_conforms(name):
    record = Registry(use_env=False).get(name)
    results = check_quantizer(record, params=GIVEN.get(name))
    assert all(isinstance(r, CheckResult) and r.passed for r in results)
    names = {r.name for r in results}
    # The kit ran every family of checks, not just the first.
    assert {
        "declares_params",
        "output_contract",
        "k_is_1",
        "rgba_input",
        "one_pixel",
        "deterministic",
        "invalid_params_rejected",
        "edge_values_handled",
        "quiet",
        "finishes",
    } <= names


# --- a correct reference plugin and its broken variants ----------------------------------------


class Popular(Quantizer):
    """The k most common colors (or k colors spread over the luma order)."""

    name = "popular"
    description = "The k most common colors, or k colors spread by brightness"
    params = (ParamSpec("by", str, "count", "how colors are picked", choices=("count", "luma")),)
    supports_alpha = True

    def pick(self, hist, k, by):
        if by == "count":
            return np.argsort(-hist.counts, kind="stable")[:k]
        luma = hist.colors[:, :3].astype(np.float64) @ [0.299, 0.587, 0.114]
        order = np.argsort(luma, kind="stable")
        return order[np.linspace(0, len(order) - 1, min(k, len(order))).round().astype(int)]

    def quantize(self, hist, k, *, seed=0, by="count"):
        if by not in ("count", "luma"):
            raise ValueError(f"by must be count or luma, not {by!r}")
        return QuantizerOutput(hist.colors[self.pick(hist, k, by)].copy())


def failed_checks(plugin, **kwargs) -> list[str]:
    with pytest.raises(ConformanceError) as info:
        check_quantizer(plugin, **kwargs)
    error = info.value
    assert isinstance(error, AssertionError)
    for name in error.failed:  # the message names each failed check
        assert f"  {name}: " in str(error)
    return error.failed


def test_reference_plugin_passes():
    results = check_quantizer(Popular)
    assert len(results) >= 20 and all(r.passed for r in results)
    assert check_quantizer(Popular())  # an instance is accepted too


class NoName(Popular):
    name = ""


class TwoLineDescription(Popular):
    description = "The k most common colors.\nAlso spreads by luma."


class ParamsNotATuple(Popular):
    params = [ParamSpec("by", str, "count", choices=("count", "luma"))]


class ParamDeclaredTwice(Popular):
    params = Popular.params + (ParamSpec("by", str, "luma"),)


class NotAQuantizer:
    """Everything a plugin declares, but not a Quantizer subclass."""

    name = Popular.name
    description = Popular.description
    params = Popular.params
    supports_alpha = True
    quantize = Popular.quantize
    pick = Popular.pick


class SignatureMissesParam(Popular):
    def quantize(self, hist, k, *, seed=0):
        return super().quantize(hist, k)


class FloatPalette(Popular):
    def quantize(self, hist, k, *, seed=0, by="count"):
        return QuantizerOutput(super().quantize(hist, k, by=by).palette.astype(np.float64))


class ReturnsList(Popular):
    def quantize(self, hist, k, *, seed=0, by="count"):
        return super().quantize(hist, k, by=by).palette.tolist()


class TooManyColors(Popular):
    def quantize(self, hist, k, *, seed=0, by="count"):
        return QuantizerOutput(hist.colors[: k + 1].copy())


class LabelsOutOfRange(Popular):
    def quantize(self, hist, k, *, seed=0, by="count"):
        palette = super().quantize(hist, k, by=by).palette
        return QuantizerOutput(palette, np.arange(len(hist.colors)) % (len(palette) + 1))


class IgnoresAlpha(Popular):
    def quantize(self, hist, k, *, seed=0, by="count"):
        return QuantizerOutput(super().quantize(hist, k, by=by).palette[:, :3].copy())


class CrashesOnK1(Popular):
    def quantize(self, hist, k, *, seed=0, by="count"):
        step = 255 // (k - 1)  # evenly spaced gray levels
        return super().quantize(hist, min(k, step), by=by)


class CrashesWhenKAboveColors(Popular):
    def quantize(self, hist, k, *, seed=0, by="count"):
        rng = np.random.default_rng(seed)
        picks = rng.choice(len(hist.colors), size=k, replace=False)
        return QuantizerOutput(hist.colors[picks].copy())


class CrashesOnGray(Popular):
    def quantize(self, hist, k, *, seed=0, by="count"):
        # Whitening with the Cholesky factor of the covariance: singular for gray images.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # np.cov of a single color
            np.linalg.cholesky(np.cov(hist.colors[:, :3].T.astype(np.float64)))
        return super().quantize(hist, k, by=by)


class CrashesOnOnePixel(Popular):
    def quantize(self, hist, k, *, seed=0, by="count"):
        second = hist.colors[np.argsort(-hist.counts)[1]]  # "the runner-up color"
        palette = super().quantize(hist, k, by=by).palette
        palette[-1] = second if len(palette) > 1 else palette[-1]
        return QuantizerOutput(palette)


class NeedsPixels(Popular):
    def quantize(self, hist, k, *, seed=0, by="count"):
        _ = hist.image.reshape(-1, hist.channels)
        return super().quantize(hist, k, by=by)


class Nondeterministic(Popular):
    def quantize(self, hist, k, *, seed=0, by="count"):
        rng = np.random.default_rng()  # ignores the seed
        picks = rng.permutation(len(hist.colors))[:k]
        return QuantizerOutput(hist.colors[picks].copy())


class ModifiesInput(Popular):
    def quantize(self, hist, k, *, seed=0, by="count"):
        hist.counts[:] = hist.counts.max() - hist.counts  # reuses the buffer
        return super().quantize(hist, k, by=by)


class Prints(Popular):
    def quantize(self, hist, k, *, seed=0, by="count"):
        print(f"quantizing {len(hist.colors)} colors")
        return super().quantize(hist, k, by=by)


class ChoiceNotImplemented(Popular):
    params = (ParamSpec("by", str, "count", choices=("count", "luma", "median")),)


class CrashesAtUnboundedZero(Popular):
    params = Popular.params + (ParamSpec("levels", int, 4, "gray levels", max=16),)

    def quantize(self, hist, k, *, seed=0, by="count", levels=4):
        _ = 255 // levels
        return super().quantize(hist, k, by=by)


class CallsSysExit(Popular):
    def quantize(self, hist, k, *, seed=0, by="count"):
        sys.exit("giving up")


BROKEN = [
    (NoName, "declares_name"),
    (TwoLineDescription, "declares_description"),
    (ParamsNotATuple, "declares_params"),
    (ParamDeclaredTwice, "declares_params"),
    (NotAQuantizer, "is_quantizer"),
    (SignatureMissesParam, "signature_accepts_params"),
    (FloatPalette, "output_contract"),
    (ReturnsList, "output_contract"),
    (TooManyColors, "output_contract"),
    (LabelsOutOfRange, "output_contract"),
    (IgnoresAlpha, "rgba_input"),
    (CrashesOnK1, "k_is_1"),
    (CrashesWhenKAboveColors, "k_above_colors"),
    (CrashesOnGray, "gray_input"),
    (CrashesOnOnePixel, "one_pixel"),
    (NeedsPixels, "without_pixels"),
    (Nondeterministic, "deterministic"),
    (ModifiesInput, "input_untouched"),
    (Prints, "quiet"),
    (ChoiceNotImplemented, "declared_values_work"),
    (CrashesAtUnboundedZero, "edge_values_handled"),
    (CallsSysExit, "output_contract"),
]


@pytest.mark.parametrize("plugin, check", BROKEN, ids=[cls.__name__ for cls, _ in BROKEN])
def test_kit_catches_broken_plugin(plugin, check):
    failed = failed_checks(plugin)
    assert check in failed


def test_targeted_defects_fail_only_their_checks():
    # A defect in one place is reported there, not as a wall of unrelated failures.
    assert failed_checks(Nondeterministic) == ["deterministic"]
    assert failed_checks(IgnoresAlpha) == ["rgba_input", "end_to_end"]  # the core refuses it
    assert failed_checks(Prints) == ["quiet"]
    assert failed_checks(ChoiceNotImplemented) == ["declared_values_work"]
    assert failed_checks(CrashesAtUnboundedZero) == ["edge_values_handled"]
    assert failed_checks(ModifiesInput) == ["input_untouched"]
    assert failed_checks(CrashesOnOnePixel) == ["one_pixel"]
    assert failed_checks(NeedsPixels) == ["without_pixels"]
    # The registry applies the same rules, so it refuses the plugin too, and the checks that
    # go through the registry say why.
    assert failed_checks(TwoLineDescription) == [
        "declares_description",
        "registry_accepts",
        "end_to_end",
        "invalid_params_rejected",
    ]


class Hangs(Popular):
    release = threading.Event()  # set when the test is done, so the abandoned threads end

    def quantize(self, hist, k, *, seed=0, by="count"):
        self.release.wait()  # sleeps: the abandoned thread costs no CPU meanwhile


def test_kit_reports_a_hanging_plugin_and_returns(request):
    request.addfinalizer(Hangs.release.set)
    started = time.perf_counter()
    with pytest.raises(ConformanceError) as info:
        check_quantizer(Hangs, timeout=0.3)
    assert time.perf_counter() - started < 10
    failed = info.value.failed
    assert "finishes" in failed and "output_contract" in failed
    messages = {r.name: r.message for r in info.value.failures}
    assert "timed out after 0.3 s" in messages["output_contract"]
    # After the first hang the rest are not run (each would hang and leave a thread behind).
    assert messages["k_is_1"].startswith("not run")


def test_kit_takes_file_plugins_through_their_record(data):
    registry = Registry([data / "plugins" / "conformance"], use_entry_points=False, use_env=False)
    assert failed_checks(registry.get("fails_to_import")) == ["loads"]
    error = pytest.raises(ConformanceError, check_quantizer, registry.get("float_palette"))
    assert "output_contract" in error.value.failed
    assert "dtype is float64, expected uint8" in str(error.value)


def test_kit_takes_a_registered_name():
    assert all(r.passed for r in check_quantizer("octree"))
    assert failed_checks("no_such_plugin_xyz") == ["loads"]


# --- ParamSpec checks itself when it is built ------------------------------------------------


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: ParamSpec("seed", int, 0), "'seed' is reserved"),
        (lambda: ParamSpec("should_stop", bool, False), "'should_stop' is reserved"),
        (lambda: ParamSpec("two words", int, 0), "not a Python identifier"),
        (lambda: ParamSpec("n", list, []), "is not int, float, bool or str"),
        (lambda: ParamSpec("boost", int, 0, min=1, max=8), "default 0 is below the minimum 1"),
        (lambda: ParamSpec("boost", int, True), "default True is not of type int"),
        (lambda: ParamSpec("rate", float, "fast"), "default 'fast' is not of type float"),
        (lambda: ParamSpec("by", str, "x", choices=("x", 3)), "choice 3 is not of type str"),
        (lambda: ParamSpec("by", str, "x", choices=["x"]), "choices must be a non-empty tuple"),
        (lambda: ParamSpec("by", str, "x", choices=()), "choices must be a non-empty tuple"),
        (lambda: ParamSpec("n", int, 3, min=5, max=1), "min 5 is above max 1"),
        (lambda: ParamSpec("s", str, "a", min=0), "min only applies to int and float"),
        (lambda: ParamSpec("n", int, 3, max="9"), "max '9' is not a number"),
        (lambda: ParamSpec("s", str, "a", preview="b"), "preview only applies to int and float"),
        (lambda: ParamSpec("n", int, 30, max=50, preview=99), "preview 99 is above the maximum"),
        (lambda: ParamSpec("n", int, 30, help=None), "help must be a str"),
    ],
)
def test_param_spec_refuses_a_declaration_that_contradicts_itself(build, message):
    with pytest.raises(ContractError, match=message) as info:
        build()
    assert "\n" not in str(info.value)


def test_param_spec_accepts_what_the_built_ins_declare():
    spec = ParamSpec("max_iter", int, 20, "passes", min=1, max=300, preview=8)
    assert spec.preview == 8 and spec.coerce("12") == 12
    assert ParamSpec("tol", float, 0, min=0.0).default == 0  # an int default for a float
    assert ParamSpec("mode", str, "a", choices=("a", "b")).describe() == (
        "mode (str, default a, one of a|b)"
    )


def test_a_plugin_file_with_a_bad_param_spec_is_listed_broken_with_the_reason(tmp_path):
    (tmp_path / "bad_spec.py").write_text(
        "from kmc_tui.plugin_api import ParamSpec, Quantizer\n"
        "class BadSpec(Quantizer):\n"
        "    name = 'bad_spec'\n"
        "    description = 'declares a default outside its range'\n"
        "    params = (ParamSpec('levels', int, 0, min=1, max=8),)\n"
    )
    record = Registry([tmp_path], use_entry_points=False, use_env=False).get("bad_spec")
    assert record.cls is None
    assert record.error == "parameter levels: default 0 is below the minimum 1"
    assert "ParamSpec('levels'" in record.last_traceback  # the plugin's own line
    assert failed_checks(record) == ["loads"]


# --- the cancellation hook -------------------------------------------------------------------


class Stoppable(Popular):
    """Popular, polling should_stop once per color group (a plugin with the hook, done right)."""

    calls: list = []

    def quantize(self, hist, k, *, seed=0, by="count", should_stop=None):
        Stoppable.calls.append(should_stop)
        if should_stop is not None and should_stop():
            raise Cancelled("stopped")
        return super().quantize(hist, k, by=by)


class StopsWithItsOwnError(Popular):
    def quantize(self, hist, k, *, seed=0, by="count", should_stop=None):
        if should_stop():
            raise RuntimeError("asked to stop")
        return super().quantize(hist, k, by=by)


class CallsShouldStopWrongly(Popular):
    def quantize(self, hist, k, *, seed=0, by="count", should_stop=None):
        if should_stop(0.5):  # the hook takes no arguments
            raise Cancelled("stopped")
        return super().quantize(hist, k, by=by)


def test_plugin_with_the_hook_passes_and_always_gets_a_callable():
    Stoppable.calls.clear()
    results = check_quantizer(Stoppable)
    assert "honours_should_stop" in {r.name for r in results if r.passed}
    # The kit hands it a callable on every call, as the core does; never None.
    assert Stoppable.calls and all(callable(stop) for stop in Stoppable.calls)


def test_kit_catches_a_plugin_that_stops_with_the_wrong_error():
    assert failed_checks(StopsWithItsOwnError) == ["honours_should_stop"]
    error = pytest.raises(ConformanceError, check_quantizer, StopsWithItsOwnError).value
    assert "raised RuntimeError: asked to stop" in str(error) and "Cancelled" in str(error)


def test_kit_catches_a_plugin_that_calls_the_hook_wrongly():
    # Every call passes the hook, so each call's TypeError is reported where it happens.
    assert {"output_contract", "honours_should_stop"} <= set(failed_checks(CallsShouldStopWrongly))


def test_kit_on_a_registered_name_that_two_plugins_claim(tmp_path):
    # The kit's own registry is built once per process: a fresh process with the clash in it.
    (tmp_path / "kmeans.py").write_text(
        "from kmc_tui.plugin_api import Quantizer, QuantizerOutput\n"
        "class Impostor(Quantizer):\n"
        "    name = 'kmeans'\n"
        "    description = 'a second plugin named kmeans'\n"
        "    def quantize(self, hist, k, *, seed=0):\n"
        "        return QuantizerOutput(hist.colors[:k].copy())\n"
    )
    code = (
        "from kmc_tui.testing import ConformanceError, check_quantizer\n"
        "try:\n    check_quantizer('kmeans')\n"
        "except ConformanceError as exc:\n    print(exc.failed, exc.failures[0].message)\n"
    )
    env = {**os.environ, "KMC_TUI_PLUGIN_PATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("['loads'] plugin 'kmeans' is unavailable: ")
    assert "kmc-tui 0.1.0" in done.stdout and str(tmp_path / "kmeans.py") in done.stdout
