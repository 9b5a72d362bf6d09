"""A small OpenAI- and Anthropic-compatible HTTP server on 127.0.0.1 (real sockets, real SSE).

It answers ``POST /v1/chat/completions`` (plain, streamed with ``include_usage``, tool calls:
a request offering tools whose last message is not a tool result gets a ``get_weather`` call)
and ``POST /v1/messages`` (plain and streamed; offering tools gets a ``tool_use`` block until
a ``tool_result`` is sent). Replies echo the last message and number the
calls, so FIFO replay is visible; a prompt holding ``leak`` gets the caller's API key back in
the reply (redaction of responses). Every reply varies by run (ids, ``created``), and carries
headers a cassette must not keep (``set-cookie``, ``x-request-id``).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class LlmServer:
    url: str
    seen: list[Seen] = field(default_factory=list)
    calls: int = 0


def _last_text(messages: list[Any]) -> tuple[str, str]:
    last = messages[-1] if messages else {}
    content = last.get("content", "")
    if isinstance(content, list):
        content = "".join(
            str(p.get("text") or p.get("content") or "") for p in content if isinstance(p, dict)
        )
    return str(last.get("role", "user")), str(content)


def _tool_result(blocks: list[Any]) -> str:
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            content = block.get("content")
            if isinstance(content, list):
                return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return str(content)
    return ""


def _handler(server: LlmServer, delay: float) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            if delay:
                # The real latency a recording must store (server side: the test's own clock
                # is virtual and must not move while this reply is on its way).
                time.sleep(delay)
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            headers = {k.lower(): v for k, v in self.headers.items()}
            with lock:
                server.seen.append(Seen(self.path, headers, body))
                server.calls += 1
                n = server.calls
            key = headers.get("authorization", "").removeprefix("Bearer ") or headers.get(
                "x-api-key", ""
            )
            role, text = _last_text(body.get("messages") or [])
            reply = f"echo #{n}: {text}" if role != "tool" else f"the tool said {text}"
            if "leak" in text:
                reply = f"your key is {key}"
            if self.path.endswith("/chat/completions"):
                self._openai(body, reply, role)
            elif self.path.endswith("/messages"):
                self._anthropic(body, reply)
            else:
                self._send(404, "application/json", b'{"error": "not found"}')

        def _send(self, status: int, ctype: str, data: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(data)))
            self.send_header("set-cookie", "session=s3cr3t-cookie; Path=/")
            self.send_header("x-request-id", str(uuid.uuid4()))
            self.end_headers()
            self.wfile.write(data)

        def _openai(self, body: dict[str, Any], reply: str, role: str) -> None:
            model = "gpt-4o-mini-2024-07-18"
            usage = {"prompt_tokens": 7 + len(reply) % 5, "completion_tokens": 3 + len(reply) // 4}
            common = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": 1764590000, "model": model}
            tool = bool(body.get("tools")) and role != "tool"
            if tool:
                call = {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
                message: dict[str, Any] = {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [call],
                }
                finish = "tool_calls"
            else:
                message = {"role": "assistant", "content": reply}
                finish = "stop"
            if not body.get("stream"):
                doc = {
                    **common,
                    "object": "chat.completion",
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    "usage": usage,
                }
                self._send(200, "application/json", json.dumps(doc).encode())
                return
            chunks: list[dict[str, Any]] = []
            base = {**common, "object": "chat.completion.chunk"}
            chunks.append({**base, "choices": [{"index": 0, "delta": {"role": "assistant"}}]})
            if tool:
                delta = {"tool_calls": [{"index": 0, **call}]}
                chunks.append({**base, "choices": [{"index": 0, "delta": delta}]})
            else:
                half = len(reply) // 2
                for piece in (reply[:half], reply[half:]):
                    chunks.append({**base, "choices": [{"index": 0, "delta": {"content": piece}}]})
            chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
            if (body.get("stream_options") or {}).get("include_usage"):
                chunks.append({**base, "choices": [], "usage": usage})
            data = b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks)
            self._send(200, "text/event-stream", data + b"data: [DONE]\n\n")

        def _anthropic(self, body: dict[str, Any], reply: str) -> None:
            model = body.get("model", "claude-sonnet-4-6")
            msg_id = f"msg_{uuid.uuid4().hex}"
            usage = {"input_tokens": 11, "output_tokens": 2 + len(reply) // 4}
            last = (body.get("messages") or [{}])[-1].get("content")
            answered = isinstance(last, list) and any(
                isinstance(b, dict) and b.get("type") == "tool_result" for b in last
            )
            content: list[dict[str, Any]] = [{"type": "text", "text": reply}]
            stop = "end_turn"
            if body.get("tools") and not answered:
                content = [
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": body["tools"][0]["name"],
                        "input": {"city": "Paris"},
                    }
                ]
                stop = "tool_use"
            elif answered:
                content = [{"type": "text", "text": f"the tool said {_tool_result(last)}"}]
            if not body.get("stream"):
                doc = {
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": content,
                    "stop_reason": stop,
                    "stop_sequence": None,
                    "usage": usage,
                }
                self._send(200, "application/json", json.dumps(doc).encode())
                return
            start = {
                "type": "message_start",
                "message": {
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 11, "output_tokens": 1},
                },
            }
            half = len(reply) // 2
            events: list[tuple[str, dict[str, Any]]] = [
                ("message_start", start),
                (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "text", "text": ""},
                    },
                ),
            ]
            for piece in (reply[:half], reply[half:]):
                delta = {"type": "text_delta", "text": piece}
                events.append(
                    (
                        "content_block_delta",
                        {"type": "content_block_delta", "index": 0, "delta": delta},
                    )
                )
            events += [
                ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                (
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                        "usage": {"output_tokens": usage["output_tokens"]},
                    },
                ),
                ("message_stop", {"type": "message_stop"}),
            ]
            data = b"".join(
                f"event: {name}\ndata: {json.dumps(doc)}\n\n".encode() for name, doc in events
            )
            self._send(200, "text/event-stream", data)

    return Handler


@contextmanager
def llm_server(*, delay: float = 0.0) -> Iterator[LlmServer]:
    """Run the server on a free port of 127.0.0.1 for the block (answering after ``delay``
    real seconds)."""
    state = LlmServer(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state, delay))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
