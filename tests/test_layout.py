"""The package's layout (issue 12): rooms that name their concerns, imports that point down only,
no import circle, and every public name of before still importable.

The import graph is read from the source (``ast``: module-level and function-level imports alike,
relative ones resolved), so a lazy import inside a function counts as an arrow too.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import sltheory

PACKAGE = Path(sltheory.__file__).parent

#: Top-level modules that every room may use: errors, argument checks, the theorems' symbolic
#: bounds, verified linear algebra, atomic writes, the numpy/sympy backend, the version.
FOUNDATION = {"errors", "_checks", "_backend", "_linalg", "bounds", "_atomic", "_version"}
#: The core objects: the random network's plan and modules, the target, the input domains.
CORE = {"network", "targets", "domains"}
#: Modules of the api room: the entry points and what compares a ticket with its target on data.
API = {"api", "agreement"}

#: room → the rooms it may import (besides itself). A room is a sub-package, or a group of modules.
BELOW = {
    "foundation": set(),
    "core": {"foundation"},
    "subset_sum": {"foundation"},
    "certificate": {"foundation", "core"},
    "data": {"foundation", "core"},
    "constructions": {"foundation", "core", "certificate", "subset_sum"},
    "ticket": {"foundation", "core", "certificate", "subset_sum", "constructions"},
    # convolutional / residual targets, their constructions, certificate and tickets (issue 15)
    "conv": {"foundation", "core", "certificate", "subset_sum", "constructions"},
    "api": {"foundation", "core", "certificate", "subset_sum", "constructions", "ticket", "conv"},
    "search": {"foundation", "core", "certificate", "subset_sum", "constructions", "ticket", "api", "data", "conv"},
    # weight-training baselines and continual learning on one random network (issue 17)
    "training": {"foundation", "core", "certificate", "subset_sum", "constructions", "ticket", "api", "data", "conv",
                 "search"},
    "experiment": {"foundation", "core", "certificate", "subset_sum", "constructions", "ticket", "api", "data",
                   "search", "conv", "training"},
    "report": {"foundation", "experiment"},
    "testing": {"foundation", "core"},
}
#: May import any room: the flat public API and the command line.
TOP = {"top", "cli"}


def room(module: str) -> str:
    parts = module.split(".")[1:]
    if not parts:
        return "top"
    head = parts[0]
    if head in FOUNDATION:
        return "foundation"
    if head in CORE:
        return "core"
    if head in API:
        return "api"
    if head in ("__main__",):
        return "top"
    return head


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: dict) -> set[str]:
    """sltheory modules that ``name`` imports (anywhere in its source)."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "sltheory")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "sltheory":
                continue
            for alias in node.names:
                sub = f"{mod}.{alias.name}"
                found.add(sub if sub in known else mod)
    found.discard(name)
    return {m for m in found if m in known}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def test_every_module_is_in_a_room():
    rooms = {room(m) for m in modules()}
    assert rooms <= set(BELOW) | TOP, rooms - set(BELOW) - TOP


def test_arrows_point_down_only(graph):
    wrong = []
    for name, deps in graph.items():
        here = room(name)
        if here in TOP:
            continue
        for dep in deps:
            there = room(dep)
            if there != here and there not in BELOW[here]:
                wrong.append(f"{name} ({here}) imports {dep} ({there})")
    assert not wrong, "\n".join(wrong)


def test_no_import_circle(graph):
    """Tarjan's strongly connected components of the module graph: every one a single module."""
    index, low, stack, on, circles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                circles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not circles, circles


def test_the_check_sees_arrows():
    """The reader finds relative, nested and package imports (so the tests above can fail)."""
    known = modules()
    deps = imports("sltheory.ticket.model", known["sltheory.ticket.model"], known)
    assert {"sltheory.ticket.fileformat", "sltheory.constructions.registry", "sltheory.errors"} <= deps
    assert "sltheory.ticket.model" not in imports("sltheory.ticket.fileformat", known["sltheory.ticket.fileformat"],
                                                  known)
    assert room("sltheory.certificate.bound") == "certificate" and room("sltheory.bounds") == "foundation"


def test_each_room_says_what_it_may_import():
    for pkg in sorted(p.parent for p in PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse((pkg / "__init__.py").read_text()))
        assert doc and "May import" in doc, f"{pkg.name}/__init__.py has no docstring saying what it may import"


def test_public_names_of_before_still_work():
    for name in sltheory.__all__:
        assert getattr(sltheory, name) is not None, name
    for old, new in sltheory._MOVED.items():
        assert importlib.import_module(f"sltheory.{old}") is importlib.import_module(f"sltheory.{new}")
    from sltheory.runs import RunFolder
    from sltheory.ticket_io import load_ticket
    assert RunFolder is sltheory.experiment.runs.RunFolder and load_ticket is sltheory.load_ticket
    assert sltheory.datasets.load_digits is sltheory.data.load_digits
    assert sltheory.plotting.draw_ticket_graph is sltheory.report.plotting.draw_ticket_graph
