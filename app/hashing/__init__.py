"""Pure hashing core: paragraph text in, MinHash signatures and band keys out.

No network or database, no settings, no mutable module state: the only files
read are the package's own generated tables (``chartables.npz`` for folding,
``nfkctables.npz`` for NFKC), loaded once and cached like the permutations.
"""

from app.hashing.interop import as_lean_minhashes, datasketch_minhash, lean_minhashes
from app.hashing.lsh import Bands, band_keys, band_params
from app.hashing.minhash import (
    Analysis,
    MinHasher,
    Signatures,
    estimate_jaccard,
    normalise,
    normalise_many,
    permutations,
    signatures,
    tables_digest,
)
from app.hashing.similarity import Overlap, overlap

__all__ = [
    "Analysis",
    "Bands",
    "MinHasher",
    "Overlap",
    "Signatures",
    "as_lean_minhashes",
    "band_keys",
    "band_params",
    "datasketch_minhash",
    "estimate_jaccard",
    "lean_minhashes",
    "normalise",
    "normalise_many",
    "overlap",
    "permutations",
    "signatures",
    "tables_digest",
]
