"""Secrets never reach disk or the terminal; snapshots are data only and cannot exhaust memory.

* Secrets — API keys (``sk-…``, ``sk-ant-…``, ``AKIA…``, ``ghp_…``), ``Bearer`` tokens,
  ``Authorization`` and ``Cookie`` headers, values of keys named like password / secret /
  token / api_key, credentials in URLs, and a user's own patterns — recorded at any depth,
  inside longer strings, in span and event names, error messages, prompts and replies: none
  reaches a snapshot, a received file, the ``--agentrig-report`` JSON, ``agentrig show`` /
  ``diff`` output or the terminal.
* Loading a snapshot never executes code: no pickle, marshal, eval or import is reachable
  from the loaders (checked in the source, and by trapping them while a hostile file loads).
* A malicious snapshot — deep nesting, huge numbers, a huge number of spans — gives a clear
  error or a bounded result; it never raises RecursionError, and loading, comparing and
  showing it stay within a hard memory limit.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import json
import marshal
import pickle
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import Rig, assert_clean

import agentrig
from agentrig import AgentRigError, FakeModel, SnapshotError, run
from agentrig._secrets import redact_secrets
from agentrig.cli import main
from agentrig.drift import compare
from agentrig.normalize import NormalizeRules, dumps, loads, normalize

#: name -> (how it is recorded, the secret part that must never be seen)
SECRETS: dict[str, tuple[str, str]] = {
    "openai": ("sk-live0123456789abcdefghijklmn", "0123456789abcdefghijklmn"),
    "anthropic": ("sk-ant-api03-AbCdEfGhIjKlMnOpQrSt", "AbCdEfGhIjKlMnOpQrSt"),
    "aws key id": ("AKIAIOSFODNN7EXAMPLE", "IOSFODNN7EXAMPLE"),
    "github": ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "abcdefghijklmnopqrstuvwxyz0123"),
    "bearer": ("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOjF9.c2lnbmF0dXJl", "eyJhbGciOiJIUzI1NiJ9"),
    "basic header": ("Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"),
    "cookie header": ("Cookie: session=s3cr3tsession; theme=dark", "s3cr3tsession"),
    "aws secret": ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENGbPxRfiCY", "wJalrXUtnFEMI"),
    "password field": ('{"user": "bob", "password": "hunter2-pw"}', "hunter2-pw"),
    "token field": ("access_token=tok_abcdef123456&scope=read", "tok_abcdef123456"),
    "url password": ("postgres://app:dbpass-777@db:5432/app", "dbpass-777"),
    "user pattern": ("account acct-123456 charged", "acct-123456"),
    # round 2: shapes gitleaks / detect-secrets know, and shapes that were redacted only in part
    "pem private key": (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAx4UbaDzY\n-----END RSA PRIVATE KEY-----",
        "MIIEpAIBAAKCAQEAx4UbaDzY",
    ),
    "jwt alone": (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXBhcnQ",
        "eyJzdWIiOiJhbGljZSJ9",
    ),
    "stripe live": ("sk_live_51HxAbCdEfGhIjKlMnOp", "51HxAbCdEfGhIjKlMnOp"),
    "hugging face": ("hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345", "AbCdEfGhIjKlMnOpQrStUvWx"),
    "gitlab": ("glpat-AbCdEfGh1234567890xy", "AbCdEfGh1234567890xy"),
    "npm": ("npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "AbCdEfGhIjKlMnOpQrStUvWx"),
    "slack app": ("xapp-1-A0ABCDEF-1234567890-abcdef0123456789abcdef", "abcdef0123456789abcdef"),
    "slack webhook": (
        "https://hooks.slack.com/services/T0AAAA1/B0BBBB2/XyZabc123DEF456ghi789",
        "XyZabc123DEF456ghi789",
    ),
    "env secret key": ("SECRET_KEY=django-insecure-k3y-v4lue", "django-insecure-k3y-v4lue"),
    "env suffix": ("DB_PASSWORD_PROD=pr0d-db-pass", "pr0d-db-pass"),
    "env name key": ("STRIPE_KEY=rk-plain-value-9", "rk-plain-value-9"),
    "passphrase": ("password: correct horse battery staple", "battery staple"),
    "url password with / and @": ("postgres://app:pa/ss@w0rd@db:5432/app", "ss@w0rd"),
    "escaped quote": ('{"password": "abc\\"def-tail"}', "def-tail"),
    "unterminated quote": ("password: 'open-ended-secret", "open-ended-secret"),
    "yaml next line": ("password:\n  yaml-next-line-secret\n", "yaml-next-line-secret"),
}
#: values under keys that name a secret (the key itself says what the value is)
KEYED: dict[str, str] = {
    "password": "pw-value-alpha",
    "secret": "shared-secret-beta",
    "api_key": "ak-live-gamma",
    "token": "tok-delta-1234",
    "Authorization": "Basic ZXBzaWxvbg==",
    "Cookie": "sid=zeta-cookie",
    "client_secret": "eta-client-secret",
    "private_key": "-----BEGIN theta-----",
}
NEEDLES = [part for _, part in SECRETS.values()] + list(KEYED.values())

# The secrets live in a helper module: a failing test's traceback shows the test's own source,
# which must not be where a secret is spelled out.
SOURCE = f"""
SECRETS = {json.dumps({k: v[0] for k, v in SECRETS.items()}, indent=4)}
KEYED = {json.dumps(KEYED, indent=4)}
"""

APP = """
import os

import pytest
from secret_values import KEYED, SECRETS

VERSION = os.environ.get("AGENTRIG_SECRET_VERSION", "1")


def everything():
    nested = {"level1": [{"level2": {"level3": list(SECRETS.values())}}], **KEYED}
    return {
        "flat": " and ".join(SECRETS.values()) + " v" + VERSION,
        "version": "v" + VERSION,  # (secrets redacted to their end may take the suffix above)
        "nested": nested,
        "headers": {"Authorization": KEYED["Authorization"], "Cookie": KEYED["Cookie"]},
        "deep": {"a": {"b": {"c": {"d": {"password": KEYED["password"]}}}}},
    }


async def test_secrets(tracer, decision_log, event_bus, fake_model, budget_pool, agent_recording,
                       agent_snapshot):
    values = everything()

    @event_bus.on("call")
    def handler(event):
        return {"echo": event["headers"], "raw": SECRETS["bearer"]}

    with tracer.span("call " + SECRETS["openai"]) as span:
        span.set_attributes(values)
        span.add_event("sent " + SECRETS["github"], **values)
        try:
            raise RuntimeError("auth failed: " + SECRETS["basic header"])
        except RuntimeError as exc:
            span.record_exception(exc)
    decision_log.record(decision="route", **values)
    await event_bus.emit("call", **values)
    pool = budget_pool(usd=1, name="pool " + SECRETS["aws key id"])
    async with pool.acquire(max_usd=0.5, name="stage " + SECRETS["token field"]) as stage:
        stage.charge(0.01, label="label " + SECRETS["url password"])
        agent = fake_model.agent("writer", reply="reply with " + SECRETS["anthropic"] + VERSION)
        await agent.run("prompt with " + SECRETS["cookie header"], budget=stage)
    assert agent_recording == agent_snapshot
"""


def _project(rig: Rig) -> None:
    rig.configure("agentrig_secret_patterns = acct-\\d{6}")
    rig.write("tests/secret_values.py", SOURCE)
    rig.write("tests/test_secret_app.py", APP)


def _assert_no_secret(where: str, text: str) -> None:
    leaked = [needle for needle in NEEDLES if needle in text]
    assert not leaked, f"secrets leaked into {where}: {leaked}"


def test_no_secret_reaches_snapshot_received_file_report_or_terminal(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(rig)
    recorded = rig.run("--snapshot-update", "-vv")
    recorded.assert_outcomes(passed=1)
    monkeypatch.setenv("AGENTRIG_SECRET_VERSION", "2")

    drifted = rig.run("-vv", "-rA", "--agentrig-report=report.json")

    drifted.assert_outcomes(failed=1)
    files = rig.files()
    assert set(files) == {
        "tests/test_secret_app/test_secrets.json",
        "tests/test_secret_app/test_secrets.received.json",
        "tests/test_secret_app/test_secrets.received.html",  # the HTML timeline, redacted too
    }
    for name, data in files.items():
        _assert_no_secret(name, data.decode("utf-8"))
        assert (b"&lt;redacted&gt;" if name.endswith(".html") else b"<redacted>") in data
    report = (rig.path / "report.json").read_text(encoding="utf-8")
    assert json.loads(report)["summary"]["drift"] == 1
    _assert_no_secret("the JSON report", report)
    for result in (recorded, drifted):
        _assert_no_secret("the terminal", result.stdout.str() + result.stderr.str())
    assert "[text]" in drifted.stdout.str()  # the drift itself is reported, redacted


def test_agentrig_show_and_diff_print_no_secret(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(rig)
    rig.run("--snapshot-update").assert_outcomes(passed=1)
    monkeypatch.setenv("AGENTRIG_SECRET_VERSION", "2")
    rig.run().assert_outcomes(failed=1)
    folder = rig.snapshot("tests/test_secret_app")
    capsys.readouterr()

    assert main(["show", str(folder / "test_secrets.json")]) == 0
    assert (
        main(
            ["diff", str(folder / "test_secrets.json"), str(folder / "test_secrets.received.json")]
        )
        == 1
    )
    assert main(["accept", "--dry-run", str(folder)]) == 0

    out = capsys.readouterr()
    _assert_no_secret("agentrig show/diff/accept", out.out + out.err)
    assert "<redacted>" in out.out


@pytest.mark.parametrize("name", sorted(SECRETS))
@pytest.mark.parametrize("place", ["attribute", "deep", "inside", "key", "event", "decision"])
def test_each_secret_is_redacted_in_each_place(name: str, place: str) -> None:
    secret, part = SECRETS[name]
    value: Any = secret
    if place == "deep":
        value = {"a": [{"b": [[{"c": secret}]]}]}
    elif place == "inside":
        value = f"some text before {secret} and some after"
    attributes = {secret: 1} if place == "key" else {"value": value}
    data = {"decision": "d", "value": value}
    raw = {
        "name": "t",
        "spans": [
            {
                "span_id": 1,
                "name": "s",
                "seq": 1,
                "start": 0.0,
                "attributes": attributes if place != "event" else {},
                "events": [{"name": "e", "t": 0.0, "attributes": attributes}]
                if place == "event"
                else [],
            }
        ],
        "entries": [{"seq": 2, "t": 0.0, "kind": "decision", "data": data}]
        if place == "decision"
        else [],
    }
    rules = NormalizeRules(redact=[r"acct-\d{6}"])
    out = dumps(normalize(raw, rules=rules)).decode("utf-8")
    assert part not in out
    assert "<redacted>" in out


@pytest.mark.parametrize("key", sorted(KEYED))
def test_values_under_secret_keys_are_redacted_at_any_depth(key: str) -> None:
    value = KEYED[key]
    nested: Any = {key: value}
    for _ in range(10):
        nested = {"wrap": [nested]}
    out = dumps(
        normalize(
            {
                "name": "t",
                "spans": [],
                "entries": [{"seq": 1, "kind": "decision", "data": {"decision": "d", "x": nested}}],
            }
        )
    ).decode()
    assert value not in out


def test_ordinary_text_and_usage_counters_are_not_redacted() -> None:
    keep = [
        "max_tokens=100",
        "author: Jane",
        "the bearer of bad news",
        "see https://example.com:8080/path",
        "input_tokens: 42",
        "a key insight",
        "MAX_TOKENS=100",
        "key points: speed, cost",
        "https://medium.com/@alice",
        "token usage: 42 in, 7 out",
        "the passage: of time",
    ]
    for text in keep:
        assert redact_secrets(text) == text


def test_an_error_message_never_repeats_a_secret_it_quotes() -> None:
    fake = FakeModel()
    agent = fake.agent("writer", replies=["only one"])

    async def twice() -> None:
        await agent.run("first")
        await agent.run("use " + SECRETS["openai"][0] + " and password=hunter2-pw")

    with pytest.raises(AgentRigError) as info:
        run(twice())
    message = str(info.value)
    assert "no reply left for call #2" in message
    assert "0123456789abcdef" not in message and "hunter2-pw" not in message


def test_a_secret_in_a_parametrize_id_stays_out_of_file_names_and_contents(rig: Rig) -> None:
    rig.write("tests/secret_values.py", SOURCE)
    rig.write(
        "tests/test_ids.py",
        """
import pytest
from secret_values import SECRETS

@pytest.mark.parametrize("key", [SECRETS["openai"], SECRETS["aws key id"]])
def test_key(agent_recording, agent_snapshot, decision_log, key):
    decision_log.record(decision="use")
    assert agent_recording == agent_snapshot(name=key)
""",
    )

    rig.run("--snapshot-update").assert_outcomes(passed=2)

    files = rig.files()
    assert len(files) == 2
    for name, data in files.items():
        _assert_no_secret("a snapshot file name", name)
        _assert_no_secret("a snapshot", data.decode())


# -- snapshots are data only --------------------------------------------------------------------

_SRC = Path(agentrig.__file__).parent
#: every module that reads snapshot or cassette data; the CLI, normalize and drift packages whole
LOADERS = [
    "document.py",
    *sorted(p.relative_to(_SRC).as_posix() for p in (_SRC / "normalize").glob("*.py")),
    *sorted(p.relative_to(_SRC).as_posix() for p in (_SRC / "drift").glob("*.py")),
    "snapshot.py",
    "_secrets.py",
    "_errors.py",
    *sorted(p.relative_to(_SRC).as_posix() for p in (_SRC / "cli").glob("*.py")),
]
FORBIDDEN_MODULES = {"pickle", "cPickle", "marshal", "shelve", "yaml", "dill", "jsonpickle"}
#: builtins called by name, and functions called as attributes (``importlib.import_module``)
FORBIDDEN_NAMES = {"eval", "exec", "compile", "__import__"}
FORBIDDEN_ATTRIBUTES = {"import_module", "literal_eval", "load_module", "exec_module"}


@pytest.mark.parametrize("module", LOADERS)
def test_the_loaders_cannot_reach_a_deserializer_that_runs_code(module: str) -> None:
    path = Path(agentrig.__file__).parent / module
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported: set[str] = set()
    called: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_NAMES:
                called.add(func.id)
            elif isinstance(func, ast.Attribute) and func.attr in FORBIDDEN_ATTRIBUTES:
                called.add(func.attr)
    assert not imported & FORBIDDEN_MODULES
    assert not called


HOSTILE_DOC: dict[str, Any] = {
    "agentrig": {"format": 1},
    "name": "__import__('os').system('touch pwned')",
    "timeline": [
        {
            "span": "eval(open('/etc/passwd').read())",
            "id": 1,
            "parent": None,
            "status": "ok",
            "attributes": {
                "__reduce__": ["os.system", ["touch pwned"]],
                "py/object": "os.system",
                "!!python/object/apply:os.system": ["touch pwned"],
                "__class__": {"__init__": "exec"},
                "$type": "System.Diagnostics.Process",
                "pickle": pickle.dumps({"x": 1}).hex(),
            },
        }
    ],
}


@pytest.fixture
def trapped(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Make every code-running deserializer fail loudly (and record the attempt)."""
    calls: list[str] = []

    def trap(name: str) -> Any:
        def called(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            raise AssertionError(f"{name} called while loading a snapshot")

        return called

    for module, name in ((builtins, "eval"), (builtins, "exec"), (builtins, "compile")):
        monkeypatch.setattr(module, name, trap(name))
    monkeypatch.setattr(pickle, "loads", trap("pickle.loads"))
    monkeypatch.setattr(pickle, "load", trap("pickle.load"))
    monkeypatch.setattr(marshal, "loads", trap("marshal.loads"))
    monkeypatch.setattr(importlib, "import_module", trap("importlib.import_module"))
    yield calls
    monkeypatch.undo()


def test_loading_a_hostile_snapshot_runs_no_code(
    tmp_path: Path, trapped: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = json.dumps(HOSTILE_DOC).encode()
    (tmp_path / "a.json").write_bytes(data)
    (tmp_path / "b.json").write_bytes(data.replace(b"touch pwned", b"touch other"))

    doc = loads(data, source="a.json")
    again = normalize(doc)
    report = compare(doc, loads((tmp_path / "b.json").read_bytes()))
    codes = [main(["show", "a.json"]), main(["diff", "a.json", "b.json"])]

    assert trapped == []
    assert codes == [0, 1]
    assert not (tmp_path / "pwned").exists()
    assert doc["timeline"][0]["attributes"]["py/object"] == "os.system"  # just a string
    assert again["timeline"][0]["span"] == HOSTILE_DOC["timeline"][0]["span"]
    assert report.changes


def test_a_pickle_in_place_of_a_snapshot_is_refused_as_not_json(trapped: list[str]) -> None:
    payload = pickle.dumps({"agentrig": {"format": 1}, "timeline": []})
    with pytest.raises(SnapshotError, match="is not valid JSON"):
        loads(payload, source="evil.json")
    assert trapped == []


# -- malicious sizes: bounded errors, bounded memory, no recursion ------------------------------


def _nested_attribute(levels: int) -> bytes:
    return (
        b'{"agentrig":{"format":1},"name":"t","timeline":[{"span":"s","attributes":{"x":'
        + b"[" * levels
        + b"]" * levels
        + b"}}]}"
    )


def _nested_spans(levels: int) -> bytes:
    opened = b"".join(b'{"span":"s%d","status":"ok","timeline":[' % i for i in range(levels))
    return b'{"agentrig":{"format":1},"name":"t","timeline":[' + opened + b"]}" * levels + b"]}"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_nested_attribute(100_000), "depth limit exceeded"),
        (_nested_spans(50_000), "depth limit exceeded"),
        (_nested_attribute(1000), "nests deeper than agentrig ever writes"),
        (_nested_spans(500), "nests deeper than agentrig ever writes"),
        (_nested_attribute(1).replace(b"[]", b"1e999999"), "number is infinity"),
        (_nested_attribute(1).replace(b"[]", b"9" * 100_000), "not valid JSON"),
    ],
    ids=[
        "100k nested lists",
        "50k nested spans",
        "1000 nested lists",
        "500 nested spans",
        "1e999999",
        "100k-digit integer",
    ],
)
def test_hostile_nesting_and_numbers_are_refused_quickly_and_clearly(
    data: bytes, message: str
) -> None:
    started = time.perf_counter()
    with pytest.raises(SnapshotError, match=message) as info:
        loads(data, source="hostile.json")
    assert time.perf_counter() - started < 2
    assert len(str(info.value)) < 500
    assert "agentrig update" in str(info.value)


@pytest.mark.parametrize(
    "data",
    [_nested_attribute(248), _nested_spans(125)],
    ids=["248 nested lists", "125 nested spans"],
)
def test_the_deepest_loadable_snapshot_is_compared_normalized_and_shown_without_recursion(
    data: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = loads(data, source="deep.json")
    other = loads(_nested_attribute(1), source="shallow.json")
    assert compare(doc, other).changes
    assert not compare(doc, doc).changes
    assert dumps(normalize(doc))
    (tmp_path / "deep.json").write_bytes(data)
    assert main(["show", str(tmp_path / "deep.json")]) == 0
    assert main(["diff", str(tmp_path / "deep.json"), str(tmp_path / "deep.json")]) == 0
    assert_clean(capsys.readouterr().out)


def test_a_dag_of_shared_references_cannot_blow_up_normalization() -> None:
    value: Any = ["leaf"]
    for _ in range(60):
        value = [value, value]  # 2**60 leaves if expanded
    started = time.perf_counter()
    data = dumps(
        normalize(
            {
                "name": "t",
                "spans": [],
                "entries": [
                    {"seq": 1, "kind": "decision", "data": {"decision": "d", "dag": value}}
                ],
            }
        )
    )
    assert time.perf_counter() - started < 5
    assert len(data) < 64_000_000  # at most 100,000 containers per value, then <truncated>
    assert b"<truncated>" in data


MEMORY_SCRIPT = textwrap.dedent(
    """
    import resource, sys, time
    limit = 1536 * 1024 * 1024  # 1.5 GB of address space for this whole process
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from agentrig.cli import main
    from agentrig.drift import compare
    from agentrig.normalize import loads, normalize
    for path in sys.argv[1:]:
        data = open(path, "rb").read()
        doc = loads(data, source=path)
        compare(doc, loads(data, source=path))
        normalize(doc)
        assert main(["show", path]) == 0
    print("ok")
    """
)


def test_loading_comparing_and_showing_large_hostile_snapshots_fit_a_memory_limit(
    tmp_path: Path,
) -> None:
    wide = {
        "agentrig": {"format": 1},
        "name": "t",
        "timeline": [
            {
                "span": f"s{i % 7}",
                "id": i + 1,
                "parent": None,
                "status": "ok",
                "start": float(i),
                "attributes": {"k": "v" * 100, "n": 10**18},
            }
            for i in range(25_000)
        ],
    }
    files = {
        "wide.json": dumps(wide),
        "big-string.json": dumps(
            {
                **wide,
                "timeline": [
                    {
                        "span": "s",
                        "id": 1,
                        "parent": None,
                        "status": "ok",
                        "attributes": {"text": "x" * (20 * 1024 * 1024)},
                    }
                ],
            }
        ),
        "deep.json": _nested_attribute(248),
        "deep-spans.json": _nested_spans(125),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)

    done = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, *(str(tmp_path / n) for n in files)],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")
