"""The public namespace is curated: everything in __all__ exists, sorted, nothing heavy imported."""

from __future__ import annotations

import subprocess
import sys

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
