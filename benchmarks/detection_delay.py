"""Detection delay of a rule's drop, in the rule's own firings, and false alarms on stable rules (issue 11, point 5).

A rule fires on ~1 % of events. Its pack evidence: confidence ``c0`` from ``n`` rows (Wilson 95 % interval, as the
miner writes it). At a known event its true confidence drops from ``c0`` to ``c1``; the delay is the number of the
rule's firings from the change up to (and including) the firing at which its tracker first reaches ``drift``.
Measured for the default settings (sequential test on, 0.1 false alarms per rule per million events), for 1 per
million, and for the detectors of before issue 11 alone (interval + ADWIN: ``false_alarms_per_million=0``), on the
same streams. A drift not reached within 100,000 events after the change (~1,000 firings) is *missed* and counts as
never in the median and p90. False alarms: ``drift`` transitions of stable rules over
many events (update_many in large batches), counted per rule per million events.

Usage::

    python benchmarks/detection_delay.py            # the recorded run (20 seeds, 15 M events of stable rules)
    python benchmarks/detection_delay.py --quick    # a few seconds, for development

Prints a table and writes ``benchmarks/results/detection_delay.json`` (machine and date included).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from leanlearn.mining.rules import Condition, Rule
from leanlearn.online.sequential import wilson
from leanlearn.online.settings import TrackerSettings
from leanlearn.online.trackers import RuleTracker

COVERAGE = 0.01
WINDOW = 1000


def pack_rule(c0: float, n: int, rid: str = "R") -> Rule:
    hits = round(c0 * n)
    ci = wilson(hits, n)
    return Rule((Condition("x", ">", 0.0),), Condition("y", "==", 1), support=COVERAGE * c0, coverage=COVERAGE,
                confidence=hits / n, lift=c0 / 0.05, leverage=0.0, conviction=None, n=n, hits=hits, p_value=1e-9,
                p_value_raw=1e-10, ci=ci, base_rate=0.05, id=rid)


def delay(rule: Rule, settings: TrackerSettings, c0: float, c1: float, seed: int, before: int = 200_000,
          after: int = 100_000) -> int | None:
    """Firings after the change until drift (None: not within ``after`` events)."""
    rng = np.random.default_rng(seed)
    n = before + after
    fired = rng.random(n) < COVERAGE
    outcome = rng.random(n) < np.where(np.arange(n) < before, c0, c1)
    tracker = RuleTracker(rule, settings)
    tracker.update_many(fired[:before], outcome[:before])
    tracker.pop_transitions()  # before the change: counted as false alarms elsewhere
    start = tracker.state
    for lo in range(before, n, 2000):  # micro-batches, as the monitor feeds them
        tracker.update_many(fired[lo:lo + 2000], outcome[lo:lo + 2000], events=np.arange(lo, min(n, lo + 2000)))
        drifts = [t for t in tracker.pop_transitions() if t.state == "drift"]
        if drifts or (start == "drift"):
            at = drifts[0].event if drifts else before
            return int(fired[before:at + 1].sum())
    return None


def false_alarms(rule: Rule, settings: TrackerSettings, c0: float, events: int, seed: int) -> tuple[int, int]:
    """(drift transitions, sequential alarms) of a stable rule at its pack confidence over ``events`` events."""
    rng = np.random.default_rng(10_000 + seed)
    tracker = RuleTracker(rule, settings)
    drifts, batch = 0, 1_000_000
    for lo in range(0, events, batch):
        m = min(batch, events - lo)
        tracker.update_many(rng.random(m) < COVERAGE, rng.random(m) < c0)
        drifts += sum(t.state == "drift" for t in tracker.pop_transitions())
    seq = tracker.sequential
    return drifts, 0 if seq is None else seq.n_alarms


def summary(values: list[int | None]) -> dict[str, float | int | None]:
    """Median and p90 over all runs, a missed drift counting as never (``None`` when the quantile is missed)."""
    got = np.array([math.inf if v is None else v for v in values], dtype=float)
    med, p90 = float(np.median(got)), float(np.percentile(got, 90, method="higher"))
    return {"median": med if math.isfinite(med) else None, "p90": p90 if math.isfinite(p90) else None,
            "missed": int(np.isinf(got).sum()), "runs": len(values)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few seeds and events (development)")
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--stable-events", type=float, default=None, help="events per stable rule and seed")
    args = ap.parse_args()
    seeds = args.seeds or (4 if args.quick else 20)
    stable = int(args.stable_events or (1e6 if args.quick else 10e6))
    stable_seeds = 2 if args.quick else 5
    arms = {"sequential (default)": TrackerSettings(window=WINDOW),
            "sequential, 1 per M": TrackerSettings(window=WINDOW, false_alarms_per_million=1.0),
            "interval + ADWIN only": TrackerSettings(window=WINDOW, false_alarms_per_million=0)}
    evidence = [(0.95, 2000), (0.97, 1000)]
    drops = [0.6, 0.8]
    t0 = time.perf_counter()
    rows = []
    for c0, n in evidence:
        rule = pack_rule(c0, n)
        for c1 in drops:
            for arm, settings in arms.items():
                d = [delay(rule, settings, c0, c1, seed) for seed in range(seeds)]
                rows.append({"before": c0, "pack_n": n, "ci": list(rule.ci), "after": c1, "arm": arm,
                             **summary(d), "delays": d})
    fa_rows = []
    for c0, n in evidence:
        rule = pack_rule(c0, n)
        for arm, settings in arms.items():
            drifts = seq = 0
            for seed in range(stable_seeds):
                a, b = false_alarms(rule, settings, c0, stable, seed)
                drifts, seq = drifts + a, seq + b
            total = stable * stable_seeds
            fa_rows.append({"confidence": c0, "pack_n": n, "arm": arm, "events": total, "drift": drifts,
                            "sequential_alarms": seq, "per_million": drifts / total * 1e6})
    elapsed = time.perf_counter() - t0

    print(f"\nDelay to drift, in the rule's firings after the change (rule fires on {COVERAGE:.0%} of events, window "
          f"{WINDOW:,} events, {seeds} seeds)")
    print(f"{'before':>7} {'pack n':>7} {'p0':>6} {'after':>6}  {'arm':<24} {'median':>7} {'p90':>6} {'missed':>7}")
    for r in rows:
        med = "never" if r["median"] is None else f"{r['median']:.0f}"
        p90 = "never" if r["p90"] is None else f"{r['p90']:.0f}"
        print(f"{r['before']:>7.2f} {r['pack_n']:>7,} {r['ci'][0]:>6.3f} {r['after']:>6.2f}  {r['arm']:<24} "
              f"{med:>7} {p90:>6} {r['missed']:>7}")
    print(f"\nFalse alarms on stable rules ({stable_seeds} seeds x {stable:,} events per rule and arm)")
    print(f"{'confidence':>10} {'pack n':>7}  {'arm':<24} {'events':>12} {'drift':>6} {'seq. alarms':>11} "
          f"{'per M':>7}")
    for r in fa_rows:
        print(f"{r['confidence']:>10.2f} {r['pack_n']:>7,}  {r['arm']:<24} {r['events']:>12,} {r['drift']:>6} "
              f"{r['sequential_alarms']:>11} {r['per_million']:>7.3f}")
    print(f"\n{elapsed:.0f} s")
    out = {
        "benchmark": "detection_delay", "quick": args.quick,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()},
        "coverage": COVERAGE, "window": WINDOW, "seeds": seeds,
        "settings": TrackerSettings(window=WINDOW).to_json(), "delays": rows, "false_alarms": fa_rows,
        "seconds": round(elapsed, 1),
    }
    path = Path(__file__).resolve().parent / "results" / "detection_delay.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
