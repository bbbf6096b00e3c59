"""A plugin file that is not valid Python (tests/test_hostile_plugins.py)."""

from kmc_tui.registry import Quantizer


class SyntaxErrorQuantizer(Quantizer):
    name = "syntax_error"
    description = "Never compiles"

    def quantize(self, hist, k, *, seed=0:
        return None
