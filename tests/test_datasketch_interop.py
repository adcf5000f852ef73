"""paradup's fingerprints as datasketch objects: equal sketches, equal LSH candidates."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import xxhash
from datasketch import LeanMinHash, MinHash, MinHashLSH
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine import DocumentInput, Service
from app.hashing import MinHasher, as_lean_minhashes, datasketch_minhash, lean_minhashes
from app.hashing.interop import SCHEME, shingles
from tests.test_hashing_kernel import UNICODE_TEXT

README = Path(__file__).resolve().parent.parent / "README.md"

# Originals, each followed by near-duplicates of it (a word changed, a
# sentence added or dropped), in several scripts; then paragraphs related
# to none of them.
CORPUS = {
    "en/0": (
        "The regional council voted on Tuesday to extend the night bus network to the three outer districts."
    ),
    "en/1": (
        "The regional council voted on Tuesday to extend the night bus network to the four outer districts."
    ),
    "en/2": (
        "On Tuesday the regional council voted to extend the night bus network to the three "
        "outer districts, after a year of complaints from shift workers."
    ),
    "fr/0": (
        "Le conseil municipal a adopté mardi soir le budget de la rénovation du vieux port, "
        "après trois heures de débat."
    ),
    "fr/1": (
        "Le conseil municipal a adopté mardi soir le budget de la rénovation du vieux port, "
        "après quatre heures de débat houleux."
    ),
    "de/0": (
        "Die Stadtverwaltung kündigte am Montag an, dass die Brücke über den Fluss bis zum "
        "Frühjahr gesperrt bleibt."
    ),
    "de/1": (
        "Die Stadtverwaltung kündigte am Montag an, dass die alte Brücke über den Fluss bis zum"
        " Frühjahr gesperrt bleibt."
    ),
    "es/0": (
        "El ayuntamiento anunció que la biblioteca central abrirá los domingos a partir del "
        "próximo mes de marzo."
    ),
    "es/1": (
        "El ayuntamiento anunció ayer que la biblioteca central abrirá también los domingos a "
        "partir del próximo mes de marzo."
    ),
    "ru/0": (
        "Городской совет во вторник проголосовал за продление ночных автобусных маршрутов в три"
        " отдалённых района."
    ),
    "ru/1": (
        "Городской совет в среду проголосовал за продление ночных автобусных маршрутов в три "
        "отдалённых района."
    ),
    "zh/0": "市议会周二投票决定将夜间公交线路延伸到三个郊区，试点为期十八个月。",
    "zh/1": "市议会周二投票决定将夜间公交线路延伸到四个郊区，试点为期十八个月。",
    "ar/0": (
        "أعلن المجلس البلدي يوم الثلاثاء عن توسيع شبكة الحافلات الليلية لتشمل ثلاثة أحياء خارجية جديدة."
    ),
    "ar/1": (
        "أعلن المجلس البلدي يوم الأربعاء عن توسيع شبكة الحافلات الليلية لتشمل ثلاثة أحياء خارجية جديدة."
    ),
    "ja/0": "市議会は火曜日、夜間バス路線を郊外の三つの地区に延長することを決めた。",
    "other/0": (
        "A late goal from the visiting side settled a cup tie that had looked destined for extra time."
    ),
    "other/1": ("Les vendanges ont commencé avec deux semaines d'avance dans les vignobles du sud du pays."),
    "other/2": "Im Museum ist ab Samstag eine Ausstellung über die Geschichte der Seefahrt zu sehen.",
    "other/3": "短句。",
}
# Probes that are not in the index: edits of indexed paragraphs and strangers.
PROBES = [
    ("The regional council voted on Wednesday to extend the night bus network to the three outer districts."),
    (
        "Le conseil municipal a adopté mardi le budget de la rénovation du vieux port, après "
        "trois heures de débat."
    ),
    "市议会周三投票决定将夜间公交线路延伸到三个郊区，试点为期十八个月。",
    ("Nothing in this paragraph resembles anything that was indexed before it, not a single phrase."),
]


def paradup_candidates(service: Service, texts: list[str]) -> list[set[str]]:
    """The ids of the indexed paragraphs paradup's bands propose for each text."""
    fp = service.fingerprinter
    proposed = []
    for keys in fp.keys_for(fp.analyse(texts)):
        refs = {ref for found in service.store.lookup(keys).values() for ref in found}
        proposed.append({p.document_id for p in service.store.paragraphs(sorted(refs)).values()})
    return proposed


def test_datasketch_lsh_proposes_the_candidates_of_paradups_bands(service: Service) -> None:
    service.ingest([DocumentInput(doc_id, text, "text", {}) for doc_id, text in CORPUS.items()])
    fp = service.fingerprinter
    hasher = fp.hasher
    lsh = MinHashLSH(num_perm=hasher.num_perm, params=(fp.bands.bands, fp.bands.rows))
    indexable = fp.indexable(fp.analyse(list(CORPUS.values())))
    with lsh.insertion_session() as session:
        for doc_id, minhash, ok in zip(
            CORPUS, lean_minhashes(list(CORPUS.values()), hasher), indexable, strict=True
        ):
            if ok:  # paradup never bands a short paragraph
                session.insert(doc_id, minhash)
    texts = [*CORPUS.values(), *PROBES]
    theirs = [set(lsh.query(m)) for m in lean_minhashes(texts, hasher)]
    ours = paradup_candidates(service, texts)
    assert [sorted(c) for c in theirs] == [sorted(c) for c in ours]
    # not vacuous: near-duplicates are proposed together, strangers alone
    assert ours[0] >= {"en/0", "en/1", "en/2"}
    assert ours[list(CORPUS).index("zh/0")] >= {"zh/0", "zh/1"}
    assert ours[list(CORPUS).index("other/0")] == {"other/0"}
    assert ours[-1] == set()
    assert ours[list(CORPUS).index("other/3")] == set()  # too short to index


def test_datasketch_made_sketches_mix_with_paradups_in_one_index() -> None:
    hasher = MinHasher()
    ours = lean_minhashes(list(CORPUS.values()), hasher)
    text = CORPUS["de/0"]
    theirs = datasketch_minhash(hasher)
    theirs.update_batch(shingles([text], hasher)[0])
    lsh = MinHashLSH(num_perm=128, params=(49, 2))
    lsh.insert("datasketch", theirs)
    lsh.insert("paradup", ours[list(CORPUS).index("de/1")])
    assert set(lsh.query(ours[list(CORPUS).index("de/0")])) == {"datasketch", "paradup"}
    assert ours[list(CORPUS).index("de/0")].jaccard(theirs) == 1.0
    assert 0.5 < theirs.jaccard(ours[list(CORPUS).index("de/1")]) < 1.0


def fmix32(h: int) -> int:
    """murmur3's finaliser, which datasketch's affine32 scheme applies to each
    hash before permuting it (and paradup's shingle sets hold)."""
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    return h ^ (h >> 16)


@settings(max_examples=150, deadline=None)
@given(UNICODE_TEXT, st.sampled_from([(128, 3, 1), (64, 2, 7), (16, 5, 42)]))
def test_lean_minhash_equals_datasketchs_minhash_of_the_same_shingles(
    text: str, scheme: tuple[int, int, int]
) -> None:
    num_perm, shingle_size, seed = scheme
    hasher = MinHasher(num_perm=num_perm, shingle_size=shingle_size, seed=seed, threads=1)
    (ours,) = lean_minhashes([text], hasher)
    (grams,) = shingles([text], hasher)
    # the shingles handed to datasketch are paradup's own shingle set
    assert (
        sorted({fmix32(xxhash.xxh32_intdigest(g)) for g in grams})
        == hasher.analyse([text]).shingles[0].tolist()
    )
    theirs = datasketch_minhash(hasher)
    if grams:
        theirs.update_batch(grams)
    assert isinstance(ours, LeanMinHash)
    assert (
        (ours.seed, ours.scheme, len(ours))
        == (seed, SCHEME, num_perm)
        == (theirs.seed, theirs.scheme, len(theirs))
    )
    assert ours.hashvalues.dtype == theirs.hashvalues.dtype
    assert ours == LeanMinHash(theirs)
    assert ours.jaccard(theirs) == 1.0


def test_as_lean_minhashes_round_trips_through_datasketchs_serialisation() -> None:
    hasher = MinHasher()
    signatures = hasher.signatures(list(CORPUS.values()))
    for row, lean in zip(signatures, as_lean_minhashes(signatures, hasher.seed), strict=True):
        buffer = bytearray(lean.bytesize())
        lean.serialize(buffer)
        back = LeanMinHash.deserialize(buffer)
        assert back == lean
        assert np.array_equal(back.hashvalues, row)
        assert MinHash(seed=back.seed, hashvalues=back.hashvalues, scheme=back.scheme).jaccard(lean) == 1.0


def test_readme_example_runs() -> None:
    (example,) = re.findall(r"```python\n(.*?lean_minhashes.*?)```", README.read_text(encoding="utf-8"), re.S)
    namespace: dict[str, object] = {}
    exec(compile(example, "README.md", "exec"), namespace)  # the documented example itself
    assert namespace["candidates"] == ["2026/11/harbour#0", "2026/11/harbour-update#0"]
