"""The compiled hashing core against its references: xxhash, datasketch, unicodedata."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import xxhash
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from app.hashing import MinHasher, normalize
from app.hashing.minhash import _nfkc, pack
from app.hashing.xxh32 import OVERREAD, xxh32

ROOT = Path(__file__).resolve().parent.parent
EMPTY = 0xFFFFFFFF

# Text that exercises every path of the kernel and of pack(): ASCII, accents
# and combining marks, Arabic, CJK (stands alone), full-width forms, case
# foldings to several letters, invisible characters, astral characters.
UNICODE_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("abcXYZ019 .,-'\t\n\0")),
        st.sampled_from(list("éÉßﬁİǅ\u0301\u0308\u00ad\u200b\u0640ـيالعربية中文字，。…\u3000ＡＢ１！")),
        st.characters(codec="utf-8"),
    ),
    max_size=60,
)


# Where NFKC depends on context: marks to reorder or compose, Hangul jamo,
# Arabic hamza and harakat, full-width forms, compatibility characters.
COMPOSING_TEXT = st.text(
    alphabet=st.sampled_from(
        list("aeoAEn \u0301\u0323\u0308\u0327\u0302\u0303\u031b\u0345ώéẹ")
        + list("\u1100\u1161\u11a8가각\u0627\u0654\u0655\u0653\u064b\u0651\u0623ب")
        + list("\u00a0\u2009\u2026ﬁ²½Ａ，。\u3000\u3099\u309aか\U0001d400\ud800")
    ),
    max_size=40,
)


def datasketch_signature(text: str) -> np.ndarray:
    """The documented equivalent of paradup's signature of ``text``."""
    tokens = normalize(text).split(" ")
    m = MinHash(num_perm=128, seed=1, hashfunc=xxhash.xxh32_intdigest)
    if tokens != [""]:
        count = max(1, len(tokens) - 2)
        m.update_batch([" ".join(tokens[i : i + 3]).encode("utf-8", "surrogatepass") for i in range(count)])
    return np.asarray(m.hashvalues, dtype=np.uint32)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=100), st.integers(0, 7), st.sampled_from([0, 1, 2**31, 2**32 - 1]))
def test_xxh32_equals_xxhash(data: bytes, offset: int, seed: int) -> None:
    buffer = np.frombuffer(bytes(offset) + data + bytes(OVERREAD), dtype=np.uint8)
    assert int(xxh32(buffer, offset, offset + len(data), seed)) == xxhash.xxh32_intdigest(data, seed)


def test_xxh32_every_length_up_to_64() -> None:
    rng = np.random.default_rng(7)
    for length in range(65):
        buffer = rng.integers(0, 256, length + OVERREAD, dtype=np.uint8)
        expected = xxhash.xxh32_intdigest(buffer[:length].tobytes())
        assert int(xxh32(buffer, 0, length, 0)) == expected


@settings(max_examples=200, deadline=None)
@given(UNICODE_TEXT)
def test_signature_equals_datasketch(text: str) -> None:
    ours = MinHasher(threads=1).signatures([text])[0]
    assert np.array_equal(ours, datasketch_signature(text))


@settings(max_examples=40, deadline=None)
@given(st.lists(UNICODE_TEXT, min_size=1, max_size=8))
def test_batch_equals_one_by_one(texts: list[str]) -> None:
    hasher = MinHasher(threads=1)
    batch = hasher.signatures(texts)
    for row, text in zip(batch, texts, strict=True):
        assert np.array_equal(row, hasher.signatures([text])[0])


@pytest.mark.parametrize("text", ["", " ", "...", "\0\0", "\u00ad\u200b"])
def test_text_without_tokens_gives_the_empty_signature(text: str) -> None:
    assert (MinHasher(threads=1).signatures([text]) == EMPTY).all()
    assert MinHasher().analyse([text]).shingles[0].size == 0


def test_parallel_equals_serial() -> None:
    rng = np.random.default_rng(3)
    words = ["alpha", "beta", "gamma", "delta", "épée", "中", "文", "ﬁn", "ÉTÉ", "1984"]
    texts = [" ".join(rng.choice(words, rng.integers(0, 40))) for _ in range(5000)]
    serial = MinHasher(threads=1).signatures(texts)
    parallel = MinHasher(threads=2).signatures(texts)
    assert np.array_equal(serial, parallel)


def test_same_signatures_in_another_process() -> None:
    texts = ["The quick brown fox", "Le renard brun et rapide saute", "敏捷的棕色狐狸", "", "x y"]
    script = (
        "import hashlib, sys; from app.hashing import signatures; "
        f"sys.stdout.write(hashlib.sha256(signatures({texts!r}).tobytes()).hexdigest())"
    )
    other = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert other == hashlib.sha256(MinHasher().signatures(texts).tobytes()).hexdigest()


@settings(max_examples=300, deadline=None)
@given(st.one_of(UNICODE_TEXT, COMPOSING_TEXT))
def test_fast_nfkc_equals_unicodedata(text: str) -> None:
    assert _nfkc(text) == unicodedata.normalize("NFKC", text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(UNICODE_TEXT, COMPOSING_TEXT), max_size=6))
def test_pack_lays_texts_end_to_end(texts: list[str]) -> None:
    data, bounds = pack(texts)
    assert bounds[0] == 0 and bounds[-1] == data.size
    for i, text in enumerate(texts):
        raw = data[bounds[i] : bounds[i + 1] - 1].tobytes()
        assert raw == unicodedata.normalize("NFKC", text).encode("utf-8", "surrogatepass")
