"""Every compiled kernel a server worker runs, loaded before it serves.

``paradup serve --workers N`` calls this once in its master before forking
the workers (app/cli/prefork.py): the machine code numba loads from its cache
is then shared by every worker instead of being loaded again in each (about
0.4 s of CPU a worker, most of it numba setting itself up at its first
kernel). No store is opened: what a store holds must never cross a fork.
"""

from __future__ import annotations

import numpy as np

from app.engine import votes
from app.engine.fingerprint import fingerprinter
from app.engine.passages import PassageFinder
from app.engine.service import passage_rules
from app.settings import Settings
from app.store.sqlite_kernels import touch_pages, warm_up_lookup


def warm_kernels(settings: Settings) -> None:
    fingerprinter(settings).warm_up()
    PassageFinder(passage_rules(settings)).warm_up()
    votes.warm_up()
    # The embedded store's kernels (it loads them itself when it opens; here
    # they are loaded once for all workers). A memory-mapped run is read-only:
    # a read-only page is the signature its background page-toucher runs.
    warm_up_lookup()
    page = np.zeros(4096, dtype=np.uint8)
    page.setflags(write=False)
    touch_pages(page)
