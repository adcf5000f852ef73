"""Hashing throughput and Jaccard estimation accuracy, paradup against its peers.

    .venv/bin/python -m benchmarks.hashing.bench_hashing [--corpora DIR] [--sample N]
        [--rounds N] [--only en-bbc fr ...] [--no-accuracy] [--out FILE.json]

Throughput: raw paragraph text in, 128 MinHash values out, for a sample of
real paragraphs per language, all contestants in one process and run:

- paradup-1t: ``MinHasher(threads=1).signatures`` on the sample;
- paradup-2t: ``MinHasher().signatures`` on the sample repeated into a batch
  of LARGE_BATCH paragraphs, which runs on every core;
- rensa: the usual pipeline, ``re.findall(r"\\w+", text.lower())``, 3-word
  shingles joined by a space, ``RMinHash(num_perm=128, seed=1)``;
- datasketch-update / datasketch-batch: the same shingles, UTF-8 encoded, into
  ``MinHash(num_perm=128, seed=1)`` (default SHA-1 hashing) one ``update``
  per shingle, or one ``update_batch`` per paragraph.

Accuracy: for real text pairs (corpus pair files, and real paragraphs against
copies with generated word edits), the error of the Jaccard estimated from
signatures against the exact Jaccard of the shingle sets, for paradup and for
datasketch's default MinHash on the same shingles.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from app.hashing import MinHasher, estimate_jaccard, overlap
from benchmarks.common import (
    DEFAULT_CORPORA,
    LANGUAGE_FILES,
    Contestant,
    machine_info,
    median_ratio,
    read_jsonl,
    sample_paragraphs,
    time_rounds,
    utf8_megabytes,
)

NUM_PERM = 128
SHINGLE = 3
LARGE_BATCH = 16384
PEERS = ("rensa", "datasketch-update", "datasketch-batch")
PAIR_FILES = {
    "silver-fr (articles)": "pairs_silver_fr_dh_lalibre_same_headline.jsonl",
    "clough-stevenson (answers)": "pairs_clough_stevenson.jsonl",
    "msrp (sentences)": "pairs_msrp.jsonl",
}
MAX_FILE_PAIRS = 2000
EDIT_RATES = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
EDITED_PER_RATE = 60
_WORD = re.compile(r"\w+")


def regex_shingles(text: str) -> list[str]:
    words = _WORD.findall(text.lower())
    return [" ".join(words[i : i + SHINGLE]) for i in range(max(1, len(words) - SHINGLE + 1))]


def peer_contestants() -> list[Contestant]:
    found: list[Contestant] = []
    try:
        from rensa import RMinHash

        def rensa_run(texts: Sequence[str]) -> object:
            for text in texts:
                m = RMinHash(num_perm=NUM_PERM, seed=1)
                m.update(regex_shingles(text))
                m.digest()
            return None

        found.append(Contestant("rensa", rensa_run))
    except ImportError:
        print("rensa is not installed (pip install '.[bench]'): skipping it", file=sys.stderr)
    try:
        from datasketch import MinHash

        def update_run(texts: Sequence[str]) -> object:
            for text in texts:
                m = MinHash(num_perm=NUM_PERM, seed=1)
                for shingle in regex_shingles(text):
                    m.update(shingle.encode("utf-8"))
                m.digest()
            return None

        def batch_run(texts: Sequence[str]) -> object:
            for text in texts:
                m = MinHash(num_perm=NUM_PERM, seed=1)
                m.update_batch([s.encode("utf-8") for s in regex_shingles(text)])
                m.digest()
            return None

        found += [Contestant("datasketch-update", update_run), Contestant("datasketch-batch", batch_run)]
    except ImportError:
        print("datasketch is not installed: skipping it", file=sys.stderr)
    return found


def throughput(texts: list[str], rounds: int, min_seconds: float) -> dict[str, Any]:
    one = MinHasher(num_perm=NUM_PERM, threads=1)
    every = MinHasher(num_perm=NUM_PERM)
    large = (texts * (LARGE_BATCH // len(texts) + 1))[:LARGE_BATCH]
    contestants = [
        Contestant("paradup-1t", one.signatures),
        Contestant(
            "paradup-2t" if (every.threads or 1) == 2 else f"paradup-{every.threads}t",
            every.signatures,
            large,
        ),
        *peer_contestants(),
    ]
    seconds = time_rounds(contestants, texts, rounds, min_seconds)
    mb_per_paragraph = utf8_megabytes(texts) / len(texts)
    result: dict[str, Any] = {
        "paragraphs": len(texts),
        "mean_chars": statistics.fmean(len(t) for t in texts),
        "contestants": {},
        "speedups": {},
    }
    for name, per_para in seconds.items():
        med = statistics.median(per_para)
        result["contestants"][name] = {
            "median_us_per_paragraph": med * 1e6,
            "paragraphs_per_s": 1 / med,
            "mb_per_s": mb_per_paragraph / med,
            "rounds_us_per_paragraph": [s * 1e6 for s in per_para],
        }
    for ours in (contestants[0].name, contestants[1].name):
        for peer in PEERS:
            if peer in seconds:
                result["speedups"][f"{ours} vs {peer}"] = median_ratio(seconds[peer], seconds[ours])
    return result


def edited(text: str, rate: float, vocabulary: Sequence[str], rng: random.Random) -> str:
    """A copy with about ``rate`` of its words deleted, replaced or preceded
    by an inserted word (characters for text written without spaces)."""
    spaced = " " in text
    units = text.split(" ") if spaced else list(text)
    out: list[str] = []
    for unit in units:
        if rng.random() >= rate:
            out.append(unit)
            continue
        action = rng.randrange(3)
        if action == 1:
            out.append(rng.choice(vocabulary))
        elif action == 2:
            out += [rng.choice(vocabulary), unit]
    return (" " if spaced else "").join(out)


def pair_sets(corpora: Path, samples: dict[str, list[str]], seed: int) -> dict[str, list[tuple[str, str]]]:
    sets: dict[str, list[tuple[str, str]]] = {}
    for label, name in PAIR_FILES.items():
        path = corpora / name
        if path.exists():
            rows = list(read_jsonl(path))[:MAX_FILE_PAIRS]
            sets[label] = [(str(r["text_a"]), str(r["text_b"])) for r in rows]
        else:
            print(f"{path} not found: no {label} pairs", file=sys.stderr)
    rng = random.Random(seed)
    generated: list[tuple[str, str]] = []
    for texts in samples.values():
        vocabulary = [u for t in texts[:500] for u in (t.split(" ") if " " in t else list(t))]
        for rate in EDIT_RATES:
            for text in rng.sample(texts, min(EDITED_PER_RATE, len(texts))):
                generated.append((text, edited(text, rate, vocabulary, rng)))
    if generated:
        sets["generated edits (all languages)"] = generated
    return sets


def datasketch_estimator() -> Callable[[str, str], float] | None:
    try:
        from datasketch import MinHash
    except ImportError:
        return None

    def estimate(norm_a: str, norm_b: str) -> float:
        sketches = []
        for norm in (norm_a, norm_b):
            tokens = norm.split(" ")
            m = MinHash(num_perm=NUM_PERM, seed=1)
            count = max(1, len(tokens) - SHINGLE + 1)
            m.update_batch([" ".join(tokens[i : i + SHINGLE]).encode("utf-8") for i in range(count)])
            sketches.append(m)
        return float(sketches[0].jaccard(sketches[1]))

    return estimate


def accuracy(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    hasher = MinHasher(num_perm=NUM_PERM, shingle_size=SHINGLE)
    texts = [t for pair in pairs for t in pair]
    analysis = hasher.analyse(texts)
    signatures = hasher.signatures(texts)
    other = datasketch_estimator()
    exact: list[float] = []
    ours: list[float] = []
    theirs: list[float] = []
    for i in range(len(pairs)):
        a, b = 2 * i, 2 * i + 1
        if analysis.shingles[a].size == 0 or analysis.shingles[b].size == 0:
            continue
        exact.append(overlap(analysis.shingles[a], analysis.shingles[b]).similarity)
        ours.append(estimate_jaccard(signatures[a], signatures[b]))
        if other is not None:
            theirs.append(other(analysis.normalised[a], analysis.normalised[b]))
    truth = np.array(exact)
    # The mean absolute error one expects from a 128-value MinHash: the
    # estimate is a binomial share, so |error| averages sqrt(2/pi) sigma.
    expected = float(np.mean(np.sqrt(2 / math.pi * truth * (1 - truth) / NUM_PERM))) if exact else 0.0
    result: dict[str, Any] = {
        "pairs": len(exact),
        "mean_exact_jaccard": float(truth.mean()) if exact else 0.0,
    }
    result["expected_mae"] = expected
    for name, estimates in (("paradup", ours), ("datasketch", theirs)):
        if estimates:
            error = np.abs(np.array(estimates) - truth)
            result[name] = {"mae": float(error.mean()), "max": float(error.max())}
    return result


def print_throughput(results: dict[str, dict[str, Any]]) -> None:
    names = list(next(iter(results.values()))["contestants"])
    print("\n| corpus | paras | chars | " + " | ".join(f"{n} para/s (MB/s)" for n in names) + " |")
    print("|---" * (3 + len(names)) + "|")
    for corpus, r in results.items():
        cells = [f"{c['paragraphs_per_s']:,.0f} ({c['mb_per_s']:.1f})" for c in r["contestants"].values()]
        print(f"| {corpus} | {r['paragraphs']:,} | {r['mean_chars']:.0f} | " + " | ".join(cells) + " |")
    keys = list(next(iter(results.values()))["speedups"])
    print("\n| corpus | " + " | ".join(keys) + " |")
    print("|---" * (1 + len(keys)) + "|")
    for corpus, r in results.items():
        print(
            f"| {corpus} | " + " | ".join(f"{r['speedups'].get(k, float('nan')):.1f}x" for k in keys) + " |"
        )


def print_accuracy(results: dict[str, dict[str, Any]]) -> None:
    columns = [
        "n",
        "mean exact J",
        "expected MAE",
        "paradup MAE",
        "paradup max",
        "datasketch MAE",
        "datasketch max",
    ]
    print("\n| pairs | " + " | ".join(columns) + " |")
    print("|---" * 8 + "|")
    for label, r in results.items():
        ours, theirs = r.get("paradup", {}), r.get("datasketch", {})
        print(
            f"| {label} | {r['pairs']:,} | {r['mean_exact_jaccard']:.3f} | {r['expected_mae']:.4f} | "
            f"{ours.get('mae', float('nan')):.4f} | {ours.get('max', float('nan')):.3f} | "
            f"{theirs.get('mae', float('nan')):.4f} | {theirs.get('max', float('nan')):.3f} |"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--sample", type=int, default=5000, help="paragraphs per language, at most")
    parser.add_argument("--max-mb", type=float, default=1.0, help="UTF-8 megabytes per language, at most")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=0.3, help="least duration of one timing")
    parser.add_argument("--only", nargs="*", choices=sorted(LANGUAGE_FILES), help="corpora to run")
    parser.add_argument("--no-accuracy", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    args = parser.parse_args(argv)

    chosen = {k: v for k, v in LANGUAGE_FILES.items() if not args.only or k in args.only}
    present = {k: args.corpora / v for k, v in chosen.items() if (args.corpora / v).exists()}
    for k in chosen.keys() - present.keys():
        print(f"{args.corpora / chosen[k]} not found: skipping {k}", file=sys.stderr)
    if not present:
        print(f"no corpora in {args.corpora}: pass --corpora DIR (or set PARADUP_CORPORA)", file=sys.stderr)
        return 0
    MinHasher().warm_up()
    samples = {k: sample_paragraphs(path, args.sample, args.seed, args.max_mb) for k, path in present.items()}
    report: dict[str, Any] = {
        "machine": machine_info(["numpy", "numba", "rensa", "datasketch", "xxhash"])
        | {
            "command": " ".join(
                [".venv/bin/python -m benchmarks.hashing.bench_hashing", *(argv or sys.argv[1:])]
            )
        },
        "config": {k: str(v) for k, v in vars(args).items()} | {"num_perm": NUM_PERM, "shingle": SHINGLE},
        "throughput": {},
    }
    for corpus, texts in samples.items():
        print(f"timing {corpus} ({len(texts):,} paragraphs)", file=sys.stderr)
        report["throughput"][corpus] = throughput(texts, args.rounds, args.min_seconds)
    print_throughput(report["throughput"])
    if not args.no_accuracy:
        sets = pair_sets(args.corpora, samples, args.seed)
        report["accuracy"] = {label: accuracy(pairs) for label, pairs in sets.items()}
        print_accuracy(report["accuracy"])
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
        print(f"\nwrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
