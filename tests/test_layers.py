"""Imports point down the layers only (docs/architecture.md); an AST walk keeps them honest."""

from __future__ import annotations

import ast
from pathlib import Path

import agentrig

SRC = Path(agentrig.__file__).parent

# Lower number = lower layer. A module may import only modules of a lower or equal layer
# (equal only where listed in SAME_LAYER_OK), never one above it.
LAYER = {
    "_errors": 0,
    "_secrets": 0,
    "_files": 0,
    "_types": 0,
    "_models": 0,
    "_layout": 1,
    "_ci": 1,
    "clock": 1,
    "mutate": 1,
    "document": 1,
    "normalize": 1,
    "drift": 1,
    "html": 1,
    "recording": 2,
    "wallclock": 2,
    "_jsonl": 3,
    "budget": 4,
    "deadline": 4,
    "bus": 4,
    "decisions": 4,
    "tracing": 4,
    "chat": 4,
    "fake": 5,
    "model_span": 5,
    "patterns": 6,
    "cassette": 6,
    "providers": 6,
    "snapshot": 7,
    "plugin": 8,
    "cli": 8,
    "__init__": 9,
    "__main__": 10,
    "vocabulary": 0,
    "otlp": 1,
    "otel": 5,
    "tools": 5,
}
# Primitives may use each other (a BudgetPool waits with a Deadline).
SAME_LAYER_OK = {
    ("budget", "deadline"),
    ("drift", "normalize"),
    ("drift", "document"),
    ("normalize", "document"),
    ("html", "drift"),
    ("_errors", "_secrets"),
    ("cli", "plugin"),  # agentrig update sets the environment agentrig.plugin.update reads
    ("fake", "model_span"),
}
PYTEST_FREE = {name for name, layer in LAYER.items() if layer <= 6}


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    return rel.parts[0]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> set[str]:
    """Runtime imports of a module (imports under ``if TYPE_CHECKING:`` are types only)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def test_imports_point_down_the_layers() -> None:
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        me = _module_name(path)
        assert me in LAYER, f"{path} is not placed in a layer: add it to LAYER"
        for imported in _imports(path):
            parts = imported.split(".")
            if parts[0] != "agentrig" or len(parts) < 2:
                continue
            other = parts[1]
            if other not in LAYER or other == me:
                continue
            if LAYER[other] > LAYER[me] or (
                LAYER[other] == LAYER[me] and (me, other) not in SAME_LAYER_OK
            ):
                problems.append(f"{path.relative_to(SRC)} imports agentrig.{other}")
    assert not problems, "layering violations:\n" + "\n".join(problems)


def test_runtime_layers_do_not_import_pytest_or_syrupy() -> None:
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        if _module_name(path) not in PYTEST_FREE:
            continue
        for imported in _imports(path):
            if imported.split(".")[0] in {"pytest", "_pytest", "syrupy", "pytest_asyncio"}:
                problems.append(f"{path.relative_to(SRC)} imports {imported}")
    assert not problems, "\n".join(problems)
