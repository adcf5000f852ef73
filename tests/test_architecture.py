"""The import graph of app/: no cycle, and each layer imports only the layers below it.

Every import statement counts, those inside functions too: an import put in a
function to dodge a cycle is still a cycle in the design.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"

# Bottom first. A package imports its own modules and the layers below its
# own; packages that share a layer do not import each other.
LAYERS: list[dict[str, str]] = [
    {
        "app.hashing": "the pure core: text in, signatures out",
        "app.text": "splits submitted text and HTML into paragraphs",
    },
    {"app.store": "the backends: they store what the engine computed, and take explicit parameters"},
    {"app.settings": "the one configuration object: read by the engine and the entry points only"},
    {"app.engine": "the service: fingerprints, checks and ingests through a store"},
    {
        "app.api": "the HTTP layer over the service",
        "app.web": "the review page the HTTP layer serves",
    },
    {"app.cli": "the command line over the service; its --json output is the API's response schema"},
]
LAYER_OF = {package: level for level, layer in enumerate(LAYERS) for package in layer}

# Modules the pure core never imports: files, databases, networks, processes.
IO_MODULES = {"os", "io", "pathlib", "shutil", "sqlite3", "pysqlite3", "socket", "ssl", "http", "urllib"}
IO_MODULES |= {"subprocess", "asyncio", "threading", "multiprocessing", "redis", "httpx", "tempfile", "glob"}
# The table generator is run by hand to write the shipped tables; nothing at
# run time imports it (checked below).
CORE_IO_EXCEPTIONS = {"app.hashing.tablegen"}


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(APP.rglob("*.py"))}


def imports_of(name: str) -> Iterator[str]:
    """Every module ``name`` imports, resolved: ``from pkg import mod`` is
    ``pkg.mod`` when that is a module, else ``pkg``."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base


def app_imports(name: str) -> set[str]:
    return {target for target in imports_of(name) if target in MODULES and target != name}


def top_package(name: str) -> str:
    return ".".join(name.split(".")[:2])


def test_every_app_package_has_a_layer() -> None:
    assert {top_package(name) for name in MODULES} - {"app"} == set(LAYER_OF)


def test_no_import_from_a_lower_layer_to_a_higher_one() -> None:
    wrong = []
    for name in MODULES:
        if name == "app":
            continue
        own = top_package(name)
        for target in app_imports(name):
            other = top_package(target)
            if other != own and LAYER_OF.get(other, -1) >= LAYER_OF[own]:
                wrong.append(f"{name} imports {target}")
    assert not wrong


def test_no_import_cycle() -> None:
    graph = {name: app_imports(name) for name in MODULES}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles


def test_the_hashing_core_does_no_io_and_reads_no_settings() -> None:
    wrong = []
    for name in MODULES:
        if top_package(name) != "app.hashing" or name in CORE_IO_EXCEPTIONS:
            continue
        for target in imports_of(name):
            if target.split(".")[0] in IO_MODULES or target == "app.settings":
                wrong.append(f"{name} imports {target}")
    assert not wrong


def test_nothing_imports_the_table_generator() -> None:
    importers = [name for name in MODULES if CORE_IO_EXCEPTIONS & app_imports(name)]
    assert not importers


def test_the_graph_is_read_in_full() -> None:
    """The checks above see imports inside functions and relative ones."""
    assert "app.store.redis" in app_imports("app.store")  # imported inside open_store
    assert "app.engine.service" in app_imports("app.engine")
    assert "app.hashing.kernel" in app_imports("app.hashing.minhash")  # from app.hashing import kernel


# The one module that picks the SQLite library (pysqlite3 or the standard one).
SQLITE_DRIVER = APP / "store" / "sqlite_driver.py"


def sqlite_importers(root: Path) -> set[str]:
    """Files under ``root`` that import a SQLite library themselves."""
    found = set()
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            if any(name.split(".")[0] in {"sqlite3", "pysqlite3"} for name in names):
                found.add(str(path.relative_to(root.parent)))
    return found


def test_one_sqlite_library_in_every_process() -> None:
    """Two SQLite libraries in one process corrupt a WAL file they share:
    POSIX locks belong to the process, so neither library sees the other's
    connections; the second one to open the file takes itself for the only
    user and truncates the -shm that the first has mapped (SIGBUS), and its
    last close checkpoints and deletes the -wal and -shm under the first.
    So tests and benchmarks, which open store files beside a store, take
    the library from app.store.sqlite_driver like the store itself."""
    repo = APP.parent
    importers = set().union(*(sqlite_importers(repo / top) for top in ("app", "tests", "benchmarks")))
    assert importers == {str(SQLITE_DRIVER.relative_to(repo))}
