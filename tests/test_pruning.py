"""Optimistic-estimate pruning: the search skips itemsets whose best possible evidence cannot survive the
correction (``RuleMinerCore._reachable_counts``). It must never lose a finding: the same rules as the search
without it, on small tables with a common outcome (where it prunes the most) and on rare outcomes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import hypergeom

from leanlearn.mining.engines import length_thresholds
from leanlearn.mining.layers import largest_reportable_p, layered_adjust
from leanlearn.mining.miner import RuleMinerCore
from leanlearn.mining.stats import fisher_min_hits


@pytest.mark.parametrize("seed", range(30))
def test_min_hits_is_the_first_count_whose_best_case_reaches_p(seed):
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(20, 50_000))
    positives = int(rng.integers(1, rows))
    p_max = float(10.0 ** rng.uniform(-40, -0.5))
    h = fisher_min_hits(positives, rows, p_max)
    best = lambda k: hypergeom.pmf(k, rows, positives, k)  # noqa: E731 — all k covered rows positive
    assert 1 <= h <= positives + 1
    if h <= positives:
        assert best(h) <= p_max * (1 + 1e-6)
    if h > 1:
        assert best(h - 1) > p_max * (1 - 1e-6)


@pytest.mark.parametrize("method", ["holm", "bh"])
@pytest.mark.parametrize("seed", range(20))
def test_no_rule_beyond_the_reportable_bound_is_ever_reported(method, seed):
    # the most favourable company (the other rules of the layer at p = 0) cannot carry a rule past the bound
    rng = np.random.default_rng(seed)
    layers, layer = 4, int(rng.integers(1, 5))
    tests = int(rng.integers(1, 10_000))
    most = int(rng.integers(1, 300))
    bound = largest_reportable_p(0.05, layer, tests, layers, method, most)
    company = np.zeros(most - 1)
    for factor, reported in ((1.0 - 1e-9, True), (1.0 + 1e-6, False)):
        p = np.r_[bound * factor, company]
        adjusted = layered_adjust(p, [layer] * p.size, {layer: tests}, max_length=layers, method=method)
        assert bool(adjusted[0] <= 0.05) is reported


def _unpruned(monkeypatch: pytest.MonkeyPatch) -> None:
    def floor(self, min_count, positives, n_rows, settings):
        return length_thresholds([int(c) for c in min_count.tolist()], settings.max_conditions)

    monkeypatch.setattr(RuleMinerCore, "_reachable_counts", floor)


def _table(seed: int, rows: int, rate: float) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"x{i}": rng.normal(size=rows).round(2) for i in range(6)})
    X["line"] = rng.choice(["A", "B", "C"], rows)
    X["night"] = rng.random(rows) < 0.4
    risk = rate + 0.35 * ((X["x0"] > 0.5) & X["night"]) + 0.2 * (X["line"] == "B")
    return X, pd.Series(rng.random(rows) < risk.clip(0, 1), name="scrap")


def _rules(miner: RuleMinerCore) -> list[tuple[str, int, float]]:
    return [(r.text, r.n, r.p_value) for r in miner.rules_]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("rows", "rate"), [(300, 0.3), (2000, 0.03)])
def test_pruned_search_reports_exactly_what_the_full_search_reports(seed, rows, rate, monkeypatch):
    X, y = _table(seed, rows, rate)
    pruned = RuleMinerCore(max_conditions=3).fit(X, y)
    with monkeypatch.context() as m:
        _unpruned(m)
        full = RuleMinerCore(max_conditions=3).fit(X, y)
    assert _rules(pruned) == _rules(full)
    assert pruned.n_tests_by_length_ == full.n_tests_by_length_
    assert pruned.n_candidates_ <= full.n_candidates_
    assert pruned.min_hits_by_length_ == sorted(pruned.min_hits_by_length_)


def test_pruning_cuts_the_search_where_the_outcome_is_common(monkeypatch):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({f"x{i}": rng.normal(size=300).round(2) for i in range(16)})
    y = pd.Series(rng.random(300) < 0.3 + 0.4 * (X["x0"] > 0.8), name="scrap")
    pruned = RuleMinerCore(max_conditions=3).fit(X, y)
    with monkeypatch.context() as m:
        _unpruned(m)
        full = RuleMinerCore(max_conditions=3).fit(X, y)
    assert _rules(pruned) == _rules(full)
    assert pruned.min_hits_by_length_[-1] > 5  # min_hits alone would allow 5
    assert pruned.n_candidates_ < 0.8 * full.n_candidates_  # measured: 3,344 of 4,991


def test_a_proposing_miner_is_not_pruned_by_fishers_test():
    # ShiftMinerCore's binary proxy only proposes candidates for the numeric test: Fisher's bound does not apply
    X, y = _table(1, 300, 0.3)
    assert RuleMinerCore(max_conditions=3).fit(X, y).min_hits_by_length_[-1] > 5
    proposing = RuleMinerCore(max_conditions=3)
    proposing._explore_only = True
    assert proposing.fit(X, y).min_hits_by_length_ == [5, 5, 5]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(40, 600), rate=st.floats(0.02, 0.6),
       conditions=st.integers(1, 4), correction=st.sampled_from(["holm", "bh"]), layered=st.booleans())
def test_pruning_never_changes_the_rules_on_random_tables(seed, rows, rate, conditions, correction, layered,
                                                          monkeypatch):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "a": rng.normal(size=rows).round(1), "b": rng.integers(0, 5, rows), "c": rng.choice(["x", "y", "z"], rows),
        "d": rng.random(rows) < 0.5, "e": rng.exponential(size=rows).round(2),
    })
    risk = rate + 0.4 * ((X["a"] > 0.8) & X["d"]) * rng.integers(0, 2)  # a planted rule in about half the cases
    y = pd.Series(rng.random(rows) < risk.clip(0, 1), name="waste")
    params = dict(max_conditions=conditions, correction=correction, layered=layered)
    pruned = RuleMinerCore(**params).fit(X, y)
    with monkeypatch.context() as m:
        _unpruned(m)
        full = RuleMinerCore(**params).fit(X, y)
    assert _rules(pruned) == _rules(full)
    assert pruned.n_tests_ == full.n_tests_
