"""The solver-independent validator catches each kind of infeasible schedule, built by hand."""

from dataclasses import replace

import pytest

from leanlearn.schedule.instance import Instance, Job, Operation, parse_standard
from leanlearn.schedule.repair import Disruption
from leanlearn.schedule.solution import Schedule, ScheduledOp
from leanlearn.schedule.validate import validate_schedule

# job 0: M0 3, M1 2; job 1: M1 4, M0 1
INST = parse_standard("2 2\n0 3 1 2\n1 4 0 1\n")
OK = Schedule.from_ops("x", "FEASIBLE", [ScheduledOp(0, 0, 0, 0, 3), ScheduledOp(0, 1, 1, 4, 6),
                                         ScheduledOp(1, 0, 1, 0, 4), ScheduledOp(1, 1, 0, 4, 5)])


def _with(*ops):
    """OK with the given operations replaced (matched on job and index)."""
    new = {(o.job, o.index): o for o in ops}
    return Schedule.from_ops("x", "FEASIBLE", [new.get((o.job, o.index), o) for o in OK.operations])


def test_the_hand_made_schedule_is_feasible():
    assert validate_schedule(INST, OK) == []


def test_overlap_on_a_machine_is_caught():
    bad = _with(ScheduledOp(1, 1, 0, 2, 3))          # job 1 op 1 on M0 during [2, 3) while job 0 op 0 runs
    assert any("machine 0" in p and "overlaps" in p for p in validate_schedule(INST, bad))


def test_precedence_within_a_job_is_caught():
    bad = _with(ScheduledOp(0, 1, 1, 2, 4), ScheduledOp(1, 0, 1, 4, 8), ScheduledOp(1, 1, 0, 8, 9))
    problems = validate_schedule(INST, bad)
    assert problems == ["job 0 operation 1 starts at 2, before operation 0 ends (3)"]


def test_a_down_window_is_caught_and_its_edge_is_free():
    assert any("down window [5, 7)" in p for p in validate_schedule(INST, OK, down=Disruption(1, 5, 2)))
    assert validate_schedule(INST, OK, down=Disruption(1, 6, 3)) == []      # [6, 9) starts when job 0 op 1 ends
    assert validate_schedule(INST, OK, down=[(0, 5, 10)]) == []             # M0 idle after 5


def test_wrong_duration_is_caught():
    bad = _with(ScheduledOp(0, 1, 1, 4, 7))
    assert any("lasts 3" in p and "its duration is 2" in p for p in validate_schedule(INST, bad))


def test_missing_operation_is_caught():
    bad = Schedule.from_ops("x", "FEASIBLE", OK.operations[:-1])
    assert "job 1 operation 1 is missing" in validate_schedule(INST, bad)


def test_duplicate_unknown_and_wrong_machine_are_caught():
    dup = Schedule.from_ops("x", "FEASIBLE", [*OK.operations, ScheduledOp(0, 0, 0, 0, 3)])
    assert any("more than once" in p for p in validate_schedule(INST, dup))
    extra = Schedule.from_ops("x", "FEASIBLE", [*OK.operations, ScheduledOp(5, 0, 0, 20, 21)])
    assert any("not in the instance" in p for p in validate_schedule(INST, extra))
    moved = _with(ScheduledOp(1, 1, 1, 6, 7))
    assert any("is on machine 1, its routing says 0" in p for p in validate_schedule(INST, moved))


def test_frozen_operation_moved_is_caught():
    frozen = {(1, 0): (0, 4)}
    bad = _with(ScheduledOp(1, 0, 1, 1, 5), ScheduledOp(0, 1, 1, 5, 7), ScheduledOp(1, 1, 0, 5, 6))
    assert validate_schedule(INST, bad) == []                                 # feasible in itself ...
    assert validate_schedule(INST, bad, frozen=frozen) == [                   # ... but the frozen op moved
        "job 1 operation 0 is frozen at [0, 4) but scheduled at [1, 5)"]


def test_release_date_and_makespan_claim_are_caught():
    late = replace(INST, jobs=(replace(INST.jobs[0], release=1), INST.jobs[1]))
    assert "job 0 starts at 0, before its release 1" in validate_schedule(late, OK)
    lying = Schedule("x", "OPTIMAL", 5, OK.operations)
    assert any("makespan says 5" in p for p in validate_schedule(INST, lying))


def test_setup_time_and_forbidden_sequence_are_caught():
    inst = Instance("s", 1, (Job(0, (Operation(0, 0, 0, 3),), material="A"),
                             Job(1, (Operation(1, 0, 0, 2),), material="B")),
                    setups={(0, "A", "B"): 4}, forbidden=((None, "B", "A"),))
    tight = Schedule.from_ops("s", "FEASIBLE", [ScheduledOp(0, 0, 0, 0, 3), ScheduledOp(1, 0, 0, 5, 7)])
    assert any("before the setup of 4" in p for p in validate_schedule(inst, tight))
    good = Schedule.from_ops("s", "FEASIBLE", [ScheduledOp(0, 0, 0, 0, 3), ScheduledOp(1, 0, 0, 7, 9)])
    assert validate_schedule(inst, good) == []
    reversed_ = Schedule.from_ops("s", "FEASIBLE", [ScheduledOp(1, 0, 0, 0, 2), ScheduledOp(0, 0, 0, 10, 13)])
    assert any("forbidden sequence" in p for p in validate_schedule(inst, reversed_))


def test_planned_unavailability_of_the_instance_is_checked():
    inst = replace(INST, unavailable=((0, 1, 2),))
    assert any("unavailable window [1, 2)" in p for p in validate_schedule(inst, OK))


@pytest.mark.parametrize("doc", [
    [], {"operations": 3}, {"operations": [{"job": 0}]}, {"operations": [{"job": 0, "index": 0, "machine": 0,
                                                                          "start": -1, "end": 2}]},
    {"operations": [], "makespan": "55"},
])
def test_malformed_schedule_json_is_refused_with_the_key_named(doc):
    from leanlearn.schedule.instance import InstanceError

    with pytest.raises(InstanceError, match="schedule"):
        Schedule.from_json(doc)
