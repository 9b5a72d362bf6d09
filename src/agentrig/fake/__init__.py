"""A deterministic, scripted stand-in for an LLM: same input, same output, every run, for free.

Usage::

    from agentrig.fake import FakeModel

    fake_model = FakeModel()
    research = fake_model.agent("research", reply="notes about X")                  # fixed
    draft = fake_model.agent("draft", reply=lambda prompt: f"report on {prompt[:20]}")
    review = fake_model.agent("review", replies=["1. tighten intro", "APPROVED"])   # one per call
    flaky = fake_model.agent("web", error=TimeoutError("search timed out"))         # fails
    slow = fake_model.agent("deep", reply="...", latency=30.0)                      # virtual s

    out = await research.run("query", budget=stage_budget)
    out.text, out.tokens, out.usd            # 'notes about X', 4, Decimal('0.0000075')
    fake_model.calls                         # the call log, in call order

How a call is answered
----------------------
Each call to ``agent.run(prompt)`` is answered by the first of these that applies:

1. **Rules** added with :meth:`FakeAgent.on`, in the order they were added; the first rule
   whose matcher matches the prompt answers (a substring, a compiled regular expression
   searched in the prompt, or a callable ``prompt -> bool``). A rule given ``times=N`` answers
   N calls and is then used up.
2. **The agent's** ``error=``: every call fails with it, or with ``fail_times=N`` only the first
   N calls that reach this step ("fail N times, then succeed").
3. ``replies=[...]``: one reply per call, in order. When they run out, ``reply=`` answers the
   remaining calls if it was given; otherwise ``exhausted=`` decides: ``"raise"`` (default:
   :class:`~agentrig.ScriptExhausted`, because a script shorter than the run is usually a test
   bug), ``"repeat_last"`` or ``"cycle"``.
4. ``reply=``: a fixed text, or a callable ``prompt -> str``.
5. **The default reply** ``"[<agent>] reply to: <first 40 characters of the prompt>"`` — or,
   in strict mode, :class:`~agentrig.UnscriptedCall` listing the agent's rules and the prompt.

The answer is chosen synchronously when the call starts, so concurrent calls to one agent are
answered in the order they were made, whatever order they finish in.

Chat requests and SDK calls
---------------------------
Every call is answered from a :class:`~agentrig.FakeRequest` (``agentrig.chat``): for
``run(prompt)`` one user message; for an SDK request (``agentrig.providers``) the whole
conversation, tools and schema. The request *is* the prompt as a ``str`` (the last user text),
so rules and callables written for ``run`` keep working. A reply may be text, a
:class:`~agentrig.ToolCall` or a list of them, or structured output (a dict or pydantic model);
see ``agentrig.chat`` for how each is checked. SDK requests are routed to agents by
:meth:`FakeModel.route` (``model=`` / ``system=`` of :meth:`FakeModel.agent`). Ambient stage
budgets (:func:`agentrig.budget.current_stage_budget`) apply to SDK calls; ``run`` charges only
the ``budget=`` it is given, as before.

Failures
--------
``error=`` (on an agent or a rule) takes an exception instance (raised as a fresh copy each
call), an exception class (instantiated with a message naming the agent and call), or a
built-in failure: ``"overloaded"`` / ``"server_error"`` / :func:`server_error` raise
:class:`~agentrig.FakeServerError` (529 / 500) after the latency, ``"rate_limit"`` /
:func:`rate_limit` raises
:class:`~agentrig.FakeRateLimitError` at once (a 429 costs no time; ``retry_after`` is on the
error), ``"timeout"`` / :func:`timeout` waits the call's latency (or ``after=`` seconds) in
virtual time and then raises :class:`~agentrig.FakeTimeoutError`. Every other failure also
takes the call's latency before it is raised (a latency function gets 0 output tokens). A
failed call uses no tokens and costs nothing.

Tokens and money
----------------
Token counts are deterministic and need no network or model download (:func:`count_tokens`,
approximately tiktoken-like): the text is split, ASCII-only, into runs of letters, runs of
digits and single other characters, ASCII whitespace being free; a letter run counts
``ceil(len / 8)`` tokens (most English words are one token), a digit run one token per 3
digits (as cl100k splits numbers), every other character one token (punctuation, each
non-ASCII character). ``""`` is 0 tokens. Pass ``tokenizer=`` to use another count.

The cost of a call, exact in :class:`~decimal.Decimal`::

    usd = (input_tokens * price.input_per_1k + output_tokens * price.output_per_1k) / 1000

with the prices of the agent's model from :data:`DEFAULT_PRICES` updated by ``prices=``. A
model with no price is refused when the agent is created (it would silently cost nothing).

Budgets
-------
``run(prompt, budget=stage)`` charges the call's cost and tokens to ``stage`` with the label
``"model.call <agent>"``. With ``check_budget=True`` (default) a call whose exact cost the
budget cannot afford is refused *before* it is made — on a :class:`~agentrig.StageBudget`
atomically: the cost is held (``stage.reserve``) from the check until the charge, so concurrent
calls on one stage can never together spend past its cap — it raises
:class:`~agentrig.BudgetExceeded`, takes no time and spends nothing, so a budget is never
overspent by a fake. If the charge still fails after the call (another task spent the money
in the meantime, or a budget without ``can_afford``), the budget records the spend as refused
(``accepted=False``, never dropped) and the ``BudgetExceeded`` propagates.

Tracing
-------
Every call is one span named ``"chat {model}"`` (through ``tracer=``, else
:func:`agentrig.tracing.default_tracer`, so it lands in the active recording) with the
OpenTelemetry GenAI attributes ``gen_ai.operation.name="chat"``, ``gen_ai.provider.name``
(``"agentrig"``), ``gen_ai.agent.name``,
``gen_ai.request.model``, ``gen_ai.usage.input_tokens``, ``gen_ai.usage.output_tokens``, plus
``agentrig.cost_usd`` (a float), and the text as ``agentrig.prompt`` and ``agentrig.reply``
(attributes, not events, so a changed reply reads as a text drift of that span). A failure is
recorded on the span as an exception with ``error.type``.

Determinism
-----------
Nothing here uses randomness, ``hash()``, ``id()``, set order or the wall clock: the same
script and prompts give the same replies, tokens, costs and (virtual) timings on every run,
hash seed and Python version.

Layout
------
This package is :mod:`agentrig.fake`; every name above is importable from here.
:mod:`.pricing` counts tokens and prices them, :mod:`.failures` holds the built-in failures,
:mod:`.script` the reply types, argument checks, records and rules, :mod:`.model` the
:class:`FakeModel`, :mod:`.agent` the :class:`FakeAgent` and its call path, and :mod:`.drive`
how a call's virtual waits are slept (async) or skipped (sync clients).
"""

from __future__ import annotations

from agentrig.fake.agent import FakeAgent
from agentrig.fake.failures import (
    RateLimit,
    ServerError,
    Timeout,
    overloaded,
    rate_limit,
    server_error,
    timeout,
)
from agentrig.fake.model import FakeModel
from agentrig.fake.pricing import DEFAULT_PRICES, Price, count_tokens
from agentrig.fake.script import DEFAULT_MODEL, PROVIDER_NAME, SPAN_NAME, FakeCall, FakeReply
from agentrig.vocabulary import AGENTRIG_PROMPT, AGENTRIG_REPLY

__all__ = [
    "AGENTRIG_PROMPT",
    "AGENTRIG_REPLY",
    "DEFAULT_MODEL",
    "DEFAULT_PRICES",
    "PROVIDER_NAME",
    "SPAN_NAME",
    "FakeAgent",
    "FakeCall",
    "FakeModel",
    "FakeReply",
    "Price",
    "RateLimit",
    "ServerError",
    "Timeout",
    "count_tokens",
    "overloaded",
    "rate_limit",
    "server_error",
    "timeout",
]
