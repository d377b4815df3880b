"""The shortcuts of threshold refinement answer exactly as the plain computations they stand in for.

`fisher_greater_log_bounds` must bracket `fisher_greater_log`; `fisher_greater_log_exceeds` and
`fisher_greater_log_top` must give the same answers and the same k best as comparing and sorting
`fisher_greater_log` itself; `_cut_digits` must count the digits of `nice_cut` for every gap.
"""

from __future__ import annotations

import numpy as np
import pytest

from leanlearn.mining.features import _cut_digits, _nice_cut, _significant_digits
from leanlearn.mining.stats import (
    fisher_greater_log,
    fisher_greater_log_bounds,
    fisher_greater_log_exceeds,
    fisher_greater_log_top,
)


def _tables(seed: int, size: int = 400) -> tuple[np.ndarray, np.ndarray, int, int]:
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(20, 200_000))
    positives = int(rng.integers(1, rows))
    covered = rng.integers(1, rows + 1, size)
    low = np.maximum(0, covered - (rows - positives))
    high = np.minimum(covered, positives)
    hits = low + (rng.random(size) * (high - low + 1)).astype(np.int64)
    return hits, covered, positives, rows


@pytest.mark.parametrize("seed", range(12))
def test_bounds_bracket_the_exact_log_tail(seed: int) -> None:
    hits, covered, positives, rows = _tables(seed)
    exact = fisher_greater_log(hits, covered, positives, rows)
    lower, upper = fisher_greater_log_bounds(hits, covered, positives, rows)
    assert np.all(lower <= exact + 1e-9) and np.all(exact <= upper + 1e-9)


@pytest.mark.parametrize("seed", range(12))
def test_exceeds_answers_as_the_comparison(seed: int) -> None:
    hits, covered, positives, rows = _tables(seed)
    exact = fisher_greater_log(hits, covered, positives, rows)
    for threshold in (-0.5, -5.0, float(np.median(exact)), float(exact.min()), -300.0):
        assert np.array_equal(fisher_greater_log_exceeds(hits, covered, positives, rows, threshold),
                              exact > threshold)


@pytest.mark.parametrize("seed", range(12))
def test_top_keeps_the_k_best_in_the_same_order(seed: int) -> None:
    hits, covered, positives, rows = _tables(seed)
    exact = fisher_greater_log(hits, covered, positives, rows)
    keep = np.random.default_rng(seed).random(hits.size) < 0.7
    for k in (1, 5, 50, 1000):
        top = fisher_greater_log_top(hits, covered, positives, rows, k, keep=keep)
        best = np.flatnonzero(keep)[np.argsort(exact[keep], kind="stable")][:k]
        best = best[exact[best] < 0]
        assert np.array_equal(top[best], exact[best])
        order = np.argsort(np.where(keep, top, 0.0), kind="stable")[: best.size]
        assert np.array_equal(np.sort(exact[order]), np.sort(exact[best]))


@pytest.mark.parametrize("seed", range(6))
def test_cut_digits_count_the_digits_of_nice_cut(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scale = 10.0 ** rng.integers(-6, 9, 3000)
    lo = np.round(rng.normal(0, 1, 3000) * scale, int(rng.integers(0, 6)))
    hi = lo + np.abs(rng.normal(0, 1, 3000)) * scale * rng.choice([1e-6, 1e-3, 0.1, 1.0], 3000)
    hi = np.where(hi > lo, hi, np.nextafter(lo, np.inf))
    expected = [_significant_digits(_nice_cut(a, b)) for a, b in zip(lo.tolist(), hi.tolist())]
    assert _cut_digits(lo, hi).tolist() == expected
