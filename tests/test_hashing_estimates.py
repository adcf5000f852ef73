"""Statistical promises of the hashing core: Jaccard estimates and LSH recall."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.hashing import MinHasher, band_keys, band_params, estimate_jaccard, overlap

NUM_PERM = 128

# A small vocabulary, so that two random texts share shingles often enough
# to cover the whole range of Jaccard values.
WORDS = st.sampled_from(["the", "a", "cat", "dog", "sat", "on", "mat", "rug", "red", "blue", "big", "ran"])


@st.composite
def related_token_lists(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """A token list and an edited copy (substitutions, deletions, insertions)."""
    base = draw(st.lists(WORDS, min_size=3, max_size=120))
    rate = draw(st.sampled_from([0.0, 0.02, 0.1, 0.3, 0.6, 1.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    vocabulary = ["the", "cat", "sat", "zebra", "quartz", "mat"]
    copy: list[str] = []
    for token in base:
        roll = rng.random()
        if roll >= rate:
            copy.append(token)
        elif roll < rate / 3:
            copy.append(str(rng.choice(vocabulary)))
        elif roll < 2 * rate / 3:
            copy += [token, str(rng.choice(vocabulary))]
    return base, copy or ["alone"]


@settings(max_examples=250, deadline=None, derandomize=True)
@given(related_token_lists())
def test_estimate_within_minhash_error(pair: tuple[list[str], list[str]]) -> None:
    texts = [" ".join(pair[0]), " ".join(pair[1])]
    hasher = MinHasher(threads=1)
    sets = hasher.analyse(texts).shingles
    exact = overlap(sets[0], sets[1]).similarity
    sigs = hasher.signatures(texts)
    estimate = estimate_jaccard(sigs[0], sigs[1])
    # The estimate is the share of 128 positions that agree, each with
    # probability J: binomial, standard error sigma. Five sigma, plus three
    # positions: far from J = 0.5 (few shared shingles) the count is nearly
    # Poisson and skewed, and five sigma alone is under one position.
    sigma = math.sqrt(exact * (1 - exact) / NUM_PERM)
    assert abs(estimate - exact) <= 5 * sigma + 3 / NUM_PERM + 1e-9


def test_estimate_is_exact_at_the_ends() -> None:
    hasher = MinHasher(threads=1)
    sigs = hasher.signatures(["one two three four five", "one two three four five", "six seven eight nine"])
    assert estimate_jaccard(sigs[0], sigs[1]) == 1.0
    assert estimate_jaccard(sigs[0], sigs[2]) == 0.0


def test_estimates_are_unbiased_on_average() -> None:
    # Many pairs with the same exact Jaccard: the mean estimate must sit
    # within a few standard errors of the mean (128 * pairs draws).
    rng = np.random.default_rng(11)
    hasher = MinHasher(threads=1)
    exact_values, estimates = [], []
    for _ in range(200):
        words = [f"w{rng.integers(10**9)}" for _ in range(62)]
        left = words[:42]
        right = words[20:]
        texts = [" ".join(left), " ".join(right)]
        sets = hasher.analyse(texts).shingles
        exact_values.append(overlap(sets[0], sets[1]).similarity)
        sigs = hasher.signatures(texts)
        estimates.append(estimate_jaccard(sigs[0], sigs[1]))
    exact = float(np.mean(exact_values))
    sigma = math.sqrt(exact * (1 - exact) / (NUM_PERM * len(estimates)))
    assert abs(float(np.mean(estimates)) - exact) < 4 * sigma


@pytest.mark.parametrize("threshold", [round(t, 2) for t in np.arange(0.1, 0.96, 0.05)])
@pytest.mark.parametrize("num_perm", [64, 128, 256])
def test_band_params_reach_the_recall_at_the_threshold(threshold: float, num_perm: int) -> None:
    bands = band_params(threshold, num_perm)
    assert bands.bands * bands.rows <= num_perm
    assert bands.recall(threshold) >= 0.99


def pair_with_jaccard(rng: np.random.Generator, shared: int, union: int) -> list[np.ndarray]:
    """Two shingle sets of exactly ``shared / union`` Jaccard (random distinct hashes)."""
    values = rng.choice(1 << 32, union + (union - shared), replace=False).astype(np.uint32)
    only = (union - shared) // 2
    first = np.sort(values[: shared + only])
    second = np.sort(np.concatenate([values[:shared], values[shared + only : shared + 2 * only]]))
    return [first, second]


@pytest.mark.parametrize(("threshold", "num_perm"), [(0.3, 128), (0.5, 128), (0.7, 64)])
def test_bands_propose_pairs_at_the_rate_of_the_s_curve(threshold: float, num_perm: int) -> None:
    """Real signatures and band keys of pairs at a known Jaccard: the share
    of pairs sharing a band key is the S-curve's, within binomial error."""
    rng = np.random.default_rng(29)
    hasher = MinHasher(num_perm=num_perm, threads=1)
    bands = band_params(threshold, num_perm)
    pairs, union = 400, 200
    for jaccard in (threshold - 0.2, threshold - 0.1, threshold, threshold + 0.1):
        shared = 2 * round(jaccard * union / 2)  # even: both sides get the same share of the rest
        sets = [s for _ in range(pairs) for s in pair_with_jaccard(rng, shared, union)]
        keys = band_keys(hasher.signatures_of_sets(sets), bands).reshape(pairs, 2, bands.bands)
        proposed = np.count_nonzero((keys[:, 0] == keys[:, 1]).any(axis=1)) / pairs
        expected = bands.recall(shared / union)
        # Four binomial sigmas, and at least one pair: each pair is proposed
        # with probability ``expected`` if positions agree with probability J.
        tolerance = max(4 * math.sqrt(expected * (1 - expected) / pairs), 1 / pairs)
        assert abs(proposed - expected) <= tolerance, (shared / union, proposed, expected)
