"""Calibrate the twin on a real log: a line spec built from the fused canonical tables.

:func:`calibrate` reads a fused log (a fusion pipeline, its result, or the ``operations`` / ``downtime`` tables),
measures it with :func:`leanlearn.twin.observed.observe` and writes down what it saw as a
:class:`~leanlearn.twin.spec.LineSpec`:

- **stations** — every station of the log, with its **cycle** time per visit (empirical: the production minutes of
  each observed visit; per material — ``cycle_by_material`` — where a material has ``min_material_visits`` visits or
  more), its **setups** (empirical, the observed setup minutes per run *including the runs that had none*, so the
  share of runs that get a setup is kept; ``always: true`` when runs of the same material get setups about as often
  as material changes do, otherwise only on a material change; a ``matrix`` entry for every from → to material pair
  with ``min_pair_changeovers`` observed setups whose times differ from the station's other setups — Mann–Whitney
  p < 0.05), its **breakdowns** (time between failures exponential with the
  observed failure rate over the clock, repair times empirical), and its **capacity** (the most operations it ran
  at once);
- **release** — ``trace`` (default): every observed order released when its first operation started, with its
  material, quantity and observed routing (the visits' station sequence), so the twin replays the log's demand and
  routings; or ``push``: exponential inter-arrival times with the observed mean and materials with their observed
  routings as weights;
- **shifts** — when the log shows a daily break (a block of clock hours holding less than 2 % of the work), the
  working hours per day and their start;
- **transfer** — the time between an order's consecutive visits that the model does not explain (moves, waiting for
  material, inspection queues outside the log): empirical, per move of an order the gap between its two visits
  (overlaps count as 0) plus the idle time inside the visit it moves to (nights, breaks between its reports),
  scaled by a factor chosen so that the twin's median order lead time is the log's (:func:`tune`) — the gaps
  include queueing, which the twin adds itself. ``tune_transfer=False`` keeps the observed times.

Nothing here knows any particular log: thresholds are parameters, and every number comes from the tables.

Examples
--------
Two orders through S1 then S2, with a setup on S1 for the second material and two hours between the stations:

>>> import pandas as pd
>>> t = lambda h: pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=h)
>>> ops = pd.DataFrame({
...     "order_id": ["o1", "o1", "o2", "o2", "o2"], "material": ["A", "A", "B", "B", "B"],
...     "station": ["S1", "S2", "S1", "S1", "S2"], "kind": ["production", "production", "setup", "production",
...     "production"], "start": [t(0), t(3), t(1), t(2), t(5)], "end": [t(1), t(4), t(2), t(3), t(7)]})
>>> spec = calibrate(ops, tune_transfer=False)
>>> [(o.id, o.release, o.routing) for o in spec.release.orders]
[('o1', 0.0, ('S1', 'S2')), ('o2', 1.0, ('S1', 'S2'))]
>>> spec.station("S1").setup.to_dict(), spec.transfer.to_dict()
({'default': 1.0}, 2.0)

S2's two visits took 1 and 2 hours; sparse as they are, the spec holds their interpolated quantile function:

>>> cycle = spec.station("S2").cycle.to_dict()["values"]
>>> len(cycle), cycle[0], cycle[50], cycle[-1]
(101, 1.0, 1.5, 2.0)

On the real 4TU log: ``calibrate("pipelines/production_4tu.yaml", out="4tu-twin.yaml")``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from leanlearn.errors import SchemaError
from leanlearn.twin.observed import Observed, load_tables, minutes, observe

if TYPE_CHECKING:
    from leanlearn.twin.spec import LineSpec

__all__ = ["Calibration", "calibrate", "calibrate_dict", "write_spec"]

UNIT_MINUTES = {"s": 1 / 60, "min": 1.0, "h": 60.0, "d": 1440.0}
#: Decimal places kept for times written into the spec (in its time unit).
DIGITS = 4
#: Points of the interpolated quantile function written for a sparse empirical distribution (see ``_empirical``).
SMOOTH_POINTS = 101
#: Share of the day's work below which a block of clock hours is a break between shifts.
SHIFT_BREAK_SHARE = 0.02
#: Largest factor the transfer tuning may scale the observed unmodelled times by.
MAX_TRANSFER_SCALE = 5.0


@dataclass(frozen=True, slots=True)
class Calibration:
    """A calibrated spec (as a dict), with the observation it came from and notes on how each part was chosen."""

    spec: dict[str, Any] = field(repr=False)
    observed: Observed = field(repr=False)
    notes: list[str] = field(default_factory=list)
    transfer_scale: float | None = None
    transfer_ks: dict[float, float] = field(default_factory=dict)

    def line_spec(self) -> LineSpec:
        """The spec as a validated :class:`~leanlearn.twin.spec.LineSpec`."""
        from leanlearn.twin.spec import LineSpec

        return LineSpec.from_dict(self.spec, source="calibrated spec")


def _times(values: Sequence[float] | np.ndarray, unit: float) -> list[float]:
    return [round(float(v) / unit, DIGITS) for v in values]


def _empirical(values: Sequence[float] | np.ndarray, unit: float, smooth: bool = True) -> dict[str, Any] | float:
    """An empirical distribution of ``values`` (minutes) in the spec's unit; one distinct value is a number.

    With ``smooth`` and fewer than :data:`SMOOTH_POINTS` positive values, the positive part is written as
    :data:`SMOOTH_POINTS` points of its quantile function interpolated linearly between the observed values (from
    the smallest to the largest; zeros kept in their share): resampling it draws values between the observed ones
    too, so a twin's median does not jump from one observed value to the next where the data are sparse.
    """
    data = np.asarray(values, dtype=float)
    positive = data[data > 0]
    if smooth and 2 <= len(positive) < SMOOTH_POINTS:
        zeros = int(round((len(data) - len(positive)) * SMOOTH_POINTS / len(positive)))
        data = np.concatenate([np.zeros(zeros), np.quantile(positive, np.linspace(0.0, 1.0, SMOOTH_POINTS))])
    times = _times(data, unit)
    if len(set(times)) == 1:
        return times[0]
    return {"dist": "empirical", "values": times}


def _runs(ops: pd.DataFrame) -> pd.DataFrame:
    """Every run (consecutive operations of one order on a station, in the station's time order) with its setup
    minutes (0 when it had none) and the material of the station's previous run."""
    work = ops.sort_values(["station", "start", "end"], kind="stable")
    owner = work["order_id"].astype(str)
    new = (work["station"] != work["station"].shift()) | (owner != owner.shift())
    run = new.cumsum().to_numpy()
    length = minutes(work["end"] - work["start"]).where(work["kind"] == "setup", 0.0)
    material = work["material"].fillna("default").astype(str) if "material" in work.columns else "default"
    frame = pd.DataFrame({"run": run, "station": work["station"].to_numpy(), "material": np.asarray(material),
                          "order_id": owner.to_numpy(),
                          "setup_min": length.to_numpy()})
    runs = frame.groupby("run", sort=True).agg(station=("station", "first"), material=("material", "first"),
                                               order_id=("order_id", "first"),
                                               setup_min=("setup_min", "sum"))
    runs["previous"] = runs.groupby("station", sort=False)["material"].shift()
    return runs.reset_index(drop=True)


def _differs(pair: np.ndarray, others: np.ndarray, alpha: float = 0.05) -> bool:
    """Whether one material pair's setups differ from the station's other setups (two-sided Mann–Whitney U at
    ``alpha``; a pair with no others to compare with differs). A pair that does not differ stays in the default:
    an entry of its own would only make the twin's mix of setups depend on how often it sequences that pair."""
    if len(others) < 5:
        return True
    from scipy.stats import mannwhitneyu

    return bool(mannwhitneyu(pair, others, alternative="two-sided").pvalue < alpha)


def _setup(runs: pd.DataFrame, visits: pd.DataFrame, unit: float,
           min_pair: int) -> tuple[dict[str, Any] | None, str]:
    """The setup spec of one station from its runs, and a note saying how it was chosen.

    The twin draws a setup time at every visit (``always``) or at every material change; the distribution holds
    the observed setups and as many zeros as visits (or changes) went without one, so the share is kept.
    """
    if not (runs["setup_min"] > 0).any():
        return None, "no setups"
    known = runs.dropna(subset=["previous"])
    change = known[known["previous"] != known["material"]]
    same = known[known["previous"] == known["material"]]
    p_change = float((change["setup_min"] > 0).mean()) if len(change) else math.nan
    p_same = float((same["setup_min"] > 0).mean()) if len(same) else math.nan
    # setups as often on a repeat of the material as on a change: they come with the run, not with the change
    always = not len(change) or (len(same) > 0 and p_same >= 0.5 * p_change)
    # a from → to pair with enough setups of its own gets a matrix entry (material changes only: a repeat of the
    # material is the default's); the default holds the other runs
    matrix: dict[str, dict[str, Any]] = {}
    in_matrix = pd.Series(False, index=runs.index)
    for (before, after), pair in change.groupby(["previous", "material"], sort=True):
        mine = pair["setup_min"].to_numpy(dtype=float)
        others = runs.loc[~runs.index.isin(pair.index), "setup_min"].to_numpy(dtype=float)
        if int((mine > 0).sum()) >= min_pair and _differs(mine[mine > 0], others[others > 0]):
            matrix.setdefault(str(before), {})[str(after)] = _empirical(mine, unit)
            in_matrix[pair.index] = True
    basis = runs if always else change  # the twin draws no setup for a server's first job
    basis = basis[~in_matrix.reindex(basis.index, fill_value=False)]
    values = basis["setup_min"].to_numpy(dtype=float)
    if always:  # one draw per visit: the setup minutes of every visit not in a matrix pair's runs
        paired = set(runs.loc[in_matrix, "order_id"])
        values = visits.loc[~visits["order_id"].isin(paired), "setup_min"].to_numpy(dtype=float)
    if not len(values):
        values = np.zeros(1)
    spec: dict[str, Any] = {"default": _empirical(values, unit)}
    if always:
        spec["always"] = True
    if matrix:
        spec["matrix"] = matrix
    share = float((values > 0).mean())
    how = "every visit" if always else "material changes"

    def pct(p: float) -> str:
        return f"{p:.0%}" if np.isfinite(p) else "n/a"

    note = (f"setup drawn on {how}: {share:.0%} of {len(values)} had one (runs after a material change "
            f"{pct(p_change)}, after the same material {pct(p_same)})"
            + (f", {sum(len(v) for v in matrix.values())} matrix pair(s)" if matrix else ""))
    return spec, note


def _breakdowns(down: pd.DataFrame, station: str, span_min: float, servers: int,
                unit: float) -> dict[str, Any] | None:
    """Failures of one station: each of its ``servers`` fails on its own, so the station's observed failure rate
    over the clock is shared among them."""
    events = down[(down["station"] == station) & ~down["planned"].astype(bool)]
    if events.empty or span_min <= 0:
        return None
    up = max(servers * span_min - float(events["minutes"].sum()), servers * span_min / 2)  # servers' up time
    return {"tbf": {"dist": "exponential", "mean": round(up / len(events) / unit, DIGITS)},
            "repair": _empirical(events["minutes"].to_numpy(), unit, smooth=False)}


def _shifts(ops: pd.DataFrame) -> dict[str, Any] | None:
    """Working hours per day when the log shows a daily break: a block of clock hours with almost no work."""
    work = ops[ops["kind"].isin(("production", "setup"))]
    if work.empty:
        return None
    worked = np.zeros(24 * 60)
    start = (work["start"].dt.hour * 60 + work["start"].dt.minute).to_numpy()
    length = np.minimum(minutes(work["end"] - work["start"]).to_numpy(dtype=float), 7 * 1440)
    whole_days = np.floor(length / 1440)
    worked += whole_days.sum()
    rest = (length - whole_days * 1440).astype(int)
    marks = np.zeros(24 * 60 + 1)
    for s, r in zip(start, rest, strict=True):
        e = s + r
        marks[s] += 1
        if e <= 1440:
            marks[e] -= 1
        else:
            marks[1440] -= 1
            marks[0] += 1
            marks[e - 1440] -= 1
    worked += np.cumsum(marks)[:1440]
    hours = worked.reshape(24, 60).sum(axis=1)
    total = hours.sum()
    if total <= 0:
        return None
    share = hours / total
    quiet = share < SHIFT_BREAK_SHARE / 4  # an hour holding under a quarter of the break's share
    if not quiet.any() or quiet.all():
        return None
    # the longest circular block of quiet hours whose total share is under SHIFT_BREAK_SHARE
    best: tuple[int, int] | None = None
    for first in range(24):
        if not quiet[first] or quiet[(first - 1) % 24]:
            continue
        length_h = 0
        while length_h < 24 and quiet[(first + length_h) % 24]:
            length_h += 1
        block = [(first + i) % 24 for i in range(length_h)]
        if share[block].sum() < SHIFT_BREAK_SHARE and (best is None or length_h > best[1]):
            best = (first, length_h)
    if best is None:
        return None
    first, length_h = best
    return {"hours_per_day": 24 - length_h, "start_hour": (first + length_h) % 24}


def calibrate_dict(source: Any, *, line: str | None = None, time_unit: str = "h", release: str = "trace",
                   busy_min_visits: int = 30, min_material_visits: int = 30, min_pair_changeovers: int = 10,
                   qty: str | None = None, shifts: bool = True) -> Calibration:
    """The calibrated spec as a dict (before transfer tuning), with the observation and notes.

    See :func:`calibrate` for the parameters.
    """
    if time_unit not in UNIT_MINUTES:
        raise SchemaError(f"time_unit must be one of {', '.join(UNIT_MINUTES)}, got {time_unit!r}")
    if release not in ("trace", "push"):
        raise SchemaError(f"release must be 'trace' (replay the observed orders) or 'push', got {release!r}")
    for name, value in (("busy_min_visits", busy_min_visits), ("min_material_visits", min_material_visits),
                        ("min_pair_changeovers", min_pair_changeovers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SchemaError(f"{name} must be a whole number of at least 1, got {value!r}")
    operations, downtime = load_tables(source)
    if qty is None and "good_qty" in operations.columns:
        qty = "good_qty"
    seen = observe(operations, downtime, qty=qty)
    if len(seen.orders) < 2 or len(seen.visits) < 2:
        raise SchemaError(f"the log holds {len(seen.orders)} order(s) and {len(seen.visits)} visit(s); calibrating a "
                          "twin needs at least 2 orders with their operations")
    unit = UNIT_MINUTES[time_unit]
    ops = vs_operations(operations)
    runs = _runs(ops)
    notes: list[str] = []
    stations = []
    for row in seen.stations.to_dict("records"):
        name = str(row["station"])
        visits, capacity = int(row["visits"]), int(row["capacity"])
        cycles = seen.cycles(name)
        entry: dict[str, Any] = {"name": name}
        if capacity > 1:
            entry["capacity"] = capacity
        if len(cycles) == 0:  # only setups or zero-length reports: its visits take no production time
            entry["cycle"] = 0.0
            notes.append(f"{name}: no production report, cycle 0")
        else:
            entry["cycle"] = _empirical(cycles, unit)
        entry["per_unit"] = False
        mine = seen.visits[(seen.visits["station"] == name) & seen.visits["cycle_min"].notna()]
        by_material = {str(m): _empirical(g["cycle_min"].to_numpy(), unit)
                       for m, g in mine.groupby("material", sort=True) if len(g) >= min_material_visits}
        if by_material and not (len(by_material) == 1 and mine["material"].nunique() == 1):
            entry["cycle_by_material"] = by_material
            rest = mine[~mine["material"].astype(str).isin(list(by_material))]["cycle_min"].to_numpy()
            if len(rest):  # the default serves the other materials: their visits only
                entry["cycle"] = _empirical(rest, unit)
        setup, how = _setup(runs[runs["station"] == name], seen.visits[seen.visits["station"] == name], unit,
                            min_pair_changeovers)
        if setup is not None:
            entry["setup"] = setup
        failures = _breakdowns(seen.downtime, name, seen.span_min, capacity, unit)
        if failures is not None:
            entry["breakdowns"] = failures
        stations.append(entry)
        busy = "busy" if visits >= busy_min_visits else "rare"
        notes.append(f"{name}: {visits} visits ({busy}), cycle median {row['cycle_p50_min']:.4g} min, capacity "
                     f"{capacity}, {how}, {int(row['downtime_n'])} breakdown(s)")

    start = seen.start.floor("h")
    spec: dict[str, Any] = {"line": str(line if line is not None else _line_name(operations)),
                            "time_unit": time_unit,
                            "start": start.strftime("%Y-%m-%dT%H:%M:%SZ")}
    orders = seen.orders
    if release == "trace":
        spec["release"] = {"policy": "trace", "orders": [
            {"id": str(o["order_id"]), "material": str(o["material"]),
             "release": round(float(minutes(o["release"] - start)) / unit, DIGITS),
             "qty": _quantity(o["qty"]), "routing": list(o["routing"])}
            for o in orders.to_dict("records")]}
    else:
        gaps = minutes(orders["release"].diff().dropna())
        mean_gap = float(gaps.mean()) if len(gaps) else seen.span_min
        spec["release"] = {"policy": "push", "arrivals": {"dist": "exponential",
                                                          "mean": round(max(mean_gap, 1e-3) / unit, DIGITS)},
                           "max_orders": len(orders)}
    materials: dict[str, Any] = {}
    for material, group in orders.groupby("material", sort=True):
        routes = group["routing"].value_counts()
        materials[str(material)] = {
            "share": round(len(group) / len(orders), 6),
            "routings": [{"stations": list(route), "weight": int(count)}  # type: ignore[call-overload]
                         for route, count in routes.items()]}
    spec["materials"] = materials
    gaps = _unmodelled(seen.visits)
    if len(gaps):
        spec["transfer"] = _empirical(gaps, unit, smooth=False)
    if shifts:
        calendar = _shifts(ops)
        if calendar is not None:
            for entry in stations:
                entry["shifts"] = calendar
            notes.append(f"shifts: {calendar['hours_per_day']} h a day from {calendar['start_hour']}:00")
    spec["stations"] = stations
    return Calibration(spec=spec, observed=seen, notes=notes)


def _unmodelled(visits: pd.DataFrame) -> np.ndarray:
    """Per move of an order to its next visit, the time the model does not explain: the gap between the two visits
    (0 where they overlap) plus the idle time inside the visit it moves to (its span less its reports' time); the
    idle time of an order's first visit goes with its first move."""
    ordered = visits.sort_values(["order_id", "step"], kind="stable")
    same = ordered["order_id"].eq(ordered["order_id"].shift()).to_numpy()
    gap = minutes(ordered["start"] - ordered["end"].shift()).clip(lower=0).fillna(0.0)
    idle = ordered["idle_min"].to_numpy(dtype=float)
    first_idle = np.where(~same, idle, 0.0)
    carried = np.roll(first_idle, 1)  # the first visit's idle time moves to the order's second visit
    values = gap.to_numpy(dtype=float) + idle + carried
    return values[same]


def vs_operations(operations: pd.DataFrame) -> pd.DataFrame:
    """The operations normalised as :mod:`leanlearn.lean.valuestream` does (UTC times, ``kind``, ordered)."""
    from leanlearn.lean import valuestream as vs

    ops = vs._operations(operations)
    if "material" not in ops.columns:
        ops["material"] = "default"
    return ops.dropna(subset=["order_id"])


def _line_name(operations: pd.DataFrame) -> str:
    if "line" in operations.columns and operations["line"].notna().any():
        return str(operations["line"].dropna().iloc[0])
    return "line"


def _quantity(value: Any) -> float | int:
    if value is None or not np.isfinite(value) or value <= 0:
        return 1
    return int(value) if float(value).is_integer() else float(value)


def _scaled(transfer: Any, scale: float) -> Any:
    if isinstance(transfer, int | float):
        return round(float(transfer) * scale, DIGITS)
    return {**transfer, "values": [round(v * scale, DIGITS) for v in transfer["values"]]}


def _horizon(seen: Observed, spec: Mapping[str, Any]) -> float:
    unit = UNIT_MINUTES[spec["time_unit"]]
    start = pd.Timestamp(spec["start"])
    return float(minutes(seen.end - start)) / unit


def calibrate(source: Any, *, line: str | None = None, time_unit: str = "h", release: str = "trace",
              busy_min_visits: int = 30, min_material_visits: int = 30, min_pair_changeovers: int = 10,
              qty: str | None = None, shifts: bool = True, tune_transfer: bool = True, replications: int = 2,
              refine: int = 2, seed: int = 0, out: str | Path | None = None) -> LineSpec:
    """Build a line spec from a fused log (see the module text for what each part of the spec comes from).

    Parameters
    ----------
    source : pipeline YAML path, FusionResult, mapping of tables or (operations, downtime)
        The log.
    line : str, optional
        Name of the line in the spec (default: the ``line`` column, else ``"line"``).
    time_unit : {"s", "min", "h", "d"}, default="h"
        Unit of every time in the spec.
    release : {"trace", "push"}, default="trace"
        Replay the observed orders, or release new ones at the observed mean rate.
    busy_min_visits : int, default=30
        Visits a station needs to count as busy (reported in the notes; :func:`leanlearn.twin.check.check_twin`
        judges busy stations only).
    min_material_visits : int, default=30
        Visits of one material a station needs for a cycle distribution of its own.
    min_pair_changeovers : int, default=10
        Setups of one from → to material pair a station needs for a setup-matrix entry.
    qty : str, optional
        Quantity column (default ``good_qty`` when present): the orders' quantities.
    shifts : bool, default=True
        Look for a daily break in the log and write the working hours.
    tune_transfer : bool, default=True
        Scale the observed gaps so the twin's lead times match the log's (a few short simulations).
    replications : int, default=2
        Replications per simulated scale in the tuning.
    refine : int, default=2
        Secant steps of the tuning after the first interpolation (each simulates one more scale).
    seed : int, default=0
        Seed of the tuning simulations.
    out : path, optional
        Also write the spec there (YAML, with a header saying where it came from; see :func:`write_spec`).
    """
    calibration = calibrate_dict(source, line=line, time_unit=time_unit, release=release,
                                 busy_min_visits=busy_min_visits, min_material_visits=min_material_visits,
                                 min_pair_changeovers=min_pair_changeovers, qty=qty, shifts=shifts)
    if tune_transfer and "transfer" in calibration.spec:
        calibration = tune(calibration, replications=replications, seed=seed, refine=refine)
    spec = calibration.line_spec()
    if out is not None:
        write_spec(spec, out, calibration)
    return spec


def tune(calibration: Calibration, *, replications: int = 2, seed: int = 0, refine: int = 2) -> Calibration:
    """Scale the transfer times so the twin's median order lead time is the observed one.

    The twin's median lead time grows with the scale of the transfer times (nearly linearly): it is simulated at
    scales 0 and 1 (``replications`` each, seeded), the scale that meets the observed median is interpolated, and
    ``refine`` secant steps follow. The chosen scale is the one simulated whose median came closest; its
    lead-time KS distance is kept in the notes. (Matching the median is a smooth, monotone target; the KS
    distance of one short simulation jumps from one scale to the next.)
    """
    from scipy.stats import ks_2samp

    from leanlearn.twin.spec import LineSpec

    observed = calibration.observed.lead_times()
    target = float(np.median(observed))
    base = calibration.spec["transfer"]
    horizon = _horizon(calibration.observed, calibration.spec)
    medians: dict[float, float] = {}
    scores: dict[float, float] = {}

    def run(scale: float) -> float:
        scale = round(min(max(scale, 0.0), MAX_TRANSFER_SCALE), 4)
        if scale not in medians:
            spec = LineSpec.from_dict({**calibration.spec, "transfer": _scaled(base, scale)}, source="calibration")
            simulated = simulated_lead_times(spec, horizon, replications=replications, seed=seed)
            medians[scale] = float(np.median(simulated)) if len(simulated) else math.nan
            scores[scale] = float(ks_2samp(observed, simulated).statistic) if len(simulated) else 1.0
        return scale

    def closest() -> float:
        return min(medians, key=lambda s: (abs(medians[s] - target) if np.isfinite(medians[s]) else math.inf,
                                           abs(s - 1.0)))

    low, high = run(0.0), run(1.0)
    for _ in range(refine + 1):
        slope = (medians[high] - medians[low]) / (high - low) if high != low else math.nan
        if not np.isfinite(slope) or slope <= 0:
            break
        guess = run(low + (target - medians[low]) / slope)
        if guess in (low, high):
            break
        # keep the two points nearest the target for the next secant step
        low, high = sorted(sorted(medians, key=lambda s: abs(medians[s] - target))[:2])
    best = closest()
    spec = {**calibration.spec, "transfer": _scaled(base, best)}
    note = (f"transfer: observed unmodelled time between visits × {best:g} (median lead time {medians[best] / 60:.4g} "
            f"h simulated vs {target / 60:.4g} h observed, lead-time KS {scores[best]:.3f} in the tuning)")
    return Calibration(spec=spec, observed=calibration.observed, notes=[*calibration.notes, note],
                       transfer_scale=best, transfer_ks=dict(sorted(scores.items())))


def simulated_lead_times(spec: LineSpec, horizon: float, *, replications: int = 1, seed: int = 0) -> np.ndarray:
    """Order lead times (minutes) the twin produces, measured from its operations as the log's are."""
    from leanlearn.twin.simulation import simulate

    result = simulate(spec, horizon=horizon, replications=replications, seed=seed)
    leads = []
    for run in result.replications:
        if len(run.operations):
            leads.append(observe(run.operations, stations=[]).lead_times())
    return np.concatenate(leads) if leads else np.zeros(0)


def write_spec(spec: LineSpec, path: str | Path, calibration: Calibration | None = None) -> Path:
    """Write ``spec`` as YAML with a comment header: where it came from and how each part was chosen."""
    target = Path(path)
    spec.to_yaml(target)
    body = target.read_text(encoding="utf-8")
    lines = ["# Line spec calibrated by leanlearn (leanlearn.twin.calibrate) from a fused log."]
    if calibration is not None:
        seen = calibration.observed
        lines.append(f"# Log: {len(seen.orders)} orders, {len(seen.visits)} visits, {len(seen.stations)} stations, "
                     f"{seen.start:%Y-%m-%d %H:%M} to {seen.end:%Y-%m-%d %H:%M} UTC.")
        lines.append("# Cycle and setup times are the observed ones (empirical); see leanlearn.twin.calibrate.")
        lines += [f"#   {note}" for note in calibration.notes]
    target.write_text("\n".join(lines) + "\n" + body, encoding="utf-8")
    return target
