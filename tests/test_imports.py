"""No import cycles between tic's modules: every ``import`` statement counts, also those inside
functions (a cycle hidden in a function is still two modules that need each other)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (``from pkg import mod`` names ``pkg.mod``)."""
    modules = {}
    for path in root.rglob("*.py"):
        name = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                subs = [f"{node.module}.{a.name}" for a in node.names]
                targets = [t for t in subs if t in modules] or [node.module]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or through others."""
    reach = {m: set() for m in graph}
    for start in graph:
        todo = list(graph[start])
        while todo:
            m = todo.pop()
            if m not in reach[start]:
                reach[start].add(m)
                todo += graph[m]
    groups = {frozenset(m2 for m2 in reach[m] if m in reach[m2]) for m in graph if m in reach[m]}
    return sorted(sorted(g) for g in groups)


def test_tic_has_no_import_cycles():
    graph = import_graph(SRC / "tic")
    assert "tic.train" in graph and "tic.checkpoint" in graph["tic.train"]
    assert cycles(graph) == []


def test_the_training_side_does_not_import_inference():
    """train.py reads the model-folder format from tic.checkpoint, not from the pipeline."""
    graph = import_graph(SRC / "tic")
    assert "tic.pipeline" not in graph["tic.train"]
    assert "tic.pipeline" not in graph["tic.checkpoint"]


def test_the_check_finds_a_cycle(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import f\n")
    (pkg / "b.py").write_text("def f():\n    from pkg import a\n")
    (pkg / "c.py").write_text("import pkg.a\n")
    assert cycles(import_graph(pkg)) == [["pkg.a", "pkg.b"]]
