"""Bad configuration: a clear agentrig error naming the option, the value and the valid ones.

Unknown ini keys and marker arguments, bad tolerances, drift classes, cost caps, rules and
timeouts, a snapshot folder outside the rootdir (or the rootdir itself) and a report path that
cannot be written. Session-wide problems stop the session before any test runs (a usage error,
exit status 4); per-test problems fail that test's setup and leave other tests alone. Nothing
is an INTERNALERROR, nothing prints a memory address, nothing writes outside the project.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reliability_kit import Rig, assert_clean, assert_nothing_unused

AGENTRIG_TEST = """
import pytest

def test_agentrig(agent_recording, agent_snapshot, decision_log):
    decision_log.record(decision="go")
    assert agent_recording == agent_snapshot

def test_plain():
    assert True
"""


def _usage_error(rig: Rig, *args: str) -> str:
    result = rig.run(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "passed" not in result.stdout.str()  # no test ran
    return result.stderr.str()


# -- session-wide: a usage error before any test runs ------------------------------------------


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        (
            "agentrig_secret_pattern = acct-\\d+",
            "unknown agentrig ini option: agentrig_secret_pattern "
            "(did you mean agentrig_secret_patterns?); valid options: agentrig_",
        ),
        ("agentrig_snapshots = golden", "(did you mean agentrig_snapshot_dir?)"),
        ("agentrig_colour = yes", "unknown agentrig ini option: agentrig_colour; valid options"),
        ("agentrig_stall_timeout = soon", "agentrig_stall_timeout must be a number of seconds"),
        ("agentrig_stall_timeout = 0", "must be a positive, finite number of seconds, got '0'"),
        ("agentrig_stall_timeout = -1", "must be a positive, finite number of seconds"),
        ("agentrig_stall_timeout = inf", "must be a positive, finite number of seconds"),
        ("agentrig_snapshot_dir = ../outside", "agentrig_snapshot_dir = '../outside' is outside"),
        ("agentrig_snapshot_dir = /tmp/agentrig-elsewhere", "is outside the rootdir"),
        ("agentrig_snapshot_dir = snapshots/../..", "is outside the rootdir"),
        ("agentrig_snapshot_dir = .", "agentrig_snapshot_dir = '.' is the rootdir itself"),
    ],
    ids=lambda v: v if len(v) < 40 else v[:40],
)
def test_a_session_wide_problem_is_a_usage_error_before_any_test_runs(
    rig: Rig, ini: str, message: str
) -> None:
    rig.configure(ini)
    rig.write("tests/test_a.py", AGENTRIG_TEST)
    before = {p for p in rig.path.parent.iterdir()}

    err = _usage_error(rig)

    assert f"ERROR: {message}" in err.replace("\n", " ") or message in err
    assert not rig.snapshots.exists()
    assert {p for p in rig.path.parent.iterdir()} == before  # nothing written beside it
    assert not Path("/tmp/agentrig-elsewhere").exists()


def test_an_unknown_ini_key_given_with_o_is_refused_too(rig: Rig) -> None:
    rig.write("tests/test_a.py", AGENTRIG_TEST)

    err = _usage_error(rig, "-o", "agentrig_fail_onn=text")

    assert "agentrig_fail_onn (did you mean agentrig_fail_on?)" in err


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("a-folder", "--agentrig-report a-folder: the path is a folder"),
        ("a-file/report.json", "a-file to be a folder, but it is a file"),
    ],
)
def test_a_report_path_that_cannot_be_written_is_refused_before_the_tests(
    rig: Rig, where: str, message: str
) -> None:
    rig.write("tests/test_a.py", AGENTRIG_TEST)
    (rig.path / "a-folder").mkdir()
    (rig.path / "a-file").write_text("not a folder")

    err = _usage_error(rig, f"--agentrig-report={where}")

    assert message in err


def test_a_report_that_fails_to_write_at_the_end_is_one_line_not_an_internal_error(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agentrig.snapshot

    rig.write("tests/test_a.py", AGENTRIG_TEST)
    real = agentrig.snapshot.atomic_write

    def disk_full(path: Path, data: bytes) -> None:
        if path.name == "report.json":
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(agentrig.snapshot, "atomic_write", disk_full)

    result = rig.run("--snapshot-update", "--agentrig-report=report.json")

    result.assert_outcomes(passed=2)  # the summary is still printed
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(
        [
            "agentrig: cannot write --agentrig-report report.json: No space left on device; "
            "free disk space or choose a writable path"
        ]
    )
    assert not (rig.path / "report.json").exists()


# -- per test: the agentrig tests fail at setup, the others run --------------------------------


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        ("agentrig_tolerance = timing:abs=-1", "tolerance 'timing:abs=-1': '-1' is not a number"),
        ("agentrig_tolerance = timing:abs=nan", "'nan' is not a number >= 0"),
        ("agentrig_tolerance = timing:abs=lots", "'lots' is not a number >= 0"),
        ("agentrig_tolerance = timing", "tolerance 'timing' names no class or field"),
        ("agentrig_fail_on = strucure", "unknown class(es) 'strucure'; valid classes are"),
        ("agentrig_secret_patterns = (", "redact='(' is not a valid regular expression"),
        ("agentrig_secret_patterns = .*", "matches the empty string and would redact everywhere"),
        ("agentrig_drop = spans.x", "drop='spans.x': a path needs a scope, a name and a field"),
        ("agentrig_mask = attributes.x", "does not start with 'spans.' or 'entries.'"),
    ],
    ids=lambda v: v if len(v) < 40 else v[:40],
)
def test_a_bad_ini_value_fails_each_agentrig_test_at_setup_with_the_rule(
    rig: Rig, ini: str, message: str
) -> None:
    rig.configure(ini)
    rig.write("tests/test_a.py", AGENTRIG_TEST)

    result = rig.run("--snapshot-update")

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([f"*agentrig ini options: *{message}*"])
    assert not rig.snapshots.exists()


MARKERS = """
import math

import pytest

class Thing:
    pass

@pytest.mark.agentrig(max_cost=1)
def test_unknown(agent_recording): pass

@pytest.mark.agentrig(0.05)
def test_positional(agent_recording): pass

@pytest.mark.agentrig(max_usd="lots")
def test_usd_text(agent_recording): pass

@pytest.mark.agentrig(max_usd=-1)
def test_usd_negative(agent_recording): pass

@pytest.mark.agentrig(max_usd=math.nan)
def test_usd_nan(agent_recording): pass

@pytest.mark.agentrig(max_usd=Thing())
def test_usd_object(agent_recording): pass

@pytest.mark.agentrig(max_tokens=1.5)
def test_tokens_float(agent_recording): pass

@pytest.mark.agentrig(fail_on=["vibes"])
def test_fail_on(agent_recording): pass

@pytest.mark.agentrig(fail_on=[Thing()])
def test_fail_on_object(agent_recording): pass

@pytest.mark.agentrig(tolerance={"timing": Thing()})
def test_tolerance_object(agent_recording): pass

@pytest.mark.agentrig(tolerance="timing:abs=-2")
def test_tolerance_negative(agent_recording): pass

@pytest.mark.agentrig(drop=["spans."])
def test_drop(agent_recording): pass

@pytest.mark.agentrig(max_usd=1, tolerance="timing:abs=0.5", fail_on="text", drop=["x"])
def test_good(agent_recording): pass
"""

MARKER_ERRORS = {
    "test_unknown": "got unknown argument max_cost; valid arguments: max_usd, max_tokens",
    "test_positional": "takes keyword arguments only, got positional (0.05,)",
    "test_usd_text": "`max_usd` must be an amount of US dollars, got the string 'lots'",
    "test_usd_negative": "`max_usd` must be non-negative, got -1",
    "test_usd_nan": "`max_usd` must be a finite amount of US dollars, got nan",
    "test_usd_object": "`max_usd` must be an amount of US dollars (Decimal, int, float or str),",
    "test_tokens_float": "`max_tokens` must be a non-negative int, got 1.5",
    "test_fail_on": "unknown class(es) 'vibes'",
    "test_fail_on_object": "`fail_on` must be a string or a list of strings",
    "test_tolerance_object": "`tolerance['timing']` must be a number (absolute) or a string",
    "test_tolerance_negative": "'-2' is not a number >= 0",
    "test_drop": "empty path segment",
}


def test_bad_marker_arguments_fail_only_their_test_with_the_argument_named(rig: Rig) -> None:
    rig.write("tests/test_markers.py", MARKERS)

    result = rig.run("--agentrig-report=report.json")

    result.assert_outcomes(passed=1, errors=len(MARKER_ERRORS))
    out = result.stdout.str()
    for name, message in MARKER_ERRORS.items():
        line = next(
            (ln for ln in out.splitlines() if ln.startswith(f"tests/test_markers.py::{name}: ")),
            None,
        )
        assert line is not None, name
        assert "@pytest.mark.agentrig" in line and message in line, (name, line)
    assert "Traceback" not in out


# -- a snapshot folder that also holds other files ---------------------------------------------


def test_snapshot_update_never_deletes_or_reports_files_agentrig_did_not_write(rig: Rig) -> None:
    rig.configure("agentrig_snapshot_dir = tests")
    rig.write("tests/test_a.py", AGENTRIG_TEST)
    data = rig.write("tests/data/fixture.json", '{"important": true}\n')
    other = rig.write("tests/fixtures/deep/config.json", '{"keep": "me"}\n')

    first = rig.run("--snapshot-update")
    plain = rig.run()
    again = rig.run("--snapshot-update")

    for result in (first, plain, again):
        result.assert_outcomes(passed=2)
        assert_nothing_unused(result)
    assert plain.ret == 0
    assert data.read_text() == '{"important": true}\n'
    assert other.read_text() == '{"keep": "me"}\n'
    assert (rig.path / "tests/tests/test_a/test_agentrig.json").is_file()


def test_a_real_orphaned_snapshot_is_still_found_and_deleted(rig: Rig) -> None:
    rig.write("tests/test_a.py", AGENTRIG_TEST)
    rig.write("tests/test_gone.py", AGENTRIG_TEST)
    rig.run("--snapshot-update").assert_outcomes(passed=4)
    (rig.path / "tests/test_gone.py").unlink()
    stray = rig.snapshot("tests/test_gone/notes.json")
    stray.write_text('{"mine": true}\n')
    beside = rig.snapshot("tests/test_a/notes.json")  # in a live test module's folder
    beside.write_text('{"mine": "too"}\n')

    result = rig.run("--snapshot-update")

    result.assert_outcomes(passed=2)
    assert not rig.snapshot("tests/test_gone/test_agentrig.json").exists()
    assert rig.snapshot("tests/test_a/test_agentrig.json").exists()
    assert json.loads(stray.read_text()) == {"mine": True}
    assert json.loads(beside.read_text()) == {"mine": "too"}
    assert_clean(result.stdout.str())
