"""intercept.activate's responder check: the runtime Protocol's answer, without its cost."""

from __future__ import annotations

from typing import Any

import pytest

from agentrig.fake import FakeModel
from agentrig.providers import intercept
from agentrig.providers.intercept import Responder, SyncResponder
from agentrig.providers.responder import FakeModelResponder


class _Duck:
    def handle(self, request: Any) -> None:
        return None

    async def handle_async(self, request: Any) -> None:
        return None


class _NoneMethod(_Duck):
    handle_async = None  # type: ignore[assignment]


class _SyncOnly:
    def handle(self, request: Any) -> None:
        return None


class _Echo(SyncResponder):
    def handle(self, request: Any) -> None:
        return None


CANDIDATES = [
    _Duck(),
    _NoneMethod(),
    _SyncOnly(),
    _Echo(),
    FakeModelResponder(FakeModel()),
    object(),
    None,
    "handle",
    _Duck,  # the class itself has both methods, as isinstance sees it
]


@pytest.mark.parametrize("candidate", CANDIDATES, ids=lambda c: type(c).__name__)
def test_activate_accepts_exactly_what_the_protocol_accepts(candidate: object) -> None:
    if isinstance(candidate, Responder):
        with intercept.activate(candidate) as active:  # type: ignore[arg-type]
            assert active is candidate
    else:
        with (
            pytest.raises(TypeError, match="needs a Responder"),
            intercept.activate(candidate),  # type: ignore[arg-type]
        ):
            pass  # pragma: no cover


def test_the_check_agrees_with_the_protocol_on_both_sides() -> None:
    answers = {type(c).__name__: isinstance(c, Responder) for c in CANDIDATES}
    assert answers["_Duck"] and answers["_Echo"] and answers["FakeModelResponder"]
    assert not answers["_NoneMethod"] and not answers["_SyncOnly"] and not answers["object"]
