"""The network guard: inside agentrig tests, no silent paid call to an LLM provider.

It sits last in the seam's order (:data:`~agentrig.providers.intercept.PRIORITY_GUARD`): a
request to a known provider host that neither ``fake_model`` nor ``llm_cassette`` answered
is refused with :class:`~agentrig.NetworkBlocked` naming the host, and reported to the seam
so the test fails even if the app swallows the SDK's connection error. Every other host (a
local server, the app's own APIs) is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from agentrig._errors import NetworkBlocked
from agentrig.providers.intercept import (
    InterceptedRequest,
    InterceptedResponse,
    SyncResponder,
    report_problem,
)
from agentrig.providers.responder import KNOWN_PROVIDER_HOSTS

__all__ = ["NetworkGuard"]


class NetworkGuard(SyncResponder):
    """Refuses requests to ``hosts`` (and their subdomains).

    Args:
        hosts: provider host names; default :data:`KNOWN_PROVIDER_HOSTS` plus ``extra``.
        extra: more hosts (the ``agentrig_provider_hosts`` ini key).
        where: what to name in the message (the test's node id).
    """

    def __init__(self, *, extra: Iterable[str] = (), where: str = "this test") -> None:
        self.hosts = tuple(dict.fromkeys([*KNOWN_PROVIDER_HOSTS, *(h.lower() for h in extra)]))
        self.where = where

    def __repr__(self) -> str:
        return f"<NetworkGuard hosts={list(self.hosts)}>"

    def blocks(self, host: str) -> bool:
        """Whether a request to ``host`` is refused."""
        host = host.lower()
        return any(host == h or host.endswith("." + h) for h in self.hosts)

    def handle(self, request: InterceptedRequest) -> InterceptedResponse | None:
        if not self.blocks(request.host):
            return None
        problem = NetworkBlocked(
            f"agentrig blocked a real call to {request.host} ({request.method} {request.path})"
            f" in {self.where}: nothing in the test fakes or replays it, and a real call would"
            " cost money and make the test depend on the network. Request the fake_model"
            " fixture to answer it (fake_model.agent(name, model=..., reply=...)), or"
            " llm_cassette to replay a recorded answer"
        )
        report_problem(problem)
        raise problem
