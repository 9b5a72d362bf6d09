"""What a mutation run costs: ``pytest examples --agentrig-mutate`` against the suite alone.

Usage::

    python benchmarks/mutation.py              # 3 runs each (~2 min on 2 shared cores)
    python benchmarks/mutation.py --runs 5 --markdown out.md

The target (issue 19): the whole mutation run costs at most (number of mutants) x (the test's
own time) + 20 %. Per test, "its own time" is what pytest measured for its baseline run
(setup + call + teardown, from the report's ``baseline_seconds``); the mutants' cost is the
``mutation_seconds`` the same report gives (each mutant run, its equivalence check included).
The whole-session figure compares wall times of the mutation session and of the plain suite,
interleaved so that noise from other processes hits both alike; what the mutation session
costs above the plain one is the mutants' work plus the report.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]


def _pytest(*args: str) -> float:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("CI", None)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "examples", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=env,
        check=False,
        capture_output=True,
    )
    return time.perf_counter() - started


def _once(workers: str) -> dict[str, Any]:
    extra = [] if workers == "0" else ["-p", "xdist", "-n", workers]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.json"
        plain = _pytest(*extra)
        mutate = _pytest("--agentrig-mutate", f"--agentrig-mutate-report={path}", *extra)
        data = orjson.loads(path.read_bytes())
    tests = [t for t in data["tests"] if t["status"] == "mutated"]
    budget = sum(len(t["mutants"]) * t["baseline_seconds"] for t in tests)
    spent = sum(t["mutation_seconds"] for t in tests)
    return {
        "plain": plain,
        "mutate": mutate,
        "budget": budget,
        "spent": spent,
        "mutants": sum(len(t["mutants"]) for t in tests),
        "score": data["overall"]["score"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--markdown", type=Path)
    ns = parser.parse_args()
    rows = []
    for workers in ("0", "2"):
        runs = [_once(workers) for _ in range(ns.runs)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        bound = med["plain"] + 1.2 * med["budget"]
        rows.append(
            f"| `-n {workers}` | {int(med['mutants'])} | {med['plain']:.2f} s |"
            f" {med['budget']:.2f} s | {med['spent']:.2f} s ({med['spent'] / med['budget']:.2f}x)"
            f" | {med['mutate']:.2f} s | {bound:.2f} s | {100 * med['score']:.1f}% |"
        )
    text = "\n".join(
        [
            f"Medians of {ns.runs} runs each.",
            "",
            "| workers | mutants | plain suite (wall) | mutants x own time | mutants' cost"
            " (ratio) | mutation session (wall) | bound: plain + 1.2 x (mutants x own time)"
            " | score |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    print(text)
    if ns.markdown:
        ns.markdown.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
