"""The reply step written directly on the official OpenAI SDK, as teams write it today.

No agentrig in here: the tests answer these calls from a cassette (``llm_cassette``), recorded
once against a real endpoint, so CI runs them offline and for free.
"""

from __future__ import annotations

import openai

SYSTEM = "You are a support agent. Classify the ticket, then write a short, friendly reply."


async def classify_and_reply(client: openai.AsyncOpenAI, ticket: str, *, model: str) -> str:
    """Ask for the category, then stream the reply (two calls, the second streamed)."""
    category = await client.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Category of: {ticket}"},
        ],
    )
    label = (category.choices[0].message.content or "").strip()
    stream = await client.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Reply to this {label!r} ticket: {ticket}"},
        ],
        stream=True,
        stream_options={"include_usage": True},
    )
    parts = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
    return "".join(parts)
