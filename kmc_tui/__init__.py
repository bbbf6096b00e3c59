"""kmc-tui: reduce images to k colors and see the result before you keep it.

The public API (no Textual here)::

    from kmc_tui import compress
    result = compress("in.jpg", "out.png", k=16)
    print(result.stats.ratio, result.stats.delta_e)

Plugin authors import the contract from :mod:`kmc_tui.plugin_api` and check their plugin with
:func:`kmc_tui.testing.check_quantizer`.
"""

from __future__ import annotations

import importlib
import sys
import types

__version__ = "0.1.0"

# Each name is imported from its module when first used, so that ``import kmc_tui`` (and every
# ``kmc-tui`` process, whose command line is checked before any of this is needed) stays light.
_EXPORTS = {
    "api": ("Result", "compress", "process", "save"),
    "encode": ("encode",),
    "errors": (
        "Cancelled",
        "ContractError",
        "InputError",
        "KmcError",
        "OutputError",
        "OutputExists",
        "ParameterError",
        "PluginError",
        "PluginTimeout",
        "TargetUnreachable",
    ),
    "fsio": ("write_atomic",),
    "plugin_api": ("ColorHistogram", "ParamSpec", "Quantizer", "QuantizerOutput"),
    "quantize": ("Quantized", "quantize"),
    "read": ("Image", "as_image", "read_image"),
    "registry": ("Registry", "default_registry"),
    "stats": ("Stats", "compute_stats"),
    "targets": ("Target", "TargetSearch", "Trial", "search_k"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value) -> None:
        # Importing the submodule `encode` or `quantize` binds it here by its name; that name
        # stays the function of the same name, as the public API has it.
        if isinstance(value, types.ModuleType) and _MODULE_OF.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__all__ = [
    "Cancelled",
    "ColorHistogram",
    "ContractError",
    "Image",
    "InputError",
    "KmcError",
    "OutputError",
    "OutputExists",
    "ParamSpec",
    "ParameterError",
    "PluginError",
    "PluginTimeout",
    "Quantized",
    "Quantizer",
    "QuantizerOutput",
    "Registry",
    "Result",
    "Stats",
    "Target",
    "TargetSearch",
    "TargetUnreachable",
    "Trial",
    "as_image",
    "compress",
    "compute_stats",
    "default_registry",
    "encode",
    "process",
    "quantize",
    "read_image",
    "save",
    "search_k",
    "write_atomic",
]
