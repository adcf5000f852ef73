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
from numba import njit

from app.hashing import MinHasher, minhash, normalise
from app.hashing.charmap import ALONE, ASTRAL_ALONE, DELETE, MULTI, PLANE, SEPARATOR, WORD, char_tables
from app.hashing.minhash import chunk_bounds, code_points, text_ends
from app.hashing.xxh32 import LANE_BYTES, OVERREAD, xxh32_at, xxh32_lane

ROOT = Path(__file__).resolve().parent.parent
EMPTY = 0xFFFFFFFF

# Text that exercises every path of the kernel: ASCII, accents and combining
# marks, Arabic, CJK (stands alone), full-width forms, case foldings to
# several letters, invisible characters, astral characters.
UNICODE_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("abcXYZ019 .,-'\t\n\0")),
        st.sampled_from(list("éÉßﬁİǅ\u0301\u0308\u00ad\u200b\u0640ـيالعربية中文字，。…\u3000ＡＢ１！")),
        st.characters(codec="utf-8"),
    ),
    max_size=60,
)


# Where NFKC depends on context: marks to reorder or compose, Hangul jamo,
# Arabic hamza and harakat (in and out of canonical order), full-width forms
# and other characters NFKC replaces (after a letter they could compose
# with), compatibility characters too long to replace in the kernel.
COMPOSING_TEXT = st.text(
    alphabet=st.sampled_from(
        list("aeoAEMn \u0301\u0323\u0308\u0327\u0302\u0303\u031b\u0345ώéẹ")
        + list("\u1100\u1161\u11a8가각\u0627\u0654\u0655\u0653\u064b\u064e\u0650\u0651\u0623ب")
        + list("\u00a0\u2009\u2026ﬁ²½ＡＭ，。\u3000\u3099\u309aか\U0001d400\ud800")
        + list("ºª´\ufefb\ufdfa\u3392\u0344\u1e9b\u2f800\U0002f800\U0001f600")
        + list("\u0315\u0316\u035c\u05b0\u0591")
    ),
    max_size=40,
)


def reference_normalise(text: str) -> str:
    """The normalised text by the book, one character at a time in Python:
    unicodedata's NFKC, then each character folded by the shipped tables."""
    kind, mapped, extra = char_tables()
    tokens: list[str] = []
    token = ""
    for char in unicodedata.normalize("NFKC", text):
        cp = ord(char)
        astral = ALONE if ASTRAL_ALONE[0] <= cp <= ASTRAL_ALONE[1] else WORD
        k = kind[cp] if cp < PLANE else astral
        if k == DELETE:
            continue
        if k in (SEPARATOR, ALONE) and token:
            tokens.append(token)
            token = ""
        if k == ALONE:
            tokens.append(char)
        elif k == MULTI:
            at = int(mapped[cp])
            token += "".join(map(chr, extra[at + 1 : at + 1 + int(extra[at])]))
        elif k != SEPARATOR:
            token += chr(int(mapped[cp])) if cp < PLANE else char
    return " ".join([*tokens, token] if token else tokens)


def datasketch_signature(text: str) -> np.ndarray:
    """The documented equivalent of paradup's signature of ``text``."""
    tokens = reference_normalise(text).split(" ")
    m = MinHash(num_perm=128, seed=1, hashfunc=xxhash.xxh32_intdigest)
    if tokens != [""]:
        count = max(1, len(tokens) - 2)
        m.update_batch([" ".join(tokens[i : i + 3]).encode("utf-8", "surrogatepass") for i in range(count)])
    return np.asarray(m.hashvalues, dtype=np.uint32)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=100), st.integers(0, 7), st.sampled_from([0, 1, 2**31, 2**32 - 1]))
def test_xxh32_equals_xxhash(data: bytes, offset: int, seed: int) -> None:
    buffer = np.frombuffer(bytes(offset) + data + bytes(OVERREAD), dtype=np.uint8)
    assert int(scalar_hash(buffer, offset, offset + len(data), seed)) == xxhash.xxh32_intdigest(data, seed)


def test_xxh32_every_length_up_to_64() -> None:
    rng = np.random.default_rng(7)
    for length in range(65):
        buffer = rng.integers(0, 256, length + OVERREAD, dtype=np.uint8)
        expected = xxhash.xxh32_intdigest(buffer[:length].tobytes())
        assert int(scalar_hash(buffer, 0, length, 0)) == expected


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


@settings(max_examples=500, deadline=None)
@given(st.one_of(UNICODE_TEXT, COMPOSING_TEXT))
def test_normalised_text_equals_the_reference(text: str) -> None:
    assert normalise(text) == reference_normalise(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(UNICODE_TEXT, COMPOSING_TEXT), max_size=8))
def test_signatures_equal_those_of_the_nfkc_forms(texts: list[str]) -> None:
    hasher = MinHasher(threads=1)
    forms = [unicodedata.normalize("NFKC", t) for t in texts]
    assert np.array_equal(hasher.signatures(texts), hasher.signatures(forms))
    assert hasher.analyse(texts).normalised == [reference_normalise(t) for t in texts]


def test_every_character_in_every_context_normalises_like_the_reference() -> None:
    """Each BMP character (and the astral blocks NFKC changes) alone, after
    a letter it may compose with, before combining marks that compose or
    not, in and out of canonical order, and between Arabic letters."""
    chars = [chr(cp) for cp in (*range(PLANE), *range(0x1D400, 0x1D800), *range(0x2F800, 0x2FA20))]
    contexts = ["{}", "e{}", "\u0628{}\u064e\u0651"]
    contexts += ["{}\u0316", "{}\u0323\u0301x", "{}\u0301\u0323", "{}\u0315\u0316"]
    texts = [context.format(c) for context in contexts for c in chars]
    hasher = MinHasher()
    analysis = hasher.analyse(texts)
    wrong = [(t, g) for t, g in zip(texts, analysis.normalised, strict=True) if g != reference_normalise(t)]
    assert not wrong, wrong[:5]
    # The signing kernel normalises and hashes on its own path: same shingles.
    signed = hasher.signatures(texts)
    expected = hasher.signatures_of_sets(analysis.shingles)
    differ = np.flatnonzero((signed != expected).any(axis=1))
    assert not differ.size, [texts[i] for i in differ[:5]]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(UNICODE_TEXT, COMPOSING_TEXT), max_size=6))
def test_code_points_lay_texts_end_to_end(texts: list[str]) -> None:
    data, bounds = code_points(texts)
    assert bounds[0] == 0 and bounds[-1] == data.size
    for i, text in enumerate(texts):
        assert "".join(map(chr, data[bounds[i] : bounds[i + 1]].tolist())) == text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=LANE_BYTES - 1), min_size=1, max_size=20))
def test_xxh32_lanes_equal_xxhash(inputs: list[bytes]) -> None:
    words = np.zeros((LANE_BYTES // 4, len(inputs)), dtype=np.uint32)
    for i, data in enumerate(inputs):
        words[:, i] = np.frombuffer(data.ljust(LANE_BYTES, b"\xa5"), dtype="<u4")
    lengths = np.array([len(d) for d in inputs], dtype=np.uint32)
    got = [int(lane_hash(words, lengths, i, 2)) for i in range(len(inputs))]
    for stripes in (0, 1):
        short = [i for i, data in enumerate(inputs) if len(data) < 16 * (stripes + 1)]
        assert [int(lane_hash(words, lengths, i, stripes)) for i in short] == [got[i] for i in short]
    assert got == [xxhash.xxh32_intdigest(d) for d in inputs]


@njit(cache=True)
def scalar_hash(data: np.ndarray, start: int, end: int, seed: int) -> np.uint32:
    """The kernel's one-input xxh32 of ``data[start:end]`` (``data`` holds
    OVERREAD readable bytes after ``end``)."""
    return xxh32_at(np.uint64(data.ctypes.data + start), np.uint64(end - start), np.uint64(seed))


@njit(cache=True)
def lane_hash(words: np.ndarray, lengths: np.ndarray, i: int, stripes: int) -> np.uint32:
    return xxh32_lane(words, lengths, i, stripes)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 30), max_size=40), st.integers(1, 50))
def test_chunk_bounds_cover_every_text_once_in_order(lengths: list[int], size: int) -> None:
    texts = ["x" * n for n in lengths]
    bounds = chunk_bounds(text_ends(texts), size)
    assert [i for start, end in bounds for i in range(start, end)] == list(range(len(texts)))
    for start, end in bounds:
        assert start < end
        # a chunk reaches the size only with its last text
        assert sum(lengths[start : end - 1]) < size


def test_chunked_batches_equal_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of a few texts, with texts NFKC must normalise by context
    (decomposed accents) in several of them: each chunk's second pass puts
    its rows back in the right place."""
    texts = [f"Paragraph {i} of the cafe\u0301 story, " * (i % 3 + 1) for i in range(40)]
    texts[7::9] = [t.replace("cafe\u0301", "plain") for t in texts[7::9]]
    hasher = MinHasher(threads=2)
    alone = [hasher.signatures([t])[0] for t in texts]
    normalised = [hasher.analyse([t]).normalised[0] for t in texts]
    monkeypatch.setattr(minhash, "CHUNK_CODE_POINTS", 150)
    monkeypatch.setattr(minhash, "PARALLEL_MIN_BATCH", 8)
    assert len(chunk_bounds(text_ends(texts))) > 5
    assert np.array_equal(hasher.signatures(texts), np.array(alone))
    assert hasher.analyse(texts).normalised == normalised


def test_paragraphs_with_many_shingles_after_short_ones() -> None:
    """The kernel's shingle buffers start small and grow mid-batch."""
    rng = np.random.default_rng(11)
    words = ["word", "another", "third", "élan", "中", "longerwordthanmost", "x"]
    long_one = " ".join(rng.choice(words, 3000))
    longer = " ".join(rng.choice(words, 9000))
    texts = ["a short one here", long_one, "short again today", longer, "end"]
    for threads in (1, 2):
        batch = MinHasher(threads=threads).signatures(texts)
        assert np.array_equal(batch[1], datasketch_signature(long_one))
        assert np.array_equal(batch[3], datasketch_signature(longer))
        assert np.array_equal(batch[4], datasketch_signature("end"))
    analysis = MinHasher().analyse(texts)
    assert analysis.normalised[3] == reference_normalise(longer)
    assert analysis.shingles[3].size == len(set(analysis.shingles[3].tolist())) > 256


def test_characters_that_normalise_to_several_tokens_side_by_side() -> None:
    """NFKC makes several tokens of some single characters (U+32C6 is
    "7月", U+33C2 "a.m."), so a paragraph can have more shingles than code
    points: the shingle sets must still hold them all."""
    several = [chr(cp) for cp in range(PLANE) if len(reference_normalise(chr(cp)).split()) >= 2]
    assert len(several) > 100
    texts = ["".join(several), "㋆㋇㋈㋉", "㏂㏘", "x", "".join(several[:7])]
    assert len(reference_normalise(texts[0]).split()) > 2 * len(texts[0])
    for size in (1, 3):
        hasher = MinHasher(shingle_size=size)
        analysis = hasher.analyse(texts)
        assert analysis.normalised == [reference_normalise(t) for t in texts]
        assert np.array_equal(hasher.signatures_of_sets(analysis.shingles), hasher.signatures(texts))
    assert normalise("㏂㏘") == "a m p m"
