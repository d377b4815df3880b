"""What-if: --vary parsing, spec variants, common random numbers, the Pareto front, the recommendation, the chart."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from leanlearn.twin.simulation import simulate
from leanlearn.twin.spec import LineSpec, SpecError
from leanlearn.twin.what_if import _pareto, apply_vary, parse_vary, whatif

EXP = {"dist": "exponential", "mean": 1.0}


def _kanban() -> LineSpec:
    return LineSpec.from_dict({
        "line": "k", "release": {"policy": "kanban", "cards": {"S1": 2, "S2": 2},
                                 "demand": {"arrivals": {"dist": "exponential", "mean": 1.25}}},
        "stations": [{"name": "S1", "cycle": {"dist": "exponential", "mean": 0.5}},
                     {"name": "S2", "cycle": {"dist": "exponential", "mean": 0.8}}]})


def _push() -> LineSpec:
    return LineSpec.from_dict({"line": "p", "release": {"policy": "push", "arrivals": {"dist": "exponential",
                                                                                       "mean": 1.0}},
                               "stations": [{"name": "S1", "cycle": {"dist": "exponential", "mean": 0.9}},
                                            {"name": "S2", "cycle": 0.5}]})


@pytest.mark.parametrize(("text", "expected"), [
    ("kanban=1..12", ("kanban", list(range(1, 13)))),
    ("batch=1,5,10", ("batch", [1, 5, 10])),
    ("wip=2..10:4", ("wip", [2, 6, 10])),
    ("release.arrivals.mean=0.5..1.5:0.5", ("release.arrivals.mean", [0.5, 1.0, 1.5])),
    ("capacity.S1 = 1, 2", ("capacity.S1", [1, 2])),
])
def test_vary_accepts_ranges_and_lists(text, expected):
    assert parse_vary(text) == expected


@pytest.mark.parametrize(("text", "needle"), [
    ("kanban", "write KEY=VALUES"), ("kanban=", "write KEY=VALUES"), ("kanban=5..1", "LOW <= HIGH"),
    ("batch=1,x", "'x' is not a number"), ("wip=1..100000", "over the limit"),
])
def test_vary_mistakes_are_explained(text, needle):
    with pytest.raises(SpecError, match=needle):
        parse_vary(text)


def test_apply_vary_sets_each_kind_of_key():
    spec = _kanban()
    assert apply_vary(spec, "kanban", 5).release.cards == {"S1": 5, "S2": 5}
    assert apply_vary(spec, "kanban.S1", 7).release.cards == {"S1": 7, "S2": 2}
    assert apply_vary(spec, "capacity.S2", 3).station("S2").capacity == 3
    assert [s.buffer for s in apply_vary(spec, "buffer", 4).stations] == [4, 4]
    assert apply_vary(spec, "batch", 5).resolved_materials()["default"].batch == 5
    assert apply_vary(spec, "stations.S2.cycle.mean", 0.4).station("S2").cycle.mean() == 0.4
    assert apply_vary(_push(), "stations.S2.cycle.mean", 0.7).station("S2").cycle.mean() == 0.7  # was a number
    assert apply_vary(_push(), "release.arrivals.mean", 2.0).release.arrivals.mean() == 2.0


@pytest.mark.parametrize(("key", "value", "needle"), [
    ("wip", 3, "wip is the CONWIP level; this spec's release policy is kanban"),
    ("kanban.S9", 3, "no kanban loop 'S9'"),
    ("capacity.S9", 2, "no station 'S9'"),
    ("capacity", 0, "--vary capacity=0: stations\\[0\\].capacity: must be a whole number >= 1"),
    ("batch.Z", 2, "no material 'Z'"),
])
def test_apply_vary_errors_name_the_vary_option(key, value, needle):
    with pytest.raises(SpecError, match=needle):
        apply_vary(_kanban(), key, value)


def test_variants_share_random_numbers():
    base = simulate(_push(), horizon=300, replications=2, seed=9)
    other = simulate(apply_vary(_push(), "capacity.S1", 2), horizon=300, replications=2, seed=9)
    for a, b in zip(base.replications, other.replications, strict=True):
        assert a.orders["release"].tolist() == b.orders["release"].tolist()  # same arrivals at every point
    first, second = (r.orders["release"].tolist() for r in base.replications)
    assert first[:5] != second[:5]  # replications are independent of each other


def test_pareto_keeps_only_undominated_points():
    table = pd.DataFrame({"throughput": [0.5, 0.6, 0.6, 0.4], "inventory": [2.0, 3.0, 4.0, 2.5],
                          "lead_time_mean": [4.0, 5.0, 5.0, 6.0]})
    assert _pareto(table).tolist() == [True, True, False, False]


def test_grid_over_two_keys_with_service_level():
    result = whatif(_kanban(), {"kanban": [1, 3], "batch": [1, 2]}, horizon=1500, warmup=100, replications=2,
                    seed=1, target_throughput=0.7, target_service_level=0.6)
    assert len(result.table) == 4 and result.search == "grid"
    assert result.table["service_level"].notna().all()
    sl = result.table.set_index(["kanban", "batch"])["service_level"]
    assert sl[(3, 1)] > sl[(1, 1)]
    chosen = result.recommendation
    row = result.table.set_index(["kanban", "batch"]).loc[(chosen["point"]["kanban"], chosen["point"]["batch"])]
    assert row["service_level"] >= 0.6 and row["throughput"] >= 0.7
    assert "service level" in chosen["reason"]
    text = json.dumps(result.to_json(), allow_nan=False)
    assert json.loads(text)["recommendation"]["point"] == chosen["point"]


def test_large_grid_with_a_level_is_bisected():
    spec = LineSpec.from_dict({"line": "c", "release": {"policy": "conwip", "wip": 1},
                               "stations": [{"name": f"S{i}", "cycle": 1.0} for i in range(1, 5)]})
    result = whatif(spec, {"wip": list(range(1, 61))}, target_throughput=0.74, horizon=200.5, warmup=20.5)
    assert result.search == "bisect"
    assert result.recommendation["point"] == {"wip": 3}  # deterministic: TH(w) = min(w / 4, 1)
    assert len(result.table) <= 8


def test_unreachable_target_says_so_and_points_at_the_best():
    result = whatif(_push(), {"capacity.S1": [1, 2]}, target_throughput=5.0, horizon=300, warmup=30)
    assert result.recommendation["meets_target"] is False
    assert "no point meets the target" in result.recommendation["reason"]


def test_without_target_the_least_inventory_near_the_best_throughput():
    result = whatif(_push(), {"capacity.S1": [1, 2, 3]}, horizon=500, warmup=50, replications=2)
    assert result.recommendation["point"]["capacity.S1"] in (1, 2, 3)
    assert "no target given" in result.recommendation["reason"]


def test_plot_writes_a_png(tmp_path):
    result = whatif(_push(), {"capacity.S1": [1, 2]}, target_throughput=0.9, horizon=300, warmup=30,
                    replications=2)
    path = result.plot(tmp_path / "front.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bisect_needs_a_level_and_a_target():
    with pytest.raises(SpecError, match="search=bisect needs a level key"):
        whatif(_push(), {"batch": [1, 2]}, horizon=100, search="bisect")
