"""The plugin registry and contract, through the public Python API."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import SAMPLES, sha256

from kmc_tui import (
    Cancelled,
    ParameterError,
    ParamSpec,
    PluginError,
    Registry,
    as_image,
    compress,
    process,
    read_image,
)


def test_discovery_imports_no_plugin():
    code = (
        "import sys\nfrom kmc_tui.registry import Registry\nr = Registry()\n"
        "assert 'kmeans' in r.names(), r.names()\n"
        "bad = [m for m in sys.modules if m.startswith(('kmc_kmeans', 'sklearn'))]\n"
        "print(bad)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_builtin_is_registered_through_entry_points():
    record = Registry(use_env=False).get("kmeans")
    assert record.origin.startswith("kmc-tui ")
    assert record.target == "kmc_kmeans:KMeansQuantizer"
    cls = record.load()
    assert cls.name == "kmeans" and {p.name for p in cls.params} >= {"color_space"}


def _write(folder, name, body):
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.py").write_text(body)


PLUGIN = """
import numpy as np
from kmc_tui.registry import ParamSpec, Quantizer, QuantizerOutput
class First(Quantizer):
    name = "{name}"
    description = "takes the first k distinct colors"
    params = (ParamSpec("offset", int, 0, "skip this many", min=0, max=10),)
    def quantize(self, hist, k, *, seed=0, offset=0):
        return QuantizerOutput(hist.colors[offset:offset + k])
"""


def test_file_plugin_loads_and_runs(tmp_path):
    _write(tmp_path / "p", "first", PLUGIN.format(name="first"))
    reg = Registry([tmp_path / "p"], use_env=False)
    record = reg.get("first")
    assert record.origin == str(tmp_path / "p" / "first.py") and not record.loaded
    img = read_image(SAMPLES / "chelsea.png")
    result = process(img, 5, plugin="first", registry=reg, params={"offset": "2"})
    assert result.quantized.colors <= 5
    assert result.quantized.params == {"offset": 2}
    with pytest.raises(ParameterError, match="above the maximum"):
        process(img, 5, plugin="first", registry=reg, params={"offset": 11})


def test_file_plugin_with_a_name_other_than_its_file_is_reported(tmp_path):
    _write(tmp_path / "p", "first", PLUGIN.format(name="other"))
    record = Registry([tmp_path / "p"], use_env=False).get("first")
    with pytest.raises(PluginError, match="declares name 'other'"):
        record.load()
    assert "declares name" in record.error and record.cls is None


def test_name_clash_makes_the_name_an_error_naming_both_origins(tmp_path):
    _write(tmp_path / "p", "kmeans", PLUGIN.format(name="kmeans"))
    reg = Registry([tmp_path / "p"], use_env=False)
    built_in, impostor = reg.get("kmeans"), reg.rejected[0]
    assert built_in.origin.startswith("kmc-tui ") and impostor.origin.endswith("kmeans.py")
    expected = (
        f"the name 'kmeans' is claimed by {built_in.origin} and by {impostor.origin}; "
        "remove or rename all but one"
    )
    assert built_in.error == impostor.error == expected
    # Never silently the built-in: using the name fails, for loading and for running.
    with pytest.raises(PluginError, match="plugin 'kmeans' is unavailable: the name 'kmeans'"):
        built_in.load()
    image = as_image(np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8))
    with pytest.raises(PluginError, match=f"and by {impostor.origin}"):
        process(image, 2, plugin="kmeans", registry=reg)
    assert not built_in.loaded and built_in.cls is None


def test_name_clash_through_the_cli(cli, tmp_path, samples):
    _write(tmp_path / "p", "kmeans", PLUGIN.format(name="kmeans"))
    out = tmp_path / "o.png"
    done = cli("compress", "-i", samples / "camera.png", "-o", out, "--plugin-dir", tmp_path / "p")
    assert done.returncode == 2 and not out.exists()
    line = done.stderr.strip()
    assert "\n" not in line and line.startswith("kmc-tui: error: plugin 'kmeans' is unavailable")
    assert "kmc-tui 0.1.0" in line and str(tmp_path / "p" / "kmeans.py") in line
    listing = cli("plugins", "--plugin-dir", tmp_path / "p")
    assert listing.stdout.count("kmeans  [BROKEN]") == 2


def test_the_same_plugin_seen_twice_is_no_clash():
    reg = Registry(use_entry_points=False, use_env=False)
    first = reg.register("twice", lambda: None, origin="dist 1.0", target="mod:Cls")
    again = reg.register("twice", lambda: None, origin="dist 1.0", target="mod:Cls")
    assert again is first and first.error is None and reg.rejected == []


def test_register_keeps_a_bad_name_as_the_records_error():
    reg = Registry(use_entry_points=False, use_env=False)
    record = reg.register("two words", lambda: None, origin="here")
    assert "must be letters, digits" in record.error
    with pytest.raises(PluginError, match="'two words' is unavailable"):
        record.load()


def test_env_plugin_path(tmp_path, monkeypatch):
    _write(tmp_path / "a", "first", PLUGIN.format(name="first"))
    _write(tmp_path / "b", "second", PLUGIN.format(name="second"))
    monkeypatch.setenv("KMC_TUI_PLUGIN_PATH", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    assert {"first", "second"} <= set(Registry().names())
    assert not {"first", "second"} & set(Registry(use_env=False).names())


@pytest.mark.parametrize(
    "spec,value,expected",
    [
        (ParamSpec("b", bool, False), "yes", True),
        (ParamSpec("b", bool, False), "off", False),
        (ParamSpec("i", int, 1, min=1, max=4), "3", 3),
        (ParamSpec("f", float, 0.5, min=0.0, max=1.0), "0.25", 0.25),
        (ParamSpec("s", str, "a", choices=("a", "b")), "b", "b"),
    ],
)
def test_param_coercion(spec, value, expected):
    assert spec.coerce(value) == expected


@pytest.mark.parametrize(
    "spec,value,message",
    [
        (ParamSpec("b", bool, False), "maybe", "not a valid bool"),
        (ParamSpec("i", int, 1, min=1, max=4), "5", "above the maximum"),
        (ParamSpec("i", int, 1, min=1, max=4), "2.5", "not a valid int"),
        (ParamSpec("s", str, "a", choices=("a", "b")), "c", "not one of a, b"),
    ],
)
def test_param_errors_say_what_is_wrong(spec, value, message):
    with pytest.raises(ParameterError, match=message):
        spec.coerce(value)


def test_python_api_compress(tmp_path):
    out = tmp_path / "o.png"
    result = compress(SAMPLES / "camera.png", out, 4)
    assert result.output == out and out.read_bytes() == result.data
    s = result.stats
    assert s.colors == result.quantized.colors <= 4
    assert (
        s.output_bytes == out.stat().st_size
        and s.input_bytes == (SAMPLES / "camera.png").stat().st_size
    )
    assert set(s.seconds) >= {"read", "histogram", "quantize", "encode", "write"}


def test_should_stop_cancels_between_stages():
    img = as_image(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    with pytest.raises(Cancelled):
        process(img, 8, should_stop=lambda: True)


def test_input_untouched_by_api(tmp_path):
    src = SAMPLES / "dice.png"
    before = sha256(src)
    compress(src, tmp_path / "o.gif", 8)
    assert sha256(src) == before


class _DuckTyped:
    """Declares everything a plugin does, without subclassing Quantizer."""

    name = "duck"
    description = "looks like a plugin"
    params = ()
    supports_alpha = False

    def quantize(self, hist, k, *, seed=0):  # pragma: no cover - never runs
        raise AssertionError


def test_entry_points_and_files_follow_one_rule_for_what_a_plugin_is(tmp_path):
    # Through an entry point (register() is how entry points come in): refused when loaded.
    reg = Registry(use_entry_points=False, use_env=False)
    record = reg.register("duck", lambda: _DuckTyped, origin="duck-dist 1.0", target="m:Duck")
    with pytest.raises(PluginError, match="_DuckTyped is not a subclass of kmc_tui.plugin_api"):
        record.load()
    # As a file: the same class is not a plugin there either.
    source = "class Duck:\n    name = 'duck'\n    description = 'looks like a plugin'\n"
    _write(tmp_path / "p", "duck", source)
    with pytest.raises(PluginError, match="must define exactly one Quantizer subclass"):
        Registry([tmp_path / "p"], use_entry_points=False, use_env=False).get("duck").load()
