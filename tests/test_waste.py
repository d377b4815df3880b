"""Waste detection: planted process-time shifts are found fast, at the right station, with the right cause;
mutual information between wastes finds a planted link and none where there is none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leanlearn.errors import SchemaError
from leanlearn.lean.waste import attribute_shift, detect_shifts, waste_indicators, waste_mutual_information

T0 = pd.Timestamp("2024-03-04 06:00", tz="UTC")
STATIONS = ("S1", "S2", "S3", "S4")
SEEDS = range(10)
TAKT_S = 60.0


def synthetic_line(seed: int, n_units: int = 400, shifted: str | None = "S3", factor: float = 1.3,
                   shift_unit: int = 200, sigma: float = 0.10, mix: float = 1.0) -> tuple[pd.DataFrame, pd.Timestamp]:
    """A serial line, one unit released per takt (60 s), FIFO single-machine stations with lognormal cycle times
    (CV ≈ 10 %) that depend on the feed rate. From the release of unit ``shift_unit`` on, the feed at ``shifted``
    drops by ``factor``, so its cycles get ``factor`` times longer; temperature, pressure and material are noise.
    With ``mix`` != 1, units come in orders of 20 of one material, and material B takes ``mix`` times longer."""
    rng = np.random.default_rng(seed)
    orders = np.random.default_rng(seed + 1000).choice(["A", "B"], n_units // 20 + 1)
    unit_material = np.repeat(orders, 20)[:n_units]
    base = dict(zip(STATIONS, (42.0, 45.0, 40.0, 44.0)))
    change_s = shift_unit * TAKT_S
    arrive = np.arange(n_units) * TAKT_S
    rows = []
    for station in STATIONS:
        free, ends = 0.0, np.empty(n_units)
        for i in range(n_units):
            start = max(arrive[i], free)
            feed = rng.normal(1.0, 0.01) / (factor if station == shifted and start >= change_s else 1.0)
            seconds = base[station] / feed * rng.lognormal(0.0, sigma)
            material = rng.choice(["A", "B"])
            if mix != 1.0:
                material = unit_material[i]
                seconds *= mix if material == "B" else 1.0
            rows.append((station, f"u{i:04d}", start, start + seconds, feed, rng.normal(60, 2), rng.normal(5, 0.2),
                         material))
            free = ends[i] = start + seconds
        arrive = ends + rng.exponential(5.0, n_units)  # transport to the next station
    frame = pd.DataFrame(rows, columns=["station", "unit_id", "s", "e", "feed", "temperature", "pressure",
                                        "material"])
    frame["start"] = T0 + pd.to_timedelta(frame.pop("s"), unit="s")
    frame["end"] = T0 + pd.to_timedelta(frame.pop("e"), unit="s")
    frame["line"], frame["kind"] = "L1", "production"
    return frame, T0 + pd.Timedelta(seconds=change_s)


@pytest.fixture(scope="module")
def runs() -> list[tuple[pd.DataFrame, pd.Timestamp]]:
    """Detections on the shifted line for seeds 0..9, with the planted change time."""
    out = []
    for seed in SEEDS:
        ops, change = synthetic_line(seed)
        out.append((detect_shifts(ops, takt=TAKT_S / 60), change))
    return out


def _true_detection(found: pd.DataFrame, change: pd.Timestamp) -> pd.Series | None:
    hits = found[(found["station"] == "S3") & (found["detected_at"] >= change)]
    return hits.iloc[0] if len(hits) else None


def test_planted_shift_is_detected_within_five_takts_median_over_seeds(runs) -> None:
    delays = []
    for found, change in runs:
        hit = _true_detection(found, change)
        delays.append(np.inf if hit is None else (hit["detected_at"] - change).total_seconds() / TAKT_S)
    assert np.isfinite(delays).all(), delays
    assert np.median(delays) <= 5.0, delays


def test_first_detection_after_the_shift_is_at_the_shifted_station(runs) -> None:
    first = [found[found["detected_at"] >= change].iloc[0]["station"] for found, change in runs]
    assert first == ["S3"] * len(runs)


def test_few_false_alarms_on_unshifted_stations(runs) -> None:
    false_alarms = 0
    for found, change in runs:
        hit = _true_detection(found, change)
        false_alarms += len(found) - (hit is not None)
    # 10 seeds × 4 stations × 400 operations = 16,000 monitored operations
    assert false_alarms <= 3, false_alarms


def test_stable_line_raises_almost_no_alarm() -> None:
    alarms = sum(len(detect_shifts(synthetic_line(seed, shifted=None)[0])) for seed in SEEDS)
    assert alarms <= 3, alarms


def test_detection_attributes_the_shift_to_the_moved_parameter(runs) -> None:
    hits = [_true_detection(found, change) for found, change in runs]
    assert [h["parameter"] for h in hits] == ["feed"] * len(hits)
    assert all(h["direction"] == "up" and h["parameter_smd"] < -5 for h in hits)
    ratios = [h["ratio"] for h in hits]
    assert 1.2 < np.median(ratios) < 1.4, ratios


def test_estimated_change_time_is_close_to_the_planted_one(runs) -> None:
    errors = [abs((_true_detection(f, c)["changed_at"] - c).total_seconds()) / TAKT_S for f, c in runs]
    assert np.median(errors) <= 2.0, errors


def test_shorter_cycles_are_reported_as_a_downward_shift() -> None:
    ops, change = synthetic_line(3, factor=0.7)
    found = detect_shifts(ops)
    hit = found[(found["station"] == "S3") & (found["detected_at"] >= change)].iloc[0]
    assert hit["direction"] == "down" and hit["parameter"] == "feed" and hit["ratio"] < 0.8


def test_product_mix_is_not_taken_for_a_process_shift_when_compared_by_material() -> None:
    plain = by_material = 0
    delays = []
    for seed in range(5):
        ops, change = synthetic_line(seed, mix=1.25, sigma=0.05)
        plain += len(detect_shifts(ops))
        found = detect_shifts(ops, by=["material"])
        hits = found[(found["station"] == "S3") & (found["detected_at"] >= change)]
        delays.append((hits["detected_at"].iloc[0] - change).total_seconds() / TAKT_S)
        assert hits["parameter"].iloc[0] == "feed" and "material" not in set(found["parameter"])
        by_material += len(found) - 1
    assert plain > 20 * 5  # every order change of material looks like a shift
    assert by_material <= 2 and np.median(delays) <= 5.0, (by_material, delays)


def test_delay_in_takts_is_reported_when_the_takt_is_given(runs) -> None:
    found, _ = runs[0]
    expected = found["delay"].dt.total_seconds() / TAKT_S
    assert np.allclose(found["delay_takts"], expected)


def test_attribution_ranks_a_switched_category_first() -> None:
    rng = np.random.default_rng(0)
    before = pd.DataFrame({"tool": ["T1"] * 40, "speed": rng.normal(100, 5, 40)})
    after = pd.DataFrame({"tool": ["T2"] * 35 + ["T1"] * 5, "speed": rng.normal(100, 5, 40)})
    ranking = attribute_shift(before, after, ["speed", "tool"])
    assert ranking["parameter"].tolist() == ["tool", "speed"]
    assert ranking.loc[0, "score"] == pytest.approx(35 / 40)
    assert (ranking.loc[0, "before"], ranking.loc[0, "after"]) == ("T1", "T2")


def test_unknown_parameter_column_is_a_schema_error() -> None:
    ops, _ = synthetic_line(0, n_units=60)
    with pytest.raises(SchemaError, match="'humidity'"):
        detect_shifts(ops, parameters=["humidity"])


# -- mutual information between wastes ---------------------------------------------------------------------------------
def _orders(seed: int, linked: bool, n: int = 300) -> pd.DataFrame:
    """Per order: waiting minutes and rejected pieces; when linked, long waits (e.g. parts corroding in the queue)
    raise the reject rate."""
    rng = np.random.default_rng(seed)
    waiting = rng.exponential(120.0, n)
    rate = 0.3 + (waiting / 60.0 if linked else np.full(n, 2.0))
    return pd.DataFrame({"waiting_min": waiting, "qty_rejected": rng.poisson(rate),
                         "setup_min": rng.gamma(4.0, 15.0, n)})


def test_mutual_information_finds_a_planted_link() -> None:
    for seed in SEEDS:
        result = waste_mutual_information(_orders(seed, linked=True), ["waiting_min", "qty_rejected"],
                                          n_permutations=199, seed=seed)
        row = result.iloc[0]
        assert row["p_value"] == pytest.approx(1 / 200), (seed, row.to_dict())
        assert row["mi_bits"] > 5 * row["mi_null_bits"]


def test_mutual_information_finds_no_link_between_independent_wastes() -> None:
    p_values = [
        waste_mutual_information(_orders(seed, linked=False), ["waiting_min", "qty_rejected"], n_permutations=199,
                                 seed=seed)["p_value"].iloc[0]
        for seed in range(20)
    ]
    assert sum(p > 0.05 for p in p_values) >= 17, p_values


def test_mutual_information_tests_every_pair_and_bounds_its_values() -> None:
    result = waste_mutual_information(_orders(0, linked=True), n_permutations=99)
    assert {frozenset(p) for p in zip(result["x"], result["y"])} == {
        frozenset(p) for p in (("waiting_min", "qty_rejected"), ("waiting_min", "setup_min"),
                               ("qty_rejected", "setup_min"))}
    assert result["p_value"].between(1 / 100, 1).all()
    assert result["nmi"].between(0, 1).all() and (result["mi_bits"] >= 0).all()
    assert result.iloc[0][["x", "y"]].tolist() == ["waiting_min", "qty_rejected"]


def test_mutual_information_needs_two_known_columns() -> None:
    with pytest.raises(SchemaError, match="'nope'"):
        waste_mutual_information(_orders(0, linked=True), ["waiting_min", "nope"])
    with pytest.raises(SchemaError, match="two columns"):
        waste_mutual_information(_orders(0, linked=True), ["waiting_min"])


def test_waste_indicators_per_order_come_from_timestamps() -> None:
    t = lambda minutes: T0 + pd.Timedelta(minutes=minutes)  # noqa: E731
    ops = pd.DataFrame({
        "order_id": ["o1", "o1", "o1", "o2"], "station": ["A", "A", "B", "B"],
        "kind": ["setup", "production", "production", "production"], "qty_rejected": [0, 1, 2, 0],
        "start": [t(0), t(10), t(50), t(0)], "end": [t(10), t(30), t(60), t(20)],
    })
    down = pd.DataFrame({"order_id": ["o1"], "station": ["A"], "start": [t(12)], "end": [t(17)]})
    table = waste_indicators(ops, down).set_index("key")
    assert table.loc["o1", ["lead_min", "waiting_min", "setup_min", "downtime_min", "qty_rejected"]].tolist() == [
        60.0, 20.0, 10.0, 5.0, 3]
    assert table.loc["o2", ["lead_min", "waiting_min", "setup_min", "downtime_min"]].tolist() == [20.0, 0, 0, 0]
