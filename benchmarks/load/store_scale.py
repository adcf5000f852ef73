"""Store-level scale benchmark: the SQLite index at 1M and 10M paragraphs.

Builds stores of synthetic paragraphs directly through ``Store.put`` (5,000
paragraphs a call, 27 random 64-bit band keys and 25 fingerprints each, a
~340-byte text), then times batches of lookups of 10 paragraphs' keys (5
stored, 5 unseen: ~520 keys) and reports medians, the bytes on disk per
paragraph beyond the text, the time to open and answer a first lookup, and
the private memory of the probing process.

``ab`` compares two source trees (PYTHONPATH roots, e.g. main's checkout and
a branch) in one run: both build the same stores, then probe rounds
alternate between them, so both see the same machine load.

    python benchmarks/load/store_scale.py ab --old /work/main --new . \\
        --sizes 1000000 10000000 --dir /tmp/store_scale
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from app.store.sqlite_driver import sqlite3

if TYPE_CHECKING:
    from app.store.base import NewDocument

BATCH = 5000  # paragraphs per put, as an HTTP batch
PER_DOC = 10
BANDS = 27
FINGERPRINTS = 25
WORDS = "the of council harbour vote budget river school report said year city new plan road".split()


def keys_of(paragraph: int) -> npt.NDArray[np.int64]:
    rng = np.random.default_rng([7, paragraph])
    return rng.integers(-(2**63), 2**63 - 1, BANDS + FINGERPRINTS, dtype=np.int64)


def batch_keys(first: int, count: int) -> npt.NDArray[np.int64]:
    """Keys of paragraphs first..first+count, one row each (fast: one generator a batch)."""
    rng = np.random.default_rng([11, first])
    return rng.integers(-(2**63), 2**63 - 1, (count, BANDS + FINGERPRINTS), dtype=np.int64)


def text_of(paragraph: int, base: Sequence[str]) -> str:
    return f"{paragraph} {base[paragraph % len(base)]}"


def batch_documents(prefix: str, first: int, count: int, base: Sequence[str]) -> list[NewDocument]:
    """Documents of PER_DOC paragraphs holding paragraphs first..first+count."""
    # Imported here: the script measures whichever tree PYTHONPATH names.
    from app.store.base import NewDocument, NewParagraph

    keys = batch_keys(first, count)
    return [
        NewDocument(
            f"{prefix}-{(first + d) // PER_DOC}",
            {},
            f"{first + d:032x}",
            [NewParagraph(text_of(first + d + i, base), keys[d + i]) for i in range(PER_DOC)],
        )
        for d in range(0, count, PER_DOC)
    ]


def bases() -> list[str]:
    rng = np.random.default_rng(3)
    return [" ".join(rng.choice(WORDS, 62).tolist()) for _ in range(997)]


def open_store(path: str):  # type: ignore[no-untyped-def]
    from app.store.sqlite import SqliteStore

    def no_keys(texts: Sequence[str]) -> list[npt.NDArray[np.int64]]:
        raise RuntimeError("the benchmark never updates")

    return SqliteStore(Path(path), no_keys, "store-scale-bench")


def build(path: str, paragraphs: int) -> dict[str, float]:
    store = open_store(path)
    base = bases()
    done = int(store.stats().paragraphs)
    rates: list[float] = []
    started = time.perf_counter()
    for first in range(done, paragraphs, BATCH):
        count = min(BATCH, paragraphs - first)
        docs = batch_documents("doc", first, count, base)
        t = time.perf_counter()
        store.put(docs)
        rates.append(count / (time.perf_counter() - t))
    store.close()  # waits for background compaction: counted
    elapsed = time.perf_counter() - started
    tail = rates[-max(1, len(rates) // 10) :]
    return {
        "build_s": elapsed,
        "put_paragraphs_per_s_median": statistics.median(rates) if rates else 0.0,
        "put_paragraphs_per_s_last_tenth": statistics.median(tail) if tail else 0.0,
        "put_paragraphs_per_s_overall": (paragraphs - done) / elapsed if elapsed else 0.0,
    }


def build_legacy(path: str, paragraphs: int) -> dict[str, float]:
    """An old-format store (bucket rows, ``paradup-sqlite-2``) written
    directly, without going through its ``put``: that would take over an
    hour at 10M here (each batch rewrites ~250k bucket rows). The file is
    what ``put`` writes: the same tables, one row per bucket holding its
    (tag u16, ref u32) entries; run under the old tree's PYTHONPATH."""
    from app.store.sqlite_bands import BUCKET_BITS, ENTRY

    store = open_store(path)
    store.close()
    started = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")
    base = bases()
    parts = 16
    part_bits = BUCKET_BITS - 4
    spill = [open(f"{path}.part{i}", "wb") for i in range(parts)]  # noqa: SIM115
    conn.execute("BEGIN")
    for first in range(0, paragraphs, BATCH):
        count = min(BATCH, paragraphs - first)
        conn.executemany(
            "INSERT INTO documents (pk, id, digest, metadata, first, paragraphs) "
            "VALUES (?, ?, ?, '{}', ?, ?)",
            [
                (
                    (first + d) // PER_DOC + 1,
                    f"doc-{(first + d) // PER_DOC}",
                    f"{first + d:032x}",
                    first + d + 1,
                    10,
                )
                for d in range(0, count, PER_DOC)
            ],
        )
        conn.executemany(
            "INSERT INTO paragraphs VALUES (?, ?, ?)",
            [(first + i + 1, (first + i) // PER_DOC + 1, text_of(first + i, base)) for i in range(count)],
        )
        raw = batch_keys(first, count).view(np.uint64)
        bucket = raw & np.uint64((1 << BUCKET_BITS) - 1)
        tag = (raw >> np.uint64(BUCKET_BITS)) & np.uint64(0xFFFF)
        ref = np.arange(first + 1, first + count + 1, dtype=np.uint64)[:, None]
        # bucket 20 bits, tag 16, ref 28 (refs below 2^28: the sizes benchmarked)
        packed = ((bucket << np.uint64(44)) | (tag << np.uint64(28)) | ref).ravel()
        which = (packed >> np.uint64(44 + part_bits)).astype(np.int64)
        order = np.argsort(which, kind="stable")
        bounds = np.searchsorted(which[order], np.arange(parts + 1))
        for i in range(parts):
            spill[i].write(packed[order[bounds[i] : bounds[i + 1]]].tobytes())
    for f in spill:
        f.close()
    for i in range(parts):
        packed = np.sort(np.fromfile(f"{path}.part{i}", dtype=np.uint64))
        Path(f"{path}.part{i}").unlink()
        buckets = packed >> np.uint64(44)
        entries = np.empty(packed.size, dtype=ENTRY)
        entries["tag"] = (packed >> np.uint64(28)) & np.uint64(0xFFFF)
        entries["ref"] = packed & np.uint64((1 << 28) - 1)
        data = entries.tobytes()
        starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
        ends = np.r_[starts[1:], packed.size]
        conn.executemany(
            "INSERT INTO bands VALUES (?, ?)",
            (
                (int(buckets[a]), data[a * 6 : b * 6])
                for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
            ),
        )
    conn.executemany(
        "INSERT OR REPLACE INTO meta VALUES (?, ?)",
        [("documents", str(paragraphs // PER_DOC)), ("paragraphs", str(paragraphs))],
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return {"build_s": time.perf_counter() - started, "legacy_builder": 1.0}


def more_puts(path: str, paragraphs: int, batches: int) -> dict[str, float]:
    """The rate of ``batches`` more 5,000-paragraph puts into a store of
    ``paragraphs`` (they stay: run it after the probes)."""
    store = open_store(path)
    base = bases()
    rates = []
    started = time.perf_counter()
    for b in range(batches):
        first = paragraphs + b * BATCH
        docs = batch_documents("more", first, BATCH, base)
        t = time.perf_counter()
        store.put(docs)
        rates.append(BATCH / (time.perf_counter() - t))
    store.close()  # waits for background compaction: counted
    elapsed = time.perf_counter() - started
    return {
        "more_put_paragraphs_per_s_median": statistics.median(rates),
        "more_put_paragraphs_per_s_overall": batches * BATCH / elapsed,
    }


def total_text_bytes(paragraphs: int) -> int:
    base = bases()
    per = [len(b.encode()) + 1 for b in base]
    digits = sum(len(str(i)) for i in range(paragraphs))
    counts = np.bincount(np.arange(paragraphs) % len(base), minlength=len(base))
    return int(digits + np.dot(counts, per))


def private_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    return -1


def warm(path: str) -> float:
    """Reads every file of the store once, so that lookups meet a warm
    page cache (the figures exclude disk reads); returns the seconds taken."""
    t = time.perf_counter()
    for file in Path(path).parent.glob(Path(path).name + "*"):
        if file.is_file():
            with open(file, "rb") as f:
                while f.read(1 << 24):
                    pass
    return time.perf_counter() - t


def probe(path: str, paragraphs: int, lookups: int, seed: int) -> dict[str, float]:
    warmed = warm(path)
    t = time.perf_counter()
    import app.store.sqlite  # noqa: F401 - imports (numba included) timed apart

    imported = time.perf_counter() - t
    t = time.perf_counter()
    store = open_store(path)
    opened = time.perf_counter() - t
    rng = np.random.default_rng(seed)
    t = time.perf_counter()
    store.lookup(keys_of(0))
    first = time.perf_counter() - t
    times: list[float] = []
    fetch: list[float] = []
    hits = 0
    for _ in range(lookups):
        stored = rng.integers(0, paragraphs, 5)
        rows = [batch_keys(int(p) - int(p) % BATCH, BATCH)[int(p) % BATCH] for p in stored]
        unseen = rng.integers(-(2**63), 2**63 - 1, 5 * (BANDS + FINGERPRINTS), dtype=np.int64)
        keys = np.concatenate([*rows, unseen])
        t = time.perf_counter()
        found = store.lookup(keys)
        times.append(time.perf_counter() - t)
        refs = sorted({r for refs in found.values() for r in refs})
        hits += sum(int(r - 1) in set(stored.tolist()) for r in refs)
        t = time.perf_counter()
        store.paragraphs(refs)
        fetch.append(time.perf_counter() - t)
    store.close()
    files = [p for p in Path(path).parent.glob(Path(path).name + "*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    times.sort()
    return {
        "warm_s": warmed,
        "import_ms": imported * 1000,
        "open_ms": opened * 1000,
        "first_lookup_ms": first * 1000,
        "lookup_ms_p50": statistics.median(times) * 1000,
        "lookup_ms_p90": times[int(len(times) * 0.9) - 1] * 1000,
        "lookup_ms_p99": times[int(len(times) * 0.99) - 1] * 1000,
        "paragraphs_ms_p50": statistics.median(fetch) * 1000,
        "stored_refs_found": hits / (5 * lookups),
        "bytes_per_paragraph_beyond_text": (size - total_text_bytes(paragraphs)) / paragraphs,
        "private_mib": private_kib() / 1024,
    }


def run_child(root: str, args: list[str]) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(Path(root).resolve())}
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def ab(
    old: str,
    new: str,
    sizes: list[int],
    directory: Path,
    rounds: int,
    lookups: int,
    legacy_from: int,
    more: int,
) -> dict[str, object]:
    directory.mkdir(parents=True, exist_ok=True)
    report: dict[str, object] = {}
    for size in sizes:
        entry: dict[str, object] = {}
        for name, root in (("old", old), ("new", new)):
            path = str(directory / f"{name}-{size}.db")
            how = "build-legacy" if name == "old" and size >= legacy_from else "build"
            if how == "build-legacy" and size >= 1 << 28:
                raise SystemExit("the legacy builder packs refs in 28 bits")
            if not Path(path).exists():
                entry[f"{name}_build"] = run_child(root, [how, "--store", path, "--paragraphs", str(size)])
            print(name, size, entry.get(f"{name}_build"), file=sys.stderr, flush=True)
        probes: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
        for r in range(rounds):  # alternating rounds: both under the same load
            for name, root in (("old", old), ("new", new)) if r % 2 == 0 else (("new", new), ("old", old)):
                path = str(directory / f"{name}-{size}.db")
                args = ["probe", "--store", path, "--paragraphs", str(size), "--lookups", str(lookups)]
                probes[name].append(run_child(root, [*args, "--seed", str(r)]))
        for name in ("old", "new"):
            keys = probes[name][0].keys()
            entry[f"{name}_probe"] = {k: statistics.median(p[k] for p in probes[name]) for k in keys}
        for name, root in (("old", old), ("new", new)) if more else ():
            path = str(directory / f"{name}-{size}.db")
            args = ["more-puts", "--store", path, "--paragraphs", str(size), "--batches", str(more)]
            entry[f"{name}_more_puts"] = run_child(root, args)
        print(size, json.dumps(entry), file=sys.stderr, flush=True)
        report[str(size)] = entry
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("--store", required=True)
    b.add_argument("--paragraphs", type=int, required=True)
    p = sub.add_parser("probe")
    p.add_argument("--store", required=True)
    p.add_argument("--paragraphs", type=int, required=True)
    p.add_argument("--lookups", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    lb = sub.add_parser("build-legacy")
    lb.add_argument("--store", required=True)
    lb.add_argument("--paragraphs", type=int, required=True)
    m = sub.add_parser("more-puts")
    m.add_argument("--store", required=True)
    m.add_argument("--paragraphs", type=int, required=True)
    m.add_argument("--batches", type=int, default=10)
    a = sub.add_parser("ab")
    a.add_argument("--old", required=True)
    a.add_argument("--new", required=True)
    a.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    a.add_argument("--dir", type=Path, default=Path("/tmp/store_scale"))
    a.add_argument("--rounds", type=int, default=4)
    a.add_argument("--lookups", type=int, default=300)
    a.add_argument("--out", type=Path)
    a.add_argument("--legacy-from", type=int, default=2_000_000, help="old stores this large: built directly")
    a.add_argument("--more", type=int, default=10, help="5,000-paragraph puts timed after the probes")
    args = parser.parse_args()
    if args.command == "build":
        print(json.dumps(build(args.store, args.paragraphs)))
    elif args.command == "build-legacy":
        print(json.dumps(build_legacy(args.store, args.paragraphs)))
    elif args.command == "more-puts":
        print(json.dumps(more_puts(args.store, args.paragraphs, args.batches)))
    elif args.command == "probe":
        print(json.dumps(probe(args.store, args.paragraphs, args.lookups, args.seed)))
    else:
        report = ab(
            args.old, args.new, args.sizes, args.dir, args.rounds, args.lookups, args.legacy_from, args.more
        )
        text = json.dumps(report, indent=2)
        if args.out:
            args.out.write_text(text + "\n")
        print(text)


if __name__ == "__main__":
    main()
