"""Writes notebooks/02_value_stream.ipynb (run: .venv/bin/python make_nb.py)."""

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = [
    new_markdown_cell("""# The value stream of a real machine shop, and where its waste hides

This notebook measures the value stream of the **4TU machine-shop log** shipped with leanlearn (Levy 2014,
4TU.ResearchData: 4,543 events of 225 work orders on 31 resources, January–March 2012) and looks for waste in it:

1. the log → the **canonical tables** (operations, downtime);
2. the **value stream** per station: cycle time, waiting, setup, downtime, utilization, bottleneck — as
   distributions, not single numbers — and the value-stream map;
3. the **changeover matrix**: which material changes cost the most setup time;
4. **process-time shifts**: when a station's cycle times changed, and which parameter moved with them;
5. **links between wastes**: does an order that waits long also get more scrap?

Every duration is computed from the log's start and end timestamps — none is typed in."""),
    new_markdown_cell("""## 1. From the log to the canonical tables

Each row of the log is a setup (S), a production run (D) or a breakdown (B) of one work order on one resource.
Setups and production runs become **operations** (`kind` setup / production); breakdowns become unplanned
**downtime**. The log gives local plant time without a zone, so times are declared UTC: durations are exact.
The same tables come out of the fusion pipeline `pipelines/production_4tu.yaml`
(`leanlearn.data.fusion.fuse(...)`, or `leanlearn fuse` on the command line); here we use the direct bridge."""),
    new_code_cell("""import pandas as pd
from IPython.display import Image, display

import leanlearn as ll
from leanlearn.lean import plots, valuestream, waste

pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 24)

events = ll.load_production_4tu(events=True)
operations, downtime = valuestream.events_to_canonical(events, line="4tu")
print(f"{len(operations):,} operations ({operations['kind'].value_counts().to_dict()}), "
      f"{len(downtime)} breakdowns, {operations['order_id'].nunique()} orders, {operations['station'].nunique()} stations")
operations[["station", "order_id", "material", "kind", "start", "end", "good_qty", "scrap_qty"]].head()"""),
    new_markdown_cell("""## 2. The value stream, station by station

`value_stream` follows every order from station to station. Cycle times are **per good piece** here
(`qty="good_qty"`: the minutes of a production report divided by the pieces it completed). For each station:

- `cycle_p50_min` / `cycle_p90_min` — the median and the 90th percentile of the cycle time; `cycle_cv` its
  coefficient of variation (standard deviation / mean: above 1, the station's pace is very irregular);
- `wait_p50_min` — the median time an order waited between leaving its previous station and starting here;
  `overlaps` counts arrivals that started before the previous station had finished (split batches);
- `setup_n`, `setup_p50_min`, `setup_h` — changeovers, their median and their total;
- `downtime_h`, `uptime` — breakdowns;
- `utilization` — busy time (production and setup, overlapping reports counted once) over the three months;
- `bottleneck_share` — the share of time the station was the bottleneck (next section)."""),
    new_code_cell("""vs = valuestream.value_stream(operations, downtime, qty="good_qty")
print(vs)
columns = ["station", "operations", "cycle_p50_min", "cycle_p90_min", "cycle_cv", "wait_p50_min", "overlaps",
           "setup_n", "setup_p50_min", "setup_h", "downtime_h", "utilization", "uptime", "bottleneck_share"]
busiest = vs.nodes.sort_values("busy_h", ascending=False).head(10)
busiest[columns].round(2)"""),
    new_markdown_cell("""Behind every number of that table is a distribution: `vs.distributions` holds n, mean, CV and the
quantiles p10…p90 of each metric (cycle, waiting, overlap, setup, downtime) per station, and `vs.cycles`,
`vs.waiting`, `vs.changeovers`, `vs.downtime` the individual observations. The cycle-time distributions of the
busiest stations:"""),
    new_code_cell("""paths = plots.save_figure(plots.plot_cycle_distribution(vs), "vsm/cycle_times")
display(Image(filename=str(paths[0]), width=820))"""),
    new_markdown_cell("""### The value-stream map

The chart draws the eight busiest stations in flow order (their typical position in the orders' routings):
each box with its numbers, a triangle for the queue in front of it with the median waiting, and at the bottom the
timeline — waiting up, value-adding cycle time down. The totals at the right set the sum of those medians beside
the lead time and flow efficiency **measured per order**. It is written as PNG and SVG."""),
    new_code_cell("""paths = plots.save_figure(plots.plot_value_stream(vs), "vsm/value_stream")
print("written:", ", ".join(map(str, paths)))
display(Image(filename=str(paths[0])))"""),
    new_markdown_cell("""### Where the bottleneck is

The **active-period method** (Roser, Nakano & Tanaka): a station is *active* while it produces, sets up or is
being repaired, and inactive while it waits for work. At every moment the station with the longest current
uninterrupted active period holds up the flow the most: it is the momentary bottleneck. When the bottleneck moves
from one station to another while both are active, the overlap counts as a *shifting* bottleneck for both; the rest
is *sole*. A station that is the sole bottleneck for a large share of the time is the one to relieve first."""),
    new_code_cell("""vs.bottleneck.sort_values("bottleneck_share", ascending=False).head(6).round(3)"""),
    new_code_cell("""flow = vs.flow
print(f"per order: median lead time {flow['lead_min'].median() / 1440:.1f} days, "
      f"median value-adding time {flow['value_added_min'].median() / 60:.1f} h, "
      f"median flow efficiency {flow['flow_efficiency'].median():.1%}")
print(f"work in process: {vs.wip['wip'].mean():.0f} orders on average, at most {vs.wip['wip_max'].max()}")"""),
    new_markdown_cell("""## 3. The changeover matrix

A **changeover** is the setup a run of one order on one station receives (setups split into several reports are
added up); it goes *from* the material the station ran before *to* the new one. The long table is sorted by the
total setup hours each material change cost; the heatmap shows the median per change with how often it happened
(pale cells are seen fewer than three times: weak evidence)."""),
    new_code_cell("""vs.changeover_matrix.head(8).round(1)"""),
    new_code_cell("""paths = plots.save_figure(plots.plot_changeover_matrix(vs), "vsm/changeovers")
display(Image(filename=str(paths[0]), width=760))"""),
    new_markdown_cell("""Per station, for the bottleneck machine: the same change can cost very different times on different
machines, so it is worth reading the matrix where the capacity is scarce."""),
    new_code_cell("""neck = vs.bottleneck_station
per_station = valuestream.changeover_matrix(operations, by_station=True)
per_station[per_station["station"] == neck].head(6).round(1)"""),
    new_markdown_cell("""## 4. Process-time shifts, and what moved with them

`detect_shifts` watches each station's cycle times in the order they become known and raises an alarm when they
shift up or down for good — not for one slow piece. It runs a two-sided CUSUM on the log cycle time, in units of
the station's own variation over a reference window of 50 operations: the fastest detector of a step change for a
given false-alarm rate (at these settings about one false alarm in 14,000 operations of a stable station). It
estimates when the change began, and compares every other column of the station's operations in the window
before that moment with the window after it: the parameter whose distribution moved most is reported.

In a job shop the product mix changes all the time, and a spindle takes longer than a bushing: compared
`by=["material"]`, each cycle time is set against the typical cycle of its own material on that machine, so that
a change of mix is not taken for a process change."""),
    new_code_cell("""shifts = waste.detect_shifts(operations, qty="good_qty", by=["material"])
print(f"{len(shifts)} shifts; attributed to: {shifts['parameter'].value_counts().to_dict()}")
shifts[["station", "changed_at", "detected_at", "direction", "before_min", "after_min", "ratio", "parameter",
        "parameter_before", "parameter_after"]].round({"before_min": 2, "after_min": 2, "ratio": 2})"""),
    new_markdown_cell("""Read a row as: *from `changed_at` on, this machine's cycle per piece (relative to the material's
usual) ran `ratio` times what it did before; the alarm came at `detected_at`; of the recorded context, the
parameter that changed most at that moment is `parameter` (from `parameter_before` to `parameter_after`).*
`after_min` is the median of the few operations that raised the alarm — the evidence, not a long-run level.

In this log every shift coincides with a change of order size (`order_qty`), in both directions: the machines
switch between large and small orders, and the time per piece moves with them. Attribution points at what changed
**together** with the cycle time; whether it is the cause is for the process engineer to judge — here the next
question is which operations of a small order take the time (fixture, first-piece inspection, …).

On a line with a planted change the detector finds it within a few operations: the test suite plants a ×1.3
cycle-time step at one station of a four-station line (CV 10 %) and requires detection within 5 takts (median over
10 seeds), at the right station, attributed to the parameter that moved."""),
    new_markdown_cell("""## 5. Do wastes travel together? Mutual information

Per order: minutes waiting between stations, setup minutes, breakdown minutes, pieces scrapped and reworked.
**Mutual information** measures, in bits, how much knowing one tells about the other — any kind of dependence,
not only a straight line. Values are binned into four equal-frequency bins. The plug-in estimate is biased upward,
so each pair is compared with 999 shuffles of one column (shuffling keeps both distributions and breaks only their
link): `mi_null_bits` is the mean under shuffling, and `p_value` the share of shuffles with at least as much
information."""),
    new_code_cell("""per_order = waste.waste_indicators(operations, downtime)
per_order[["key", "material", "lead_min", "waiting_min", "setup_min", "downtime_min", "scrap_qty", "rework"]].head()"""),
    new_code_cell("""links = waste.waste_mutual_information(
    per_order, ["waiting_min", "setup_min", "downtime_min", "scrap_qty", "rework"], n_permutations=999)
links.round(4)"""),
    new_markdown_cell("""Mutual information says *that* two wastes are linked, not in which direction; a rank correlation
gives the direction:"""),
    new_code_cell("""per_order[["waiting_min", "setup_min", "downtime_min", "scrap_qty", "rework"]].corr("spearman").round(2)"""),
    new_markdown_cell("""Orders that wait longer also carry more scrap and more setup time, and orders with more setup time
scrap more (all p ≈ 0.001 against 999 shuffles: not chance). Breakdown minutes go with setup minutes, more weakly
(only 37 of 225 orders saw a breakdown). Such links can run through a common cause — long, complex orders visit
more stations, so they queue, set up and scrap more — so the next step is to condition on the route or the
material, e.g. by mining rules on the per-order table (`leanlearn.mining.shift.ShiftMiner`, `ll.RuleMiner`).

Everything above is also one command for the line manager:

    leanlearn vsm --demo                       # this log: the table, the charts and the CSV tables in vsm/
    leanlearn vsm fused/production-4tu --qty good_qty"""),
]

notebook = new_notebook(cells=cells, metadata={
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
})
nbformat.write(notebook, "notebooks/02_value_stream.ipynb")
print("written")
