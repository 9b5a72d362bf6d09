"""Normalization: a raw recording in, the canonical snapshot document out.

:func:`normalize` turns a :class:`~agentrig.recording.Recording` (or its ``to_dict()``, or an
already normalized document) into plain JSON data that is identical, byte for byte, every time
the same program runs, whatever the machine, the hash seed, the thread timing or the order in
which concurrent agents happened to finish. :func:`dumps` writes it byte-stably and
:func:`loads` reads it back, checking the format version.

The document is written for two readers, a human looking at a ``git diff`` and
:mod:`agentrig.drift`. It is a tree of spans; each span holds, in order, the timeline of
what happened inside it: its child spans and the entries (decisions, budget moves, bus
traffic, deadline expiries) attributed to it. What happened outside any span sits in the
top-level timeline::

    {
      "agentrig": {"format": 1},
      "name": "tests/test_app.py::test_pipeline",
      "timeline": [
        {
          "span": "pipeline", "id": 1, "parent": null, "status": "ok",
          "start": 0.0, "duration": 3.0,
          "timeline": [
            {"entry": "budget.acquire", "t": 0.0,
             "data": {"granted_usd": 0.04, "pool": "pool", "stage": "research", ...}},
            {"span": "model.call", "id": 2, "parent": 1, "status": "ok",
             "start": 0.0, "duration": 1.0,
             "attributes": {"gen_ai.agent.name": "research",
                            "gen_ai.usage.input_tokens": 12, ...}},
            {"entry": "decision", "t": 1.0,
             "data": {"decision": "stage_complete", "log": "decisions", "stage": "research"}}
          ]
        }
      ]
    }

Span items carry ``span`` (the name), ``id``, ``parent``, ``status`` and, when present,
``status_message``, ``error``, ``start`` and ``duration`` (virtual seconds), ``attributes``,
``events`` (``name``, ``t``, ``attributes``), ``timeline`` and ``unfinished``. Entry items
carry ``entry`` (the kind), ``t`` and ``data``. Keys are sorted when written.

What normalization does to values, at any depth:

* wall-clock fields (``wall``, ``wall_start``, ``wall_end``) are dropped; virtual times are
  kept, rounded to the microsecond; a time that is ``None`` (the run was not on a virtual
  clock) is left out;
* UUIDs become ``<uuid:N>``, numbered in the order a reader meets them in the document, so the
  same UUID seen twice gets the same placeholder; ISO-8601 date-times, ``datetime`` objects
  and numbers that look like epoch wall-clock readings (seconds as floats; milli-, micro- and
  nanoseconds as ints; seconds as ints under keys like ``created_at``) become ``<timestamp>``;
  pytest temporary directories become ``<tmp>``; the `` at 0x7f…`` memory address of an object's
  default repr (``<Doc object at 0x7f…>``) vanishes, other text with ``at 0x`` stays;
* secrets are redacted before anything else happens to a value (:mod:`agentrig._secrets`
  holds the shapes: provider tokens, private keys, JWTs, ``Bearer <token>``, and the session's
  ``agentrig_secret_patterns``) anywhere inside a string, and there too credential fields:
  header lines (``Authorization: Basic <redacted>``, ``Cookie: <redacted>``), ``key=value``
  pairs whose key names a secret (``password=``, ``api_key:``, ``"client_secret":``,
  ``token=``, ``DB_PASSWORD_PROD=``) and URL passwords (``postgres://app:<redacted>@db``);
  values under keys named like ``password``,
  ``secret``, ``api_key``, ``authorization``, ``cookie``, ``credential``, ``private_key``; and
  *string* values under keys containing ``token`` (so ``gen_ai.usage.input_tokens: 42`` stays
  42). :class:`NormalizeRules` adds patterns;
* floats are rounded to 6 significant digits, ``-0.0`` becomes ``0.0``, NaN and infinities
  become ``"<nan>"``, ``"<inf>"``, ``"<-inf>"``; integers beyond 64 bits become strings;
* values JSON cannot hold get a stable placeholder and never a memory address: ``<Doc>``,
  ``<bytes len=3>``, ``<function on_summarize>``, ``<TimeoutError: search timed out>``;
  dataclasses and pydantic models become objects, sets become sorted lists, enums
  ``Color.RED``, paths POSIX strings, non-string keys ``str(key)`` (``1`` and ``"1"`` in one
  dict become ``"1"`` and ``"1#2"``, in insertion order); lone surrogates become U+FFFD; a
  cycle becomes ``<cycle>`` and nesting deeper than 32 levels ``<max depth>``.
* ``exception.stacktrace`` is dropped: it holds absolute paths and line numbers, which differ
  between machines and move with every edit; the exception's type and message stay.

Implementation notes
--------------------
**What must be canonical.** A snapshot must not depend on anything that can change between two
runs of an unchanged program. Virtual time does not change: the virtual loop fires timers in a
fixed order, and work in threads takes no virtual time, so every ``start``, ``end`` and ``t`` is
reproducible. *Arrival order* does change: which of two concurrent agents appends its span or
entry first depends on thread timing (and, without a virtual clock, on everything). The raw
recording stores arrival order faithfully in ``seq``; the document must not.

**Happens-before from virtual time.** Siblings are ordered by virtual start time first. That
order is real: if A starts before B in virtual time it does so in every run. Siblings that
start at the *same* virtual instant are where arrival order leaks in: the children of one
``asyncio.gather`` all start at the gather's instant, and with thread work in them they open
their spans in a different order on every run. Such siblings form a *concurrency group* and
are sorted by content: span name, then the agent (``gen_ai.agent.name`` or ``agent`` or
``stage`` attribute), then, only when that still ties, a BLAKE2 digest of the member's whole
normalized subtree. Spans that merely overlap but start at different instants need no group:
their start times already order them.

The price: two *sequential* steps that take no virtual time at all (a zero-latency stage and
the next one, both at t=0) cannot be told apart from concurrent ones by time, nor by ``seq``
(a thread can delay one agent until the other is done). Only happens-before can. So spans and
entries may carry an optional ``task`` (any value naming a *strand*: equal for work done one
step after another, never shared by concurrent work within a recording; it orders and is not
written). :mod:`agentrig.recording` records it from who waits for whom, not from task identity:
a task that another waits for, and for nothing else (``await create_task(...)``, ``wait_for``
on 3.11), continues the waiter's strand, so 3.11 and 3.12 record the same document. With
strands recorded, what one strand did at an instant (spans and entries) forms a *chain* that
keeps its arrival order, chains are what gets sorted, and what the parent span's own strand
did is sequential with everything around it and splits the instant into separately arranged
segments: a pipeline keeps its stage order, a gather is still canonical, and decisions, bus
emits and budget charges of concurrent tasks or threads are sorted like their spans. Without
strands we choose determinism: every equal-start span is its own chain, sorted by content.
Then, a zero-latency pipeline reads in name order; give the stages a (fake) latency, or record
their strands, to see them in time order.

**Entries around a group.** Entries of unknown strand attributed to a span are kept in arrival
order. One that arrives *inside* a concurrency group's window (after the first member opened
and before the last closed, at the group's instant) may come from one of the concurrent tasks,
so it joins the group and is sorted with it; entries before and after the window stay put.
Likewise the span's own events whose time falls in a group's window (its instant to its last
member's end) are sorted by content: failures that concurrent agents report on their parent
span are the typical case.

**No virtual time.** When some sibling has no time (``t is None``), we fall back to ``seq``:
siblings whose ``[seq, end_seq]`` intervals overlap form a group; others keep arrival order.

**Identity survives renumbering.** Span ids are renumbered 1, 2, 3… in document order after
sorting, and ``parent`` keeps each link. UUIDs are replaced in the single value walk by an
internal *mark* that remembers which UUID it was (``\\x00U<k>\\x00``, ``k`` in arrival order);
sort keys and digests mask the mark, so arrival order cannot leak into the sort; a final pass,
only when a UUID was seen, numbers the marks in reading order (keys sorted, as written).
Keys that read alike with their marks masked (two UUID keys) are visited known UUIDs first,
then by what the mark stood for (a ``<uuid:N>`` by N): a second pass then meets them in the
order the first did, whatever order the input listed them in.
Timestamps get no number: two events in the same microsecond on one run and not on the next
would otherwise change the document.

**Idempotence.** :func:`normalize` accepts its own output: spans are rebuilt from the tree (the
``parent`` links win where present) and keep the document's order, which is canonical already
(and could not be re-derived: tasks are not written); ``<uuid:N>`` is treated like a UUID
and renumbered identically; rounding is a fixed point. Group membership uses the rounded times,
so the order a raw recording gets does not depend on sub-microsecond noise.

**Cost.** Values are walked once, building new containers (no ``deepcopy``); a dict of plain
scalars under plain keys (most attribute dicts) takes one tight loop without the cycle, depth
and budget bookkeeping; strings shorter than 11 ASCII characters return at once, longer ones
pay a few substring checks and the secret-marker trie, and run the patterns only when a check
hits, and their results (like those of float rounding) are memoized for the run; key
classification is cached across runs; digests are computed only for
members that tie on name and agent; path rules build path strings only when some are
configured. One top-level value may expand to at most 100,000 containers (``<truncated>``
after that), which bounds a DAG of shared references that would otherwise grow
exponentially. Nesting is bounded (32 value levels, 64 span levels, after which a span's
descendants are listed flat, each with its ``parent``) so that no recursion runs away and
orjson's 255-level limit is never reached; a cycle is detected by the ids of the containers on
the current path.

Layout
------
The package follows pytest's ``_pytest/assertion/``: this module holds the entry point and
these notes; :mod:`~agentrig.normalize.rules` the user's rules and the key classification,
:mod:`~agentrig.normalize.scrub` the value walk, :mod:`~agentrig.normalize.timeline` the
tree, its canonical order and the emitted timeline, :mod:`~agentrig.normalize.readers` the
inputs. The document codec (:func:`dumps`, :func:`loads`, the format version) lives in
:mod:`agentrig.document`, shared with drift, the snapshot extension and the CLI; it is
re-exported here. The public names are this module's ``__all__``; the submodules are internal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agentrig.document import FORMAT_VERSION, collector_paused, dumps, loads
from agentrig.normalize.readers import read
from agentrig.normalize.rules import DEFAULT_RULES, SCRUB_RULES, NormalizeRules
from agentrig.normalize.timeline import TimelineBuilder, arrange
from agentrig.vocabulary import SEMCONV_VERSION

if TYPE_CHECKING:
    from agentrig.recording import Recording

__all__ = ["FORMAT_VERSION", "SCRUB_RULES", "NormalizeRules", "dumps", "loads", "normalize"]


def normalize(
    recording: Recording | Mapping[str, Any], *, rules: NormalizeRules | None = None
) -> dict[str, Any]:
    """The canonical snapshot document of a recording.

    Args:
        recording: a :class:`~agentrig.recording.Recording`, its ``to_dict()`` (or the parsed
            ``to_json()``), or a document this function produced (normalization is idempotent).
        rules: extra drop / mask / redact rules (see :class:`NormalizeRules`).

    Returns:
        A new dict of JSON data (the input is not modified): ``{"agentrig": {"format": 1,
        "semconv": ...},
        "name": ..., "timeline": [...]}``. Write it with :func:`dumps`.

    Raises:
        SnapshotError: ``recording`` is a mapping that is neither a raw recording nor a
            snapshot document.
        SnapshotFormatError: ``recording`` is a document of another format version.
        TypeError: ``recording`` is neither a Recording nor a mapping.
    """
    builder = TimelineBuilder(rules if rules is not None else DEFAULT_RULES)
    with collector_paused():  # the document is a fresh acyclic tree (see agentrig.document)
        name, spans, entries, from_document = read(builder, recording)
        roots = arrange(builder, spans, entries, keep_order=from_document)
        doc: dict[str, Any] = {
            "agentrig": {"format": FORMAT_VERSION, "semconv": SEMCONV_VERSION},
            "name": builder.string(name) if isinstance(name, str) else builder.top(name, None),
            "timeline": builder.emit(roots, None, 0),
        }
        return builder.scrub.renumber(doc)
