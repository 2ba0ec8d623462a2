"""Layer rules of syncd's code (DESIGN.md "Layout", STYLE.md rules 1-3), read with
``ast`` from the source files: no import runs, no third-party tool.

- no import cycles, neither between modules nor between packages (``syncd.sources``
  and everything in it count as one);
- ``syncd.targets`` imports nothing from ``syncd.sources``;
- ``syncd.config`` imports no adapter (``syncd.sources*``, ``syncd.targets*``);
- only ``syncd.net``, ``syncd.sources``, ``syncd.targets`` (and the model installer
  ``syncd.translate.packages``, which downloads, and the remote engine
  ``syncd.translate.libretranslate``) import httpx;
- only ``syncd.store`` imports sqlalchemy;
- the pure modules import no I/O module, syncd's or a library's;
- no module is over 600 lines.

What counts as an import: every ``import``/``from … import`` anywhere in a module,
inside functions too (a lazy import is still a dependency). Imports under
``if TYPE_CHECKING:`` load nothing at run time, so they are left out of the cycle
and library rules; the rules between syncd's own layers count them (a type-only
import still makes one layer know another).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import syncd

ROOT = Path(syncd.__file__).resolve().parent
MAX_LINES = 600
PURE = (
    "syncd.models",
    "syncd.decide",
    "syncd.health",
    "syncd.exits",
    "syncd.timefmt",
    "syncd.translate.segment",
    "syncd.translate.glossary",
    "syncd.translate.checks",
    "syncd.translate.edit",
    "syncd.translate.suggest",
    "syncd.review",
)
#: syncd's modules that talk to the outside world (or wire those that do)
IO_MODULES = (
    "syncd.store", "syncd.net", "syncd.sources", "syncd.targets", "syncd.translate.engine",
    "syncd.translate.libretranslate",
    "syncd.translate.packages", "syncd.app", "syncd.cli", "syncd.daemon", "syncd.sync",
    "syncd.status", "syncd.check", "syncd.logs",
)  # fmt: skip
#: libraries that do I/O (network, database, processes, files, models, terminal)
IO_LIBRARIES = (
    "httpx", "sqlalchemy", "sqlite3", "socket", "ssl", "http", "urllib.request", "subprocess",
    "shutil", "tempfile", "ctranslate2", "sentencepiece", "argostranslate", "apscheduler",
    "click", "feedparser", "trafilatura",
)  # fmt: skip
HTTPX_ALLOWED = (
    "syncd.net", "syncd.sources", "syncd.targets", "syncd.translate.packages",
    "syncd.translate.libretranslate",  # the remote engine: a configured service, like a target
    "syncd.alerts.hook",
)  # fmt: skip


@dataclass(frozen=True)
class Import:
    module: str  # the importing syncd module
    target: str  # a syncd module, or the dotted name of a library as written
    line: int
    typing_only: bool

    def __str__(self) -> str:
        kind = " (TYPE_CHECKING)" if self.typing_only else ""
        return f"{self.module}:{self.line} imports {self.target}{kind}"


def within(name: str, *prefixes: str) -> bool:
    """``name`` is one of ``prefixes`` or inside one of them (dotted)."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@cache
def modules() -> dict[str, Path]:
    """Every module of syncd by dotted name (a package by its ``__init__``)."""
    out: dict[str, Path] = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = ("syncd", *path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, typing_only: bool) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield stmt, True
                yield from _walk(stmt, True)
            for stmt in child.orelse:
                yield stmt, typing_only
                yield from _walk(stmt, typing_only)
            continue
        yield child, typing_only
        yield from _walk(child, typing_only)


def _resolve(dotted: str) -> str:
    """The syncd module ``dotted`` names (the longest known prefix), else itself."""
    known = modules()
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in known:
            return candidate
    return dotted


@cache
def imports(module: str) -> tuple[Import, ...]:
    path = modules()[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []
    for node, typing_only in _walk(tree, False):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            # "from pkg import name" imports the submodule pkg.name when there is one
            names = [f"{stem}.{a.name}" if a.name != "*" else stem for a in node.names]
        for name in names:
            target = _resolve(name) if within(name, "syncd") else name
            if target != module:
                found.append(Import(module, target, node.lineno, typing_only))  # type: ignore[attr-defined]
    return tuple(dict.fromkeys(found))  # "from .x import a, b" is one import of x


def all_imports() -> list[Import]:
    return [i for m in modules() for i in imports(m)]


def component(module: str) -> str:
    """The package a module belongs to (``syncd.sources.feed`` → ``syncd.sources``);
    a top-level module is its own."""
    parts = module.split(".")
    if len(parts) > 2 or (len(parts) == 2 and (ROOT / parts[1]).is_dir()):
        return ".".join(parts[:2])
    return module


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc: list[str] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                out.append(sorted(scc))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def runtime_edges(collapse: bool) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for i in all_imports():
        if i.typing_only or not within(i.target, "syncd"):
            continue
        a, b = (component(i.module), component(i.target)) if collapse else (i.module, i.target)
        if a != b:
            edges.setdefault(a, set()).add(b)
    return edges


def _why(cycle: list[str], collapse: bool) -> list[str]:
    """The imports that make up a cycle, for the failure message."""
    members = set(cycle)
    key = component if collapse else (lambda m: m)
    return [str(i) for i in all_imports()
            if not i.typing_only and within(i.target, "syncd") and key(i.module) in members
            and key(i.target) in members and key(i.module) != key(i.target)]  # fmt: skip


# ------------------------------------------------------------------------------ tests


def test_the_reader_sees_syncd_as_it_is() -> None:
    """The rules below are only as good as the import reader: it must find known
    imports, relative, lazy and type-only ones included."""
    assert {"syncd", "syncd.sync", "syncd.sources", "syncd.translate.segment"} <= set(modules())
    sync = {(i.target, i.typing_only) for i in imports("syncd.sync")}
    assert ("syncd.decide", False) in sync and ("syncd.app", True) in sync
    assert component("syncd.sources.feed") == "syncd.sources"
    assert component("syncd.sync") == "syncd.sync"
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles_between_modules() -> None:
    found = cycles(runtime_edges(collapse=False))
    assert not found, "\n".join(f"{c}:\n  " + "\n  ".join(_why(c, False)) for c in found)


def test_no_import_cycles_between_packages() -> None:
    found = cycles(runtime_edges(collapse=True))
    assert not found, "\n".join(f"{c}:\n  " + "\n  ".join(_why(c, True)) for c in found)


def test_targets_import_nothing_from_sources() -> None:
    bad = [str(i) for i in all_imports()
           if within(i.module, "syncd.targets") and within(i.target, "syncd.sources")]  # fmt: skip
    assert not bad, "\n".join(bad)


def test_config_imports_no_adapter() -> None:
    bad = [str(i) for i in imports("syncd.config")
           if within(i.target, "syncd.sources", "syncd.targets")]  # fmt: skip
    assert not bad, "\n".join(bad)


def test_only_the_network_layers_import_httpx() -> None:
    bad = [str(i) for i in all_imports()
           if within(i.target, "httpx") and not i.typing_only
           and not within(i.module, *HTTPX_ALLOWED)]  # fmt: skip
    assert not bad, "\n".join(bad)


def test_only_the_store_imports_sqlalchemy() -> None:
    bad = [str(i) for i in all_imports()
           if within(i.target, "sqlalchemy") and not i.typing_only
           and not within(i.module, "syncd.store")]  # fmt: skip
    assert not bad, "\n".join(bad)


def test_pure_modules_import_no_io() -> None:
    assert set(PURE) <= set(modules())
    bad = [str(i) for m in PURE for i in imports(m)
           if within(i.target, *IO_MODULES)
           or (not i.typing_only and within(i.target, *IO_LIBRARIES))]  # fmt: skip
    assert not bad, "\n".join(bad)


def test_no_module_is_over_600_lines() -> None:
    sizes = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in modules().items()}
    big = {m: n for m, n in sizes.items() if n > MAX_LINES}
    assert not big, f"over {MAX_LINES} lines: {big}"
