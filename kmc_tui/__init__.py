"""kmc-tui: reduce images to k colors and see the result before you keep it.

The public API (no Textual here)::

    from kmc_tui import compress
    result = compress("in.jpg", "out.png", k=16)
    print(result.stats.ratio, result.stats.delta_e)
"""

from __future__ import annotations

__version__ = "0.1.0"

from .api import Result, compress, process, save
from .errors import (
    Cancelled,
    InputError,
    KmcError,
    OutputError,
    ParameterError,
    PluginError,
    PluginTimeout,
)
from .io import Image, as_image, encode, read_image, write_atomic
from .quantize import Quantized, quantize
from .registry import (
    ColorHistogram,
    ParamSpec,
    Quantizer,
    QuantizerOutput,
    Registry,
    default_registry,
)
from .stats import Stats, compute_stats

__all__ = [
    "Cancelled",
    "ColorHistogram",
    "Image",
    "InputError",
    "KmcError",
    "OutputError",
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
    "as_image",
    "compress",
    "compute_stats",
    "default_registry",
    "encode",
    "process",
    "quantize",
    "read_image",
    "save",
    "write_atomic",
]
