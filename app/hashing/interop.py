"""paradup's fingerprints as datasketch objects.

A paradup signature is, value for value, the ``hashvalues`` of datasketch's
``MinHash(num_perm, seed, hashfunc=xxhash.xxh32_intdigest)`` (its default
``affine32`` scheme) updated with the paragraph's shingles, the tokens of
its normalised text joined three by three. Wrapped as ``LeanMinHash`` with
that seed and scheme, they go into datasketch's indexes (``MinHashLSH``,
``MinHashLSHForest``, ``MinHashLSHEnsemble``) and compare with ``jaccard()``
against sketches datasketch made itself.

datasketch is imported on the first call, not with ``app.hashing``, and
is an optional extra (``pip install 'paradup[datasketch]'``): it needs
scipy, which the service never uses, and numba's start-up imports
scipy.linalg whenever scipy is installed (~0.2 s of every worker master's
start-up; benchmarks/RESULTS.md, "Start-up without scipy").
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import xxhash

from app.hashing.minhash import MinHasher, Signatures

if TYPE_CHECKING:
    from types import ModuleType

    from datasketch import LeanMinHash, MinHash

INSTALL_HINT = "paradup's datasketch interop needs datasketch: pip install 'paradup[datasketch]'"

# datasketch's name for the permutations of ``permutations()``.
SCHEME = "affine32"


def as_lean_minhashes(signatures: Signatures, seed: int) -> list[LeanMinHash]:
    """One ``LeanMinHash`` per signature row, made by ``MinHasher(seed=seed)``."""
    return [_datasketch().LeanMinHash(seed=seed, hashvalues=row, scheme=SCHEME) for row in signatures]


def lean_minhashes(texts: Sequence[str], hasher: MinHasher | None = None) -> list[LeanMinHash]:
    """paradup's fingerprint of each raw paragraph text as a ``LeanMinHash``,
    equal to the one datasketch computes from the same shingles; ``hasher``
    defaults to the service's scheme (128 permutations, seed 1, shingles of
    3 tokens)."""
    hasher = hasher or MinHasher()
    return as_lean_minhashes(hasher.signatures(texts), hasher.seed)


def shingles(texts: Sequence[str], hasher: MinHasher | None = None) -> list[list[bytes]]:
    """The shingles of each raw text as datasketch takes them: UTF-8 of
    ``shingle_size`` consecutive tokens of the normalised text joined by a
    space (all its tokens when it has fewer; none when it has no token)."""
    hasher = hasher or MinHasher()
    size = hasher.shingle_size
    out = []
    for normalised in hasher.analyse(texts).normalised:
        tokens = normalised.split(" ") if normalised else []
        count = max(1, len(tokens) - size + 1) if tokens else 0
        out.append([" ".join(tokens[i : i + size]).encode("utf-8", "surrogatepass") for i in range(count)])
    return out


def datasketch_minhash(hasher: MinHasher | None = None) -> MinHash:
    """An empty datasketch ``MinHash`` with ``hasher``'s permutations and
    hash function: updated with a text's ``shingles``, it holds paradup's
    signature of that text."""
    hasher = hasher or MinHasher()
    return _datasketch().MinHash(
        num_perm=hasher.num_perm, seed=hasher.seed, hashfunc=xxhash.xxh32_intdigest, scheme=SCHEME
    )


def _datasketch() -> ModuleType:
    try:
        return importlib.import_module("datasketch")
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc


__all__ = ["SCHEME", "as_lean_minhashes", "datasketch_minhash", "lean_minhashes", "shingles"]
