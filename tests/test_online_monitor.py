"""The monitor: per-event and batched paths agree, windows and states behave, state round-trips as JSON."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leanlearn.mining.expressions import Expression
from leanlearn.mining.rules import Condition, Review, Rule, RuleSet, Shift
from leanlearn.online.alerts import Alert, AlertLog, read_alerts
from leanlearn.online.evaluate import CompiledPack, compile_scalar
from leanlearn.online.monitor import Monitor, MonitorError
from leanlearn.online.scenarios import planted_stream
from leanlearn.online.settings import TrackerSettings
from leanlearn.online.trackers import RuleTracker, binomial_quantiles
from leanlearn.packs.pack import RulePack, Target


def _rule(rid, conditions, outcome, confidence, ci, shift=None, review=None):
    return Rule(tuple(conditions), outcome, support=0.05, coverage=0.1, confidence=confidence, lift=2.0,
                leverage=0.01, conviction=None, n=200, hits=int(200 * confidence), p_value=1e-5, p_value_raw=1e-6,
                ci=ci, base_rate=0.2, id=rid, shift=shift, review=review or Review())


def _pack():
    rules = (
        _rule("A", [Condition("a", ">", 0.5)], Condition("y", "==", 1), 0.6, (0.5, 0.7)),
        _rule("B", [Condition("d", "<", 0.2), Condition("k", "in", ["x", "z"])], Condition("y", "==", 1), 0.4,
              (0.3, 0.5)),
        _rule("C", [Condition("b", "between", [0.1, 0.6])], Condition("v", ">", 1.0), 0.7, (0.6, 0.8),
              Shift(1.5, 1.4, 1.0, 1.0, 0.3)),
        _rule("D", [Condition("k", "!=", "x"), Condition("a", "<=", 0.9)], Condition("y", "==", 1), 0.3, (0.25, 0.35)),
    )
    return RulePack(name="p", line="L", targets=(Target("y"), Target("v", "numeric", "defects", "higher")),
                    rules=RuleSet(rules), derived=(("d", "a * b - sqrt(b) / 3"),))


PACK = _pack()


def _stream(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    change = int(rng.integers(0, n))
    a, b = rng.random(n), rng.random(n)
    a[rng.random(n) < 0.05] = np.nan
    y = (rng.random(n) < np.where(np.arange(n) < change, 0.5, rng.random())).astype(float)
    y[rng.random(n) < 0.03] = np.nan
    v = rng.normal(1.2 + (np.arange(n) >= change) * rng.normal(0, 1), 0.5)
    t = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.cumsum(rng.integers(0, 3, n)), unit="s")
    return pd.DataFrame({"a": a, "b": b, "k": rng.choice(["x", "y", "z"], n), "y": y, "v": v, "t": t.astype(str)})


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}
            for r in frame.to_dict("records")]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 1500),
    window=st.integers(5, 400),
    min_fired=st.integers(1, 12),
    drift_after=st.integers(1, 5),
    ok_after=st.integers(1, 8),
    alpha=st.sampled_from([0.01, 0.2]),
    mode=st.sampled_from(["count", "count+time", "time"]),
    cuts=st.lists(st.floats(0, 1), max_size=6),
    interleave=st.booleans(),
)
def test_per_event_and_batched_paths_give_identical_states_and_alerts(seed, n, window, min_fired, drift_after,
                                                                      ok_after, alpha, mode, cuts, interleave):
    frame = _stream(seed, n)
    params = dict(window=window, min_fired=min_fired, drift_after=drift_after, ok_after=ok_after, alpha=alpha)
    if mode != "count":
        params["time_column"] = "t"
    if mode == "time":
        params["window"] = f"{window}s"
    one, many = Monitor(PACK, TrackerSettings(**params)), Monitor(PACK, TrackerSettings(**params))
    alerts_one = [a for row in _records(frame) for a in one.update(row)]
    bounds = sorted({0, n, *(int(c * n) for c in cuts)})
    alerts_many = []
    for k, (start, end) in enumerate(itertools.pairwise(bounds)):
        part = frame.iloc[start:end]
        if interleave and k % 2:  # switching paths mid-stream changes nothing either
            alerts_many += [a for row in _records(part) for a in many.update(row)]
        else:
            alerts_many += many.update_many(part)
    assert alerts_one == alerts_many
    assert one.to_json() == many.to_json()


def test_the_paths_agree_on_a_long_drifting_stream_with_many_alerts():
    frame = _stream(11, 6000)
    settings = TrackerSettings(150, min_fired=5, alpha=0.2)
    one, many = Monitor(PACK, settings), Monitor(PACK, settings)
    alerts_one = [a for row in _records(frame) for a in one.update(row)]
    alerts_many = [a for start in range(0, 6000, 777) for a in many.update_many(frame.iloc[start:start + 777])]
    assert len(alerts_one) > 10
    assert alerts_one == alerts_many and one.to_json() == many.to_json()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 300))
def test_compiled_masks_equal_rule_masks_on_prepared_data(seed, n):
    frame = _stream(seed, n)
    compiled = CompiledPack(PACK)
    batch = compiled.evaluate_frame(frame)
    prepared = PACK.prepare(frame)
    for i, rule in enumerate(compiled.rules):
        assert np.array_equal(batch.fired[i], rule.mask(prepared))
        per_row = [compiled.evaluate_row(r).fired[i] for r in _records(frame)]
        assert per_row == batch.fired[i].tolist()


_VALUES = st.one_of(st.none(), st.floats(-1e6, 1e6), st.integers(-1000, 1000), st.booleans())


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(_VALUES, _VALUES), min_size=1, max_size=40))
def test_scalar_expression_gives_the_bits_of_the_vectorised_one(rows):
    frame = pd.DataFrame({"a": [float(a) if a is not None else None for a, _ in rows],
                          "b": [float(b) if b is not None else None for _, b in rows]}, dtype=float)
    for source in ("a * b - sqrt(b) / 3", "abs(a) ** 0.5 + log(abs(b) + 1)", "where(a > b, a, b) // 3 + a % 7",
                   "exp(-abs(a) / 1e5) * (a >= 0 and b < 1)", "a ** 2 - b ** 3 + 2 ** 0.5 * pi",
                   "round(a / 7) - floor(b)"):
        expression = Expression.parse(source)
        column = expression.evaluate(frame).to_numpy()
        one = compile_scalar(expression)
        for (a, b), vector in zip(rows, column):
            scalar = one({"a": a, "b": b})
            assert (math.isnan(vector) and math.isnan(scalar)) or vector == scalar, (source, a, b)


def test_binomial_quantiles_match_scipy():
    from scipy.stats import binom

    for p in (0.001, 0.05, 0.47, 0.968, 1.0):
        for q in (0.005, 0.995):
            ours = binomial_quantiles(2000, p, q)
            assert np.array_equal(ours, np.nan_to_num(binom.ppf(q, np.arange(2000), p)).astype(int))


def test_a_rule_whose_outcome_stops_following_reaches_drift_and_comes_back():
    rule = _rule("R", [Condition("x", ">", 0.0)], Condition("y", "==", 1), 0.9, (0.87, 0.93))
    rng = np.random.default_rng(0)
    fired = rng.random(30_000) < 0.2
    p = np.where((np.arange(30_000) >= 10_000) & (np.arange(30_000) < 20_000), 0.5, 0.9)
    tracker = RuleTracker(rule, window=1000).update_many(fired, rng.random(30_000) < p)
    steps = [(t.previous, t.state) for t in tracker.pop_transitions()]
    assert steps[:2] in ([("ok", "warning"), ("warning", "drift")], [("ok", "drift"), ("drift", "ok")])
    assert steps[-1] == ("drift", "ok") and tracker.state == "ok"


def test_a_rule_that_never_held_on_this_line_warns_but_does_not_drift():
    """No change happens in the stream (ADWIN stays silent): the rule is outside from the start, not drifting."""
    rule = _rule("R", [Condition("x", ">", 0.0)], Condition("y", "==", 1), 0.9, (0.87, 0.93))
    rng = np.random.default_rng(1)
    tracker = RuleTracker(rule, window=1000).update_many(rng.random(20_000) < 0.2, rng.random(20_000) < 0.5)
    assert tracker.state == "warning"


def test_numeric_rule_reports_window_means_and_drifts_on_a_shift():
    rule = _rule("N", [Condition("x", ">", 0.0)], Condition("setup", ">", 40.0), 0.95, (0.93, 0.97),
                 Shift(60.0, 58.0, 40.0, 40.0, 0.6))
    pack = RulePack(name="n", line="L", targets=(Target("setup", "numeric", "setup", "higher"),),
                    rules=RuleSet((rule,)))
    rng = np.random.default_rng(2)
    n = 40_000
    x = rng.normal(0, 1, n)
    under = np.where(np.arange(n) < 20_000, 60.0, 38.0)
    setup = np.where(x > 0, rng.normal(under, 12), rng.normal(35, 10, n))
    monitor = Monitor(pack, window=2000)
    alerts = monitor.update_many(pd.DataFrame({"x": x, "setup": setup}))
    drift = next(a for a in alerts if a.state == "drift")
    assert 20_000 <= drift.detected_at <= drift.event < 22_000
    assert [a.state for a in alerts] in (["warning", "drift"], ["drift"])  # ["drift"]: the sequential test
    assert drift.mean is not None and drift.mean_overall is not None and drift.mean > drift.mean_overall


def test_rejected_rules_are_not_tracked():
    rules = [*PACK.rules]
    rules[0] = rules[0].with_review(Review("rejected", "eve", "2024-01-01", "wrong sensor"))
    monitor = Monitor(PACK.with_rules(RuleSet(tuple(rules))))
    assert [t.rule.id for t in monitor.trackers] == ["B", "C", "D"]


def test_state_round_trips_through_json_and_continues_identically():
    frame = _stream(3, 4000)
    whole = Monitor(PACK, TrackerSettings(200, min_fired=5, alpha=0.2))
    first = Monitor(PACK, TrackerSettings(200, min_fired=5, alpha=0.2))
    expected = whole.update_many(frame)
    got = first.update_many(frame.iloc[:1700])
    doc = json.loads(json.dumps(first.to_json()))  # through text, as a checkpoint does
    resumed = Monitor.from_json(doc, PACK)
    got += resumed.update_many(frame.iloc[1700:])
    assert got == expected and resumed.to_json() == whole.to_json()


def test_state_of_another_pack_or_other_settings_is_refused():
    doc = Monitor(PACK, window=100).to_json()
    other = PACK.with_rules(RuleSet(PACK.rules.rules[:2]))
    with pytest.raises(MonitorError, match="another rule pack"):
        Monitor.from_json(doc, other)
    with pytest.raises(MonitorError, match="other settings"):
        Monitor.from_json(doc, PACK, TrackerSettings(window=500))


def test_a_time_window_needs_a_time_column():
    with pytest.raises(MonitorError, match="time_column"):
        Monitor(PACK, window="10min")


def test_alerts_carry_window_statistics_and_are_written_as_jsonl(tmp_path):
    pack, events = planted_stream(3, 60_000, drifts=[(30_000, 1, 0.05)], reference=50_000, seed=4)
    events["ts"] = (pd.Timestamp("2024-03-01", tz="UTC") + pd.to_timedelta(np.arange(60_000), unit="s")).astype(str)
    monitor = Monitor(pack, window=3000, time_column="ts")
    alerts = monitor.update_many(events)
    drift = next(a for a in alerts if a.state == "drift")
    assert drift.rule == "P001" and drift.time is not None and drift.time.startswith("2024-03-01T")
    assert drift.confidence < drift.expected[0] or drift.change_confidence < drift.evidence
    assert drift.fired > 0 and drift.events <= 3000
    assert drift.lift is not None and drift.detected_at is not None and drift.detected_at <= drift.event
    with AlertLog(tmp_path / "alerts.jsonl") as log:
        log.write(alerts)
    assert read_alerts(tmp_path / "alerts.jsonl") == alerts
    assert all(isinstance(a, Alert) for a in alerts)
    assert monitor.status().set_index("id").loc["P001", "state"] == "drift"


def test_planted_stream_without_change_raises_no_drift():
    pack, events = planted_stream(20, 300_000, reference=200_000, seed=5)
    monitor = Monitor(pack, window=10_000)
    alerts = [a for start in range(0, 300_000, 50_000) for a in monitor.update_many(events.iloc[start:start + 50_000])]
    assert not [a for a in alerts if a.state == "drift"]


def test_the_online_wing_imports_river_only_when_tracking_and_never_scikit_learn():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import leanlearn.online, leanlearn.online.monitor, leanlearn.online.run, leanlearn.online.streams\n"
        "print('river' in sys.modules)\n"
        "import pandas as pd\n"
        "from leanlearn.mining.rules import Condition, Rule, RuleSet\n"
        "from leanlearn.packs.pack import RulePack, Target\n"
        "from leanlearn.online import Monitor\n"
        "rule = Rule((Condition('x', '>', 0.5),), Condition('y', '==', 1), support=0.1, coverage=0.5, "
        "confidence=0.2, lift=1.0, leverage=0.0, conviction=None, n=100, hits=20, p_value=1.0, p_value_raw=1.0, "
        "ci=(0.1, 0.3), base_rate=0.2, id='R')\n"
        "pack = RulePack(name='p', line='L', targets=(Target('y'),), rules=RuleSet((rule,)))\n"
        "Monitor(pack, window=50).update_many(pd.DataFrame({'x': [0.1, 0.9] * 100, 'y': [0, 1] * 100}))\n"
        "print('river' in sys.modules, 'river.drift' in sys.modules, 'sklearn' in sys.modules, "
        "'scipy.stats' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True", "False", "False", "False"]
