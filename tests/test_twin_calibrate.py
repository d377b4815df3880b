"""Calibrating the twin from a log: a planted line's parameters come back, and bad logs end in clear errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from leanlearn.errors import LeanlearnError, SchemaError
from leanlearn.twin.calibrate import calibrate, calibrate_dict, write_spec
from leanlearn.twin.observed import observe
from leanlearn.twin.simulation import simulate
from leanlearn.twin.spec import LineSpec

PLANTED = {
    "line": "planted", "time_unit": "h", "start": "2024-01-01T00:00:00Z",
    "release": {"policy": "push", "arrivals": {"dist": "exponential", "mean": 1.0}},
    "materials": {"X": {"share": 0.6, "routings": [{"stations": ["A", "B", "C"], "weight": 1}]},
                  "Y": {"share": 0.4, "routings": [{"stations": ["A", "C"], "weight": 1}]}},
    "stations": [
        {"name": "A", "cycle": {"dist": "gamma", "mean": 0.6, "cv": 0.5}, "per_unit": False,
         "setup": {"default": {"dist": "uniform", "low": 0.1, "high": 0.3},
                   "matrix": {"Y": {"X": {"dist": "uniform", "low": 0.4, "high": 0.6}}}}},
        {"name": "B", "capacity": 2, "cycle": {"dist": "exponential", "mean": 1.0}, "per_unit": False,
         "breakdowns": {"tbf": {"dist": "exponential", "mean": 40.0},
                        "repair": {"dist": "uniform", "low": 1.0, "high": 3.0}}},
        {"name": "C", "cycle": {"dist": "uniform", "low": 0.3, "high": 0.5}, "per_unit": False},
    ]}


@pytest.fixture(scope="module")
def planted_log():
    run = simulate(LineSpec.from_dict(PLANTED), horizon=400.0, seed=3).replications[0]
    return run.operations, run.downtime


@pytest.fixture(scope="module")
def planted_calibration(planted_log):
    return calibrate_dict(planted_log)


def _values(dist) -> np.ndarray:
    return np.asarray(dist.to_dict()["values"], dtype=float)


def test_planted_cycle_medians_and_capacity_are_recovered(planted_calibration):
    from scipy.stats import gamma

    spec = planted_calibration.line_spec()
    truth = {"A": gamma(a=4.0, scale=0.15).median(), "B": math.log(2.0), "C": 0.4}  # gamma mean 0.6, cv 0.5
    for name, median in truth.items():
        station = spec.station(name)
        assert station.per_unit is False
        assert np.median(_values(station.cycle)) == pytest.approx(median, rel=0.12)
    assert spec.station("B").capacity == 2
    assert spec.station("A").capacity == spec.station("C").capacity == 1


def test_planted_sequence_dependent_setups_are_recovered(planted_calibration):
    setup = planted_calibration.line_spec().station("A").setup
    assert setup is not None and setup.always is False
    assert setup.dist("X", "X") is None  # no setup when the material repeats
    truth = {("X", "Y"): (0.1, 0.3), ("Y", "X"): (0.4, 0.6)}
    for (before, after), (low, high) in truth.items():
        drawn = _values(setup.dist(before, after))
        positive = drawn[drawn > 0]
        assert (drawn > 0).mean() > 0.9  # a change always got its setup
        assert positive.min() >= low - 1e-3 and positive.max() <= high + 1e-3
        assert np.median(positive) == pytest.approx((low + high) / 2, rel=0.15)
    assert planted_calibration.line_spec().station("C").setup is None


def test_a_pair_whose_setups_do_not_differ_stays_in_the_default():
    rng = np.random.default_rng(0)
    t0 = pd.Timestamp("2024-01-01", tz="UTC")
    rows, clock = [], 0.0
    for k in range(120):  # materials alternate A, B, C: every change gets a setup from the same distribution
        material = "ABC"[k % 3]
        setup = rng.uniform(0.5, 1.5)
        for kind, hours in (("setup", setup), ("production", 1.0)):
            rows.append({"order_id": f"o{k}", "material": material, "station": "S1", "kind": kind,
                         "start": t0 + pd.Timedelta(hours=clock), "end": t0 + pd.Timedelta(hours=clock + hours)})
            clock += hours
    setup_spec = calibrate_dict(pd.DataFrame(rows)).line_spec().station("S1").setup
    assert setup_spec is not None and not setup_spec.matrix
    assert np.median(_values(setup_spec.default)) == pytest.approx(1.0, rel=0.15)


def test_planted_breakdowns_are_recovered_per_server(planted_calibration):
    failures = planted_calibration.line_spec().station("B").breakdowns
    assert failures is not None
    assert failures.tbf.mean() == pytest.approx(40.0, rel=0.35)
    assert np.median(_values(failures.repair)) == pytest.approx(2.0, rel=0.25)
    assert planted_calibration.line_spec().station("A").breakdowns is None


def test_planted_materials_keep_their_shares_and_routings(planted_calibration):
    materials = planted_calibration.line_spec().materials
    assert set(materials) == {"X", "Y"}
    assert materials["X"].share == pytest.approx(0.6, abs=0.08)
    top = {name: max(m.routings, key=lambda r: r.weight).stations for name, m in materials.items()}
    assert top == {"X": ("A", "B", "C"), "Y": ("A", "C")}


def test_trace_release_replays_every_observed_order_with_its_routing(planted_log, planted_calibration):
    spec = planted_calibration.line_spec()
    seen = observe(*planted_log)
    assert spec.release.policy == "trace"
    assert len(spec.release.orders) == len(seen.orders)
    replay = {o.id: o.routing for o in spec.release.orders}
    assert all(replay[row.order_id] == row.routing for row in seen.orders.itertuples())
    releases = [o.release for o in spec.release.orders]
    assert releases == sorted(releases) and releases[0] >= 0


def test_push_release_uses_the_observed_arrival_rate(planted_log):
    spec = calibrate_dict(planted_log, release="push").line_spec()
    assert spec.release.policy == "push"
    assert spec.release.arrivals.mean() == pytest.approx(1.0, rel=0.15)


def test_transfer_is_the_gap_plus_the_idle_time_inside_the_next_visit():
    t = lambda h: pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=h)  # noqa: E731
    rows = []
    for k, base in enumerate((0, 100)):
        order = f"o{k}"
        rows += [{"order_id": order, "station": "S1", "kind": "production", "start": t(base), "end": t(base + 1)},
                 # 2 h between the visits, then S2's visit is split by 1 h of nothing
                 {"order_id": order, "station": "S2", "kind": "production", "start": t(base + 3), "end": t(base + 4)},
                 {"order_id": order, "station": "S2", "kind": "production", "start": t(base + 5), "end": t(base + 6)}]
    calibration = calibrate_dict(pd.DataFrame(rows))
    assert calibration.spec["transfer"] == pytest.approx(3.0)
    assert calibration.line_spec().station("S2").cycle.mean() == pytest.approx(2.0)  # work content of a visit


def test_a_daily_break_in_the_log_becomes_shifts():
    t0 = pd.Timestamp("2024-01-01 06:00", tz="UTC")
    rows = []
    for day in range(10):
        for k in range(8):  # work only from 06:00 to 22:00
            start = t0 + pd.Timedelta(days=day, hours=2 * k)
            rows.append({"order_id": f"o{day}-{k}", "station": "S1", "kind": "production", "start": start,
                         "end": start + pd.Timedelta(hours=2)})
    spec = calibrate_dict(pd.DataFrame(rows)).line_spec()
    shifts = spec.station("S1").shifts
    assert shifts is not None
    assert (shifts.hours_per_day, shifts.start_hour) == (16, 6)


def test_a_log_worked_around_the_clock_has_no_shifts(planted_calibration):
    assert all(s.shifts is None for s in planted_calibration.line_spec().stations)


def test_a_station_with_one_visit_gets_its_one_time(planted_log):
    ops = planted_log[0]
    lone = ops.iloc[[0]].assign(station="Z", kind="production", order_id="lonely")
    spec = calibrate_dict((pd.concat([ops, lone], ignore_index=True), planted_log[1])).line_spec()
    hours = (lone["end"].iloc[0] - lone["start"].iloc[0]) / pd.Timedelta(hours=1)
    assert spec.station("Z").cycle.mean() == pytest.approx(hours, abs=1e-4)
    assert spec.station("Z").cycle.to_dict() == pytest.approx(round(hours, 4))  # a number: deterministic


def test_tuned_spec_written_with_provenance_reads_back_equal(planted_log, tmp_path):
    path = tmp_path / "twin.yaml"
    spec = calibrate(planted_log, out=path, refine=0)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Line spec calibrated by leanlearn")
    assert "# Log: " in text and "transfer: observed unmodelled time between visits ×" in text
    assert LineSpec.from_yaml(path) == spec
    assert write_spec(spec, tmp_path / "bare.yaml").read_text(encoding="utf-8").startswith("# Line spec")


# -- hostile inputs -------------------------------------------------------------------------------------------------
def _ops(**columns) -> pd.DataFrame:
    t = pd.Timestamp("2024-01-01", tz="UTC")
    base = {"order_id": ["o1", "o2"], "station": ["S1", "S1"], "kind": ["production"] * 2,
            "start": [t, t + pd.Timedelta(hours=2)], "end": [t + pd.Timedelta(hours=1), t + pd.Timedelta(hours=3)]}
    base.update(columns)
    return pd.DataFrame({k: v for k, v in base.items() if v is not None})


def test_an_empty_log_is_refused_saying_so():
    with pytest.raises(SchemaError, match="empty"):
        calibrate_dict(_ops().iloc[:0])


def test_a_log_without_orders_is_refused_naming_the_column():
    with pytest.raises(SchemaError, match="'order_id'"):
        calibrate_dict(_ops(order_id=None))


def test_a_log_without_start_times_is_refused_naming_the_column():
    with pytest.raises(SchemaError, match="'start'"):
        calibrate_dict(_ops(start=None))


def test_a_log_of_one_order_is_too_little():
    with pytest.raises(SchemaError, match="at least 2 orders"):
        calibrate_dict(_ops(order_id=["o1", "o1"]))


def test_unreadable_time_is_refused_with_an_example():
    with pytest.raises(SchemaError, match="not an ISO 8601 timestamp"):
        calibrate_dict(_ops(start=["yesterday", "today"]))


@pytest.mark.parametrize("settings, words", [
    ({"time_unit": "weeks"}, "time_unit"), ({"release": "pull"}, "release"), ({"busy_min_visits": 0}, "busy_min"),
    ({"min_pair_changeovers": 2.5}, "min_pair"),
])
def test_bad_settings_are_refused_by_name(settings, words):
    with pytest.raises(LeanlearnError, match=words):
        calibrate_dict(_ops(), **settings)


def test_a_source_that_is_no_table_is_refused():
    with pytest.raises(SchemaError, match="cannot read operations"):
        calibrate_dict(42)
    with pytest.raises(SchemaError, match="no 'operations' table"):
        calibrate_dict({"downtime": _ops()})
