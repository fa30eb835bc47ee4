"""The import graph of `gateway/`: no circle (imports inside functions and under TYPE_CHECKING
count too), and the edges never import the pipeline or the HTTP layer, not even through
another module."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
EDGES = ("state", "upstream", "providers", "routing", "guardrails")
ABOVE_THE_EDGES = ("gateway.pipeline", "gateway.http", "gateway.app", "gateway.cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(GATEWAY.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in GATEWAY.rglob("*.py")}


def imported(path: Path, name: str, known: dict[str, Path]) -> Iterator[str]:
    """The gateway modules `path` imports, wherever the import stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if full in known:
                    yield full  # a submodule
                elif base in known:
                    yield base


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {
        name: {other for other in imported(path, name, known) if other != name}
        for name, path in known.items()
    }


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for other in graph.get(todo.pop(), ()):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def test_the_checker_sees_a_circle_and_an_import_inside_a_function() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
    graph = import_graph()
    assert "gateway.pipeline.context" in graph["gateway.pipeline.stages"]
    assert "gateway.routing.router" in graph["gateway.pipeline.services"]


def test_the_import_graph_has_no_circle() -> None:
    assert circles(import_graph()) == []


def test_edges_never_reach_the_pipeline() -> None:
    graph = import_graph()
    wrong = {
        name: sorted(m for m in reachable(graph, name) if m.startswith(ABOVE_THE_EDGES))
        for name in graph
        if name.split(".")[1:2] and name.split(".")[1] in EDGES
    }
    assert {name: found for name, found in wrong.items() if found} == {}


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph of gateway's packages and top-level modules (`gateway.config`, ...): an arrow
    between two when a module of one imports a module of the other."""

    def package(name: str) -> str:
        return ".".join(name.split(".")[:2])

    packages: dict[str, set[str]] = {}
    for name, others in graph.items():
        arrows = packages.setdefault(package(name), set())
        arrows.update(package(other) for other in others if package(other) != package(name))
    return packages


def test_the_packages_are_layered_without_a_circle() -> None:
    """No circle of packages either. There were two: the config read the guardrails' entity
    catalog and the state edge converted the config into its Redis options (each package
    reading the other), and `gateway stats` (observability) took its percentile from replay,
    which reads the observability."""
    assert circles({"a": {"b"}, "b": {"a"}}) == [["a", "b"]]
    assert circles(package_graph(import_graph())) == []
