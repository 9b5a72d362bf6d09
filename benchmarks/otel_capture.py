"""Workload for figure 7: what OpenTelemetry capture adds per span (prints JSON to stdout).

One "test": 10,000 spans from an instrumented library (the OpenTelemetry SDK, three attributes
each, nested one level under a parent span) on agentrig's virtual loop. Timed three ways,
interleaved round by round so machine noise hits all alike:

* ``sdk`` — the user's SDK provider alone, no agentrig (the baseline);
* ``idle`` — agentrig's processor on that provider but no recording active (what it costs a
  test that does not use agentrig: a context-variable read per span);
* ``capture`` — a recording active and capturing: every span copied into it.

Timed in CPU time of this process (``time.process_time``): on a machine shared with other jobs
wall-clock time mostly measures waiting for a core, and this workload does no I/O.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from opentelemetry.sdk.trace import TracerProvider

import agentrig
from agentrig import otel
from agentrig.recording import Recording


def spans(tracer: object, n: int) -> None:
    start = tracer.start_as_current_span  # type: ignore[attr-defined]

    async def work() -> None:
        with start("invoke_agent bench"):
            for i in range(n):
                with start(
                    "execute_tool search",
                    attributes={"gen_ai.tool.name": "search", "i": i, "ok": True},
                ):
                    pass

    agentrig.run(work())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    plain = TracerProvider(shutdown_on_exit=False)
    hooked = TracerProvider(shutdown_on_exit=False)
    hooked.add_span_processor(otel.processor())  # type: ignore[arg-type]
    plain_tracer = plain.get_tracer("bench")
    hooked_tracer = hooked.get_tracer("bench")
    samples: dict[str, list[float]] = {"sdk": [], "idle": [], "capture": []}
    captured = 0
    spans(plain_tracer, 100)  # warm up
    for _ in range(args.rounds):
        t = time.process_time()
        spans(plain_tracer, args.spans)
        samples["sdk"].append(time.process_time() - t)
        t = time.process_time()
        spans(hooked_tracer, args.spans)
        samples["idle"].append(time.process_time() - t)
        rec = Recording("bench")
        t = time.process_time()
        with rec.activate():
            spans(hooked_tracer, args.spans)
        samples["capture"].append(time.process_time() - t)
        captured = len(rec.spans)
    medians = {k: statistics.median(v) for k, v in samples.items()}
    print(
        json.dumps(
            {
                "spans": args.spans,
                "captured": captured,
                "samples": samples,
                "median": medians,
                "per_span_capture_us": (medians["capture"] - medians["sdk"]) / args.spans * 1e6,
                "per_span_idle_us": (medians["idle"] - medians["sdk"]) / args.spans * 1e6,
            }
        )
    )


if __name__ == "__main__":
    main()
