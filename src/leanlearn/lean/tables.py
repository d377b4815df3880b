"""Analysis tables for the miner: one row per setup or per production report, with context and waste outcomes.

Input is an *events* table with canonical columns — ``order_id, station, material, worker, kind, start, end``
(``kind`` in ``setup | production | breakdown``) plus optional quantities ``order_qty, qty_completed,
qty_rejected``. Durations always come from the timestamps, never from a typed-in span.

Examples
--------
>>> import pandas as pd
>>> events = pd.DataFrame({
...     "order_id": ["o1", "o1", "o2", "o2"], "station": ["M1"] * 4, "material": ["A", "A", "B", "B"],
...     "worker": ["w1"] * 4, "kind": ["setup", "production", "setup", "production"],
...     "start": pd.to_datetime(["2012-01-02 06:00", "2012-01-02 07:00", "2012-01-02 09:00", "2012-01-02 11:30"]),
...     "end": pd.to_datetime(["2012-01-02 07:00", "2012-01-02 09:00", "2012-01-02 11:30", "2012-01-02 12:00"]),
...     "qty_completed": [0, 10, 0, 5], "qty_rejected": [0, 1, 0, 0]})
>>> setup_table(events)[["station", "changeover", "setup_min"]].to_dict("records")
[{'station': 'M1', 'changeover': 'start → A', 'setup_min': 60.0},
 {'station': 'M1', 'changeover': 'A → B', 'setup_min': 150.0}]
>>> production_table(events)["rejected"].tolist()
[True, False]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leanlearn.errors import SchemaError

EVENT_COLUMNS = ("order_id", "station", "material", "worker", "kind", "start", "end")


QUANTITY_COLUMNS = ("order_qty", "qty_completed", "qty_rejected")


def _check(events: pd.DataFrame) -> pd.DataFrame:
    """The events table with its columns checked: times as datetimes (ISO 8601 text is parsed), quantities numbers."""
    if not isinstance(events, pd.DataFrame):
        raise SchemaError(f"the events table must be a pandas DataFrame, got {type(events).__name__}")
    repeated = sorted({str(c) for c in events.columns[events.columns.duplicated()]})
    if repeated:
        raise SchemaError(f"the events table has column(s) {', '.join(map(repr, repeated[:5]))} more than once; "
                          "rename or drop the copies")
    missing = [c for c in EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise SchemaError(
            f"events table lacks column(s) {', '.join(missing)}; it needs {', '.join(EVENT_COLUMNS)} "
            "(map your source's columns onto them)"
        )
    out = events.copy()
    for column in ("start", "end"):
        values = out[column]
        if not pd.api.types.is_datetime64_any_dtype(values.dtype):
            parsed = pd.to_datetime(values, errors="coerce", format="ISO8601")
            bad = parsed.isna() & values.notna()
            if bad.any():
                row = bad.to_numpy().nonzero()[0][0]
                raise SchemaError(f"the events table's column {column!r} has text that is not a time in row {row} "
                                  f"(counting from 0: {values.iloc[row]!r}; {int(bad.sum())} row(s)); write times "
                                  "like 2012-01-02 06:00:00")
            out[column] = parsed
    zones = {column: isinstance(out[column].dtype, pd.DatetimeTZDtype) for column in ("start", "end")}
    if zones["start"] != zones["end"]:
        aware = "start" if zones["start"] else "end"
        raise SchemaError(f"the events table's {aware!r} times carry a time zone and the others do not; give both "
                          "columns in the same form")
    for column in QUANTITY_COLUMNS:
        if column in out.columns and not pd.api.types.is_numeric_dtype(out[column].dtype):
            numbers = pd.to_numeric(out[column], errors="coerce")
            bad = numbers.isna() & out[column].notna()
            if bad.any():
                row = bad.to_numpy().nonzero()[0][0]
                raise SchemaError(f"the events table's column {column!r} has text in row {row} (counting from 0: "
                                  f"{out[column].iloc[row]!r}; {int(bad.sum())} row(s)); it must hold numbers")
            out[column] = numbers
    return out


def shift_of(start: pd.Series) -> pd.Series:
    """Shift by start hour: ``early`` 06–14, ``late`` 14–22, ``night`` 22–06 (a common three-shift pattern)."""
    hour = start.dt.hour
    return pd.Series(np.select([(hour >= 6) & (hour < 14), (hour >= 14) & (hour < 22)], ["early", "late"], "night"),
                     index=start.index)


def _context(events: pd.DataFrame) -> pd.DataFrame:
    ordered = events.sort_values(["station", "start", "end"], kind="stable").copy()
    ordered["minutes"] = (ordered["end"] - ordered["start"]).dt.total_seconds() / 60.0
    ordered["shift"] = shift_of(ordered["start"])
    ordered["weekday"] = ordered["start"].dt.day_name().str[:3]
    # the material the station ran before this event's order (the changeover's "from")
    previous = []
    for _, group in ordered.groupby("station", sort=False):
        before, current, last_order = "start", "start", None
        for order, material in zip(group["order_id"], group["material"]):
            if last_order is not None and order != last_order:
                before = current  # a new order on this station: the previous order's material is the "from"
            previous.append(before)
            current, last_order = material, order
    ordered["previous_material"] = previous
    return ordered


def setup_table(events: pd.DataFrame) -> pd.DataFrame:
    """One row per setup: station, material, previous material, ``changeover`` pair, worker, shift, weekday,
    order quantity, and the waste outcome ``setup_min`` (from the timestamps)."""
    ctx = _context(_check(events))
    setups = ctx[ctx["kind"] == "setup"].copy()
    setups["changeover"] = setups["previous_material"].astype(str) + " → " + setups["material"].astype(str)
    columns = ["order_id", "station", "material", "previous_material", "changeover", "worker", "shift", "weekday"]
    if "order_qty" in setups.columns:
        columns.append("order_qty")
    out = setups[columns].copy()
    out["setup_min"] = setups["minutes"]
    return out.reset_index(drop=True)


def queue_length(events: pd.DataFrame) -> pd.Series:
    """Orders waiting at the station when each event starts.

    An order *arrives* at a station when its previous event (at any other station) ends, and leaves the queue when
    its first event at this station starts; the queue length at a start is arrivals so far minus starts so far.

    >>> import pandas as pd
    >>> t = lambda h: pd.Timestamp("2024-01-01") + pd.Timedelta(hours=h)
    >>> ev = pd.DataFrame({"order_id": ["a", "b", "a", "b"], "station": ["S1", "S1", "S2", "S2"],
    ...                    "start": [t(0), t(1), t(3), t(4)], "end": [t(1), t(2), t(4), t(5)]})
    >>> queue_length(ev).tolist()  # when a starts at S2, b (arrived at 2 h) waits behind it
    [0, 0, 1, 0]
    """
    ordered = events.sort_values(["order_id", "start", "end"], kind="stable")
    previous_station = ordered.groupby("order_id")["station"].shift()
    previous_end = ordered.groupby("order_id")["end"].shift()
    arrivals = ordered.loc[previous_station.notna() & (previous_station != ordered["station"])]
    arrival_end = previous_end.loc[arrivals.index]
    first_start = ordered.loc[previous_station != ordered["station"]]  # first event of a visit to a station
    out = pd.Series(0, index=events.index, dtype="int64")
    for station, group in events.groupby("station", sort=False):
        arrive = np.sort(arrival_end[arrivals["station"] == station].to_numpy())
        visits = np.sort(first_start.loc[first_start["station"] == station, "start"].to_numpy())
        starts = group["start"].to_numpy()
        arrived = np.searchsorted(arrive, starts, side="right")
        begun = np.searchsorted(visits, starts, side="right")  # its own visit has begun: not waiting any more
        out.loc[group.index] = np.maximum(arrived - begun, 0)
    return out


def production_table(events: pd.DataFrame) -> pd.DataFrame:
    """One row per production report: context (shift, worker, minutes since the station's last setup, orders queued
    at the station when it started) and the waste outcomes ``qty_rejected``, ``rejected`` (any unit scrapped) and
    ``reject_rate``."""
    ctx = _context(_check(events))
    last_setup_end = ctx["end"].where(ctx["kind"] == "setup").groupby(ctx["station"]).ffill()
    ctx["min_since_setup"] = (ctx["start"] - last_setup_end).dt.total_seconds() / 60.0
    ctx["queue"] = queue_length(ctx)
    production = ctx[ctx["kind"] == "production"].copy()
    columns = ["order_id", "station", "material", "worker", "shift", "weekday", "minutes", "min_since_setup",
               "queue"]
    columns += [c for c in ("order_qty", "qty_completed") if c in production.columns]
    out = production[columns].copy()
    rejected = production.get("qty_rejected", pd.Series(0, index=production.index)).fillna(0)
    out["qty_rejected"] = rejected
    out["rejected"] = rejected > 0
    made = rejected + production.get("qty_completed", pd.Series(0, index=production.index)).fillna(0)
    out["reject_rate"] = np.where(made > 0, rejected / made.where(made > 0, 1), 0.0)
    return out.reset_index(drop=True)
