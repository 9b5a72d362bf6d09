"""FakeModel: the scripted LLM that makes agents, routes SDK requests and logs every call."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType

from agentrig._errors import (
    ConfigurationError,
    UnscriptedCall,
)
from agentrig._secrets import redact_secrets
from agentrig._types import Budget, Money
from agentrig.budget import current_stage_budget
from agentrig.chat import (
    FakeRequest,
)
from agentrig.fake.agent import FakeAgent
from agentrig.fake.drive import drive_async, drive_sync
from agentrig.fake.failures import ErrorSpec, check_error
from agentrig.fake.pricing import DEFAULT_PRICES, VARIANT_RE, Price, count_tokens, to_price
from agentrig.fake.script import (
    DEFAULT_MODEL,
    EXHAUSTED,
    Exhausted,
    FakeCall,
    FakeReply,
    Latency,
    Reply,
    check_latency,
    check_reply,
    is_reply_value,
)
from agentrig.money import CONTEXT, ZERO
from agentrig.tracing import (
    Tracer,
)


class FakeModel:
    """A scripted, deterministic LLM that makes agents (:meth:`agent`) and logs their calls.

    Args:
        model: the model name agents use unless given ``model=``.
        strict: when True, a call no script step answers raises
            :class:`~agentrig.UnscriptedCall` instead of getting the default reply.
        prices: model name -> :class:`Price` (or an ``(input_per_1k, output_per_1k)`` pair),
            merged over :data:`DEFAULT_PRICES`.
        latency: the default latency of every call, in virtual seconds, or a function of the
            reply's output tokens, or a mapping from model name to either (models not in it
            take 0).
        tracer: the tracer for the ``"chat {model}"`` spans; default
            :func:`~agentrig.tracing.default_tracer` (looked up at each call).
        tokenizer: a function ``text -> int`` replacing :func:`count_tokens`.
        check_budget: refuse a call the ``budget=`` cannot afford before making it (see the
            module notes); False always makes the call and lets the charge decide.

    Raises:
        ConfigurationError: an invalid argument (the message names it).

    Usage::

        fake_model = FakeModel(prices={"big": (0.01, 0.03)}, latency=0.5, strict=True)
        review = fake_model.agent("review", model="big", replies=["fix intro", "APPROVED"])
        out = agentrig.run(review.run("Review: ..."))
        fake_model.calls[0].usd
    """

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        strict: bool = False,
        prices: Mapping[str, Price | tuple[Money, Money] | Money] | None = None,
        latency: Latency | Mapping[str, Latency] = 0.0,
        tracer: Tracer | None = None,
        tokenizer: Callable[[str], int] | None = None,
        check_budget: bool = True,
    ) -> None:
        if not isinstance(model, str) or not model:
            raise ConfigurationError(f"FakeModel `model` must be a non-empty str, got {model!r}")
        if not isinstance(strict, bool):
            raise ConfigurationError(f"FakeModel `strict` must be True or False, got {strict!r}")
        if not isinstance(check_budget, bool):
            raise ConfigurationError(
                f"FakeModel `check_budget` must be True or False, got {check_budget!r}"
            )
        if tracer is not None and not isinstance(tracer, Tracer):
            raise ConfigurationError(f"FakeModel `tracer` must be a Tracer or None, got {tracer!r}")
        if tokenizer is not None and not callable(tokenizer):
            raise ConfigurationError(
                f"FakeModel `tokenizer` must be a callable text -> int, got {tokenizer!r}"
            )
        table = dict(DEFAULT_PRICES)
        if prices is not None:
            if not isinstance(prices, Mapping):
                raise ConfigurationError(
                    f"FakeModel `prices` must be a mapping of model name to Price, got {prices!r}"
                )
            for name, value in prices.items():
                if not isinstance(name, str) or not name:
                    raise ConfigurationError(
                        f"FakeModel `prices` keys must be model names (non-empty str), got {name!r}"
                    )
                table[name] = to_price(name, value)
        self.model = model
        self.strict = strict
        self.check_budget = check_budget
        self.tracer = tracer
        self._prices: Mapping[str, Price] = MappingProxyType(table)
        self._latency: Latency | dict[str, Latency]
        if isinstance(latency, Mapping):
            self._latency = {
                str(k): check_latency(v, f"latency[{k!r}]") for k, v in latency.items()
            }
        else:
            self._latency = check_latency(latency, "latency")
        self._tokenizer: Callable[[str], int] = tokenizer or count_tokens
        self._agents: dict[str, FakeAgent] = {}
        # The call log: one slot per call, reserved when the call starts (so the log is in
        # call order, not completion order), filled when it ends.
        self._log: list[FakeCall | None] = []
        self._lock = threading.RLock()
        self._check_price(model, "model")

    def __repr__(self) -> str:
        return redact_secrets(
            f"<FakeModel model={self.model!r} agents={list(self._agents)} calls={len(self.calls)}"
            f" usd={self.total_usd} strict={self.strict}>"
        )

    # -- configuration ----------------------------------------------------------------------

    def _price_key(self, model: str) -> str | None:
        """The price-table key for ``model``: itself, or the name it is a dated variant of
        (``gpt-4o-mini-2024-07-18`` is priced as ``gpt-4o-mini``)."""
        if model in self._prices:
            return model
        base = VARIANT_RE.sub("", model)
        return base if base in self._prices else None

    def _check_price(self, model: str, param: str) -> None:
        if self._price_key(model) is None:
            known = ", ".join(sorted(self._prices))
            raise ConfigurationError(
                f"FakeModel has no price for {param} {model!r} (known: {known}); pass"
                f" prices={{{model!r}: (input_usd_per_1k, output_usd_per_1k)}} to FakeModel,"
                f" or prices={{{model!r}: 0}} to make it free"
            )

    @property
    def prices(self) -> Mapping[str, Price]:
        """The price table in use (defaults updated by ``prices=``), read-only."""
        return self._prices

    def price(self, model: str) -> Price:
        """The price of ``model`` (raises ConfigurationError naming the known models)."""
        price = self._prices.get(model)
        if price is not None:  # the common case: the model as named in the table
            return price
        self._check_price(model, "model")
        key = self._price_key(model)
        assert key is not None
        return self._prices[key]

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` under this model's tokenizer."""
        n = self._tokenizer(text)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ConfigurationError(
                f"FakeModel tokenizer must return a non-negative int, returned {n!r}"
            )
        return n

    def agent(
        self,
        name: str,
        *,
        reply: Reply | None = None,
        replies: Sequence[Reply] | None = None,
        exhausted: Exhausted = "raise",
        error: ErrorSpec | None = None,
        fail_times: int | None = None,
        latency: Latency | None = None,
        model: str | re.Pattern[str] | None = None,
        system: str | re.Pattern[str] | None = None,
        strict: bool | None = None,
    ) -> FakeAgent:
        """Make a scripted agent (see the module notes for the order script steps answer in).

        Args:
            name: the agent's name, unique within this FakeModel (``gen_ai.agent.name``).
            reply: a fixed reply (text, :class:`~agentrig.ToolCall` or a list of them, a dict
                or pydantic model for structured output), or a callable ``request -> reply``
                (the :class:`~agentrig.FakeRequest` is also the prompt as a ``str``).
            replies: replies (or callables) used one per call, in order.
            exhausted: what happens once ``replies`` ran out and no ``reply=`` is given:
                ``"raise"`` (:class:`~agentrig.ScriptExhausted`), ``"repeat_last"``, ``"cycle"``.
            error: a failure for every call (or the first ``fail_times`` calls): an exception
                instance or class, ``"rate_limit"``, ``"timeout"``, :func:`rate_limit`,
                :func:`timeout`.
            fail_times: with ``error``, fail this many calls, then answer from the script.
            latency: virtual seconds per call, or a function of output tokens; default the
                FakeModel's latency for the agent's model.
            model: the model name (must have a price); default the FakeModel's ``model``.
                Given explicitly, the agent also answers SDK calls for that model (the exact
                name, or a dated variant ``<model>-2025-...``; a compiled ``re.Pattern`` is
                searched in the requested model).
            system: answer SDK calls whose system prompt contains this substring (or matches
                this ``re.Pattern``); with ``model=`` too, both must match.
            strict: override the FakeModel's ``strict`` for this agent.

        Returns:
            The :class:`FakeAgent`.

        Raises:
            ConfigurationError: a duplicate name or an invalid argument.
        """
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"agent `name` must be a non-empty str, got {name!r}")
        if name in self._agents:
            raise ConfigurationError(
                f"FakeModel already has an agent named {name!r}; agent names are unique (they"
                " label spans and the call log). Reuse fake_model.agents[name], or pick"
                " another name"
            )
        who = f"agent {name!r}"
        agent_model = self.model if model is None or isinstance(model, re.Pattern) else model
        if not isinstance(agent_model, str) or not agent_model:
            raise ConfigurationError(
                f"{who}: `model` must be a non-empty str or a re.Pattern, got {model!r}"
            )
        self._check_price(agent_model, f"{who}'s model")
        if system is not None and not (
            isinstance(system, re.Pattern) or (isinstance(system, str) and system)
        ):
            raise ConfigurationError(
                f"{who}: `system` must be a non-empty str or a re.Pattern, got {system!r}"
            )
        if reply is not None:
            reply = check_reply(reply, "reply")
        reply_list: tuple[Reply, ...] | None = None
        if replies is not None:
            if isinstance(replies, str) or not isinstance(replies, Sequence):
                raise ConfigurationError(
                    f"{who}: `replies` must be a sequence of replies (one per call), got"
                    f" {replies!r}; for one fixed reply use reply="
                )
            for i, item in enumerate(replies):
                if not (is_reply_value(item) or callable(item)):
                    raise ConfigurationError(
                        f"{who}: replies[{i}] must be a str, a ToolCall (or a list of them), a"
                        " dict, a pydantic model or a callable request -> reply, got"
                        f" {type(item).__name__} {item!r}"
                    )
                check_reply(item, f"replies[{i}]")
            reply_list = tuple(replies)
        if exhausted not in EXHAUSTED:
            raise ConfigurationError(
                f"{who}: `exhausted` must be one of {', '.join(map(repr, EXHAUSTED))},"
                f" got {exhausted!r}"
            )
        if exhausted != "raise" and reply_list is None:
            raise ConfigurationError(f"{who}: `exhausted` applies to replies=[...]; give replies")
        if exhausted != "raise" and reply is not None:
            raise ConfigurationError(
                f"{who}: give either reply= (answers once replies=[...] ran out) or"
                f" exhausted={exhausted!r}, not both"
            )
        if exhausted != "raise" and reply_list == ():
            raise ConfigurationError(f"{who}: exhausted={exhausted!r} needs at least one reply")
        error_spec = None if error is None else check_error(error, "error")
        if fail_times is not None:
            if isinstance(fail_times, bool) or not isinstance(fail_times, int) or fail_times < 1:
                raise ConfigurationError(
                    f"{who}: `fail_times` must be a positive int, got {fail_times!r}"
                )
            if error_spec is None:
                raise ConfigurationError(
                    f"{who}: `fail_times` needs error= (what the failing calls raise)"
                )
        agent_latency = None if latency is None else check_latency(latency, "latency")
        if strict is not None and not isinstance(strict, bool):
            raise ConfigurationError(f"{who}: `strict` must be True, False or None, got {strict!r}")
        made = FakeAgent._create(
            self,
            name=name,
            model=agent_model,
            reply=reply,
            replies=reply_list,
            exhausted=exhausted,
            error=error_spec,
            fail_times=fail_times,
            latency=agent_latency,
            strict=self.strict if strict is None else strict,
        )
        made._route_model = model
        made._route_system = system
        self._agents[name] = made
        return made

    # -- SDK calls --------------------------------------------------------------------------

    def route(self, request: FakeRequest) -> FakeAgent:
        """The agent that answers an SDK request (see the routing notes in the module doc).

        The first agent, in creation order, whose ``model=``/``system=`` match; else the
        default agent named after the requested model (created on first use, with the
        default reply), or, in strict mode, :class:`~agentrig.UnscriptedCall`.
        """
        for made in self._agents.values():
            if made._routes(request):
                return made
        existing = self._agents.get(request.model)
        if existing is not None:
            return existing
        if self.strict:
            lines = [
                "FakeModel (strict) has no agent for this request:",
                request.describe(),
                "Agents and what they answer:",
            ]
            lines += [f"  {a.name!r}: {a.describe_route()}" for a in self._agents.values()]
            if not self._agents:
                lines.append("  (none)")
            lines.append(
                f"Add fake_model.agent('<name>', model={request.model!r}, reply=...) or"
                " system='<part of the system prompt>', or use strict=False for a default reply."
            )
            raise UnscriptedCall("\n".join(lines))
        self._check_price(request.model, "the requested model")
        with self._lock:
            found = self._agents.get(request.model)
            if found is None:
                found = self.agent(request.model, model=request.model)
                found._route_model = None  # a default agent: it never claims other requests
        return found

    async def respond(self, request: FakeRequest, *, budget: Budget | None = None) -> FakeReply:
        """Answer an SDK request: route it, charge ``budget`` (default the ambient stage).

        The ambient stage is :func:`agentrig.budget.current_stage_budget`: the
        ``pool.acquire(...)`` block the calling task is in.
        """
        made = self.route(request)
        stage = budget if budget is not None else current_stage_budget()
        return await drive_async(made._call(request, stage, wire=True))

    def respond_sync(self, request: FakeRequest, *, budget: Budget | None = None) -> FakeReply:
        """:meth:`respond` for sync clients: the same answer, taking no (virtual) time."""
        made = self.route(request)
        stage = budget if budget is not None else current_stage_budget()
        return drive_sync(made._call(request, stage, wire=True))

    # -- reading ----------------------------------------------------------------------------

    @property
    def agents(self) -> Mapping[str, FakeAgent]:
        """The agents made so far, by name, in creation order (read-only)."""
        return MappingProxyType(self._agents)

    @property
    def calls(self) -> tuple[FakeCall, ...]:
        """Finished calls of every agent, in the order the calls *started*."""
        with self._lock:
            return tuple(c for c in self._log if c is not None)

    @property
    def total_usd(self) -> Decimal:
        """What every finished call cost together, exact."""
        total = ZERO
        for c in self.calls:
            total = CONTEXT.add(total, c.usd)
        return total

    @property
    def total_tokens(self) -> int:
        """Tokens of every finished call together."""
        return sum(c.tokens for c in self.calls)

    # -- internals --------------------------------------------------------------------------

    def _default_latency(self, model: str) -> Latency:
        if isinstance(self._latency, dict):
            return self._latency.get(model, 0.0)
        return self._latency

    def _reserve_slot(self) -> int:
        with self._lock:
            self._log.append(None)
            return len(self._log) - 1

    def _fill_slot(self, slot: int, record: FakeCall) -> None:
        with self._lock:
            self._log[slot] = record
