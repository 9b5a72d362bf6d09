"""Every exception agentrig raises.

Each error says what happened (with the offending value and the object's name), the rule it
broke, and what to do. Each subclass also inherits the builtin a caller would catch anyway, so
``except TimeoutError`` still catches a :class:`DeadlineExceeded`.

The tree::

    AgentRigError
    ├── ConfigurationError (ValueError)      bad argument, ini value, marker or rule
    │   └── ArgumentTypeError (TypeError)    an argument of the wrong type (also a ValueError,
    │                                        so ``except ConfigurationError`` still catches it)
    ├── StateError (RuntimeError)            a call the object's state does not allow: a closed
    │                                        stage, a context manager entered twice, an
    │                                        internal type constructed directly
    ├── BudgetError
    │   ├── BudgetExceeded                   a charge would break a stage or pool cap
    │   └── BudgetExhausted                  the pool has nothing left to hand out
    ├── DeadlineExceeded (TimeoutError)      a ``Deadline`` expired around a block
    ├── StallError (RuntimeError)            the virtual loop would wait forever
    ├── FakeModelError                       a FakeModel script problem
    │   ├── ScriptExhausted                  ``replies=[...]`` ran out
    │   ├── UnscriptedCall                   strict mode, no rule matched the prompt
    │   ├── ScriptMismatch (ValueError)      a reply does not fit the request's tools/schema
    │   └── UnsupportedEndpoint              an SDK endpoint the fake does not serve
    ├── FakeRateLimitError                   injected rate limit (429-like)
    ├── FakeTimeoutError (TimeoutError)      injected model timeout
    ├── FakeServerError                      injected 500 / 529 (overloaded)
    ├── NetworkBlocked (ConnectionError)     a real call to a known LLM provider host
    ├── AllAgentsFailed                      every agent of a broadcast failed
    ├── DecisionLogError                     a decision log cannot be written or read
    ├── RecordingError (ValueError)          a recorded value cannot be normalized
    ├── SnapshotError                        a snapshot file is unusable
    │   └── SnapshotFormatError              wrong or unknown format version
    └── CassetteError (ValueError)           a cassette file is unusable
        ├── CassetteFormatError              wrong or unknown cassette format version
        └── CassetteMiss (LookupError)       replay found no recorded answer to a call

    AgentrigWarning (UserWarning)            a test cannot get what agentrig promises (e.g. a
                                             virtual clock) and runs anyway; says why and the fix
"""

from __future__ import annotations

from typing import Final

from agentrig._secrets import MEMORY_ADDRESS_RE, redact_secrets

__all__ = [
    "AgentRigError",
    "AgentrigWarning",
    "AllAgentsFailed",
    "ArgumentTypeError",
    "BudgetError",
    "BudgetExceeded",
    "BudgetExhausted",
    "CassetteError",
    "CassetteFormatError",
    "CassetteMiss",
    "ConfigurationError",
    "DeadlineExceeded",
    "DecisionLogError",
    "FakeModelError",
    "FakeRateLimitError",
    "FakeServerError",
    "FakeTimeoutError",
    "NetworkBlocked",
    "RecordingError",
    "ScriptExhausted",
    "ScriptMismatch",
    "SnapshotError",
    "SnapshotFormatError",
    "StallError",
    "StateError",
    "UnscriptedCall",
    "UnsupportedEndpoint",
]


#: Longest message an error keeps: the offending value is shown, not a 10 MB repr of it.
_MAX_MESSAGE = 4000
_KEEP_TAIL = 1000


def clean_message(message: str) -> str:
    """``message`` without secrets or memory addresses, cut to a readable length.

    An error may quote a prompt or a label that holds an API key: it is redacted as in
    snapshots (the message ends up in CI logs). A default ``repr`` such as ``<Doc object at
    0x7f3a...>`` differs on every run (and means nothing to a reader); a message quoting a huge
    value would flood a CI log. The start (what happened) and the end (what to do) of a long
    message are kept.
    """
    message = redact_secrets(message)  # first: a cut must not split a secret
    if " at 0x" in message:
        message = MEMORY_ADDRESS_RE.sub("", message)
    if len(message) > _MAX_MESSAGE:
        cut = len(message) - _MAX_MESSAGE
        head = message[: _MAX_MESSAGE - _KEEP_TAIL]
        message = f"{head} [... {cut} characters cut ...] {message[-_KEEP_TAIL:]}"
    return message


class AgentRigError(Exception):
    """Root of every error agentrig raises.

    The message (the first argument) is passed through :func:`clean_message`: never a secret,
    never a memory address, never an unbounded quote of the offending value.
    """

    def __init__(self, *args: object) -> None:
        if args and isinstance(args[0], str):
            args = (clean_message(args[0]), *args[1:])
        super().__init__(*args)


class ConfigurationError(AgentRigError, ValueError):
    """A parameter, ini value, marker argument or rule is invalid."""


class StateError(AgentRigError, RuntimeError):
    """A call the object's current state does not allow (as trio's "Each CancelScope may only
    be used for a single 'with' block"): a closed stage charged, a ``with`` object entered a
    second time, an internal type constructed directly. The message says what to call instead.
    """


class ArgumentTypeError(ConfigurationError, TypeError):
    """An argument of the wrong type (a bool where seconds go, a list where dollars go).

    A ``TypeError`` as the builtins would raise, and still a :class:`ConfigurationError`.
    """


class BudgetError(AgentRigError):
    """Base of the budget errors."""


class BudgetExceeded(BudgetError):
    """A charge would take a stage budget or pool past its cap.

    The spend that caused it is still in the ledger: money that was spent is never dropped.
    """


class BudgetExhausted(BudgetError):
    """The pool has nothing left to hand out (and waiting was not asked for, or timed out)."""


class DeadlineExceeded(AgentRigError, TimeoutError):
    """A ``Deadline`` expired while a block was running under it."""


class StallError(AgentRigError, RuntimeError):
    """The virtual-time loop has nothing scheduled, nothing ready and no thread work pending."""


class FakeModelError(AgentRigError):
    """A FakeModel script cannot answer a call."""


class ScriptExhausted(FakeModelError):
    """A ``replies=[...]`` sequence ran out."""


class UnscriptedCall(FakeModelError):
    """In strict mode, a prompt matched none of the agent's rules."""


class ScriptMismatch(FakeModelError, ValueError):
    """A scripted reply does not fit the request: a tool the app did not offer, tool arguments
    or structured output that do not match the app's JSON schema."""


class UnsupportedEndpoint(FakeModelError):
    """An SDK request to an endpoint FakeModel does not serve (embeddings, images, ...)."""


class FakeRateLimitError(AgentRigError):
    """A rate-limit error injected by a FakeModel script (what a 429 looks like).

    ``retry_after`` is the number of seconds the "provider" asks the caller to wait.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FakeTimeoutError(AgentRigError, TimeoutError):
    """A model timeout injected by a FakeModel script."""


class FakeServerError(AgentRigError):
    """A server error injected by a FakeModel script: ``status`` 500, or 529 (overloaded)."""

    def __init__(
        self, message: str, *, status: int = 500, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class NetworkBlocked(AgentRigError, ConnectionError):
    """A request to a known LLM provider host that nothing in the test fakes or replays."""


class AllAgentsFailed(AgentRigError):
    """Every agent of a broadcast failed, so there is nothing to synthesize.

    ``errors`` maps each agent's name to the exception it raised, in declared order.
    """

    def __init__(self, message: str, *, errors: dict[str, BaseException] | None = None) -> None:
        super().__init__(message)
        self.errors: dict[str, BaseException] = dict(errors or {})


class DecisionLogError(AgentRigError):
    """A decision log cannot be written or read."""


class RecordingError(AgentRigError, ValueError):
    """A value in the recording cannot be normalized (reading it raised): names the span or
    entry and the attribute."""


#: What to do about a snapshot file agentrig cannot use: written once, here.
RERECORD: Final = "re-record it with `agentrig update`"


class SnapshotError(AgentRigError):
    """A snapshot file is missing, unreadable or not a snapshot.

    ``rerecord=True`` ends the message with the one fix for a file agentrig cannot read,
    ``"; re-record it with `agentrig update`"``, so the advice is written in one place.
    """

    def __init__(self, message: str, *args: object, rerecord: bool = False) -> None:
        super().__init__(f"{message}; {RERECORD}" if rerecord else message, *args)


class SnapshotFormatError(SnapshotError):
    """A snapshot has a format version this agentrig cannot compare against."""


class CassetteError(AgentRigError, ValueError):
    """A cassette file is unreadable, malformed, or holds what looks like a secret."""


class CassetteFormatError(CassetteError):
    """A cassette has a format version this agentrig cannot read."""


class CassetteMiss(CassetteError, LookupError):
    """Replay found no recorded answer to a model call (it never falls back to a live call)."""


class AgentrigWarning(UserWarning):
    """A test runs, but without something agentrig promises it (e.g. the virtual clock).

    The message names the test, why, and the fix. ``filterwarnings = error`` turns it into a
    failure, for suites that want none.
    """
