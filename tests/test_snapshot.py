"""agentrig.snapshot's small value objects: their fast paths say what the slow ones said."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from agentrig.snapshot import SnapshotOutcome, SnapshotSettings


def test_an_outcome_travels_as_json_with_every_field_it_has() -> None:
    outcome = SnapshotOutcome(
        nodeid="tests/test_a.py::test_x[1]",
        snapshot="snapshots/test_a/test_x[1].json",
        name="test_x[1]",
        status="drift",
        counts={"text": 2},
        failing={"text": 1},
        root_counts={"text": 1},
        consequences=1,
        received="snapshots/test_a/test_x[1].received.json",
        error="boom",
        report="pipeline › draft › model.call: text changed",
        html="snapshots/test_a/test_x[1].html",
        changes=[{"path": "spans[0].name", "kind": "text"}],
    )
    as_json = outcome.to_json()
    assert as_json == dataclasses.asdict(outcome)  # a field added later must be added there too
    as_json["counts"]["text"] = 99
    as_json["changes"][0]["kind"] = "structure"
    assert outcome.counts == {"text": 2}  # a copy, as asdict's
    assert outcome.changes == [{"path": "spans[0].name", "kind": "text"}]


@pytest.mark.parametrize(
    "relative",
    [
        "snapshots/test_a/test_x.json",
        "snapshots/test_a/./test_x.json",
        "snapshots//test_a/test_x.json",
        "snapshots/test_a/",
        "snapshots/../elsewhere/x.json",
        "x.json",
        "",
    ],
)
@pytest.mark.parametrize("base", ["/work/project", "/work/project/", "/"])
def test_display_gives_what_the_path_relative_to_the_invocation_dir_gives(
    base: str, relative: str
) -> None:
    settings = SnapshotSettings(
        rootdir=Path(base), snapshot_root=Path(base) / "snapshots", invocation_dir=Path(base)
    )
    path = base.rstrip("/") + "/" + relative
    expected = Path(path).relative_to(Path(base)).as_posix()
    assert settings.display(path) == expected
    outside = "/elsewhere/x.json" if base != "/" else None
    if outside is not None:
        assert settings.display(outside) == outside
    assert settings.display(Path(path)) == expected
