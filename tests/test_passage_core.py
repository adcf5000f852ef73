"""Tokens with offsets, winnowing and alignment: the pure parts of passages."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from app.engine.align import align
from app.hashing import normalise
from app.hashing.tokens import tokenise
from app.hashing.winnow import Winnowing, fingerprints, fingerprints_each, kgram_hashes, winnow

# Letters (with case and accents), digits, Han characters, punctuation,
# spaces of several kinds, a soft hyphen and a zero-width space.
ALPHABET = st.sampled_from(list("abcXYZéÉßİ0129中文字。，.,;:!?'-\"«» \t\n\u00a0\u00ad\u200bＡｂ"))
TEXTS = st.text(ALPHABET, max_size=80)


@given(TEXTS)
def test_offsets_are_ordered_within_bounds_and_each_span_is_its_token(text: str) -> None:
    (tokens,) = tokenise([text])
    starts, ends = tokens.starts.tolist(), tokens.ends.tolist()
    assert all(0 <= s < e <= len(text) for s, e in zip(starts, ends, strict=True))
    assert all(e <= s for e, s in zip(ends, starts[1:], strict=False))
    spans = tokenise([text[s:e] for s, e in zip(starts, ends, strict=True)])
    for span, token_id in zip(spans, tokens.ids.tolist(), strict=True):
        assert span.ids.tolist() == [token_id]


@given(TEXTS)
def test_tokens_are_the_normalisers_tokens(text: str) -> None:
    (tokens,) = tokenise([text])
    words = normalise(text).split()
    assert len(tokens.ids) == len(words)
    # Equal normalised words have equal ids, different ones different ids.
    by_word: dict[str, int] = {}
    for word, token_id in zip(words, tokens.ids.tolist(), strict=True):
        assert by_word.setdefault(word, token_id) == token_id
    assert len(set(by_word.values())) == len(by_word)


def test_light_edits_give_equal_tokens() -> None:
    plain, edited = tokenise(
        [
            "The mayor said on Monday that the ferry would resume",
            # a Cyrillic е in "resume"
            "THE  Mayor said\u00a0on Mon\u00adday — that the \uff46erry w\u200bould r\u0435sume",
        ]
    )
    assert plain.ids.tolist() == edited.ids.tolist()
    assert plain.ids.size == 10


def test_han_characters_are_one_token_each_with_their_offsets() -> None:
    text = "新闻：外交部发言人说"
    (tokens,) = tokenise([text])
    assert [text[s:e] for s, e in zip(tokens.starts, tokens.ends, strict=True)] == list("新闻外交部发言人说")


def test_a_token_spans_invisible_characters_inside_it_but_not_around_it() -> None:
    text = "\u200bfer\u00adry\u200b boat"
    (tokens,) = tokenise([text])
    assert [text[s:e] for s, e in zip(tokens.starts, tokens.ends, strict=True)] == ["fer\u00adry", "boat"]


SCHEMES = st.sampled_from([Winnowing(3, 5), Winnowing(4, 4), Winnowing(5, 3), Winnowing(2, 1)])
IDS = st.lists(st.integers(0, 40), max_size=60)


@given(SCHEMES, IDS, IDS, st.lists(st.integers(0, 40), min_size=1, max_size=30), st.data())
def test_any_shared_run_of_window_plus_k_minus_one_tokens_shares_a_fingerprint(
    scheme: Winnowing, left: list[int], right: list[int], extra: list[int], data: st.DataObject
) -> None:
    run = data.draw(st.lists(st.integers(0, 40), min_size=scheme.guarantee, max_size=scheme.guarantee + 10))
    a = np.array(left + run + right, dtype=np.uint64)
    b = np.array(extra + run, dtype=np.uint64)
    prints_a, _ = fingerprints(a, scheme)
    prints_b, _ = fingerprints(b, scheme)
    assert np.intersect1d(prints_a, prints_b).size > 0


@given(st.lists(st.integers(0, 2**63), max_size=40), st.integers(1, 8))
def test_winnowing_selects_a_minimum_of_every_window(values: list[int], window: int) -> None:
    hashes = np.array(values, dtype=np.uint64)
    chosen = winnow(hashes, window)
    assert chosen.tolist() == sorted(set(chosen.tolist()))
    for start in range(max(1, hashes.size - window + 1)):
        part = hashes[start : start + window]
        if part.size:
            inside = [p for p in chosen.tolist() if start <= p < start + window]
            assert any(hashes[p] == part.min() for p in inside)


def test_kgram_hashes_depend_on_order() -> None:
    forward = kgram_hashes(np.array([1, 2, 3], dtype=np.uint64), 3)
    backward = kgram_hashes(np.array([3, 2, 1], dtype=np.uint64), 3)
    assert forward.size == backward.size == 1 and forward[0] != backward[0]


def _ids(words: str) -> np.ndarray:
    (tokens,) = tokenise([words])
    return tokens.ids


SOURCE = (
    "officials at the harbour confirmed that the northern pier will close for urgent repairs "
    "until the end of march after divers found corrosion on the columns"
)


def test_a_quote_inside_a_longer_paragraph_is_one_span_on_both_sides() -> None:
    quoted = SOURCE.split(" after")[0]
    n = len(quoted.split())
    query = "residents were angry when " + quoted + " and nobody explained why"
    (span,) = align(_ids(query), _ids(SOURCE), 4, 10, 3)
    assert (span.q0, span.q1) == (4, 4 + n)
    assert (span.s0, span.s1) == (0, n)
    assert span.matched == n


def test_a_changed_inserted_or_deleted_word_does_not_split_a_passage() -> None:
    words = SOURCE.split()
    changed = " ".join([*words[:8], "shut", *words[9:]])
    inserted = " ".join([*words[:8], "finally", *words[8:]])
    deleted = " ".join([*words[:8], *words[9:]])
    for query in (changed, inserted, deleted):
        (span,) = align(_ids(query), _ids(SOURCE), 4, 10, 3)
        assert (span.q0, span.s0, span.s1) == (0, 0, len(words))
        assert span.q1 == len(query.split())


def test_fifteen_words_with_one_changed_are_a_passage_and_five_common_words_are_not() -> None:
    quote = SOURCE.split()[:15]
    quote[7] = "shut"
    host = "a long unrelated sentence about the weather comes first"
    assert align(_ids(host + " " + " ".join(quote)), _ids(SOURCE), 4, 10, 3)
    formula = "the end of march after"
    assert align(_ids(host + " " + formula + " nothing else here"), _ids(SOURCE), 4, 10, 3) == []


def test_runs_patched_together_from_short_pieces_are_not_a_passage() -> None:
    # Three 4-token runs joined over changed words: 12 equal tokens, but the
    # two joins cost 4.
    words = SOURCE.split()[:14]
    words[4] = "x1"
    words[9] = "x2"
    assert align(_ids(" ".join(words)), _ids(SOURCE), 4, 10, 3) == []


def test_anchors_restrict_passages_to_those_covering_a_rare_fingerprint() -> None:
    query, source = _ids(SOURCE), _ids(SOURCE)
    assert align(query, source, 4, 10, 3, anchors=np.array([30], dtype=np.intp)) == []
    assert align(query, source, 4, 10, 3, anchors=np.array([3], dtype=np.intp))


def test_two_quotes_of_one_source_are_two_passages() -> None:
    words = SOURCE.split()
    query = " ".join(["first", *words[:12], "then", "much", "later", "on", "it", "said", *words[13:]])
    spans = align(_ids(query), _ids(SOURCE), 4, 10, 3)
    assert [(s.s0, s.s1) for s in spans] == [(0, 12), (13, len(words))]


def test_a_sentence_repeated_in_every_paragraph_is_aligned_with_a_bounded_number_of_them() -> None:
    from app.engine.passages import ARTICLE_SOURCES, PassageFinder, PassageRules
    from app.text import split

    finder = PassageFinder(PassageRules(Winnowing(4, 4), 12, 10))
    article = "\n\n".join(f"Paragraph {n} opens like this: {SOURCE}." for n in range(40))
    paragraphs = split(article, "text")
    found = finder.within_article(paragraphs, finder.tokens([p.text for p in paragraphs]), range(40))
    assert found[0] == []
    assert [len(f) for f in found[1:]] == [min(n, ARTICLE_SOURCES) for n in range(1, 40)]
    for passages in found:
        for passage in passages:
            assert article[passage.start : passage.end] == passage.text
            assert passage.source_text.endswith("on the columns")


@given(
    st.lists(st.lists(st.integers(0, 2**64 - 1), max_size=30), max_size=6),
    st.integers(1, 5),
    st.integers(1, 6),
)
def test_fingerprints_of_many_sequences_in_one_call_are_each_ones(
    sequences: list[list[int]], kgram: int, window: int
) -> None:
    scheme = Winnowing(kgram, window)
    ids = [np.array(s, dtype=np.uint64) for s in sequences]
    together = fingerprints_each(ids, scheme)
    assert len(together) == len(ids)
    for (values, positions), one in zip(together, ids, strict=True):
        alone_values, alone_positions = fingerprints(one, scheme)
        assert values.tolist() == alone_values.tolist()
        assert positions.tolist() == alone_positions.tolist()
