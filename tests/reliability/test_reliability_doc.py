"""docs/reliability.md names a real test for each guarantee, and each test backs a guarantee."""

from __future__ import annotations

import ast
import re
from pathlib import Path

HERE = Path(__file__).parent
DOC = HERE.parent.parent / "docs" / "reliability.md"

# `test_file.py::test_name` or, continuing the same file in one cell, `::test_name`
REFERENCE_RE = re.compile(r"`(?:(test_[a-z_]+\.py))?::(test_\w+)`")


def _tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.name.startswith("test_")
    }


def _references() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for line in DOC.read_text(encoding="utf-8").splitlines():
        current = None
        for match in REFERENCE_RE.finditer(line):
            current = match.group(1) or current
            assert current is not None, f"a '::test' with no file before it: {line}"
            found.add((current, match.group(2)))
    return found


def test_every_test_the_doc_names_exists() -> None:
    missing = [
        f"{file}::{name}"
        for file, name in sorted(_references())
        if not (HERE / file).is_file() or name not in _tests(HERE / file)
    ]
    assert not missing, missing


def test_every_reliability_test_backs_a_guarantee_in_the_doc() -> None:
    named = _references()
    unlisted = [
        f"{path.name}::{name}"
        for path in sorted(HERE.glob("test_*.py"))
        if path.name != Path(__file__).name
        for name in sorted(_tests(path))
        if (path.name, name) not in named
    ]
    assert not unlisted, unlisted
