"""The public namespace is curated: everything in __all__ exists, sorted, nothing heavy imported."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import agentrig


def test_all_has_no_duplicates_and_every_name_exists() -> None:
    # Sorting (isort style: CONSTANTS, Classes, functions) is enforced by ruff's RUF022.
    assert len(set(agentrig.__all__)) == len(agentrig.__all__)
    for name in agentrig.__all__:
        assert hasattr(agentrig, name), name


def test_public_objects_say_they_come_from_agentrig() -> None:
    for name in agentrig.__all__:
        obj = getattr(agentrig, name)
        module = getattr(obj, "__module__", "agentrig")
        assert module.startswith("agentrig"), (name, module)


def test_every_error_derives_from_agentrig_error() -> None:
    errors = [getattr(agentrig, n) for n in agentrig.__all__ if n.endswith(("Error", "Failed"))]
    errors += [agentrig.BudgetExceeded, agentrig.BudgetExhausted, agentrig.DeadlineExceeded]
    errors += [agentrig.ScriptExhausted, agentrig.UnscriptedCall, agentrig.ScriptMismatch]
    errors += [agentrig.UnsupportedEndpoint, agentrig.NetworkBlocked]
    for err in errors:
        assert issubclass(err, agentrig.AgentRigError), err


def test_importing_agentrig_does_not_import_pytest_syrupy_or_pydantic() -> None:
    code = (
        "import sys, agentrig; "
        "print(sorted(m for m in ('pytest', 'syrupy', 'pydantic', '_pytest') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_public_name_is_lazily_importable_and_all_matches_the_export_table() -> None:
    assert set(agentrig.__all__) == set(agentrig._EXPORTS)
    assert set(agentrig.__all__) <= set(dir(agentrig))


def test_loading_the_pytest_plugin_does_not_import_the_runtime() -> None:
    code = (
        "import sys, agentrig.plugin; "
        "print(sorted(m for m in sys.modules if m.startswith('agentrig')"
        " and not m.startswith('agentrig.plugin')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['agentrig']"  # the plugin's own modules, nothing below


def test_sdk_facing_errors_are_also_the_builtins_a_caller_catches() -> None:
    assert issubclass(agentrig.NetworkBlocked, ConnectionError)
    assert issubclass(agentrig.ScriptMismatch, ValueError)
    assert issubclass(agentrig.FakeRequest, str)


def test_agentrig_warning_is_a_user_warning_not_an_error() -> None:
    assert issubclass(agentrig.AgentrigWarning, UserWarning)
    assert not issubclass(agentrig.AgentrigWarning, agentrig.AgentRigError)


_EVERY_SUBMODULE_THEN_EVERY_NAME = r"""
import importlib, json, pkgutil, re, sys, types
from pathlib import Path

import agentrig

modules = sorted(
    m.name for m in pkgutil.walk_packages(agentrig.__path__, "agentrig.")
    if not m.name.endswith("__main__")
)
for name in modules:
    importlib.import_module(name)
submodules = {name.split(".")[1] for name in modules}
problems = []
for name in agentrig.__all__:
    if name in submodules:
        problems.append(f"{name} is a public name and a submodule")
    if isinstance(getattr(agentrig, name), types.ModuleType):
        problems.append(f"agentrig.{name} is a module")
# Every ``agentrig.X`` the README and docs/ mention resolves, and every ``agentrig.X(...)``
# they call is callable: with every submodule imported, as in a pytest session. Attribute
# names (``agentrig.cost_usd``) are strings some module defines, not Python names.
strings = set()
for module in list(sys.modules.values()):
    if getattr(module, "__name__", "").startswith("agentrig"):
        for value in vars(module).values():
            members = value if isinstance(value, (tuple, frozenset, set)) else (value,)
            strings.update(v for v in members if isinstance(v, str))
docs = [Path(sys.argv[1]), *sorted(Path(sys.argv[2]).glob("*.md"))]
for doc in docs:
    text = doc.read_text(encoding="utf-8")
    # (not a path or URL such as ``.../agentrig.git``, not ``key=value`` output)
    pattern = r"(?<![\w./-])agentrig\.([A-Za-z_]\w*)(\.[A-Za-z_]\w*)*(?![\w=])(\()?"
    for match in re.finditer(pattern, text):
        first, called = match.group(1), match.group(3)
        if match.group(0).rstrip("(") in strings:
            continue
        if first not in agentrig.__all__ and first not in submodules:
            problems.append(f"{doc.name}: agentrig.{first} is neither public nor a submodule")
            continue
        obj = agentrig
        for part in match.group(0).rstrip("(").split(".")[1:]:
            obj = getattr(obj, part, None)
        if obj is None:
            problems.append(f"{doc.name}: {match.group(0).rstrip('(')} does not exist")
        elif called and not callable(obj):
            problems.append(f"{doc.name}: {match.group(0)}...) calls a {type(obj).__name__}")
print(json.dumps(sorted(set(problems))))
"""


def test_every_documented_name_works_once_every_submodule_is_imported() -> None:
    # agentrig.normalize was a function in __all__ and a submodule: once anything imported
    # the submodule (the plugin does in every session), agentrig.normalize(recording) raised
    # TypeError. No public name may be both; what README and docs/ write must work.
    root = Path(agentrig.__file__).parents[2]
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            _EVERY_SUBMODULE_THEN_EVERY_NAME,
            str(root / "README.md"),
            str(root / "docs"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout) == []


def test_the_engine_modules_are_reachable_from_the_package_before_any_import() -> None:
    code = (
        "import types, agentrig; "
        "print(isinstance(agentrig.normalize, types.ModuleType), "
        "callable(agentrig.normalize.normalize), callable(agentrig.drift.compare))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "True"]


def test_engine_names_left_the_top_level_with_a_pointer_to_their_module() -> None:
    with pytest.warns(DeprecationWarning, match=r"from agentrig\.drift import compare"):
        compare = agentrig.compare  # type: ignore[attr-defined]
    from agentrig.drift import compare as engine_compare

    assert compare is engine_compare
    assert "compare" not in agentrig.__all__
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        agentrig.nonsense  # type: ignore[attr-defined]  # noqa: B018


def test_the_tests_catch_errors_by_the_names_users_import() -> None:
    """Errors a user catches are exported at the top level; the tests use those names."""
    tests = Path(__file__).parent
    private = sorted(
        f"{path.relative_to(tests)}:{node.lineno}"
        for path in tests.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module == "agentrig._errors"
    )
    assert private == []
