"""A plugin whose import never finishes (tests that --timeout bounds loading too)."""

import time

from kmc_tui.registry import Quantizer

while True:
    time.sleep(0.01)


class NeverDefined(Quantizer):  # pragma: no cover - never reached
    name = "hang_on_import"
    description = "Never imports"
