"""Significance, confidence intervals and multiple-testing corrections for class rules.

All functions are vectorised over arrays of rules.

Examples
--------
>>> import numpy as np
>>> p = fisher_greater(np.array([10]), np.array([10]), positives=20, rows=1000)
>>> bool(p[0] < 1e-15)
True
>>> lo, hi = wilson_interval(np.array([8]), np.array([10]))
>>> round(float(lo[0]), 3), round(float(hi[0]), 3)
(0.49, 0.943)
>>> holm(np.array([0.01, 0.04]), n_tests=2).round(3).tolist()
[0.02, 0.04]
"""

from __future__ import annotations

import functools
import math
from statistics import NormalDist

import numpy as np

# z of the two-sided 95 % interval (the default level): the 0.975 quantile of the standard normal
Z_95 = 1.959963984540054
_LOG_2PI = math.log(2 * math.pi)
# Stirling-series coefficients of log n! - log(sqrt(2 pi n) (n/e)^n), and the exact values for small n
_S0, _S1, _S2, _S3, _S4 = 1 / 12, 1 / 360, 1 / 1260, 1 / 1680, 1 / 1188
_SMALL_STIRLING = np.array(
    [0.0] + [math.lgamma(n + 1) - (n + 0.5) * math.log(n) + n - 0.5 * _LOG_2PI for n in range(1, 16)]
)

# Without scipy: ``import scipy.stats`` takes most of a second, on every first use of the miner. The hypergeometric
# point probability is computed in Loader's saddle-point form ("Fast and accurate computation of binomial
# probabilities", 2000): log-probabilities as sums of small, accurately computed terms (the Stirling-series error
# and the deviance ``x log(x/m) + m - x``), not as differences of huge log-factorials, so it stays accurate to
# about 1e-14 relative at a million rows. Tails are summed from there with the ratio of consecutive terms.


def _stirling_error(n: np.ndarray) -> np.ndarray:
    """``log n! - log(sqrt(2 pi n) (n/e)^n)`` for integer-valued ``n >= 0`` (0 at ``n = 0``)."""
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        nn = n * n
        series = (_S0 - (_S1 - (_S2 - (_S3 - _S4 / nn) / nn) / nn) / nn) / n
    return np.where(n < 16, _SMALL_STIRLING[np.clip(n, 0, 15).astype(np.int64)], series)


def _deviance(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``x log(x / m) + m - x``, accurate where ``x`` is close to ``m`` (series in ``(x - m) / (x + m)``)."""
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        far = np.where(x > 0, x * np.log(x / m), 0.0) + m - x
        v = (x - m) / (x + m)
        near = np.abs(v) < 0.1  # |x - m| < 0.1 (x + m)
        if not near.any():
            return far
        v = np.where(near, v, 0.0)
        v2 = v * v
        total = (x - m) * v
        term = 2 * x * v
        largest = float(v2.max())
        steps = 0 if largest == 0 else min(16, int(np.ceil(np.log(1e-17) / np.log(largest))))
        for j in range(1, steps + 1):  # |v| < 0.1: the terms shrink 100-fold at least
            term = term * v2
            total = total + term / (2 * j + 1)
    return np.where(near, total, far)


def _log_binom_raw(x: np.ndarray, n: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``log P(Binomial(n, p) = x)`` for integer-valued ``0 <= x <= n`` (``q = 1 - p`` given separately).

    All rows are evaluated in one pass: the Stirling errors of ``n, x, n - x`` and the two deviances are stacked
    into one call each (a short array pays numpy's per-call cost once, not per term).
    """
    x, n, p, q = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (x, n, p, q)))
    size = x.size
    stirling = _stirling_error(np.concatenate([n.ravel(), x.ravel(), (n - x).ravel()]))
    deviance = _deviance(np.concatenate([x.ravel(), (n - x).ravel()]),
                         np.concatenate([(n * p).ravel(), (n * q).ravel()]))
    with np.errstate(divide="ignore", invalid="ignore"):
        lc = stirling[:size] - stirling[size : 2 * size] - stirling[2 * size :] - deviance[:size] - deviance[size:]
        mid = lc.reshape(x.shape) - 0.5 * (_LOG_2PI + np.log(x) + np.log1p(-x / n))
        none = np.where(n == 0, 0.0, n * np.log1p(-p))  # x == 0: log q**n
        every = n * np.log1p(-q)  # x == n: log p**n
    return np.where(x == 0, none, np.where(x == n, every, mid))


def log_hypergeom_pmf(k: np.ndarray, rows: np.ndarray, positives: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``log P(X = k)`` for ``X ~ Hypergeometric(rows, positives, n)`` (``-inf`` outside the support).

    >>> import math, numpy as np
    >>> round(float(np.exp(log_hypergeom_pmf(np.array([2]), 10, 4, 5))[0]), 12) == round(120 / 252, 12)
    True
    """
    k, big_n, big_k, n = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (k, rows, positives, n)))
    bad = big_n - big_k
    lo, hi = np.maximum(0.0, n - bad), np.minimum(n, big_k)
    inside = (k >= lo) & (k <= hi) & (big_n > 0)
    out = np.full(k.shape, -np.inf)
    if not inside.any():
        return out
    kk, nn, gg, bb = k[inside], n[inside], big_k[inside], bad[inside]
    total = gg + bb
    p, q = nn / total, (total - nn) / total
    size = kk.size
    parts = _log_binom_raw(np.concatenate([kk, nn - kk, nn]), np.concatenate([gg, bb, total]),
                           np.tile(p, 3), np.tile(q, 3))
    out[inside] = np.minimum(parts[:size] + parts[size : 2 * size] - parts[2 * size :], 0.0)
    return out


def _tail(
    start: np.ndarray, big_n: np.ndarray, big_k: np.ndarray, n: np.ndarray, upward: bool, max_terms: int | None
) -> np.ndarray:
    """``log`` of ``sum P(X = j)`` from ``j = start`` to the end of the support (``upward``) or down to its start.

    The terms fall away from the mode on either side, so the sum stops once a term no longer changes it.
    """
    log_point = log_hypergeom_pmf(start, big_n, big_k, n)
    bad = big_n - big_k
    end = np.minimum(n, big_k) if upward else np.maximum(0.0, n - bad)
    total = np.ones_like(start)
    term = np.ones_like(start)
    j = start.copy()
    active = (j < end) if upward else (j > end)
    block = np.arange(_BLOCK, dtype=float)[None, :]
    steps = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        while active.any() and (max_terms is None or steps < max_terms):
            # the next _BLOCK terms of every active sum at once: ratios of consecutive terms, their running products
            idx = np.flatnonzero(active)
            if upward:  # ratios past the end of the support are replaced by 0 (no warning for their 0 / 0)
                jj = j[idx][:, None] + block  # term jj + 1 over term jj
                kk, nn, bb = big_k[idx][:, None], n[idx][:, None], bad[idx][:, None]
                ratio = (kk - jj) * (nn - jj) / ((jj + 1) * (bb - nn + jj + 1))
                ratio = np.where(jj < end[idx][:, None], ratio, 0.0)
                j[idx] = j[idx] + _BLOCK
            else:
                jj = j[idx][:, None] - block  # term jj - 1 over term jj
                kk, nn, bb = big_k[idx][:, None], n[idx][:, None], bad[idx][:, None]
                ratio = jj * (bb - nn + jj) / ((kk - jj + 1) * (nn - jj + 1))
                ratio = np.where(jj > end[idx][:, None], ratio, 0.0)
                j[idx] = j[idx] - _BLOCK
            terms = term[idx][:, None] * np.cumprod(ratio, axis=1)
            total[idx] = total[idx] + terms.sum(axis=1)
            term[idx] = terms[:, -1]
            still = (j[idx] < end[idx]) if upward else (j[idx] > end[idx])
            active[idx] = still & (term[idx] > 1e-17 * total[idx])
            steps += _BLOCK
    return log_point + np.log(total)


def _stirling_error_scalar(n: float) -> float:
    if n <= 15:
        return float(_SMALL_STIRLING[int(n)])
    nn = n * n
    return (_S0 - (_S1 - (_S2 - (_S3 - _S4 / nn) / nn) / nn) / nn) / n


def _deviance_scalar(x: float, m: float) -> float:
    if abs(x - m) < 0.1 * (x + m):
        v = (x - m) / (x + m)
        total = (x - m) * v
        term = 2 * x * v
        v2 = v * v
        for j in range(1, 16):
            term *= v2
            new = total + term / (2 * j + 1)
            if new == total:
                break
            total = new
        return total
    return (x * math.log(x / m) if x > 0 else 0.0) + m - x


def _log_binom_raw_scalar(x: float, n: float, p: float, q: float) -> float:
    if x == 0:
        if n == 0:
            return 0.0
        return -_deviance_scalar(n, n * q) - n * p if p < 0.1 else n * math.log(q)
    if x == n:
        return -_deviance_scalar(n, n * p) - n * q if q < 0.1 else n * math.log(p)
    lc = (
        _stirling_error_scalar(n) - _stirling_error_scalar(x) - _stirling_error_scalar(n - x)
        - _deviance_scalar(x, n * p) - _deviance_scalar(n - x, n * q)
    )
    return lc - 0.5 * (_LOG_2PI + math.log(x) + math.log1p(-x / n))


def _log_pmf_scalar(k: float, big_n: float, big_k: float, n: float) -> float:
    bad = big_n - big_k
    if big_n <= 0 or k < max(0.0, n - bad) or k > min(n, big_k):
        return -math.inf
    p, q = n / big_n, (big_n - n) / big_n
    return min(
        _log_binom_raw_scalar(k, big_k, p, q) + _log_binom_raw_scalar(n - k, bad, p, q)
        - _log_binom_raw_scalar(n, big_n, p, q),
        0.0,
    )


def _tail_scalar(start: float, big_n: float, big_k: float, n: float, upward: bool, max_terms: int | None) -> float:
    """One value of :func:`_tail`, in plain floats (a short call does not pay numpy's per-call cost)."""
    log_point = _log_pmf_scalar(start, big_n, big_k, n)
    bad = big_n - big_k
    end = min(n, big_k) if upward else max(0.0, n - bad)
    total = term = 1.0
    j, steps = start, 0
    while (j < end if upward else j > end) and (max_terms is None or steps < max_terms):
        if upward:
            term *= (big_k - j) * (n - j) / ((j + 1) * (bad - n + j + 1))
            j += 1
        else:
            term *= j * (bad - n + j) / ((big_k - j + 1) * (n - j + 1))
            j -= 1
        total += term
        steps += 1
        if term <= 1e-17 * total:
            break
    return log_point + math.log(total)


# Up to this many values, the tails are summed one value at a time in plain floats; longer arrays _BLOCK terms
# at a time.
_BLOCK = 16
_SCALAR_LIMIT = 16


def _fisher_parts(
    hits: np.ndarray, covered: np.ndarray, positives: np.ndarray | int, rows: np.ndarray | int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]:
    """The four counts as flat float arrays, and their broadcast shape."""
    h, n, big_k, big_n = np.broadcast_arrays(
        np.asarray(hits, dtype=float), np.asarray(covered, dtype=float),
        np.asarray(positives, dtype=float), np.asarray(rows, dtype=float),
    )
    return h.ravel().copy(), n.ravel().copy(), big_k.ravel().copy(), big_n.ravel().copy(), h.shape


def fisher_greater(
    hits: np.ndarray, covered: np.ndarray, positives: np.ndarray | int, rows: np.ndarray | int
) -> np.ndarray:
    """One-sided Fisher exact p-value that the outcome is over-represented among covered rows.

    ``P(X >= hits)`` for ``X ~ Hypergeometric(rows, positives, covered)``: the upper tail summed from ``hits``
    when ``hits`` exceeds the expectation, else one minus the lower tail (the sum that does not contain the bulk of
    the distribution, so no precision is lost). Equal to ``scipy.stats.hypergeom.sf(hits - 1, rows, positives,
    covered)`` to about 1e-12 relative (tests/test_stats.py).
    """
    h, n, big_k, big_n, shape = _fisher_parts(hits, covered, positives, rows)
    out = np.zeros(h.shape, dtype=float)
    lo = np.maximum(0.0, n - (big_n - big_k))
    hi = np.minimum(n, big_k)
    out[h <= lo] = 1.0
    inside = (h > lo) & (h <= hi)
    if inside.any():
        with np.errstate(invalid="ignore", divide="ignore"):
            above = inside & (h * big_n > n * big_k)
            below = inside & ~above
        if h.size <= _SCALAR_LIMIT:
            for i in np.flatnonzero(above):
                out[i] = math.exp(_tail_scalar(h[i], big_n[i], big_k[i], n[i], True, None))
            for i in np.flatnonzero(below):
                out[i] = 1.0 - math.exp(_tail_scalar(h[i] - 1, big_n[i], big_k[i], n[i], False, None))
        else:
            if above.any():
                out[above] = np.exp(_tail(h[above], big_n[above], big_k[above], n[above], True, None))
            if below.any():
                lower = np.exp(_tail(h[below] - 1, big_n[below], big_k[below], n[below], False, None))
                out[below] = 1.0 - lower
    return out.clip(0.0, 1.0).reshape(shape)


def fisher_greater_log(
    hits: np.ndarray, covered: np.ndarray, positives: np.ndarray | int, rows: np.ndarray | int, max_terms: int = 2000
) -> np.ndarray:
    """Natural log of :func:`fisher_greater` where the outcome is over-represented, else 0 — for ranking.

    Fast and vectorised: the upper tail is summed from the point probability with the ratio of consecutive
    terms, so it stays exact far below the float range (``log p = -600`` is fine) where ``p`` itself underflows.
    Where hits do not exceed their expectation the rule is no evidence at all and the result is ``0`` (p ≈ 1).

    >>> import numpy as np
    >>> a = fisher_greater_log(np.array([10, 30, 1]), np.array([12, 40, 50]), positives=60, rows=2000)
    >>> b = np.log(fisher_greater(np.array([10, 30, 1]), np.array([12, 40, 50]), positives=60, rows=2000))
    >>> bool(np.allclose(a[:2], b[:2])), float(a[2])
    (True, 0.0)
    """
    h, n, big_k, big_n, shape = _fisher_parts(hits, covered, positives, rows)
    return _fisher_greater_log_flat(h, n, big_k, big_n, max_terms, h.size <= _SCALAR_LIMIT).reshape(shape)


def fisher_min_hits(positives: int, rows: int, p_max: float) -> int:
    """Fewest hits with which a rule could reach a one-sided Fisher p-value of at most ``p_max``: the optimistic
    estimate of a search (``positives + 1`` when no rule can).

    A rule with ``h`` hits is at its strongest when it covers no other row: ``p = P(X = h)`` for ``X ~
    Hypergeometric(rows, positives, h)``, and that only shrinks as ``h`` grows. So an itemset with fewer hits than
    this — and every itemset that extends it, which has fewer hits still — can never be significant at ``p_max``,
    whatever else it covers. Computed with :func:`fisher_greater_log` (the values the miner tests), with a margin
    of ``1e-9`` relative that only ever lowers the answer.

    >>> fisher_min_hits(106, 284, 1e-9)   # a third of the rows positive: 20 hits at the least
    20
    >>> fisher_min_hits(115, 10_000, 1e-9)   # rare outcome: 5 hits can be enough
    5
    >>> fisher_min_hits(10, 100, 1e-30)   # no rule on 100 rows reaches 1e-30
    11
    """
    positives, rows = int(positives), int(rows)
    if not 0 < positives < rows:
        return positives + 1 if positives <= 0 else 1
    if p_max >= 1.0:
        return 1
    if p_max <= 0.0:
        return positives + 1
    bound = math.log(p_max)
    bound += 1e-9 * abs(bound)

    def reaches(h: int) -> bool:
        return float(fisher_greater_log(np.array([h]), np.array([h]), positives, rows)[0]) <= bound

    if not reaches(positives):
        return positives + 1
    lo, hi = 1, positives  # reaches(hi) holds; find the first h that does
    while lo < hi:
        mid = (lo + hi) // 2
        if reaches(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _fisher_greater_log_flat(
    h: np.ndarray, n: np.ndarray, big_k: np.ndarray, big_n: np.ndarray, max_terms: int, scalar: bool
) -> np.ndarray:
    """:func:`fisher_greater_log` of flat float arrays, on the path given (``scalar``: one value at a time).

    Each value depends only on its own counts and the path (the two paths can differ in the last bits), so a
    caller that scores a subset of a larger array gets the values the whole array would have had by passing the
    whole array's path (:func:`leanlearn.mining.features.best_threshold` scores only the cuts that can matter).
    """
    out = np.zeros(h.shape, dtype=float)
    informative = (n > 0) & (h * np.maximum(big_n, 1) > n * big_k) & (h <= np.minimum(n, big_k))
    if scalar:
        for i in np.flatnonzero(informative):
            out[i] = min(_tail_scalar(h[i], big_n[i], big_k[i], n[i], True, max_terms), 0.0)
    elif informative.any():
        logs = _tail(h[informative], big_n[informative], big_k[informative], n[informative], True, max_terms)
        out[informative] = np.minimum(logs, 0.0)
    return out


@functools.lru_cache(maxsize=2)
def _log_factorials(n: int) -> np.ndarray:
    """``log k!`` for ``k = 0..n`` (cumulative sums of logs; for bounds only, see
    :func:`fisher_greater_log_bounds`)."""
    out = np.zeros(n + 1)
    np.cumsum(np.log(np.arange(1, n + 1, dtype=float)), out=out[1:])
    return out


def fisher_greater_log_bounds(
    hits: np.ndarray, covered: np.ndarray, positives: np.ndarray | int, rows: np.ndarray | int
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds ``lower <= fisher_greater_log(hits, covered, positives, rows) <= upper``, elementwise, cheaply (flat).

    The log of the upper tail ``P(X >= h)`` is at least that of its first term, the point probability
    ``P(X = h)``, and — the terms falling at least by the ratio ``r`` of the second to the first — at most that
    plus ``-log(1 - r)`` (``0`` where ``r >= 1``). The point probability is taken from a table of log-factorials,
    with a margin far wider than the rounding of the table (``rows`` sums of logs) and of the exact computation.
    Where the rule is no evidence (hits not above their expectation) the exact value is 0, and so are both bounds;
    counts outside the distribution's support get ``(-inf, 0)``.

    >>> import numpy as np
    >>> h, n = np.array([10, 30, 1]), np.array([12, 40, 50])
    >>> lower, upper = fisher_greater_log_bounds(h, n, 60, 2000)
    >>> exact = fisher_greater_log(h, n, 60, 2000)
    >>> bool(((lower <= exact) & (exact <= upper)).all()), float(upper[2])
    (True, 0.0)
    """
    h = np.asarray(hits).astype(np.int64).ravel()
    n = np.asarray(covered).astype(np.int64).ravel()
    lower, upper = np.zeros(h.size), np.zeros(h.size)
    big_k: int | np.ndarray
    big_n: int | np.ndarray
    bad: int | np.ndarray
    if np.ndim(positives) == 0 and np.ndim(rows) == 0:  # one table for all (a column's cuts): plain integers
        big_k, big_n = int(np.asarray(positives)), int(np.asarray(rows))
        bad = big_n - big_k
        informative = (n > 0) & (h * max(big_n, 1) > n * big_k) & (h <= np.minimum(n, big_k))
        outside = informative & ((n > big_n) | (n - h > bad) | (big_k < 0) | (bad < 0))
    else:
        big_k = np.broadcast_to(np.asarray(positives).astype(np.int64).ravel(), h.shape)
        big_n = np.broadcast_to(np.asarray(rows).astype(np.int64).ravel(), h.shape)
        bad = big_n - big_k
        informative = (n > 0) & (h * np.maximum(big_n, 1) > n * big_k) & (h <= np.minimum(n, big_k))
        outside = informative & ((n > big_n) | (n - h > bad) | (big_k < 0) | (bad < 0))
    if outside.any():
        lower[outside] = -np.inf
        informative &= ~outside
    if not informative.any():
        return lower, upper
    if isinstance(big_n, int):
        h, n = h[informative], n[informative]
        most = big_n
    else:
        h, n = h[informative], n[informative]
        big_k, big_n, bad = np.asarray(big_k)[informative], np.asarray(big_n)[informative], np.asarray(bad)[informative]
        most = int(big_n.max())
    lf = _log_factorials(most)
    log_point = ((lf[big_k] + lf[bad] - lf[big_n]) + (lf[n] + lf[big_n - n])
                 - ((lf[h] + lf[big_k - h]) + (lf[n - h] + lf[bad - n + h])))
    margin = 64.0 * (most + 16) * 2.3e-16 * float(lf[most]) + 1e-9 * np.abs(log_point) + 1e-9
    hf, nf = h.astype(float), n.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (big_k - hf) * (nf - hf) / ((hf + 1) * (bad - nf + hf + 1))
        spread = np.where(ratio < 1, -np.log1p(-ratio), np.inf)
    lower[informative] = np.minimum(log_point - margin, 0.0)
    upper[informative] = np.minimum(log_point + margin + spread, 0.0)
    return lower, upper


def fisher_greater_log_exceeds(
    hits: np.ndarray, covered: np.ndarray, positives: np.ndarray | int, rows: np.ndarray | int, threshold: float,
    max_terms: int = 2000,
) -> np.ndarray:
    """``fisher_greater_log(hits, covered, positives, rows, max_terms) > threshold``, the same answer, summing a
    tail only where :func:`fisher_greater_log_bounds` leave the answer open (on the whole array's path, so the
    values compared are those :func:`fisher_greater_log` computes).

    >>> import numpy as np
    >>> h, n = np.array([10, 30, 1]), np.array([12, 40, 50])
    >>> fisher_greater_log_exceeds(h, n, 60, 2000, -20.0).tolist()
    [False, False, True]
    >>> (fisher_greater_log(h, n, 60, 2000) > -20.0).tolist()
    [False, False, True]
    """
    h, n, big_k, big_n, shape = _fisher_parts(hits, covered, positives, rows)
    lower, upper = fisher_greater_log_bounds(h, n, big_k, big_n)
    out = lower > threshold
    open_ = np.flatnonzero(~out & (upper > threshold))
    if open_.size:
        exact = _fisher_greater_log_flat(h[open_], n[open_], big_k[open_], big_n[open_], max_terms,
                                         h.size <= _SCALAR_LIMIT)
        out[open_] = exact > threshold
    return out.reshape(shape)


def fisher_greater_log_top(
    hits: np.ndarray, covered: np.ndarray, positives: np.ndarray | int, rows: np.ndarray | int, k: int,
    keep: np.ndarray | None = None, max_terms: int = 2000,
) -> np.ndarray:
    """:func:`fisher_greater_log` wherever the value can be among the ``k`` smallest of the ``keep`` entries, ``0``
    elsewhere (and outside ``keep``): for ranking, only the tails that can make the first ``k`` are summed.

    An entry whose lower bound (:func:`fisher_greater_log_bounds`) exceeds the ``k``-th smallest upper bound is
    worse than ``k`` others whatever its value. The values given are those of the whole array's path, so the ``k``
    smallest, and their order, are the same as from :func:`fisher_greater_log`.

    >>> import numpy as np
    >>> h, n = np.array([10, 30, 1, 12]), np.array([12, 40, 50, 13])
    >>> top = fisher_greater_log_top(h, n, 60, 2000, k=1)
    >>> int(np.argmin(top)) == int(np.argmin(fisher_greater_log(h, n, 60, 2000))), int((top < 0).sum())
    (True, 1)
    """
    h, n, big_k, big_n, shape = _fisher_parts(hits, covered, positives, rows)
    wanted = np.ones(h.size, dtype=bool) if keep is None else np.asarray(keep, dtype=bool).ravel().copy()
    out = np.zeros(h.size, dtype=float)
    if k <= 0 or not wanted.any():
        return out.reshape(shape)
    if int(wanted.sum()) > k:
        lower, upper = fisher_greater_log_bounds(h, n, big_k, big_n)
        kth = float(np.partition(upper[wanted], k - 1)[k - 1])
        wanted &= lower <= kth
    at = np.flatnonzero(wanted)
    out[at] = _fisher_greater_log_flat(h[at], n[at], big_k[at], big_n[at], max_terms, h.size <= _SCALAR_LIMIT)
    return out.reshape(shape)


def normal_quantile(q: float) -> float:
    """Quantile of the standard normal distribution (``Z_95`` exactly at 0.975).

    >>> normal_quantile(0.975), round(normal_quantile(0.95), 6)
    (1.959963984540054, 1.644854)
    """
    if q == 0.975:
        return Z_95
    return NormalDist().inv_cdf(q)


def wilson_interval(hits: np.ndarray, n: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion ``hits / n`` (well-behaved at 0 %, 100 % and small n)."""
    hits = np.asarray(hits, dtype=float)
    n = np.asarray(n, dtype=float)
    z = normal_quantile(0.5 + level / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, hits / n, 0.0)
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    lo = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), 0.0)
    hi = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), 1.0)
    return lo, hi


def holm(p_values: np.ndarray, n_tests: int | None = None) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error), counting ``n_tests`` hypotheses in all.

    ``n_tests`` may exceed ``len(p_values)``: the search evaluated more candidates than it kept, and every
    one of them counts.
    """
    p = np.asarray(p_values, dtype=float)
    m = max(int(n_tests or 0), p.size)
    if p.size == 0:
        return p
    order = np.argsort(p, kind="stable")
    factors = m - np.arange(p.size)
    adjusted = np.maximum.accumulate(np.minimum(p[order] * factors, 1.0))
    out = np.empty_like(p)
    out[order] = adjusted
    return out


def benjamini_hochberg(p_values: np.ndarray, n_tests: int | None = None) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (false discovery rate), counting ``n_tests`` hypotheses in all."""
    p = np.asarray(p_values, dtype=float)
    m = max(int(n_tests or 0), p.size)
    if p.size == 0:
        return p
    order = np.argsort(p, kind="stable")
    ranks = np.arange(1, p.size + 1)
    scaled = p[order] * m / ranks
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1].clip(max=1.0)
    out = np.empty_like(p)
    out[order] = adjusted
    return out


def adjust(p_values: np.ndarray, n_tests: int, method: str) -> np.ndarray:
    """Adjust with ``method`` in ``{"holm", "bh", "none"}``."""
    if method == "holm":
        return holm(p_values, n_tests)
    if method == "bh":
        return benjamini_hochberg(p_values, n_tests)
    if method == "none":
        return np.asarray(p_values, dtype=float)
    raise ValueError(f"unknown correction {method!r}")
