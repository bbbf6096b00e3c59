"""A single-file plugin that cannot be imported (its dependency is missing)."""

import kmc_tui_no_such_module  # noqa: F401

from kmc_tui.registry import Quantizer


class FailsToImport(Quantizer):
    name = "fails_to_import"
    description = "Never loads"
