"""What the pre-fork master prepares for its workers (app/cli/prefork.prepare):
the modules each worker used to import after the fork are imported before
it, and nothing is opened or started that must not cross a fork."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.engine.fingerprint import fingerprinter
from app.settings import Settings
from app.store import backend_module, import_backend, open_store
from tests.conftest import ROOT

# A fresh interpreter: this test process has imported most of these already.
PROBE = """
import json, os, sys, threading
import uvicorn
from app.cli import prefork
from app.settings import Settings
config = uvicorn.Config("app.api.factory:create_app", factory=True, http="app.api.server:Protocol")
watched = ["app.store.sqlite", "app.store.redis", "uvloop", *prefork.LATE_IMPORTS]
before = {name: name in sys.modules for name in watched}
config.load()
prefork.prepare(config, Settings())
fds = []
for fd in os.listdir("/proc/self/fd"):
    try:
        fds.append(os.readlink(f"/proc/self/fd/{fd}"))
    except FileNotFoundError:  # the listing's own descriptor, closed by now
        pass
print(json.dumps({
    "before": before,
    "after": {name: name in sys.modules for name in watched},
    "threads": threading.active_count(),
    "fds": fds,
}))
"""


def probe(store: str) -> dict[str, object]:
    env = {**os.environ, "PARADUP_STORE": store, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, timeout=120, check=True
    )
    result: dict[str, object] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


def test_prepare_imports_what_a_worker_imported_after_the_fork_and_opens_nothing(tmp_path: Path) -> None:
    store = tmp_path / "never-opened.db"
    result = probe(f"sqlite:///{store}")
    before, after = result["before"], result["after"]
    assert isinstance(before, dict)
    assert isinstance(after, dict)
    # Loading the app alone does not import them: prepare does.
    assert not before["app.store.sqlite"]
    assert after["app.store.sqlite"]
    assert not after["app.store.redis"]  # only the backend the URL names
    assert after["anyio._backends._asyncio"]
    assert after["concurrent.futures.thread"]
    pytest.importorskip("uvloop")
    assert after["uvloop"]  # uvicorn's "auto" loop is uvloop when installed
    # No thread, no store file: what must not cross the fork is made in each worker.
    assert result["threads"] == 1
    assert not store.exists()
    fds = result["fds"]
    assert isinstance(fds, list)
    assert not any(str(tmp_path) in fd for fd in fds)


def test_backend_module_is_the_module_open_store_uses(tmp_path: Path) -> None:
    fp = fingerprinter(Settings())
    store = open_store(f"sqlite:///{tmp_path}/s.db", fp.band_keys, fp.scheme)
    try:
        assert type(store).__module__ == backend_module(f"sqlite:///{tmp_path}/s.db")
    finally:
        store.close()
    assert backend_module(str(tmp_path / "plain-path.db")) == type(store).__module__
    for url in ("redis://localhost:6379/0", "rediss://h:1/0", "redis+cluster://h:1"):
        assert backend_module(url) == "app.store.redis"


def test_import_backend_leaves_an_unimportable_backend_to_open_store(monkeypatch: pytest.MonkeyPatch) -> None:
    # A backend missing its library is reported when the store is opened,
    # in the worker, not by the master's preparation.
    monkeypatch.setattr("app.store.backend_module", lambda url: "app.store.no_such_backend")
    import_backend("redis://localhost:6379/0")
    assert "app.store.no_such_backend" not in sys.modules
