"""A process killed (SIGKILL) while it writes a cassette leaves the old file or the new one.

A child process rewrites one large cassette over and over, alternating two versions that
differ in content and size, and reports each finished write on stdout; the parent kills it
after a random number of writes (so the kill lands anywhere inside the next one). After every
kill the file is one complete version, and only hidden temporary files are left beside it.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agentrig.cassette import (
    CassetteRules,
    Interaction,
    Request,
    Response,
    dumps_cassette,
    read_cassette,
)

KILLS = 12

CHILD = """
import sys
from pathlib import Path

from agentrig.cassette import Interaction, Request, Response, write_cassette


def version(tag, size):
    return [
        Interaction(
            Request("openai", "POST", "/v1/chat/completions", False, {"model": "m", "n": i}),
            Response(200, {"content-type": "application/json"}, body={"text": tag * size}),
            latency=0.1,
        )
        for i in range(20)
    ]


path = Path(sys.argv[1])
versions = [version("o", 20_000), version("n", 30_000)]
i = 0
while True:
    write_cassette(path, "tests/test_x.py::test_y", versions[i % 2])
    i += 1
    print(i, flush=True)
"""


def _version(tag: str, size: int) -> list[Interaction]:
    return [
        Interaction(
            Request("openai", "POST", "/v1/chat/completions", False, {"model": "m", "n": i}),
            Response(200, {"content-type": "application/json"}, body={"text": tag * size}),
            latency=0.1,
        )
        for i in range(20)
    ]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX")
def test_sigkill_during_cassette_writes_leaves_each_file_old_or_new(tmp_path: Path) -> None:
    old = dumps_cassette("tests/test_x.py::test_y", _version("o", 20_000))
    new = dumps_cassette("tests/test_x.py::test_y", _version("n", 30_000))
    path = tmp_path / "snapshots" / "test_y.cassette.json"
    path.parent.mkdir()
    path.write_bytes(old)
    rng = random.Random(1234)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for _ in range(KILLS):
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, env=env
        )
        assert proc.stdout is not None
        for _ in range(rng.randrange(0, 4)):
            proc.stdout.readline()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        data = path.read_bytes()
        assert data in (old, new), f"torn cassette: {len(data)} bytes"
        assert read_cassette(path, rules=CassetteRules()).name == "tests/test_x.py::test_y"
        others = [p.name for p in path.parent.iterdir() if p != path]
        assert all(name.startswith(".") and name.endswith(".tmp") for name in others), others
