"""Writes notebooks/07_rescheduling.ipynb (run: .venv/bin/python notebooks/src/make_07_rescheduling.py)."""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = [
    new_markdown_cell("""# Rescheduling after a breakdown: repair vs right-shift

When a station goes down unplanned, the plan of the remaining operations is wrong at once. The usual fallback is
**right-shift**: keep every machine's sequence and push everything behind the fault to the right. leanlearn's
**repair** re-solves the remaining problem with CP-SAT in seconds — operations already done or running elsewhere
keep their times, nothing runs on the downed station during its window — with the bottleneck kept loaded first, then
total tardiness, then makespan, and as few operations moved as possible; it is warm-started from right-shift and
never worse than it on makespan.

This notebook solves Fisher & Thompson's classic 6 × 6 job shop (ft06, optimum 55), breaks a machine down, draws
both repairs as Gantt charts, and then lets the line's event stream drive the repairs (`RescheduleTrigger`), with
the KPIs logged to MLflow beside the rule monitor's metrics."""),
    new_code_cell("""from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

import leanlearn
from leanlearn.schedule import Disruption, read_instance, repair, solve, validate_schedule

root = Path(leanlearn.__file__).resolve().parents[2]
instance = read_instance(root / "benchmarks" / "instances" / "jobshop" / "ft06.txt")
stations = ("saw", "lathe", "mill", "drill", "press", "paint")
instance = replace(instance, machine_names=stations)  # the stations of our line, by machine number
plan = solve(instance, time_limit=10)
print(f"ft06: {len(instance.jobs)} jobs × {instance.n_machines} machines, makespan {plan.makespan} ({plan.status})")
print("feasible:", validate_schedule(instance, plan) == [])"""),
    new_markdown_cell("""## 1. The plan, as a Gantt chart

One row per station, one colour per job; the label is the job number."""),
    new_code_cell("""COLOURS = plt.get_cmap("tab10")


def gantt(ax, schedule, title, down=None):
    for o in schedule.operations:
        ax.barh(o.machine, o.end - o.start, left=o.start, color=COLOURS(o.job % 10), edgecolor="black", lw=0.5)
        if o.end - o.start >= 2:
            ax.text((o.start + o.end) / 2, o.machine, str(o.job), ha="center", va="center", fontsize=8)
    if down is not None:
        ax.barh(down.machine, down.duration, left=down.start, color="none", edgecolor="red", hatch="///", lw=1.5)
        ax.axvline(down.start, color="red", ls=":", lw=1)
    ax.set_yticks(range(instance.n_machines), stations)
    ax.invert_yaxis()
    ax.set_title(f"{title} — makespan {schedule.makespan}")
    ax.set_xlabel("time")


fig, ax = plt.subplots(figsize=(10, 3))
gantt(ax, plan, "plan (CP-SAT, optimal)")
plt.tight_layout()"""),
    new_markdown_cell("""## 2. A breakdown: the mill goes down at t = 10 for 12

`repair` returns the repaired schedule with the right-shift repair beside it, and both one's KPIs; due dates are
the plan's own completion times, so tardiness measures how far each job slips from its promise."""),
    new_code_cell("""down = Disruption(stations.index("mill"), 10, 12)
result = repair(instance, plan, down, time_limit=5)
for name, schedule in (("repair", result.schedule), ("right-shift", result.right_shift)):
    print(f"{name:<12} feasible: {validate_schedule(instance, schedule, down=[down]) == []}")

fig, axes = plt.subplots(3, 1, figsize=(10, 8), sharex=True)
gantt(axes[0], plan, "before the breakdown", down)
gantt(axes[1], result.right_shift, "right-shift", down)
gantt(axes[2], result.schedule, "repair (CP-SAT)", down)
plt.tight_layout()"""),
    new_code_cell("""columns = ["makespan", "total_tardiness", "n_late", "bottleneck_idle", "operations_moved"]
table = pd.DataFrame([result.kpis, result.right_shift_kpis], index=["repair", "right-shift"])[columns]
table.loc["repair − right-shift"] = table.loc["repair"] - table.loc["right-shift"]
print(f"repair took {result.solve_time_s:.2f} s; bottleneck: {stations[result.kpis['bottleneck']]}")
table"""),
    new_markdown_cell("""## 3. The adaptive loop: events from the line drive the repairs

`RescheduleTrigger` reads the monitor's events one at a time (`update`, River style) or in micro-batches. A station
going down triggers a repair (its length assumed until it is back); coming back at another time re-plans from then;
an operation completing later (or earlier) than planned by more than the takt tolerance re-plans the rest with the
actual times — and when the station's cycle itself is off, its remaining durations are scaled. Within the
tolerance nothing changes. Each repair is handed to `on_repair`: here a `ScheduleMetrics`, which logs the KPIs and
the schedule JSON to MLflow (with `run_monitor`, pass the monitor's `AlertMetrics` to log into its run)."""),
    new_code_cell("""from leanlearn.schedule.tracking import ScheduleMetrics
from leanlearn.schedule.trigger import RescheduleTrigger

mlflow_log = ScheduleMetrics(instance="ft06")  # a private store under LEANLEARN_HOME here
trigger = RescheduleTrigger(instance, plan, tolerance=0.15, time_limit=5, expected_downtime=8, on_repair=mlflow_log)
first = min(plan.operations, key=lambda o: o.start)
hit = max((o for o in plan.operations if o.start <= 14 < o.end), key=lambda o: o.end)  # busy at t = 14
events = [
    {"station": stations[first.machine], "job": first.job, "end": first.end},            # on time: nothing to do
    {"event": "down", "station": stations[hit.machine], "time": 14},                   # breakdown, length unknown
    {"event": "up", "station": stations[hit.machine], "time": 19},                     # back earlier than assumed
]
for event in events:
    trigger.update(event)
late = max((o for o in trigger.current.operations if o.start >= 19), key=lambda o: o.end - o.start)
trigger.update({"station": stations[late.machine], "job": late.job, "start": late.start,
                "end": late.end + (late.end - late.start) // 2})                         # 50 % over its planned time
pd.DataFrame([{"reason": r.reason, "event": r.step, "time": r.time, "station": stations[r.machine],
               "makespan": r.kpis["makespan"], "right-shift makespan": r.right_shift_kpis["makespan"],
               "tardiness": r.kpis["total_tardiness"], "moved": r.kpis["operations_moved"],
               "seconds": round(r.solve_time_s, 2)} for r in trigger.repairs])"""),
    new_code_cell("""fig, ax = plt.subplots(figsize=(10, 3))
gantt(ax, trigger.current, "the plan kept after the events")
plt.tight_layout()
print("feasible:", validate_schedule(trigger.current_instance, trigger.current) == [])
mlflow_log.close()
print(f"logged {mlflow_log.logged} repairs to MLflow run {mlflow_log.run_id[:8]}…")"""),
    new_markdown_cell("""The same from the command line, and the benchmark over ft06, ft10, ft20 and la01–la40:

```bash
leanlearn schedule solve benchmarks/instances/jobshop/ft06.txt --json > plan.json
leanlearn schedule repair benchmarks/instances/jobshop/ft06.txt --schedule plan.json --down 2:10:12
python benchmarks/schedule.py --instances ft06,la01-la05 --reference-limit 20
```

With the monitor: `run_monitor(pack, trigger.wrap(stream), on_alerts=alerts)` hands every micro-batch to the trigger
before the rule monitor sees it, and `ScheduleMetrics(alerts=alerts)` logs the repairs into the monitor's MLflow
run, at the step of the event that triggered them."""),
]

notebook = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
out = Path(__file__).resolve().parents[1] / "07_rescheduling.ipynb"
nbformat.write(notebook, out)
print(f"wrote {out}")
