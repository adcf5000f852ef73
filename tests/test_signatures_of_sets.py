"""Signing from exact shingle sets gives the signatures of the texts."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from app.hashing import MinHasher

words = st.sampled_from(["le", "Kremlin", "a", "déclaré", "習近平", "مرحبا", "ﬁn", "l’été", "", " ", "\n"])
texts = st.lists(st.lists(words, max_size=40).map(" ".join), max_size=8)


@given(texts, st.sampled_from([1, 3, 5]))
def test_signatures_of_sets_equal_signatures(batch: list[str], shingle_size: int) -> None:
    hasher = MinHasher(shingle_size=shingle_size)
    direct = hasher.signatures(batch)
    from_sets = hasher.signatures_of_sets(hasher.analyse(batch).shingles)
    assert from_sets.shape == direct.shape
    assert np.array_equal(from_sets, direct)


def test_empty_inputs() -> None:
    hasher = MinHasher()
    assert hasher.signatures_of_sets([]).shape == (0, 128)
    (row,) = hasher.signatures_of_sets([np.empty(0, dtype=np.uint32)])
    assert (row == 0xFFFFFFFF).all()
