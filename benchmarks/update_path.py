"""The ``--snapshot-update`` path at two suite sizes: one folder fsync per file vs per session.

Each round records every suite from scratch (its ``snapshots/`` folder removed first) twice,
interleaved so machine noise hits both alike:

* ``per-file`` — the old write path, rebuilt by a small plugin that fsyncs the folder after
  every ``os.replace`` (what ``atomic_write`` did before issue #20 item 4);
* ``batched`` — agentrig as it ships: each temporary file fsynced before its rename, each
  touched folder fsynced once when the session ends.

Prints a Markdown table (medians of wall time, ms per test, ratios) and the raw runs as JSON.
Run: ``python benchmarks/update_path.py --sizes 1000 4000 --rounds 3``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import suites

PER_FILE_PLUGIN = """
import os
from pathlib import Path

from agentrig._files import fsync_dir  # the old per-file folder fsync, rebuilt for comparison

_replace = os.replace


def _replace_and_sync(src, dst, **kwargs):
    _replace(src, dst, **kwargs)
    fsync_dir(Path(os.fsdecode(dst)).parent)


os.replace = _replace_and_sync
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--rounds", type=int, default=3)
    ns = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="agentrig-update-bench-"))
    try:
        (root / "plugins").mkdir()
        (root / "plugins" / "per_file_fsync.py").write_text(PER_FILE_PLUGIN)
        env = suites.bench_env(root / "pycache")
        modes = {
            "per-file": (["-p", "per_file_fsync"], root / "plugins"),
            "batched": ([], None),
        }
        projects = {n: suites.write_suite(root, "agentrig", n) for n in ns.sizes}
        wall: dict[str, list[float]] = {f"{m}-{n}": [] for n in ns.sizes for m in modes}
        for n, project in projects.items():  # warm-up: byte-code caches, the file system
            warm = suites.run_pytest(project, ["--snapshot-update"], env)
            suites.check(warm, "warm-up", passed=n)
        for r in range(ns.rounds):
            for n, project in projects.items():
                for mode, (args, path) in modes.items():
                    shutil.rmtree(project / "snapshots", ignore_errors=True)
                    run_env = dict(env)
                    if path is not None:
                        run_env["PYTHONPATH"] = os.pathsep.join(
                            [str(path), *filter(None, [env.get("PYTHONPATH")])]
                        )
                    run = suites.run_pytest(project, ["--snapshot-update", *args], run_env)
                    suites.check(run, f"{mode} x{n}", passed=n)
                    wall[f"{mode}-{n}"].append(run.seconds)
            print(f"round {r + 1}/{ns.rounds} done", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in wall.items()}
    first = min(ns.sizes)
    print(
        "| write path | N | wall median | min–max | ms per test | vs per-file "
        f"| growth vs N={first:,} |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n in ns.sizes:
        for mode in modes:
            key = f"{mode}-{n}"
            growth = med[key] / med[f"{mode}-{first}"]
            print(
                f"| {mode} | {n:,} | {med[key]:.2f} s | {min(wall[key]):.2f}–{max(wall[key]):.2f} s"
                f" | {med[key] / n * 1000:.2f} | {med[f'per-file-{n}'] / med[key]:.2f}x faster"
                f" | {growth:.2f}x for {n / first:.0f}x |"
            )
    print(json.dumps({"wall": wall}, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
