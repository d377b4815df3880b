"""Measure registration on a team server: a real multi-worker ``mlflow server`` on PostgreSQL, many clients at once.

Usage: python benchmarks/team_server.py [--json PATH]
Runs the slow tests of ``tests/test_team_server.py`` (8 processes registering 10 packs each into one model and 2 into
a second, released together; the same new pack by all 8 at once; a pack registered again by all 8; then 4 processes
through a proxy that injects 503s, answers lost after the commit and lost alias answers), which assert that every
pack is exactly one version with its tags. Prints and writes (default benchmarks/results/team_server.json) the
figures: wall time, versions per second, median seconds per registration, retries, duplicates settled, the
server's HTTP answers by status, the injected faults. Needs PostgreSQL on loopback (``LEANLEARN_TEST_POSTGRES``,
default ``postgresql+psycopg2://postgres@127.0.0.1:5432/test``; a fresh database is created and dropped). Exit code
1 if a test failed or was skipped.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "team_server.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="leanlearn-team-") as tmp:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-s", "-m", "slow", "-p", "no:cacheprovider", "--basetemp", tmp,
             "-rs", str(ROOT / "tests" / "test_team_server.py")], cwd=ROOT, capture_output=True, text=True,
        )
        found = sorted(Path(tmp).glob("team-server*/team_server.json"))
        figures = json.loads(found[0].read_text()) if found else {}
    passed = done.returncode == 0 and " passed" in done.stdout and "skipped" not in done.stdout
    doc = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": _cpus()},
        "passed": passed,
        "figures": figures,
    }
    if not passed:
        doc["pytest_tail"] = (done.stdout + done.stderr)[-3000:]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=1) + "\n")
    for key, values in figures.items():
        shown = {k: v for k, v in values.items() if k != "registry_log_sample"}
        print(f"{key}: {json.dumps(shown)}")
    print(("passed" if passed else "FAILED or skipped") + f"; written to {args.json}")
    return 0 if passed else 1


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0)


if __name__ == "__main__":
    sys.exit(main())
