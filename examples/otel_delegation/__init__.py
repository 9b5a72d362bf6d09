"""A research desk: a coordinator agent delegates to a researcher agent, which uses a search tool.

Built on pydantic-ai with its OpenTelemetry instrumentation on, as a production service would run
it (the spans go to whatever tracer provider the service configured). The tests run it under
agentrig: its spans land in each test's recording and snapshot.
"""

from otel_delegation.app import KNOWLEDGE, answer, coordinator, researcher

__all__ = ["KNOWLEDGE", "answer", "coordinator", "researcher"]
