"""agentrig: deterministic, snapshot-based regression tests for multi-agent LLM systems."""
