"""Which tests use agentrig: decided by fixture *definition* and marker, never by name.

agentrig autoloads into every pytest session of an environment, so everything it does to a
test must be reserved for tests that asked for it. A test asks by carrying
``@pytest.mark.agentrig`` or by using a fixture that agentrig itself defines. A project fixture
that merely shares a name (its own ``tracer``, ``deadline``, ``fake_model``) is the project's:
pytest resolves the name to the project's definition, and that is what is compared here.

A project override that requests the fixture it overrides (``def fake_model(fake_model)``)
still reaches agentrig's definition, so its tests are agentrig tests; an override that does not
(and requests no other agentrig fixture) leaves the test alone.

The answer is computed once per item and kept in its stash: the other plugin features (loop,
recording, fake-model interception) ask it at collection, setup and report time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

__all__ = ["is_agentrig_fixture", "is_agentrig_test", "requests_fixture"]

_MODULE = "agentrig.plugin"
_USES = pytest.StashKey[frozenset[str]]()
_IS_AGENTRIG = pytest.StashKey[bool]()
_NO_FIXTURES: frozenset[str] = frozenset()


def is_agentrig_fixture(fixturedef: Any) -> bool:
    """True if ``fixturedef`` (a ``pytest.FixtureDef``) is one of agentrig's own definitions.

    Autouse fixtures never count: they reach every test, so they cannot say a test uses
    agentrig.
    """
    func = getattr(fixturedef, "func", None)
    module = getattr(func, "__module__", None)
    if not isinstance(module, str) or not (module == _MODULE or module.startswith(_MODULE + ".")):
        return False
    return not getattr(fixturedef, "_autouse", False)


def _agentrig_fixtures(item: pytest.Item) -> frozenset[str]:
    """The names in ``item``'s fixture closure that resolve to an agentrig definition."""
    cached = item.stash.get(_USES, None)
    if cached is not None:
        return cached
    info = getattr(item, "_fixtureinfo", None)  # pytest: Function and FunctionDefinition
    name2defs = getattr(info, "name2fixturedefs", None)
    if not name2defs:
        item.stash[_USES] = _NO_FIXTURES
        return _NO_FIXTURES
    found: set[str] = set()
    for name, defs in name2defs.items():
        if _resolves_to_agentrig(name, defs):
            found.add(name)
    result = frozenset(found)
    item.stash[_USES] = result
    return result


def _resolves_to_agentrig(name: str, defs: Sequence[Any]) -> bool:
    """Walk the override chain from the closest definition while it requests its own name."""
    index = len(defs) - 1
    while index >= 0:
        fixturedef = defs[index]
        if is_agentrig_fixture(fixturedef):
            return True
        if name not in getattr(fixturedef, "argnames", ()):
            return False
        index -= 1  # ``def tracer(tracer)``: the overridden definition is used too
    return False


def requests_fixture(item: pytest.Item, name: str) -> bool:
    """True if ``item`` uses agentrig's own fixture ``name`` (directly or through others).

    ``requests_fixture(item, "fake_model")`` is False for a test whose ``fake_model`` is a
    project fixture that does not build on agentrig's.
    """
    return name in _agentrig_fixtures(item)


def is_agentrig_test(item: pytest.Item) -> bool:
    """True if ``item`` carries ``@pytest.mark.agentrig`` or uses an agentrig fixture."""
    cached = item.stash.get(_IS_AGENTRIG, None)
    if cached is not None:
        return cached
    # Markers are fixed once an item exists; the marker lookup is the costly half.
    result = bool(_agentrig_fixtures(item)) or item.get_closest_marker("agentrig") is not None
    item.stash[_IS_AGENTRIG] = result
    return result
