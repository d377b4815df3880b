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

import numpy as np
from scipy import special, stats


def fisher_greater(hits: np.ndarray, covered: np.ndarray, positives: int, rows: int) -> np.ndarray:
    """One-sided Fisher exact p-value that the outcome is over-represented among covered rows.

    ``P(X >= hits)`` for ``X ~ Hypergeometric(rows, positives, covered)``.
    """
    hits = np.asarray(hits, dtype=np.int64)
    covered = np.asarray(covered, dtype=np.int64)
    return np.asarray(stats.hypergeom.sf(hits - 1, rows, positives, covered), dtype=float).clip(0.0, 1.0)


def _log_hypergeom_pmf(k: np.ndarray, rows: np.ndarray, positives: np.ndarray, n: np.ndarray) -> np.ndarray:
    g = special.gammaln
    return (
        g(positives + 1) - g(k + 1) - g(positives - k + 1)
        + g(rows - positives + 1) - g(n - k + 1) - g(rows - positives - n + k + 1)
        - (g(rows + 1) - g(n + 1) - g(rows - n + 1))
    )


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
    h, n, big_k, big_n = np.broadcast_arrays(
        np.asarray(hits, dtype=float), np.asarray(covered, dtype=float),
        np.asarray(positives, dtype=float), np.asarray(rows, dtype=float),
    )
    out = np.zeros(h.shape, dtype=float)
    informative = (n > 0) & (h * np.maximum(big_n, 1) > n * big_k) & (h <= np.minimum(n, big_k))
    if not informative.any():
        return out
    k = h[informative].copy()
    nn, kk, rr = n[informative], big_k[informative], big_n[informative]
    log_point = _log_hypergeom_pmf(k, rr, kk, nn)
    top = np.minimum(nn, kk)
    total = np.ones_like(k)
    term = np.ones_like(k)
    active = k < top
    for _ in range(max_terms):
        if not active.any():
            break
        ratio = np.where(active, (kk - k) * (nn - k) / ((k + 1) * (rr - kk - nn + k + 1)), 0.0)
        term = term * ratio
        total = total + term
        k = k + 1
        active = active & (k < top) & (term > 1e-17 * total)
    out[informative] = np.minimum(log_point + np.log(total), 0.0)
    return out


def wilson_interval(hits: np.ndarray, n: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion ``hits / n`` (well-behaved at 0 %, 100 % and small n)."""
    hits = np.asarray(hits, dtype=float)
    n = np.asarray(n, dtype=float)
    z = stats.norm.ppf(0.5 + level / 2)
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
