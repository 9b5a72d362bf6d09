"""FakeAgent: one scripted agent and its call path (answer, latency, budget, span, log)."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
from collections.abc import Generator
from decimal import Decimal
from typing import TYPE_CHECKING

from agentrig._errors import (
    BudgetExceeded,
    ConfigurationError,
    FakeRateLimitError,
    FakeServerError,
    FakeTimeoutError,
    ScriptExhausted,
    ScriptMismatch,
    StateError,
    UnscriptedCall,
)
from agentrig._secrets import redact_secrets
from agentrig._types import Budget
from agentrig.budget import Reservation, StageBudget
from agentrig.chat import (
    FakeRequest,
    ToolCall,
    canonical_json,
    example_for_schema,
    validate_against_schema,
)
from agentrig.checks import check_seconds
from agentrig.fake.drive import clock, drive_async
from agentrig.fake.failures import (
    ErrorSpec,
    Failure,
    RateLimit,
    ServerError,
    Timeout,
    check_error,
)
from agentrig.fake.pricing import is_variant_of
from agentrig.fake.script import (
    PROVIDER_NAME,
    Answer,
    Exhausted,
    FakeCall,
    FakeReply,
    Latency,
    Matcher,
    Reply,
    ReplyValue,
    Rule,
    State,
    Step,
    Structured,
    as_tool_calls,
    check_latency,
    check_reply,
    is_reply_value,
    preview,
    structured_data,
)
from agentrig.model_span import reply_attributes, request_attributes, unspent_attributes
from agentrig.money import ZERO, format_usd
from agentrig.mutate import hook as _mutation
from agentrig.tracing import (
    ERROR_TYPE,
    default_tracer,
    model_call_span_name,
)

if TYPE_CHECKING:  # the model makes its agents; an agent only names its model
    from agentrig.fake.model import FakeModel


class FakeAgent:
    """A scripted agent: ``await agent.run(prompt, budget=...)`` returns a :class:`FakeReply`.

    Made by :meth:`FakeModel.agent`, never directly. Satisfies :class:`agentrig.Agent`.

    Usage::

        review = fake_model.agent("review", reply="looks fine")
        review.on("draft v1", reply="1. tighten intro").on(re.compile(r"v2$"), reply="APPROVED")
        out = await review.run("draft v1")
        out.text                       # '1. tighten intro'
        review.calls[0].answered_by    # "rule #1 (substring 'draft v1')"
    """

    __slots__ = (
        "_error",
        "_exhausted",
        "_fail_times",
        "_fake",
        "_latency",
        "_lock",
        "_replies",
        "_reply",
        "_route_model",
        "_route_system",
        "_state",
        "model",
        "name",
        "strict",
    )

    _fake: FakeModel
    name: str
    model: str
    strict: bool
    _reply: Reply | None
    _replies: tuple[Reply, ...] | None
    _route_model: str | re.Pattern[str] | None
    _route_system: str | re.Pattern[str] | None
    _exhausted: Exhausted
    _error: Failure | None
    _fail_times: int | None
    _latency: Latency | None
    _lock: threading.RLock
    _state: State

    def __init__(self) -> None:
        raise StateError("FakeAgent is not created directly: use fake_model.agent(name, reply=...)")

    @classmethod
    def _create(
        cls,
        fake: FakeModel,
        *,
        name: str,
        model: str,
        reply: Reply | None,
        replies: tuple[Reply, ...] | None,
        exhausted: Exhausted,
        error: Failure | None,
        fail_times: int | None,
        latency: Latency | None,
        strict: bool,
    ) -> FakeAgent:
        self = object.__new__(cls)
        self._fake = fake
        self.name = name
        self.model = model
        self.strict = strict
        self._reply = reply
        self._replies = replies
        self._exhausted = exhausted
        self._error = error
        self._fail_times = fail_times
        self._latency = latency
        self._route_model = None
        self._route_system = None
        self._state = State()
        # Guards the script state. Reentrant, and never the FakeModel's lock: script callables
        # run under it and may read fake_model.calls or agent.call_count.
        self._lock = threading.RLock()
        return self

    def __repr__(self) -> str:
        return redact_secrets(
            f"<FakeAgent {self.name!r} model={self.model!r} calls={self._state.calls}"
            f" rules={len(self._state.rules)}>"
        )

    # -- scripting --------------------------------------------------------------------------

    def on(
        self,
        match: Matcher,
        *,
        reply: Reply | None = None,
        error: ErrorSpec | None = None,
        latency: Latency | None = None,
        times: int | None = None,
    ) -> FakeAgent:
        """Add a rule: calls whose prompt matches are answered with ``reply`` or ``error``.

        Rules are checked in the order they were added, before everything else the agent was
        given; the first match answers.

        Args:
            match: a substring of the prompt, a compiled ``re.Pattern`` searched in it, or a
                callable ``prompt -> bool``.
            reply: the reply text, or a callable ``prompt -> str``.
            error: a failure instead of a reply (as for :meth:`FakeModel.agent`).
            latency: this rule's latency, overriding the agent's.
            times: answer at most this many calls, then let later steps answer.

        Returns:
            The agent, so rules can be chained.

        Raises:
            ConfigurationError: neither or both of ``reply`` and ``error``, or a bad argument.
        """
        who = f"agent {self.name!r} rule"
        if isinstance(match, str):
            if not match:
                raise ConfigurationError(f"{who}: an empty substring matches every prompt")
        elif not isinstance(match, re.Pattern) and not callable(match):
            raise ConfigurationError(
                f"{who}: `match` must be a str, a compiled re.Pattern or a callable"
                f" prompt -> bool, got {match!r}"
            )
        if (reply is None) == (error is None):
            raise ConfigurationError(f"{who} on {match!r}: give exactly one of reply= or error=")
        if times is not None and (
            isinstance(times, bool) or not isinstance(times, int) or times < 1
        ):
            raise ConfigurationError(f"{who}: `times` must be a positive int, got {times!r}")
        self._state.rules.append(
            Rule(
                matcher=match,
                reply=None if reply is None else check_reply(reply, "reply"),
                error=None if error is None else check_error(error, "error"),
                latency=None if latency is None else check_latency(latency, "latency"),
                remaining=times,
            )
        )
        return self

    # -- reading ----------------------------------------------------------------------------

    @property
    def calls(self) -> tuple[FakeCall, ...]:
        """This agent's finished calls, in call order."""
        return tuple(c for c in self._fake.calls if c.agent == self.name)

    @property
    def call_count(self) -> int:
        """How many calls were started (finished or not)."""
        return self._state.calls

    # -- calling ----------------------------------------------------------------------------

    async def run(self, prompt: str, *, budget: Budget | None = None) -> FakeReply:
        """Answer ``prompt`` from the script, after the call's latency in (virtual) time.

        Args:
            prompt: the prompt.
            budget: a stage budget (``pool.acquire(...)``) to charge the call's cost and
                tokens to, or ``None``.

        Returns:
            The :class:`FakeReply`.

        Raises:
            ScriptExhausted: ``replies=[...]`` ran out (see ``exhausted=``).
            UnscriptedCall: strict mode and nothing in the script answered.
            BudgetExceeded: the budget cannot afford the call (refused before it is made), or
                the charge broke a cap (the spend is recorded all the same).
            FakeRateLimitError, FakeTimeoutError, FakeServerError, or the exception given
                as ``error=``.
            ConfigurationError: a non-str prompt, or a script callable returned a bad value.
            ScriptMismatch: the script answered with a ToolCall (``run`` offers no tools) or
                structured output that does not fit.
        """
        # A script error points at the caller's line; these frames' locals (the raw prompt,
        # with any secret in it) are not printed with ``-l``.
        __tracebackhide__ = True
        if not isinstance(prompt, str):
            raise ConfigurationError(
                f"FakeModel agent {self.name!r}: the prompt must be a str, got"
                f" {type(prompt).__name__} {prompt!r}"
            )
        request = FakeRequest.from_prompt(prompt, model=self.model)
        return await drive_async(self._call(request, budget))

    # -- internals --------------------------------------------------------------------------

    def _call(
        self, request: FakeRequest, budget: Budget | None, *, wire: bool = False
    ) -> Generator[float, None, FakeReply]:
        """One call, as a generator that yields the virtual seconds to wait.

        The async driver (:func:`drive_async`) sleeps them; the sync driver
        (:func:`drive_sync`, for sync SDK clients) does not. Every model call of every kind
        goes through here, so there is one span builder and one call-log entry per call.
        """
        __tracebackhide__ = True  # (see run): its locals hold the prompt and the request
        fake = self._fake
        tracer = fake.tracer if fake.tracer is not None else default_tracer()
        now = clock()
        started = now()
        slot = fake._reserve_slot()
        with self._lock:
            self._state.calls += 1
            n = self._state.calls
        model = request.model
        answer: Answer | None = None
        usd = ZERO
        in_tokens = out_tokens = 0
        source = "?"
        charging = False  # set just before budget.charge: from then on the spend is recorded
        reservation: Reservation | None = None
        error: BaseException | None = None
        prompt = request.prompt
        attributes = request_attributes(
            request,
            agent=self.name,
            provider=request.provider if wire else PROVIDER_NAME,
            wire=wire,
        )
        try:
            with tracer.span(model_call_span_name(model), attributes=attributes) as span:
                try:
                    step = self._choose(request, n)  # synchronous: call order decides
                    step = _mutation.call_step(self.name, n, step, request.tools)  # mutate's switch
                    source = step.source
                    latency_spec = step.latency
                    if latency_spec is None:
                        latency_spec = self._latency
                    if latency_spec is None:
                        latency_spec = fake._default_latency(self.model)
                    latency_spec = _mutation.call_latency(self.name, n, latency_spec)
                    if step.error is not None:
                        raise (yield from self._fail(step.error, latency_spec, n))
                    answer = self._answer(step, request, n)
                    in_tokens = request.count_tokens(fake.count_tokens)
                    out_tokens = answer.output_tokens(fake.count_tokens)
                    usd = fake.price(model).cost(in_tokens, out_tokens)
                    if budget is not None and fake.check_budget:
                        reservation = self._precheck(budget, usd, in_tokens + out_tokens, n, prompt)
                    seconds = self._seconds(latency_spec, out_tokens)
                    span.set_attributes(
                        reply_attributes(
                            text=answer.text,
                            tool_calls=answer.tool_calls,
                            finish_reason=answer.finish_reason,
                            input_tokens=in_tokens,
                            output_tokens=out_tokens,
                            usd=usd,
                            wire=wire,
                        )
                    )
                    if seconds:
                        yield seconds
                    if budget is not None:
                        charging = True
                        label = f"model.call {self.name}"
                        if reservation is not None:
                            reservation.commit(label=label)
                        else:
                            budget.charge(usd, tokens=in_tokens + out_tokens, label=label)
                except BaseException as exc:
                    if reservation is not None and not charging:
                        reservation.cancel()
                    if not charging:  # nothing was spent: say so on the span
                        span.set_attributes(unspent_attributes())
                    span.set_attribute(ERROR_TYPE, type(exc).__qualname__)
                    raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            # One log entry per call, failed or not; a failed call logs its text, tokens and
            # cost only if it was charged (the spend happened).
            spent = error is None or charging
            elapsed = now() - started
            fake._fill_slot(
                slot,
                FakeCall(
                    agent=self.name,
                    model=model,
                    call=n,
                    prompt=prompt,
                    text=answer.text if spent and answer is not None else None,
                    error=error,
                    input_tokens=in_tokens if spent else 0,
                    output_tokens=out_tokens if spent else 0,
                    usd=usd if spent else ZERO,
                    latency=elapsed,
                    t=started,
                    answered_by=source,
                    request=request,
                    tool_calls=answer.tool_calls if spent and answer is not None else (),
                ),
            )
        assert answer is not None
        return FakeReply(
            text=answer.text,
            tokens=in_tokens + out_tokens,
            input_tokens=in_tokens,
            output_tokens=out_tokens,
            usd=usd,
            model=model,
            agent=self.name,
            latency=elapsed,
            call=n,
            tool_calls=answer.tool_calls,
            structured=answer.structured,
            finish_reason=answer.finish_reason,
        )

    def _choose(self, request: FakeRequest, n: int) -> Step:
        """Pick the script step that answers call ``n`` (see the module notes for the order)."""
        __tracebackhide__ = True  # (see run)
        prompt = request.prompt
        with self._lock:
            state = self._state
            for i, rule in enumerate(state.rules, start=1):
                if rule.remaining == 0 or not rule.matches(request):
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                source = f"rule #{i} ({rule.describe()})"
                if rule.error is not None:
                    return Step(source, error=rule.error, latency=rule.latency)
                assert rule.reply is not None
                return Step(
                    source, text=self._value(rule.reply, request, source), latency=rule.latency
                )
            if self._error is not None and (
                self._fail_times is None or state.failures < self._fail_times
            ):
                state.failures += 1
                return Step("error=", error=self._error)
            replies = self._replies
            if replies is not None:
                i = state.reply_index
                if i < len(replies):
                    state.reply_index += 1
                    source = f"replies[{i}]"
                    return Step(source, text=self._value(replies[i], request, source))
                if self._reply is None:
                    if self._exhausted == "repeat_last":
                        source = f"replies[{len(replies) - 1}] (repeat_last)"
                        return Step(source, text=self._value(replies[-1], request, source))
                    if self._exhausted == "cycle":
                        j = (i - len(replies)) % len(replies)
                        state.reply_index += 1
                        source = f"replies[{j}] (cycle)"
                        return Step(source, text=self._value(replies[j], request, source))
                    raise ScriptExhausted(
                        f"FakeModel agent {self.name!r} has no reply left for call #{n}"
                        f" (prompt {preview(prompt)!r}): its {len(replies)} replies=[...] were"
                        " used by earlier calls; give more replies=[...] or a rule with"
                        " on(...), or pass exhausted='repeat_last' or 'cycle'"
                    )
            if self._reply is not None:
                return Step("reply=", text=self._value(self._reply, request, "reply="))
            if self.strict:
                raise UnscriptedCall(self._unscripted_message(request, n))
            if request.schema is not None:
                return Step("default", text=Structured(example_for_schema(request.schema)))
            return Step("default", text=f"[{self.name}] reply to: {preview(prompt)}")

    def _value(self, reply: Reply, request: FakeRequest, source: str) -> ReplyValue:
        """The reply value a script step gives (a callable is called with the request)."""
        if not callable(reply) or isinstance(reply, (ToolCall, type)):
            return reply
        value = reply(request)
        if callable(value) or not is_reply_value(value):
            raise ConfigurationError(
                f"FakeModel agent {self.name!r}: the {source} callable must return a str (or a"
                " ToolCall, a list of ToolCalls, a dict or a pydantic model), returned"
                f" {type(value).__name__} {value!r}"
            )
        return value

    def _answer(self, step: Step, request: FakeRequest, n: int) -> Answer:
        """Turn a reply value into text / tool calls / structured output, checked."""
        value = step.text
        if isinstance(value, str) and request.schema is None:
            return Answer(text=value)  # the common case (no message to prepare)
        where = f"FakeModel agent {self.name!r} call #{n} ({step.source})"
        if isinstance(value, str):
            if request.schema is not None:
                try:
                    parsed = json.loads(value)
                except ValueError:
                    raise ScriptMismatch(
                        f"{where} replied with text {preview(value)!r}, but the app asked for"
                        f" structured output ({request.schema_name or 'a JSON schema'}); reply"
                        " with a dict or a pydantic model (or JSON text) that fits the schema"
                    ) from None
                validate_against_schema(parsed, request.schema, what=f"{where}: the reply")
                return Answer(text=value, structured=parsed)
            return Answer(text=value)
        calls = as_tool_calls(value)
        if calls is not None:
            return Answer(text="", tool_calls=self._check_calls(calls, request, where))
        if isinstance(value, Structured):
            value = value.value
        data = structured_data(value)
        if request.schema is not None:
            validate_against_schema(data, request.schema, what=f"{where}: the structured reply")
        return Answer(text=canonical_json(data), structured=data)

    def _check_calls(
        self, calls: tuple[ToolCall, ...], request: FakeRequest, where: str
    ) -> tuple[ToolCall, ...]:
        if request.api == "run":
            raise ScriptMismatch(
                f"{where} replied with a ToolCall, but agent.run(prompt) offers no tools; tool"
                " calls answer SDK chat requests that offer tools (see docs/providers.md)"
            )
        out = []
        for index, call in enumerate(calls):
            tool = request.tool(call.name)
            if tool is None:
                offered = ", ".join(request.tool_names) or "none"
                raise ScriptMismatch(
                    f"{where} calls tool {call.name!r}, which the app did not offer (offered:"
                    f" {offered}); script a ToolCall for one of the offered tools"
                )
            if tool.parameters:
                validate_against_schema(
                    dict(call.arguments),
                    tool.parameters,
                    what=f"{where}: the arguments of ToolCall({call.name!r})",
                )
            if call.id is None:
                call = ToolCall(
                    call.name, call.arguments, id=self._tool_call_id(call, request, index)
                )
            out.append(call)
        return tuple(out)

    def _tool_call_id(self, call: ToolCall, request: FakeRequest, index: int) -> str:
        """A tool call id from content, not from a counter.

        Concurrent requests can reach the fake in an order decided by threads (openai's async
        client computes its platform headers in a worker thread on its first requests), so a
        counter would make ids, and the snapshots quoting them, differ between runs. Unique
        within a conversation: the agent, the conversation's length and last user text, the
        call and its place in the reply go into the hash.
        """
        key = canonical_json(
            [
                self.name,
                len(request.messages),
                request.prompt,
                call.name,
                dict(call.arguments),
                index,
            ]
        )
        return "call_" + hashlib.sha256(key.encode()).hexdigest()[:16]

    def _unscripted_message(self, prompt: str, n: int) -> str:
        lines = [
            f"FakeModel agent {self.name!r} (strict) has no script for call #{n} with prompt"
            f" {preview(prompt, 80)!r}."
        ]
        rules = self._state.rules
        if rules:
            lines.append(f"None of its {len(rules)} rule(s) matched:")
            for i, rule in enumerate(rules, start=1):
                used = " (used up)" if rule.remaining == 0 else ""
                lines.append(f"  rule #{i}: {rule.describe()}{used}")
        else:
            lines.append("It has no rules.")
        if isinstance(prompt, FakeRequest) and prompt.api != "run":
            lines.append("The request: " + prompt.describe())
        lines.append(
            "Add a rule with agent.on('<part of the prompt>', reply=...), give the agent"
            " reply=... or replies=[...], or create the FakeModel with strict=False to get"
            " a default reply."
        )
        return "\n".join(lines)

    def _fail(
        self, spec: Failure, latency: Latency, n: int
    ) -> Generator[float, None, BaseException]:
        """Wait as the failure requires (by yielding seconds) and return the exception."""
        where = f"FakeModel agent {self.name!r} (call #{n})"
        if isinstance(spec, RateLimit):
            return FakeRateLimitError(
                f"{where} was rate limited (injected by the script); retry after"
                f" {spec.retry_after:g}s",
                retry_after=spec.retry_after,
            )
        if isinstance(spec, Timeout):
            seconds = spec.after if spec.after is not None else self._seconds(latency, 0)
            if seconds:
                yield seconds
            return FakeTimeoutError(
                f"{where} timed out after {seconds:g}s (injected by the script)"
            )
        seconds = self._seconds(latency, 0)
        if seconds:
            yield seconds
        if isinstance(spec, ServerError):
            what = "is overloaded" if spec.status == 529 else "had a server error"
            return FakeServerError(
                f"{where} {what} (HTTP {spec.status}, injected by the script)",
                status=spec.status,
                retry_after=spec.retry_after,
            )
        if isinstance(spec, BaseException):
            try:
                return copy.copy(spec)  # a fresh object: tracebacks must not pile up
            except Exception:
                return spec
        try:
            return spec(f"{where}: injected {spec.__name__}")
        except Exception as exc:
            raise ConfigurationError(
                f"{where}: cannot create the injected {spec.__qualname__} with a message"
                f" ({exc}); pass an exception instance as error= instead"
            ) from exc

    def _seconds(self, latency: Latency, output_tokens: int) -> float:
        if not callable(latency):
            return float(latency)
        value = latency(output_tokens)
        try:
            return check_seconds(value, "latency")
        except ConfigurationError:
            raise ConfigurationError(
                f"FakeModel agent {self.name!r}: the latency callable returned {value!r} for"
                f" {output_tokens} output tokens; it must return finite, non-negative seconds"
            ) from None

    def _precheck(
        self, budget: Budget, usd: Decimal, tokens: int, n: int, prompt: str
    ) -> Reservation | None:
        """Refuse a call the budget cannot afford; hold its cost on a StageBudget (atomic)."""
        reservation: Reservation | None = None
        if isinstance(budget, StageBudget):
            reservation = budget.reserve(usd, tokens=tokens)
            if reservation is not None:
                return reservation
        else:
            can_afford = getattr(budget, "can_afford", None)
            if not callable(can_afford) or can_afford(usd, tokens=tokens):
                return None
        left = getattr(budget, "remaining_usd", None)
        detail = f" (it has {format_usd(left)} left)" if isinstance(left, Decimal) else ""
        name = getattr(budget, "name", None)
        which = f"budget {name!r}" if isinstance(name, str) else "the budget"
        raise BudgetExceeded(
            f"FakeModel agent {self.name!r} call #{n} (prompt {preview(prompt)!r}) would cost"
            f" {format_usd(usd)} for {tokens} tokens, more than {which} can afford{detail};"
            " the call was not made and nothing was spent. Acquire the stage with a larger"
            " max_usd= (or max_tokens=), give the pool more, or check_budget=False on the"
            " FakeModel to make the call and let the charge be refused"
        )

    def _routes(self, request: FakeRequest) -> bool:
        """Whether this agent claims an SDK request (its ``model=``/``system=`` match)."""
        if self._route_model is None and self._route_system is None:
            return False
        m = self._route_model
        if m is not None:
            if isinstance(m, re.Pattern):
                if m.search(request.model) is None:
                    return False
            elif not is_variant_of(request.model, m):
                return False
        s = self._route_system
        if s is not None:
            system = request.system or ""
            if isinstance(s, re.Pattern):
                return s.search(system) is not None
            return s in system
        return True

    def describe_route(self) -> str:
        """How this agent claims SDK calls, for messages."""
        parts = []
        if isinstance(self._route_model, re.Pattern):
            parts.append(f"model regex {self._route_model.pattern!r}")
        elif self._route_model is not None:
            parts.append(f"model {self._route_model!r}")
        if isinstance(self._route_system, re.Pattern):
            parts.append(f"system regex {self._route_system.pattern!r}")
        elif self._route_system is not None:
            parts.append(f"system containing {self._route_system!r}")
        return " and ".join(parts) or "no model=/system= (answers agent.run only)"


# -- drivers, answers and attributes ------------------------------------------------------
