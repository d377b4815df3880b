"""The line spec: every key validated with the key path in the message, YAML round trip, limits, distributions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leanlearn.errors import LeanlearnError
from leanlearn.twin.distributions import Empirical, from_spec
from leanlearn.twin.spec import MAX_STATIONS, LineSpec, SpecError, load_spec, max_events

EXP = {"dist": "exponential", "mean": 1.0}


def _spec(**over):
    doc = {"line": "L1", "release": {"policy": "conwip", "wip": 4},
           "stations": [{"name": "S1", "cycle": EXP}, {"name": "S2", "cycle": EXP}]}
    doc.update(over)
    return doc


def _error(doc, source="spec.yaml") -> str:
    with pytest.raises(SpecError) as info:
        LineSpec.from_dict(doc, source=source)
    return str(info.value)


def test_spec_error_is_a_leanlearn_error():
    assert issubclass(SpecError, LeanlearnError)


def test_negative_mean_names_file_and_key_path():
    doc = _spec(stations=[{"name": "S1", "cycle": EXP}, {"name": "S2", "cycle": {"dist": "exponential", "mean": -1}}])
    assert _error(doc) == "spec.yaml: stations[1].cycle.mean: must be a positive number, got -1"


@pytest.mark.parametrize(("change", "needle"), [
    ({"line": ""}, "spec.yaml: line: must be non-empty text"),
    ({"time_unit": "hours"}, "spec.yaml: time_unit: is 'hours'; choose one of s, min, h, d"),
    ({"start": "yesterday-ish"}, "spec.yaml: start: is 'yesterday-ish', not a timestamp"),
    ({"release": {"policy": "conwip"}}, "spec.yaml: release.wip: missing"),
    ({"release": {"policy": "conwip", "wip": 0}}, "spec.yaml: release.wip: must be a whole number >= 1, got 0"),
    ({"release": {"policy": "conwip", "wip": 3, "cards": 2}}, "release.cards: does not apply to policy conwip"),
    ({"release": {"policy": "push"}}, "spec.yaml: release.arrivals: missing"),
    ({"release": {"policy": "push", "arrivals": 0}}, "release.arrivals: must be a positive number, got 0"),
    ({"release": {"policy": "kanban", "cards": {"S1": 2}}}, "release.cards: has no cards for station(s) S2"),
    ({"release": {"policy": "kanban", "cards": {"S1": 2, "S9": 1}}}, "release.cards.S9: unknown key"),
    ({"release": {"policy": "kanban", "cards": 2, "signal": "predictive"}}, "predictive needs customer demand"),
    ({"release": {"policy": "kanban", "cards": 2, "demand": {}}}, "release.demand: needs exactly one of"),
    ({"release": {"policy": "trace", "orders": [{"id": "O1", "release": -1}]}},
     "release.orders[0].release: must be a number >= 0, got -1"),
    ({"release": {"policy": "trace", "orders": [{"id": "O1", "release": 0, "routing": ["S1", "S7"]}]}},
     "release.orders[0].routing[1]: is 'S7', not a station"),
    ({"transfer": {"dist": "uniform", "low": 2, "high": 1}}, "spec.yaml: transfer.high: must be >= low (2.0), got 1"),
    ({"materials": {"A": {"share": 0}}}, "materials.A.share: must be a positive number, got 0"),
    ({"materials": {"A": {"routings": [{"stations": ["S3"]}]}}}, "materials.A.routings[0].stations[0]: is 'S3'"),
    ({"materials": {"A": {"batch": 2.5}}}, "materials.A.batch: must be a whole number >= 1, got 2.5"),
    ({"materials": {"A": {"colour": "red"}}}, "materials.A.colour: unknown key"),
    ({"stations": []}, "spec.yaml: stations: must be a non-empty list"),
    ({"stations": [{"name": "S1", "cycle": 1}, {"name": "S1", "cycle": 1}]}, "stations[1].name: 'S1' is listed twice"),
    ({"stations": [{"name": "S1"}]}, "spec.yaml: stations[0].cycle: missing"),
    ({"stations": [{"name": "S1", "cycle": 1, "capacity": 0}]}, "stations[0].capacity: must be a whole number >= 1"),
    ({"stations": [{"name": "S1", "cycle": 1, "buffer": 0}]}, "stations[0].buffer: must be a whole number >= 1"),
    ({"stations": [{"name": "S1", "cycle": 1, "scrap": 1.5}]}, "stations[0].scrap: must be a number from 0 to 1"),
    ({"stations": [{"name": "S1", "cycle": 1, "per_unit": "yes"}]}, "stations[0].per_unit: must be true or false"),
    ({"stations": [{"name": "S1", "cycle": 1, "shifts": {"hours_per_day": 30}}]},
     "stations[0].shifts.hours_per_day: must be at most 24"),
    ({"stations": [{"name": "S1", "cycle": 1, "breakdowns": {"tbf": 10}}]}, "stations[0].breakdowns.repair: missing"),
    ({"stations": [{"name": "S1", "cycle": 1, "breakdowns": {"tbf": 10, "repair": 1, "basis": "wall"}}]},
     "stations[0].breakdowns.basis: is 'wall'; choose one of clock, busy"),
    ({"stations": [{"name": "S1", "cycle": 1, "setup": {"matrix": {"A": {"B": 1}}}}]},
     "stations[0].setup.matrix.A: is not a material; materials: default (declare them"),
    ({"stations": [{"name": "S1", "cycle": {"dist": "weibull", "shape": 2}}]},
     "stations[0].cycle.dist: is 'weibull'; choose one of"),
    ({"stations": [{"name": "S1", "cycle": {"dist": "gamma", "mean": 1}}]}, "stations[0].cycle.cv: missing"),
    ({"stations": [{"name": "S1", "cycle": {"dist": "empirical", "values": [1, 2], "weights": [1]}}]},
     "stations[0].cycle.weights: has 1 weights for 2 values"),
    ({"stations": [{"name": "S1", "cycle": {"dist": "erlang", "mean": 1, "k": 0}}]},
     "stations[0].cycle.k: must be a whole number >= 1, got 0"),
    ({"stations": [{"name": "S1", "cycle": 1, "cycle_by_material": {"Z": 2}}]},
     "stations[0].cycle_by_material.Z: is not a material"),
    ({"colour": "blue"}, "spec.yaml: colour: unknown key; allowed keys: line, time_unit"),
])
def test_every_mistake_names_its_key_path(change, needle):
    assert needle in _error(_spec(**change))


def test_unknown_key_suggests_the_close_one():
    message = _error(_spec(stations=[{"name": "S1", "cycle": 1, "capacty": 2}]))
    assert "stations[0].capacty: unknown key; did you mean 'capacity'?" in message


def test_kanban_needs_one_route_for_every_material():
    doc = _spec(release={"policy": "kanban", "cards": 2},
                materials={"A": {"routings": [["S1", "S2"]]}, "B": {"routings": [["S2"]]}})
    assert "kanban needs one route shared by every material" in _error(doc)


def test_too_many_stations_is_refused_with_the_limit():
    stations = [{"name": f"S{i}", "cycle": 1} for i in range(MAX_STATIONS + 1)]
    assert f"over the limit of {MAX_STATIONS:,}" in _error(_spec(stations=stations))


def test_event_limit_comes_from_the_environment():
    assert max_events({"LEANLEARN_TWIN_MAX_EVENTS": "5_000"}) == 5000
    with pytest.raises(SpecError, match="LEANLEARN_TWIN_MAX_EVENTS"):
        max_events({"LEANLEARN_TWIN_MAX_EVENTS": "lots"})


FULL = {
    "line": "full", "time_unit": "min", "start": "2012-01-02T06:00:00Z",
    "release": {"policy": "push", "arrivals": {"dist": "exponential", "mean": 30.0}, "max_orders": 50},
    "materials": {"A": {"share": 0.6, "routings": [{"stations": ["S1", "S2"], "weight": 1.0}], "qty": 4.0,
                        "batch": 2},
                  "B": {"share": 0.4, "routings": [{"stations": ["S2"], "weight": 2.0}],
                        "qty": {"dist": "uniform", "low": 1.0, "high": 5.0}}},
    "transfer": 1.5,
    "stations": [
        {"name": "S1", "capacity": 2, "cycle": {"dist": "gamma", "mean": 3.0, "cv": 0.4},
         "cycle_by_material": {"B": {"dist": "triangular", "low": 1.0, "mode": 2.0, "high": 4.0}},
         "setup": {"default": 2.0, "matrix": {"A": {"B": {"dist": "lognormal", "mean": 5.0, "sd": 1.0}}}},
         "breakdowns": {"tbf": {"dist": "exponential", "mean": 600.0}, "repair": {"dist": "erlang", "mean": 30.0,
                                                                                   "k": 3}, "basis": "busy"},
         "buffer": 5, "scrap": 0.02, "shifts": {"hours_per_day": 16.0, "start_hour": 6.0}},
        {"name": "S2", "cycle": {"dist": "empirical", "values": [4.0, 5.0, 6.0], "weights": [1.0, 2.0, 1.0]},
         "per_unit": False, "setup": {"default": {"dist": "normal", "mean": 3.0, "sd": 1.0}, "always": True}},
    ],
}


def test_a_spec_using_every_key_round_trips_through_yaml(tmp_path):
    spec = LineSpec.from_dict(FULL, source="full.yaml")
    path = tmp_path / "full.yaml"
    spec.to_yaml(path)
    again = load_spec(path)
    assert again == spec
    assert again.to_dict() == spec.to_dict()
    assert spec.start == "2012-01-02T06:00:00+00:00"


def test_yaml_timestamps_and_trace_orders_round_trip(tmp_path):
    path = tmp_path / "trace.yaml"
    path.write_text("line: t\nstart: 2012-01-02T00:00:00Z\nrelease:\n  policy: trace\n  orders:\n"
                    "    - {id: O1, release: 0.0, qty: 10, routing: [S1]}\n    - {id: O2, release: 2.5}\n"
                    "stations:\n  - {name: S1, cycle: 0.1}\n")
    spec = load_spec(path)
    assert spec.start == "2012-01-02T00:00:00+00:00"
    assert [o.id for o in spec.release.orders] == ["O1", "O2"]
    assert LineSpec.from_dict(spec.to_dict()) == spec


def test_invalid_yaml_is_one_spec_error_naming_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("line: [unclosed\n")
    with pytest.raises(SpecError, match="broken.yaml: not valid YAML at line"):
        load_spec(path)
    with pytest.raises(SpecError, match="no such line spec file"):
        load_spec(tmp_path / "missing.yaml")


# -- property tests -------------------------------------------------------------------------------------------------
_pos = st.floats(min_value=0.01, max_value=1e4, allow_nan=False)
_dists = st.one_of(
    _pos,
    st.builds(lambda m: {"dist": "exponential", "mean": m}, _pos),
    st.builds(lambda a, b: {"dist": "uniform", "low": min(a, b), "high": max(a, b)}, _pos, _pos),
    st.builds(lambda m, cv: {"dist": "gamma", "mean": m, "cv": cv}, _pos, st.floats(0, 3)),
    st.builds(lambda m, k: {"dist": "erlang", "mean": m, "k": k}, _pos, st.integers(1, 20)),
    st.builds(lambda m, s: {"dist": "lognormal", "mean": m, "sd": s}, _pos, st.floats(0, 100)),
    st.builds(lambda v: {"dist": "empirical", "values": v}, st.lists(_pos, min_size=1, max_size=20)),
    st.builds(lambda a, b, c: dict(zip(("low", "mode", "high"), sorted((a, b, c)), strict=True),
                                   dist="triangular"), _pos, _pos, _pos),
)
_release = st.one_of(
    st.builds(lambda w: {"policy": "conwip", "wip": w}, st.integers(1, 100)),
    st.builds(lambda d: {"policy": "push", "arrivals": d}, _dists),
    st.builds(lambda c: {"policy": "kanban", "cards": c}, st.integers(1, 50)),
)


@st.composite
def _specs(draw):
    n = draw(st.integers(1, 6))
    stations = []
    for i in range(n):
        item = {"name": f"S{i}", "cycle": draw(_dists), "capacity": draw(st.integers(1, 4))}
        if draw(st.booleans()):
            item["buffer"] = draw(st.integers(1, 50))
        if draw(st.booleans()):
            item["breakdowns"] = {"tbf": draw(_dists), "repair": draw(_dists),
                                  "basis": draw(st.sampled_from(["clock", "busy"]))}
        if draw(st.booleans()):
            item["scrap"] = draw(st.floats(0, 0.5))
        stations.append(item)
    doc = {"line": draw(st.text(alphabet="abcXYZ-_ 0123", min_size=1, max_size=10).filter(str.strip)),
           "time_unit": draw(st.sampled_from(["s", "min", "h", "d"])), "release": draw(_release),
           "stations": stations}
    if draw(st.booleans()):
        doc["transfer"] = draw(_dists)
    return doc


@settings(max_examples=60, deadline=None)
@given(_specs())
def test_any_valid_spec_round_trips(doc):
    spec = LineSpec.from_dict(doc)
    assert LineSpec.from_dict(spec.to_dict()) == spec


@settings(max_examples=60, deadline=None)
@given(_dists, st.integers(0, 2**32 - 1))
def test_distributions_sample_non_negative_and_round_trip(raw, seed):
    dist = from_spec(raw, "x")
    draws = dist.sample_many(np.random.default_rng(seed), 50)
    assert draws.shape == (50,) and (draws >= 0).all()
    assert from_spec(dist.to_dict(), "x") == dist
    assert dist.mean() >= 0


@pytest.mark.parametrize("raw", [
    {"dist": "exponential", "mean": 2.0}, {"dist": "gamma", "mean": 2.0, "cv": 0.5},
    {"dist": "lognormal", "mean": 2.0, "sd": 1.0}, {"dist": "erlang", "mean": 2.0, "k": 4},
    {"dist": "uniform", "low": 1.0, "high": 3.0}, {"dist": "triangular", "low": 1.0, "mode": 1.5, "high": 3.5},
    {"dist": "normal", "mean": 2.0, "sd": 0.3}, {"dist": "empirical", "values": [1, 2, 3], "weights": [1, 1, 2]},
])
def test_sample_mean_matches_the_stated_mean(raw):
    dist = from_spec(raw, "x")
    draws = dist.sample_many(np.random.default_rng(0), 200_000)
    assert draws.mean() == pytest.approx(dist.mean(), rel=0.01)


def test_normal_mean_is_the_truncated_mean():
    dist = from_spec({"dist": "normal", "mean": 0.5, "sd": 1.0}, "x")
    draws = dist.sample_many(np.random.default_rng(1), 200_000)
    assert (draws >= 0).all()
    assert draws.mean() == pytest.approx(dist.mean(), rel=0.01)
    assert dist.mean() > 0.5


def test_empirical_resamples_only_its_values():
    dist = from_spec({"dist": "empirical", "values": [0.8, 1.1, 0.9]}, "x")
    assert isinstance(dist, Empirical)
    assert set(dist.sample_many(np.random.default_rng(0), 1000).tolist()) == {0.8, 1.1, 0.9}
