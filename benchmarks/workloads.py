"""The in-process workloads of the benchmarks, each run in its own subprocess by ``run.py``.

Usage (``run.py`` does this; by hand only to debug one figure)::

    python benchmarks/workloads.py virtual-time --loops agentrig,looptime --rounds 5 --runs 100
    python benchmarks/workloads.py sleeps --loops agentrig,looptime --tasks 10000 --rounds 5
    python benchmarks/workloads.py snapshot-path --agents 1000 --spans-per-agent 10 --repeat 7
    python benchmarks/workloads.py scale --agents 10000
    python benchmarks/workloads.py charge --charges 20000 --repeat 5
    python benchmarks/workloads.py pipeline --calls 500 --repeat 7

Every command prints one JSON object on stdout (timings in seconds) and nothing else there.
The looptime loop is only importable in the benchmark venv (see ``run.py``); this file runs
under either interpreter and imports looptime only when asked for it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson


class _GcTimer:
    """Adds up the time the cyclic garbage collector runs (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._t0
            self.collections[info["generation"]] += 1


# -- figure 1: virtual time ------------------------------------------------------------------

#: The supervisor flow of figure 1: a 120 s hard deadline, a worker that takes 10 virtual
#: seconds per call and a supervisor that never approves, so the deadline ends the loop.
DEADLINE_S = 120.0
WORKER_LATENCY_S = 10.0


async def supervisor_flow() -> tuple[str, int, float]:
    """Run figure 1's supervisor loop; return (outcome, revisions, loop time at the end)."""
    from agentrig.fake import FakeModel
    from agentrig.patterns import run_supervisor

    model = FakeModel()
    worker = model.agent("worker", reply="a draft of the release notes", latency=WORKER_LATENCY_S)
    supervisor = model.agent("supervisor", reply="1. tighten the intro", latency=0.0)
    result = await run_supervisor(
        worker, supervisor, "Write the release notes", max_revisions=1_000, deadline=DEADLINE_S
    )
    return result.outcome, result.revisions, asyncio.get_running_loop().time()


def _loop_factory(kind: str) -> Callable[[], asyncio.AbstractEventLoop]:
    if kind == "agentrig":
        from agentrig.clock import VirtualEventLoop

        return VirtualEventLoop
    if kind == "looptime":
        import looptime  # only in the benchmark venv

        return looptime.new_event_loop  # type: ignore[no-any-return]
    raise SystemExit(f"unknown loop kind {kind!r}; use agentrig or looptime")


def _one_supervisor_run(factory: Callable[[], asyncio.AbstractEventLoop]) -> tuple[Any, ...]:
    """One run as a test pays for it: a fresh loop, an active recording, the flow, close."""
    from agentrig.recording import Recording

    rec = Recording("bench")
    with rec.activate(), asyncio.Runner(loop_factory=factory) as runner:
        outcome, revisions, end = runner.run(supervisor_flow())
    return outcome, revisions, end, len(rec.spans), len(rec.entries)


def cmd_virtual_time(args: argparse.Namespace) -> dict[str, Any]:
    kinds = [k for k in args.loops.split(",") if k]
    factories = {k: _loop_factory(k) for k in kinds}
    check = {k: _one_supervisor_run(f) for k, f in factories.items()}
    for _ in range(args.warmup):
        for f in factories.values():
            _one_supervisor_run(f)
    samples: dict[str, list[float]] = {k: [] for k in kinds}
    # Rounds alternate the loops so that noise from other processes hits both alike.
    for _ in range(args.rounds):
        for kind, factory in factories.items():
            for _ in range(args.runs):
                t0 = time.perf_counter()
                _one_supervisor_run(factory)
                samples[kind].append(time.perf_counter() - t0)
    result: dict[str, Any] = {
        "samples": samples,
        "check": {
            k: dict(zip(("outcome", "revisions", "end", "spans", "entries"), v, strict=True))
            for k, v in check.items()
        },
    }
    if "looptime" in kinds:
        from importlib.metadata import version

        result["looptime_version"] = version("looptime")
    return result


async def _concurrent_sleeps(tasks: int, seed: int) -> float:
    """``tasks`` tasks at once, each sleeping a random 0-3,600 s; returns the loop's end time."""
    import random

    rng = random.Random(seed)
    delays = [rng.uniform(0.0, 3600.0) for _ in range(tasks)]
    await asyncio.gather(*(asyncio.sleep(d) for d in delays))
    return asyncio.get_running_loop().time()


def cmd_sleeps(args: argparse.Namespace) -> dict[str, Any]:
    """Figure 1's second row: many concurrent timers, the timer heap's cost per loop."""
    kinds = [k for k in args.loops.split(",") if k]
    factories = {k: _loop_factory(k) for k in kinds}
    samples: dict[str, list[float]] = {k: [] for k in kinds}
    ends: dict[str, float] = {}
    for round_ in range(args.rounds + 1):  # round 0 warms up and is not kept
        for kind, factory in factories.items():
            t0 = time.perf_counter()
            with asyncio.Runner(loop_factory=factory) as runner:
                ends[kind] = runner.run(_concurrent_sleeps(args.tasks, round_))
            if round_:
                samples[kind].append(time.perf_counter() - t0)
    return {"samples": samples, "ends": ends, "tasks": args.tasks}


# -- figure 2: the snapshot path ---------------------------------------------------------------


def _tool_agent(name: str, tools: int, inner: Any) -> Any:
    """An agent that calls ``tools`` tools (one span and one event each), then the model."""
    from agentrig.tracing import default_tracer

    class ToolAgent:
        def __init__(self) -> None:
            self.name = name

        async def run(self, prompt: str, *, budget: Any = None) -> Any:
            tracer = default_tracer()
            for i in range(tools):
                attributes = {
                    "tool.name": f"search_{i}",
                    "tool.query": f"{prompt[:24]} #{i}",
                    "tool.results": i * 3,
                    "tool.score": 0.125 * i,
                }
                with tracer.span("tool.call", attributes=attributes) as span:
                    await asyncio.sleep(0.5)
                    span.add_event("tool.result", hits=i, source=f"index-{i % 3}")
            return await inner.run(prompt, budget=budget)

    return ToolAgent()


def build_broadcast_recording(agents: int, spans_per_agent: int, *, variant: int = 0) -> Any:
    """A recording of one broadcast to ``agents`` agents with ``spans_per_agent`` spans each.

    Each agent's span holds ``spans_per_agent - 2`` tool spans (one event each) and the fake
    model's ``model.call`` span; with the broadcast and aggregator spans the recording has
    ``agents * spans_per_agent + 3`` spans. ``variant=1`` changes one agent's reply and makes
    another fail, for a drifted twin; ``variant=2`` also revises every other agent's reply (a
    wide drift: one root per agent, to show the drift report stays linear in its changes).
    """
    import agentrig
    from agentrig.fake import FakeModel
    from agentrig.patterns import run_broadcast
    from agentrig.recording import Recording

    model = FakeModel(latency=1.0)
    members = {}
    for i in range(agents):
        name = f"agent_{i:05d}"
        if variant and i == 1:
            inner = model.agent(name, error=TimeoutError("search timed out"))
        else:
            text = f"{name} found {i % 7} sources" + (
                " (revised)" if (variant and i == 2) or variant == 2 else ""
            )
            inner = model.agent(name, reply=text)
        members[name] = _tool_agent(name, spans_per_agent - 2, inner)
    aggregator = model.agent("editor", reply="one synthesized answer")
    rec = Recording("benchmarks::snapshot_path")
    with rec.activate():
        agentrig.run(run_broadcast(members, "What changed this year?", aggregator=aggregator))
    return rec


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def _pipeline_recording() -> Any:
    """The 3-stage pipeline on fakes of figure 3 (one test's recording: 7 spans)."""
    import agentrig
    from agentrig import BudgetPool
    from agentrig.fake import FakeModel
    from agentrig.patterns import run_pipeline
    from agentrig.recording import Recording

    fake_model = FakeModel()
    research = fake_model.agent("research", reply="notes about topic 1", latency=1.0)
    draft = fake_model.agent("draft", reply=lambda p: f"report on {p[:20]}", latency=2.0)
    review = fake_model.agent("review", reply="APPROVED", latency=0.5)
    stages = [("research", research, 0.04), ("draft", draft, 0.04), ("review", review, 0.02)]
    rec = Recording("benchmarks::pipeline")
    with rec.activate():
        agentrig.run(run_pipeline(stages, "topic 1", pool=BudgetPool(usd=0.10)))
    return rec


def _small_normalize(runs: int, clock: Callable[[], float]) -> dict[str, Any]:
    """``normalize`` of the pipeline's recording, ``runs`` times in 10 batches: s per call."""
    from agentrig.normalize import normalize

    rec = _pipeline_recording()
    normalize(rec)
    batch = max(1, runs // 10)
    per_call = []
    for _ in range(10):
        t0 = clock()
        for _ in range(batch):
            normalize(rec)
        per_call.append((clock() - t0) / batch)
    return {"spans": len(rec.spans), "entries": len(rec.entries), "samples": per_call}


def cmd_snapshot_path(args: argparse.Namespace) -> dict[str, Any]:
    from syrupy.extensions.amber import AmberDataSerializer
    from syrupy.extensions.json import JSONSnapshotExtension

    from agentrig.drift import compare
    from agentrig.normalize import dumps, loads, normalize

    # ``--cpu``: process time instead of wall time, for A/B runs on a machine shared with
    # other work (the collector's time still counts: it runs in this process).
    clock = time.process_time if args.cpu else time.perf_counter

    def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
        t0 = clock()
        value = fn()
        return clock() - t0, value

    build_s, rec = _timed(lambda: build_broadcast_recording(args.agents, args.spans_per_agent))
    stored = dumps(normalize(rec))  # the snapshot file, as recorded earlier
    # The stored document as plain dicts/lists: what syrupy's serializers get (the same data).
    plain_doc = loads(stored)
    amber_stored = AmberDataSerializer.serialize(plain_doc)
    json_ext = JSONSnapshotExtension()
    gc_timer = _GcTimer()
    gc.callbacks.append(gc_timer)

    names = ["normalize", "dumps", "bytes_equal", "loads", "compare", "match_path"]
    names += ["semantic_path", "semantic_path_gc", "drift_compare", "amber_serialize"]
    names += ["amber_path", "syrupy_json_serialize"]
    phases: dict[str, list[float]] = {k: [] for k in names}
    # Only what one test would hold stays alive between runs: the recording and the stored
    # snapshot (every extra live object makes each full GC pass slower for everyone).
    for _ in range(args.repeat):
        gc.collect()
        gc_before = gc_timer.seconds
        t_norm, doc = _timed(lambda: normalize(rec))
        t_dumps, data = _timed(lambda d=doc: dumps(d))
        t_eq, same = _timed(lambda d=data: d == stored)
        t_loads, exp = _timed(lambda: loads(stored))
        t_cmp, report = _timed(lambda e=exp, d=doc: compare(e, d))
        gc_s = gc_timer.seconds - gc_before
        assert same and not report.has_changes, "the benchmark recording is not deterministic"
        del doc, data, exp, report
        phases["normalize"].append(t_norm)
        phases["dumps"].append(t_dumps)
        phases["bytes_equal"].append(t_eq)
        phases["loads"].append(t_loads)
        phases["compare"].append(t_cmp)
        phases["match_path"].append(t_norm + t_dumps + t_eq)
        phases["semantic_path"].append(t_norm + t_dumps + t_loads + t_cmp)
        phases["semantic_path_gc"].append(gc_s)
        gc.collect()
        t_amber, text = _timed(lambda: AmberDataSerializer.serialize(plain_doc))
        t_amber_eq, amber_same = _timed(lambda t=text: t == amber_stored)
        assert amber_same
        del text
        phases["amber_serialize"].append(t_amber)
        phases["amber_path"].append(t_amber + t_amber_eq)
        gc.collect()
        t_json, _ = _timed(lambda: json_ext.serialize(plain_doc))
        phases["syrupy_json_serialize"].append(t_json)
    # A drifted twin (one agent fails, one reply changed): the report a failing test builds.
    drifted_doc = normalize(build_broadcast_recording(args.agents, args.spans_per_agent, variant=1))
    drift_changes = drift_roots = 0
    for _ in range(args.repeat):
        gc.collect()
        t_drift, drift = _timed(lambda: compare(plain_doc, drifted_doc))
        drift_changes, drift_roots = len(drift.changes), len(drift.roots)
        phases["drift_compare"].append(t_drift)
    del drift
    # Every reply changed: the report's grouping must stay linear in the number of changes.
    wide_doc = normalize(build_broadcast_recording(args.agents, args.spans_per_agent, variant=2))
    wide_changes = wide_roots = 0
    phases["drift_compare_wide"] = []
    for _ in range(args.repeat):
        gc.collect()
        t_wide, wide = _timed(lambda: compare(plain_doc, wide_doc))
        wide_changes, wide_roots = len(wide.changes), len(wide.roots)
        phases["drift_compare_wide"].append(t_wide)
    gc.callbacks.remove(gc_timer)
    small = _small_normalize(args.small, clock) if args.small else None
    return {
        "small_normalize": small,
        "clock": "process" if args.cpu else "wall",
        "spans": len(rec.spans),
        "entries": len(rec.entries),
        "events": sum(len(s.events) for s in rec.spans),
        "snapshot_bytes": len(stored),
        "amber_chars": len(amber_stored),
        "build_s": build_s,
        "drift_changes": drift_changes,
        "drift_roots": drift_roots,
        "wide_changes": wide_changes,
        "wide_roots": wide_roots,
        "samples": phases,
    }


# -- figure 4: scale ------------------------------------------------------------------------


def _rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cmd_scale(args: argparse.Namespace) -> dict[str, Any]:
    import agentrig
    from agentrig.fake import FakeModel
    from agentrig.normalize import dumps, normalize
    from agentrig.patterns import run_broadcast
    from agentrig.recording import Recording

    rss_before = _rss_mb()
    gc_timer = _GcTimer()
    gc.callbacks.append(gc_timer)
    t0 = time.perf_counter()
    model = FakeModel(latency=2.0)
    agents = [model.agent(f"agent_{i:05d}", reply=f"answer {i}") for i in range(args.agents)]
    aggregator = model.agent("editor", reply="the synthesis")
    rec = Recording("benchmarks::scale")
    t1 = time.perf_counter()
    with rec.activate():
        result = agentrig.run(run_broadcast(agents, "one question", aggregator=aggregator))
    t2 = time.perf_counter()
    doc = normalize(rec)
    t3 = time.perf_counter()
    gc.callbacks.remove(gc_timer)
    data = dumps(doc)
    t4 = time.perf_counter()
    assert len(result.succeeded) == args.agents
    return {
        "agents": args.agents,
        "spans": len(rec.spans),
        "entries": len(rec.entries),
        "snapshot_bytes": len(data),
        "setup_s": t1 - t0,
        "run_s": t2 - t1,
        "normalize_s": t3 - t2,
        "dumps_s": t4 - t3,
        "wall_s": t3 - t0,  # the figure: agents built, broadcast recorded, recording normalized
        "gc_s": gc_timer.seconds,
        "gc_collections": gc_timer.collections,
        "rss_baseline_mb": rss_before,
        "peak_rss_mb": _rss_mb(),
    }


# -- entry point ------------------------------------------------------------------------------


def cmd_charge(args: argparse.Namespace) -> dict[str, Any]:
    """The money path alone: ``StageBudget.charge`` and ``can_afford`` with Decimal, float and
    str amounts, recorded (what every model call does: a price in Decimal, a reserve, a
    charge); the median of ``repeat`` timings of ``charges`` operations per kind, in CPU time
    (``process_time``: on a loaded machine wall time mostly measures the neighbours)."""
    from decimal import Decimal

    from agentrig.budget import BudgetPool
    from agentrig.recording import Recording

    kinds: dict[str, object] = {
        "decimal": Decimal("0.0000575"),
        "float": 0.0000575,
        "str": "0.0000575",
    }
    out: dict[str, Any] = {"charges": args.charges}
    for kind, amount in kinds.items():
        times = []
        for _ in range(args.repeat):
            rec = Recording("benchmarks::charge")
            pool = BudgetPool(usd=10)
            with rec.activate(), pool.acquire_nowait(name="stage") as stage:
                t0 = time.process_time()
                for _ in range(args.charges):
                    stage.can_afford(amount)
                    stage.charge(amount, tokens=10)
                times.append(time.process_time() - t0)
        times.sort()
        out[f"{kind}_us"] = times[len(times) // 2] / args.charges * 1e6
    return out


# -- figure 3's ``work``, per call: the 3-stage pipeline on fakes and its normalize -----------


async def pipeline_flow(i: int) -> None:
    """The pipeline of figure 3's suites (benchmarks/suites.py ``_FLOW``), on a fresh fake."""
    from agentrig import BudgetPool
    from agentrig.fake import FakeModel
    from agentrig.patterns import run_pipeline

    fake_model, pool = FakeModel(), BudgetPool(usd=0.10)
    research = fake_model.agent("research", reply=f"notes about topic {i}", latency=1.0)
    draft = fake_model.agent("draft", reply=lambda p: f"report on {p[:20]}", latency=2.0)
    review = fake_model.agent("review", reply="APPROVED", latency=0.5)
    stages = [("research", research, 0.04), ("draft", draft, 0.04), ("review", review, 0.02)]
    await run_pipeline(stages, f"topic {i}", pool=pool)


def cmd_pipeline(args: argparse.Namespace) -> dict[str, Any]:
    """What figure 3's ``work`` test does per test, without pytest: a ``Recording``, the
    pipeline under ``agentrig.run`` (run phase), then ``normalize`` of the recording. Medians
    of ``repeat`` timings of ``calls`` calls each, in CPU time per call (``process_time``)."""
    import agentrig
    from agentrig.normalize import normalize
    from agentrig.recording import Recording

    def one(i: int) -> Recording:
        rec = Recording(f"benchmarks::pipeline[{i}]")
        with rec.activate():
            agentrig.run(pipeline_flow(i))
        return rec

    for i in range(args.warmup):
        normalize(one(i))
    run_s: list[float] = []
    normalize_s: list[float] = []
    for _ in range(args.repeat):
        t0 = time.process_time()
        recs = [one(i) for i in range(args.calls)]
        t1 = time.process_time()
        for rec in recs:
            normalize(rec)
        t2 = time.process_time()
        run_s.append((t1 - t0) / args.calls)
        normalize_s.append((t2 - t1) / args.calls)
        del recs
    total = sorted(r + n for r, n in zip(run_s, normalize_s, strict=True))
    return {
        "calls": args.calls,
        "spans": len(one(0).spans),
        "entries": len(one(0).entries),
        "run_us": sorted(run_s)[len(run_s) // 2] * 1e6,
        "normalize_us": sorted(normalize_s)[len(normalize_s) // 2] * 1e6,
        "total_us": total[len(total) // 2] * 1e6,
        "samples": {"run_s": run_s, "normalize_s": normalize_s},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("virtual-time")
    p.add_argument("--loops", default="agentrig")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--warmup", type=int, default=20)
    p.set_defaults(func=cmd_virtual_time)
    p = sub.add_parser("sleeps")
    p.add_argument("--loops", default="agentrig")
    p.add_argument("--tasks", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=5)
    p.set_defaults(func=cmd_sleeps)
    p = sub.add_parser("snapshot-path")
    p.add_argument("--agents", type=int, default=1_000)
    p.add_argument("--spans-per-agent", type=int, default=10)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--cpu", action="store_true", help="time with process time, not wall time")
    p.add_argument(
        "--small", type=int, default=0, help="also normalize the 3-stage pipeline N times"
    )
    p.set_defaults(func=cmd_snapshot_path)
    p = sub.add_parser("scale")
    p.add_argument("--agents", type=int, default=10_000)
    p.set_defaults(func=cmd_scale)
    p = sub.add_parser("charge")
    p.add_argument("--charges", type=int, default=20_000)
    p.add_argument("--repeat", type=int, default=5)
    p.set_defaults(func=cmd_charge)
    p = sub.add_parser("pipeline")
    p.add_argument("--calls", type=int, default=500)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--warmup", type=int, default=50)
    p.set_defaults(func=cmd_pipeline)
    args = parser.parse_args(argv)
    result = args.func(args)
    result["python"] = sys.version.split()[0]
    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
