"""A check's prints without index keys (``Fingerprinter.prints(index_keys=False)``)
differ from an ingest's in their ``keys`` alone: the band keys, where an
ingest indexes the band keys then the distinct winnowed fingerprints."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_store_contract import FP

WORDS = ["harbour", "quay", "council", "budget", "lamp", "river", "silt", "crews", "summer", "pontoon"]
PARAGRAPHS = st.lists(st.sampled_from(WORDS), min_size=0, max_size=40).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(st.lists(PARAGRAPHS, min_size=1, max_size=6))
def test_a_checks_prints_are_an_ingests_but_for_the_keys(texts: list[str]) -> None:
    full = FP.prints(texts, tokens=True)
    lean = FP.prints(texts, tokens=True, index_keys=False)
    assert full.winnowed is not None and lean.winnowed is not None and lean.tokens is not None
    assert [k.tolist() for k in lean.keys] == [b.tolist() for b in full.bands]
    assert [b.tolist() for b in lean.bands] == [b.tolist() for b in full.bands]
    assert lean.analysis.normalised == full.analysis.normalised
    assert [s.tolist() for s in lean.analysis.shingles] == [s.tolist() for s in full.analysis.shingles]
    assert [(v.tolist(), p.tolist()) for v, p in lean.winnowed] == [
        (v.tolist(), p.tolist()) for v, p in full.winnowed
    ]
    for keys, bands, (values, _) in zip(full.keys, full.bands, full.winnowed, strict=True):
        # An ingest's keys: the band keys, then the distinct fingerprints (as unsigned, sorted).
        expected = np.unique(values.view(np.uint64)).view(np.int64) if bands.size else values[:0]
        assert keys.tolist() == [*bands.tolist(), *expected.tolist()]
