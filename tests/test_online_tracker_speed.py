"""The per-event path of RuleTracker keeps its window as Python tuples (a deque) and the batched path as numpy
columns: whatever the mix of paths, saves and trims, the states, transitions and saved documents are the same."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leanlearn.mining.rules import Condition, Rule, Shift
from leanlearn.online import trackers
from leanlearn.online.settings import TrackerSettings
from leanlearn.online.trackers import RuleTracker


def _rule(numeric: bool) -> Rule:
    return Rule((Condition("x", ">", 1.0),), Condition("y", ">" if numeric else "==", 1.0 if numeric else 1),
                support=0.1, coverage=0.1, confidence=0.9, lift=4.5, leverage=0.08, conviction=8.0, n=500, hits=450,
                p_value=1e-9, p_value_raw=1e-10, ci=(0.85, 0.94), base_rate=0.2, id="R1",
                shift=Shift(2.0, 1.9, 1.0, 1.0, 0.5) if numeric else None)


def _stream(seed: int, n: int, numeric: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    rng = np.random.default_rng(seed)
    change = int(rng.integers(0, n))
    fired = rng.random(n) < rng.uniform(0.02, 1.0)
    p = np.where(np.arange(n) < change, 0.9, rng.uniform(0.2, 0.95))
    hit = rng.random(n) < p
    value = np.where(hit, rng.normal(2.0, 0.5, n), rng.normal(0.5, 0.5, n)) if numeric else None
    return fired, hit, value


def _per_event(t: RuleTracker, fired, hit, value, start: int, stop: int) -> None:
    for i in range(start, stop):
        t.update(bool(fired[i]), bool(hit[i]), None if value is None else float(value[i]), event=i, position=i)


def _doc(t: RuleTracker) -> str:
    return json.dumps(t.to_json(), sort_keys=True)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(1, 2500), window=st.integers(3, 600),
       numeric=st.booleans(), deque_max=st.sampled_from([4, 40, 10_000]),
       plan=st.lists(st.tuples(st.floats(0, 1), st.sampled_from(["event", "batch", "save", "trim"])), max_size=8))
def test_any_mix_of_paths_saves_and_trims_gives_the_per_event_result(seed, n, window, numeric, deque_max, plan):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(trackers, "DEQUE_MAX", deque_max)  # small: the per-event path switches forms often
        _mix(seed, n, window, numeric, plan)


def _mix(seed, n, window, numeric, plan) -> None:
    fired, hit, value = _stream(seed, n, numeric)
    s = TrackerSettings(window, min_fired=3, alpha=0.2)
    whole = RuleTracker(_rule(numeric), s)
    _per_event(whole, fired, hit, value, 0, n)
    mixed = RuleTracker(_rule(numeric), s)
    got = []
    start = 0
    for cut, action in [*sorted(plan), (1.0, "event")]:
        stop = max(start, int(cut * n))
        if action == "batch":
            mixed.update_many(fired[start:stop], hit[start:stop], None if value is None else value[start:stop],
                              events=np.arange(start, stop))
        else:
            _per_event(mixed, fired, hit, value, start, stop)
        got += mixed.pop_transitions()  # (pending transitions are not part of a save)
        if action == "save":
            mixed = RuleTracker.from_json(json.loads(_doc(mixed)), mixed.rule)
        elif action == "trim" and stop:
            mixed.trim(stop - 1)
        start = stop
    assert got == whole.pop_transitions()
    if n:
        whole.trim(n - 1)
        mixed.trim(n - 1)
    batched = RuleTracker(_rule(numeric), s).update_many(fired, hit, value)
    if n:
        batched.trim(n - 1)
    assert _doc(mixed) == _doc(whole) == _doc(batched)
    assert mixed.window_counts() == whole.window_counts() == batched.window_counts() == whole.window_counts(n - 1)
    assert mixed.window_counts(n - 1) == whole.window_counts(n - 1)
    assert mixed.window_mean(n - 1) == whole.window_mean(n - 1)


def test_a_window_fuller_than_the_deque_limit_goes_back_to_numpy_and_stays_exact():
    n = 30_000
    fired, hit, value = _stream(5, n, True)
    fired[:] = True  # every event fires: the window holds 12,000 firings, beyond DEQUE_MAX
    s = TrackerSettings(12_000, min_fired=5, alpha=0.2)
    one, many = RuleTracker(_rule(True), s), RuleTracker(_rule(True), s)
    _per_event(one, fired, hit, value, 0, n)
    assert one._q is None and len(one._buf) == 12_000  # the compact form
    many.update_many(fired, hit, value)
    assert one.pop_transitions() == many.pop_transitions()
    assert _doc(one) == _doc(many)


def test_saving_does_not_change_what_follows():
    n = 6000
    fired, hit, value = _stream(8, n, True)
    s = TrackerSettings(300, min_fired=5, alpha=0.2)
    saved, plain = RuleTracker(_rule(True), s), RuleTracker(_rule(True), s)
    for start in range(0, n, 500):
        _per_event(saved, fired, hit, value, start, start + 500)
        _per_event(plain, fired, hit, value, start, start + 500)
        saved.to_json()  # converts the window to numpy columns; the next event converts it back
    transitions = plain.pop_transitions()
    assert transitions and saved.pop_transitions() == transitions
    assert _doc(saved) == _doc(plain)


def test_a_numeric_tracker_saved_before_any_firing_reads_the_same_after_a_round_trip():
    # found by the property above: Page-Hinkley's untouched max decrease is River's int -1, read back as -1.0
    tracker = RuleTracker(_rule(True), TrackerSettings(3, min_fired=3, alpha=0.2))
    doc = _doc(tracker)
    assert _doc(RuleTracker.from_json(json.loads(doc), tracker.rule)) == doc
