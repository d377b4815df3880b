"""Benchmark the live rule monitor: throughput, and detection delay / false alarms against plain ADWIN.

Usage: python benchmarks/monitor.py [--events N] [--repeat K] [--seeds S] [--per-event N] [--quick]
       [--throughput-only] [--wall] [--json PATH]
Prints tables and writes JSON (default benchmarks/results/monitor.json).

Throughput — events per second of :class:`leanlearn.online.Monitor` on a synthetic stream with 20 and 100 planted
rules (:func:`leanlearn.online.scenarios.planted_stream`; each rule covers 2 % resp. 0.5 % of events, so ~0.4 resp.
~0.5 rule firings per event), window 10,000 events, one process, one thread:

- per event: ``update(dict)`` on each event (the rows are turned into dicts before the clock starts);
- per event (general): the same without the pack's generated check-and-evaluate function
  (:mod:`leanlearn.online.compiled`): each event checked (``check_row``), then evaluated through the index;
- batched: ``update_many(DataFrame)`` on micro-batches of 10,000 and 100,000 events (slices of one DataFrame);
- per event (AI4I): ``update(dict)`` with the pack the shipped AI4I pipeline mines (three derived features) on
  the 20,000-event AI4I drift stream (:func:`leanlearn.online.scenarios.ai4i_drift_stream`), window 3,000;
- River loop: the plain loop a user would write with River over the same rules and the same dicts, timed in the
  same run — for each event, for each rule, its conditions checked with early exit (``operator`` functions), and on
  a firing ``river.drift.ADWIN.update`` with the hit. It keeps no window, no expected interval, no state, no
  outcome window and checks no value, so it is a floor for the work, not a monitor. The table gives the per-event
  path's speed as a multiple of it (``× River``: ≥ 1 means the monitor is at least as fast; the JSON keeps the
  ratio of each repeat, ``vs_river_loop_all``, as the monitor and the loop are timed in turn).

Detection — streams of ``--events`` events, 20 rules, window 10,000:

- ``drift``: at 25 %, 50 % and 75 % of the stream two rules each change confidence (one drops to 40 % of its value,
  one rises by +0.2): six true changes;
- ``small``: the same, with smaller changes (to 75 % of the value; +0.1);
- ``stable``: no change at all.

An alarm of the monitor is a transition into ``drift``; of the baseline, a detection of a plain River
``ADWIN()`` (River's defaults: delta 0.002, clock 32) fed each rule's hit sequence. The first alarm on a changed rule
after its change detects it (delay in events); later alarms on it are repeats; an alarm on a rule that has not
changed (yet) is false. False alarms are reported per 100,000 events. For the monitor, the warnings (ok → warning,
which come before a drift) are counted too, and the mean delay of the first warning after a change. Wall-clock
numbers depend on the machine (recorded in the JSON). Times are CPU seconds of the process (``time.process_time``;
``--wall`` for the wall clock): on a shared machine, other processes' load then does not count.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from leanlearn.online.monitor import Monitor
from leanlearn.online.scenarios import planted_stream

WINDOW = 10_000
# CPU seconds of this process by default: the machine may be shared, and another process's load would count in
# wall-clock time (unequally for timings taken in turn); --wall uses time.perf_counter instead
CLOCK = time.process_time


def throughput(n_rules: int, n_events: int, repeat: int, per_event: int) -> list[dict]:
    pack, events = planted_stream(n_rules, n_events, seed=1)
    fired = sum(float(r.mask(events).mean()) for r in pack.rules)
    rows = []
    for batch in (10_000, 100_000):
        times = []
        for _ in range(repeat):
            monitor = Monitor(pack, window=WINDOW)
            started = CLOCK()
            for start in range(0, n_events, batch):
                monitor.update_many(events.iloc[start:start + batch])
            times.append(CLOCK() - started)
        best = min(times)
        rows.append({"rules": n_rules, "path": f"batched ({batch:,})", "events": n_events, "seconds": best,
                     "events_per_s": n_events / best, "firings_per_event": fired})
    records = events.iloc[:per_event].to_dict("records")
    times, general_times, loop_times = [], [], []
    for _ in range(repeat):  # interleaved, so all see the same machine load
        times.append(per_event_seconds(Monitor(pack, window=WINDOW), records))
        general = Monitor(pack, window=WINDOW)
        general._fast = general._event = None  # without the pack's generated function: check, then the index
        general_times.append(per_event_seconds(general, records))
        loop_times.append(river_loop(pack, records))
    best, loop = min(times), min(loop_times)
    rows.append({"rules": n_rules, "path": "per event", "events": per_event, "seconds": best,
                 "events_per_s": per_event / best, "firings_per_event": fired, "vs_river_loop": loop / best,
                 "vs_river_loop_all": sorted(x / y for x, y in zip(loop_times, times, strict=True))})
    slow = min(general_times)
    rows.append({"rules": n_rules, "path": "per event (general)", "events": per_event, "seconds": slow,
                 "events_per_s": per_event / slow, "firings_per_event": fired, "vs_river_loop": loop / slow})
    rows.append({"rules": n_rules, "path": "River loop", "events": per_event, "seconds": loop,
                 "events_per_s": per_event / loop, "firings_per_event": fired, "vs_river_loop": 1.0})
    return rows


def per_event_seconds(monitor: Monitor, records: list[dict]) -> float:
    """Seconds of ``monitor.update`` on each record in turn."""
    started = CLOCK()
    for record in records:
        monitor.update(record)
    return CLOCK() - started


def ai4i_per_event(repeat: int) -> dict:
    """Per-event speed on a real mined pack: the shipped AI4I pipeline's pack (three derived features) on the
    20,000-event AI4I drift stream, window 3,000."""
    from leanlearn.online.scenarios import ai4i_drift_stream
    from leanlearn.pipeline import load_pipeline, run_pipeline, shipped_pipeline

    pack = run_pipeline(load_pipeline(shipped_pipeline("ai4i")))
    records = ai4i_drift_stream().to_dict("records")
    times = []
    for _ in range(repeat):
        monitor = Monitor(pack, window=3000)
        times.append(per_event_seconds(monitor, records))
    best = min(times)
    return {"rules": len(monitor.rules), "path": "per event (AI4I)", "events": len(records), "seconds": best,
            "events_per_s": len(records) / best, "firings_per_event": sum(t.n_fired for t in monitor.trackers) /
            len(records), "derived": len(monitor.compiled.derived)}


def river_loop(pack, records: list[dict]) -> float:
    """Seconds of the plain River loop over ``records`` (see the module docstring); ADWINs built before the clock."""
    import operator

    from river import drift

    ops = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq}
    rules = [(tuple((c.feature, ops[c.op], c.value) for c in r.conditions), r.outcome.feature, r.outcome.value)
             for r in pack.rules]
    detectors = [drift.ADWIN() for _ in rules]
    started = CLOCK()
    for record in records:
        for k, (conditions, target, value) in enumerate(rules):
            for feature, op, threshold in conditions:
                if not op(record[feature], threshold):
                    break
            else:
                detectors[k].update(1.0 if record[target] == value else 0.0)
    return CLOCK() - started


def _score(alarms: dict[str, list[int]], changes: list[tuple[int, str]], n_events: int) -> dict:
    """Delay of the first alarm after each change; repeats; false alarms (on a rule that had not changed)."""
    changed_at = dict((rule, at) for at, rule in changes)
    delays, missed, repeats, false = [], 0, 0, 0
    for rule, events in alarms.items():
        at = changed_at.get(rule)
        false += sum(1 for e in events if at is None or e < at)
        after = [e for e in events if at is not None and e >= at]
        repeats += max(len(after) - 1, 0)
    for at, rule in changes:
        after = [e for e in alarms.get(rule, []) if e >= at]
        if after:
            delays.append(after[0] - at)
        else:
            missed += 1
    return {
        "changes": len(changes), "detected": len(delays), "missed": missed,
        "delay_median": statistics.median(delays) if delays else None,
        "delay_mean": statistics.fmean(delays) if delays else None,
        "delay_max": max(delays) if delays else None,
        "repeats": repeats, "false_alarms": false, "false_per_100k": false / (n_events / 100_000),
    }


def detection(n_events: int, seeds: list[int]) -> list[dict]:
    from river import drift

    rows = []
    changes_of = {"drift": (0.4, 0.2), "small": (0.75, 0.1)}
    for scenario in ("drift", "small", "stable"):
        totals: dict[str, list[dict]] = {"monitor": [], "ADWIN": []}
        warnings = 0
        first_warnings: list[dict] = []
        for seed in seeds:
            probe, _ = planted_stream(20, 10, seed=seed, reference=200_000)
            changes_spec = []
            if scenario in changes_of:
                factor, rise = changes_of[scenario]
                for j, frac in enumerate((0.25, 0.5, 0.75)):
                    at = int(n_events * frac)
                    down, up = 2 * j, 2 * j + 1
                    changes_spec.append((at, down, probe.rules[down].confidence * factor))
                    changes_spec.append((at, up, min(0.98, probe.rules[up].confidence + rise)))
            pack, events = planted_stream(20, n_events, drifts=changes_spec, seed=seed, reference=200_000)
            changes = [(at, pack.rules[k].id) for at, k, _ in changes_spec]
            monitor = Monitor(pack, window=WINDOW)
            alarms: dict[str, list[int]] = {}
            warned: dict[str, list[int]] = {}
            for start in range(0, n_events, 100_000):
                for alert in monitor.update_many(events.iloc[start:start + 100_000]):
                    if alert.state == "drift":
                        alarms.setdefault(alert.rule, []).append(alert.event)
                    elif alert.state == "warning":
                        warnings += 1
                        warned.setdefault(alert.rule, []).append(alert.event)
            totals["monitor"].append(_score(alarms, changes, n_events))
            first_warnings.append(_score(warned, changes, n_events))
            y = events["y"].to_numpy()
            baseline: dict[str, list[int]] = {}
            for rule in pack.rules:
                idx = np.flatnonzero(rule.mask(events))
                detector = drift.ADWIN()
                for i, hit in zip(idx.tolist(), y[idx].astype(float).tolist()):
                    detector.update(hit)
                    if detector.drift_detected:
                        baseline.setdefault(rule.id, []).append(i)
            totals["ADWIN"].append(_score(baseline, changes, n_events))
        for method, scores in totals.items():
            delays = [s["delay_mean"] for s in scores if s["delay_mean"] is not None]
            maxima = [s["delay_max"] for s in scores if s["delay_max"] is not None]
            rows.append({
                "scenario": scenario, "method": method, "streams": len(scores), "events": n_events,
                "changes": sum(s["changes"] for s in scores), "detected": sum(s["detected"] for s in scores),
                "missed": sum(s["missed"] for s in scores), "repeats": sum(s["repeats"] for s in scores),
                "delay_mean": statistics.fmean(delays) if delays else None,
                "delay_max": max(maxima) if maxima else None,
                "false_alarms": sum(s["false_alarms"] for s in scores),
                "false_per_100k": statistics.fmean(s["false_per_100k"] for s in scores),
                "warnings_per_100k": warnings / (len(scores) * n_events / 100_000) if method == "monitor" else None,
                "warning_delay_mean": (statistics.fmean(w["delay_mean"] for w in first_warnings
                                                        if w["delay_mean"] is not None)
                                       if method == "monitor" and any(w["delay_mean"] is not None
                                                                      for w in first_warnings) else None),
            })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events per stream (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timing repeats, best kept (default 3)")
    parser.add_argument("--seeds", type=int, default=5, help="streams per detection scenario (default 5)")
    parser.add_argument("--quick", action="store_true", help="small run: 200,000 events, 1 repeat, 1 seed")
    parser.add_argument("--throughput-only", action="store_true", help="skip the detection tables")
    parser.add_argument("--wall", action="store_true", help="time with the wall clock (default: CPU time)")
    parser.add_argument("--per-event", type=int, default=100_000, help="events of the per-event runs (100,000)")
    parser.add_argument("--json", type=Path, default=None,
                        help="where to write the results (default benchmarks/results/monitor.json; with "
                             "--throughput-only nothing is written unless given)")
    args = parser.parse_args()
    if args.quick:
        args.events, args.repeat, args.seeds = 200_000, 1, 1
    if args.wall:
        global CLOCK
        CLOCK = time.perf_counter
    import river

    speed = []
    for n_rules in (20, 100):
        speed.extend(throughput(n_rules, args.events, args.repeat, per_event=min(args.per_event, args.events)))
    speed.append(ai4i_per_event(args.repeat))
    clock = "wall clock" if args.wall else "CPU time"
    print(f"\nthroughput (window {WINDOW:,} events, one core, {clock}; best of {args.repeat})")
    print(f"{'rules':>5}  {'path':<20} {'events':>10} {'firings/ev':>10} {'events/s':>14} {'× River':>8}")
    for r in speed:
        ratio = f"{r['vs_river_loop']:.2f}" if "vs_river_loop" in r else ""
        print(f"{r['rules']:>5}  {r['path']:<20} {r['events']:>10,} {r['firings_per_event']:>10.2f} "
              f"{r['events_per_s']:>14,.0f} {ratio:>8}")

    quality = [] if args.throughput_only else detection(args.events, list(range(args.seeds)))
    print(f"\ndetection (20 rules, window {WINDOW:,}; {args.seeds} stream(s) of {args.events:,} events per scenario)")
    print(f"{'scenario':<8} {'method':<8} {'changes':>7} {'detected':>8} {'delay mean':>10} {'delay max':>9} "
          f"{'repeats':>7} {'false':>5} {'false/100k':>10} {'warnings/100k':>13} {'warning delay':>13}")
    for r in quality:
        mean = "—" if r["delay_mean"] is None else f"{r['delay_mean']:,.0f}"
        worst = "—" if r["delay_max"] is None else f"{r['delay_max']:,}"
        warned = "—" if r["warnings_per_100k"] is None else f"{r['warnings_per_100k']:.1f}"
        print(f"{r['scenario']:<8} {r['method']:<8} {r['changes']:>7} {r['detected']:>8} {mean:>10} {worst:>9} "
              f"{r['repeats']:>7} {r['false_alarms']:>5} {r['false_per_100k']:>10.2f} {warned:>13} "
              f"{'—' if r['warning_delay_mean'] is None else format(r['warning_delay_mean'], ',.0f'):>13}")

    if args.json is None:
        if args.throughput_only:
            return
        args.json = Path(__file__).parent / "results" / "monitor.json"
    args.json.parent.mkdir(parents=True, exist_ok=True)
    meta = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "python": platform.python_version(),
            "machine": platform.machine(), "processor": platform.processor(), "cpus": os.cpu_count(),
            "numpy": np.__version__, "pandas": pd.__version__, "river": river.__version__, "window": WINDOW,
            "events": args.events, "repeat": args.repeat, "seeds": args.seeds,
            "clock": "perf_counter (wall)" if args.wall else "process_time (CPU)"}
    args.json.write_text(json.dumps({"meta": meta, "throughput": speed, "detection": quality}, indent=2) + "\n")
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
