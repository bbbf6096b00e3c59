"""kmc-tui: reduce images to k colors and see the result before you keep it.

The public API (no Textual here)::

    from kmc_tui import compress
    result = compress("in.jpg", "out.png", k=16)
    print(result.stats.ratio, result.stats.delta_e)

Plugin authors import the contract from :mod:`kmc_tui.plugin_api` and check their plugin with
:func:`kmc_tui.testing.check_quantizer`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .api import Result, compress, process, save
from .encode import encode
from .errors import (
    Cancelled,
    ContractError,
    InputError,
    KmcError,
    OutputError,
    OutputExists,
    ParameterError,
    PluginError,
    PluginTimeout,
    TargetUnreachable,
)
from .fsio import write_atomic
from .plugin_api import ColorHistogram, ParamSpec, Quantizer, QuantizerOutput
from .quantize import Quantized, quantize
from .read import Image, as_image, read_image
from .registry import Registry, default_registry
from .stats import Stats, compute_stats
from .targets import Target, TargetSearch, Trial, search_k

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
