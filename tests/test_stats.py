"""The scipy-free statistics agree with scipy (to 1e-10 relative) and do not import it."""

import subprocess
import sys
from fractions import Fraction
from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from leanlearn.mining.stats import (
    Z_95,
    fisher_greater,
    fisher_greater_log,
    log_hypergeom_pmf,
    normal_quantile,
    wilson_interval,
)


@st.composite
def hypergeometric_cases(draw, max_rows=2_000_000):
    rows = draw(st.integers(1, max_rows))
    positives = draw(st.integers(0, rows))
    covered = draw(st.integers(0, rows))
    lo, hi = max(0, covered - (rows - positives)), min(covered, positives)
    hits = draw(st.integers(max(lo - 2, 0), hi + 2))
    return hits, covered, positives, rows


def _close(ours: float, theirs: float, rtol: float = 1e-9) -> bool:
    if theirs < 1e-290:  # scipy's denormals vs our underflow
        return ours < 1e-280
    return abs(ours - theirs) <= rtol * theirs


def _exact_sf(hits: int, covered: int, positives: int, rows: int) -> float:
    lo, hi = max(0, covered - (rows - positives)), min(covered, positives)
    total = sum(comb(positives, k) * comb(rows - positives, covered - k) for k in range(max(hits, lo), hi + 1))
    return float(Fraction(total, comb(rows, covered)))


@settings(max_examples=400, deadline=None)
@given(case=st.one_of(hypergeometric_cases(200), hypergeometric_cases(5_000), hypergeometric_cases()))
def test_fisher_greater_equals_scipy(case):
    hits, covered, positives, rows = case
    ours = float(fisher_greater(np.array([hits]), np.array([covered]), positives, rows)[0])
    theirs = float(sps.hypergeom.sf(hits - 1, rows, positives, covered))
    # scipy itself is within about 1e-10 of the exact value (e.g. (1, 6, 2, 507265)); against it 1e-9
    assert _close(ours, theirs), (case, ours, theirs)


@settings(max_examples=200, deadline=None)
@given(case=hypergeometric_cases(400))
def test_fisher_greater_equals_the_exact_rational_value(case):
    hits, covered, positives, rows = case
    ours = float(fisher_greater(np.array([hits]), np.array([covered]), positives, rows)[0])
    assert _close(ours, _exact_sf(*case), rtol=1e-11), case


@settings(max_examples=300, deadline=None)
@given(case=st.one_of(hypergeometric_cases(300), hypergeometric_cases()))
def test_point_probability_equals_scipy(case):
    hits, covered, positives, rows = case
    ours = float(np.exp(log_hypergeom_pmf(np.array([hits]), rows, positives, covered))[0])
    theirs = float(sps.hypergeom.pmf(hits, rows, positives, covered))
    assert _close(ours, theirs), (case, ours, theirs)


def test_vectorised_plant_scale_cases():
    rows, positives = 1_000_000, 52_000
    covered = np.array([10_000, 10_000, 100_000, 250_000, 999_999, 40, 1_000_000, 0])
    hits = np.array([900, 520, 5_600, 13_000, 52_000, 40, 52_000, 0])
    ours = fisher_greater(hits, covered, positives, rows)
    theirs = sps.hypergeom.sf(hits - 1, rows, positives, covered)
    assert np.allclose(ours, theirs, rtol=1e-9, atol=0)  # scipy is ~1e-10 off the exact values here
    logs = fisher_greater_log(hits, covered, positives, rows)
    informative = hits * rows > covered * positives
    assert np.allclose(logs[informative], sps.hypergeom.logsf(hits - 1, rows, positives, covered)[informative],
                       rtol=1e-9)
    assert (logs[~informative] == 0).all()


def test_exact_at_a_hundred_thousand_rows():
    for hits, covered in ((80, 1_000), (60, 1_000), (45, 1_000)):
        ours = float(fisher_greater(np.array([hits]), np.array([covered]), 5_000, 100_000)[0])
        assert ours == pytest.approx(_exact_sf(hits, covered, 5_000, 100_000), rel=1e-12)


@settings(max_examples=100, deadline=None)
@given(cases=st.lists(hypergeometric_cases(100_000), min_size=1, max_size=40))
def test_scalar_and_vector_paths_agree(cases):
    h, n, k, r = (np.array(c) for c in zip(*cases))
    together = fisher_greater(h, n, k, r)
    one_by_one = np.array([fisher_greater(h[i : i + 1], n[i : i + 1], k[i], r[i])[0] for i in range(len(h))])
    assert np.allclose(together, one_by_one, rtol=1e-12, atol=1e-300)
    logs = fisher_greater_log(h, n, k, r)
    logs_one = np.array([fisher_greater_log(h[i : i + 1], n[i : i + 1], k[i], r[i])[0] for i in range(len(h))])
    assert np.allclose(logs, logs_one, rtol=1e-12, atol=1e-12)


def test_log_p_far_below_the_float_range():
    log_p = float(fisher_greater_log(np.array([5_000]), np.array([5_000]), 20_000, 1_000_000)[0])
    assert log_p < -15_000
    assert fisher_greater(np.array([5_000]), np.array([5_000]), 20_000, 1_000_000)[0] == 0.0


def test_shapes_broadcast():
    p = fisher_greater(np.array([[3, 4], [5, 6]]), np.array([[10, 10], [10, 10]]), 20, 100)
    assert p.shape == (2, 2)
    assert fisher_greater(3, 10, 20, 100).shape == ()


@pytest.mark.parametrize("level", [0.5, 0.8, 0.9, 0.95, 0.99, 0.999])
def test_wilson_z_equals_scipy(level):
    z = normal_quantile(0.5 + level / 2)
    assert abs(z - sps.norm.ppf(0.5 + level / 2)) <= 1e-10 * z
    lo, hi = wilson_interval(np.array([0, 3, 10]), np.array([10, 10, 10]), level=level)
    assert (lo <= hi).all()


def test_z_95_is_the_normal_quantile():
    assert Z_95 == pytest.approx(sps.norm.ppf(0.975), rel=1e-15)


def test_importing_the_statistics_does_not_import_scipy():
    code = "import leanlearn.mining.stats, leanlearn.mining.engines, leanlearn.mining.bitsets, sys; " \
           "print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
