"""The OpenAI-SDK reply step, replayed from its cassette: offline, free, byte-stable.

Recorded once with ``OPENAI_BASE_URL=... OPENAI_API_KEY=... pytest
examples/tests/test_reply_on_openai.py --agentrig-record --snapshot-update`` (this cassette
against a local OpenAI-compatible server). Replay needs no key and no network; a prompt
change in ``support_triage.openai_reply`` fails with the request diff and the command to
re-record.
"""

from __future__ import annotations

import os

import openai
from support_triage.openai_reply import classify_and_reply

from agentrig import Recording


async def test_reply_step_replays_its_recorded_model_calls(
    llm_cassette, agent_recording: Recording, agent_snapshot
) -> None:
    client = openai.AsyncOpenAI(
        base_url=os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1"),
        api_key=os.environ.get("OPENAI_API_KEY", "unused-in-replay"),
    )
    reply = await classify_and_reply(client, "I was charged twice this month", model="gpt-4o-mini")

    assert "charged twice" in reply
    if llm_cassette.mode == "replay":
        assert llm_cassette.calls == ("replayed #0", "replayed #1")
    assert [
        s.attributes["gen_ai.request.model"] for s in agent_recording.spans_named("model.call")
    ] == [
        "gpt-4o-mini",
        "gpt-4o-mini",
    ]
    assert agent_recording == agent_snapshot
