"""A check's archive hits kept as arrays: the refs found under each key.

A check votes on its hits twice, once per band key of each paragraph and
once per winnowed fingerprint (``app/engine/votes.py``): ~1,000 keys asked
and ~600 refs found for a 10-paragraph article. The embedded store finds
them as arrays; making them a dict of lists only for the votes to walk it
again cost a Python step per key (~0.05 ms a check at 1M paragraphs), and
the compiled vote takes the arrays as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import numpy.typing as npt

from app.store.distinct import listed_by_key

Keys = npt.NDArray[np.int64]
Positions = npt.NDArray[np.intp]
Refs = npt.NDArray[np.uint64]

_NO_REFS: Refs = np.empty(0, dtype=np.uint64)


@dataclass(frozen=True, eq=False)
class Hits:
    """The refs under ``keys[i]`` are ``refs[bounds[i]:bounds[i + 1]]``,
    ascending; ``keys`` are distinct and ascending, each with one ref or more."""

    keys: Keys
    bounds: Positions
    refs: Refs

    @classmethod
    def of(cls, found: Mapping[int, Sequence[int]]) -> Hits:
        """From a dict of key -> ascending refs (a lookup cut by ``CandidateRule.hits``)."""
        listed = sorted((key, refs) for key, refs in found.items() if refs)
        lengths = np.fromiter((len(refs) for _, refs in listed), dtype=np.intp, count=len(listed))
        bounds = np.zeros(len(listed) + 1, dtype=np.intp)
        np.cumsum(lengths, out=bounds[1:])
        return cls(
            np.fromiter((key for key, _ in listed), dtype=np.int64, count=len(listed)),
            bounds,
            np.fromiter(
                chain.from_iterable(refs for _, refs in listed), dtype=np.uint64, count=int(bounds[-1])
            ),
        )

    @classmethod
    def none(cls) -> Hits:
        return cls(np.empty(0, dtype=np.int64), np.zeros(1, dtype=np.intp), _NO_REFS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Hits):
            return NotImplemented
        return all(
            np.array_equal(mine, theirs)
            for mine, theirs in (
                (self.keys, other.keys),
                (self.bounds, other.bounds),
                (self.refs, other.refs),
            )
        )

    __hash__ = None  # type: ignore[assignment]

    def __len__(self) -> int:
        return int(self.keys.size)

    def as_dict(self) -> dict[int, list[int]]:
        return listed_by_key(self.keys, self.bounds, self.refs)
