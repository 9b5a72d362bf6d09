"""Attributes instrumentations measure on the real clock, or that name a loopback server's
ephemeral port, must not reach a snapshot as they are: the same run would differ every time
(the anthropic SDK's own span carries ``gen_ai.response.time_to_first_chunk``)."""

from __future__ import annotations

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import TracerProvider

from agentrig.otel import WALL_CLOCK_PLACEHOLDER, capture_spans
from agentrig.recording import Recording


def _captured(attributes: dict[str, object]) -> dict[str, object]:
    provider = TracerProvider()
    rec = Recording("t")
    with rec.activate(), capture_spans(rec):
        from agentrig import otel

        otel._add_first(provider, otel.processor())
        with provider.get_tracer("lib").start_as_current_span("call", attributes=attributes):
            pass
    (span,) = [s for s in rec.spans if s.name == "call"]
    return dict(span.attributes)


def test_wall_clock_durations_and_loopback_ports_become_placeholders() -> None:
    got = _captured(
        {
            "gen_ai.response.time_to_first_chunk": 0.0707,
            "gen_ai.client.operation.duration": 1.25,
            "http.client.request.duration_ms": 12,
            "server.address": "127.0.0.1",
            "server.port": 40123,
            "url.full": "http://127.0.0.1:40123/v1/messages",
            "gen_ai.usage.output_tokens": 7,
            "gen_ai.request.max_tokens": 100,
        }
    )
    assert got["gen_ai.response.time_to_first_chunk"] == WALL_CLOCK_PLACEHOLDER
    assert got["gen_ai.client.operation.duration"] == WALL_CLOCK_PLACEHOLDER
    assert got["http.client.request.duration_ms"] == WALL_CLOCK_PLACEHOLDER
    assert got["server.port"] == "<port>"
    assert got["url.full"] == "http://127.0.0.1:<port>/v1/messages"
    assert got["gen_ai.usage.output_tokens"] == 7  # counts are not durations
    assert got["gen_ai.request.max_tokens"] == 100


def test_a_remote_server_keeps_its_port() -> None:
    got = _captured(
        {
            "server.address": "api.anthropic.com",
            "server.port": 443,
            "url.full": "https://api.anthropic.com/v1/messages",
        }
    )
    assert got["server.port"] == 443
    assert got["url.full"] == "https://api.anthropic.com/v1/messages"
