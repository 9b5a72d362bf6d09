"""Figure 7's workload: N openai-SDK chat calls answered by FakeModel vs N ``FakeAgent.run``.

Usage (``run.py`` does this)::

    python benchmarks/sdk_calls.py --calls 1000 --rounds 5

Both sides run as a test would: a fresh :class:`~agentrig.VirtualEventLoop`, an active
:class:`~agentrig.Recording` (every call is a recorded span), one FakeModel agent with a fixed
reply. The SDK side builds one ``openai.AsyncOpenAI`` client per round and sends every call
through the real SDK, httpx2 and agentrig's transport seam; the baseline awaits
``agent.run(prompt)``. A third side, the SDK's own floor, sends the same calls through the SDK
to an ``httpx2.MockTransport`` that returns a canned completion (no agentrig in the path): what
the SDK costs by itself. Rounds alternate between the sides so that machine noise hits all
alike. Prints one JSON object: wall and CPU seconds per round, per side.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import orjson

CANNED = orjson.dumps(
    {
        "id": "chatcmpl-bench-1",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "a fixed reply of a few words"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 7, "total_tokens": 10},
    }
)


def _round(kind: str, calls: int) -> tuple[float, float]:
    import httpx2
    import openai

    from agentrig.clock import VirtualEventLoop
    from agentrig.fake import FakeModel
    from agentrig.providers import intercept
    from agentrig.providers.responder import FakeModelResponder
    from agentrig.recording import Recording

    fake = FakeModel()
    agent = fake.agent("bench", model="gpt-4o-mini", reply="a fixed reply of a few words")
    loop = VirtualEventLoop()
    recording = Recording("bench")
    recording.bind_loop(loop)

    async def sdk() -> None:
        if kind == "floor":
            transport = httpx2.MockTransport(lambda request: httpx2.Response(200, content=CANNED))
            http_client = httpx2.AsyncClient(transport=transport)
            client = openai.AsyncOpenAI(api_key="bench", http_client=http_client)
        else:
            client = openai.AsyncOpenAI(api_key="bench")
        messages = [{"role": "user", "content": "summarize the ticket"}]
        for _ in range(calls):
            await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        await client.close()

    async def direct() -> None:
        for _ in range(calls):
            await agent.run("summarize the ticket")

    try:
        with recording.activate(), intercept.activate(FakeModelResponder(fake)):
            start, cpu = time.perf_counter(), time.process_time()
            loop.run_until_complete(direct() if kind == "run" else sdk())
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        loop.close()
    if kind != "floor":
        assert len(fake.calls) == calls and len(recording.spans_named("chat gpt-4o-mini")) == calls
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    kinds = ("sdk", "floor", "run")
    for kind in kinds:  # warm-up: imports, the SDK's lazy set-up
        _round(kind, min(args.calls, 20))
    out: dict[str, Any] = {"calls": args.calls}
    for kind in kinds:
        out[kind] = {"wall": [], "cpu": []}
    for _ in range(args.rounds):
        for kind in kinds:
            wall, cpu = _round(kind, args.calls)
            out[kind]["wall"].append(wall)
            out[kind]["cpu"].append(cpu)
    print(orjson.dumps(out).decode())


if __name__ == "__main__":
    main()
