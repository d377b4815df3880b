"""Benchmark the rescheduling wing: CP-SAT on the classic job shops, and repair vs right-shift after breakdowns.

Usage: python benchmarks/schedule.py [--instances ft06,la01-la05,...] [--max-size 10x10] [--disruptions K]
       [--seed S] [--solve-limit S] [--repair-limit S] [--reference-limit S] [--repair-objective NAMES]
       [--reference-objective same|makespan|NAMES] [--reference-cold] [--workers W] [--json PATH] [--quiet]
Prints tables and writes JSON (default benchmarks/results/schedule.json).

Instances: ``benchmarks/instances/jobshop/`` (ft06, ft10, ft20, la01–la40; known optima in ``optima.json``).

1. **Plain solve.** :func:`leanlearn.schedule.cpsat.solve` of each undisturbed instance (objective makespan,
   ``--solve-limit`` seconds, ``--workers`` CP-SAT workers) against the known optimum: makespan, gap, status, time.
2. **Breakdowns.** On the solved schedule, ``--disruptions`` seeded breakdowns per instance, drawn from a generator
   seeded with ``(--seed, crc32(instance name))`` — the same breakdowns for an instance whatever else runs: a start
   uniform in [10 %, 60 %] of the makespan, a machine among those with work ending after that start, a duration
   uniform in [5 %, 15 %] of the makespan. For each:

   - **repair** — :func:`leanlearn.schedule.repair.repair` with its defaults (lexicographic bottleneck idle, then
     total tardiness, then makespan, with the stability penalty; warm-started from right-shift), ``--repair-limit``
     seconds (10 by default, the issue's limit);
   - **right-shift** — the sequence kept, everything behind the fault delayed as little as needed (returned beside
     the repair);
   - **reference** — the best repair the solver finds for the whole remaining problem in ``--reference-limit``
     seconds (60 in the issue; shorter for quick runs): the same model and objective as the repair
     (``--reference-objective same``, the default), or makespan alone (``--reference-objective makespan``: the best
     makespan a repair can reach, which the repair's default order — bottleneck idle and tardiness before makespan
     — trades for lower tardiness). ``--repair-objective`` sets the repair's order (comma-separated names). The
     reference runs without the repair's patience (each stage until proven or out of time) and, like the repair,
     warm-started from right-shift (``--reference-cold``: without the hint and the bound).

   Each schedule is checked by :func:`leanlearn.schedule.validate.validate_schedule` (precedence, machine overlap,
   the down window, the operations started before the breakdown unchanged); infeasible ones are counted.
   Figures: makespan, total tardiness (due date of a job = its completion in the undisturbed schedule), bottleneck
   idle (the machine with the most remaining work, see :mod:`leanlearn.schedule.solution`), operations moved
   (start changed vs the undisturbed schedule), repair wall time (model building included) p50 / p95.
   Shares over all disturbed cases: repair's makespan ≤ right-shift's; repair's makespan ≤ 1.02 × the reference's;
   repair better than right-shift on makespan or total tardiness.

Times are wall-clock seconds (``time.perf_counter``); CP-SAT is parallel, and a shared machine slows it: the JSON
records the machine, the date, the commit and the settings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
INSTANCES = Path(__file__).resolve().parent / "instances" / "jobshop"
ALL = ["ft06", "ft10", "ft20"] + [f"la{i:02d}" for i in range(1, 41)]


# -- instances and breakdowns --------------------------------------------------------------------------------------
def select(spec: str | None, max_size: str | None = None) -> list[str]:
    """Instance names from ``"ft06,la01-la05"`` (ranges of la / ft names; ``all`` or ``None``: all 43), optionally
    only those of at most ``max_size`` (``"10x10"``: jobs ≤ 10 and machines ≤ 10).

    >>> select("ft06,la03-la05")
    ['ft06', 'la03', 'la04', 'la05']
    >>> select(None, "10x5")
    ['la01', 'la02', 'la03', 'la04', 'la05']
    """
    if spec is None or spec.strip().lower() == "all":
        names = list(ALL)
    else:
        names = []
        for part in (p.strip().lower() for p in spec.split(",") if p.strip()):
            match = re.fullmatch(r"([a-z]+)(\d+)-(?:[a-z]+)?(\d+)", part)
            if match:
                stem, lo, hi = match.group(1), int(match.group(2)), int(match.group(3))
                width = len(match.group(2))
                found = [f"{stem}{i:0{width}d}" for i in range(lo, hi + 1)]
            else:
                found = [part]
            for name in found:
                if name not in ALL:
                    raise SystemExit(f"--instances: unknown instance {name!r}; known: ft06, ft10, ft20, la01-la40")
                if name not in names:
                    names.append(name)
    if max_size:
        optima = load_optima()
        jobs, machines = (int(v) for v in max_size.lower().split("x"))
        names = [n for n in names if optima[n]["jobs"] <= jobs and optima[n]["machines"] <= machines]
    return names


def load_optima() -> dict[str, dict[str, Any]]:
    """``optima.json``: shape, optimum, bounds and references per instance."""
    doc: dict[str, dict[str, Any]] = json.loads((INSTANCES / "optima.json").read_text())
    return doc


def load(name: str) -> Any:
    """The instance ``name`` read by :func:`leanlearn.schedule.instance.read_instance`."""
    from leanlearn.schedule.instance import read_instance

    return read_instance(INSTANCES / f"{name}.txt")


def draw_disruptions(name: str, instance: Any, schedule: Any, n: int, seed: int = 0) -> list[Any]:
    """``n`` breakdowns of ``schedule`` (see the module docstring), reproducible per ``(seed, name)``."""
    from leanlearn.schedule.repair import Disruption

    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    makespan = int(schedule.makespan)
    out = []
    for _ in range(n):
        start = int(rng.integers(max(1, makespan // 10), max(2, (6 * makespan) // 10) + 1))
        busy = sorted({o.machine for o in schedule.operations if o.end > start})
        machine = int(busy[int(rng.integers(len(busy)))]) if busy else int(rng.integers(instance.n_machines))
        duration = int(rng.integers(max(1, makespan // 20), max(2, (15 * makespan) // 100) + 1))
        out.append(Disruption(machine, start, duration))
    return out


# -- one instance --------------------------------------------------------------------------------------------------
def _frozen(schedule: Any, disruption: Any) -> list[Any]:
    """Operations that started before the breakdown and keep their times (not the one running on the downed machine
    at its start, which restarts)."""
    return [o for o in schedule.operations if o.start < disruption.start
            and not (o.machine == disruption.machine and o.end > disruption.start)]


def _figures(schedule: Any, instance: Any, due: dict[int, int], bottleneck: int, original: Any) -> dict[str, Any]:
    from leanlearn.schedule.solution import kpis

    k = kpis(schedule, instance, due=due, bottleneck=bottleneck, reference=original)
    return {key: k[key] for key in ("makespan", "total_tardiness", "bottleneck_idle", "operations_moved", "n_late")}


def _problems(instance: Any, schedule: Any, disruption: Any, original: Any) -> list[str]:
    from leanlearn.schedule.validate import validate_schedule

    return list(validate_schedule(instance, schedule, down=[disruption], frozen=_frozen(original, disruption)))


def run_instance(name: str, *, optimum: int | None = None, disruptions: int = 3, seed: int = 0,
                 solve_limit: float = 30.0, repair_limit: float = 10.0, reference_limit: float = 60.0,
                 workers: int = 2, repair_objective: Sequence[str] | None = None,
                 reference_objective: Sequence[str] | None = None, reference_cold: bool = False) -> dict[str, Any]:
    """Solve ``name``, then break it down ``disruptions`` times and compare repair, right-shift and the reference.

    ``repair_objective`` defaults to the repair's own default; ``reference_objective`` to the repair's objective;
    ``reference_cold`` solves the reference without the right-shift hint and bound.

    Returns ``{"instance", "jobs", "machines", "solve": {...}, "cases": [{...}, ...]}`` (see the module docstring).
    """
    from leanlearn.schedule.cpsat import solve
    from leanlearn.schedule.repair import DEFAULT_OBJECTIVE, repair
    from leanlearn.schedule.validate import validate_schedule

    instance = load(name)
    started = time.perf_counter()
    schedule = solve(instance, time_limit=solve_limit, workers=workers, seed=seed)
    seconds = time.perf_counter() - started
    solve_row = {"makespan": int(schedule.makespan), "status": schedule.status, "optimum": optimum,
                 "gap_pct": None if not optimum else 100.0 * (schedule.makespan - optimum) / optimum,
                 "seconds": seconds, "feasible": not validate_schedule(instance, schedule)}
    due = {job.id: schedule.job_end(job.id) for job in instance.jobs}
    cases = []
    for d in draw_disruptions(name, instance, schedule, disruptions, seed):
        started = time.perf_counter()
        result = repair(instance, schedule, d, time_limit=repair_limit, workers=workers, seed=seed,
                        objective=repair_objective or DEFAULT_OBJECTIVE)
        repair_seconds = time.perf_counter() - started
        bottleneck = int(result.kpis.get("bottleneck", 0))
        started = time.perf_counter()
        reference = repair(instance, schedule, d, time_limit=reference_limit, workers=workers, seed=seed,
                           objective=reference_objective or repair_objective or DEFAULT_OBJECTIVE,
                           warm_start=not reference_cold, patience=None)
        reference_seconds = time.perf_counter() - started
        row: dict[str, Any] = {"machine": d.machine, "start": d.start, "duration": d.duration,
                               "repair_seconds": repair_seconds, "repair_solver_seconds": result.solve_time_s,
                               "repair_status": result.schedule.status, "reference_seconds": reference_seconds,
                               "reference_status": reference.schedule.status}
        for label, sched in (("repair", result.schedule), ("right_shift", result.right_shift),
                             ("reference", reference.schedule)):
            row[label] = _figures(sched, instance, due, bottleneck, schedule)
            row[label]["problems"] = _problems(instance, sched, d, schedule)[:3]
        rep, rs, ref = row["repair"], row["right_shift"], row["reference"]
        row["not_worse_than_right_shift"] = rep["makespan"] <= rs["makespan"]
        row["within_2pct_of_reference"] = rep["makespan"] <= 1.02 * ref["makespan"]
        row["better_than_right_shift"] = (rep["makespan"] < rs["makespan"]
                                          or rep["total_tardiness"] < rs["total_tardiness"])
        cases.append(row)
    return {"instance": name, "jobs": len(instance.jobs), "machines": instance.n_machines, "solve": solve_row,
            "cases": cases}


# -- summary -------------------------------------------------------------------------------------------------------
def _quantile(values: Sequence[float], q: float) -> float | None:
    return float(np.quantile(np.asarray(values, dtype=float), q)) if len(values) else None


def _share(flags: Iterable[bool]) -> float | None:
    items = list(flags)
    return sum(items) / len(items) if items else None


def summarise(rows: Sequence[dict[str, Any]], small: str = "10x10") -> dict[str, Any]:
    """Shares, means and repair-time quantiles over every disturbed case (and over the instances up to ``small``)."""
    jobs, machines = (int(v) for v in small.split("x"))
    cases = [c for r in rows for c in r["cases"]]
    small_cases = [c for r in rows if r["jobs"] <= jobs and r["machines"] <= machines for c in r["cases"]]
    solved = [r["solve"] for r in rows]

    def mean(label: str, key: str) -> float | None:
        values = [c[label][key] for c in cases]
        return statistics.fmean(values) if values else None

    return {
        "instances": len(rows),
        "cases": len(cases),
        "solved_optimal_value": sum(1 for s in solved if s["optimum"] is not None and s["makespan"] == s["optimum"]),
        "solve_status_optimal": sum(1 for s in solved if s["status"] == "OPTIMAL"),
        "mean_solve_gap_pct": statistics.fmean([s["gap_pct"] for s in solved if s["gap_pct"] is not None])
        if solved else None,
        "infeasible_schedules": sum(1 for c in cases for label in ("repair", "right_shift", "reference")
                                    if c[label]["problems"]) + sum(1 for s in solved if not s["feasible"]),
        "share_not_worse_than_right_shift": _share(c["not_worse_than_right_shift"] for c in cases),
        "share_within_2pct_of_reference": _share(c["within_2pct_of_reference"] for c in cases),
        "share_better_than_right_shift": _share(c["better_than_right_shift"] for c in cases),
        "mean": {label: {key: mean(label, key) for key in ("makespan", "total_tardiness", "bottleneck_idle",
                                                           "operations_moved")}
                 for label in ("repair", "right_shift", "reference")} if cases else {},
        "repair_seconds_p50": _quantile([c["repair_seconds"] for c in cases], 0.5),
        "repair_seconds_p95": _quantile([c["repair_seconds"] for c in cases], 0.95),
        f"repair_seconds_p50_up_to_{small}": _quantile([c["repair_seconds"] for c in small_cases], 0.5),
        f"repair_seconds_p95_up_to_{small}": _quantile([c["repair_seconds"] for c in small_cases], 0.95),
        f"cases_up_to_{small}": len(small_cases),
    }


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f} %"


def _num(value: float | None, fmt: str = ",.0f") -> str:
    return "—" if value is None else format(value, fmt)


def print_tables(rows: Sequence[dict[str, Any]], summary: dict[str, Any], out: Any = None) -> None:
    """The plain-solve table, the per-instance breakdown table and the summary (on ``out``, default stdout)."""
    out = sys.stdout if out is None else out
    print(f"\n{'instance':<9}{'size':>7}{'optimum':>9}{'CP-SAT':>8}{'gap':>8}{'status':>10}{'s':>7}", file=out)
    for r in rows:
        s = r["solve"]
        gap = "—" if s["gap_pct"] is None else f"{s['gap_pct']:.1f} %"
        print(f"{r['instance']:<9}{r['jobs']:>4}x{r['machines']:<2}{_num(s['optimum']):>9}{s['makespan']:>8,}"
              f"{gap:>8}{s['status']:>10}{s['seconds']:>7.1f}", file=out)
    print(f"\n{'instance':<9}{'cases':>6} | {'makespan rep / rs / ref':>24} | {'tardiness rep / rs':>19} | "
          f"{'idle rep / rs':>14} | {'moved rep / rs':>14} | {'rep s p50/p95':>14} | {'≤rs':>5}{'≤2%':>5}{'>rs':>5}",
          file=out)
    for r in rows:
        cs = r["cases"]
        if not cs:
            continue

        def m(label: str, key: str, cs: list[dict[str, Any]] = cs) -> float:
            return statistics.fmean(c[label][key] for c in cs)

        times = [c["repair_seconds"] for c in cs]
        cells = [
            f"{r['instance']:<9}{len(cs):>6}",
            f"{m('repair', 'makespan'):>7,.0f} /{m('right_shift', 'makespan'):>7,.0f} /"
            f"{m('reference', 'makespan'):>7,.0f}",
            f"{m('repair', 'total_tardiness'):>8,.0f} /{m('right_shift', 'total_tardiness'):>8,.0f}",
            f"{m('repair', 'bottleneck_idle'):>5,.0f} /{m('right_shift', 'bottleneck_idle'):>6,.0f}",
            f"{m('repair', 'operations_moved'):>5,.1f} /{m('right_shift', 'operations_moved'):>6,.1f}",
            f"{_num(_quantile(times, 0.5), '.2f'):>6} /{_num(_quantile(times, 0.95), '.2f'):>6}",
            f"{sum(c['not_worse_than_right_shift'] for c in cs):>4}{sum(c['within_2pct_of_reference'] for c in cs):>5}"
            f"{sum(c['better_than_right_shift'] for c in cs):>5}",
        ]
        print(" | ".join(cells), file=out)
    s = summary
    print(f"\n{s['instances']} instances, {s['cases']} disturbed cases; plain solve: {s['solved_optimal_value']} "
          f"at the known optimum ({s['solve_status_optimal']} proven optimal), mean gap "
          f"{_num(s['mean_solve_gap_pct'], '.2f')} %; infeasible schedules: {s['infeasible_schedules']}", file=out)
    print(f"repair makespan ≤ right-shift: {_pct(s['share_not_worse_than_right_shift'])}; within 2 % of the "
          f"reference: {_pct(s['share_within_2pct_of_reference'])}; better than right-shift on makespan or "
          f"tardiness: {_pct(s['share_better_than_right_shift'])}", file=out)
    small = [k for k in s if k.startswith("repair_seconds_p95_up_to_")]
    size = small[0].rsplit("_", 1)[-1] if small else "10x10"
    print(f"repair time p50 {_num(s['repair_seconds_p50'], '.2f')} s, p95 {_num(s['repair_seconds_p95'], '.2f')} s; "
          f"up to {size} ({s[f'cases_up_to_{size}']} cases): p50 {_num(s[f'repair_seconds_p50_up_to_{size}'], '.2f')} s"
          f", p95 {_num(s[f'repair_seconds_p95_up_to_{size}'], '.2f')} s", file=out)


def _repair_default(name: str) -> Any:
    import inspect

    from leanlearn.schedule.repair import repair

    parameter = inspect.signature(repair).parameters.get(name)
    return None if parameter is None else parameter.default


def _provenance() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False).stdout

    return {"commit": git("rev-parse", "--short", "HEAD").strip() or None,
            "src_modified": git("diff", "--name-only", "HEAD", "--", "src/leanlearn/schedule").split(),
            "src_untracked": git("ls-files", "--others", "--exclude-standard", "--", "src/leanlearn/schedule").split()}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", default=None, help="names and ranges, e.g. ft06,la01-la20 (default: all 43)")
    parser.add_argument("--max-size", default=None, help="only instances up to JOBSxMACHINES, e.g. 10x10")
    parser.add_argument("--disruptions", type=int, default=5, help="breakdowns per instance (default 5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--solve-limit", type=float, default=60.0, help="seconds for the plain solve (default 60)")
    parser.add_argument("--repair-limit", type=float, default=10.0, help="seconds per repair (default 10)")
    parser.add_argument("--reference-limit", type=float, default=60.0,
                        help="seconds for the reference solve of each remaining problem (default 60)")
    parser.add_argument("--repair-objective", default=None,
                        help="lexicographic objective of the repair, e.g. makespan,tardiness (default the repair's "
                             "own: bottleneck_idle,tardiness,makespan)")
    parser.add_argument("--reference-objective", default="same",
                        help="'same' (the repair's objective, default), 'makespan', or comma-separated names")
    parser.add_argument("--reference-cold", action="store_true",
                        help="solve the reference without the right-shift hint and makespan bound")
    parser.add_argument("--workers", type=int, default=2, help="CP-SAT workers (default 2)")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "schedule.json")
    parser.add_argument("--quiet", action="store_true", help="no line per instance while running")
    args = parser.parse_args(argv)
    names = select(args.instances, args.max_size)
    repair_objective = tuple(args.repair_objective.split(",")) if args.repair_objective else None
    reference_objective = (None if args.reference_objective == "same"
                           else tuple(args.reference_objective.split(",")))
    optima = load_optima()
    provenance = _provenance()  # the code as it is when the run starts
    rows = []
    begun = time.perf_counter()
    for i, name in enumerate(names, 1):
        row = run_instance(name, optimum=optima[name]["optimum"], disruptions=args.disruptions, seed=args.seed,
                           solve_limit=args.solve_limit, repair_limit=args.repair_limit,
                           reference_limit=args.reference_limit, workers=args.workers,
                           repair_objective=repair_objective, reference_objective=reference_objective,
                           reference_cold=args.reference_cold)
        rows.append(row)
        if not args.quiet:
            worst = max((c["repair_seconds"] for c in row["cases"]), default=0.0)
            print(f"[{i}/{len(names)}] {name}: makespan {row['solve']['makespan']} (optimum "
                  f"{row['solve']['optimum']}), {len(row['cases'])} breakdowns, slowest repair {worst:.2f} s, "
                  f"{time.perf_counter() - begun:,.0f} s so far", file=sys.stderr, flush=True)
    summary = summarise(rows)
    print_tables(rows, summary)
    from importlib.metadata import version

    meta = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "python": platform.python_version(),
            "machine": platform.machine(), "processor": platform.processor(), "cpus": os.cpu_count(),
            "ortools": version("ortools"), "seconds": time.perf_counter() - begun, **provenance}
    settings = {"instances": names, "disruptions": args.disruptions, "seed": args.seed,
                "solve_limit": args.solve_limit, "repair_limit": args.repair_limit,
                "reference_limit": args.reference_limit, "workers": args.workers,
                "repair_objective": list(repair_objective) if repair_objective else "default",
                "reference_objective": list(reference_objective) if reference_objective else "same",
                "reference_warm_start": not args.reference_cold, "repair_patience_s": _repair_default("patience")}
    doc = {"meta": meta, "settings": settings, "summary": summary, "instances": rows}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"\nwrote {args.json}")
    return doc


if __name__ == "__main__":
    main()
