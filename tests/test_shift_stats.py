"""ShiftMinerCore's Mann–Whitney test without SciPy gives SciPy's asymptotic p-value and statistic."""

import numpy as np
import pytest

from leanlearn.mining.shift import _greater_p

stats = pytest.importorskip("scipy.stats")


@pytest.mark.parametrize("seed", range(6))
def test_mann_whitney_is_scipy_asymptotic(seed):
    rng = np.random.default_rng(seed)
    for _ in range(200):
        n1, n2 = int(rng.integers(1, 60)), int(rng.integers(1, 400))
        levels = int(rng.choice([2, 5, 30, 10_000]))  # heavy ties to none
        a = rng.integers(0, levels, n1) + float(rng.choice([0, 1, 3]))
        b = rng.integers(0, levels, n2).astype(float)
        expected = stats.mannwhitneyu(a, b, alternative="greater", method="asymptotic")
        p, delta = _greater_p(a, b)
        assert p == pytest.approx(float(expected.pvalue), rel=1e-9, abs=1e-300)
        assert delta == pytest.approx(2.0 * float(expected.statistic) / (n1 * n2) - 1.0, rel=1e-12, abs=1e-15)


def test_every_value_equal_is_no_evidence():
    assert _greater_p(np.full(5, 3.0), np.full(8, 3.0)) == (1.0, 0.0)
    assert _greater_p(np.array([]), np.array([1.0])) == (1.0, 0.0)
