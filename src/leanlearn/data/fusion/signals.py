"""Signal joins: PLC / sensor readings aggregated onto each operation's time window."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from leanlearn.errors import DataError

__all__ = ["AGGREGATIONS", "CLOSED", "attach_signals"]

AGGREGATIONS = ("mean", "max", "min", "last", "first", "sum", "count", "median", "std")
CLOSED = ("both", "left", "right", "neither")


def _ns(values: pd.Series) -> np.ndarray:
    return values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").astype("int64")


def attach_signals(
    operations: pd.DataFrame,
    signals: pd.DataFrame,
    aggregations: Mapping[str, str | Sequence[str]],
    *,
    by: Sequence[str] = ("line", "station"),
    closed: str = "both",
) -> tuple[pd.DataFrame, pd.Series]:
    """Aggregate signal readings onto each operation's time window ``[start, end]``.

    Parameters
    ----------
    operations : DataFrame
        The operations table (``start``, ``end`` tz-aware, and the ``by`` columns).
    signals : DataFrame
        The signals table: ``ts``, ``name``, ``value`` and the ``by`` columns.
    aggregations : mapping
        Signal name → aggregation(s) among ``mean max min last first sum count median std``.
    by : sequence of str, default=("line", "station")
        A reading belongs to operations with the same values in these columns.
    closed : {"both", "left", "right", "neither"}, default="both"
        Which window ends a reading counts at: ``both`` ``[start, end]``, ``left`` ``[start, end)`` (a reading at
        the instant one operation hands over to the next belongs to the next one only), ``right`` ``(start, end]``,
        ``neither`` ``(start, end)``.

    Returns
    -------
    operations : DataFrame
        A copy with one column ``<signal>_<aggregation>`` per declared pair; NaN where no reading falls in the
        window (a count is 0 there).
    in_window : Series of bool
        Per signal row (same index as ``signals``), whether some operation's window contains it.

    Examples
    --------
    >>> t = pd.Timestamp("2024-03-01 08:00", tz="UTC")
    >>> ops = pd.DataFrame({"line": "L1", "station": "P1", "start": [t, t + pd.Timedelta("1h")],
    ...                     "end": [t + pd.Timedelta("10min"), t + pd.Timedelta("70min")]})
    >>> sig = pd.DataFrame({"line": "L1", "station": "P1", "name": "humidity", "value": [60.0, 64.0, 99.0],
    ...                     "ts": [t + pd.Timedelta("2min"), t + pd.Timedelta("8min"), t + pd.Timedelta("30min")]})
    >>> joined, in_window = attach_signals(ops, sig, {"humidity": ["mean", "last"]})
    >>> joined[["humidity_mean", "humidity_last"]].to_dict("list"), in_window.tolist()
    ({'humidity_mean': [62.0, nan], 'humidity_last': [64.0, nan]}, [True, True, False])

    Back-to-back operations share an instant: ``closed="left"`` gives a reading at it to the later one only.

    >>> back = pd.DataFrame({"line": "L1", "station": "P1", "start": [t, t + pd.Timedelta("10min")],
    ...                      "end": [t + pd.Timedelta("10min"), t + pd.Timedelta("20min")]})
    >>> at = pd.DataFrame({"line": "L1", "station": "P1", "name": "humidity", "value": [60.0, 70.0],
    ...                    "ts": [t + pd.Timedelta("5min"), t + pd.Timedelta("10min")]})
    >>> [attach_signals(back, at, {"humidity": "mean"}, closed=c)[0]["humidity_mean"].tolist()
    ...  for c in ("both", "left")]
    [[65.0, 70.0], [60.0, 70.0]]
    """
    if closed not in CLOSED:
        raise DataError(f"closed={closed!r}: choose one of {', '.join(CLOSED)}")
    wanted = {name: (aggs,) if isinstance(aggs, str) else tuple(aggs) for name, aggs in aggregations.items()}
    for name, aggs in wanted.items():
        for agg in aggs:
            if agg not in AGGREGATIONS:
                raise DataError(f"signal {name!r}: unknown aggregation {agg!r}; choose from {', '.join(AGGREGATIONS)}")
    for table, frame, needed in (("operations", operations, ("start", "end")), ("signals", signals,
                                                                                 ("ts", "name", "value"))):
        missing = [c for c in (*by, *needed) if c not in frame.columns]
        if missing:
            raise DataError(f"the {table} table has no column(s) {', '.join(map(repr, missing))} to join signals by")
    result = operations.copy()
    columns = {f"{name}_{agg}": np.full(len(operations), 0.0 if agg == "count" else np.nan)
               for name, aggs in wanted.items() for agg in aggs}
    for column in columns:
        if column in operations.columns:
            raise DataError(f"the operations table already has a column {column!r}; rename it before aggregating "
                            "signals onto it")
    in_window = np.zeros(len(signals), dtype=bool)
    op_groups = operations.groupby(list(by), sort=False, dropna=False).indices if len(operations) else {}
    sig_groups = signals.groupby(list(by), sort=False, dropna=False).indices if len(signals) else {}
    starts, ends = (_ns(operations[c]) for c in ("start", "end")) if len(operations) else (np.array([]),) * 2
    stamps = _ns(signals["ts"]) if len(signals) else np.array([], dtype="int64")
    pair_ops: list[np.ndarray] = []
    pair_sigs: list[np.ndarray] = []
    for key, o_found in op_groups.items():
        s_found = sig_groups.get(key)
        if s_found is None or len(s_found) == 0:
            continue
        o_pos = np.asarray(o_found, dtype="int64")
        s_pos = np.asarray(s_found, dtype="int64")
        s_pos = s_pos[np.argsort(stamps[s_pos], kind="stable")]
        ts = stamps[s_pos]
        lo = np.searchsorted(ts, starts[o_pos], side="left" if closed in ("both", "left") else "right")
        hi = np.searchsorted(ts, ends[o_pos], side="right" if closed in ("both", "right") else "left")
        counts = np.clip(hi - lo, 0, None)
        cover = np.zeros(len(ts) + 1, dtype="int64")
        has = counts > 0
        np.add.at(cover, lo[has], 1)
        np.add.at(cover, hi[has], -1)
        in_window[s_pos[np.cumsum(cover)[:-1] > 0]] = True
        total = int(counts.sum())
        if total:
            offsets = np.repeat(lo - np.concatenate(([0], np.cumsum(counts)[:-1])), counts) + np.arange(total)
            pair_ops.append(np.repeat(o_pos, counts))
            pair_sigs.append(s_pos[offsets])
    if pair_ops:
        op_index = np.concatenate(pair_ops)
        sig_index = np.concatenate(pair_sigs)
        pairs = pd.DataFrame({"op": op_index, "name": signals["name"].to_numpy()[sig_index],
                              "value": pd.to_numeric(signals["value"], errors="coerce").to_numpy()[sig_index],
                              "ts": stamps[sig_index]})
        pairs = pairs.sort_values(["op", "ts"], kind="mergesort")
        for name, aggs in wanted.items():
            grouped = pairs[pairs["name"] == name].groupby("op")["value"]
            for agg in aggs:
                found = grouped.agg(agg)
                columns[f"{name}_{agg}"][found.index.to_numpy()] = found.to_numpy(dtype=float)
    for column, filled in columns.items():
        result[column] = filled
    return result, pd.Series(in_window, index=signals.index, name="in_window")


