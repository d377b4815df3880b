"""From a table of process data to boolean items the itemset engines can mine.

Numeric columns are cut at points chosen *against the outcome* (Fayyad–Irani MDLP on the class entropy), and each
cut point ``c`` becomes two one-sided items, ``x < c`` and ``x >= c``; two of them make an interval. A cut point is
the *roundest* number between the two neighbouring observed values (``8.6``, ``1380``), so a rule states a real
threshold at the data's resolution, never a bin edge like ``1379.5``. Columns in which MDLP finds no cut still get
quartile cuts, so that they can take part in interactions; the miner later refines every threshold of a rule given
its other conditions. Categorical columns become ``x == level`` items.

Boolean columns (``bool`` dtype, and numeric columns whose only values are 0 and 1) give the item ``x == True``
(the state the column names: ``coolant_low``, ``maintenance_due``), and ``x == False`` only where False is the
minority over all rows. Why not both always: the two levels are complements, so they split the rows the same way,
while two items per flag allow up to ``2**k`` times as many ``k``-condition candidates (161,976 instead of 5,283 on a
million rows × 60 flags at 1 % support), all counted as tests, so the correction grows about 30× stricter and misses
real findings. Why True always: a mechanism ``a ∧ b ∧ c`` needs each flag's set state even where that state covers
most rows (a flag set on 55 % of the rows is still a condition of the mechanism). Why False where it is the
minority: a level covering a share ``s`` of the rows has lift at most ``1 / s``, so a rare "not set" state can be a
finding of its own (``coolant_ok == False``), while the majority "not set" state can never reach a lift of 2. The
choice looks at the column only, never at the outcome, or it would be a test that is not counted (selection bias).
A two-valued text column keeps both levels (neither is the natural "set" state), and so does a boolean column with
missing values, where ``x == False`` is no longer the complement of ``x == True``.

Examples
--------
>>> import numpy as np, pandas as pd
>>> x = pd.DataFrame({"temp_diff": np.round(np.linspace(7, 12, 1000), 3)})
>>> y = (x["temp_diff"] < 8.6).to_numpy()
>>> Itemizer().fit(x, y).cuts_["temp_diff"]
[8.6]
>>> nice_cut(1379.0, 1381.0), nice_cut(8.5, 8.6), nice_cut(10998.2, 11001.5)
(1380.0, 8.6, 11000.0)
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from leanlearn.mining.bitsets import PackedItems
from leanlearn.mining.rules import Condition


def nice_cut(lo: float, hi: float) -> float:
    """The roundest number ``c`` with ``lo < c <= hi`` (fewest significant digits; ties: the largest).

    ``x < c`` then keeps every value up to ``lo`` and excludes ``hi`` — the same split of the data as any cut in
    the gap, written the way an engineer would write it. The arithmetic stays finite near the float maximum, and
    an infinite bound is read as the largest finite float, so the cut is always a finite number. Results are
    memoised (threshold refinement asks for the same gaps again and again).

    >>> nice_cut(-1.7e308, 1.7e308), nice_cut(1.7e308, float("inf")), nice_cut(5.0, 6.0)
    (0.0, 1.79e+308, 6.0)
    """
    return _nice_cut(float(lo), float(hi))


@functools.lru_cache(maxsize=1 << 16)
def _nice_cut(lo: float, hi: float) -> float:
    if math.isnan(lo) or math.isnan(hi) or not hi > lo:
        return hi
    biggest = sys.float_info.max
    lo, hi = max(lo, -biggest), min(hi, biggest)
    if not hi > lo:
        return hi
    if lo < 0 <= hi:
        return 0.0
    magnitude = max(abs(lo), abs(hi))
    top = math.floor(math.log10(magnitude)) + 1 if magnitude > 0 else 0
    for exponent in range(min(top, 308), top - 17, -1):
        step = 10.0**exponent
        if step == 0.0:
            break
        digits = max(0, -exponent)
        c = round(math.floor(hi / step + 1e-9) * step, digits)
        if math.isfinite(c) and lo < c <= hi:
            return float(c)
    return hi


@dataclass(frozen=True, slots=True)
class SortedValues:
    """A numeric column prepared once for many threshold searches: its values and their ascending order (equal
    values in any order: the counts at the boundaries between distinct values, all a search reads, are the same).

    :func:`best_threshold` counts covered rows and hits with cumulative sums along ``order`` (restricted to the rows
    a search looks at), so a column searched many times — every refinement of every candidate rule — is sorted once.

    >>> SortedValues.of([3.0, float("nan"), 1.0]).order.tolist()
    [2, 0]
    """

    values: np.ndarray  # float64, as given (NaN: missing)
    order: np.ndarray  # int64: indices of the non-missing values, ascending by value

    @classmethod
    def of(cls, values: np.ndarray | list[float]) -> SortedValues:
        values = np.asarray(values, dtype=float)
        order = np.argsort(values)  # NaN sorts last; not stable (half the time of a stable sort)
        return cls(values, order[: int(np.count_nonzero(~np.isnan(values)))])

    def mask(self, op: str, value: float) -> np.ndarray:
        """Rows with ``values < value`` (``op="<"``) or ``values >= value`` (``">="``); missing values never."""
        with np.errstate(invalid="ignore"):
            return self.values < value if op == "<" else self.values >= value


@dataclass(frozen=True, slots=True)
class Threshold:
    """The best cut found by :func:`best_threshold` (``value`` is None when there was nothing to cut)."""

    value: float | None
    score: float
    evaluated: int


def best_threshold(
    values: np.ndarray | SortedValues,
    outcome: np.ndarray,
    within: np.ndarray | None,
    op: str,
    objective: str,
    positives: int,
    min_hits: int = 1,
    round_tolerance: float = 0.0,
    tails: dict[tuple[int, int, int, int, bool], float] | None = None,
) -> Threshold:
    """Best one-sided cut of ``values`` for a binary ``outcome``, among the rows in ``within``.

    ``op`` is ``"<"`` (cover values below the cut) or ``">="``. ``objective="fisher"`` minimises the log of the
    one-sided Fisher p-value against all rows (the strongest evidence); ``"precision"`` maximises the lower 95 %
    Wilson bound of the confidence (the surest rule); ``score`` is the minimised quantity. Cuts with fewer than
    ``min_hits`` hits are not considered; among equal scores the widest cover wins. The cut is a
    :func:`nice_cut` between two neighbouring observed values. With ``round_tolerance > 0``, among the cuts whose
    score is within that tolerance of the best (relative for ``"fisher"``, absolute on the lower bound for
    ``"precision"``) the roundest is taken. ``values`` may be a :class:`SortedValues` (sorted once for many calls).
    ``tails``, a dict kept across calls (one fit's searches), remembers each Fisher tail summed, by its counts and
    path: searches of one column under different conditions meet the same counts again.
    """
    from leanlearn.mining.stats import wilson_interval

    if op not in ("<", ">="):
        raise ValueError(f"op must be '<' or '>=', got {op!r}")
    column = values if isinstance(values, SortedValues) else SortedValues.of(values)
    outcome = np.asarray(outcome, dtype=bool)
    n_rows = column.values.size
    rows = column.order if within is None else column.order[np.asarray(within, dtype=bool)[column.order]]
    ordered = column.values[rows]
    if ordered.size < 2:
        return Threshold(None, 0.0, 0)
    starts = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1  # where each distinct value but the first begins
    if not starts.size:
        return Threshold(None, 0.0, 0)
    uniq = ordered[np.concatenate(([0], starts))]
    hits_before = np.cumsum(outcome[rows], dtype=np.int64)[starts - 1]
    # cut j lies between uniq[j] and uniq[j + 1]; "<" covers uniq[..j], ">=" covers uniq[j + 1..]
    if op == "<":
        cov, hit = starts.astype(np.int64), hits_before
    else:
        cov, hit = ordered.size - starts.astype(np.int64), int(outcome[rows].sum()) - hits_before
    valid = hit >= max(1, int(min_hits))
    if objective == "fisher":
        score = (_fisher_scores(hit, cov, valid, positives, n_rows, op, round_tolerance) if tails is None else
                 _fisher_scores(hit, cov, valid, positives, n_rows, op, round_tolerance, tails))
    elif objective == "precision":
        score = np.where(valid, -wilson_interval(hit, cov)[0], np.inf)
    else:
        raise ValueError(f"objective must be 'fisher' or 'precision', got {objective!r}")
    if not np.isfinite(score).any():
        return Threshold(None, 0.0, int(cov.size))
    ties = np.flatnonzero(score == score.min())
    best = int(ties[-1] if op == "<" else ties[0])
    if round_tolerance > 0:
        # Among cuts whose score is within the tolerance of the best, prefer the one written with the fewest
        # significant digits (a shorter description, and how specification limits are set): 12000, not 11870.
        floor = score[best] * (1 - round_tolerance) if objective == "fisher" else score[best] + round_tolerance
        near = np.flatnonzero(score <= floor)
        if near.size > 1:
            digits = _cut_digits(uniq[near], uniq[near + 1])
            fewest = near[digits == digits.min()]
            best = int(fewest[np.argmin(score[fewest])])  # fewest digits, then best score, then first cut
    return Threshold(nice_cut(uniq[best], uniq[best + 1]), float(score[best]), int(cov.size))


def _fisher_scores(
    hit: np.ndarray, cov: np.ndarray, valid: np.ndarray, positives: int, n_rows: int, op: str, tolerance: float,
    tails: dict[tuple[int, int, int, int, bool], float] | None = None,
) -> np.ndarray:
    """Log Fisher p-value of every ``valid`` cut that can be the best or within ``tolerance`` of it; ``inf`` for
    the others (and for cuts that are not ``valid``).

    Cuts are visited in the order they grow (``"<"``: left to right, ``">="``: right to left). A cut that adds no
    hit to the one before it only adds covered rows without the outcome, so its p-value is no smaller: within such
    a run every score is at least the score of the run's first cut (its *head*). Only the runs whose head reaches
    the best head's score within ``tolerance`` can hold the best or a near-best cut, and only they are scored in
    full. Before any tail is summed, every cut gets cheap bounds on its log p (:func:`~leanlearn.mining.stats.
    fisher_greater_log_bounds`: the point
    probability from a table of log-factorials, below; that times the geometric bound of the tail, above), and a
    cut whose lower bound is beyond the best upper bound (within ``tolerance``) is not scored at all. The result
    equals scoring every cut wherever it matters, bit for bit: the tails scored are summed on the path
    (:func:`~leanlearn.mining.stats.fisher_greater_log`'s one-by-one or vector path) that the heads, or the rest
    of the runs, would have taken as a whole.
    """
    from leanlearn.mining.stats import _SCALAR_LIMIT, _fisher_greater_log_flat, fisher_greater_log_bounds

    score = np.full(hit.size, np.inf)
    cuts = np.flatnonzero(valid)  # contiguous: hits grow along the cuts
    if not cuts.size:
        return score
    grow = cuts if op == "<" else cuts[::-1]
    head = np.ones(grow.size, dtype=bool)
    head[1:] = hit[grow[1:]] != hit[grow[:-1]]
    heads = grow[head]
    head_lower, head_upper = fisher_greater_log_bounds(hit[heads], cov[heads], positives, n_rows)
    keep = 1 - tolerance if tolerance > 0 else 1.0
    floor_bound = float(head_upper.min()) * keep  # the best head's score is at most this within the tolerance

    def scored(where: np.ndarray, scalar: bool) -> np.ndarray:
        h, n = hit[grow[where]], cov[grow[where]]
        if tails is None:
            return _tails(h, n, scalar)
        keys = [(a, b, positives, n_rows, scalar) for a, b in zip(h.tolist(), n.tolist())]
        known = [tails.get(key) for key in keys]
        missing = [i for i, value in enumerate(known) if value is None]
        if missing:
            for i, value in zip(missing, _tails(h[missing], n[missing], scalar).tolist()):
                known[i] = tails[keys[i]] = value
        return np.array(known, dtype=float)

    def _tails(h: np.ndarray, n: np.ndarray, scalar: bool) -> np.ndarray:
        return _fisher_greater_log_flat(h.astype(float), n.astype(float), np.full(h.size, float(positives)),
                                        np.full(h.size, float(n_rows)), 2000, scalar)

    head_at = np.flatnonzero(head)
    head_score = np.full(heads.size, np.inf)
    maybe = head_lower <= floor_bound
    if maybe.any():
        head_score[maybe] = scored(head_at[maybe], heads.size <= _SCALAR_LIMIT)
    score[heads] = head_score
    best = float(head_score.min())
    floor = best * (1 - tolerance) if tolerance > 0 else best
    run = np.cumsum(head) - 1  # index of each cut's head among the heads
    rest_at = np.flatnonzero(~head & (head_score[run] <= floor))
    if rest_at.size:
        maybe = fisher_greater_log_bounds(hit[grow[rest_at]], cov[grow[rest_at]], positives, n_rows)[0] <= floor
        if maybe.any():
            score[grow[rest_at[maybe]]] = scored(rest_at[maybe], rest_at.size <= _SCALAR_LIMIT)
    return score


# 10.0 ** e for the exponents _nice_cut can try (Python's own powers: the same floats as the scalar loop)
_POWERS_FROM = -330
_POWERS = np.array([10.0**e for e in range(_POWERS_FROM, 309)])
_DECADES = np.array([10**j for j in range(16)], dtype=np.int64)
_FEW_GAPS = 16


def _cut_digits(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Significant digits of ``nice_cut(lo[i], hi[i])`` for every gap at once (the roundest-cut choice).

    :func:`_nice_cut`'s loop over exponents, run on arrays: at each exponent, the multiple of the step at or
    below ``hi`` (the same float operations; below 1 the coefficient divided by the exact power of ten, which is
    what the scalar's ``round`` to the step's decimals returns) and whether it lies in the gap; the digits are
    those of that multiple's integer coefficient. A gap where the array form could disagree with the scalar one —
    a magnitude near a power of ten, a coefficient of 16 or more digits, an exponent beyond exact powers of ten,
    no multiple found, or bounds that are not finite — is left to the scalar functions.

    >>> lo, hi = np.array([1379.0, 8.5, -2.0, 10998.2, 0.1]), np.array([1381.0, 8.6, 3.0, 11001.5, 0.1 + 1e-15])
    >>> _cut_digits(lo, hi).tolist() == [_significant_digits(_nice_cut(a, b)) for a, b in zip(lo, hi)]
    True
    """
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    if lo.size <= _FEW_GAPS:  # a few gaps: the memoised scalar functions cost less than the array steps
        return np.array([_significant_digits(_nice_cut(a, b)) for a, b in zip(lo.tolist(), hi.tolist())],
                        dtype=np.int64)
    digits = np.ones(lo.size, dtype=np.int64)  # a gap around zero: the cut 0 (one digit)
    with np.errstate(all="ignore"):
        magnitude = np.maximum(np.abs(lo), np.abs(hi))
        unsure = ~(np.isfinite(lo) & np.isfinite(hi) & (hi > lo)) | (magnitude > 1e300) | (magnitude < 1e-280)
        todo = np.flatnonzero(~unsure & ~((lo < 0) & (hi >= 0)))
        if todo.size:
            a, b, mag = lo[todo], hi[todo], magnitude[todo]
            log = np.log10(mag)
            top = np.floor(log).astype(np.int64) + 1
            doubt = np.abs(log - np.round(log)) < 1e-9  # the scalar's floor(log10) may fall the other side
            coefficient = np.zeros(todo.size)
            exponent = np.zeros(todo.size, dtype=np.int64)
            open_ = ~doubt
            for k in range(17):
                if not open_.any():
                    break
                power = top - k
                step = _POWERS[power - _POWERS_FROM]
                m = np.floor(b / step + 1e-9)
                # the scalar's round(m * step, -power) below 1: m / 10**-power, the float nearest the decimal
                # (exact operands, one correctly rounded division) while m and the power stay exact
                below = power < 0
                c = np.where(below, m / _POWERS[np.clip(-power, 0, 22) - _POWERS_FROM], m * step)
                lost = open_ & below & ((power < -22) | (np.abs(m) >= 1e15))
                doubt |= lost
                found = open_ & ~lost & (a < c) & (c <= b)
                coefficient[found], exponent[found] = m[found], power[found]
                open_ &= ~(found | lost)
            doubt |= open_ | (exponent > 22) | (np.abs(coefficient) >= 1e15)
            whole = np.where(doubt, 1, np.abs(coefficient)).astype(np.int64)
            for _ in range(17):  # trailing zeros are not significant
                ten = (whole % 10 == 0) & (whole > 0)
                if not ten.any():
                    break
                whole = np.where(ten, whole // 10, whole)
            digits[todo] = np.searchsorted(_DECADES, whole, side="right")  # 1..9: 1, 10..99: 2, ...
            unsure[todo[doubt]] = True
    for i in np.flatnonzero(unsure):
        digits[i] = _significant_digits(_nice_cut(float(lo[i]), float(hi[i])))
    return digits


@functools.lru_cache(maxsize=1 << 16)
def _significant_digits(value: float) -> int:
    text = np.format_float_positional(abs(float(value)), trim="-").replace(".", "").lstrip("0").rstrip("0")
    return max(len(text), 1)


def _entropy(pos: np.ndarray, total: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(total > 0, pos / total, 0.0)
        q = 1.0 - p
        h = -(np.where(p > 0, p * np.log2(p), 0.0) + np.where(q > 0, q * np.log2(q), 0.0))
    return h


def mdlp_cuts(values: np.ndarray, y: np.ndarray, max_cuts: int = 8) -> list[float]:
    """Fayyad–Irani MDLP cut points of ``values`` for a binary outcome ``y`` (missing values ignored).

    Returns the accepted cut points, each a :func:`nice_cut` between two neighbouring observed values.
    """
    values = np.asarray(values, dtype=float)
    y = np.asarray(y, dtype=bool)
    ok = ~np.isnan(values)
    values, y = values[ok], y[ok]
    if values.size < 4:
        return []
    uniq, inverse = np.unique(values, return_inverse=True)
    if uniq.size < 2:
        return []
    totals = np.bincount(inverse, minlength=uniq.size).astype(float)
    positives = np.bincount(inverse, weights=y.astype(float), minlength=uniq.size)
    cut_index: list[int] = []

    def split(a: int, b: int) -> None:  # unique-value slice [a, b)
        if len(cut_index) >= max_cuts or b - a < 2:
            return
        tot = totals[a:b]
        pos = positives[a:b]
        n = tot.sum()
        k_pos = pos.sum()
        if k_pos == 0 or k_pos == n:
            return
        left_n = np.cumsum(tot)[:-1]
        left_p = np.cumsum(pos)[:-1]
        right_n = n - left_n
        right_p = k_pos - left_p
        ent = _entropy(np.array([k_pos]), np.array([n]))[0]
        weighted = (left_n * _entropy(left_p, left_n) + right_n * _entropy(right_p, right_n)) / n
        best = int(np.argmin(weighted))
        gain = ent - weighted[best]
        e1 = _entropy(np.array([left_p[best]]), np.array([left_n[best]]))[0]
        e2 = _entropy(np.array([right_p[best]]), np.array([right_n[best]]))[0]
        k = 2
        k1 = int(0 < left_p[best] < left_n[best]) + 1
        k2 = int(0 < right_p[best] < right_n[best]) + 1
        delta = math.log2(3**k - 2) - (k * ent - k1 * e1 - k2 * e2)
        if gain <= (math.log2(n - 1) + delta) / n:
            return
        cut = a + best  # cut after unique value index `cut`
        cut_index.append(cut)
        split(a, cut + 1)
        split(cut + 1, b)

    split(0, uniq.size)
    return sorted({nice_cut(uniq[i], uniq[i + 1]) for i in cut_index})


def quantile_cuts(values: np.ndarray, quantiles: tuple[float, ...] = (0.25, 0.5, 0.75)) -> list[float]:
    """Cut points near the given quantiles, each snapped to a :func:`nice_cut` between observed values."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    uniq = np.unique(values)
    if uniq.size < 2:
        return []
    cuts = set()
    for q in quantiles:
        v = np.quantile(values, q)
        j = int(np.searchsorted(uniq, v, side="right"))  # first unique value > v
        j = min(max(j, 1), uniq.size - 1)
        cuts.add(nice_cut(uniq[j - 1], uniq[j]))
    return sorted(cuts)


def _unsupported_kind(series: pd.Series) -> str | None:
    """Why a column cannot become items, or None: durations and complex numbers have no threshold to state."""
    if pd.api.types.is_timedelta64_dtype(series.dtype):
        return "durations (timedelta): convert them to a number of minutes or seconds first"
    if pd.api.types.is_complex_dtype(series.dtype):
        return "complex numbers: derive a real quantity (e.g. the magnitude) first"
    return None


def is_categorical(series: pd.Series, max_levels: int) -> bool:
    """Treat text, category and bool columns, and numeric columns with at most two values, as categorical."""
    if isinstance(series.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(series.dtype):
        return True
    if not pd.api.types.is_numeric_dtype(series.dtype):
        return True
    return series.nunique(dropna=True) <= 2 and max_levels >= 2


def _is_flag(series: pd.Series) -> bool:
    """A boolean column, or a numeric one whose only values are 0 and 1, without missing values."""
    if series.isna().any():
        return False
    if pd.api.types.is_bool_dtype(series.dtype):
        return True
    if isinstance(series.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(series.dtype):
        return False
    return set(pd.unique(series).tolist()) <= {0, 1}


def _flag_items(n_true: int, n_false: int) -> list[bool]:
    """The levels of a flag that become items: True (the set state) always, False only as the strict minority."""
    return [True, False] if n_false < n_true else [True]


@dataclass
class Itemizer:
    """Turn columns into boolean items, with cut points chosen against a binary outcome.

    Parameters
    ----------
    max_cuts : int, default=6
        Most MDLP cut points per numeric column.
    fallback_quantiles : tuple of float, default=(0.5,)
        Quantile cuts for numeric columns in which MDLP finds none (so they can still join interactions).
    max_levels : int, default=30
        Categorical columns with more distinct values than this are skipped (identifiers, free text).
    min_count : int, default=1
        Smallest number of rows an item must cover to be kept.
    one_item_per_flag : bool, default=True
        A boolean (or 0/1) column without missing values gives the item ``x == True``, and ``x == False`` only
        where False is the minority (see the module docstring); ``False`` gives both levels, as for any
        categorical column.

    Attributes
    ----------
    cuts_ : dict[str, list[float]]
        Cut points per numeric column.
    levels_ : dict[str, list]
        Levels per categorical column.
    items_ : list[Condition]
        The items, in column order.
    skipped_ : dict[str, str]
        Columns not turned into items, with the reason.
    """

    max_cuts: int = 6
    fallback_quantiles: tuple[float, ...] = (0.5,)
    max_levels: int = 30
    min_count: int = 1
    one_item_per_flag: bool = True

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> Itemizer:
        y = np.asarray(y, dtype=bool)
        self.cuts_: dict[str, list[float]] = {}
        self.levels_: dict[str, list] = {}
        self.skipped_: dict[str, str] = {}
        items: list[Condition] = []
        for column in X.columns:
            series = X[column]
            name = str(column)
            if series.dtype == np.bool_:  # plain bool (no missing values): counted, not hashed
                flag_levels = self._flag_levels(series.to_numpy())
                if flag_levels is None:
                    self.skipped_[name] = "constant"
                    continue
                self.levels_[name] = list(flag_levels)
                items.extend(Condition(name, "==", lvl) for lvl in flag_levels)
                continue
            if series.notna().sum() == 0:
                self.skipped_[name] = "all values missing"
                continue
            if series.nunique(dropna=True) < 2:
                self.skipped_[name] = "constant"
                continue
            unsupported = _unsupported_kind(series)
            if unsupported:
                self.skipped_[name] = unsupported
                continue
            if is_categorical(series, self.max_levels):
                counts = series.value_counts(dropna=True)
                if len(counts) > self.max_levels:
                    self.skipped_[name] = f"{len(counts)} distinct values (more than max_levels={self.max_levels})"
                    continue
                levels = [v for v, c in counts.items() if c >= self.min_count]
                levels = sorted(levels, key=lambda v: str(v))
                if self.one_item_per_flag and _is_flag(series) and len(counts) == 2:
                    n_set = int(counts[[v for v in counts.index if bool(v)]].sum())
                    keep = _flag_items(n_set, int(counts.sum()) - n_set)
                    levels = [v for v in levels if bool(v) in keep]
                self.levels_[name] = levels
                items.extend(Condition(name, "==", lvl) for lvl in levels)
                continue
            values = series.to_numpy(dtype=float, na_value=np.nan)
            cuts = mdlp_cuts(values, y, self.max_cuts)
            if not cuts:
                cuts = quantile_cuts(values, self.fallback_quantiles)
            self.cuts_[name] = cuts
            for c in cuts:
                items.append(Condition(name, "<", c))
                items.append(Condition(name, ">=", c))
        self.items_ = items
        return self

    def _flag_levels(self, values: np.ndarray) -> list[bool] | None:
        """Items of a plain bool column (``None`` when constant): see :func:`_flag_items`, or both levels."""
        n_true = int(np.count_nonzero(values))
        n_false = values.size - n_true
        if n_true == 0 or n_false == 0:
            return None
        counts = {False: n_false, True: n_true}
        if self.one_item_per_flag:
            counts = {level: counts[level] for level in _flag_items(n_true, n_false)}
        return [level for level, count in counts.items() if count >= self.min_count]

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Boolean matrix (rows × items); :meth:`transform_packed` is the same in an eighth of the memory."""
        out = np.zeros((len(X), len(self.items_)), dtype=bool)
        for j, item in enumerate(self.items_):
            out[:, j] = item.mask(X)
        return out

    def transform_packed(self, X: pd.DataFrame) -> PackedItems:
        """The items as packed bitsets (one bit per item and row), built column by column: no rows × items copy.

        >>> import pandas as pd
        >>> X = pd.DataFrame({"valve": [True, False, False, False], "press": ["A", "B", "A", "B"]})
        >>> itemizer = Itemizer().fit(X, [1, 0, 0, 1])
        >>> [c.text for c in itemizer.items_]
        ['valve == True', 'press == A', 'press == B']
        >>> itemizer.transform_packed(X).to_bool().astype(int).tolist()
        [[1, 1, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1]]
        """
        return PackedItems.from_columns((_item_mask(item, X) for item in self.items_), n_rows=len(X))

    def transform_packed_chunks(self, chunks: Iterable[pd.DataFrame]) -> PackedItems:
        """:meth:`transform_packed` of a table given in blocks of rows (a large file read in chunks, e.g.
        ``pyarrow.parquet.ParquetFile(path).iter_batches()`` converted to pandas): only one block and the packed
        items are in memory at a time. The items (cut points, levels) are the fitted ones.

        >>> import pandas as pd
        >>> X = pd.DataFrame({"valve": [True, False, False, False, True, False]})
        >>> itemizer = Itemizer().fit(X, [1, 0, 0, 1, 1, 0])
        >>> chunked = itemizer.transform_packed_chunks([X[:4], X[4:]])
        >>> bool((chunked.bits == itemizer.transform_packed(X).bits).all())
        True
        """
        return PackedItems.concat_rows(self.transform_packed(chunk) for chunk in chunks)


def _item_mask(item: Condition, X: pd.DataFrame) -> np.ndarray:
    """The rows of ``X`` where ``item`` holds: a plain ``bool`` column's values themselves for ``== True`` (or
    their negation for ``== False``), without a pandas comparison; every other item through
    :meth:`Condition.mask <leanlearn.mining.rules.Condition.mask>`."""
    column = X[item.feature] if item.feature in X.columns else None
    if (column is not None and column.dtype == np.bool_ and item.op == "=="
            and isinstance(item.value, (bool, np.bool_))):
        values = column.to_numpy()
        return values if item.value else ~values
    return item.mask(X)
