"""The option matrix's covering sample through the real CLI: every input kind, k extreme,
format, dither, plugin, plugin parameter at and past its limits, and odd option value at least
once (tests/option_matrix.py; the whole matrix: benchmarks/option_matrix.py)."""

from __future__ import annotations

import pytest
from option_matrix import covering_cases, run_case


@pytest.mark.parametrize("case", covering_cases(), ids=str)
def test_a_valid_result_or_a_one_line_refusal(tmp_path, case):
    assert run_case(case, tmp_path) == []
