"""The sequential test on a rule's own firings (issue 11, point 5): calibration, detection, persistence, hostile input,
and the per-event and batched paths giving identical transitions."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leanlearn.mining.rules import Condition, Rule, Shift
from leanlearn.online.alerts import Alert
from leanlearn.online.base import MonitorError
from leanlearn.online.sequential import BernoulliCusum, arl, calibrate, scores, wilson
from leanlearn.online.settings import TrackerSettings
from leanlearn.online.trackers import RuleTracker


def _rule(confidence=0.95, n=2000, coverage=0.01, shift=None, rid="R"):
    hits = round(confidence * n)
    return Rule((Condition("x", ">", 0.0),), Condition("y", "==", 1), support=coverage * confidence,
                coverage=coverage, confidence=hits / n, lift=5.0, leverage=0.01, conviction=None, n=n, hits=hits,
                p_value=1e-9, p_value_raw=1e-10, ci=wilson(hits, n), base_rate=0.2, id=rid, shift=shift)


def _simulated_run_lengths(cusum: BernoulliCusum, p: float, firings: int, seed: int) -> np.ndarray:
    hits = np.random.default_rng(seed).random(firings) < p
    at = np.array([a.index for a in cusum.update_many(hits)])
    return np.diff(np.concatenate(([-1], at)))


# -- calibration ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("p0", "p1", "target"), [(0.95, 0.75, 300), (0.7, 0.5, 500), (0.3, 0.15, 400)])
def test_the_threshold_is_the_smallest_whose_exact_arl_reaches_the_target(p0, p1, target):
    u, v, h = calibrate(p0, p1, target)
    assert (u, v) == scores(p0, p1) and min(u, v) == 4
    assert arl(p0, u, v, h) >= target > arl(p0, u, v, h - 1)


@pytest.mark.parametrize(("p0", "p1", "target"), [(0.95, 0.75, 300), (0.7, 0.5, 500)])
def test_simulated_false_alarm_rate_matches_the_calibration(p0, p1, target):
    cusum = BernoulliCusum(p0, p1, target)
    runs = _simulated_run_lengths(cusum, p0, 600_000, seed=1)
    exact = arl(p0, cusum.score_hit, cusum.score_miss, cusum.threshold)
    assert len(runs) > 500
    assert abs(runs.mean() / exact - 1) < 0.12  # ~1000 renewals: the mean is within a few % of the exact ARL


def test_the_tracker_calibrates_with_the_rules_firing_rate():
    """False alarms per million events, simulated for a rule held exactly at the pack's lower bound."""
    rule = _rule(0.9, 400, coverage=0.1)
    far = 300.0  # per rule per million events: large, so the quick simulation sees ~150 alarms
    tracker = RuleTracker(rule, TrackerSettings(window=500, false_alarms_per_million=far))
    p0, p1, target = tracker.sequential_params
    assert p0 == pytest.approx(rule.ci[0]) and p1 == pytest.approx(p0 - 0.2)
    assert target == pytest.approx(rule.coverage * 1e6 / far)  # firings between false alarms
    rng = np.random.default_rng(3)
    events = 500_000
    tracker.update_many(rng.random(events) < rule.coverage, rng.random(events) < p0)
    rate = tracker.sequential.n_alarms / events * 1e6
    assert 0.75 * far < rate < 1.25 * far


def test_a_rule_at_its_pack_confidence_raises_fewer_false_alarms_than_calibrated():
    rule = _rule(0.9, 400, coverage=0.1)
    tracker = RuleTracker(rule, TrackerSettings(window=500, false_alarms_per_million=300.0))
    rng = np.random.default_rng(4)
    tracker.update_many(rng.random(500_000) < 0.1, rng.random(500_000) < rule.confidence)
    assert tracker.sequential.n_alarms / 0.5 < 0.5 * 300.0


def test_zero_false_alarms_turns_the_test_off_and_so_does_a_zero_lower_bound():
    assert RuleTracker(_rule(), TrackerSettings(false_alarms_per_million=0)).sequential is None
    weak = _rule(0.0005, 100)
    assert weak.ci[0] < 1e-3 and RuleTracker(weak).sequential is None


# -- detection ---------------------------------------------------------------------------------------------------
def _delay(tracker: RuleTracker, after: float, seed: int, before: int = 100_000, n: int = 160_000) -> int | None:
    rng = np.random.default_rng(seed)
    fired = rng.random(n) < tracker.rule.coverage
    outcome = rng.random(n) < np.where(np.arange(n) < before, tracker.rule.confidence, after)
    tracker.update_many(fired, outcome)
    drift = [t for t in tracker.pop_transitions() if t.state == "drift"]
    if not drift:
        return None
    assert drift[0].event >= before, "a false alarm before the change"
    return int(fired[before:drift[0].event + 1].sum())


def test_a_planted_drop_to_60_percent_reaches_drift_within_a_handful_of_firings():
    rule = _rule(0.97, 1000)
    delays = [_delay(RuleTracker(rule), 0.6, seed) for seed in range(21)]
    old = [_delay(RuleTracker(rule, TrackerSettings(false_alarms_per_million=0)), 0.6, seed) for seed in range(7)]
    assert None not in delays and np.median(delays) <= 18  # benchmarks/detection_delay.py records the figure
    assert np.median(delays) < np.median([d for d in old if d is not None])


def test_the_drift_alert_carries_the_sequential_evidence():
    rule = _rule(0.97, 1000)
    tracker2 = RuleTracker(rule)
    rng = np.random.default_rng(2)
    n, before = 160_000, 100_000
    fired = rng.random(n) < rule.coverage
    outcome = rng.random(n) < np.where(np.arange(n) < before, rule.confidence, 0.5)
    tracker2.update_many(fired, outcome)
    t = next(t for t in tracker2.pop_transitions() if t.state == "drift")
    assert t.test == "sequential" and t.detected_at == t.event
    assert 0 < t.change_fired < 60 and t.change_confidence < 0.75
    lo, hi = t.change_interval
    assert lo < t.change_confidence < hi and hi < rule.ci[0]


def test_a_rule_that_never_held_warns_and_a_sequential_drift_is_not_undone_by_the_old_window():
    rule = _rule(0.95, 2000, coverage=0.05)
    rng = np.random.default_rng(5)
    never = RuleTracker(rule, window=2000).update_many(rng.random(50_000) < 0.05, rng.random(50_000) < 0.5)
    assert never.state == "warning"
    tracker = RuleTracker(rule, window=20_000)  # ~1,000 firings a window: the old ones dominate for long
    n = 60_000
    fired = rng.random(n) < 0.05
    tracker.update_many(fired, rng.random(n) < np.where(np.arange(n) < 40_000, 0.95, 0.6))
    steps = [(t.previous, t.state, t.test) for t in tracker.pop_transitions()]
    assert steps[0] == ("ok", "drift", "sequential") and tracker.state == "drift"


def test_numeric_rules_run_the_test_on_their_binary_evidence():
    rule = _rule(0.95, 2000, coverage=0.05, shift=Shift(60.0, 58.0, 40.0, 40.0, 0.6))
    tracker = RuleTracker(rule, window=2000)
    assert tracker.numeric and tracker.sequential is not None
    rng = np.random.default_rng(6)
    n = 60_000
    hits = rng.random(n) < np.where(np.arange(n) < 40_000, 0.95, 0.6)
    tracker.update_many(rng.random(n) < 0.05, hits, np.where(hits, 60.0, 30.0))
    assert any(t.test == "sequential" for t in tracker.pop_transitions())


# -- the two paths -----------------------------------------------------------------------------------------------
def _transitions_per_event(tracker, fired, outcome, value):
    for i in range(len(fired)):
        tracker.update(bool(fired[i]), bool(outcome[i]), None if value is None else float(value[i]))
    return tracker.pop_transitions()


def _transitions_batched(tracker, fired, outcome, value, cuts):
    out = []
    bounds = [0, *sorted(set(cuts)), len(fired)]
    for lo, hi in itertools.pairwise(bounds):
        tracker.update_many(fired[lo:hi], outcome[lo:hi], None if value is None else value[lo:hi])
        out += tracker.pop_transitions()
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(1, 6000), window=st.sampled_from([20, 200, 2000]),
       min_fired=st.sampled_from([1, 5, 30]), drift_after=st.sampled_from([1, 3]), ok_after=st.sampled_from([1, 4]),
       far=st.sampled_from([0.1, 100.0, 10_000.0]), numeric=st.booleans(),
       cuts=st.lists(st.integers(0, 6000), max_size=6))
def test_per_event_and_batched_paths_give_identical_transitions(seed, n, window, min_fired, drift_after, ok_after,
                                                                  far, numeric, cuts):
    rng = np.random.default_rng(seed)
    rule = _rule(0.9, 500, coverage=0.2, shift=Shift(60.0, 58.0, 40.0, 40.0, 0.6) if numeric else None)
    change = int(rng.integers(0, n + 1))
    p = np.where(np.arange(n) < change, 0.9, rng.choice([0.2, 0.6, 0.85, 0.95]))
    fired = rng.random(n) < rng.choice([0.05, 0.3, 0.9])
    outcome = rng.random(n) < p
    value = np.where(outcome, rng.normal(60, 5, n), rng.normal(30, 5, n)) if numeric else None
    s = TrackerSettings(window=window, min_fired=min_fired, drift_after=drift_after, ok_after=ok_after,
                        false_alarms_per_million=far)
    one, many = RuleTracker(rule, s), RuleTracker(rule, s)
    assert _transitions_per_event(one, fired, outcome, value) == _transitions_batched(many, fired, outcome, value,
                                                                                      [c for c in cuts if c < n])
    assert one.to_json() == many.to_json()


def test_the_paths_agree_with_many_sequential_alarms():
    rng = np.random.default_rng(11)
    n = 40_000
    rule = _rule(0.95, 2000, coverage=0.3)
    p = np.where((np.arange(n) // 5000) % 2 == 0, 0.95, 0.5)
    fired, outcome = rng.random(n) < 0.3, rng.random(n) < p
    s = TrackerSettings(window=300, false_alarms_per_million=50.0)
    one, many = RuleTracker(rule, s), RuleTracker(rule, s)
    a = _transitions_per_event(one, fired, outcome, None)
    b = _transitions_batched(many, fired, outcome, None, list(range(0, n, 3333)))
    assert a == b and sum(t.test == "sequential" for t in a) >= 3 and one.sequential.n_alarms > 10


# -- persistence ---------------------------------------------------------------------------------------------------
def test_checkpoint_mid_stream_continues_exactly():
    rule = _rule(0.95, 2000, coverage=0.05)
    rng = np.random.default_rng(7)
    n = 80_000
    fired = rng.random(n) < 0.05
    outcome = rng.random(n) < np.where(np.arange(n) < 50_000, 0.95, 0.7)
    whole = RuleTracker(rule, window=2000).update_many(fired, outcome)
    first = RuleTracker(rule, window=2000).update_many(fired[:50_000], outcome[:50_000])
    cut = 50_000
    while first.sequential.value == 0:  # cut where the CUSUM is not at zero, so its saved state matters
        first.update_many(fired[cut:cut + 1], outcome[cut:cut + 1])
        cut += 1
    doc = json.loads(json.dumps(first.to_json()))
    assert doc["sequential"]["value"] > 0
    resumed = RuleTracker.from_json(doc, rule)
    resumed.update_many(fired[cut:], outcome[cut:], events=np.arange(cut, n))
    assert first.pop_transitions() + resumed.pop_transitions() == whole.pop_transitions()
    assert resumed.to_json() == whole.to_json()


def test_a_checkpoint_written_before_the_sequential_test_still_loads():
    rule = _rule(0.95, 2000, coverage=0.05)
    rng = np.random.default_rng(8)
    tracker = RuleTracker(rule, window=2000).update_many(rng.random(20_000) < 0.05, rng.random(20_000) < 0.95)
    doc = tracker.to_json()
    for key in ("sequential", "held", "detected_kind", "sequential_position"):
        doc.pop(key)
    for key in ("false_alarms_per_million", "sequential_shift"):
        doc["settings"].pop(key)
    old = RuleTracker.from_json(doc, rule)
    assert old.settings == tracker.settings and old.sequential.value == 0 and old.state == tracker.state
    old.update_many(rng.random(1000) < 0.05, rng.random(1000) < 0.95)


def test_an_alert_without_the_new_fields_still_loads_and_the_evidence_round_trips():
    doc = {"schema": "leanlearn.alert/1", "rule": "R", "text": "t", "target": "y", "previous": "ok",
           "state": "warning", "event": 3, "time": None, "window": "1,000 events", "events": 10, "fired": 5,
           "hits": 1, "confidence": 0.2, "expected": [0.5, 0.9], "evidence": 0.7, "support": 0.1,
           "coverage": 0.5, "base_rate": 0.3, "lift": 0.6, "mean": None, "mean_overall": None, "detected_at": None}
    old = Alert.from_json(doc)
    assert old.test is None and old.change_interval is None
    new = Alert.from_json({**doc, "state": "drift", "test": "sequential", "change_fired": 9, "change_hits": 2,
                           "change_interval": list(wilson(2, 9)), "detected_at": 3})
    assert new.change_confidence == pytest.approx(2 / 9) and Alert.from_json(new.to_json()) == new
    assert "2 of 9 firings since the change point" in new.message and "(sequential)" in new.message


# -- hostile input ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("changes", "message"), [
    ({"false_alarms_per_million": -1}, "false_alarms_per_million=-1: must be a number in [0, 1e+06]"),
    ({"false_alarms_per_million": math.nan}, "false_alarms_per_million=nan"),
    ({"false_alarms_per_million": math.inf}, "false_alarms_per_million=inf"),
    ({"false_alarms_per_million": "1"}, "false_alarms_per_million='1'"),
    ({"false_alarms_per_million": True}, "false_alarms_per_million=True"),
    ({"sequential_shift": 0}, "sequential_shift=0: must be a number in (0, 1)"),
    ({"sequential_shift": 1.5}, "sequential_shift=1.5"),
])
def test_hostile_settings_are_refused_with_one_clear_message(changes, message):
    with pytest.raises(MonitorError, match=None) as info:
        TrackerSettings(**changes)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("args", "message"), [
    ((1.0, 0.5, 100), "p0=1.0 must lie in (0, 1)"), ((0.5, 0.5, 100), "p1=0.5 must lie in (0, p0=0.5)"),
    ((0.5, 0.2, 0.5), "arl=0.5 must be at least 1"), ((0.5, 0.2, math.nan), "arl=nan is not a finite number"),
    ((0.9, 0.8999999, 1e12), "needs a threshold beyond"),
])
def test_hostile_cusum_parameters_are_refused(args, message):
    with pytest.raises(MonitorError, match="sequential test") as info:
        BernoulliCusum(*args)
    assert message in str(info.value)


def test_damaged_saved_states_are_refused_by_name():
    rule = _rule()
    doc = RuleTracker(rule).to_json()
    for damage, words in [
        ({"kind": "other"}, "not a saved sequential test"),
        ({"value": 10**9}, "inconsistent"),
        ({"run_hits": -1}, "run_hits=-1 is not a count"),
        ({"threshold": 3}, "calibration"),
        ({"p0": 0.9}, "calibration"),
        (BernoulliCusum(0.9, 0.7, 1000).to_json(), "calibrated for other evidence"),
    ]:
        bad = json.loads(json.dumps(doc))
        bad["sequential"].update(damage)
        with pytest.raises(MonitorError, match="rule 'R' is damaged") as info:
            RuleTracker.from_json(bad, rule)
        assert words in str(info.value)
    bad = {**doc, "detected_kind": "magic"}
    with pytest.raises(MonitorError, match="detected_kind"):
        RuleTracker.from_json(bad, rule)
