"""Waste indicators: process-time shifts per station with their attribution, and dependence between wastes.

Shift detection — why CUSUM on log cycle time
---------------------------------------------
:func:`detect_shifts` runs a two-sided **CUSUM** (Page, 1954) on the log cycle times of each station, standardised
by a reference window of that station's own recent history. We chose it over comparing histograms of a recent and
a reference window (KL divergence / entropy of binned cycle times) for three reasons:

- **speed of detection**: CUSUM is the optimal detector of a step change in the mean (Lorden, Moustakides): for a
  given false-alarm rate no other rule detects faster on average. A histogram comparison must first fill its
  recent window with changed observations, so its delay is at least about half a window; CUSUM needs only a few
  observations of a large shift (a 30 % longer cycle at a 10 % CV raises an alarm after 3–4 units);
- **a change time for free**: the observation after the last time the CUSUM statistic sat at zero is the maximum
  likelihood estimate of when the change happened, which is what attribution needs;
- **log scale**: cycle times are positive and right-skewed (close to lognormal), and a process change usually
  multiplies them (a slower feed, a worn tool); on the log scale the change is a shift in the mean of a roughly
  normal variable, which is the setting CUSUM is designed for, and the threshold is in units of the station's own
  variation, so one setting serves fast and slow stations alike. Standardised values are clipped at ±4 so that a
  single outlier (a jam, a mistyped report) cannot raise an alarm by itself.

The reference is the first ``window`` observations of the station. After an alarm it is re-learnt from the
observations after the estimated change (monitoring resumes after a third of a window; the reference grows to a
full window), so the next alarm means a *new* change and a false alarm leaves no long blind spot. At the defaults
(window 50, allowance 1, threshold 5, both in reference standard deviations of log cycle time) a stable station
raises a false alarm about once in 14,000 operations (simulated, lognormal cycle times), and a ×1.3 step at a CV
of 10 % (2.6 standard deviations) is found after 3–4 operations; at a CV of 15 % after about 6.

Attribution — which parameter moved
-----------------------------------
At a detection, :func:`attribute_shift` compares each parameter column of the station's operations in the window
before the estimated change with the window after it: the Kolmogorov–Smirnov distance for numbers and the total
variation distance for categories (both the largest difference between the two distributions, from 0 to 1, so
numeric and categorical parameters rank on one scale), with the standardised mean difference beside it. The
parameter whose distribution moved most is reported.

Mutual information between wastes
---------------------------------
:func:`waste_mutual_information` measures how much knowing one waste indicator (waiting minutes of an order, say)
tells about another (its rejected quantity), in bits, from binned values; a permutation test gives the
probability of so much information between unrelated columns. :func:`waste_indicators` builds a per-order table of
waste indicators to feed it.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> n = 200
>>> start = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.arange(n), unit="min")
>>> feed = np.where(np.arange(n) < 120, 1.0, 0.77) * rng.normal(1, 0.01, n)
>>> seconds = 40 / feed * rng.lognormal(0, 0.08, n)
>>> ops = pd.DataFrame({"station": "S1", "unit_id": [f"u{i}" for i in range(n)], "start": start,
...                     "end": start + pd.to_timedelta(seconds, unit="s"), "feed": feed,
...                     "coolant": rng.normal(20, 1, n)})
>>> found = detect_shifts(ops, window=30)
>>> found[["station", "direction", "parameter"]].to_dict("records")
[{'station': 'S1', 'direction': 'up', 'parameter': 'feed'}]
>>> int((found["changed_at"].iloc[0] - start[0]) / pd.Timedelta(minutes=1))
120
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from leanlearn.errors import SchemaError
from leanlearn.lean.valuestream import (
    _MINUTE,
    _elapsed_min,
    _is_number,
    _key,
    _operations,
    _station_names,
    cycle_times,
    waiting_times,
)

IDENTIFIERS = ("line", "station", "unit_id", "order_id", "kind", "start", "end", "minutes", "cycle_min")
OUTCOMES = ("defect", "defects", "scrap", "scrap_qty", "rework", "qty_rejected", "qty_mrb", "mrb_qty", "rejected",
            "reject_rate")
DETECTION_COLUMNS = (
    "station", "detected_at", "changed_at", "delay", "delay_takts", "direction", "score", "before_min",
    "after_min", "ratio", "parameter", "parameter_score", "parameter_smd", "parameter_before", "parameter_after",
)
_CLIP = 4.0


def _parameters(frame: pd.DataFrame, parameters: Sequence[str] | None, exclude: Sequence[str]) -> list[str]:
    if parameters is not None:
        missing = [p for p in parameters if p not in frame.columns]
        if missing:
            raise SchemaError(f"parameter column(s) {', '.join(map(repr, missing))} are not in the operations table "
                              f"(columns: {', '.join(map(str, frame.columns))})")
        return list(parameters)
    chosen = []
    for column in frame.columns:
        if column in IDENTIFIERS or column in OUTCOMES or column in exclude:
            continue
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values.dtype) or values.nunique(dropna=True) < 2:
            continue
        if not pd.api.types.is_numeric_dtype(values.dtype) and values.nunique() > 50:
            continue  # free text or an identifier, not a parameter
        chosen.append(column)
    return chosen


def attribute_shift(before: pd.DataFrame, after: pd.DataFrame, parameters: Sequence[str]) -> pd.DataFrame:
    """Rank parameters by how much their distribution differs between two windows of operations.

    Numbers: Kolmogorov–Smirnov distance ``score`` and standardised mean difference ``smd`` (after minus before,
    in standard deviations of the before window). Categories (text, booleans): total variation distance between
    the two frequency tables, ``smd`` missing. ``before`` / ``after`` show the mean (numbers) or the most frequent
    value (categories) in each window.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> a = pd.DataFrame({"feed": rng.normal(1.0, 0.02, 30), "temp": rng.normal(20, 1, 30), "tool": ["T1"] * 30})
    >>> b = pd.DataFrame({"feed": rng.normal(0.8, 0.02, 30), "temp": rng.normal(20, 1, 30), "tool": ["T1"] * 30})
    >>> attribute_shift(a, b, ["feed", "temp", "tool"])["parameter"].tolist()
    ['feed', 'temp', 'tool']
    """
    rows = []
    for name in parameters:
        x, y = before[name].dropna(), after[name].dropna()
        if len(x) == 0 or len(y) == 0:
            continue
        numeric = pd.api.types.is_numeric_dtype(x.dtype) and not pd.api.types.is_bool_dtype(x.dtype)
        if numeric:
            xs, ys = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
            score = float(stats.ks_2samp(xs, ys).statistic)
            spread = xs.std(ddof=1) if len(xs) > 1 else 0.0
            spread = spread if spread > 0 else max(abs(xs.mean()) * 1e-3, 1e-12)
            smd = float((ys.mean() - xs.mean()) / spread)
            shown_before, shown_after = f"{xs.mean():.4g}", f"{ys.mean():.4g}"
        else:
            p = x.astype(str).value_counts(normalize=True)
            q = y.astype(str).value_counts(normalize=True)
            score = float(0.5 * p.sub(q, fill_value=0).abs().sum())
            smd = np.nan
            shown_before, shown_after = str(p.idxmax()), str(q.idxmax())
        rows.append({"parameter": name, "score": score, "smd": smd, "before": shown_before, "after": shown_after})
    out = pd.DataFrame(rows, columns=["parameter", "score", "smd", "before", "after"])
    order = out.assign(_abs=out["smd"].abs().fillna(0)).sort_values(["score", "_abs"], ascending=False,
                                                                      kind="stable")
    return order.drop(columns="_abs").reset_index(drop=True)


def _cusum(x: np.ndarray, window: int, allowance: float, threshold: float) -> list[tuple[int, int, int, float]]:
    """Alarms of a two-sided CUSUM with a sliding reference: (alarm index, change index, direction, score).

    The reference is the ``window`` observations before the current excursion: it slides with the data while both
    sums are zero and freezes while either is climbing. After an alarm the reference restarts at the estimated
    change: its mean comes from the observations since the change (so the same change does not alarm twice, and a
    false alarm costs no blind spot), its spread stays the old one until a full window has been seen again.
    """
    alarms: list[tuple[int, int, int, float]] = []
    total = np.concatenate([[0.0], np.cumsum(x)])
    squares = np.concatenate([[0.0], np.cumsum(x * x)])
    upper = lower = 0.0
    upper_zero = lower_zero = window - 1
    anchor = 0
    warmup = max(5, window // 3)
    mean = spread = 0.0
    for i in range(window, len(x)):
        if i - anchor < warmup:
            continue  # re-learning after an alarm: too few observations of the new process yet
        if upper == 0.0 and lower == 0.0:
            hi = min(anchor + window, i)
            count = float(hi - anchor)
            mean = (total[hi] - total[anchor]) / count
            if count >= window:
                variance = (squares[hi] - squares[anchor] - count * mean * mean) / (count - 1)
                spread = max(float(np.sqrt(max(variance, 0.0))), 0.01)
        z = min(max((x[i] - mean) / spread, -_CLIP), _CLIP)
        upper = max(0.0, upper + z - allowance)
        lower = max(0.0, lower - z - allowance)
        if upper == 0.0:
            upper_zero = i
        if lower == 0.0:
            lower_zero = i
        if upper > threshold or lower > threshold:
            up = upper >= lower
            change = (upper_zero if up else lower_zero) + 1
            alarms.append((i, change, 1 if up else -1, upper if up else lower))
            upper = lower = 0.0
            upper_zero = lower_zero = i
            anchor = change
    return alarms


def _level_baseline(values: np.ndarray, context: pd.DataFrame, window: int, warmup: int = 3) -> np.ndarray:
    """Per operation, the median of the earlier values of its context level (at most the level's first ``window``);
    NaN for the first ``warmup`` operations of each level."""
    baseline = np.full(len(values), np.nan)
    levels = context.astype(str).agg("|".join, axis=1).to_numpy() if context.shape[1] > 1 else \
        context.iloc[:, 0].astype(str).to_numpy()
    for positions in pd.Series(np.arange(len(values))).groupby(levels).indices.values():
        seen = values[positions]
        for m in range(warmup, len(positions)):
            baseline[positions[m]] = np.median(seen[:min(m, window)])
    return baseline


def detect_shifts(operations: pd.DataFrame, window: int = 50, threshold: float = 5.0, allowance: float = 1.0, *,
                  parameters: Sequence[str] | None = None, qty: str | None = None, by: Sequence[str] | None = None,
                  takt: float | pd.Timedelta | None = None, stations: Sequence[str] | None = None) -> pd.DataFrame:
    """Detect process-time shifts per station, when they happened, and which parameter moved with them.

    Parameters
    ----------
    operations : DataFrame
        Canonical operations; cycle times come from the production operations' timestamps (see
        :func:`~leanlearn.lean.valuestream.cycle_times`), in the order their values became known (their end).
    window : int, default=50
        Observations per station in the reference window (the CUSUM baseline), and in each of the two windows
        compared for attribution.
    threshold : float, default=5.0
        CUSUM decision threshold, in reference standard deviations of log cycle time. Higher: fewer false alarms,
        later detections.
    allowance : float, default=1.0
        CUSUM allowance ``k`` in the same units; about half the smallest shift worth detecting.
    parameters : sequence of str, optional
        Columns that may explain a shift. Default: every column except identifiers, times, the quantity and known
        outcome columns (``defect``, ``scrap_qty``, ``qty_rejected``, …).
    qty : str, optional
        Quantity column: monitor minutes per unit.
    by : sequence of str, optional
        Context whose levels have cycle times of their own, e.g. ``["material"]``: each cycle time is then
        compared with the typical cycle of its level at the station (the median of that level's first ``window``
        operations there, up to the operation before it), so that a change of product mix is not taken for a
        process change. The first 3 operations of each level only build its reference. ``by`` columns are left out
        of the attribution.
    takt : float (minutes) or Timedelta, optional
        Adds ``delay_takts``.
    stations : sequence of str, optional
        Only these stations.

    Returns
    -------
    DataFrame
        One row per detection, in order of detection: ``station, detected_at`` (end of the operation that raised
        the alarm), ``changed_at`` (start of the first operation of the estimated change, or the end of the
        operation before it where operations overlap), ``delay`` (detected_at - changed_at), ``delay_takts``,
        ``direction`` (``up``: longer cycles), ``score`` (the CUSUM statistic at the alarm), ``before_min``
        (median cycle of the window before the change), ``after_min`` (median cycle of the operations from the
        change to the alarm: the evidence), ``ratio`` (after / before; with ``by``, of the cycles relative to
        their level's typical cycle), and the attribution: ``parameter`` with its ``parameter_score`` (KS or
        total variation distance), ``parameter_smd``, ``parameter_before``, ``parameter_after``.
    """
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 3:
        raise SchemaError(f"window must be a whole number of observations, at least 3, got {window!r}")
    if not (_is_number(threshold) and threshold > 0):
        raise SchemaError(f"threshold must be a number above 0 (in standard deviations), got {threshold!r}")
    if not (_is_number(allowance) and allowance >= 0):
        raise SchemaError(f"allowance must be a number, 0 or more (in standard deviations), got {allowance!r}")
    positive_takt = takt > pd.Timedelta(0) if isinstance(takt, pd.Timedelta) else _is_number(takt) and takt > 0
    if takt is not None and not positive_takt:
        raise SchemaError(f"takt must be a positive number of minutes or a pandas Timedelta, got {takt!r}")
    cycles = cycle_times(operations, qty)
    cycles = cycles[cycles["cycle_min"] > 0]
    names = _station_names(stations) if stations is not None else list(dict.fromkeys(cycles["station"]))
    context = list(by or [])
    missing = [c for c in context if c not in cycles.columns]
    if missing:
        raise SchemaError(f"by= column(s) {', '.join(map(repr, missing))} are not in the operations table (columns: "
                          f"{', '.join(map(str, cycles.columns))})")
    columns = _parameters(cycles, parameters, [*([qty] if qty else []), *context])
    if parameters is None:
        columns = [c for c in columns if c not in context]
    takt_min = takt / _MINUTE if isinstance(takt, pd.Timedelta) else takt
    rows = []
    for name in names:
        mine = cycles[cycles["station"] == name].sort_values(["end", "start"], kind="stable")
        residual = np.log(mine["cycle_min"].to_numpy(dtype=float))
        if context:
            residual = residual - _level_baseline(residual, mine[context], window)
        usable = np.isfinite(residual)
        mine, x = mine[usable].reset_index(drop=True), residual[usable]
        for alarm, change, sign, score in _cusum(x, window, allowance, threshold):
            before = mine.iloc[max(0, change - window):change]
            after = mine.iloc[change:change + window]
            ranking = attribute_shift(before, after, columns) if columns else pd.DataFrame()
            top = ranking.iloc[0] if len(ranking) else None
            detected_at, changed_at = mine.at[alarm, "end"], mine.at[change, "start"]
            if change > 0:  # overlapping operations: the change cannot precede the last unchanged result
                changed_at = max(changed_at, mine.at[change - 1, "end"])
            before_min = float(before["cycle_min"].median())
            after_min = float(mine["cycle_min"].iloc[change:alarm + 1].median())
            shift = np.median(x[change:alarm + 1]) - np.median(x[max(0, change - window):change])
            delay = detected_at - changed_at
            rows.append({
                "station": name, "detected_at": detected_at, "changed_at": changed_at, "delay": delay,
                "delay_takts": delay / _MINUTE / takt_min if takt_min else np.nan,
                "direction": "up" if sign > 0 else "down", "score": score,
                "before_min": before_min, "after_min": after_min, "ratio": float(np.exp(shift)),
                "parameter": None if top is None else top["parameter"],
                "parameter_score": np.nan if top is None else top["score"],
                "parameter_smd": np.nan if top is None else top["smd"],
                "parameter_before": None if top is None else top["before"],
                "parameter_after": None if top is None else top["after"],
            })
    out = pd.DataFrame(rows, columns=list(DETECTION_COLUMNS))
    return out.sort_values("detected_at", kind="stable").reset_index(drop=True)


# -- dependence between wastes --------------------------------------------------------------------------------------
def waste_indicators(operations: pd.DataFrame, downtime: pd.DataFrame | None = None, key: str | None = None,
                     outcomes: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per order (or unit) with its waste indicators, all from timestamps and outcome columns.

    ``waiting_min`` (time between its stations, overlaps counted as 0), ``setup_min`` (its setup reports),
    ``lead_min``, ``work_min`` (union of its operations), ``downtime_min`` (downtime rows carrying its key, e.g.
    breakdowns reported against the order), and the sum of each outcome column (default: the known ones present,
    such as ``defect``, ``scrap_qty``, ``qty_rejected``, ``rework``).

    Examples
    --------
    >>> t = lambda h: pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=h)
    >>> ops = pd.DataFrame({"order_id": ["o1", "o1", "o2"], "station": ["A", "B", "A"],
    ...                     "kind": ["production"] * 3, "qty_rejected": [0, 2, 1],
    ...                     "start": [t(0), t(2), t(1)], "end": [t(1), t(3), t(2)]})
    >>> waste_indicators(ops)[["key", "waiting_min", "lead_min", "qty_rejected"]]
      key  waiting_min  lead_min  qty_rejected
    0  o1         60.0     180.0             2
    1  o2          0.0      60.0             1
    """
    ops = _operations(operations)
    key = _key(ops, key)
    ops = ops.dropna(subset=[key])
    grouped = ops.groupby(key, sort=False)
    out = pd.DataFrame({"start": grouped["start"].min(), "end": grouped["end"].max()})
    if "material" in ops.columns:
        out["material"] = grouped["material"].first()
    out["lead_min"] = _elapsed_min(out["start"], out["end"])
    waits = waiting_times(ops, key)
    out["waiting_min"] = waits.groupby("key")["waiting_min"].sum().reindex(out.index, fill_value=0.0)
    minutes = _elapsed_min(ops["start"], ops["end"])
    out["setup_min"] = minutes.where(ops["kind"] == "setup", 0.0).groupby(ops[key]).sum().reindex(out.index)
    if downtime is not None and key in downtime.columns:
        down = downtime.dropna(subset=[key])
        spans = (pd.to_datetime(down["end"], utc=True) - pd.to_datetime(down["start"], utc=True)) / _MINUTE
        out["downtime_min"] = spans.groupby(down[key]).sum().reindex(out.index, fill_value=0.0)
    chosen = [c for c in (outcomes if outcomes is not None else OUTCOMES) if c in ops.columns]
    if outcomes is not None and len(chosen) < len(outcomes):
        missing = sorted(set(outcomes) - set(chosen))
        raise SchemaError(f"outcome column(s) {', '.join(map(repr, missing))} are not in the operations table")
    for column in chosen:
        out[column] = pd.to_numeric(ops[column], errors="coerce").groupby(ops[key]).sum().reindex(out.index)
    return out.rename_axis("key").reset_index()


def _codes(values: pd.Series, bins: int) -> np.ndarray:
    """Integer codes: categories as they are, numbers with more than ``bins`` values in equal-frequency bins
    (``x <= cut`` goes below a cut, so a value repeated beyond a bin's share — say, zero waiting — keeps a bin of
    its own instead of swallowing its neighbours)."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype) \
            and values.nunique() > bins:
        numbers = values.to_numpy(dtype=float)
        cuts = np.unique(np.quantile(numbers, np.linspace(0, 1, bins + 1)[1:-1]))
        return np.unique(np.searchsorted(cuts, numbers, side="left"), return_inverse=True)[1].astype("int64")
    return pd.factorize(values, sort=True)[0].astype("int64")


def _mutual_information(a: np.ndarray, b: np.ndarray, na: int, nb: int) -> float:
    joint = np.bincount(a * nb + b, minlength=na * nb).reshape(na, nb) / len(a)
    pa, pb = joint.sum(axis=1, keepdims=True), joint.sum(axis=0, keepdims=True)
    nonzero = joint > 0
    return float((joint[nonzero] * np.log2(joint[nonzero] / (pa @ pb)[nonzero])).sum())


def _entropy(codes: np.ndarray) -> float:
    p = np.bincount(codes) / len(codes)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def waste_mutual_information(table: pd.DataFrame, columns: Sequence[str] | None = None, *, bins: int = 4,
                             n_permutations: int = 999, seed: int | None = 0) -> pd.DataFrame:
    """Mutual information between waste indicators, pair by pair, with a permutation-test p-value.

    Numeric columns with more than ``bins`` distinct values are cut into ``bins`` equal-frequency bins (ties
    kept together, so a column with many zeros gets fewer bins); other columns are used as categories. For each
    pair, the plug-in mutual information (bits) of the two codings is compared with its value after shuffling one
    column ``n_permutations`` times: ``p_value = (1 + #{shuffled >= observed}) / (1 + n_permutations)``. Shuffling
    keeps both distributions and breaks only their link, so the test is exact for any sample size and binning.

    Parameters
    ----------
    table : DataFrame
        One row per order, unit or period (e.g. from :func:`waste_indicators`).
    columns : sequence of str, optional
        The indicators (default: every numeric column); all pairs are tested.
    bins : int, default=4
    n_permutations : int, default=999
    seed : int or None, default=0

    Returns
    -------
    DataFrame
        ``x, y, n, mi_bits, mi_null_bits`` (mean under shuffling: the bias of the plug-in estimate),
        ``nmi`` (mutual information over the smaller of the two entropies, 0–1), ``p_value``; strongest first.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> waiting = rng.exponential(60, 400)
    >>> table = pd.DataFrame({"waiting_min": waiting, "scrap": rng.poisson(0.5 + waiting / 60),
    ...                       "noise": rng.normal(size=400)})
    >>> result = waste_mutual_information(table, n_permutations=199)
    >>> result[["x", "y"]].iloc[0].tolist(), bool(result["p_value"].iloc[0] < 0.01)
    (['waiting_min', 'scrap'], True)
    """
    if columns is None:
        columns = [c for c in table.columns
                   if pd.api.types.is_numeric_dtype(table[c].dtype) and not pd.api.types.is_bool_dtype(table[c].dtype)]
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise SchemaError(f"column(s) {', '.join(map(repr, missing))} are not in the table "
                          f"(columns: {', '.join(map(str, table.columns))})")
    if len(columns) < 2:
        raise SchemaError("mutual information needs at least two columns")
    rng = np.random.default_rng(seed)
    rows = []
    for x, y in combinations(columns, 2):
        pair = table[[x, y]].dropna()
        if len(pair) < 2:
            continue
        a, b = _codes(pair[x], bins), _codes(pair[y], bins)
        na, nb = int(a.max()) + 1, int(b.max()) + 1
        observed = _mutual_information(a, b, na, nb)
        null = np.array([_mutual_information(a, rng.permutation(b), na, nb) for _ in range(n_permutations)])
        exceed = int((null >= observed - 1e-12).sum())
        smaller = min(_entropy(a), _entropy(b))
        rows.append({
            "x": x, "y": y, "n": len(pair), "mi_bits": observed,
            "mi_null_bits": float(null.mean()) if n_permutations else np.nan,
            "nmi": observed / smaller if smaller > 0 else 0.0,
            "p_value": (1 + exceed) / (1 + n_permutations),
        })
    out = pd.DataFrame(rows, columns=["x", "y", "n", "mi_bits", "mi_null_bits", "nmi", "p_value"])
    return out.sort_values(["p_value", "mi_bits"], ascending=[True, False], kind="stable").reset_index(drop=True)
