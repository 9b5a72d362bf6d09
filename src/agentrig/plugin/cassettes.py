"""The ``llm_cassette`` fixture and ``--agentrig-record``: real model calls, recorded and replayed.

In a test that requests ``llm_cassette``, every openai/anthropic SDK request is answered from
the test's cassette (:mod:`agentrig.cassette`) through the interception seam
(:mod:`agentrig.providers.intercept`, priority ``PRIORITY_CASSETTE``). Modes:

* default (replay): offline, fail-closed. A request with no recorded answer fails the test with
  the nearest recorded request and a diff, whatever the app does with the exception the SDK
  raises; nothing reaches the network.
* ``--agentrig-record``: requests with a recorded answer replay; the others are sent to the real
  endpoint (the request's own base_url and credentials) and stored. Interactions the test no
  longer used are pruned when it passes.
* ``--agentrig-record=all``: every request goes to the real endpoint; the cassette is replaced.

With ``CI`` set, recording is refused (a usage error) unless ``--agentrig-force-update`` is given.

Implementation notes
--------------------
* Recorded and replayed calls give the same Recording: the app always gets the *stored* form
  of a response (redacted, headers filtered), and both take the quantized recorded latency in
  virtual time, inside the ``model.call`` span.
* A real call while recording happens on the virtual loop, so a pending timer (the SDK's own
  600 s timeout) could fire while the reply is on its way. The call is held as real work in
  flight (:func:`agentrig.clock.real_work`, which also covers a real server streaming its
  events with pauses): the loop waits in real time and its clock does not move.
* Use records: after a replay, which interactions the test used is written to pytest's cache
  (``.pytest_cache/d/agentrig/cassette-usage/``), with the cassette's SHA-256, so that
  ``agentrig cassettes --prune`` can drop unused interactions of a cassette that has not changed
  since.
"""

from __future__ import annotations

import asyncio
import hashlib
import shlex
import threading
import time
from collections.abc import Generator, Iterator
from contextlib import suppress
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

if TYPE_CHECKING:
    from agentrig.budget import Reservation, StageBudget
    from agentrig.cassette import CassetteRules, Interaction, Player, Request
    from agentrig.chat import FakeRequest
    from agentrig.providers.intercept import InterceptedRequest, InterceptedResponse
    from agentrig.recording import Recording

__all__ = ["CassettePlugin", "LlmCassette", "add_options", "check_options"]

RECORD_NEW: Final = "new"
RECORD_ALL: Final = "all"
#: ini keys this module adds (the main plugin's list of valid keys includes them).
INI_KEYS: Final = ("agentrig_cassette_ignore", "agentrig_cassette_latency_quantum")
#: The pytest cache folder (under ``.pytest_cache/d/``) holding use records.
USAGE_DIR: Final = "agentrig"
USAGE_SUBDIR: Final = "cassette-usage"

_ZERO: Final = Decimal(0)
_RUN = pytest.StashKey["LlmCassette"]()
_OUTCOME = pytest.StashKey[bool]()


def add_options(group: Any, parser: pytest.Parser) -> None:
    """Register ``--agentrig-record`` and the cassette ini keys (from ``pytest_addoption``)."""
    # Two flags on one dest rather than nargs="?": an optional value would swallow the next
    # argument (`pytest --agentrig-record tests/x.py`). argparse matches a whole option string
    # that contains "=" before it splits at the "=".
    group.addoption(
        "--agentrig-record",
        dest="agentrig_record",
        action="store_const",
        const=RECORD_NEW,
        default=None,
        help="llm_cassette tests send model calls with no recorded answer to the real endpoint"
        " and store them; refused when CI is set unless --agentrig-force-update",
    )
    group.addoption(
        "--agentrig-record=all",
        dest="agentrig_record",
        action="store_const",
        const=RECORD_ALL,
        help="like --agentrig-record, but re-record every model call (the cassettes are replaced)",
    )
    parser.addini(
        "agentrig_cassette_ignore",
        "request body fields left out of cassette matching, e.g. temperature or messages[*].name",
        type="linelist",
        default=[],
    )
    parser.addini(
        "agentrig_cassette_latency_quantum",
        "recorded model-call latency is rounded to a multiple of this many seconds (default: 0.1)",
        default="",
    )


def check_options(config: pytest.Config, *, ci: bool) -> None:
    """Stop the session at once on a bad cassette ini value or recording under CI."""
    mode = getattr(config.option, "agentrig_record", None)
    if mode is not None and ci and not config.option.agentrig_force_update:
        raise pytest.UsageError(
            f"CI is set, so --agentrig-record{'=all' if mode == RECORD_ALL else ''} is refused:"
            " a CI run must not make live, paid model calls or rewrite cassettes. Record"
            " locally with a real key and commit the cassettes, or pass --agentrig-force-update"
            " to allow it here."
        )
    try:
        _rules(config)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def _rules(config: pytest.Config) -> CassetteRules:
    from agentrig.cassette import DEFAULT_LATENCY_QUANTUM, CassetteRules

    raw = str(config.getini("agentrig_cassette_latency_quantum") or "").strip()
    try:
        quantum = float(raw) if raw else DEFAULT_LATENCY_QUANTUM
    except ValueError:
        raise ValueError(
            f"agentrig_cassette_latency_quantum = {raw!r} is not a number; give seconds, e.g."
            " 0.1 (or 0 to keep milliseconds)"
        ) from None
    # agentrig_secret_patterns need no passing here: the session activates them for every
    # redact_secrets call (agentrig._secrets.user_patterns).
    return CassetteRules(
        ignore=tuple(config.getini("agentrig_cassette_ignore")),
        latency_quantum=quantum,
    )


class LlmCassette:
    """What ``llm_cassette`` gives a test: its cassette and what happened to it so far.

    Attributes:
        path: the cassette file.
        mode: ``"replay"``, ``"new"`` (``--agentrig-record``) or ``"all"``.
    """

    def __init__(
        self,
        *,
        path: Path,
        shown: str,
        name: str,
        mode: str,
        rules: CassetteRules,
        player: Player,
        recording: Recording,
    ) -> None:
        self.path = path
        self.shown = shown
        self.name = name
        self.mode = mode
        self.rules = rules
        self.player = player
        self.recording = recording
        self._lock = threading.Lock()
        # One slot per model call, in call order: the interaction that answered it.
        self._slots: list[Interaction | None] = []
        self._sources: list[str] = []
        self.misses: list[BaseException] = []
        self.recorded = 0

    def __repr__(self) -> str:
        return (
            f"<llm_cassette {self.shown} mode={self.mode} calls={len(self._slots)}"
            f" recorded={self.recorded} misses={len(self.misses)}>"
        )

    @property
    def calls(self) -> tuple[str, ...]:
        """How each model call of the test was answered so far: ``"replayed #N"`` or
        ``"recorded"``, in call order."""
        with self._lock:
            return tuple(self._sources)

    def _slot(self) -> int:
        with self._lock:
            self._slots.append(None)
            self._sources.append("?")
            return len(self._slots)

    def _fill(self, n: int, interaction: Interaction, source: str) -> None:
        with self._lock:
            self._slots[n - 1] = interaction
            self._sources[n - 1] = source

    # -- the responder --------------------------------------------------------------------------

    def _canonical(self, request: InterceptedRequest) -> Request | None:
        if request.provider is None:
            return None  # not a model call: the seam's other responders or the network
        return self.rules.request(
            provider=request.provider,
            method=request.method,
            path=request.path,
            body=request.body,
            stream=request.is_stream,
        )

    def _replay(
        self, canonical: Request, n: int, stage: StageBudget | None, call: _CallSpan
    ) -> Interaction | None:
        if self.mode == RECORD_ALL:
            return None

        def afford(interaction: Interaction) -> None:
            call.reservation = _reserve(stage, interaction, n, call.request)

        hit = self.player.answer(canonical, check=afford if stage is not None else None)
        if hit is None:
            return None
        index, interaction = hit
        self._fill(n, interaction, f"replayed #{index}")
        return interaction

    def _miss(self, canonical: Request, n: int) -> BaseException:
        from agentrig.providers.intercept import report_problem

        error = self.player.miss(canonical, call=n)
        with self._lock:
            if all(str(m) != str(error) for m in self.misses):
                self.misses.append(error)
        report_problem(error)
        return error

    def _store(
        self, canonical: Request, real: InterceptedResponse, seconds: float, n: int
    ) -> Interaction:
        from agentrig.cassette import Interaction

        interaction = Interaction(
            request=canonical,
            response=_stored_response(real, self.rules),
            latency=self.rules.quantize(seconds),
        )
        with self._lock:
            self.recorded += 1
        self._fill(n, interaction, "recorded")
        return interaction

    def handle(self, request: InterceptedRequest) -> InterceptedResponse | None:
        """A sync client's request (the seam does not wait latency on the sync path)."""
        from agentrig.budget import current_stage_budget

        canonical = self._canonical(request)
        if canonical is None:
            return None
        n = self._slot()
        stage = current_stage_budget()
        with _CallSpan(request, canonical) as call:
            interaction = self._replay(canonical, n, stage, call)
            if interaction is None:
                if self.mode == "replay":
                    raise self._miss(canonical, n)
                started = time.perf_counter()
                real = request.send_real()
                interaction = self._store(canonical, real, time.perf_counter() - started, n)
            call.answered(interaction)
            call.charge(stage, interaction)
        return _answer(interaction)

    async def handle_async(self, request: InterceptedRequest) -> InterceptedResponse | None:
        """An async client's request: the recorded latency passes in (virtual) time."""
        from agentrig.budget import current_stage_budget

        canonical = self._canonical(request)
        if canonical is None:
            return None
        n = self._slot()
        stage = current_stage_budget()
        with _CallSpan(request, canonical) as call:
            interaction = self._replay(canonical, n, stage, call)
            if interaction is None:
                if self.mode == "replay":
                    raise self._miss(canonical, n)
                started = time.perf_counter()
                from agentrig.clock import real_work

                with real_work(f"llm_cassette recording {canonical.endpoint}"):
                    real = await request.asend_real()
                interaction = self._store(canonical, real, time.perf_counter() - started, n)
            call.answered(interaction)
            if interaction.latency:
                await asyncio.sleep(interaction.latency)
            call.charge(stage, interaction)
        return _answer(interaction)

    # -- the end of the test ---------------------------------------------------------------------

    def finish(self, *, passed: bool) -> dict[str, Any]:
        """Write what recording produced; report unused interactions. Returns the summary."""
        from agentrig.cassette import write_cassette

        with self._lock:
            slots = [x for x in self._slots if x is not None]
        unused = self.player.unused() if self.mode != RECORD_ALL else ()
        summary: dict[str, Any] = {
            "path": self.shown,
            "mode": self.mode,
            "calls": len(slots),
            "recorded": self.recorded,
            "unused": [],
        }
        if self.mode == "replay":
            summary["unused"] = list(unused) if passed else []
            return summary
        keep: list[Interaction] = []
        if not passed:  # a test that stopped early may not have reached the rest
            keep = [self.player.interactions[i] for i in unused]
        pruned = len(unused) - len(keep) if self.mode == RECORD_NEW else 0
        if self.recorded or pruned:
            if slots or keep:
                write_cassette(self.path, self.name, slots + keep)
            elif self.path.exists():
                self.path.unlink()
        summary["pruned"] = pruned
        return summary


def _stored_response(real: InterceptedResponse, rules: CassetteRules) -> Any:
    import orjson

    from agentrig.cassette import Response, parse_sse, response_headers

    headers = response_headers(real.headers.items())
    if real.events is not None:
        events = parse_sse(b"".join(real.events))
        from agentrig.cassette import SseEvent

        redacted = tuple(SseEvent(rules.redact_value(e.data), e.event) for e in events)
        return Response(status=real.status, headers=headers, events=redacted)
    try:
        body = orjson.loads(real.body) if real.body else None
    except orjson.JSONDecodeError:
        text = rules.redact_text(real.body.decode("utf-8", "replace"))
        return Response(status=real.status, headers=headers, text=text)
    return Response(status=real.status, headers=headers, body=rules.redact_value(body))


def _answer(interaction: Interaction) -> InterceptedResponse:
    from agentrig.providers.intercept import InterceptedResponse

    response = interaction.response
    headers = dict(response.headers)
    if response.events is not None:
        return InterceptedResponse(
            status=response.status,
            headers=headers,
            events=[e.encode() for e in response.events],
        )
    if "content-type" not in headers and response.body is not None:
        headers["content-type"] = "application/json"
    return InterceptedResponse(status=response.status, headers=headers, body=response.content())


class _CallSpan:
    """The ``chat {model}`` span of one replayed or recorded call, built by
    :mod:`agentrig.model_span` as the fake's is, and the call's charge to its stage.

    The recorded request is read with the provider fakes' own parsers, so the span carries
    what a faked call's span carries (:data:`agentrig.model_span.REPLAY_ONLY_ATTRIBUTES` aside).
    """

    def __init__(self, request: InterceptedRequest, canonical: Request) -> None:
        self.canonical = canonical
        self.request, self.wire = _fake_request(request, canonical)
        self.reservation: Reservation | None = None
        self.charging = False
        self._scope: Any = None
        self._span: Any = None

    def __enter__(self) -> _CallSpan:
        from agentrig.model_span import request_attributes
        from agentrig.tracing import default_tracer, model_call_span_name
        from agentrig.vocabulary import AGENTRIG_SOURCE

        attributes = request_attributes(
            self.request,
            agent=self.request.model,
            provider=self.canonical.provider or "unknown",
            wire=self.wire,
        )
        attributes[AGENTRIG_SOURCE] = "cassette"
        self._scope = default_tracer().span(
            model_call_span_name(self.request.model), attributes=attributes
        )
        self._span = self._scope.__enter__()
        return self

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool | None:
        if exc is not None:
            from agentrig.model_span import unspent_attributes
            from agentrig.tracing import ERROR_TYPE

            if self.reservation is not None and not self.charging:
                self.reservation.cancel()
            if not self.charging:  # nothing was spent: say so on the span
                self._span.set_attributes(unspent_attributes())
            self._span.set_attribute(ERROR_TYPE, type(exc).__qualname__)
        result: bool | None = self._scope.__exit__(kind, exc, tb)
        return result

    def answered(self, interaction: Interaction) -> None:
        """Put what the recorded response says on the span (as the fake does for its reply)."""
        from agentrig.cassette import recorded_reply
        from agentrig.model_span import reply_attributes, unspent_attributes
        from agentrig.tracing import ERROR_TYPE, GEN_AI_RESPONSE_MODEL
        from agentrig.vocabulary import HTTP_RESPONSE_STATUS_CODE

        usage = interaction.usage()
        status = interaction.response.status
        attributes: dict[str, object] = {}
        if usage.model is not None:
            attributes[GEN_AI_RESPONSE_MODEL] = usage.model
        if status >= 400:  # an error answer costs nothing and carries no reply
            attributes.update(unspent_attributes())
            attributes[ERROR_TYPE] = str(status)
        else:
            reply = recorded_reply(interaction.response)
            finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
            attributes.update(
                reply_attributes(
                    text=reply.text,
                    tool_calls=reply.tool_calls,
                    finish_reason=finish,
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    usd=usage.usd if usage.usd is not None else _ZERO,
                    wire=self.wire,
                )
            )
        attributes[HTTP_RESPONSE_STATUS_CODE] = status
        self._span.set_attributes(attributes)

    def charge(self, stage: StageBudget | None, interaction: Interaction) -> None:
        """Charge the call to the ambient stage, labelled as the fake labels its calls.

        A replayed call was checked before it was answered (its cost is held); a call just
        recorded was made already, so its spend is charged even if it breaks a cap.
        """
        if stage is None or interaction.response.status >= 400:
            return
        label = f"model.call {self.request.model}"
        self.charging = True
        if self.reservation is not None:
            self.reservation.commit(label=label)
            return
        usage = interaction.usage()
        stage.charge(
            usage.usd if usage.usd is not None else _ZERO,
            tokens=usage.input_tokens + usage.output_tokens,
            label=label,
        )


def _reserve(
    stage: StageBudget | None, interaction: Interaction, n: int, request: FakeRequest
) -> Reservation | None:
    """Hold a replayed call's recorded cost on the stage, or refuse the call as the fake
    refuses one the stage cannot afford (before it is made; nothing spent)."""
    from agentrig._errors import BudgetExceeded

    if stage is None or interaction.response.status >= 400:
        return None
    usage = interaction.usage()
    usd = usage.usd if usage.usd is not None else _ZERO
    tokens = usage.input_tokens + usage.output_tokens
    reservation = stage.reserve(usd, tokens=tokens)
    if reservation is not None:
        return reservation
    prompt = request.prompt if len(request.prompt) <= 40 else request.prompt[:39] + "…"
    raise BudgetExceeded(
        f"llm_cassette call #{n} ({request.model}, prompt {prompt!r}) would cost ${usd} for"
        f" {tokens} tokens (as recorded), more than budget {stage.name!r} can afford (it has"
        f" ${stage.remaining_usd} left); the call was not replayed and nothing was spent."
        " Acquire the stage with a larger max_usd= (or max_tokens=), or give the pool more"
    )


def _fake_request(request: InterceptedRequest, canonical: Request) -> tuple[FakeRequest, bool]:
    """The call as the provider fakes read it (parsed from the canonical body), and whether
    it could be read so (else only the prompt and the model are known)."""
    from dataclasses import replace

    from agentrig._errors import ConfigurationError
    from agentrig.chat import FakeRequest
    from agentrig.providers import anthropic_wire, openai_wire
    from agentrig.providers.wire import BadRequest

    body = canonical.body
    path = canonical.endpoint.rstrip("/")
    parse: Any = None
    if path.endswith("/chat/completions"):
        parse = openai_wire.parse_chat
    elif path.endswith("/responses"):
        parse = openai_wire.parse_responses
    elif path.endswith("/messages") and canonical.provider == "anthropic":
        parse = anthropic_wire.parse_messages
    if parse is not None and isinstance(body, dict):
        body = {**body, "stream": True} if canonical.stream else body
        try:
            return parse(replace(request, json=body)), True
        except (BadRequest, ConfigurationError):
            pass
    model = canonical.model or canonical.endpoint
    return FakeRequest.from_prompt(_prompt(canonical.body), model=model), False


def _prompt(body: Any) -> str:
    """The last message's text, for a request the provider fakes cannot read."""
    if not isinstance(body, dict):
        return ""
    messages = body.get("messages")
    if isinstance(messages, list) and messages:
        return _text_of(messages[-1].get("content") if isinstance(messages[-1], dict) else None)
    return _text_of(body.get("input"))


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                text = part.get("text", part.get("content"))
                parts.append(_text_of(text))
            else:
                parts.append(_text_of(part))
        return "".join(parts)
    return ""


# -- the pytest plugin ---------------------------------------------------------------------------


class CassettePlugin:
    """Registered by the main plugin in ``pytest_configure``: the fixture and its reporting."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.rules: CassetteRules | None = None
        self.unused: dict[str, list[int]] = {}
        self.written: dict[str, int] = {}

    @pytest.fixture
    def llm_cassette(
        self, request: pytest.FixtureRequest, _agentrig_recording: Recording
    ) -> Iterator[LlmCassette]:
        """This test's cassette: SDK model calls are answered from it (``--agentrig-record``)."""
        from agentrig._errors import CassetteError
        from agentrig.cassette import CASSETTE_SUFFIX, Player, read_cassette
        from agentrig.providers.intercept import PRIORITY_CASSETTE, activate
        from agentrig.snapshot import current_settings

        item = request.node
        if self.rules is None:
            self.rules = _rules(self.config)
        settings = current_settings()
        folder, base = settings.folder_and_base(item.nodeid)
        path = Path(folder) / (base + CASSETTE_SUFFIX)
        shown = settings.display(path)
        mode = getattr(self.config.option, "agentrig_record", None) or "replay"
        rerecord = _record_command(item.nodeid, settings)
        interactions: tuple[Interaction, ...] = ()
        missing = False
        problem: str | None = None
        if mode != RECORD_ALL:
            try:
                interactions = read_cassette(path, rules=self.rules, shown=shown).interactions
            except FileNotFoundError:
                missing = True
            except CassetteError as exc:
                problem = str(exc)
            except OSError as exc:
                problem = f"{shown}: cannot read the cassette ({exc.strerror})"
        if problem is not None:  # outside the except: the message alone, not chained
            pytest.fail(problem, pytrace=False)
        player = Player(interactions, source=shown, rerecord=rerecord, missing=missing)
        run = LlmCassette(
            path=path,
            shown=shown,
            name=item.nodeid,
            mode=mode,
            rules=self.rules,
            player=player,
            recording=_agentrig_recording,
        )
        item.stash[_RUN] = run
        with activate(run, priority=PRIORITY_CASSETTE):
            yield run
        passed = item.stash.get(_OUTCOME, False) and not run.misses
        try:
            summary = run.finish(passed=passed)
        except OSError as exc:
            pytest.fail(f"{shown}: cannot write the cassette ({exc.strerror})", pytrace=False)
        if mode == "replay" and not missing and passed:
            _write_usage(self.config, path, settings.rootdir, player.used, item.nodeid)
        item.stash[_SUMMARY] = summary

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        error: BaseException | None = None
        result: object = None
        try:
            result = yield
        except BaseException as exc:
            error = exc
        run = item.stash.get(_RUN, None)
        if run is not None and run.misses:
            # Whatever the app made of the SDK's APIConnectionError, the test fails with the
            # miss, and only with it (not chained to what the app raised).
            message = "\n\n".join(str(m) for m in run.misses)
            raise pytest.fail.Exception(message, pytrace=False) from None
        if error is not None:
            raise error
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.when == "call" and _RUN in item.stash:
            item.stash[_OUTCOME] = report.passed
        elif call.when == "teardown":
            summary = item.stash.get(_SUMMARY, None)
            if summary is not None:
                report.agentrig_cassette = summary  # type: ignore[attr-defined]
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        summary = getattr(report, "agentrig_cassette", None)
        if not isinstance(summary, dict) or hasattr(self.config, "workerinput"):
            return
        if summary.get("unused"):
            self.unused[str(summary["path"])] = list(summary["unused"])
        if summary.get("recorded") or summary.get("pruned"):
            self.written[str(summary["path"])] = int(summary.get("recorded") or 0)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.unused and not self.written:
            return
        terminalreporter.section("agentrig cassettes")
        for path, count in sorted(self.written.items()):
            terminalreporter.write_line(f"recorded {count} interaction(s): {path}")
        if self.unused:
            total = sum(len(v) for v in self.unused.values())
            terminalreporter.write_line(
                f"{total} unused interaction(s) (the tests passed without them; pruned by"
                " `pytest --agentrig-record` or `agentrig cassettes --prune`):"
            )
            for path, indices in sorted(self.unused.items()):
                terminalreporter.write_line(f"  {path}: " + ", ".join(f"#{i}" for i in indices))


_SUMMARY = pytest.StashKey[dict[str, Any]]()


def _record_command(nodeid: str, settings: Any) -> str:
    file_part, sep, rest = nodeid.partition("::")
    shown = settings.display(settings.rootdir / file_part) if file_part else file_part
    return f"pytest {shlex.quote(shown + sep + rest)} --agentrig-record"


def usage_folder(rootdir: Path) -> Path:
    """Where use records live for a project (pytest's default cache folder)."""
    return rootdir / ".pytest_cache" / "d" / USAGE_DIR / USAGE_SUBDIR


def _write_usage(
    config: pytest.Config, path: Path, rootdir: Path, used: tuple[int, ...], nodeid: str
) -> None:
    """Note which interactions a passing replay used (for ``agentrig cassettes --prune``)."""
    import orjson

    from agentrig._files import atomic_write

    cache = getattr(config, "cache", None)
    if cache is None:
        return
    try:
        data = path.read_bytes()
        rel = path.relative_to(rootdir).as_posix()
    except (OSError, ValueError):
        return
    folder = Path(cache.mkdir(USAGE_DIR)) / USAGE_SUBDIR
    record = {
        "cassette": rel,
        "sha256": hashlib.sha256(data).hexdigest(),
        "test": nodeid,
        "used": sorted(set(used)),
    }
    name = hashlib.sha256(rel.encode("utf-8", "surrogatepass")).hexdigest()[:16] + ".json"
    with suppress(OSError):  # a read-only cache only costs --prune its record
        atomic_write(folder / name, orjson.dumps(record, option=orjson.OPT_SORT_KEYS))
