"""Each normalisation rule, end to end: a disguised paragraph normalises and
signs like the plain one, and /check flags it against the ingested plain one.

All text here was written for these tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from app.api.factory import create_app
from app.hashing import MinHasher, normalise
from app.settings import Settings

# rule -> (plain paragraph, the same paragraph as someone re-typed or disguised it)
RULES: dict[str, tuple[str, str]] = {
    "nfkc": (
        "The final report counted 12 new classrooms and a studio for the film club of the school",
        "The ﬁnal report counted １２ new classrooms and a studio for the ﬁlm club of the school",
    ),
    "case_folding": (
        "Strasse works will close the old bridge for three weeks while engineers replace the deck",
        "STRASSE WORKS will close The Old Bridge for three weeks while ENGINEERS replace the deck",
    ),
    "typographic_quotes": (
        '"We are not leaving," the tenants said outside the town hall on a cold Tuesday morning',
        "“We are not leaving,” the tenants said outside the town hall on a cold Tuesday morning",
    ),
    "apostrophes": (
        "The council's plan doesn't say when the bus depot's new roof and the riders' shelter open",
        "The council’s plan doesnʼt say when the bus depot‘s new roof and the riders′ shelter open",
    ),
    "dashes": (
        "The ferry - late again - left at 9-30 for the islands, a trip of forty-five minutes",
        "The ferry — late again – left at 9‒30 for the islands, a trip of forty‑five minutes",
    ),
    "ellipses": (
        "Nobody expected the vote to pass... and yet the new bike lanes were approved by one vote",
        "Nobody expected the vote to pass… and yet the new bike lanes were approved by one vote",
    ),
    "nbsp_and_zero_width": (
        "Harbour fees will rise by 4 percent next spring, the port authority told the fishermen",
        "Har\u200bbour fees\u00a0will rise by\u202f4 percent next\u2060 spring, the port au\ufeffthority "
        "told the fish\u200dermen\u200e",
    ),
    "soft_hyphens": (
        "The administration announced an extraordinary reorganisation of the municipal departments",
        "The admin\u00adistration announced an extra\u00adordinary reorgan\u00adisation "
        "of the munic\u00adipal depart\u00adments",
    ),
    "homoglyphs": (
        "The police opened an inquiry into the accident on the coast road near the old lighthouse",
        "The pоlicе opened an inquiry intо the аccident on the cоast rоad near thе old lighthоuse",
    ),
    "no_space_script": (
        "市政府周三宣布，新建的图书馆将于下个月正式向公众开放，馆内藏书超过5万册。",
        "市政府周三宣布, 新建的图书馆将于下个月正式向公众开放, 馆内藏书超过５万册.",
    ),
    "japanese_kana": (
        "新しい図書館は来月から一般に公開される予定で、市民の期待が高まっている。",
        "新しい図書館は来月から一般に公開される予定で、市民の期待が高まっている.",
    ),
    "arabic_by_words": (
        "أعلنت البلدية يوم الأربعاء أن المكتبة الجديدة ستفتح أبوابها للجمهور في الشهر المقبل",
        "أعلنـت البلديـة يوم الأربعاء أن المكتبة الجديدة ستفتح أبوابَها للجمهور فی الشهر المقبل",
    ),
    "hebrew_points": (
        "העירייה הודיעה כי הספרייה החדשה תיפתח לציבור בחודש הבא אחרי שנתיים של עבודות",
        "העירייה הוֹדִיעָה כי הספרייה החדשה תיפתח לציבור בחודש הבא אחרי שנתיים של עבודות",
    ),
    "mixed_text": (
        "The Beijing office (北京办公室) and the Doha office (مكتب الدوحة) will share one archive soon",
        "The Bеijing оffice (北京办公室) and the Doha оffice (مكتـب الدوحة) will share one archive soon",
    ),
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    store = tmp_path_factory.mktemp("normalisation") / "index.db"
    with TestClient(create_app(Settings(store=f"sqlite:///{store}"))) as c:
        documents = [{"id": rule, "text": plain} for rule, (plain, _) in RULES.items()]
        assert c.post("/ingest", json={"documents": documents}).status_code == 200
        yield c


def check(client: TestClient, text: str) -> list[dict[str, Any]]:
    response = client.post("/check", json={"text": text})
    assert response.status_code == 200
    paragraphs: list[dict[str, Any]] = response.json()["paragraphs"]
    return paragraphs


def archive_matches(paragraph: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["document_id"]: m for m in paragraph["matches"] if m["source"] == "archive"}


@pytest.mark.parametrize("rule", RULES)
def test_disguised_paragraph_normalises_and_signs_like_the_plain_one(rule: str) -> None:
    plain, disguised = RULES[rule]
    assert plain != disguised
    assert normalise(disguised) == normalise(plain)
    sigs = MinHasher().signatures([plain, disguised])
    assert np.array_equal(sigs[0], sigs[1])


@pytest.mark.parametrize("rule", RULES)
def test_check_flags_the_disguised_copy_of_an_ingested_paragraph(client: TestClient, rule: str) -> None:
    (paragraph,) = check(client, RULES[rule][1])
    assert paragraph["status"] == "duplicate"
    assert not paragraph["short"]
    assert archive_matches(paragraph)[rule]["similarity"] == 1.0


def test_no_space_scripts_are_shingled_by_character() -> None:
    assert normalise("图书馆开放。") == "图 书 馆 开 放"
    assert normalise("カタカナとひらがな") == "カ タ カ ナ と ひ ら が な"
    assert normalise("ภาษาไทย") == "ภ า ษ า ไ ท ย"


def test_arabic_and_latin_are_shingled_by_word() -> None:
    assert normalise("المكتبة الجديدة ستفتح") == "المكتبة الجديدة ستفتح"
    assert normalise("Mixed 中文 text") == "mixed 中 文 text"


def test_rules_do_not_merge_different_words() -> None:
    # Folding must stay within look-alikes: other letters keep other words apart.
    assert normalise("bank") != normalise("back")
    assert normalise("résumé") != normalise("resume")
    assert normalise("كتب") != normalise("كلب")


BASE = (
    "The river authority said on Friday that the western embankment will be raised by half a metre "
    "before the winter floods, after two years of delays caused by disputes over the land."
)
EXTRA = (
    "Residents of the lower town, many of whom lost furniture and cars in the flood of the previous "
    "spring, said they would believe the promise when they saw the first lorries and diggers arrive."
)


def test_a_sentence_added_is_caught_by_containment(client: TestClient) -> None:
    assert client.post("/ingest", json={"id": "river", "text": BASE}).status_code == 200
    (paragraph,) = check(client, BASE + " " + EXTRA)
    match = archive_matches(paragraph)["river"]
    assert match["similarity"] < 0.5  # Jaccard alone would miss it
    assert match["containment"] >= 0.95


def test_a_sentence_removed_is_caught_by_containment(client: TestClient) -> None:
    assert client.post("/ingest", json={"id": "river-long", "text": BASE + " " + EXTRA}).status_code == 200
    (paragraph,) = check(client, EXTRA)
    match = archive_matches(paragraph)["river-long"]
    assert match["similarity"] < 0.6
    assert match["containment"] == 1.0


SHORT = "Read our live coverage here."


def test_a_short_line_repeated_across_documents_is_not_flagged(client: TestClient) -> None:
    archived = f"{BASE}\n\n{SHORT}"
    assert client.post("/ingest", json={"id": "with-tagline", "text": archived}).status_code == 200
    _, second = check(client, f"{EXTRA}\n\n{SHORT}")
    assert second["short"]
    assert second["status"] == "unique"


def test_a_short_line_repeated_inside_one_article_is_flagged(client: TestClient) -> None:
    paragraphs = check(client, f"{SHORT}\n\n{EXTRA}\n\n{SHORT.upper()}")
    last = paragraphs[2]
    assert last["short"]
    assert last["status"] == "duplicate"
    assert [(m["source"], m["paragraph_index"]) for m in last["matches"]] == [("article", 0)]


WORDS = ["harbour", "council", "extraordinary", "bridge", "library", "tenants", "announcement", "ferry"]
INVISIBLES = ["\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u200e", "\u200f", "\u034f"]


@settings(max_examples=200, deadline=None)
@given(
    words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=12),
    data=st.data(),
)
def test_invisible_characters_inside_words_never_change_the_normalised_text(
    words: list[str], data: st.DataObject
) -> None:
    disguised = []
    for word in words:
        cut = data.draw(st.integers(1, len(word) - 1))
        mark = data.draw(st.sampled_from(INVISIBLES))
        disguised.append(word[:cut] + mark + word[cut:])
    assert normalise(" ".join(disguised)) == normalise(" ".join(words)) == " ".join(words)


@settings(max_examples=100, deadline=None)
@given(words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=12), data=st.data())
def test_case_and_spacing_never_change_the_normalised_text(words: list[str], data: st.DataObject) -> None:
    spaces = st.sampled_from([" ", "  ", "\u00a0", "\u202f", "\t", "\n", "\u3000"])
    styled = [data.draw(st.sampled_from([w, w.upper(), w.title()])) for w in words]
    text = "".join(w + data.draw(spaces) for w in styled)
    assert normalise(text) == " ".join(words)
