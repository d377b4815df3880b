"""Fuzz the expression parser/evaluator and the rule-pack loader for longer than the suite does.

Usage: python benchmarks/fuzz.py [--seconds S] [--targets NAME ...] [--json PATH]
Runs each target of ``tests/test_fuzz.py`` (:data:`TARGETS`: ``expression``, ``pack-document``, ``pack-text``,
``schema-agreement``) for ``--seconds`` seconds (default 60 each) with hypothesis, in rounds of fresh random seeds,
prints a table (examples run, examples per second, failures) and writes JSON (default
benchmarks/results/fuzz.json). A failure is an exception other than a ``LeanlearnError`` (or, for
``expression``, the two evaluators disagreeing; for ``schema-agreement``, the compiled validator disagreeing with
``jsonschema``); the first failing input of each target is recorded, shrunk by hypothesis. Exit code 1 if any
target failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import test_fuzz  # noqa: E402  (the targets live with the suite's fuzz tests)


def run_target(name: str, seconds: float, round_size: int = 200) -> dict[str, object]:
    """Run one target for ``seconds``; count examples and keep the first failure."""
    strategy, target = test_fuzz.TARGETS[name]
    examples = 0
    rounds = 0
    failure: dict[str, str] | None = None

    def counted(value: object) -> None:
        nonlocal examples
        examples += 1
        target(value)

    started = time.perf_counter()
    while time.perf_counter() - started < seconds and failure is None:
        rounds += 1

        @seed(random.getrandbits(64))
        @settings(max_examples=round_size, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(strategy)
        def one_round(value: object) -> None:
            counted(value)

        try:
            one_round()
        except Exception as exc:  # the shrunk failing example is in hypothesis' report
            failure = {"error": f"{type(exc).__name__}: {str(exc)[:500]}",
                       "traceback": "".join(traceback.format_exception(exc))[-4000:]}
    elapsed = time.perf_counter() - started
    return {"target": name, "seconds": round(elapsed, 1), "rounds": rounds, "examples": examples,
            "examples_per_second": round(examples / elapsed, 1) if elapsed else 0.0,
            "failed": failure is not None, "failure": failure}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds per target (default 60)")
    parser.add_argument("--targets", nargs="*", default=list(test_fuzz.TARGETS), choices=list(test_fuzz.TARGETS))
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "fuzz.json")
    args = parser.parse_args()
    results = [run_target(name, args.seconds) for name in args.targets]
    print(f"{'target':<18} {'seconds':>8} {'examples':>9} {'per s':>8}  result")
    for r in results:
        outcome = "FAILED: " + str(r["failure"]["error"])[:70] if r["failure"] else "ok"  # type: ignore[index]
        print(f"{r['target']:<18} {r['seconds']:>8} {r['examples']:>9,} {r['examples_per_second']:>8}  {outcome}")
    doc = {
        "benchmark": "fuzz",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
        "seconds_per_target": args.seconds,
        "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")
    return 1 if any(r["failed"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
