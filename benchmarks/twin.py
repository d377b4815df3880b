"""Benchmark the digital twin: simulated events per second, and replications needed for a stable what-if answer.

Usage: python benchmarks/twin.py [--quick] [--repeat K] [--seeds S] [--no-peers] [--json PATH]
Prints tables and writes JSON (default benchmarks/results/twin.json) with machine, date and versions.

Speed — one replication of each line, CPU seconds of the process (``time.process_time``; the machine may be shared),
best of ``--repeat``; the time covers ``leanlearn.twin.simulation`` end to end (model build, the SimPy run, the
canonical operations / downtime / orders tables, the KPIs):

- ``M/M/1``: push, exponential arrivals of mean 1.25 h, one exponential station of mean 1 h (ρ = 0.8);
- ``CONWIP 4``: four balanced exponential stations (mean 1 h), CONWIP level 4;
- ``job shop 20``: 20 stations, 5 materials each routed through 8 of them (seeded), gamma cycle times (cv 0.5),
  a sequence-dependent setup matrix on every station, breakdowns on 5 stations, CONWIP level 30.

``events`` is the model's count of simulated events (SimPy events processed); ``jobs/s`` counts completed jobs.
Peers on the same M/M/1 (same horizon, same arrival and service means): a plain SimPy loop (``simpy.Resource``,
the shortest program a SimPy user would write; same SimPy the twin runs on) and salabim (in its own virtual
environment, ``/tmp/bench-venv``, when present: ``python -m venv /tmp/bench-venv && /tmp/bench-venv/bin/pip install
salabim``). Peers keep no tables and compute only L and W, so they are a floor for the work, not a twin. Every M/M/1
run reports its W (theory: 5 h) so a fast wrong model would show.

Stability — the what-if recommendation on the balanced 4-station exponential CONWIP line (means 1 h), target
throughput 0.68 per hour: theory (Factory Physics' practical worst case, TH(w) = w / (w + 3)) gives w = 7
(TH(6) = 0.667, TH(7) = 0.700). For R replications per point, ``--seeds`` independent what-ifs (different seeds;
horizon 1,000 h, warm-up 100 h; bisection over w = 1…12 with common random numbers) give their recommendation:
the share that recommends w = 7, and the median half-width of the throughput interval at the recommended point
(% of its mean). R is *enough* when every seed recommends the same w and the half-width is below 2 %.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
CLOCK = time.process_time
PEER_VENV = Path("/tmp/bench-venv/bin/python")


def mm1_spec() -> Any:
    from leanlearn.twin.spec import LineSpec

    return LineSpec.from_dict({
        "line": "mm1", "time_unit": "h",
        "release": {"policy": "push", "arrivals": {"dist": "exponential", "mean": 1.25}},
        "stations": [{"name": "S1", "cycle": {"dist": "exponential", "mean": 1.0}}],
    })


def conwip_spec(w: int = 4) -> Any:
    from leanlearn.twin.spec import LineSpec

    return LineSpec.from_dict({
        "line": "conwip4", "time_unit": "h", "release": {"policy": "conwip", "wip": w},
        "stations": [{"name": f"S{i}", "cycle": {"dist": "exponential", "mean": 1.0}} for i in range(1, 5)],
    })


def jobshop_spec(seed: int = 0) -> Any:
    from leanlearn.twin.spec import LineSpec

    rng = np.random.default_rng(seed)
    names = [f"M{i:02d}" for i in range(1, 21)]
    materials = [f"P{i}" for i in range(1, 6)]
    mats = {m: {"share": 0.2, "routings": [{"stations": [names[j] for j in sorted(rng.choice(20, 8, replace=False))]}]}
            for m in materials}
    stations = []
    for i, name in enumerate(names):
        matrix = {a: {b: {"dist": "gamma", "mean": round(float(rng.uniform(0.1, 0.4)), 3), "cv": 0.5}
                      for b in materials if b != a} for a in materials}
        st: dict[str, Any] = {"name": name, "cycle": {"dist": "gamma", "mean": round(float(rng.uniform(0.6, 1.0)), 3),
                                                      "cv": 0.5},
                              "setup": {"default": 0.0, "matrix": matrix}}
        if i % 4 == 0:
            st["breakdowns"] = {"tbf": {"dist": "exponential", "mean": 40.0}, "repair": {"dist": "exponential",
                                                                                         "mean": 2.0}}
        stations.append(st)
    return LineSpec.from_dict({"line": "jobshop20", "time_unit": "h", "release": {"policy": "conwip", "wip": 30},
                               "materials": mats, "stations": stations})


def time_twin(spec: Any, horizon: float, repeat: int) -> dict[str, Any]:
    from leanlearn.twin.simulation import simulate

    best: dict[str, Any] = {}
    for _ in range(repeat):
        start = CLOCK()
        result = simulate(spec, horizon=horizon, warmup=0.0, replications=1, seed=0)
        seconds = CLOCK() - start
        run = result.replications[0]
        jobs = int(run.orders["done"].notna().sum()) if "done" in run.orders else len(run.orders)
        if not best or seconds < best["seconds"]:
            best = {"seconds": seconds, "events": int(run.events), "jobs": jobs,
                    "events_per_s": run.events / seconds, "jobs_per_s": jobs / seconds,
                    "W": float(run.kpis.get("lead_time_mean", float("nan"))),
                    "L": float(run.kpis.get("wip", float("nan")))}
    return best


SIMPY_MM1 = """
import random, time, simpy
def main(horizon, seed):
    rng = random.Random(seed)
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    stats = {"n": 0, "w": 0.0}
    def customer(env):
        t0 = env.now
        with server.request() as req:
            yield req
            yield env.timeout(rng.expovariate(1.0))
        stats["n"] += 1
        stats["w"] += env.now - t0
    def source(env):
        while True:
            yield env.timeout(rng.expovariate(0.8))
            env.process(customer(env))
    env.process(source(env))
    start = time.process_time()
    env.run(until=horizon)
    return time.process_time() - start, stats["n"], stats["w"] / stats["n"]
"""

SALABIM_MM1 = """
import json, sys, time
import salabim as sim
sim.yieldless(False)
horizon, seed, repeat = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
best = None
for _ in range(repeat):
    env = sim.Environment(trace=False, random_seed=seed)
    server = sim.Resource("server", capacity=1)
    stats = {"n": 0, "w": 0.0}
    service = sim.Exponential(1.0)
    gap = sim.Exponential(1.25)
    class Customer(sim.Component):
        def process(self):
            t0 = env.now()
            yield self.request(server)
            yield self.hold(service.sample())
            self.release()
            stats["n"] += 1
            stats["w"] += env.now() - t0
    class Source(sim.Component):
        def process(self):
            while True:
                yield self.hold(gap.sample())
                Customer()
    Source()
    start = time.process_time()
    env.run(till=horizon)
    seconds = time.process_time() - start
    if best is None or seconds < best["seconds"]:
        best = {"seconds": seconds, "jobs": stats["n"], "W": stats["w"] / stats["n"]}
best["version"] = sim.__version__
print(json.dumps(best))
"""


def time_simpy(horizon: float, repeat: int) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(SIMPY_MM1, "simpy_mm1", "exec"), namespace)  # the benchmark's own peer program, not input
    best: dict[str, Any] = {}
    for _ in range(repeat):
        seconds, jobs, w = namespace["main"](horizon, 0)
        if not best or seconds < best["seconds"]:
            best = {"seconds": seconds, "jobs": jobs, "jobs_per_s": jobs / seconds, "W": w}
    import simpy

    best["version"] = simpy.__version__
    return best


def time_salabim(horizon: float, repeat: int) -> dict[str, Any] | None:
    if not PEER_VENV.exists():
        return None
    try:
        out = subprocess.run([str(PEER_VENV), "-c", SALABIM_MM1, str(horizon), "0", str(repeat)],
                             capture_output=True, text=True, timeout=600, check=True).stdout
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"salabim peer failed: {exc}", file=sys.stderr)
        return None
    best = json.loads(out.strip().splitlines()[-1])
    best["jobs_per_s"] = best["jobs"] / best["seconds"]
    return best


def stability(replication_counts: list[int], seeds: int, horizon: float, warmup: float) -> list[dict[str, Any]]:
    from leanlearn.twin.what_if import whatif

    spec = conwip_spec(1)
    rows = []
    for r in replication_counts:
        picks, halves, seconds = [], [], []
        for s in range(seeds):
            start = CLOCK()
            result = whatif(spec, {"wip": list(range(1, 13))}, target_throughput=0.68, horizon=horizon,
                            warmup=warmup, replications=r, seed=1000 * s + 7, search="bisect")
            seconds.append(CLOCK() - start)
            rec = result.recommendation
            point = rec.get("point") or {}
            picks.append(point.get("wip"))
            kpis = rec.get("kpis", {}).get("throughput", {})
            mean, low, high = kpis.get("mean"), kpis.get("low"), kpis.get("high")
            if mean and low is not None and high is not None and np.isfinite(low):
                halves.append(100.0 * (high - low) / 2.0 / mean)
        share = sum(p == 7 for p in picks) / len(picks)
        half = statistics.median(halves) if halves else float("nan")
        rows.append({"replications": r, "recommendations": picks, "share_w7": share,
                     "agree": len(set(picks)) == 1, "half_width_pct": half,
                     "stable": len(set(picks)) == 1 and picks[0] == 7 and half < 2.0,
                     "seconds_per_whatif": statistics.median(seconds)})
        print(f"  R={r:<3} recommendations {picks}  w=7 share {share:.0%}  half-width {half:.2f} %  "
              f"{statistics.median(seconds):.1f} s/what-if", flush=True)
    return rows


def _finite(value: Any) -> Any:
    """NaN / inf as null (strict JSON)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short horizons, fewer seeds (a smoke run)")
    parser.add_argument("--repeat", type=int, default=3, help="timing repeats, best kept (default 3)")
    parser.add_argument("--seeds", type=int, default=8, help="independent what-ifs per replication count")
    parser.add_argument("--no-peers", action="store_true", help="skip SimPy and salabim")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "twin.json")
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    lines = {"M/M/1": (mm1_spec(), 100_000.0), "CONWIP 4": (conwip_spec(4), 50_000.0),
             "job shop 20": (jobshop_spec(), 5_000.0)}
    speed = {}
    print(f"Speed (one replication, CPU seconds, best of {args.repeat})")
    print(f"  {'line':<13} {'horizon':>9} {'events':>10} {'jobs':>8} {'seconds':>8} {'events/s':>10} {'jobs/s':>9}"
          f" {'W':>6}")
    for name, (spec, horizon) in lines.items():
        row = time_twin(spec, horizon * scale, args.repeat)
        row["horizon"] = horizon * scale
        speed[name] = row
        print(f"  {name:<13} {row['horizon']:>9,.0f} {row['events']:>10,} {row['jobs']:>8,} {row['seconds']:>8.2f} "
              f"{row['events_per_s']:>10,.0f} {row['jobs_per_s']:>9,.0f} {row['W']:>6.2f}", flush=True)
    peers: dict[str, Any] = {}
    if not args.no_peers:
        horizon = lines["M/M/1"][1] * scale
        peers["simpy loop"] = time_simpy(horizon, args.repeat)
        sal = time_salabim(horizon, args.repeat)
        if sal is not None:
            peers["salabim"] = sal
        twin = speed["M/M/1"]
        print(f"M/M/1 peers (horizon {horizon:,.0f} h): jobs per CPU second, W (theory 5 h)")
        print(f"  {'leanlearn twin':<16} {twin['jobs_per_s']:>9,.0f}  W {twin['W']:.2f}")
        for name, row in peers.items():
            row["twin_vs_peer"] = twin["jobs_per_s"] / row["jobs_per_s"]
            print(f"  {name + ' ' + row['version']:<16} {row['jobs_per_s']:>9,.0f}  W {row['W']:.2f}  "
                  f"(twin at {row['twin_vs_peer']:.2f} × its speed)")
    print("Replications for a stable what-if (4-station CONWIP, target 0.68/h, theory w = 7)")
    counts = [1, 2, 3, 5] if args.quick else [1, 2, 3, 5, 8, 12, 20, 30]
    seeds = min(args.seeds, 3) if args.quick else args.seeds
    stab = stability(counts, seeds, 1000.0 * (0.3 if args.quick else 1.0), 100.0)
    enough = next((row["replications"] for row in stab if row["stable"]), None)
    print(f"  enough: R = {enough}" if enough else "  no R in the list was stable")
    import pandas as pd
    import scipy
    import simpy

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE.parent).stdout.strip()
    meta = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "commit": commit,
            "python": platform.python_version(), "machine": platform.machine(), "processor": platform.processor(),
            "cpus": os.cpu_count(), "numpy": np.__version__, "pandas": pd.__version__, "scipy": scipy.__version__,
            "simpy": simpy.__version__, "clock": "process_time (CPU)", "repeat": args.repeat, "quick": args.quick}
    doc = {"meta": meta, "speed": speed, "peers_mm1": peers,
           "stability": {"line": "4-station balanced exponential CONWIP", "target_throughput": 0.68,
                         "theory_w": 7, "seeds": seeds, "horizon": 1000.0 * (0.3 if args.quick else 1.0),
                         "warmup": 100.0, "rows": stab, "enough_replications": enough}}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(_finite(doc), indent=2, allow_nan=False, default=str) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent / "src"))
    main()
