"""The SimPy line model: each mechanism with numbers worked out by hand, and canonical output tables."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from leanlearn.data.schema import DOWNTIME, OPERATIONS, validate
from leanlearn.lean.valuestream import value_stream
from leanlearn.twin.model import run_once
from leanlearn.twin.simulation import simulate
from leanlearn.twin.spec import LineSpec, SpecError

EXP = {"dist": "exponential", "mean": 1.0}


def _spec(stations, release, **extra) -> LineSpec:
    return LineSpec.from_dict({"line": "T", "release": release, "stations": stations, **extra})


def _trace(*orders):
    return {"policy": "trace", "orders": [dict(zip(("id", "release", "qty"), o, strict=False)) for o in orders]}


def _hours(frame: pd.DataFrame, column: str) -> np.ndarray:
    return ((frame[column] - pd.Timestamp("2000-01-01", tz="UTC")) / pd.Timedelta(hours=1)).to_numpy()


def test_import_twin_does_not_load_simpy():
    out = subprocess.run([sys.executable, "-c", "import leanlearn.twin, sys; print('simpy' in sys.modules)"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_breakdown_preempts_the_job_which_resumes_after_repair():
    spec = _spec([{"name": "M", "cycle": 10.0, "breakdowns": {"tbf": 4.0, "repair": 2.0}}], _trace(("O1", 0.0)))
    run = run_once(spec, horizon=50)
    ops = run.operations
    assert _hours(ops, "start").tolist() == [0.0, 6.0, 12.0]
    assert _hours(ops, "end").tolist() == [4.0, 10.0, 14.0]
    assert ops["qty"].tolist() == pytest.approx([0.4, 0.4, 0.2])  # each piece its share: cycle per unit stays 10
    assert _hours(run.downtime, "start").tolist()[:2] == [4.0, 10.0]
    assert _hours(run.downtime, "end").tolist()[:2] == [6.0, 12.0]
    assert run.orders["done"].tolist() == [14.0]


def test_busy_basis_counts_failures_in_working_time_only():
    station = {"name": "M", "cycle": 3.0, "breakdowns": {"tbf": 4.0, "repair": 1.0, "basis": "busy"}}
    run = run_once(_spec([station], _trace(("O1", 0.0), ("O2", 20.0))), horizon=50)
    assert run.orders["done"].tolist() == [3.0, 24.0]  # 1 h of busy time left at 20 → fails at 21, back at 22
    clock = {**station, "breakdowns": {"tbf": 4.0, "repair": 1.0}}
    assert run_once(_spec([clock], _trace(("O1", 0.0), ("O2", 20.0))), horizon=50).orders["done"].tolist() == [
        3.0, 23.0]  # clock failures at 4, 9, 14, 19, 24: O2 runs 20–23 untouched


def test_sequence_dependent_setups_follow_the_matrix():
    spec = LineSpec.from_dict({
        "line": "T", "materials": {"A": {}, "B": {}},
        "release": {"policy": "trace", "orders": [{"id": f"O{i}", "release": float(i), "material": m}
                                                  for i, m in enumerate("AABBA")]},
        "stations": [{"name": "M", "cycle": 0.5, "setup": {"default": 0.25, "matrix": {"A": {"B": 0.75}}}}]})
    ops = run_once(spec, horizon=20).operations
    setups = ops[ops["kind"] == "setup"]
    assert setups["order_id"].tolist() == ["O2", "O4"]  # A→B then B→A; the first job and repeats need none
    minutes = ((setups["end"] - setups["start"]) / pd.Timedelta(hours=1)).tolist()
    assert minutes == [0.75, 0.25]


def test_always_setup_happens_before_every_job():
    spec = _spec([{"name": "M", "cycle": 1.0, "setup": {"default": 0.5, "always": True}}],
                 _trace(("O1", 0.0), ("O2", 5.0)))
    ops = run_once(spec, horizon=20).operations
    assert ops["kind"].tolist() == ["setup", "production", "setup", "production"]


def test_a_full_buffer_blocks_the_upstream_server():
    stations = [{"name": "S1", "cycle": 1.0}, {"name": "S2", "cycle": 5.0, "buffer": 1}]
    blocked = run_once(_spec(stations, {"policy": "push", "arrivals": 1.0}), horizon=500, warmup=100)
    free = run_once(_spec([stations[0], {"name": "S2", "cycle": 5.0}], {"policy": "push", "arrivals": 1.0}),
                    horizon=500, warmup=100)
    assert free.kpis["utilization:S1"] == pytest.approx(1.0, abs=0.01)
    assert blocked.kpis["utilization:S1"] == pytest.approx(0.2, abs=0.01)  # S1 works only when S2 takes a job
    assert blocked.kpis["throughput"] == pytest.approx(0.2, abs=0.01)
    ops = blocked.operations
    s1 = ops[ops["station"] == "S1"].sort_values("start")
    gaps = np.diff(_hours(s1, "start"))[10:]
    assert gaps.min() == pytest.approx(5.0)


def test_parallel_servers_multiply_capacity():
    def throughput(capacity):
        spec = _spec([{"name": "M", "cycle": 2.0, "capacity": capacity}], {"policy": "conwip", "wip": 10})
        return run_once(spec, horizon=201, warmup=1).kpis["throughput"]

    assert throughput(1) == pytest.approx(0.5, abs=0.01)
    assert throughput(3) == pytest.approx(1.5, abs=0.01)


def test_shifts_start_no_work_outside_the_calendar():
    spec = _spec([{"name": "M", "cycle": 0.5, "shifts": {"hours_per_day": 8, "start_hour": 6}}],
                 {"policy": "push", "arrivals": EXP})
    run = run_once(spec, horizon=24 * 20)
    hour = _hours(run.operations, "start") % 24
    assert ((hour >= 6) & (hour < 14)).all()
    assert run.kpis["utilization:M"] < 8 / 24 + 0.02


def test_transfer_delay_sits_between_operations():
    spec = _spec([{"name": "S1", "cycle": 1.0}, {"name": "S2", "cycle": 1.0}], _trace(("O1", 0.0)), transfer=2.0)
    run = run_once(spec, horizon=20)
    assert _hours(run.operations, "start").tolist() == [0.0, 3.0]
    assert run.orders["lead_time"].tolist() == [4.0]


def test_an_order_is_released_as_lots_of_the_batch_size():
    spec = LineSpec.from_dict({"line": "T", "materials": {"A": {"qty": 12, "batch": 5}},
                               "release": {"policy": "trace", "orders": [{"id": "O1", "release": 0, "material": "A",
                                                                          "qty": 12}]},
                               "stations": [{"name": "M", "cycle": 1.0}]})
    run = run_once(spec, horizon=50)
    assert run.orders["unit_id"].tolist() == ["O1.1", "O1.2", "O1.3"]
    assert run.orders["qty"].tolist() == [5.0, 5.0, 2.0]
    assert run.orders["done"].tolist() == [5.0, 10.0, 12.0]  # per-unit cycle: a lot of 5 takes 5 h


def test_per_visit_cycle_ignores_the_lot_size():
    spec = _spec([{"name": "M", "cycle": 1.0, "per_unit": False}], _trace(("O1", 0.0, 7)))
    assert run_once(spec, horizon=20).orders["done"].tolist() == [1.0]


def test_scrap_removes_units_at_its_rate():
    spec = LineSpec.from_dict({"line": "T", "materials": {"A": {"batch": 10}},
                               "release": {"policy": "conwip", "wip": 2},
                               "stations": [{"name": "M", "cycle": {"dist": "exponential", "mean": 0.1},
                                             "scrap": 0.1}]})
    run = run_once(spec, horizon=3000, warmup=100, seed=3)
    assert run.kpis["throughput_units"] / (10 * run.kpis["throughput"]) == pytest.approx(0.9, abs=0.01)
    assert run.operations["scrap_qty"].sum() == run.orders["scrapped"].sum()


def test_routings_per_material_follow_shares_and_weights():
    spec = LineSpec.from_dict({
        "line": "T", "release": {"policy": "push", "arrivals": {"dist": "exponential", "mean": 2.0}},
        "materials": {"A": {"share": 3, "routings": [["S1", "S2"]]},
                      "B": {"share": 1, "routings": [{"stations": ["S2"], "weight": 1},
                                                     {"stations": ["S1", "S3"], "weight": 1}]}},
        "stations": [{"name": n, "cycle": {"dist": "exponential", "mean": 0.2}} for n in ("S1", "S2", "S3")]})
    run = run_once(spec, horizon=5000, seed=1)
    orders = run.orders
    assert (orders["material"] == "A").mean() == pytest.approx(0.75, abs=0.03)
    ops = run.operations
    assert set(ops.loc[ops["material"] == "A", "station"]) == {"S1", "S2"}
    b_paths = ops[ops["material"] == "B"].groupby("unit_id")["station"].agg(tuple).value_counts(normalize=True)
    assert set(b_paths.index) == {("S2",), ("S1", "S3")}
    assert b_paths[("S2",)] == pytest.approx(0.5, abs=0.08)


def test_output_tables_are_canonical_and_start_at_spec_start():
    spec = _spec([{"name": "S1", "cycle": EXP, "breakdowns": {"tbf": {"dist": "exponential", "mean": 30},
                                                              "repair": 1.0}},
                  {"name": "S2", "cycle": EXP}], {"policy": "conwip", "wip": 3}, start="2012-01-02T06:00:00Z")
    run = run_once(spec, horizon=300)
    ops, quarantine = validate(run.operations, OPERATIONS, source="twin")
    assert len(quarantine) == 0 and len(ops) == len(run.operations)
    down, quarantine = validate(run.downtime, DOWNTIME, source="twin")
    assert len(quarantine) == 0 and len(down) > 0
    assert str(run.operations["start"].dt.tz) == "UTC"
    assert run.operations["start"].min() >= pd.Timestamp("2012-01-02T06:00:00Z")
    assert set(run.operations["kind"]) == {"production"}


def test_value_stream_runs_on_the_twin_output_unchanged():
    spec = LineSpec.from_dict({
        "line": "vs", "materials": {"A": {}, "B": {}},
        "release": {"policy": "push", "arrivals": {"dist": "exponential", "mean": 2.0}},
        "stations": [{"name": "S1", "cycle": 0.5, "setup": {"default": 0.25}},
                     {"name": "S2", "cycle": {"dist": "exponential", "mean": 1.0},
                      "breakdowns": {"tbf": {"dist": "exponential", "mean": 50}, "repair": 2.0}}]})
    run = run_once(spec, horizon=2000, seed=2)
    vs = value_stream(run.operations, run.downtime, qty="qty")
    nodes = vs.nodes.set_index("station")
    assert list(nodes.index) == ["S1", "S2"]
    assert nodes.loc["S1", "cycle_p50_min"] == pytest.approx(30.0)      # 0.5 h per unit
    assert nodes.loc["S1", "setup_p50_min"] == pytest.approx(15.0)      # 0.25 h
    assert nodes.loc["S2", "downtime_n"] == len(run.downtime)
    assert nodes.loc["S1", "utilization"] == pytest.approx(run.kpis["utilization:S1"], rel=0.05)
    assert vs.key == "unit_id"


def test_kanban_cards_bound_stock_plus_wip_and_buy_service_level():
    def kpis(cards):
        spec = _spec([{"name": "S1", "cycle": {"dist": "exponential", "mean": 0.5}},
                      {"name": "S2", "cycle": {"dist": "exponential", "mean": 0.8}}],
                     {"policy": "kanban", "cards": cards,
                      "demand": {"arrivals": {"dist": "exponential", "mean": 1.25}}})
        return simulate(spec, horizon=2000, warmup=200, replications=2, seed=5).summary["mean"]

    low, high = kpis(1), kpis(5)
    assert low["inventory"] <= 2 + 1e-9 and high["inventory"] <= 10 + 1e-9
    assert high["service_level"] > low["service_level"] + 0.3
    assert high["throughput"] == pytest.approx(0.8, rel=0.05)  # the demand rate once stock keeps up


def test_saturated_kanban_with_one_loop_is_conwip():
    station = [{"name": "M", "cycle": EXP}]
    kanban = run_once(_spec(station, {"policy": "kanban", "cards": {"M": 3}}), horizon=3000, seed=4)
    conwip = run_once(_spec(station, {"policy": "conwip", "wip": 3}), horizon=3000, seed=4)
    assert kanban.kpis["wip"] == pytest.approx(3.0, abs=1e-6)
    assert kanban.kpis["throughput"] == pytest.approx(conwip.kpis["throughput"], rel=0.05)


class _Greedy:
    """A forecaster that remembers what it learned and always forecasts 5 per period."""

    def __init__(self):
        self.seen = []

    def learn_one(self, y):
        self.seen.append(y)

    def forecast(self, horizon):
        return [5.0] * horizon


def test_forecaster_learns_each_period_and_predictive_signal_releases_ahead():
    demand = {"times": [0.5 + i for i in range(50)]}  # one demand per period
    base = {"cards": {"M": 1}, "demand": demand, "period": 1.0, "lead_periods": 2}
    station = [{"name": "M", "cycle": 0.1}]
    reactive, predictive = _Greedy(), _Greedy()
    quiet = run_once(_spec(station, {"policy": "kanban", **base}), horizon=60, forecaster=reactive)
    ahead = run_once(_spec(station, {"policy": "kanban", **base, "signal": "predictive"}), horizon=60,
                     forecaster=predictive)
    assert reactive.seen[:50] == [1.0] * 50 and sum(reactive.seen) == 50
    assert quiet.kpis["inventory"] <= 1 + 1e-9
    assert ahead.kpis["inventory"] > 5  # stock + WIP brought up to the forecast of 10 over 2 periods
    assert ahead.kpis["service_level"] >= quiet.kpis["service_level"]


def test_runaway_simulation_stops_at_the_event_limit():
    spec = _spec([{"name": "M", "cycle": 2.0}], {"policy": "push", "arrivals": 1.0})
    with pytest.raises(SpecError, match="passed 1,000 events .* LEANLEARN_TWIN_MAX_EVENTS"):
        run_once(spec, horizon=10_000, limit=1000)


def test_horizon_and_warmup_are_checked():
    spec = _spec([{"name": "M", "cycle": 1.0}], {"policy": "conwip", "wip": 1})
    with pytest.raises(SpecError, match="horizon must be a positive number of h"):
        run_once(spec, horizon=0)
    with pytest.raises(SpecError, match="warmup must be a number from 0 to below the horizon"):
        run_once(spec, horizon=10, warmup=10)


def test_replications_are_reproducible_and_independent():
    spec = _spec([{"name": "M", "cycle": EXP}], {"policy": "push", "arrivals": {"dist": "exponential",
                                                                                 "mean": 1.5}})
    first = simulate(spec, horizon=500, replications=3, seed=11)
    again = simulate(spec, horizon=500, replications=3, seed=11)
    assert [r.kpis for r in first.replications] == [r.kpis for r in again.replications]
    values = [r.kpis["wip"] for r in first.replications]
    assert len(set(values)) == 3
    low, mean, high = first.summary.loc["wip", ["low", "mean", "high"]]
    assert low < mean < high


def test_kanban_scrap_returns_the_card_to_the_loop_it_was_in():
    spec = LineSpec.from_dict({"line": "T", "release": {"policy": "kanban", "cards": {"S1": 2, "S2": 2}},
                               "stations": [{"name": "S1", "cycle": {"dist": "exponential", "mean": 0.5},
                                             "scrap": 0.3},
                                            {"name": "S2", "cycle": {"dist": "exponential", "mean": 0.5}}]})
    run = run_once(spec, horizon=2000, warmup=100, seed=8)
    scrapped = run.orders["scrapped"].sum()
    assert scrapped > 100
    assert run.kpis["throughput"] > 0.5  # the line keeps pulling: no card is lost with a scrapped job
    assert run.kpis["inventory"] <= 4 + 1e-9


@pytest.mark.parametrize("release", [{"policy": "conwip", "wip": 2}, {"policy": "kanban", "cards": 2}])
def test_a_line_of_zero_times_stops_at_the_limit_instead_of_hanging(release):
    spec = _spec([{"name": "M", "cycle": 0}], release)
    with pytest.raises(SpecError, match="passed 500 operations by time 0 .*times of 0"):
        run_once(spec, horizon=10, limit=500)


def test_zero_time_demand_is_refused_and_huge_lots_are_limited():
    with pytest.raises(SpecError, match="release.demand.arrivals: must have a positive mean"):
        _spec([{"name": "M", "cycle": 1}], {"policy": "kanban", "cards": 1,
                                             "demand": {"arrivals": {"dist": "empirical", "values": [0]}}})
    with pytest.raises(SpecError, match=r"release.orders\[0\].qty: is 2,000,000, over the limit"):
        _spec([{"name": "M", "cycle": 1}], _trace(("O1", 0.0, 2e6)))


def test_a_large_lot_draws_its_unit_times_at_once():
    spec = _spec([{"name": "M", "cycle": {"dist": "exponential", "mean": 0.001}}], _trace(("O1", 0.0, 100_000)))
    done = run_once(spec, horizon=1000).orders["done"].iloc[0]
    assert done == pytest.approx(100.0, rel=0.02)  # 100,000 units of mean 0.001 h


class _Unsure(_Greedy):
    def forecast(self, horizon):
        return [float("nan")] * horizon


def test_a_nan_forecast_raises_no_signal():
    station = [{"name": "M", "cycle": 0.1}]
    release = {"policy": "kanban", "cards": {"M": 1}, "demand": {"times": [0.5 + i for i in range(20)]},
               "signal": "predictive"}
    run = run_once(_spec(station, release), horizon=30, forecaster=_Unsure())
    assert run.kpis["inventory"] <= 1 + 1e-9


# -- invariants on random lines -------------------------------------------------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_time = st.one_of(st.floats(0.05, 3.0), st.builds(lambda m: {"dist": "exponential", "mean": m}, st.floats(0.05, 3.0)),
                  st.builds(lambda m, cv: {"dist": "gamma", "mean": m, "cv": cv}, st.floats(0.05, 3.0),
                            st.floats(0, 2)))


@st.composite
def _lines(draw):
    n = draw(st.integers(1, 4))
    stations = []
    for i in range(n):
        item = {"name": f"S{i}", "cycle": draw(_time), "capacity": draw(st.integers(1, 3))}
        if draw(st.booleans()):
            item["buffer"] = draw(st.integers(1, 4))
        if draw(st.booleans()):
            item["breakdowns"] = {"tbf": {"dist": "exponential", "mean": draw(st.floats(2, 50))},
                                  "repair": draw(_time), "basis": draw(st.sampled_from(["clock", "busy"]))}
        if draw(st.booleans()):
            item["setup"] = {"default": draw(_time), "always": draw(st.booleans())}
        if draw(st.booleans()):
            item["scrap"] = draw(st.floats(0, 0.3))
        if draw(st.booleans()):
            item["shifts"] = {"hours_per_day": draw(st.floats(4, 24)), "start_hour": draw(st.floats(0, 23))}
        stations.append(item)
    release = draw(st.sampled_from([
        {"policy": "conwip", "wip": draw(st.integers(1, 8))},
        {"policy": "push", "arrivals": {"dist": "exponential", "mean": draw(st.floats(0.5, 5))}},
        {"policy": "kanban", "cards": draw(st.integers(1, 4)),
         "demand": {"arrivals": {"dist": "exponential", "mean": draw(st.floats(0.5, 5))}}},
        {"policy": "kanban", "cards": draw(st.integers(1, 4))},
    ]))
    doc = {"line": "H", "release": release, "stations": stations,
           "materials": {"A": {"share": 1, "batch": draw(st.integers(1, 3))}, "B": {"share": 1}}}
    if draw(st.booleans()):
        doc["transfer"] = draw(_time)
    return LineSpec.from_dict(doc)


@settings(max_examples=30, deadline=None)
@given(_lines(), st.integers(0, 1000))
def test_random_lines_keep_their_invariants(spec, seed):
    run = run_once(spec, horizon=40.0, warmup=10.0, seed=seed)
    k = run.kpis
    for name in spec.station_names:
        assert -1e-9 <= k[f"utilization:{name}"] <= 1 + 1e-9
    ops, orders = run.operations, run.orders
    assert (ops["end"] >= ops["start"]).all()
    assert (run.downtime["end"] >= run.downtime["start"]).all()
    done = orders.dropna(subset=["done"])
    assert (done["done"] >= done["release"]).all()
    assert ((orders["scrapped"] >= 0) & (orders["qty"] >= 0)).all()
    if spec.release.policy == "conwip":
        assert k["wip"] <= spec.release.wip + 1e-9
    if spec.release.policy == "kanban":
        assert k["inventory"] <= sum(spec.release.cards.values()) + 1e-9
    routes = {r.stations for m in spec.resolved_materials().values() for r in m.routings}
    visited = ops.sort_values(["start", "end"], kind="stable").groupby("unit_id")["station"].agg(
        lambda s: tuple(dict.fromkeys(s)))
    assert all(any(path == route[:len(path)] for route in routes) for path in visited)


def test_materials_without_their_own_cycle_share_one_stream():
    """Regression: each material used to get a fresh stream under the same name, so the first visit of every material
    drew the same time, the second the same second one, ... (found calibrating on the 4TU log)."""
    orders = [{"id": f"O{i}", "release": 0.0, "material": m, "qty": 1} for i, m in enumerate(["A", "B", "C", "D"])]
    materials = {m: {"share": 0.25} for m in "ABCD"}
    spec = _spec([{"name": "M", "cycle": EXP}], {"policy": "trace", "orders": orders}, materials=materials)
    ops = run_once(spec, horizon=1000).operations
    durations = (ops["end"] - ops["start"]).dt.total_seconds().round(6)
    assert len(durations) == 4 and durations.nunique() == 4


def test_the_package_names_the_functions_even_after_their_modules_load():
    import leanlearn.twin.simulation
    import leanlearn.twin.what_if  # noqa: F401
    from leanlearn.twin import simulate as simulate_function
    from leanlearn.twin import whatif

    assert callable(simulate_function) and simulate_function is simulate and callable(whatif)
