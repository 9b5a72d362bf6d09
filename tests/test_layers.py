"""Imports point down the layers only (docs/architecture.md); an AST walk keeps them honest."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import agentrig

SRC = Path(agentrig.__file__).parent

ARCHITECTURE = Path(__file__).parents[1] / "docs" / "architecture.md"
_LAYER_ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*`([\w.]+)`\s*\|")
_SAME_LAYER_ROW = re.compile(r"^\|\s*`([\w.]+)`\s*\|\s*`([\w.]+)`\s*\|")


def _layer_tables() -> tuple[dict[str, int], set[tuple[str, str]]]:
    """The layer of each module, and the allowed same-layer imports, from the one table in
    docs/architecture.md ("Layers"): the test and the documentation cannot disagree."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    layers: dict[str, int] = {}
    same: set[tuple[str, str]] = set()
    for line in section.splitlines():
        if match := _LAYER_ROW.match(line):
            name = match.group(2)
            assert name not in layers, f"{name} has two rows in {ARCHITECTURE.name}"
            layers[name] = int(match.group(1))
        elif match := _SAME_LAYER_ROW.match(line):
            same.add((match.group(1), match.group(2)))
    return layers, same


# Lower number = lower layer. A module may import only modules of a lower or equal layer
# (equal only where listed in SAME_LAYER_OK), never one above it.
LAYER, SAME_LAYER_OK = _layer_tables()
# Below the syrupy extension's layer: no pytest, no syrupy.
PYTEST_FREE = {name for name, layer in LAYER.items() if layer < LAYER["snapshot"]}


def test_the_layer_table_names_every_module_and_only_modules_that_exist() -> None:
    modules = {_module_name(path) for path in SRC.rglob("*.py")}
    assert modules - LAYER.keys() == set(), (
        f"not placed in a layer: add a row to the table in {ARCHITECTURE}"
    )
    assert LAYER.keys() - modules == set(), f"rows for modules that do not exist in {ARCHITECTURE}"
    assert len(SAME_LAYER_OK) >= 1 and all(LAYER[a] == LAYER[b] for a, b in SAME_LAYER_OK)


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
        assert me in LAYER, f"{path} is not placed in a layer: add a row to {ARCHITECTURE}"
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


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _underscore_imports(path: Path) -> list[str]:
    """``from agentrig.x import _y`` (or ``from ._x import _y``) and ``x._y`` on a module bound
    by ``import agentrig.x as x`` / ``from agentrig import x``: another module's private name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    modules: set[str] = set()  # local names bound to agentrig modules
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = node.module or ""
            ours = node.level > 0 or source.split(".")[0] == "agentrig"
            for alias in node.names if ours else ():
                if _private(alias.name) and not (source == "agentrig" and node.level == 0):
                    found.append(
                        f"line {node.lineno}: from {'.' * node.level}{source} import {alias.name}"
                    )
                elif source == "agentrig" or node.level > 0:
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "agentrig":
                    modules.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            base = ast.unparse(node.value)
            if base in modules or (base.startswith("agentrig.") and "agentrig" in modules):
                found.append(f"line {node.lineno}: {base}.{node.attr}")
    return found


def test_no_module_imports_another_modules_underscore_names() -> None:
    """An underscore means "local to this file": a name a module hands to its siblings loses
    it (a private *module* such as ``agentrig._secrets`` holds unprefixed names)."""
    problems = [
        f"{path.relative_to(SRC)} {problem}"
        for path in sorted(SRC.rglob("*.py"))
        for problem in _underscore_imports(path)
    ]
    assert not problems, "imports of another module's private names:\n" + "\n".join(problems)
