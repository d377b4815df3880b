"""Demand forecasters (the twin's predictive-pull hook) and seeded demand generators."""

import math

import numpy as np
import pytest

from leanlearn.twin.forecast import (
    FORECASTERS,
    Demand,
    DemandError,
    Forecaster,
    HoltWinters,
    LastValue,
    MovingAverage,
    Snarimax,
    backtest,
    make_forecaster,
    poisson_demand,
    seasonal_demand,
    step_demand,
)


@pytest.mark.parametrize("name", list(FORECASTERS))
def test_every_forecaster_follows_the_hook_and_never_forecasts_negative_demand(name):
    f = make_forecaster(name)
    assert isinstance(f, Forecaster)
    assert f.forecast(3) == [0.0, 0.0, 0.0]  # before any data: no demand expected
    for y in [5, 0, 0, 0, 0, 0, 0, 0]:  # a falling series pulls trend models below zero if unclipped
        assert f.learn_one(y) is None
    out = f.forecast(12)
    assert len(out) == 12 and all(v >= 0 and math.isfinite(v) for v in out)


def test_holt_winters_follows_a_step_change_where_a_long_moving_average_lags():
    series = step_demand(4.0, 8.0, t0=100.0).counts(200.0, period=1.0, seed=3)
    hw, ma = HoltWinters(alpha=0.3), MovingAverage(window=50)
    for y in series[:130]:  # 30 periods after the step
        hw.learn_one(y)
        ma.learn_one(y)
    assert abs(hw.forecast(1)[0] - 8.0) < 1.5
    assert ma.forecast(1)[0] < 7.0  # still mixes 20 periods of the old level


def test_seasonal_holt_winters_beats_the_naive_forecast_on_seasonal_demand():
    series = seasonal_demand(10.0, amplitude=0.8, season=12.0).counts(12.0 * 30, period=1.0, seed=0)
    seasonal = HoltWinters(alpha=0.2, beta=0.01, gamma=0.3, seasonality=12)
    # six periods ahead the naive forecast reads the opposite phase of the season
    assert backtest(seasonal, series, horizon=6) < 0.6 * backtest(LastValue(), series, horizon=6)


def test_river_forecasters_stand_in_with_the_running_mean_until_initialised():
    f = HoltWinters(alpha=0.3, beta=0.01, gamma=0.3, seasonality=24)
    for y in [2.0, 4.0, 6.0]:
        f.learn_one(y)
    assert f.forecast(2) == [4.0, 4.0]  # River would raise here: 24 values initialise the season


def test_snarimax_learns_an_autoregressive_pattern():
    series = np.tile([2.0, 8.0], 200)
    f = Snarimax(p=2)
    assert backtest(f, series, horizon=1) < backtest(MovingAverage(window=4), series, horizon=1)


def test_backtest_leaves_the_forecaster_untouched():
    f = MovingAverage(window=3)
    backtest(f, [1, 2, 3, 4])
    assert f.forecast(1) == [0.0]


@pytest.mark.parametrize("bad", [-1, float("nan"), "many", None])
def test_learn_one_refuses_demand_that_is_not_a_count(bad):
    with pytest.raises(DemandError, match="learn_one"):
        MovingAverage().learn_one(bad)


def test_forecaster_parameters_are_checked_with_an_actionable_message():
    with pytest.raises(DemandError, match="alpha must be a number in"):
        HoltWinters(alpha=1.5)
    with pytest.raises(DemandError, match="gamma and seasonality together"):
        HoltWinters(alpha=0.3, gamma=0.2)
    with pytest.raises(DemandError, match="needs a trend smoothing beta"):
        HoltWinters(alpha=0.3, gamma=0.2, seasonality=12)
    with pytest.raises(DemandError, match="window must be a whole number"):
        MovingAverage(window=0)
    with pytest.raises(DemandError, match="unknown forecaster"):
        make_forecaster("prophet")
    with pytest.raises(DemandError, match="forecaster 'last'"):
        make_forecaster("last", window=3)


@pytest.mark.parametrize("demand", [poisson_demand(2.0), seasonal_demand(2.0, 0.5, 24.0), step_demand(1.0, 3.0, 50.0)])
def test_demand_is_seeded_sorted_and_matches_its_rate(demand):
    horizon = 2000.0
    a, b = demand.times(horizon, seed=7), demand.times(horizon, seed=7)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, demand.times(horizon, seed=8))
    assert (np.diff(a) >= 0).all() and a.min() >= 0 and a.max() < horizon
    expected = demand.mean_rate(0.0, horizon) * horizon
    assert abs(len(a) - expected) < 4 * math.sqrt(expected)


def test_step_demand_jumps_at_t0():
    counts = step_demand(1.0, 4.0, t0=500.0).counts(1000.0, period=500.0, seed=1)
    assert abs(counts[0] - 500) < 100 and abs(counts[1] - 2000) < 200


def test_seasonal_demand_peaks_where_the_sinusoid_does():
    demand = seasonal_demand(5.0, amplitude=0.9, season=24.0)
    counts = demand.counts(24.0 * 200, period=6.0, seed=0).reshape(-1, 4).sum(axis=0)
    assert counts.argmax() == 0 and counts.argmin() == 2  # hours 0-6 hold the crest, 12-18 the trough


def test_demand_round_trips_and_refuses_bad_parameters():
    d = step_demand(1.0, 2.0, 10.0)
    assert Demand.from_json(d.to_json()) == d
    with pytest.raises(DemandError, match="rate must be a number > 0"):
        poisson_demand(0.0)
    with pytest.raises(DemandError, match="amplitude"):
        seasonal_demand(1.0, amplitude=1.5)
    with pytest.raises(DemandError, match="unknown key 'lambda'"):
        Demand.from_json({"kind": "poisson", "rate": 1.0, "lambda": 2})
    with pytest.raises(DemandError, match="over the limit"):
        poisson_demand(1e6).times(1e3)
