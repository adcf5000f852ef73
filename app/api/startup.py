"""Building the app without importing pydantic.v1.

FastAPI checks every route's models with ``from pydantic import v1`` and
``issubclass(model, v1.BaseModel)``, only to refuse pydantic v1 models
(it supports none). paradup declares none, and importing pydantic.v1 took
about 0.2 s of CPU, a seventh of what a server worker spends before its
first answer. While the app is built that import fails, so FastAPI's
check answers "not a v1 model" at once; afterwards pydantic.v1 imports as
usual. FastAPI finishes each route on its first request, checking again:
a process of ``paradup serve`` (``served_app``) keeps pydantic.v1 hidden
for good, since nothing it runs uses it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

HIDDEN = "pydantic.v1"


@contextmanager
def without_pydantic_v1() -> Iterator[None]:
    hide = HIDDEN not in sys.modules
    if hide:
        sys.modules[HIDDEN] = None  # type: ignore[assignment]  # an import of it raises ImportError
    try:
        yield
    finally:
        if hide and HIDDEN in sys.modules and sys.modules[HIDDEN] is None:
            del sys.modules[HIDDEN]


def hide_pydantic_v1() -> None:
    """For the rest of the process (a server worker's): see the module's text."""
    if HIDDEN not in sys.modules:
        sys.modules[HIDDEN] = None  # type: ignore[assignment]
