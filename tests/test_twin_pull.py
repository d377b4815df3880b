"""Predictive vs reactive kanban on the same demand (common random numbers), with intervals over replications."""

import json

import numpy as np
import pytest

from leanlearn.twin import LineSpec
from leanlearn.twin.forecast import HoltWinters, LastValue, SafetyStock, poisson_demand, step_demand
from leanlearn.twin.pull import PullError, compare_pull, with_demand


def kanban(cards, lead_periods=4):
    return LineSpec.from_dict({
        "line": "pull", "time_unit": "h",
        "release": {"policy": "kanban", "cards": cards, "period": 1.0, "lead_periods": lead_periods},
        "stations": [{"name": "S1", "cycle": {"dist": "exponential", "mean": 0.5}},
                     {"name": "S2", "cycle": {"dist": "exponential", "mean": 0.5}}],
    })


class Never:
    """Forecasts less than any stock position: the predictive signal never releases anything ahead (a zero forecast
    would still replace backorders)."""

    def learn_one(self, y):
        pass

    def forecast(self, horizon):
        return [-1e9] * horizon


def test_predictive_kanban_keeps_a_higher_service_level_at_lower_wip_after_a_step_change():
    """Demand steps from 0.8 to 1.5 per hour halfway. Reactive kanban holds 6 cards per loop for it; predictive
    kanban runs on 1 card per loop plus Holt-Winters forecasts with safety stock over 4 h of lead time."""
    result = compare_pull(kanban(6), step_demand(0.8, 1.5, t0=400.0),
                          forecaster=SafetyStock(HoltWinters(alpha=0.2), z=3.0), predictive_cards=1,
                          horizon=800.0, warmup=50.0, replications=5, seed=0)
    sl, wip, inventory = result.kpi("service_level"), result.kpi("wip"), result.kpi("inventory")
    assert sl["diff_low"] > 0 and sl["better"] == "predictive"
    assert wip["diff_high"] < 0 and wip["better"] == "predictive"
    assert abs(inventory["diff"]) < 0.15 * inventory["reactive"]  # WIP + finished stock: comparable


def test_both_policies_see_the_same_demand_and_the_same_random_streams():
    """A predictive signal that never fires is reactive kanban: the paired runs are identical."""
    result = compare_pull(kanban(2), poisson_demand(1.0), forecaster=Never(), horizon=200.0, warmup=20.0,
                          replications=3)
    runs = result.runs
    for kpi in ("service_level", "wip", "stock", "throughput"):
        rea = runs[runs["signal"] == "reactive"][kpi].to_numpy()
        pre = runs[runs["signal"] == "predictive"][kpi].to_numpy()
        assert np.array_equal(rea, pre)
    assert (result.table["diff"] == 0).all() and set(result.table["better"]) == {"neither"}


def test_replications_draw_different_demand_and_the_same_seed_repeats():
    a = compare_pull(kanban(2), poisson_demand(1.0), forecaster="last", horizon=150.0, replications=3, seed=4)
    b = compare_pull(kanban(2), poisson_demand(1.0), forecaster="last", horizon=150.0, replications=3, seed=4)
    assert a.runs.equals(b.runs)
    assert a.runs["demand"].nunique() > 1


def test_the_forecaster_passed_in_is_copied_not_trained():
    f = LastValue()
    compare_pull(kanban(2), poisson_demand(1.0), forecaster=f, horizon=100.0, replications=2)
    assert f.n_ == 0
    compare_pull(kanban(2), poisson_demand(1.0), forecaster=LastValue, horizon=100.0, replications=1)  # a factory


def test_comparison_serialises_and_plots(tmp_path):
    result = compare_pull(kanban(2), step_demand(0.8, 1.2, t0=100.0), forecaster="moving_average",
                          horizon=200.0, warmup=20.0, replications=2, predictive_cards={"S2": 1})
    doc = json.loads(json.dumps(result.to_json(), allow_nan=False))
    assert doc["cards"] == {"reactive": {"S1": 2, "S2": 2}, "predictive": {"S1": 2, "S2": 1}}
    assert [k["kpi"] for k in doc["kpis"]][:2] == ["service_level", "wip"]
    assert "service level" in doc["verdict"]
    result.plot(tmp_path / "pull.png")
    assert (tmp_path / "pull.png").stat().st_size > 1000


def test_a_line_without_kanban_is_refused_with_the_fix():
    conwip = LineSpec.from_dict({"line": "c", "release": {"policy": "conwip", "wip": 2},
                                 "stations": [{"name": "S1", "cycle": 1.0}]})
    with pytest.raises(PullError, match="needs policy: kanban"):
        compare_pull(conwip, poisson_demand(1.0), horizon=10.0)
    with pytest.raises(PullError, match="no kanban loop 'S9'"):
        with_demand(kanban(2), [1.0], "predictive", cards={"S9": 1})
    with pytest.raises(PullError, match="cards must be a whole number"):
        compare_pull(kanban(2), poisson_demand(1.0), horizon=10.0, predictive_cards=0)


def test_on_seasonal_demand_predictive_kanban_serves_as_well_with_less_inventory():
    """A daily sinusoid (±40 % around 1.1 per hour): reactive kanban needs 7 cards per loop all day; predictive
    kanban with 1 card follows the forecast and holds less in the troughs."""
    from leanlearn.twin.forecast import seasonal_demand

    result = compare_pull(kanban(7), seasonal_demand(1.1, amplitude=0.4, season=24.0),
                          forecaster=SafetyStock(HoltWinters(alpha=0.2), z=3.0), predictive_cards=1,
                          horizon=960.0, warmup=48.0, replications=6, seed=0)
    sl, inventory, wip = result.kpi("service_level"), result.kpi("inventory"), result.kpi("wip")
    assert abs(sl["diff"]) < 0.03 and sl["reactive"] > 0.9
    assert inventory["diff_high"] < 0 and wip["diff_high"] < 0


def test_on_the_trade_off_curve_predictive_kanban_with_safety_stock_beats_reactive_of_the_same_inventory():
    from leanlearn.twin.pull import pull_frontier

    front = pull_frontier(kanban(6), step_demand(0.8, 1.5, t0=400.0), reactive_cards=[3, 5, 7, 9],
                          predictive=[(1, SafetyStock(HoltWinters(alpha=0.2), z=0.0)),
                                      (1, SafetyStock(HoltWinters(alpha=0.2), z=3.0))],
                          horizon=800.0, warmup=50.0, replications=4, seed=0)
    reactive = front[front["policy"] == "reactive"]
    assert reactive["inventory"].is_monotonic_increasing and reactive["service_level"].is_monotonic_increasing
    plain, safe = front[front["policy"] == "predictive"].to_dict("records")
    assert safe["service_level"] - safe["reactive_at_inventory"] > 0.03  # above the reactive curve
    assert plain["service_level"] < plain["reactive_at_inventory"]  # without safety stock: below it
    assert safe["label"] == "1 card, z=3"
