"""Where a check's CPU goes, stage by stage, in process: this tree against
another one (``--before``), in alternating child processes on the same store
and the same articles.

    .venv/bin/python -m benchmarks.load.check_stages [--before TREE] [--paragraphs 100000]
        [--store sqlite:///PATH --bodies FILE] [--rounds 3] [--passes 2]

Without ``--store`` the archive is grown from the shared corpora
(``scale_corpus``, ``--paragraphs`` paragraphs) into a temporary SQLite
store, and the check articles are its (10 paragraphs: 5 archived, 5 unseen);
with it, ``--bodies`` holds one JSON ``{"text"}`` per line. ``--before`` is
another source tree (``git archive <commit> | tar -x -C DIR``) whose own code
checks the same store.

Stages are told apart without touching the engine: ``Service.check`` is given
a deadline that never expires and records the thread's CPU time at each of
the engine's checkpoints (``Deadline.check(stage)``), and the two store calls
are timed apart. A leg ends at a checkpoint and takes its name; legs are then
grouped as below (both trees have the same checkpoints, though a tree may
pass fewer of them). The answer's encoding (the route's ``_answer``) is
timed after the check.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# checkpoint -> stage reported
GROUPS = {
    "splitting": "split and sanitise",
    "fingerprinting": "fingerprint the article (analysis, keys, tokens)",
    "verification in the article": "within the article (verification, passages)",
    "passages in the article": "within the article (verification, passages)",
    "archive lookup": "the keys looked up (store call apart)",
    "archive candidates": "candidates: seeds, votes, shingles (store call apart)",
    "verification against the archive": "verification against the archive",
    "end": "archive passages and ordering",
}


def child(store: str, bodies: Path, passes: int) -> dict[str, float]:
    from app.api.routes.check import _answer
    from app.engine import Service
    from app.engine.cancel import Deadline
    from app.settings import Settings

    clock = time.thread_time

    class Stages(Deadline):
        def __init__(self, spent: defaultdict[str, float]) -> None:
            super().__init__()
            self.spent = spent
            self.last = clock()

        def check(self, stage: str) -> None:
            now = clock()
            self.spent[GROUPS.get(stage, stage)] += now - self.last
            self.last = now

    texts = [json.loads(line)["text"] for line in bodies.read_text(encoding="utf-8").splitlines()]
    service = Service.open(Settings(store=store))
    spent: defaultdict[str, float] = defaultdict(float)
    # ``hits``: the lookup with the rule's cut, where a tree's store has it.
    for name in ("lookup", "hits", "paragraphs"):
        original = getattr(service.store, name, None)
        if original is None:
            continue

        def timed(*args: Any, _original: Any = original, _name: str = name) -> Any:
            began = clock()
            try:
                return _original(*args)
            finally:
                spent[f"store.{_name}"] += clock() - began

        setattr(service.store, name, timed)
    for text in texts[:30]:  # warm-up: caches, kernels
        service.check(text)
    spent.clear()
    began_all = clock()
    for _ in range(passes):
        for text in texts:
            stages = Stages(spent)
            results = service.check(text, deadline=stages)
            stages.check("end")
            began = clock()
            _answer(results, None)
            spent["encode the answer"] += clock() - began
    total = clock() - began_all
    service.close()
    checks = passes * len(texts)
    out = {stage: 1000 * seconds / checks for stage, seconds in spent.items()}
    # The store's share comes out of the stages that hold its calls.
    out[GROUPS["archive lookup"]] -= out.get("store.lookup", 0.0) + out.get("store.hits", 0.0)
    out[GROUPS["archive candidates"]] -= out.get("store.paragraphs", 0.0)
    out["total"] = 1000 * total / checks
    return out


def _prepare(paragraphs: int, work: Path) -> tuple[str, Path]:
    from benchmarks.load.scale_corpus import load_sources, write_inputs

    corpora = Path(os.environ.get("PARADUP_CORPORA", ROOT.parent / "shared" / "corpora"))
    if not corpora.is_dir():
        corpora = ROOT.parent.parent / "shared" / "corpora"
    archive, bodies, _ = write_inputs(load_sources(corpora), paragraphs, 400, work)
    store = f"sqlite:///{work}/stages.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PARADUP_LOG_LEVEL": "warning"}
    command = [sys.executable, "-m", "app.cli", "ingest", "--quiet", "--store", store, str(archive)]
    subprocess.run(command, env=env, cwd=ROOT, check=True)
    return store, bodies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, help="another source tree, checked on the same store")
    parser.add_argument("--paragraphs", type=int, default=100_000)
    parser.add_argument("--store", help="an existing store (with --bodies) instead of a new archive")
    parser.add_argument("--bodies", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--passes", type=int, default=2, help="times each child checks every article")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.store, args.bodies, args.passes)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        if args.store:
            if args.bodies is None:
                parser.error("--store needs --bodies")
            store, bodies = args.store, args.bodies
        else:
            store, bodies = _prepare(args.paragraphs, Path(tmp))
        trees = {"after": ROOT} if args.before is None else {"before": args.before.resolve(), "after": ROOT}
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for n in range(args.rounds):
            # The one going first flips every round.
            for name in list(trees)[:: 1 if n % 2 == 0 else -1]:
                tree = trees[name]
                command = [sys.executable, str(Path(__file__).resolve()), "--child", "--store", store]
                command += ["--bodies", str(bodies), "--passes", str(args.passes)]
                env = {**os.environ, "PYTHONPATH": f"{tree}:{ROOT}", "PARADUP_LOG_LEVEL": "warning"}
                out = subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True, check=True)
                runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(f"round {n + 1} {name}: total {runs[name][-1]['total']:.3f} ms", flush=True)
    stages = list(dict.fromkeys(s for rs in runs.values() for r in rs for s in r))
    stages.sort(key=lambda s: s == "total")
    print("\nCPU ms per check (median over rounds)" + (", ratio after / before" if args.before else ""))
    for stage in stages:
        medians = {name: statistics.median(r.get(stage, 0.0) for r in rs) for name, rs in runs.items()}
        cells = "  ".join(f"{name} {value:7.3f}" for name, value in medians.items())
        ratio = ""
        if args.before and medians["before"] > 0:
            ratio = f"  x{medians['after'] / medians['before']:.2f}"
        print(f"  {stage:52} {cells}{ratio}")


if __name__ == "__main__":
    main()
