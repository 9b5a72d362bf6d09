"""Real I/O on the virtual loop: real work in flight holds the clock; idle connections do not.

The servers are real (a threading HTTP server on 127.0.0.1, started here) and so are the
clients (httpx, the openai and anthropic SDKs, aiohttp), with their default timeouts. Each
reply takes ~200 ms of real time while the client's own timeout timer is pending: a clock that
jumped would fire it. Every case runs 20 times and must give the same virtual timestamps: the
20 runs of a client go at once, each on its own loop in its own thread (real waits overlap, so
the file costs ~1 s of real time per client instead of ~10; the server answers concurrently).
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from agentrig import StallError
from agentrig.clock import VirtualEventLoop, run

REPLY_SECONDS = 0.2  # longer than the loop's grace for a reply (clock._REPLY_GRACE_SECONDS)
RUNS = 20

OPENAI_REPLY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 0,
    "model": "gpt-4o-mini",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}
ANTHROPIC_REPLY = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-test",
    "content": [{"type": "text", "text": "hi"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 1, "output_tokens": 1},
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: idle pooled connections between requests

    def do_GET(self) -> None:
        self._reply({"ok": True})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        if self.path.endswith("/chat/completions"):
            server: _Server = self.server  # type: ignore[assignment]
            with server.lock:
                server.posts += 1
                fail = server.fail_first and server.posts % 2 == 1
            if fail:
                self._reply({"error": {"message": "boom", "type": "server_error"}}, status=500)
                return
            self._reply(OPENAI_REPLY)
        elif self.path.endswith("/messages"):
            self._reply(ANTHROPIC_REPLY)
        else:
            self._reply({"ok": True})

    def _reply(self, body: dict[str, Any], status: int = 200) -> None:
        time.sleep(REPLY_SECONDS)  # the "model" thinking: real time, in the server's thread
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 4 * RUNS  # every run connects at once
    lock = threading.Lock()
    posts = 0
    fail_first = False


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


async def _timed(request: Callable[[], Coroutine[Any, Any, object]]) -> list[float]:
    """Sleep 1 s, make two requests (the second on a pooled keep-alive connection), sleep again;
    with an unrelated ``sleep(30)`` pending throughout. Returns the virtual timestamps."""
    loop = asyncio.get_running_loop()
    unrelated = asyncio.ensure_future(asyncio.sleep(30))
    stamps = []
    await asyncio.sleep(1)
    stamps.append(loop.time())
    await request()
    stamps.append(loop.time())
    await request()
    stamps.append(loop.time())
    await asyncio.sleep(2)  # the idle keep-alive connection must not hold the clock
    stamps.append(loop.time())
    await unrelated
    stamps.append(loop.time())
    return stamps


EXPECTED = [1.0, 1.0, 1.0, 3.0, 30.0]


def _runs(main: Callable[[], Coroutine[Any, Any, list[float]]]) -> list[list[float]]:
    """``run(main())`` ``RUNS`` times at once, each on a virtual loop of its own thread."""
    with ThreadPoolExecutor(max_workers=RUNS) as pool:
        return list(pool.map(lambda _: run(main()), range(RUNS)))


def test_httpx_request_with_default_timeout_is_waited_for(server: str) -> None:
    import httpx

    async def main() -> list[float]:
        async with httpx.AsyncClient() as client:

            async def request() -> None:
                response = await client.get(server + "/plain")
                assert response.json() == {"ok": True}

            return await _timed(request)

    assert _runs(main) == [EXPECTED] * RUNS


def test_openai_sdk_request_with_default_timeout_is_waited_for(server: str) -> None:
    import openai

    async def main() -> list[float]:
        async with openai.AsyncOpenAI(base_url=server + "/v1", api_key="sk-test") as client:

            async def request() -> None:
                reply = await client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}]
                )
                assert reply.choices[0].message.content == "hi"

            return await _timed(request)

    assert _runs(main) == [EXPECTED] * RUNS


def test_anthropic_sdk_request_with_default_timeout_is_waited_for(server: str) -> None:
    import anthropic

    async def main() -> list[float]:
        async with anthropic.AsyncAnthropic(base_url=server, api_key="sk-ant-test") as client:

            async def request() -> None:
                reply = await client.messages.create(
                    model="claude-test",
                    max_tokens=10,
                    messages=[{"role": "user", "content": "hello"}],
                )
                assert reply.content[0].text == "hi"  # type: ignore[union-attr]

            return await _timed(request)

    assert _runs(main) == [EXPECTED] * RUNS


def test_aiohttp_request_with_default_timeout_is_waited_for(server: str) -> None:
    import aiohttp

    async def main() -> list[float]:
        async with aiohttp.ClientSession() as session:

            async def request() -> None:
                async with session.get(server + "/plain") as response:
                    assert await response.json() == {"ok": True}

            return await _timed(request)

    assert _runs(main) == [EXPECTED] * RUNS


def test_an_aiohttp_server_on_the_same_loop_answers_in_virtual_time() -> None:
    """A connection to a server of this loop is not outside work: its handler's virtual sleep
    passes in no real time (the clock is not held waiting for a reply only it can make)."""
    import aiohttp
    from aiohttp import web

    async def main() -> tuple[str, float, float]:
        async def slow(request: web.Request) -> web.Response:
            await asyncio.sleep(45)  # virtual latency of a fake backend
            return web.Response(text="slow ok")

        app = web.Application()
        app.router.add_get("/", slow)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{port}/") as response,
            ):
                text = await response.text()
        finally:
            await runner.cleanup()
        return text, loop.time(), time.perf_counter() - started

    text, now, real = run(main())
    assert (text, now) == ("slow ok", 45.0)
    assert real < 5  # not the stall guard's, nor any real, wait


def test_a_server_that_never_answers_is_a_stall_naming_the_socket() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    async def main() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"PING\n")
            async with asyncio.timeout(600):  # would fire at once if the clock jumped
                await reader.readline()
        finally:  # (runs when the runner cancels this task after the StallError)
            writer.close()

    try:
        named = rf"(?s)socket 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:{port}: written to, no reply"
        with pytest.raises(StallError, match=named):
            run(main(), real_work_timeout=0.3)
    finally:
        listener.close()


# -- child processes ----------------------------------------------------------------------------


@pytest.mark.parametrize("attempt", range(RUNS))
def test_wait_for_a_short_subprocess_succeeds(attempt: int) -> None:
    async def main() -> tuple[int, float]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "import time; time.sleep(0.2)"
        )
        code = await asyncio.wait_for(proc.wait(), 10)
        return code, asyncio.get_running_loop().time()

    assert run(main()) == (0, 0.0)


def test_a_subprocess_longer_than_the_stall_timeout_is_waited_for() -> None:
    """Real work in flight is bounded by ``real_work_timeout`` (60 s), not the 2 s stall timeout."""

    async def main() -> tuple[bytes, float]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import time; time.sleep(3); print('done')",
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 10)
        return out, asyncio.get_running_loop().time()

    out, now = run(main(), stall_timeout=2)
    assert (out.strip(), now) == (b"done", 0.0)


def test_a_hung_subprocess_is_a_stall_naming_the_process() -> None:
    async def main() -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "import time; time.sleep(30)"
        )
        try:
            await asyncio.wait_for(proc.wait(), 100)
        finally:
            proc.kill()
            await proc.wait()

    with pytest.raises(StallError, match=r"child process \d+ \(.*python.* -c 'import time"):
        run(main(), real_work_timeout=0.3)


SERVER_CHILD = """
import sys
for line in sys.stdin:
    sys.stdout.write(line.upper())
    sys.stdout.flush()
"""


def test_a_child_server_on_stdio_holds_the_clock_only_while_a_request_is_unanswered() -> None:
    """An MCP-style child: between requests it is idle, and virtual sleeps pass at once."""

    async def main() -> list[object]:
        loop = asyncio.get_running_loop()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SERVER_CHILD,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdin is not None and proc.stdout is not None
        seen: list[object] = []
        for word in (b"one", b"two"):
            proc.stdin.write(word + b"\n")
            async with asyncio.timeout(30):  # would fire at once if the clock jumped
                seen.append(await proc.stdout.readline())
            seen.append(loop.time())
            await asyncio.sleep(100)  # the idle server must not hold the clock
            seen.append(loop.time())
        proc.stdin.close()
        await proc.wait()
        return seen

    started = time.perf_counter()
    assert run(main()) == [b"ONE\n", 0.0, 100.0, b"TWO\n", 100.0, 200.0]
    assert time.perf_counter() - started < 10


# -- an in-loop, pure-virtual connection is unaffected -------------------------------------------


def test_a_loop_without_real_work_reports_none() -> None:
    loop = VirtualEventLoop()
    try:
        assert not loop.has_real_work()
    finally:
        loop.close()
