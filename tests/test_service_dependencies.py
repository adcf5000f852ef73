"""The service runs on its own dependencies: datasketch (and the scipy it
needs) is an optional extra, for the interop module only. With scipy
installed, numba imports scipy.linalg at start-up (~0.2 s), so a service
install that does not need it must not get it."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

import pytest
from packaging.requirements import Requirement

from app.hashing import interop
from tests.conftest import ROOT

# A fresh interpreter where datasketch and scipy cannot be imported: the
# master's whole start-up (the app, the kernels, the store) and one check.
PROBE = """
import importlib.abc, json, sys

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("datasketch", "scipy"):
            raise ImportError(f"{name} is not installed (refused by the test)")
        return None

sys.meta_path.insert(0, Refuse())
from fastapi.testclient import TestClient
from app.api.factory import create_app
from app.settings import Settings

store = "sqlite:///" + sys.argv[1]
with TestClient(create_app(Settings(store=store))) as client:
    text = "A paragraph long enough to be indexed, written for this test alone, twice over."
    ingest = client.post("/ingest", json={"documents": [{"id": "d1", "text": text}]})
    check = client.post("/check", content=text, headers={"content-type": "text/plain"})
print(json.dumps({
    "ingest": ingest.status_code,
    "status": check.json()["paragraphs"][0]["status"],
    "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("datasketch", "scipy")),
}))
"""


def test_the_service_checks_with_neither_datasketch_nor_scipy_importable(tmp_path: object) -> None:
    store = f"{tmp_path}/probe.db"
    out = subprocess.run(
        [sys.executable, "-c", PROBE, store], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    assert answer == {"ingest": 200, "status": "duplicate", "loaded": []}


def test_datasketch_and_scipy_are_not_service_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {Requirement(req).name for req in project["dependencies"]}
    assert not names & {"datasketch", "scipy"}
    extra = {Requirement(req).name for req in project["optional-dependencies"]["datasketch"]}
    assert extra == {"datasketch"}


def test_interop_without_datasketch_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasketch", None)  # import datasketch -> ImportError
    with pytest.raises(ImportError, match=r"pip install 'paradup\[datasketch\]'"):
        interop.datasketch_minhash()
    with pytest.raises(ImportError, match=r"paradup\[datasketch\]"):
        interop.lean_minhashes(["a paragraph of a few words"])
