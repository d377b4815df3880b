"""What a line log shows, in the terms the twin simulates: visits, setups, waits, orders, stations.

The twin's calibration (:mod:`leanlearn.twin.calibrate`) builds a line spec from these numbers and its check
(:mod:`leanlearn.twin.check`) measures the twin's own output with the **same** functions, so observed and simulated
values always mean the same thing. Everything comes from the ``start`` / ``end`` timestamps of the canonical
``operations`` (and ``downtime``) tables, through :mod:`leanlearn.lean.valuestream`:

- a **visit** is a stretch of consecutive operations of one order at one station (the order's own sequence, see
  ``valuestream._visits``); an export that splits one production run into several reports (per shift, per worker)
  still gives one visit. Its **cycle** is the production minutes it holds (the sum of its production reports, i.e.
  the work content, per visit) and, with a quantity column, the minutes per unit;
- a **setup** is the setup minutes a visit received (several setup reports of a visit are one setup; the twin
  draws one setup per visit); visits without setup time are not setups. (Per visit rather than per run of
  :func:`~leanlearn.lean.valuestream.changeovers`: a run there can join two visits of one order, and their setups.)
- **waiting** before a station is the gap between an order's previous visit end and this visit's start
  (:func:`~leanlearn.lean.valuestream.waiting_times`; overlaps, where a batch flows on before the previous visit
  ended, are not waits);
- an order's **lead time** runs from its first start to its last end; its **routing** is its visits' station
  sequence;
- a station's **capacity** is the most operations it ran at once; its **utilization** is busy time (the union of
  production and setup intervals) over the log's span (:func:`~leanlearn.lean.valuestream.utilization`).

Times are in minutes.

Examples
--------
>>> import pandas as pd
>>> t = lambda h: pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=h)
>>> ops = pd.DataFrame({
...     "order_id": ["o1", "o1", "o1", "o2", "o2"], "material": ["A", "A", "A", "B", "B"],
...     "station": ["S1", "S1", "S2", "S1", "S2"], "kind": ["setup", "production", "production", "production",
...     "production"], "start": [t(0), t(1), t(4), t(3), t(6)], "end": [t(1), t(3), t(5), t(4), t(8)]})
>>> seen = observe(ops)
>>> seen.orders[["order_id", "lead_min", "routing"]]
  order_id  lead_min   routing
0       o1     300.0  (S1, S2)
1       o2     300.0  (S1, S2)
>>> seen.stations[["station", "visits", "cycle_p50_min", "setup_n", "wait_p50_min"]]
  station  visits  cycle_p50_min  setup_n  wait_p50_min
0      S1       2         90.0        1           NaN
1      S2       2         90.0        0          90.0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leanlearn.errors import SchemaError
from leanlearn.lean import valuestream as vs

__all__ = ["Observed", "concurrency", "load_tables", "minutes", "observe"]

_MINUTE = pd.Timedelta(minutes=1)
_EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
STATION_COLUMNS = ("station", "visits", "cycle_n", "cycle_p50_min", "cycle_p90_min", "cycle_mean_min",
                   "setup_n", "setup_p50_min", "setup_p90_min", "wait_n", "wait_p50_min", "wait_p90_min",
                   "capacity", "busy_h", "utilization", "downtime_n")


def minutes(delta: Any) -> Any:
    """Minutes in a Timedelta, or in each element of a Series / index of them."""
    return delta / _MINUTE


@dataclass(frozen=True, slots=True)
class Observed:
    """Observed (or simulated) line behaviour, measured from canonical tables; times in minutes.

    Attributes
    ----------
    visits : DataFrame
        One row per visit: ``order_id, material, station, step, start, end, production_min, setup_min``,
        ``idle_min`` (time inside the visit's span when none of its reports ran: nights, breaks), ``qty`` and
        ``cycle_min`` (production minutes of the visit; NaN for a visit without production), ``unit_cycle_min``
        (per unit; NaN without a quantity).
    setups : DataFrame
        The visits that received setup time: ``station, order_id, material, start, setup_min`` (the sum of the
        visit's setup reports: a setup split over several reports is one setup).
    transitions : DataFrame
        :func:`~leanlearn.lean.valuestream.waiting_times`: one row per move of an order to its next visit.
    orders : DataFrame
        One row per order: ``order_id, material, release, end, lead_min, visits, routing`` (a tuple of stations),
        ``qty``.
    stations : DataFrame
        One row per station (:data:`STATION_COLUMNS`): visit count, cycle / setup / waiting median and p90,
        capacity (most operations at once), busy hours, utilization, number of downtime events.
    downtime : DataFrame
        The downtime events with ``minutes``.
    start, end : Timestamp
        The span of the log (operations and downtime).
    qty : str or None
        The quantity column used for per-unit cycles.
    """

    visits: pd.DataFrame = field(repr=False)
    setups: pd.DataFrame = field(repr=False)
    transitions: pd.DataFrame = field(repr=False)
    orders: pd.DataFrame = field(repr=False)
    stations: pd.DataFrame = field(repr=False)
    downtime: pd.DataFrame = field(repr=False)
    start: pd.Timestamp
    end: pd.Timestamp
    qty: str | None = None

    def __repr__(self) -> str:
        return (f"Observed({len(self.stations)} stations, {len(self.orders):,} orders, {len(self.visits):,} visits, "
                f"{self.start:%Y-%m-%d} to {self.end:%Y-%m-%d})")

    @property
    def span_min(self) -> float:
        """Minutes from the first to the last timestamp of the log."""
        return float(minutes(self.end - self.start))

    def cycles(self, station: str) -> np.ndarray:
        """The observed cycle minutes (per visit) of one station."""
        values = self.visits.loc[self.visits["station"] == station, "cycle_min"]
        return values.dropna().to_numpy(dtype=float)

    def setup_times(self, station: str) -> np.ndarray:
        """The observed setup minutes of one station."""
        return self.setups.loc[self.setups["station"] == station, "setup_min"].to_numpy(dtype=float)

    def waits(self, station: str) -> np.ndarray:
        """The observed waiting minutes before one station."""
        values = self.transitions.loc[self.transitions["to_station"] == station, "waiting_min"]
        return values.dropna().to_numpy(dtype=float)

    def lead_times(self) -> np.ndarray:
        """Every order's lead time in minutes."""
        return self.orders["lead_min"].to_numpy(dtype=float)


def load_tables(source: Any) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The operations and downtime tables of ``source``.

    ``source`` is a fusion pipeline (a YAML path or a mapping, run with :func:`leanlearn.data.fusion.fuse`), a
    :class:`~leanlearn.data.fusion.FusionResult`, a simulation run (anything with ``.operations`` and
    ``.downtime``), a mapping ``{"operations": ..., "downtime": ...}``, a pair ``(operations, downtime)`` or an
    operations DataFrame alone.

    Examples
    --------
    >>> from leanlearn.data.datasets import load_production_4tu
    >>> from leanlearn.lean.valuestream import events_to_canonical
    >>> ops, down = load_tables(events_to_canonical(load_production_4tu(events=True)))
    >>> len(ops), len(down)
    (4468, 53)
    """
    if isinstance(source, pd.DataFrame):
        return source, None
    if isinstance(source, tuple) and len(source) == 2:
        return _frame(source[0], "operations"), _frame(source[1], "downtime", optional=True)
    if isinstance(source, str | Path) or (isinstance(source, Mapping) and "sources" in source):
        from leanlearn.data.fusion import fuse

        source = fuse(source)
    tables = getattr(source, "tables", None)
    if isinstance(tables, Mapping):
        source = tables
    if isinstance(source, Mapping):
        if "operations" not in source:
            raise SchemaError(f"the tables given have no 'operations' table (tables: {', '.join(map(str, source))}); "
                              "the twin is calibrated on canonical operations (and downtime)")
        return _frame(source["operations"], "operations"), _frame(source.get("downtime"), "downtime", optional=True)
    if hasattr(source, "operations"):
        return _frame(source.operations, "operations"), _frame(getattr(source, "downtime", None), "downtime",
                                                               optional=True)
    raise SchemaError(f"cannot read operations from a {type(source).__name__}; pass a pipeline YAML, a fusion result, "
                      "or the operations (and downtime) DataFrames")


def _frame(value: Any, table: str, optional: bool = False) -> pd.DataFrame:
    if value is None and optional:
        return None  # type: ignore[return-value]
    if not isinstance(value, pd.DataFrame):
        raise SchemaError(f"the {table} table must be a pandas DataFrame, got {type(value).__name__}")
    return value


def observe(operations: pd.DataFrame | Any, downtime: pd.DataFrame | None = None, *, qty: str | None = None,
            key: str = "order_id", stations: list[str] | None = None) -> Observed:
    """Measure visits, setups, waits, orders and stations of a line log (see the module text).

    Parameters
    ----------
    operations : DataFrame or source
        Canonical operations (``station, order_id, start, end`` required; ``kind`` and ``material`` used when
        present), or anything :func:`load_tables` reads (then ``downtime`` comes from it).
    downtime : DataFrame, optional
        Canonical downtime.
    qty : str, optional
        Quantity column of the production reports: gives per-unit cycles (``unit_cycle_min``) and order
        quantities.
    key : str, default="order_id"
        The column that follows an order from station to station.
    stations : list of str, optional
        The stations to report, in this order (default: every station of the log in flow order,
        :func:`~leanlearn.lean.valuestream.station_order`).
    """
    if not isinstance(operations, pd.DataFrame):
        operations, downtime = load_tables(operations)
    if key not in operations.columns:
        raise SchemaError(f"the operations table has no {key!r} column (columns: "
                          f"{', '.join(map(str, operations.columns))}); the twin follows orders from station to "
                          f"station: map the order (or work-order) number onto {key!r}")
    ops = vs._operations(operations)
    if ops.empty:
        raise SchemaError("the operations table is empty: there is nothing to calibrate the twin on")
    if qty is not None and qty not in ops.columns:
        raise SchemaError(f"quantity column {qty!r} is not in the operations table (columns: "
                          f"{', '.join(map(str, ops.columns))})")
    ops = ops.dropna(subset=[key]).copy()
    if ops.empty:
        raise SchemaError(f"no operation has an {key!r}: the twin needs orders to follow")
    ops[key] = ops[key].astype(str)
    if "material" not in ops.columns:
        ops["material"] = "default"
    ops["material"] = ops["material"].fillna("default").astype(str)
    down = vs.downtime_events(downtime) if downtime is not None else vs.downtime_events(_no_downtime())

    visits = _visit_table(ops, key, qty)
    setups = visits.loc[visits["setup_min"] > 0, ["station", "order_id", "material", "start", "setup_min"]]
    setups = setups.reset_index(drop=True)
    transitions = vs.waiting_times(ops, key)
    orders = _order_table(visits)
    names = vs.station_order(ops, key) if stations is None else [str(n) for n in stations]
    starts = pd.concat([ops["start"], down["start"]])
    ends = pd.concat([ops["end"], down["end"]])
    table = _station_table(ops, down, visits, setups, transitions, names)
    return Observed(visits=visits, setups=setups, transitions=transitions, orders=orders, stations=table,
                    downtime=down, start=starts.min(), end=ends.max(), qty=qty)


def _no_downtime() -> pd.DataFrame:
    return pd.DataFrame({"station": pd.Series(dtype=str), "start": pd.Series(dtype="datetime64[ns, UTC]"),
                         "end": pd.Series(dtype="datetime64[ns, UTC]")})


def _visit_table(ops: pd.DataFrame, key: str, qty: str | None) -> pd.DataFrame:
    ordered = ops.sort_values([key, "start", "end"], kind="stable").reset_index(drop=True)
    new = (ordered[key] != ordered[key].shift()) | (ordered["station"] != ordered["station"].shift())
    ordered["visit"] = new.cumsum().to_numpy()
    length = minutes(ordered["end"] - ordered["start"])
    production = ordered["kind"] == "production"
    ordered["production_min"] = length.where(production, 0.0)
    ordered["setup_min"] = length.where(ordered["kind"] == "setup", 0.0)
    ordered["has_production"] = production
    ordered["made"] = pd.to_numeric(ordered[qty], errors="coerce").where(production) if qty else np.nan
    grouped = ordered.groupby("visit", sort=True)
    visits = pd.DataFrame({
        "order_id": grouped[key].first(), "material": grouped["material"].first(),
        "station": grouped["station"].first(), "start": grouped["start"].min(), "end": grouped["end"].max(),
        "production_min": grouped["production_min"].sum(), "setup_min": grouped["setup_min"].sum(),
        "has_production": grouped["has_production"].any(), "qty": grouped["made"].sum(min_count=1),
    }).reset_index(drop=True)
    start = minutes(ordered["start"] - _EPOCH).to_numpy(dtype=float)
    end = minutes(ordered["end"] - _EPOCH).to_numpy(dtype=float)
    work = vs._union_minutes(ordered["visit"].to_numpy(), start, end)
    elapsed = minutes(visits["end"] - visits["start"])
    visits["idle_min"] = (elapsed - work.reindex(grouped.size().index, fill_value=0.0).to_numpy()).clip(lower=0)
    visits["step"] = visits.groupby("order_id", sort=False).cumcount()
    visits["cycle_min"] = visits["production_min"].where(visits["has_production"])
    visits["unit_cycle_min"] = (visits["cycle_min"] / visits["qty"]).where(visits["qty"] > 0)
    columns = ["order_id", "material", "station", "step", "start", "end", "production_min", "setup_min", "idle_min",
               "qty", "cycle_min", "unit_cycle_min"]
    return visits[columns]


def _order_table(visits: pd.DataFrame) -> pd.DataFrame:
    grouped = visits.groupby("order_id", sort=False)
    orders = pd.DataFrame({
        "material": grouped["material"].first(), "release": grouped["start"].min(), "end": grouped["end"].max(),
        "visits": grouped.size(), "routing": grouped["station"].agg(tuple),
        "qty": grouped["qty"].max(),
    })
    orders["lead_min"] = minutes(orders["end"] - orders["release"])
    orders = orders.rename_axis("order_id").reset_index().sort_values(["release", "order_id"], kind="stable")
    return orders[["order_id", "material", "release", "end", "lead_min", "visits", "routing", "qty"]].reset_index(
        drop=True)


def concurrency(ops: pd.DataFrame) -> pd.Series:
    """The most operations (production or setup) each station ran at the same time."""
    work = ops[ops["kind"].isin(vs.WORK_KINDS)]
    out = {}
    for station, group in work.groupby("station", sort=False):
        times = np.concatenate([group["start"].to_numpy(), group["end"].to_numpy()])
        steps = np.concatenate([np.ones(len(group)), -np.ones(len(group))])
        order = np.lexsort((steps, times))  # at equal times an end (-1) comes before a start (+1)
        out[station] = int(max(1, np.cumsum(steps[order]).max()))
    return pd.Series(out, dtype="int64")


def _station_table(ops: pd.DataFrame, down: pd.DataFrame, visits: pd.DataFrame, setups: pd.DataFrame,
                   transitions: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    def quantiles(frame: pd.DataFrame, by: str, value: str, prefix: str) -> pd.DataFrame:
        data = frame[[by, value]].dropna()
        grouped = data.groupby(by)[value]
        out = pd.DataFrame({f"{prefix}_n": grouped.size(), f"{prefix}_p50_min": grouped.median(),
                            f"{prefix}_p90_min": grouped.quantile(0.9)})
        if prefix == "cycle":
            out["cycle_mean_min"] = grouped.mean()
        return out.reindex(names)

    table = pd.DataFrame(index=pd.Index(names, name="station"))
    table["visits"] = visits.groupby("station").size().reindex(names, fill_value=0)
    table = table.join(quantiles(visits, "station", "cycle_min", "cycle"))
    table = table.join(quantiles(setups, "station", "setup_min", "setup"))
    table = table.join(quantiles(transitions, "to_station", "waiting_min", "wait"))
    table["capacity"] = concurrency(ops).reindex(names, fill_value=1)
    # as valuestream.utilization(span="line"): the union of production and setup intervals over the log's span
    work = ops[ops["kind"].isin(vs.WORK_KINDS)]
    start = minutes(work["start"] - _EPOCH).to_numpy(dtype=float)
    end = minutes(work["end"] - _EPOCH).to_numpy(dtype=float)
    busy = vs._union_minutes(work["station"].to_numpy(), start, end).reindex(names, fill_value=0.0)
    first = min(ops["start"].min(), down["start"].min()) if len(down) else ops["start"].min()
    last = max(ops["end"].max(), down["end"].max()) if len(down) else ops["end"].max()
    span = minutes(last - first)
    table["busy_h"] = busy / 60.0
    table["utilization"] = busy / span if span > 0 else np.nan
    table["downtime_n"] = down.groupby("station").size().reindex(names, fill_value=0)
    for column in ("cycle_n", "setup_n", "wait_n"):
        table[column] = table[column].fillna(0).astype("int64")
    return table.reset_index()[list(STATION_COLUMNS)]
