"""The SQLite store's sorted runs: lookups agree with a model through any
sequence of writes, deletes and merges; a process killed at each step of a
run's life loses no acknowledged document; a damaged run file breaks the
store instead of answering wrong."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.store import StoreBroken, sqlite_index, verify_store
from app.store.base import NewDocument, NewParagraph
from app.store.sqlite import SqliteStore
from tests.test_store_contract import FP

ROOT = Path(__file__).resolve().parent.parent


def no_keys(texts: object) -> list[np.ndarray]:  # type: ignore[type-arg]
    raise AssertionError("the SQLite store never recomputes keys")


def keyed(doc_id: str, version: int, keys: list[list[int]]) -> NewDocument:
    paragraphs = [
        NewParagraph(f"{doc_id} v{version} p{i}", np.array(k, dtype=np.int64)) for i, k in enumerate(keys)
    ]
    return NewDocument(doc_id, {}, f"{doc_id}-{version}", paragraphs)


# Keys from a small pool so that paragraphs share keys (postings of many
# refs), with values near each other and far apart in the top 40 bits.
POOL = [(i * 0x9E3779B97F4A7C15) % (1 << 64) - (1 << 63) for i in range(40)] + [5, 6, 1 << 24, (1 << 24) + 1]
KEY = st.sampled_from(POOL)
PARAGRAPH_KEYS = st.lists(KEY, min_size=0, max_size=30)
OPERATION = st.tuples(
    st.sampled_from(["put", "put", "put", "delete", "compact", "full"]),
    st.integers(0, 5),
    st.lists(PARAGRAPH_KEYS, min_size=1, max_size=4),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(OPERATION, min_size=1, max_size=15))
def test_lookups_agree_with_a_model(
    monkeypatch: pytest.MonkeyPatch, operations: list[tuple[str, int, list[list[int]]]]
) -> None:
    monkeypatch.setattr(sqlite_index, "FLUSH_ENTRIES", 40)
    monkeypatch.setattr(sqlite_index, "FANIN", 2)
    with tempfile.TemporaryDirectory() as directory:
        store = SqliteStore(Path(directory) / "m.db", no_keys, FP.scheme)
        live: dict[str, list[list[int]]] = {}
        for n, (action, which, keys) in enumerate(operations):
            doc_id = f"doc-{which}"
            if action == "put":
                store.put([keyed(doc_id, n, keys)])
                live[doc_id] = keys
            elif action == "delete":
                assert store.delete(doc_id) is (doc_id in live)
                live.pop(doc_id, None)
            else:
                store.compact(full=action == "full")
        found = store.lookup(np.array(POOL, dtype=np.int64))
        refs = sorted({r for rs in found.values() for r in rs})
        stored = store.paragraphs(refs)
        # no stale ref: every ref a lookup returns is a live paragraph
        assert set(stored) == set(refs)
        expected: dict[int, set[tuple[str, int]]] = {}
        for doc_id, paragraphs in live.items():
            for i, k in enumerate(paragraphs):
                for key in k:
                    expected.setdefault(key, set()).add((doc_id, i))
        got = {key: {(stored[r].document_id, stored[r].index) for r in rs} for key, rs in found.items() if rs}
        for key in POOL:
            # exact, except that a run matches keys on their top 40 bits
            # (5 and 6 share them): the caller verifies every candidate
            alike = {k for k in POOL if (k % (1 << 64)) >> 24 == (key % (1 << 64)) >> 24}
            assert expected.get(key, set()) <= got.get(key, set())
            assert got.get(key, set()) <= set().union(*(expected.get(k, set()) for k in alike))
        store.close()
        assert verify_store(str(Path(directory) / "m.db"), FP.scheme) == []


CHILD = """
import os, pathlib, signal, sys
import numpy as np
from app.store import sqlite_index, sqlite_runs
from app.store.sqlite import SqliteStore
from tests.test_store_runs import keyed, no_keys
from tests.test_store_contract import FP
sqlite_index.FLUSH_ENTRIES = 50
sqlite_index.FANIN = 2
point, after = sys.argv[2], int(sys.argv[3])
calls = {"n": 0}
def maybe_die():
    calls["n"] += 1
    if calls["n"] > after:
        os.kill(os.getpid(), signal.SIGKILL)
if point == "renamed":  # a run file renamed, its transaction not committed
    real = sqlite_index.fsync_directory
    def fsync(path):
        maybe_die()
        real(path)
    sqlite_index.fsync_directory = fsync
elif point == "merging":  # a merge half-written
    real_add = sqlite_runs.RunWriter.add
    def add(self, codes, refs):
        if "run-tmp-" in self.path.name:
            maybe_die()
        real_add(self, codes, refs)
    sqlite_runs.RunWriter.add = add
elif point == "retiring":  # a merge committed, its inputs not yet unlinked
    real_unlink = pathlib.Path.unlink
    def unlink(self, missing_ok=False):
        if ".run-" in self.name:
            maybe_die()
        real_unlink(self, missing_ok=missing_ok)
    pathlib.Path.unlink = unlink
store = SqliteStore(sys.argv[1], no_keys, FP.scheme)
rng = np.random.default_rng(1)
for n in range(40):
    keys = rng.integers(-(2**63), 2**63 - 1, (3, 30)).tolist()
    store.put([keyed(f"d{n}", 0, keys)])
    print(f"d{n}", *[k for row in keys for k in row], "end", flush=True)
    if n % 3 == 2:
        # Said before the delete: merges run in a background thread, so the
        # kill may fall between a committed delete and anything printed after.
        print(f"-d{n - 1}", flush=True)
        store.delete(f"d{n - 1}")
# Merges run in a background thread: finish any still due in this one, so
# that the kill point is reached however far that thread got before the end.
store.compact()
store.close()
"""


@pytest.mark.parametrize(
    ("point", "after"), [("renamed", 3), ("renamed", 10), ("merging", 40), ("retiring", 1)]
)
def test_a_process_killed_mid_write_or_merge_loses_no_acknowledged_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str, after: int
) -> None:
    path = tmp_path / "k.db"
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), point, str(after)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert child.returncode == -9, child.stderr  # killed where asked, not finished
    acked: dict[str, list[int]] = {}
    for line in child.stdout.splitlines():
        name, *keys = line.split()
        if name.startswith("-"):
            acked.pop(name[1:], None)
        elif keys and keys[-1] == "end":  # a line the kill cut short was not acknowledged
            acked[name] = [int(k) for k in keys[:-1]]
    assert acked
    monkeypatch.setattr(sqlite_index, "FLUSH_ENTRIES", 50)
    monkeypatch.setattr(sqlite_index, "FANIN", 2)
    store = SqliteStore(path, no_keys, FP.scheme)
    listed = {f"k.db.run-{r[0]:010d}" for r in store._conn.execute("SELECT id FROM runs")}
    assert {p.name for p in tmp_path.glob("k.db.run-*")} == listed  # orphans removed
    for doc_id, doc_keys in acked.items():
        found = store.lookup(np.array(doc_keys, dtype=np.int64))
        refs = {r for rs in found.values() for r in rs}
        assert {p.document_id for p in store.paragraphs(sorted(refs)).values()} == {doc_id}
        document = store.get(doc_id)
        assert document is not None and len(document.paragraphs) == 3
    store.put([keyed("after", 0, [[1, 2, 3]])])  # and it goes on
    store.compact()
    store.close()
    assert verify_store(str(path), FP.scheme) == []


def test_a_damaged_run_breaks_the_store_and_verify_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_index, "FLUSH_ENTRIES", 10)
    path = tmp_path / "d.db"
    store = SqliteStore(path, no_keys, FP.scheme)
    store.put([keyed("a", 0, [list(range(1, 30))])])
    store.close()
    (run,) = tmp_path.glob("d.db.run-*")
    with open(run, "r+b") as f:
        f.truncate(run.stat().st_size - 3)
    reopened = SqliteStore(path, no_keys, FP.scheme)  # opening reads no run
    with pytest.raises(StoreBroken, match="not a complete run file"):
        reopened.lookup(np.array([1], dtype=np.int64))
    with pytest.raises(StoreBroken):
        reopened.put([keyed("b", 0, [[1]])])
    reopened.close()
    (problem,) = verify_store(str(path), FP.scheme)
    assert run.name in problem and "re-ingest" in problem


def spread(start: int, stop: int) -> list[int]:
    """Keys far apart in their top 40 bits (small integers share them all)."""
    return [(k * 0x9E3779B97F4A7C15) % (1 << 64) - (1 << 63) for k in range(start, stop)]


def test_merges_drop_dead_entries_and_retire_their_ranges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_index, "FLUSH_ENTRIES", 10)
    monkeypatch.setattr(sqlite_index, "FANIN", 2)
    monkeypatch.setattr(SqliteStore, "_compact", lambda self: None)  # only when asked, below
    store = SqliteStore(tmp_path / "e.db", no_keys, FP.scheme)
    store.put([keyed("a", 0, [spread(1, 30)])])  # a run of 29 entries, ref 1
    assert store.delete("a")
    store.put([keyed("b", 0, [spread(100, 130)])])  # a run of 30, ref 2
    assert store.compact() == 1
    assert store._conn.execute("SELECT entries, lo, hi FROM runs").fetchall() == [(30, 1, 2)]
    assert store._conn.execute("SELECT count(*) FROM dead").fetchone() == (0,)
    assert store.lookup(np.array(spread(1, 30), dtype=np.int64)) == {}
    assert len(store.lookup(np.array(spread(100, 130), dtype=np.int64))) == 30
    store.put([keyed("c", 0, [spread(200, 230)])])
    assert store.delete("b") and store.delete("c")
    assert store.compact() == 1
    # every entry dead: no run is left, no file, no dead range
    assert store._conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)
    assert list(tmp_path.glob("e.db.run-*")) == []
    assert store._conn.execute("SELECT count(*) FROM dead").fetchone() == (0,)
    store.close()


def _runs(store: SqliteStore) -> list[tuple[int, int]]:
    return [(int(i), int(n)) for i, n in store._conn.execute("SELECT id, entries FROM runs ORDER BY id")]


def test_a_full_compaction_leaves_one_run_that_answers_the_same(manual: SqliteStore) -> None:
    store = manual
    for n in range(6):  # six runs of 20 entries (no tier has FANIN of them)
        store.put([keyed(f"d{n}", 0, [spread(20 * n, 20 * n + 20)])])
    store.put([keyed("small", 0, [spread(500, 503)])])  # a segment
    assert store.delete("d2")
    everything = np.array(spread(0, 503), dtype=np.int64)
    before = store.lookup(everything)
    assert len(_runs(store)) == 6
    assert store.compact(full=True) == 1
    assert len(_runs(store)) == 1
    assert store._conn.execute("SELECT count(*) FROM segments").fetchone() == (0,)
    assert store.lookup(everything) == before
    assert not any(store.paragraphs(refs)[refs[0]].document_id == "d2" for refs in before.values())
    assert store.compact(full=True) == 0  # one run: nothing to do
    store.close()
    assert verify_store(str(store.path), FP.scheme) == []


@pytest.fixture
def manual(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SqliteStore:
    """A store that writes a run of every 10 entries and compacts only when asked."""
    monkeypatch.setattr(sqlite_index, "FLUSH_ENTRIES", 10)
    monkeypatch.setattr(SqliteStore, "_compact", lambda self: None)
    return SqliteStore(tmp_path / "manual.db", no_keys, FP.scheme)


def test_a_full_compaction_leaves_a_large_run_alone_when_the_rest_is_small(manual: SqliteStore) -> None:
    store = manual
    store.put([keyed("big", 0, [spread(0, 400)])])
    ((big, _),) = _runs(store)
    store.put([keyed("a", 0, [spread(1000, 1020)])])
    store.put([keyed("b", 0, [spread(2000, 2020)])])
    assert store.compact(full=True) == 1
    # 40 entries are less than an eighth of 400: the large run is not rewritten
    assert _runs(store)[0] == (big, 400) and len(_runs(store)) == 2
    assert len(store.lookup(np.array(spread(1000, 1020) + spread(2000, 2020), dtype=np.int64))) == 40
    store.close()


def test_small_runs_beyond_the_limit_are_merged_and_a_bulk_load_is_left_to_the_tiers(
    manual: SqliteStore,
) -> None:
    store = manual
    for n in range(sqlite_index.MAX_RUNS + 2):  # equal runs: merging them is the tiers' job
        store.put([keyed(f"even{n}", 0, [spread(100 * n, 100 * n + 100)])])
    assert store.compact() == 0
    assert store.compact(full=True) == 1
    for n in range(sqlite_index.MAX_RUNS + 2):  # small runs beside a large one
        store.put([keyed(f"late{n}", 0, [spread(1000 + 12 * n, 1012 + 12 * n)])])
    assert store.compact() >= 1
    runs = _runs(store)
    assert len(runs) <= sqlite_index.MAX_RUNS
    assert max(n for _, n in runs) == 100 * (sqlite_index.MAX_RUNS + 2)  # the large run untouched
    late = spread(1000, 1000 + 12 * (sqlite_index.MAX_RUNS + 2))
    assert len(store.lookup(np.array(late, dtype=np.int64))) == len(late)
    store.close()
