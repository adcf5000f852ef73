"""The paired ratios of the interleaved before/after benchmark
(benchmarks/load/interleaved_ab.py; its turns are ab.round_order's)."""

from __future__ import annotations

import pytest

from benchmarks.load.ab import AFTER, BEFORE
from benchmarks.load.interleaved_ab import paired


def test_ratios_pair_the_values_of_one_turn() -> None:
    # A slow turn slows both versions: paired, it moves no ratio.
    found = paired({BEFORE: [2.0, 8.0, 4.0], AFTER: [1.0, 4.0, 6.0]})
    assert found[BEFORE] == 4.0 and found[AFTER] == 4.0
    assert found["ratio"] == pytest.approx(0.5)
    assert found["ratio_min"] == pytest.approx(0.5) and found["ratio_max"] == pytest.approx(1.5)
    assert found["pairs"] == 3.0


def test_unpaired_values_are_refused() -> None:
    with pytest.raises(ValueError, match=r"zip\(\) argument"):
        paired({BEFORE: [1.0, 2.0], AFTER: [1.0]})
