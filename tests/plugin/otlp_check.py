"""Parse OTLP/JSON with opentelemetry-proto's own classes (the schema the export must meet)."""

from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

_ID_KEYS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}


def parse(data: bytes | str) -> ExportTraceServiceRequest:
    """Parse OTLP/JSON with protobuf's JSON parser (ids are hex in OTLP/JSON, base64 in proto3
    JSON: the one documented difference, converted here and checked for length)."""

    def convert(value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if k in _ID_KEYS:
                    raw = bytes.fromhex(v)
                    assert len(raw) == _ID_KEYS[k], (k, v)
                    out[k] = base64.b64encode(raw).decode()
                else:
                    out[k] = convert(v)
            return out
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    message = ExportTraceServiceRequest()
    json_format.Parse(json.dumps(convert(json.loads(data))), message)
    return message
