"""Normalization hides noise, never behaviour; what it does hide, the user can switch off.

Found by a hostile probe: ``True`` → ``1`` passed (Python's ``==``); " at 0x…" was cut out of
user text (a wallet address); a one-cent change on $12,345.67 vanished in 6 significant
digits; dates, 13-digit ids, amounts above 9.5e8 and a constant UUID were scrubbed with no way
out; and frozenset dict keys gave a different snapshot per ``PYTHONHASHSEED``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from reliability_kit import Rig

from agentrig import ConfigurationError
from agentrig.drift import compare
from agentrig.normalize import NormalizeRules, normalize


def _doc(attributes: dict[str, Any], rules: NormalizeRules | None = None) -> dict[str, Any]:
    raw = {
        "name": "t",
        "spans": [{"span_id": 1, "name": "s", "seq": 1, "start": 0.0, "attributes": attributes}],
        "entries": [
            {"seq": 2, "t": 0.0, "kind": "decision", "data": {"decision": "d", **attributes}}
        ],
    }
    return normalize(raw, rules=rules)


@pytest.mark.parametrize(
    ("before", "after"),
    [(True, 1), (False, 0), (1, 1.0), ({"flag": True}, {"flag": 1}), ([True], [1])],
    ids=["True-1", "False-0", "1-1.0", "nested", "in-a-list"],
)
def test_a_changed_type_is_drift(before: Any, after: Any) -> None:
    report = compare(_doc({"approved": before}), _doc({"approved": after}))

    assert report.failed
    assert len(report.changes) == 2  # the span attribute and the decision field
    assert all(
        c.expected != c.received or type(c.expected) is not type(c.received) for c in report.changes
    )


def test_only_an_object_repr_loses_its_memory_address() -> None:
    wallet = "paid the wallet at 0x52908400098527886E0F7030069857D2E4169EE7 today"
    doc = _doc({"note": wallet, "obj": "<Doc object at 0x7f3a2b1c4d50>"})

    attributes = doc["timeline"][0]["attributes"]
    assert attributes["note"] == wallet
    assert attributes["obj"] == "<Doc object>"
    other = _doc({"note": wallet.replace("EE7", "EE8"), "obj": "<Doc object at 0x7f00>"})
    assert compare(doc, other).failed


@pytest.mark.parametrize(
    ("before", "after"),
    [(12345.67, 12345.68), (987654.32, 987654.33), (0.0000625, 0.0000626)],
)
def test_money_is_rounded_by_cents_not_by_significant_digits(before: float, after: float) -> None:
    a, b = _doc({"usd": before}), _doc({"usd": after})

    assert a["timeline"][0]["attributes"]["usd"] == before
    assert compare(a, b).failed
    assert normalize(a) == a  # still a fixed point


VOLATILE = {
    "uuid": "6f1c2b8e-3d4a-4b5c-9e8f-0a1b2c3d4e5f",
    "when": "2026-12-01T10:00:00Z",
    "order_id": 1733047200123,  # a 13-digit id
    "amount": 1_250_000_000.5,  # dollars, in the epoch-seconds range
}


@pytest.mark.parametrize(
    ("keep", "field", "shown"),
    [
        ("uuids", "uuid", VOLATILE["uuid"]),
        ("timestamps", "when", VOLATILE["when"]),
        ("epoch_numbers", "order_id", VOLATILE["order_id"]),
        ("epoch_numbers", "amount", VOLATILE["amount"]),
    ],
)
def test_each_scrubbing_rule_is_on_by_default_and_can_be_turned_off(
    keep: str, field: str, shown: object
) -> None:
    scrubbed = _doc(dict(VOLATILE))["timeline"][0]["attributes"][field]
    kept_doc = _doc(dict(VOLATILE), NormalizeRules(keep=[keep], float_digits=12))
    kept = kept_doc["timeline"][0]["attributes"][field]

    assert scrubbed != shown
    assert kept == shown
    assert normalize(kept_doc, rules=NormalizeRules(keep=[keep], float_digits=12)) == kept_doc


def test_an_unknown_scrubbing_rule_is_refused_with_the_valid_ones() -> None:
    with pytest.raises(
        ConfigurationError,
        match="keep='uuid' is not a scrubbing rule; valid: uuids, timestamps, epoch_numbers",
    ):
        NormalizeRules(keep=["uuid"])


MODULE = """
import pytest

VALUES = {values!r}

@pytest.mark.agentrig(keep=["epoch_numbers"], float_digits=12)
def test_marker(tracer, agent_recording, agent_snapshot):
    with tracer.span("s") as span:
        span.set_attributes(VALUES)
    assert agent_recording == agent_snapshot

def test_ini_only(tracer, agent_recording, agent_snapshot):
    with tracer.span("s") as span:
        span.set_attributes(VALUES)
    assert agent_recording == agent_snapshot

@pytest.mark.agentrig(keep="uuid")
def test_bad(agent_recording):
    pass
"""


def test_ini_and_marker_turn_scrubbing_rules_off(rig: Rig) -> None:
    rig.configure("agentrig_keep = uuids, timestamps\nagentrig_float_digits = 8")
    rig.write("tests/test_keep.py", MODULE.format(values=VOLATILE))

    result = rig.run("--snapshot-update")

    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*keep='uuid' is not a scrubbing rule; valid: uuids*"])
    marker = rig.snapshot("tests/test_keep/test_marker.json").read_text()
    ini_only = rig.snapshot("tests/test_keep/test_ini_only.json").read_text()
    for text in (marker, ini_only):  # the ini's rules
        assert VOLATILE["uuid"] in text and VOLATILE["when"] in text
    assert '"order_id": 1733047200123' in marker and '"amount": 1250000000.5' in marker
    assert '"order_id": "<timestamp>"' in ini_only


def test_frozenset_keys_give_one_snapshot_whatever_the_hash_seed() -> None:
    script = (
        "import sys\n"
        "from agentrig.normalize import dumps, normalize\n"
        "keys = {frozenset({'alpha', 'beta', 'gamma', 'delta'}): 1,"
        " ('x', frozenset({'p', 'q', 'r'})): 2}\n"
        "doc = normalize({'name': 't', 'spans': [], 'entries': [{'seq': 1, 'kind': 'decision',"
        " 'data': {'decision': 'd', 'k': keys}}]})\n"
        "sys.stdout.buffer.write(dumps(doc))\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            check=True,
            env={
                **os.environ,
                "PYTHONHASHSEED": str(seed),
                "PYTHONPATH": os.pathsep.join(sys.path),
            },
        ).stdout
        for seed in range(8)
    }
    assert len(outputs) == 1
    assert b"frozenset({'alpha', 'beta', 'delta', 'gamma'})" in outputs.pop()
