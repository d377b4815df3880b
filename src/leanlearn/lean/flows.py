"""Lean views on the fused tables: production levelling (demand vs output), transport moves, running inventory."""

from __future__ import annotations

import numpy as np
import pandas as pd

from leanlearn.errors import DataError

__all__ = ["inventory", "levelling", "transport"]


def _periods(times: pd.Series, freq: str) -> pd.Series:
    try:
        return times.dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period(freq)
    except (ValueError, TypeError) as exc:
        raise DataError(f"freq {freq!r} is not a period length ({exc}); use e.g. 'h', 'D', 'W' or 'M'") from None


def levelling(operations: pd.DataFrame, demand: pd.DataFrame, freq: str = "D", *, qty: str = "good_qty",
              station: str | None = None) -> pd.DataFrame:
    """Demand per period against output per period, per material: a production-levelling signal.

    Parameters
    ----------
    operations : DataFrame
        The operations table. Output is counted at the operation's ``end``, for ``kind == "production"`` rows (all
        rows when there is no ``kind``), as the sum of column ``qty`` (one per operation when it is absent).
    demand : DataFrame
        The demand table; a demand period spanning several output periods is spread over them in proportion to
        time.
    freq : str, default="D"
        Period length: ``"h"``, ``"D"``, ``"W"`` (weeks ending Sunday), ``"M"``, ... (pandas period aliases).
    qty : str, default="good_qty"
        The operations column holding the good quantity of each operation.
    station : str, optional
        Count output only here (the line's last station, so each unit counts once). Default: every operation.

    Returns
    -------
    DataFrame
        ``material, period_start, period_end, demand, output, deviation`` (output − demand) and
        ``relative_deviation`` (deviation / demand; NaN where there was no demand), sorted by material and period.

    Examples
    --------
    >>> day = pd.Timestamp("2024-03-04", tz="UTC")
    >>> ops = pd.DataFrame({"material": "BRK-200", "start": [day, day + pd.Timedelta("1D")],
    ...                     "end": [day + pd.Timedelta("2h"), day + pd.Timedelta("26h")], "good_qty": [80, 130]})
    >>> dem = pd.DataFrame({"material": ["BRK-200"], "period_start": [day], "period_end": [day + pd.Timedelta("2D")],
    ...                     "qty": [200.0]})
    >>> levelling(ops, dem, "D")[["demand", "output", "deviation", "relative_deviation"]]
       demand  output  deviation  relative_deviation
    0   100.0    80.0      -20.0                -0.2
    1   100.0   130.0       30.0                 0.3
    """
    ops = operations
    if "kind" in ops.columns:
        ops = ops[ops["kind"].fillna("production") == "production"]
    if station is not None:
        ops = ops[ops["station"] == station]
    output = pd.DataFrame({"material": ops["material"].to_numpy(), "period": _periods(ops["end"], freq).to_numpy(),
                           "output": pd.to_numeric(ops[qty], errors="coerce").fillna(0).to_numpy(dtype=float)
                           if qty in ops.columns else np.ones(len(ops))})
    output = output.groupby(["material", "period"], as_index=False).agg(output=("output", "sum"))
    spread = []
    for material, start, end, amount in demand[["material", "period_start", "period_end", "qty"]].itertuples(
            index=False):
        start, end = pd.Timestamp(start).tz_convert("UTC").tz_localize(None), pd.Timestamp(end).tz_convert(
            "UTC").tz_localize(None)
        first, last = start.to_period(freq), max(start, end - pd.Timedelta(1, "ns")).to_period(freq)
        span = (end - start).total_seconds()
        for period in pd.period_range(first, last, freq=freq):
            period_end = (period + 1).start_time
            overlap = (min(end, period_end) - max(start, period.start_time)).total_seconds()
            share = overlap / span if span > 0 else 1.0
            spread.append((material, period, float(amount) * share))
    demanded = pd.DataFrame(spread, columns=["material", "period", "demand"])
    demanded = demanded.groupby(["material", "period"], as_index=False).agg(demand=("demand", "sum"))
    merged = demanded.merge(output, on=["material", "period"], how="outer").fillna({"demand": 0.0, "output": 0.0})
    merged = merged.sort_values(["material", "period"], kind="mergesort").reset_index(drop=True)
    periods = pd.PeriodIndex(merged["period"], freq=freq) if len(merged) else pd.PeriodIndex([], freq=freq)
    result = pd.DataFrame({
        "material": merged["material"],
        "period_start": periods.start_time.tz_localize("UTC"),
        "period_end": (periods + 1).start_time.tz_localize("UTC"),
        "demand": merged["demand"].astype(float),
        "output": merged["output"].astype(float),
    })
    result["deviation"] = result["output"] - result["demand"]
    result["relative_deviation"] = (result["deviation"] / result["demand"].where(result["demand"] > 0)).round(12)
    return result


def transport(moves: pd.DataFrame) -> pd.DataFrame:
    """The transport moves: those between two different locations, with their duration in minutes.

    >>> t = pd.Timestamp("2024-03-01 08:00", tz="UTC")
    >>> moves = pd.DataFrame({"material": "BRK", "qty": [10.0, 4.0], "from_location": ["WH", "L1"],
    ...                       "to_location": ["L1", "L1"], "start": [t, t], "end": [t + pd.Timedelta("12min"), t]})
    >>> transport(moves)[["from_location", "to_location", "transport_min"]]
      from_location to_location  transport_min
    0            WH          L1           12.0
    """
    moved = moves[moves["from_location"].astype(str) != moves["to_location"].astype(str)].copy()
    if "end" in moved.columns:
        moved["transport_min"] = (moved["end"] - moved["start"]).dt.total_seconds() / 60
    return moved.reset_index(drop=True)


def inventory(moves: pd.DataFrame, *, by_material: bool = True) -> pd.DataFrame:
    """Running stock per location from the moves: a quantity leaves at ``start`` and arrives at ``end``.

    Locations that only send (receiving from suppliers, ``external``) run negative: they count what came in from
    outside. Filter them out of the result if you do not need them.

    Returns
    -------
    DataFrame
        ``ts, location, material, change, stock`` sorted by time (``material`` only when ``by_material``).

    Examples
    --------
    >>> t = pd.Timestamp("2024-03-01 08:00", tz="UTC")
    >>> moves = pd.DataFrame({"material": "BRK", "qty": [10.0, 4.0], "from_location": ["WH", "L1"],
    ...                       "to_location": ["L1", "scrap"], "start": [t, t + pd.Timedelta("1h")],
    ...                       "end": [t + pd.Timedelta("12min"), None]})
    >>> stock = inventory(moves)
    >>> stock[stock["location"] == "L1"][["ts", "change", "stock"]]
                             ts  change  stock
    1 2024-03-01 08:12:00+00:00    10.0   10.0
    2 2024-03-01 09:00:00+00:00    -4.0    6.0
    """
    qty = pd.to_numeric(moves["qty"], errors="coerce").astype(float)
    arrive = moves["end"].where(moves["end"].notna(), moves["start"]) if "end" in moves.columns else moves["start"]
    material = moves["material"] if by_material and "material" in moves.columns else None
    out = pd.concat([
        pd.DataFrame({"ts": moves["start"], "location": moves["from_location"], "change": -qty, "_order": 0}),
        pd.DataFrame({"ts": arrive, "location": moves["to_location"], "change": qty, "_order": 1}),
    ], ignore_index=False)
    keys = ["location"]
    if material is not None:
        out["material"] = pd.concat([material, material]).to_numpy()
        keys.append("material")
    out = out.reset_index(names="_move").sort_values(["ts", "_move", "_order"], kind="mergesort")
    out = out.reset_index(drop=True)
    out["stock"] = out.groupby(keys, sort=False)["change"].cumsum()
    return out[["ts", *keys, "change", "stock"]]
