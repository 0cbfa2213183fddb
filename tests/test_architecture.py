"""The toolkit's packages form a DAG in the layers docs/architecture.md lays out.

The graph is built from the source with `ast`: every import counts, also those inside
functions (a lazy import is still a dependency) and under TYPE_CHECKING."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "ci" / "freetier"
DOC = ROOT / "docs" / "architecture.md"
LAYER_ROW = re.compile(r"^\| (\d+) [^|]+\| ([^|]+) \|")

Graph = dict[str, dict[str, list[str]]]  # package -> imported package -> files that do it


def unit_of(path: Path, root: Path) -> str:
    """The package (or top-level module) a file of the package at `root` belongs to."""
    rel = path.relative_to(root)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imported_modules(path: Path, root: Path) -> Iterator[str]:
    """Absolute names of the modules a file imports (relative imports resolved)."""
    module = ["freetier", *path.relative_to(root).with_suffix("").parts]
    here = module[:-1]  # the package a relative import starts from
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = here[: len(here) - (node.level - 1)]
                base = ".".join([*parent, *([base] if base else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph(root: Path = PACKAGE) -> Graph:
    units = {unit_of(p, root) for p in root.rglob("*.py")}
    graph: Graph = {u: {} for u in units}
    for path in sorted(root.rglob("*.py")):
        source = unit_of(path, root)
        where = str(path.relative_to(root.parent))
        for name in imported_modules(path, root):
            parts = name.split(".")
            if parts[0] != "freetier" or len(parts) < 2 or parts[1] not in units:
                continue
            if parts[1] != source:
                files = graph[source].setdefault(parts[1], [])
                if where not in files:
                    files.append(where)
    return graph


def find_cycle(graph: Graph) -> list[str] | None:
    """One cycle of the graph as a path that ends where it starts, or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == "open":
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def documented_layers() -> dict[str, int]:
    """Package -> layer number, from the table in docs/architecture.md."""
    layers: dict[str, int] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if match := LAYER_ROW.match(line):
            for name in match.group(2).split(","):
                layers[name.strip().strip("`")] = int(match.group(1))
    return layers


def test_the_import_graph_sees_real_edges() -> None:
    graph = import_graph()
    assert "stack" in graph["cli"] and "errors" in graph["stack"]
    assert "tofu" in graph["review"]  # review/gate.py runs tofu


def test_no_package_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_every_package_has_a_documented_layer() -> None:
    units = set(import_graph()) - {"__init__"}
    assert units == set(documented_layers())


def test_imports_only_go_down_the_layers() -> None:
    layers = documented_layers()
    layers["__init__"] = -1  # the package root: the version string only
    upward = [
        f"{source} (layer {layers[source]}) imports {target} (layer {layers[target]}): "
        + ", ".join(files)
        for source, targets in import_graph().items()
        for target, files in targets.items()
        if layers[target] > layers[source]
    ]
    assert upward == []


@pytest.mark.parametrize(
    ("edges", "cycle"),
    [
        ({"a": ["b"], "b": ["c"], "c": []}, None),
        ({"a": ["b"], "b": ["c"], "c": ["a"]}, ["a", "b", "c", "a"]),
        ({"a": ["a2"], "a2": [], "b": ["c"], "c": ["b"]}, ["b", "c", "b"]),
    ],
)
def test_find_cycle(edges: dict[str, list[str]], cycle: list[str] | None) -> None:
    graph: Graph = {k: {t: [] for t in v} for k, v in edges.items()}
    assert find_cycle(graph) == cycle


def test_imports_inside_functions_and_relative_imports_count(tmp_path: Path) -> None:
    root = tmp_path / "freetier"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    (root / "a" / "__init__.py").write_text("")
    (root / "a" / "x.py").write_text("def f():\n    from ..b import y\n")
    (root / "b" / "__init__.py").write_text("")
    (root / "b" / "y.py").write_text("import freetier.a.x\n")
    graph = {k: sorted(v) for k, v in import_graph(root).items()}
    assert graph == {"a": ["b"], "b": ["a"]}
