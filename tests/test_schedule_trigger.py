"""The rescheduling trigger: monitor events (downtime, takt deviation) lead to feasible repaired schedules."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from leanlearn.schedule.cpsat import solve
from leanlearn.schedule.instance import InstanceError, read_instance
from leanlearn.schedule.trigger import RescheduleTrigger
from leanlearn.schedule.validate import validate_schedule

FT06 = Path(__file__).resolve().parents[1] / "benchmarks" / "instances" / "jobshop" / "ft06.txt"
STATIONS = ("saw", "lathe", "mill", "drill", "press", "paint")


@pytest.fixture(scope="module")
def plan():
    instance = replace(read_instance(FT06), machine_names=STATIONS)
    return instance, solve(instance, time_limit=10)


def _trigger(plan, **options):
    instance, schedule = plan
    return RescheduleTrigger(instance, schedule, time_limit=5, **options)


def _first_on(schedule, machine, after):
    return min((o for o in schedule.operations if o.machine == machine and o.start >= after), key=lambda o: o.start)


def test_a_station_going_down_leads_to_a_feasible_repaired_schedule(plan):
    instance, schedule = plan
    seen = []
    trigger = _trigger(plan, expected_downtime=8, on_repair=seen.append)
    trigger.update({"event": "down", "station": "mill", "time": 10})
    assert trigger.n_repairs == 1 and seen == trigger.repairs
    repaired = trigger.current
    mill = STATIONS.index("mill")
    assert validate_schedule(instance, repaired, down=[(mill, 10, 8)]) == []
    assert not [o for o in repaired.operations if o.machine == mill and o.start < 18 and o.end > 10]
    before = schedule.by_key()
    for o in repaired.operations:  # started before the breakdown, elsewhere: unchanged
        old = before[o.job, o.index]
        if old.start < 10 and not (old.machine == mill and old.end > 10):
            assert (o.start, o.end) == (old.start, old.end)
    assert trigger.repairs[0].reason == "down" and trigger.down == {mill: (10, 18)}
    assert repaired.makespan <= trigger.repairs[0].result.right_shift.makespan


def test_a_downtime_row_with_its_end_is_repaired_with_its_length(plan):
    instance, _ = plan
    trigger = _trigger(plan)
    trigger.update({"line": "L1", "station": "drill", "start": 20, "end": 32, "reason": "jam", "planned": False})
    assert trigger.n_repairs == 1 and trigger.repairs[0].disruption.duration == 12
    assert validate_schedule(instance, trigger.current, down=[(STATIONS.index("drill"), 20, 12)]) == []
    assert trigger.down == {}  # its end is known: not down any more


def test_a_station_back_early_pulls_its_work_forward(plan):
    trigger = _trigger(plan, expected_downtime=20)
    trigger.update({"event": "down", "station": "lathe", "time": 5})
    assumed = trigger.current
    trigger.update({"event": "up", "station": "lathe", "time": 8})
    assert [r.reason for r in trigger.repairs] == ["down", "up-early"]
    lathe = STATIONS.index("lathe")
    assert validate_schedule(trigger.current_instance, trigger.current, down=[(lathe, 5, 3)]) == []
    assert _first_on(trigger.current, lathe, 5).start < _first_on(assumed, lathe, 5).start
    assert trigger.current.makespan <= assumed.makespan


def test_a_station_back_late_moves_what_it_missed_after_it(plan):
    trigger = _trigger(plan, expected_downtime=3)
    trigger.update({"event": "down", "station": "lathe", "time": 5})
    trigger.update({"event": "up", "station": "lathe", "time": 20})
    assert trigger.repairs[-1].reason == "up-late"
    lathe = STATIONS.index("lathe")
    assert validate_schedule(trigger.current_instance, trigger.current, down=[(lathe, 5, 15)]) == []


def test_takt_deviation_beyond_the_tolerance_triggers_a_repair(plan):
    instance, schedule = plan
    trigger = _trigger(plan, tolerance=0.1)
    op = min(schedule.operations, key=lambda o: (o.end - o.start < 5, o.start))  # an early, long operation
    late_end = op.end + (op.end - op.start)  # took twice its planned time
    trigger.update({"station": STATIONS[op.machine], "job": op.job, "start": op.start, "end": late_end})
    assert trigger.n_repairs == 1
    rescheduled = trigger.repairs[0]
    assert rescheduled.reason == "takt" and rescheduled.deviation == pytest.approx(1.0)
    kept = trigger.current.by_key()[op.job, op.index]
    assert (kept.start, kept.end) == (op.start, late_end)  # the actual times are in the plan
    assert validate_schedule(trigger.current_instance, trigger.current) == []
    # the station runs at half speed: its operations not started yet are planned twice as long
    later = [o for o in instance.operations if o.machine == op.machine and schedule.by_key()[o.job, o.index].start
             >= late_end]
    assert later and all(trigger.current_instance.op(o.job, o.index).duration == 2 * o.duration for o in later)


def test_takt_deviation_within_the_tolerance_does_not_trigger(plan):
    _, schedule = plan
    trigger = _trigger(plan, tolerance=0.2)
    op = max(schedule.operations, key=lambda o: o.end - o.start)
    slightly = op.end + max(1, (op.end - op.start) // 10)  # ≤ 10 % late
    trigger.update({"station": STATIONS[op.machine], "job": op.job, "end": slightly})
    assert trigger.n_repairs == 0 and trigger.current is schedule and trigger.n_ignored == 0


def test_a_takt_window_averages_completions_before_triggering(plan):
    _, schedule = plan
    trigger = _trigger(plan, tolerance=0.3, window=2)
    by_machine = sorted((o for o in schedule.operations if o.machine == 0), key=lambda o: o.start)
    first, second = by_machine[:2]
    trigger.update({"station": STATIONS[0], "job": first.job, "start": first.start,
                    "end": first.end + (first.end - first.start)})  # one late completion: not enough alone
    assert trigger.n_repairs == 0
    trigger.update({"station": STATIONS[0], "job": second.job, "start": second.start, "end": second.end})
    assert trigger.n_repairs == 1 and trigger.repairs[0].reason == "takt"


def test_events_it_cannot_use_are_counted_not_fatal(plan):
    trigger = _trigger(plan)
    trigger.update({"station": "oven", "event": "down", "time": 3})
    trigger.update({"station": "saw", "event": "up", "time": 3})  # was not down
    trigger.update({"station": "saw", "job": 99, "end": 4})
    trigger.update({"station": "saw", "event": "down", "time": "2024-01-01T08:00"})  # a date without origin
    assert trigger.n_repairs == 0 and trigger.n_ignored == 4 and trigger.n_events == 4
    assert "oven" in trigger.problems[0] and "origin" in trigger.problems[-1]


def test_dates_are_read_against_the_origin(plan):
    trigger = _trigger(plan, origin="2024-01-01T08:00Z", unit="1min", expected_downtime=5)
    trigger.update_many(pd.DataFrame({"station": ["press"], "event": ["down"],
                                      "time": [pd.Timestamp("2024-01-01T08:12Z")]}))
    assert trigger.repairs[0].disruption.start == 12 and trigger.repairs[0].time == 12


def test_an_infeasible_plan_is_refused(plan):
    instance, schedule = plan
    broken = replace(schedule, operations=tuple(replace(o, start=0, end=o.end - o.start) for o in schedule.operations))
    with pytest.raises(InstanceError, match="not feasible"):
        RescheduleTrigger(instance, broken)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), True, "soon"])
def test_a_bad_patience_is_refused(plan, bad):
    with pytest.raises(InstanceError, match="patience"):
        _trigger(plan, patience=bad)


@pytest.mark.parametrize("patience", ["auto", None, 0.1])
def test_every_patience_form_repairs(plan, patience):
    instance, _ = plan
    trigger = _trigger(plan, patience=patience, expected_downtime=8)
    trigger.update({"event": "down", "station": "mill", "time": 10})
    assert trigger.n_repairs == 1
    assert validate_schedule(instance, trigger.current, down=[(STATIONS.index("mill"), 10, 8)]) == []


def test_the_wrapped_stream_feeds_the_trigger_beside_the_monitor(plan, tmp_path):
    from leanlearn.mining.rules import Condition, Rule, RuleSet
    from leanlearn.online.run import run_monitor
    from leanlearn.online.streams import FileReplay
    from leanlearn.packs.pack import RulePack, Target

    rule = Rule((Condition("torque", ">=", 60.0),), Condition("scrap", "==", 1), support=0.05, coverage=0.1,
                confidence=0.5, lift=5.0, leverage=0.04, conviction=1.8, n=1000, hits=500, p_value=1e-20,
                p_value_raw=1e-22, ci=(0.47, 0.53), base_rate=0.1, id="R1")
    pack = RulePack(name="press", line="L1", targets=(Target("scrap"),), rules=RuleSet((rule,)))
    events = pd.DataFrame({"torque": [50.0, 65.0, 55.0, 50.0], "scrap": [0, 1, 0, 0],
                           "station": [None, "mill", None, None], "event": [None, "down", None, None],
                           "time": [None, 6.0, None, None]})
    trigger = _trigger(plan, expected_downtime=4)
    summary = run_monitor(pack, trigger.wrap(FileReplay("events", frame=events)), handle_signals=False)
    assert summary.events == 4 and trigger.n_events == 4
    assert trigger.n_repairs == 1 and trigger.repairs[0].step == 1
    assert trigger.n_ignored == 0  # the rule-only rows carry no station: passed over, not problems
