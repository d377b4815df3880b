"""Value stream of a line, measured from the timestamps of its canonical tables.

Every number here comes from ``start`` / ``end`` timestamps — of operations, downtime and demand periods — never from
a typed-in duration. Per node (station) the value stream reports **distributions**, not single numbers: the
quantiles p10, p25, p50, p75, p90, the mean and the coefficient of variation (CV = standard deviation / mean) of

- **cycle time**: the duration of each production operation (per unit when a quantity column is named);
- **waiting before the node**: for each order (or unit), the start of its visit to this node minus the end of its
  visit to the previous node. A negative gap means the two visits overlap (a batch flows on while its last pieces
  are still being made); overlaps are counted and measured separately, never mixed into the waiting times;
- **setup / changeover**: the setup time a run (consecutive operations of one order on one station) received,
  summed over its setup reports (``kind == "setup"``);
- **downtime**: the duration of each downtime event at the station (from the downtime table).

Beside the distributions: utilization (busy time — the union of production and setup intervals — over the observed
span), uptime, WIP over time, the bottleneck by the **active-period method**, takt vs cycle, flow efficiency per
order, and the changeover matrix (from material → to material). :func:`value_stream` computes all of them at once
and returns a :class:`ValueStream`; each piece is also a function of its own.

Times are in minutes (columns ending ``_min``) and totals in hours (``_h``). The operations table follows the
canonical contract of :mod:`leanlearn.data.schema`: ``line, station, unit_id, order_id, material, kind, start,
end``; only ``station, start, end`` are required, ``kind`` defaults to ``production``, naive timestamps are taken
as UTC. Orders or units are followed by ``unit_id`` when every row has one, else by ``order_id``.

Examples
--------
A two-station line, one unit every 10 minutes: S1 takes 4 minutes, S2 6 minutes, and each unit waits 2 minutes
between them.

>>> import pandas as pd
>>> t0 = pd.Timestamp("2024-03-01 08:00", tz="UTC")
>>> m = lambda minutes: t0 + pd.Timedelta(minutes=minutes)
>>> rows = []
>>> for i in range(3):
...     rows.append({"station": "S1", "unit_id": f"u{i}", "start": m(10 * i), "end": m(10 * i + 4)})
...     rows.append({"station": "S2", "unit_id": f"u{i}", "start": m(10 * i + 6), "end": m(10 * i + 12)})
>>> vs = value_stream(pd.DataFrame(rows))
>>> vs.nodes[["station", "cycle_p50_min", "wait_p50_min", "utilization"]]
  station  cycle_p50_min  wait_p50_min  utilization
0      S1            4.0           NaN       0.3750
1      S2            6.0           2.0       0.5625
>>> vs.flow["flow_efficiency"].round(3).tolist()
[0.833, 0.833, 0.833]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import TypeGuard

import numpy as np
import pandas as pd

from leanlearn._util import as_utc
from leanlearn.errors import SchemaError

QUANTILES = (0.10, 0.25, 0.50, 0.75, 0.90)
STATS = ("n", "mean", "cv", "p10", "p25", "p50", "p75", "p90")
WORK_KINDS = ("production", "setup")
BOTTLENECK_COLUMNS = ("station", "sole_share", "shifting_share", "bottleneck_share", "sole_h", "shifting_h",
                      "active_mean_min")
MAX_WIP_PERIODS = 5_000_000  # rows of one resampled WIP series; a finer frequency is refused (or use freq=None)
_EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
_MINUTE = pd.Timedelta(minutes=1)


# -- input ----------------------------------------------------------------------------------------------------------
def _utc(values: pd.Series, column: str, table: str) -> pd.Series:
    parsed = as_utc(values)
    bad = parsed.isna() & values.notna()
    if bad.any():
        example = values[bad].iloc[0]
        raise SchemaError(
            f"the {table} table's column {column!r} has a value that is not an ISO 8601 timestamp ({example!r}, "
            f"{int(bad.sum())} row(s)); write times like 2024-03-01T08:00:00Z"
        )
    return parsed


def _table(frame: pd.DataFrame, table: str, start: str = "start", end: str = "end",
           required: Sequence[str] = ("station",)) -> pd.DataFrame:
    """A normalised copy: required columns present, times UTC and ordered, stations as text."""
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(f"the {table} table must be a pandas DataFrame, got {type(frame).__name__}")
    needed = [*required, start, end]
    repeated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if repeated:
        raise SchemaError(f"the {table} table has column(s) {', '.join(map(repr, repeated[:5]))} more than once; "
                          "rename or drop the copies")
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"the {table} table needs column(s) {', '.join(repr(c) for c in missing)}, which it does not have "
            f"(columns: {', '.join(map(str, frame.columns))}); map them onto the canonical names first"
        )
    out = frame.copy()
    for column in (start, end):
        out[column] = _utc(out[column], column, table)
        if out[column].isna().any():
            raise SchemaError(f"the {table} table has {int(out[column].isna().sum())} row(s) without {column!r}; "
                              "quarantine them before the analysis (leanlearn.data.schema.validate)")
    backwards = out[end] < out[start]
    if backwards.any():
        row = out[backwards].iloc[0]
        raise SchemaError(
            f"the {table} table has {int(backwards.sum())} row(s) that end before they start (e.g. {start} "
            f"{row[start]}, {end} {row[end]}); quarantine them first (leanlearn.data.schema.validate)"
        )
    if "station" in out.columns:
        out["station"] = out["station"].astype(str)
    if "line" in out.columns and out["line"].nunique() > 1:
        lines = sorted(map(str, out["line"].dropna().unique()))
        raise SchemaError(
            f"the {table} table holds {len(lines)} lines ({', '.join(lines[:5])}); analyse one line at a time, "
            f"e.g. operations[operations.line == {lines[0]!r}]"
        )
    return out.sort_values([start, end], kind="stable").reset_index(drop=True)


def _operations(operations: pd.DataFrame) -> pd.DataFrame:
    ops = _table(operations, "operations")
    ops["kind"] = ops["kind"].fillna("production").astype(str) if "kind" in ops.columns else "production"
    return ops


def _downtime(downtime: pd.DataFrame | None) -> pd.DataFrame:
    if downtime is None:
        return pd.DataFrame({"station": pd.Series(dtype=str), "start": pd.Series(dtype="datetime64[ns, UTC]"),
                             "end": pd.Series(dtype="datetime64[ns, UTC]"), "reason": pd.Series(dtype=str),
                             "planned": pd.Series(dtype=bool)})
    out = _table(downtime, "downtime")
    out["reason"] = out["reason"].fillna("unknown").astype(str) if "reason" in out.columns else "unknown"
    out["planned"] = out["planned"].fillna(False).astype(bool) if "planned" in out.columns else False
    return out


def _key(ops: pd.DataFrame, key: str | None) -> str:
    if key is not None:
        if key not in ops.columns:
            raise SchemaError(f"key column {key!r} is not in the operations table (columns: "
                              f"{', '.join(map(str, ops.columns))})")
        return key
    if "unit_id" in ops.columns and ops["unit_id"].notna().all():
        return "unit_id"
    if "order_id" in ops.columns and ops["order_id"].notna().any():
        return "order_id"
    raise SchemaError("the operations table has neither 'unit_id' nor 'order_id', so units cannot be followed from "
                      "station to station; map the order or serial number onto one of them")


def _is_number(value: object) -> TypeGuard[float]:
    """A finite real number (not a bool, not text)."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_) and \
        bool(np.isfinite(value))


def _station_names(stations: Sequence[str]) -> list[str]:
    """``stations=`` as a list of distinct station names (the table's stations are text)."""
    if isinstance(stations, str):
        raise SchemaError(f"stations= must be a list of station names, e.g. [{stations!r}], not the text {stations!r}")
    names = [str(s) for s in stations]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SchemaError(f"stations= lists {', '.join(map(repr, repeated[:5]))} more than once; list each station "
                          "once")
    return names


def _minutes(times: pd.Series) -> np.ndarray:
    return ((times - _EPOCH) / _MINUTE).to_numpy(dtype=float)


def _elapsed_min(start: pd.Series[pd.Timestamp], end: pd.Series[pd.Timestamp]) -> pd.Series[float]:
    """Minutes from ``start`` to ``end``, row by row (negative where ``end`` comes first)."""
    return (end - start) / _MINUTE


def _merge(groups: np.ndarray, start: np.ndarray, end: np.ndarray, tolerance: float = 0.0) -> pd.DataFrame:
    """Union of intervals per group: merged blocks ``group, start, end`` (gaps up to ``tolerance`` closed)."""
    frame = pd.DataFrame({"group": groups, "start": start, "end": end}).sort_values(["group", "start"], kind="stable")
    if frame.empty:
        return frame
    reach = frame.groupby("group", sort=False)["end"].cummax()
    before = reach.groupby(frame["group"], sort=False).shift()
    block = (before.isna() | (frame["start"] > before + tolerance)).cumsum()
    return frame.groupby(block.to_numpy()).agg(group=("group", "first"), start=("start", "min"),
                                               end=("end", "max")).reset_index(drop=True)


def _union_minutes(groups: np.ndarray, start: np.ndarray, end: np.ndarray) -> pd.Series:
    blocks = _merge(groups, start, end)
    if blocks.empty:
        return pd.Series(dtype=float)
    return (blocks["end"] - blocks["start"]).groupby(blocks["group"]).sum()


# -- distributions --------------------------------------------------------------------------------------------------
def describe(frame: pd.DataFrame, value: str, by: str = "station") -> pd.DataFrame:
    """Distribution of ``value`` per ``by``: ``n, mean, cv, p10, p25, p50, p75, p90`` (missing values left out).

    Examples
    --------
    >>> frame = pd.DataFrame({"station": ["A"] * 5, "minutes": [1.0, 2.0, 3.0, 4.0, 5.0]})
    >>> describe(frame, "minutes").round(3).to_dict("records")
    [{'station': 'A', 'n': 5, 'mean': 3.0, 'cv': 0.527, 'p10': 1.4, 'p25': 2.0, 'p50': 3.0, 'p75': 4.0, 'p90': 4.6}]
    """
    missing = [c for c in (by, value) if c not in frame.columns]
    if missing:
        raise SchemaError(f"describe needs column(s) {', '.join(map(repr, missing))}, which the table does not have "
                          f"(columns: {', '.join(map(str, frame.columns))})")
    data = frame[[by, value]].dropna()
    grouped = data.groupby(by, sort=False)[value]
    out = pd.DataFrame({"n": grouped.size(), "mean": grouped.mean()})
    std = grouped.std(ddof=1)
    out["cv"] = (std / out["mean"]).where(out["mean"] > 0)
    if len(data):
        quantiles = grouped.quantile(np.array(QUANTILES)).unstack()
        quantiles.columns = [f"p{round(q * 100)}" for q in QUANTILES]
        out = out.join(quantiles)
    else:
        for q in QUANTILES:
            out[f"p{round(q * 100)}"] = np.nan
    out["n"] = out["n"].astype("int64")
    return out.rename_axis(by).reset_index()


# -- the pieces -----------------------------------------------------------------------------------------------------
def cycle_times(operations: pd.DataFrame, qty: str | None = None) -> pd.DataFrame:
    """One row per production operation with its duration ``minutes`` and its cycle time ``cycle_min``.

    Parameters
    ----------
    operations : DataFrame
        Canonical operations; only rows with ``kind == "production"`` (or no kind) count.
    qty : str, optional
        Column with the quantity each operation made. Then ``cycle_min`` is minutes per unit, and operations that
        report no quantity (0 or missing) have no cycle time (NaN) — their minutes still count as busy time.

    Examples
    --------
    >>> ops = pd.DataFrame({"station": ["A", "A"], "kind": ["production", "setup"], "made": [4, 0],
    ...                     "start": pd.to_datetime(["2024-01-01 08:00", "2024-01-01 09:00"], utc=True),
    ...                     "end": pd.to_datetime(["2024-01-01 08:20", "2024-01-01 09:30"], utc=True)})
    >>> cycle_times(ops, qty="made")[["station", "minutes", "cycle_min"]].to_dict("records")
    [{'station': 'A', 'minutes': 20.0, 'cycle_min': 5.0}]
    """
    ops = _operations(operations)
    out = ops[ops["kind"] == "production"].copy()
    out["minutes"] = _elapsed_min(out["start"], out["end"])
    if qty is None:
        out["cycle_min"] = out["minutes"]
    else:
        if qty not in out.columns:
            raise SchemaError(f"quantity column {qty!r} is not in the operations table (columns: "
                              f"{', '.join(map(str, ops.columns))})")
        made = pd.to_numeric(out[qty], errors="coerce")
        out["cycle_min"] = (out["minutes"] / made).where(made > 0)
    return out.reset_index(drop=True)


def _visits(ops: pd.DataFrame, key: str) -> pd.DataFrame:
    """Consecutive operations of one key at one station form a visit: ``key, station, start, end, step``."""
    ordered = ops.dropna(subset=[key]).sort_values([key, "start", "end"], kind="stable")
    new = (ordered[key] != ordered[key].shift()) | (ordered["station"] != ordered["station"].shift())
    visit = new.cumsum().to_numpy()
    visits = ordered.groupby(visit, sort=False).agg(key=(key, "first"), station=("station", "first"),
                                                    start=("start", "min"), end=("end", "max"))
    visits["step"] = visits.groupby("key", sort=False).cumcount()
    return visits.reset_index(drop=True)


def waiting_times(operations: pd.DataFrame, key: str | None = None) -> pd.DataFrame:
    """Every move of an order (or unit) from one station to the next, with the time it waited in between.

    Returns one row per transition: ``key`` (the order or unit), ``from_station, to_station, from_end, to_start``,
    ``gap_min`` (next start minus previous end; negative when the visits overlap), ``waiting_min`` (the gap where it
    is not negative, else NaN) and ``overlap_min`` (the overlap where the gap is negative, else NaN).

    Examples
    --------
    >>> t = lambda h: pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=h)
    >>> ops = pd.DataFrame({"order_id": ["o1"] * 3, "station": ["A", "B", "C"],
    ...                     "start": [t(0), t(3), t(3.5)], "end": [t(1), t(4), t(5)]})
    >>> waiting_times(ops)[["from_station", "to_station", "gap_min", "waiting_min", "overlap_min"]]
      from_station to_station  gap_min  waiting_min  overlap_min
    0            A          B    120.0        120.0          NaN
    1            B          C    -30.0          NaN         30.0
    """
    ops = _operations(operations)
    key = _key(ops, key)
    visits = _visits(ops, key)
    previous = visits.shift()
    same = visits["key"].eq(previous["key"]).to_numpy()
    out = pd.DataFrame({
        "key": visits["key"][same].to_numpy(),
        "from_station": previous["station"][same].to_numpy(),
        "to_station": visits["station"][same].to_numpy(),
        "from_end": previous["end"][same].to_numpy(),
        "to_start": visits["start"][same].to_numpy(),
    })
    out["from_end"] = pd.to_datetime(out["from_end"], utc=True)
    out["to_start"] = pd.to_datetime(out["to_start"], utc=True)
    gap = _elapsed_min(out["from_end"], out["to_start"])
    out["gap_min"] = gap
    out["waiting_min"] = gap.where(gap >= 0)
    out["overlap_min"] = (-gap).where(gap < 0)
    return out


def changeovers(operations: pd.DataFrame) -> pd.DataFrame:
    """One row per changeover: a run of one order on one station that received setup time.

    A *run* is a stretch of consecutive operations of the same order on a station (by ``order_id``, else the
    unit). Its changeover is ``from_material`` (the previous run's material on that station; missing for the
    station's first run) → ``to_material``; ``setup_min`` sums the run's setup reports (a setup split into several
    reports is one changeover), ``reports`` counts them.

    Examples
    --------
    >>> t = lambda h: pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=h)
    >>> ops = pd.DataFrame({
    ...     "station": ["M1"] * 5, "order_id": ["o1", "o1", "o2", "o2", "o2"], "material": ["A", "A", "B", "B", "B"],
    ...     "kind": ["setup", "production", "setup", "setup", "production"],
    ...     "start": [t(0), t(1), t(3), t(3.5), t(4)], "end": [t(1), t(3), t(3.5), t(4), t(6)]})
    >>> changeovers(ops)[["station", "from_material", "to_material", "setup_min", "reports"]]
      station from_material to_material  setup_min  reports
    0      M1           NaN           A       60.0        1
    1      M1             A           B       60.0        2
    """
    ops = _operations(operations)
    order = next((c for c in ("order_id", "unit_id") if c in ops.columns and ops[c].notna().any()), None)
    if "material" not in ops.columns:
        ops["material"] = np.nan
    ordered = ops.sort_values(["station", "start", "end"], kind="stable").copy()
    if order is not None:
        owner = ordered[order]
    elif ordered["material"].notna().any():  # no order to follow: a run is a stretch of one material
        owner = ordered["material"]
    else:  # nor a material: each block of setup reports starts a run
        setup = ordered["kind"] == "setup"
        owner = (setup & ~setup.shift(fill_value=False)).cumsum()
    new_run = (ordered["station"] != ordered["station"].shift()) | (owner != owner.shift())
    ordered["run"] = new_run.cumsum().to_numpy()
    ordered["owner"] = ordered[order] if order is not None else np.nan
    ordered["setup_minutes"] = _elapsed_min(ordered["start"], ordered["end"]).where(ordered["kind"] == "setup")
    runs = ordered.groupby("run", sort=True).agg(
        station=("station", "first"), order_id=("owner", "first"), to_material=("material", "first"),
        start=("start", "min"), setup_min=("setup_minutes", "sum"), reports=("setup_minutes", "count"))
    first_of_station = runs["station"] != runs["station"].shift()
    runs["from_material"] = runs["to_material"].shift().where(~first_of_station)
    runs = runs[runs["reports"] > 0]
    columns = ["station", "order_id", "from_material", "to_material", "start", "setup_min", "reports"]
    out = runs[columns].reset_index(drop=True)
    out["reports"] = out["reports"].astype("int64")
    return out


def changeover_matrix(operations: pd.DataFrame | None = None, by_station: bool = False, *,
                      changes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Setup time per material change: ``from_material → to_material`` with ``count, median_min, mean_min, total_h``.

    Parameters
    ----------
    operations : DataFrame, optional
        Canonical operations (changeovers are derived with :func:`changeovers`).
    by_station : bool, default=False
        One matrix per station (a ``station`` column) instead of one for the whole line.
    changes : DataFrame, optional
        The output of :func:`changeovers`, if already computed.

    Returns
    -------
    DataFrame
        Long form, sorted by total setup hours (the changeovers that cost most first); a station's first run (no
        previous material) is left out. Pivot it for a from × to matrix:
        ``m.pivot(index="from_material", columns="to_material", values="median_min")``.

    Examples
    --------
    >>> t = lambda h: pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=h)
    >>> ops = pd.DataFrame({"station": ["M1"] * 6, "order_id": ["o1", "o1", "o2", "o2", "o3", "o3"],
    ...                     "material": ["A", "A", "B", "B", "A", "A"], "kind": ["setup", "production"] * 3,
    ...                     "start": [t(h) for h in (0, 1, 2, 3, 5, 6)], "end": [t(h) for h in (1, 2, 3, 5, 6, 7)]})
    >>> changeover_matrix(ops)
      from_material to_material  count  median_min  mean_min  total_h
    0             A           B      1        60.0      60.0      1.0
    1             B           A      1        60.0      60.0      1.0
    """
    if changes is None:
        if operations is None:
            raise SchemaError("changeover_matrix needs the operations table (or changes=changeovers(operations))")
        changes = changeovers(operations)
    by = (["station"] if by_station else []) + ["from_material", "to_material"]
    known = changes.dropna(subset=["from_material", "to_material"])
    grouped = known.groupby(by, sort=True)["setup_min"]
    out = pd.DataFrame({"count": grouped.size(), "median_min": grouped.median(), "mean_min": grouped.mean(),
                        "total_h": grouped.sum() / 60.0}).reset_index()
    out["count"] = out["count"].astype("int64")
    return out.sort_values(["total_h", "count"], ascending=False, kind="stable").reset_index(drop=True)


def downtime_events(downtime: pd.DataFrame) -> pd.DataFrame:
    """The downtime table with ``minutes`` from its timestamps (``reason`` and ``planned`` filled in if absent)."""
    out = _downtime(downtime)
    out["minutes"] = _elapsed_min(out["start"], out["end"])
    return out


def utilization(operations: pd.DataFrame, downtime: pd.DataFrame | None = None, span: str = "line",
                stations: Sequence[str] | None = None) -> pd.DataFrame:
    """Busy time, utilization and uptime per station.

    ``busy_h`` is the union of the station's production and setup intervals (overlapping reports count once).
    ``utilization`` is busy time over the observed span: the line's (first start to last end over all operations
    and downtime; ``span="line"``, the same denominator for every station) or the station's own (``"station"``).
    ``uptime`` is one minus unplanned downtime over the span less planned downtime.

    Examples
    --------
    >>> t = lambda h: pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=h)
    >>> ops = pd.DataFrame({"station": ["A", "A", "B"], "kind": ["setup", "production", "production"],
    ...                     "start": [t(0), t(1), t(0)], "end": [t(1), t(3), t(8)]})
    >>> down = pd.DataFrame({"station": ["A"], "start": [t(4)], "end": [t(6)], "planned": [False]})
    >>> utilization(ops, down)[["station", "busy_h", "span_h", "downtime_h", "utilization", "uptime"]]
      station  busy_h  span_h  downtime_h  utilization  uptime
    0       A     3.0     8.0         2.0        0.375    0.75
    1       B     8.0     8.0         0.0        1.000    1.00
    """
    if span not in ("line", "station"):
        raise SchemaError(f"span must be 'line' or 'station', got {span!r}")
    ops = _operations(operations)
    down = _downtime(downtime)
    names = _station_names(stations) if stations is not None else list(dict.fromkeys([*ops["station"],
                                                                                       *down["station"]]))
    work = ops[ops["kind"].isin(WORK_KINDS)]
    start, end = _minutes(work["start"]), _minutes(work["end"])
    busy = _union_minutes(work["station"].to_numpy(), start, end).reindex(names, fill_value=0.0)
    all_starts = np.concatenate([_minutes(ops["start"]), _minutes(down["start"])])
    all_ends = np.concatenate([_minutes(ops["end"]), _minutes(down["end"])])
    if span == "line":
        lo = pd.Series(all_starts.min() if len(all_starts) else np.nan, index=names)
        hi = pd.Series(all_ends.max() if len(all_ends) else np.nan, index=names)
    else:
        lo = pd.Series(_minutes(ops["start"]), index=ops["station"]).groupby(level=0).min().reindex(names)
        hi = pd.Series(_minutes(ops["end"]), index=ops["station"]).groupby(level=0).max().reindex(names)
    rows = []
    for name in names:
        mask = (down["station"] == name).to_numpy()
        d_start = np.clip(_minutes(down["start"])[mask], lo[name], hi[name])
        d_end = np.clip(_minutes(down["end"])[mask], lo[name], hi[name])
        planned = down["planned"].to_numpy(dtype=bool)[mask]
        unplanned_min = _union_minutes(np.zeros((~planned).sum()), d_start[~planned], d_end[~planned]).sum()
        planned_min = _union_minutes(np.zeros(planned.sum()), d_start[planned], d_end[planned]).sum()
        span_min = hi[name] - lo[name]
        available = span_min - planned_min
        rows.append({
            "station": name, "busy_h": busy[name] / 60.0, "span_h": span_min / 60.0,
            "downtime_h": (unplanned_min + planned_min) / 60.0,
            "utilization": busy[name] / span_min if span_min > 0 else np.nan,
            "uptime": 1.0 - unplanned_min / available if available > 0 else np.nan,
        })
    return pd.DataFrame(rows, columns=["station", "busy_h", "span_h", "downtime_h", "utilization", "uptime"])


def wip(operations: pd.DataFrame, key: str | None = None, freq: str | None = "1h") -> pd.DataFrame:
    """Work in process over time: the number of orders (or units) between their first start and their last end.

    With ``freq=None`` the exact step series (``time``, ``wip`` from that instant on). With a frequency, one row per
    period (``time`` = period start) with the time-weighted mean ``wip`` and the highest ``wip_max`` in it. The
    frequency is a fixed one (``"15min"``, ``"1h"``, ``"1D"``; not months) giving at most ``MAX_WIP_PERIODS``
    (5,000,000) periods over the span of the operations; otherwise a :class:`~leanlearn.errors.SchemaError` says so.

    Examples
    --------
    >>> t = lambda h: pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=h)
    >>> ops = pd.DataFrame({"order_id": ["o1", "o2"], "station": ["A", "A"],
    ...                     "start": [t(0), t(0.5)], "end": [t(1.5), t(2)]})
    >>> wip(ops, freq=None)["wip"].tolist()
    [1, 2, 1, 0]
    >>> wip(ops)[["wip", "wip_max"]].to_dict("records")
    [{'wip': 1.5, 'wip_max': 2}, {'wip': 1.5, 'wip_max': 2}]
    """
    ops = _operations(operations)
    key = _key(ops, key)
    spans = ops.dropna(subset=[key]).groupby(key, sort=False).agg(start=("start", "min"), end=("end", "max"))
    steps = pd.concat([pd.Series(1, index=spans["start"]), pd.Series(-1, index=spans["end"])])
    steps = steps.groupby(level=0).sum().sort_index()
    level = steps.cumsum().astype("int64")
    if freq is None:
        return pd.DataFrame({"time": level.index, "wip": level.to_numpy()})
    step = _frequency(freq)
    if level.empty:
        return pd.DataFrame({"time": pd.Series(dtype="datetime64[ns, UTC]"), "wip": [], "wip_max": []})
    first, last = level.index[0].floor(freq), level.index[-1].ceil(freq)
    periods = (last - first) / step
    if periods > MAX_WIP_PERIODS:
        raise SchemaError(f"a WIP series every {freq} from {first} to {last} would have {periods:,.0f} periods, "
                          f"more than {MAX_WIP_PERIODS:,}; choose a coarser frequency than {freq!r} or freq=None, "
                          "or check the operations for a start or end far from the others")
    edges = pd.date_range(first, last, freq=freq)
    if len(edges) < 2:
        edges = pd.DatetimeIndex([edges[0], edges[0] + step])
    tb, vb = _minutes(pd.Series(level.index)), level.to_numpy(dtype=float)
    te = _minutes(pd.Series(edges))
    area = np.concatenate([[0.0], np.cumsum(vb[:-1] * np.diff(tb))])
    integral = np.interp(te, tb, area)
    mean = np.diff(integral) / np.diff(te)
    at_edge = np.searchsorted(tb, te[:-1], side="right") - 1
    start_value = np.where(at_edge >= 0, vb[np.clip(at_edge, 0, None)], 0.0)
    inside = pd.Series(vb).groupby(np.searchsorted(te, tb, side="right") - 1).max()
    peak = np.maximum(start_value, inside.reindex(range(len(te) - 1), fill_value=0).to_numpy())
    return pd.DataFrame({"time": edges[:-1], "wip": mean, "wip_max": peak.astype("int64")})


def _frequency(freq: str) -> pd.Timedelta:
    """A fixed resampling frequency such as ``"15min"``, ``"1h"`` or ``"1D"`` as a positive Timedelta."""
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
    except (TypeError, ValueError):
        offset = None
    if not isinstance(offset, pd.offsets.Tick) or pd.Timedelta(offset) <= pd.Timedelta(0):
        raise SchemaError(f"{freq!r} is not a fixed time frequency; write one like '15min', '1h' or '1D'")
    return pd.Timedelta(offset)


def _bottleneck_segments(ops: pd.DataFrame, down: pd.DataFrame, names: list[str],
                         tolerance: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Elementary time segments with their momentary bottleneck and shifting flags (Roser et al.)."""
    if not (_is_number(tolerance) and tolerance >= 0):
        raise SchemaError(f"the bottleneck tolerance must be a number of minutes, 0 or more, got {tolerance!r}")
    active = pd.concat([ops[["station", "start", "end"]], down.loc[~down["planned"], ["station", "start", "end"]]])
    blocks = _merge(active["station"].to_numpy(), _minutes(active["start"]), _minutes(active["end"]), tolerance)
    blocks = blocks[blocks["end"] > blocks["start"]].reset_index(drop=True)
    if blocks.empty:
        return pd.DataFrame(columns=["start", "end", "bottleneck"]), blocks
    blocks["length"] = blocks["end"] - blocks["start"]
    points = np.unique(np.concatenate([blocks["start"], blocks["end"]]))
    seg_start, seg_end = points[:-1], points[1:]
    middle = (seg_start + seg_end) / 2
    length = np.full((len(middle), len(names)), -1.0)
    block_id = np.full((len(middle), len(names)), -1)
    for j, name in enumerate(names):
        mine = blocks[blocks["group"] == name].sort_values("start")
        if mine.empty:
            continue
        starts, ends = mine["start"].to_numpy(), mine["end"].to_numpy()
        at = np.searchsorted(starts, middle, side="right") - 1
        inside = (at >= 0) & (ends[np.clip(at, 0, None)] > middle)
        length[inside, j] = mine["length"].to_numpy()[at[inside]]
        block_id[inside, j] = mine.index.to_numpy()[at[inside]]
    choice = length.argmax(axis=1)
    rows = np.arange(len(middle))
    is_active = length[rows, choice] > 0
    current = np.where(is_active, block_id[rows, choice], -1)
    shifting = np.zeros_like(length, dtype=bool)
    block_start, block_end = blocks["start"].to_numpy(dtype=float), blocks["end"].to_numpy(dtype=float)
    run_starts = np.flatnonzero(np.concatenate([[True], current[1:] != current[:-1]]))
    for before, after in pairwise(run_starts):
        first, second = current[before], current[after]
        if first < 0 or second < 0:
            continue
        lo = max(block_start[first], block_start[second])
        hi = min(block_end[first], block_end[second])
        if hi <= lo:
            continue
        span = slice(np.searchsorted(middle, lo), np.searchsorted(middle, hi))
        shifting[span, choice[before]] = True
        shifting[span, choice[after]] = True
    segments = pd.DataFrame({"start": seg_start, "end": seg_end,
                             "bottleneck": np.where(is_active, np.asarray(names, dtype=object)[choice], None)})
    for j, name in enumerate(names):
        segments[f"shifting:{name}"] = shifting[:, j]
    return segments, blocks


def bottlenecks(operations: pd.DataFrame, downtime: pd.DataFrame | None = None, tolerance: float = 0.0,
                stations: Sequence[str] | None = None) -> pd.DataFrame:
    """Bottleneck shares by the active-period method (Roser, Nakano & Tanaka, 2001/2002).

    A station is *active* while it produces, sets up or is down unplanned (it is inactive while it waits for
    work or is blocked); consecutive active intervals with gaps up to ``tolerance`` minutes form one *active
    period*. At every instant the station whose current active period is the longest is the momentary
    bottleneck. When the bottleneck passes from one station to another and their two active periods overlap,
    the overlap is a *shifting* bottleneck period for both; all other bottleneck time is *sole*.

    Returns per station ``sole_share``, ``shifting_share`` and ``bottleneck_share`` (their sum) as shares of the
    analysed window (first to last active instant; two stations share a shifting period, so the shares of all
    stations can add up to more than 1), the same in hours, and ``active_mean_min``, the mean active period.

    Examples
    --------
    A is active 0–10 h, B 5–20 h: A is the sole bottleneck for 5 h, then B's longer period takes over; during
    5–10 h both are active, so the bottleneck shifts; from 10 h on B is the sole bottleneck.

    >>> t = lambda h: pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=h)
    >>> ops = pd.DataFrame({"station": ["A", "B"], "start": [t(0), t(5)], "end": [t(10), t(20)]})
    >>> bottlenecks(ops)[["station", "sole_share", "shifting_share", "bottleneck_share"]]
      station  sole_share  shifting_share  bottleneck_share
    0       A        0.25            0.25              0.50
    1       B        0.50            0.25              0.75
    """
    ops = _operations(operations)
    down = _downtime(downtime)
    names = _station_names(stations) if stations is not None else list(dict.fromkeys([*ops["station"],
                                                                                       *down["station"]]))
    segments, blocks = _bottleneck_segments(ops, down, names, tolerance)
    length = (segments["end"] - segments["start"]).to_numpy(dtype=float) if len(segments) else np.zeros(0)
    window = length.sum()
    rows = []
    for name in names:
        if len(segments):
            shifting = segments[f"shifting:{name}"].to_numpy(dtype=bool)
            sole = (segments["bottleneck"] == name).to_numpy() & ~shifting
            sole_min, shifting_min = length[sole].sum(), length[shifting].sum()
        else:
            sole_min = shifting_min = 0.0
        periods = blocks[blocks["group"] == name]["length"] if len(blocks) else pd.Series(dtype=float)
        rows.append({
            "station": name,
            "sole_share": sole_min / window if window > 0 else np.nan,
            "shifting_share": shifting_min / window if window > 0 else np.nan,
            "bottleneck_share": (sole_min + shifting_min) / window if window > 0 else np.nan,
            "sole_h": sole_min / 60.0, "shifting_h": shifting_min / 60.0,
            "active_mean_min": periods.mean() if len(periods) else np.nan,
        })
    return pd.DataFrame(rows, columns=list(BOTTLENECK_COLUMNS))


def momentary_bottleneck(operations: pd.DataFrame, downtime: pd.DataFrame | None = None,
                         tolerance: float = 0.0) -> pd.DataFrame:
    """The momentary bottleneck over time: ``start, end, station, shifting`` (consecutive equal periods joined).

    Examples
    --------
    >>> t = lambda h: pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=h)
    >>> ops = pd.DataFrame({"station": ["A", "B"], "start": [t(0), t(5)], "end": [t(10), t(20)]})
    >>> momentary_bottleneck(ops)[["station", "shifting"]].to_dict("records")
    [{'station': 'A', 'shifting': False}, {'station': 'B', 'shifting': True}, {'station': 'B', 'shifting': False}]
    """
    ops = _operations(operations)
    down = _downtime(downtime)
    names = list(dict.fromkeys([*ops["station"], *down["station"]]))
    segments, _ = _bottleneck_segments(ops, down, names, tolerance)
    if segments.empty:
        return pd.DataFrame(columns=["start", "end", "station", "shifting"])
    segments["shifting"] = segments[[f"shifting:{n}" for n in names]].any(axis=1)
    segments = segments.dropna(subset=["bottleneck"])
    change = (segments["bottleneck"] != segments["bottleneck"].shift()) | (
        segments["shifting"] != segments["shifting"].shift()) | (segments["start"] != segments["end"].shift())
    periods = segments.groupby(change.cumsum().to_numpy()).agg(
        start=("start", "first"), end=("end", "last"), station=("bottleneck", "first"), shifting=("shifting", "first"))
    for column in ("start", "end"):
        periods[column] = _EPOCH + pd.to_timedelta(periods[column], unit="min")
    return periods.reset_index(drop=True)


def flow_efficiency(operations: pd.DataFrame, key: str | None = None) -> pd.DataFrame:
    """Per order (or unit): lead time, value-adding time, waiting, and flow efficiency = value-adding / lead time.

    ``lead_min`` runs from the first start to the last end of the order's operations; ``value_added_min`` is the
    union of its production intervals (setup, rework and inspection do not add value); ``work_min`` the union of
    all its operations; ``waiting_min = lead_min - work_min``.

    Examples
    --------
    >>> t = lambda h: pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=h)
    >>> ops = pd.DataFrame({"order_id": ["o1"] * 3, "station": ["A", "A", "B"],
    ...                     "kind": ["setup", "production", "production"],
    ...                     "start": [t(0), t(1), t(5)], "end": [t(1), t(2), t(6)]})
    >>> flow_efficiency(ops)[["lead_min", "value_added_min", "waiting_min", "flow_efficiency"]].to_dict("records")
    [{'lead_min': 360.0, 'value_added_min': 120.0, 'waiting_min': 180.0, 'flow_efficiency': 0.3333333333333333}]
    """
    ops = _operations(operations)
    key = _key(ops, key)
    ops = ops.dropna(subset=[key])
    start, end = _minutes(ops["start"]), _minutes(ops["end"])
    keys = ops[key].to_numpy()
    grouped = ops.groupby(key, sort=False)
    out = pd.DataFrame({"start": grouped["start"].min(), "end": grouped["end"].max()})
    if "material" in ops.columns:
        out["material"] = grouped["material"].first()
    out["stations"] = grouped["station"].nunique()
    out["lead_min"] = _elapsed_min(out["start"], out["end"])
    production = (ops["kind"] == "production").to_numpy()
    value = _union_minutes(keys[production], start[production], end[production])
    out["value_added_min"] = value.reindex(out.index, fill_value=0.0)
    out["work_min"] = _union_minutes(keys, start, end).reindex(out.index, fill_value=0.0)
    out["waiting_min"] = out["lead_min"] - out["work_min"]
    out["flow_efficiency"] = (out["value_added_min"] / out["lead_min"]).where(out["lead_min"] > 0)
    return out.rename_axis("key").reset_index()


def takt_time(demand: pd.DataFrame, available: float | None = None) -> float | None:
    """Takt time in minutes per unit: available time / demanded quantity.

    ``available`` (minutes) defaults to the calendar length of the demand periods (their union); pass the working
    time instead when the line does not run around the clock. ``None`` when nothing is demanded.

    Examples
    --------
    >>> demand = pd.DataFrame({"line": ["L1"], "material": ["A"], "qty": [480],
    ...                        "period_start": ["2024-01-01T06:00Z"], "period_end": ["2024-01-01T14:00Z"]})
    >>> takt_time(demand)
    1.0
    >>> takt_time(demand, available=7.5 * 60)
    0.9375
    """
    if available is not None and not (_is_number(available) and available > 0):
        raise SchemaError(f"available time must be a positive number of minutes, got {available!r}")
    periods = _table(demand, "demand", "period_start", "period_end", required=("qty",))
    quantity = pd.to_numeric(periods["qty"], errors="coerce").sum()
    if not quantity > 0:
        return None
    if available is None:
        start, end = _minutes(periods["period_start"]), _minutes(periods["period_end"])
        available = float(_union_minutes(np.zeros(len(periods)), start, end).sum())
    return float(available) / float(quantity)


def station_order(operations: pd.DataFrame, key: str | None = None) -> list[str]:
    """Stations in flow order: by the mean position of their first visit in the orders' routes (ties by name)."""
    ops = _operations(operations)
    if isinstance(operations.get("station", pd.Series(dtype=object)).dtype, pd.CategoricalDtype):
        categories = [str(c) for c in operations["station"].cat.categories]
        return [c for c in categories if c in set(ops["station"])]
    try:
        key = _key(ops, key)
    except SchemaError:
        return sorted(ops["station"].unique())
    visits = _visits(ops, key)
    first = visits.groupby(["key", "station"], sort=False)["step"].min()
    position = first.groupby(level="station").mean()
    order = pd.DataFrame({"position": position, "name": position.index}).sort_values(["position", "name"])
    return [*order["name"], *sorted(set(ops["station"]) - set(order["name"]))]


# -- the whole stream -----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ValueStream:
    """The measured value stream of one line. Every table is a DataFrame; times in minutes, totals in hours.

    Attributes
    ----------
    nodes : DataFrame
        The summary, one row per station in flow order (see :func:`value_stream`).
    distributions : DataFrame
        Long form ``station, metric, n, mean, cv, p10 … p90`` for the metrics ``cycle``, ``waiting`` (before the
        station), ``overlap``, ``setup`` and ``downtime``.
    cycles, waiting, changeovers, downtime : DataFrame
        The individual observations behind the distributions.
    changeover_matrix, bottleneck, flow, wip : DataFrame
        See :func:`changeover_matrix`, :func:`bottlenecks`, :func:`flow_efficiency`, :func:`wip`.
    takt_min : float or None
        Takt time in minutes per unit when demand was given.
    key : str or None
        The column that follows orders or units through the line (None when the operations have neither
        ``unit_id`` nor ``order_id``: then waiting, flow and WIP are empty).
    qty : str or None
        The quantity column cycle times are divided by, if any.
    """

    nodes: pd.DataFrame = field(repr=False)
    distributions: pd.DataFrame = field(repr=False)
    cycles: pd.DataFrame = field(repr=False)
    waiting: pd.DataFrame = field(repr=False)
    changeovers: pd.DataFrame = field(repr=False)
    downtime: pd.DataFrame = field(repr=False)
    changeover_matrix: pd.DataFrame = field(repr=False)
    bottleneck: pd.DataFrame = field(repr=False)
    flow: pd.DataFrame = field(repr=False)
    wip: pd.DataFrame = field(repr=False)
    takt_min: float | None = None
    key: str | None = "order_id"
    qty: str | None = None

    def __repr__(self) -> str:
        top = self.bottleneck_station
        takt = f", takt {self.takt_min:.3g} min" if self.takt_min is not None else ""
        followed = f"{len(self.flow):,} {self.key} values, " if self.key else ""
        return (f"ValueStream({len(self.nodes)} stations, {len(self.cycles):,} production operations, "
                f"{followed}bottleneck {top or 'none'}{takt})")

    @property
    def stations(self) -> list[str]:
        """Station names in flow order."""
        return self.nodes["station"].tolist()

    @property
    def bottleneck_station(self) -> str | None:
        """The station that is the (sole or shifting) bottleneck for the largest share of the time."""
        shares = self.bottleneck.set_index("station")["bottleneck_share"].dropna()
        return str(shares.idxmax()) if len(shares) and shares.max() > 0 else None

    def save_tables(self, directory: str | Path) -> list[Path]:
        """Write every table as CSV into ``directory`` (created if needed); return the paths."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for name in ("nodes", "distributions", "cycles", "waiting", "changeovers", "downtime", "changeover_matrix",
                     "bottleneck", "flow", "wip"):
            path = folder / f"{name}.csv"
            getattr(self, name).to_csv(path, index=False)
            paths.append(path)
        return paths


def value_stream(operations: pd.DataFrame, downtime: pd.DataFrame | None = None, demand: pd.DataFrame | None = None,
                 *, qty: str | None = None, key: str | None = None, stations: Sequence[str] | None = None,
                 span: str = "line", available: float | None = None, wip_freq: str | None = "1h",
                 bottleneck_tolerance: float = 0.0) -> ValueStream:
    """Measure the value stream of one line from its canonical tables.

    Parameters
    ----------
    operations : DataFrame
        Canonical operations (``station, start, end`` required; ``kind``, ``order_id`` / ``unit_id``,
        ``material`` used when present).
    downtime : DataFrame, optional
        Canonical downtime (``station, start, end``, optional ``reason``, ``planned``).
    demand : DataFrame, optional
        Canonical demand; gives the takt time (see :func:`takt_time`).
    qty : str, optional
        Quantity column: cycle times become minutes per unit (see :func:`cycle_times`).
    key : str, optional
        Column that follows orders or units (default ``unit_id`` if every row has one, else ``order_id``).
    stations : sequence of str, optional
        Station order (default: flow order, :func:`station_order`).
    span : {"line", "station"}, default="line"
        Denominator of utilization (see :func:`utilization`).
    available : float, optional
        Available minutes for the takt (default: the demand periods' length).
    wip_freq : str or None, default="1h"
        Resampling of the WIP series (None: the exact step series).
    bottleneck_tolerance : float, default=0.0
        Gaps up to this many minutes do not interrupt an active period (use the log's time resolution, e.g. 1 for
        a log written to the minute).

    Returns
    -------
    ValueStream
        Its ``nodes`` table has per station: ``operations`` (production operations), ``cycle_p50_min``,
        ``cycle_p90_min``, ``cycle_mean_min``, ``cycle_cv``, ``wait_p50_min``, ``wait_p90_min`` (waiting before
        the station), ``overlaps`` (arrivals that overlapped the previous station), ``setup_n``,
        ``setup_p50_min``, ``setup_h``, ``downtime_n``, ``downtime_h``, ``busy_h``, ``utilization``, ``uptime``,
        ``bottleneck_share``, ``sole_share``, ``shifting_share`` and, with demand, ``cycle_takt_ratio`` (mean
        cycle / takt; above 1 the station cannot keep the takt).
    """
    ops = _operations(operations)
    down = downtime_events(downtime) if downtime is not None else _downtime(None).assign(minutes=pd.Series(dtype=float))
    try:
        key = _key(ops, key)
    except SchemaError:
        if key is not None:
            raise
        key = None  # no order or unit to follow: no waiting, flow or WIP, everything else still holds
    if stations is None:
        names = station_order(operations if "station" in operations.columns else ops, key)
        names += [s for s in dict.fromkeys(down["station"]) if s not in names]
    else:
        names = _station_names(stations)
        unknown = sorted(set(ops["station"]) - set(names))
        if unknown:
            raise SchemaError(f"stations= leaves out station(s) {', '.join(unknown[:5])} that the operations have; "
                              "list every station")
    cycles = cycle_times(ops, qty)
    if key is not None:
        waits, flow, series = waiting_times(ops, key), flow_efficiency(ops, key), wip(ops, key, freq=wip_freq)
    else:
        nothing = ops.iloc[:0].assign(key=pd.Series(dtype=str))[["key", "station", "start", "end"]]
        waits = waiting_times(nothing.rename(columns={"key": "order_id"}), "order_id")
        flow = flow_efficiency(nothing.rename(columns={"key": "order_id"}), "order_id")
        series = wip(nothing.rename(columns={"key": "order_id"}), "order_id", freq=None).assign(wip_max=0)
    changes = changeovers(ops)
    matrix = changeover_matrix(changes=changes)
    usage = utilization(ops, downtime, span=span, stations=names)
    neck = bottlenecks(ops, downtime, tolerance=bottleneck_tolerance, stations=names)
    takt = takt_time(demand, available) if demand is not None else None

    metrics = {
        "cycle": describe(cycles, "cycle_min"),
        "waiting": describe(waits.rename(columns={"to_station": "station"}), "waiting_min"),
        "overlap": describe(waits.rename(columns={"to_station": "station"}), "overlap_min"),
        "setup": describe(changes, "setup_min"),
        "downtime": describe(down, "minutes"),
    }
    parts = []
    for metric, table in metrics.items():
        full = table.set_index("station").reindex(names)
        full["n"] = full["n"].fillna(0).astype("int64")
        parts.append(full.rename_axis("station").reset_index().assign(metric=metric))
    distributions = pd.concat(parts, ignore_index=True)[["station", "metric", *STATS]]

    def stat(metric: str, column: str) -> pd.Series:
        return metrics[metric].set_index("station")[column].reindex(names)

    nodes = pd.DataFrame({"station": names})
    nodes["operations"] = cycles.groupby("station").size().reindex(names, fill_value=0).to_numpy()
    nodes["cycle_p50_min"] = stat("cycle", "p50").to_numpy()
    nodes["cycle_p90_min"] = stat("cycle", "p90").to_numpy()
    nodes["cycle_mean_min"] = stat("cycle", "mean").to_numpy()
    nodes["cycle_cv"] = stat("cycle", "cv").to_numpy()
    nodes["wait_p50_min"] = stat("waiting", "p50").to_numpy()
    nodes["wait_p90_min"] = stat("waiting", "p90").to_numpy()
    nodes["overlaps"] = stat("overlap", "n").fillna(0).astype("int64").to_numpy()
    nodes["setup_n"] = stat("setup", "n").fillna(0).astype("int64").to_numpy()
    nodes["setup_p50_min"] = stat("setup", "p50").to_numpy()
    nodes["setup_h"] = (changes.groupby("station")["setup_min"].sum().reindex(names, fill_value=0.0) / 60).to_numpy()
    nodes["downtime_n"] = stat("downtime", "n").fillna(0).astype("int64").to_numpy()
    nodes["downtime_h"] = usage["downtime_h"].to_numpy()
    nodes["busy_h"] = usage["busy_h"].to_numpy()
    nodes["utilization"] = usage["utilization"].to_numpy()
    nodes["uptime"] = usage["uptime"].to_numpy()
    for column in ("bottleneck_share", "sole_share", "shifting_share"):
        nodes[column] = neck[column].to_numpy()
    if takt is not None:
        nodes["cycle_takt_ratio"] = nodes["cycle_mean_min"] / takt
    return ValueStream(nodes=nodes, distributions=distributions, cycles=cycles, waiting=waits, changeovers=changes,
                       downtime=down, changeover_matrix=matrix, bottleneck=neck, flow=flow, wip=series,
                       takt_min=takt, key=key, qty=qty)


# -- a bridge from the events table ---------------------------------------------------------------------------------
def events_to_canonical(events: pd.DataFrame, line: str = "line") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split an events table (:mod:`leanlearn.lean.tables`: ``kind`` setup / production / breakdown) into canonical
    operations and downtime, as the fusion pipeline ``pipelines/production_4tu.yaml`` does.

    Naive timestamps are taken as UTC; breakdowns become unplanned downtime (``reason`` breakdown); the quantities
    get their canonical names (``qty_completed`` → ``good_qty``, ``qty_rejected`` → ``scrap_qty``, ``qty_mrb`` →
    ``mrb_qty``); rows repeated verbatim are kept once (the 4TU export repeats 22).

    Examples
    --------
    >>> from leanlearn.data.datasets import load_production_4tu
    >>> ops, down = events_to_canonical(load_production_4tu(events=True), line="4tu")
    >>> len(ops), len(down), str(ops["start"].dt.tz)
    (4468, 53, 'UTC')
    """
    frame = events.drop_duplicates().rename(
        columns={"qty_completed": "good_qty", "qty_rejected": "scrap_qty", "qty_mrb": "mrb_qty"})
    for column in ("start", "end"):
        frame[column] = _utc(frame[column], column, "events")
    frame.insert(0, "line", line)
    work = frame[frame["kind"].isin(WORK_KINDS)].reset_index(drop=True)
    broken = frame[frame["kind"] == "breakdown"]
    down = broken.drop(columns=["kind"]).assign(reason="breakdown", planned=False)
    first = ["line", "station", "start", "end", "reason", "planned"]
    down = down[first + [c for c in down.columns if c not in first]].reset_index(drop=True)
    return work, down
