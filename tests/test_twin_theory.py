"""The twin against closed forms (Factory Physics): a simulator that misses these is not trusted with a kanban decision.

- M/M/1 (push, exponential arrivals of mean 1.25 h, one exponential station of mean 1 h, ρ = 0.8): L = ρ/(1−ρ) = 4,
  W = 1/(μ−λ) = 5 h.
- A balanced line of 4 exponential stations (mean 1 h) under CONWIP w: the practical worst case,
  TH(w) = w / (W0 + w − 1) · rb = w / (w + 3) per hour.
- Little's law WIP = TH × W in every run.
- Deterministic lines: D/D/1 and the best case TH(w) = min(w / T0, rb), exactly.

The default suite runs shorter versions (M/M/1 with a looser tolerance, sized to the estimator's noise); the
``slow`` ones run the done-when tolerances with enough simulated time.
"""

from __future__ import annotations

import pytest

from leanlearn.twin.model import run_once
from leanlearn.twin.simulation import simulate
from leanlearn.twin.spec import LineSpec
from leanlearn.twin.what_if import whatif

EXP = {"dist": "exponential", "mean": 1.0}
MM1 = LineSpec.from_dict({"line": "mm1", "release": {"policy": "push",
                                                     "arrivals": {"dist": "exponential", "mean": 1.25}},
                          "stations": [{"name": "S1", "cycle": EXP}]})


def _conwip(w: int, cycle=EXP) -> LineSpec:
    return LineSpec.from_dict({"line": "pwc", "release": {"policy": "conwip", "wip": w},
                               "stations": [{"name": f"S{i}", "cycle": cycle} for i in range(1, 5)]})


def _little_error(run) -> float:
    k = run.kpis
    return abs(k["wip"] - k["throughput"] * k["lead_time_mean"]) / k["wip"]


def test_dd1_gives_exact_numbers():
    spec = LineSpec.from_dict({"line": "dd1", "release": {"policy": "push", "arrivals": 1.25},
                               "stations": [{"name": "S1", "cycle": 1.0}]})
    run = run_once(spec, horizon=1001.1, warmup=1.1)  # arrivals at 1.25 k, departures at 1.25 k + 1
    assert run.kpis["throughput"] == pytest.approx(0.8, abs=1e-9)
    assert run.kpis["wip"] == pytest.approx(0.8, abs=1e-9)
    assert run.kpis["lead_time_mean"] == pytest.approx(1.0, abs=1e-9)
    assert run.kpis["lead_time_p90"] == pytest.approx(1.0, abs=1e-9)
    assert run.kpis["utilization:S1"] == pytest.approx(0.8, abs=1e-9)


@pytest.mark.parametrize("w", [1, 2, 4, 6, 8])
def test_deterministic_conwip_line_gives_the_best_case(w):
    run = run_once(_conwip(w, cycle=1.0), horizon=1000.5, warmup=100.5)
    assert run.kpis["throughput"] == pytest.approx(min(w / 4, 1.0), abs=1e-9)
    assert run.kpis["lead_time_mean"] == pytest.approx(max(4.0, float(w)), abs=1e-9)  # W = w / TH


def test_mm1_fast_is_close_to_theory_and_keeps_littles_law():
    # 120,000 h: the time-average of L has a standard error of about 3 % here (ρ = 0.8 is strongly correlated);
    # the slow test below runs 2,000,000 h for the done-when tolerance of 3 %.
    result = simulate(MM1, horizon=120_000, warmup=1_000, replications=1, seed=0)
    run = result.replications[0]
    assert run.kpis["wip"] == pytest.approx(4.0, rel=0.10)
    assert run.kpis["lead_time_mean"] == pytest.approx(5.0, rel=0.10)
    assert run.kpis["throughput"] == pytest.approx(0.8, rel=0.02)
    assert run.kpis["utilization:S1"] == pytest.approx(0.8, rel=0.02)
    assert _little_error(run) < 0.02


@pytest.mark.slow
def test_mm1_gives_l_4_and_w_5_within_3_percent():
    result = simulate(MM1, horizon=200_000, warmup=2_000, replications=10, seed=1)
    assert result.kpi("wip")[0] == pytest.approx(4.0, rel=0.03)
    assert result.kpi("lead_time_mean")[0] == pytest.approx(5.0, rel=0.03)
    assert all(_little_error(run) < 0.02 for run in result.replications)


@pytest.mark.parametrize("w", range(1, 13))
def test_conwip_practical_worst_case_throughput_within_2_percent(w):
    # more time where one job's cycle is noisiest (w = 1 renews once per 4 h with cv 0.5)
    run = run_once(_conwip(w), horizon=max(10_000, 40_000 / w), warmup=200, seed=w)
    assert run.kpis["throughput"] == pytest.approx(w / (w + 3), rel=0.02)
    assert run.kpis["wip"] == pytest.approx(w, abs=1e-9)
    assert _little_error(run) < 0.02


@pytest.mark.slow
def test_conwip_practical_worst_case_over_replications():
    for w in range(1, 13):
        result = simulate(_conwip(w), horizon=40_000, warmup=500, replications=5, seed=100 + w)
        assert result.kpi("throughput")[0] == pytest.approx(w / (w + 3), rel=0.02)
        assert all(_little_error(run) < 0.02 for run in result.replications)


def test_whatif_finds_the_least_conwip_level_meeting_a_target():
    # TH(6) = 0.667, TH(7) = 0.700: a target half-way between is 2.4 % from either, so the answer is w = 7
    result = whatif(_conwip(1), {"wip": list(range(1, 13))}, target_throughput=0.683, horizon=10_000,
                    warmup=200, replications=2, seed=0, search="bisect")
    assert result.recommendation["point"] == {"wip": 7}
    assert result.search == "bisect"
    assert len(result.table) <= 5  # bisection: log2(12) levels, not 12
    assert set(result.table["wip"]) >= {6, 7}


def test_whatif_grid_agrees_with_theory_at_a_coarse_target():
    # TH(2) = 0.40, TH(3) = 0.50: target 0.45 → w = 3
    result = whatif(_conwip(1), {"wip": [1, 2, 3, 4, 5]}, target_throughput=0.45, horizon=4_000, warmup=200,
                    replications=2, seed=3, search="grid")
    assert result.recommendation["point"] == {"wip": 3}
    assert result.table["throughput"].is_monotonic_increasing
    assert result.pareto["wip"].tolist() == [1, 2, 3, 4, 5]  # more WIP buys throughput but costs lead time
