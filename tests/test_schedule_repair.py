"""Repair and right-shift after a breakdown: feasible on random small shops with random disruptions, never worse than
right-shift on makespan, started operations frozen, the running one on the downed machine restarted after the
window."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leanlearn.schedule.instance import Instance, InstanceError, Job, Operation
from leanlearn.schedule.repair import Disruption, repair, resolve_patience
from leanlearn.schedule.rightshift import push_past_windows, right_shift
from leanlearn.schedule.solution import Schedule, ScheduledOp, kpis
from leanlearn.schedule.validate import validate_schedule


def random_instance(rng: random.Random, setups: bool = False) -> Instance:
    n_jobs, n_machines = rng.randint(2, 5), rng.randint(2, 4)
    jobs = []
    for j in range(n_jobs):
        machines = rng.sample(range(n_machines), rng.randint(1, n_machines))
        ops = tuple(Operation(j, k, m, rng.randint(1, 9)) for k, m in enumerate(machines))
        jobs.append(Job(j, ops, release=rng.choice([0, 0, rng.randint(0, 10)]),
                        material=rng.choice("AB") if setups else None))
    table = {(None, "A", "B"): rng.randint(1, 4), (None, "B", "A"): rng.randint(1, 4)} if setups else None
    windows = ((rng.randrange(n_machines), 30, 33),) if rng.random() < 0.3 else ()
    return Instance(f"r{rng.random():.6f}", n_machines, tuple(jobs), table, None, windows)


def greedy_schedule(inst: Instance, rng: random.Random) -> Schedule:
    """A feasible schedule built without any solver: random dispatching, earliest start."""
    nxt = [0] * len(inst.jobs)
    job_ready = [job.release for job in inst.jobs]
    machine_ready = [0] * inst.n_machines
    last_job: list[int | None] = [None] * inst.n_machines
    ops = []
    while any(nxt[j] < len(job.operations) for j, job in enumerate(inst.jobs)):
        j = rng.choice([j for j, job in enumerate(inst.jobs) if nxt[j] < len(job.operations)])
        op = inst.jobs[j].operations[nxt[j]]
        setup = inst.setup(op.machine, last_job[op.machine], j) if last_job[op.machine] is not None else 0
        start = max(job_ready[j], machine_ready[op.machine] + setup)
        start = push_past_windows(start, op.duration, [(s, e) for m, s, e in inst.unavailable if m == op.machine])
        ops.append(ScheduledOp(j, op.index, op.machine, start, start + op.duration))
        job_ready[j] = machine_ready[op.machine] = start + op.duration
        last_job[op.machine] = j
        nxt[j] += 1
    return Schedule.from_ops(inst.name, "FEASIBLE", ops)


def random_disruption(inst: Instance, plan: Schedule, rng: random.Random) -> Disruption:
    return Disruption(rng.randrange(inst.n_machines), rng.randrange(max(plan.makespan, 1)), rng.randint(1, 15))


def _semantics(plan: Schedule, repaired: Schedule, d: Disruption) -> None:
    before = plan.by_key()
    for key, o in repaired.by_key().items():
        b = before[key]
        running_on_downed = b.machine == d.machine and b.start < d.start < b.end
        if b.start < d.start and not running_on_downed:
            assert (o.start, o.end) == (b.start, b.end), f"{key} started before the breakdown and moved"
        elif running_on_downed:
            assert o.start >= d.end, f"{key} was running on the downed machine and did not restart after it"
        else:
            assert o.start >= d.start, f"{key} had not started, yet the repair starts it before the breakdown"


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), setups=st.booleans())
def test_right_shift_is_feasible_keeps_sequences_and_never_moves_earlier(seed, setups):
    rng = random.Random(seed)
    inst = random_instance(rng, setups)
    plan = greedy_schedule(inst, rng)
    assert validate_schedule(inst, plan) == []
    d = random_disruption(inst, plan, rng)
    shifted = right_shift(inst, plan, d)
    assert validate_schedule(inst, shifted, down=d) == []
    _semantics(plan, shifted, d)
    before = plan.by_key()
    assert all(o.start >= before[o.job, o.index].start for o in shifted.operations)
    for m in range(inst.n_machines):
        assert [(o.job, o.index) for o in shifted.machine_sequence(m)] == \
            [(o.job, o.index) for o in plan.machine_sequence(m)]


def test_repair_is_feasible_and_never_worse_than_right_shift_on_random_shops():
    rng = random.Random(20261201)
    for case in range(30):
        inst = random_instance(rng, setups=case % 2 == 1)
        plan = greedy_schedule(inst, rng)
        d = random_disruption(inst, plan, rng)
        result = repair(inst, plan, d, time_limit=3)
        frozen = {k: plan.by_key()[k] for k in result.frozen}
        assert validate_schedule(inst, result.schedule, down=d, frozen=frozen) == [], case
        assert validate_schedule(inst, result.right_shift, down=d, frozen=frozen) == [], case
        _semantics(plan, result.schedule, d)
        assert result.schedule.makespan <= result.right_shift.makespan, case
        assert result.kpis == kpis(result.schedule, inst, due=result.due, bottleneck=result.kpis["bottleneck"],
                                   reference=plan)


def test_the_running_operation_on_the_downed_machine_restarts_after_the_window():
    # job 0: M0 5 then M1 2; job 1: M1 3; job 2: M0 2
    inst = Instance("t", 2, (Job(0, (Operation(0, 0, 0, 5), Operation(0, 1, 1, 2))),
                             Job(1, (Operation(1, 0, 1, 3),)), Job(2, (Operation(2, 0, 0, 2),))))
    plan = Schedule.from_ops("t", "FEASIBLE", [ScheduledOp(0, 0, 0, 0, 5), ScheduledOp(0, 1, 1, 5, 7),
                                               ScheduledOp(1, 0, 1, 0, 3), ScheduledOp(2, 0, 0, 5, 7)])
    result = repair(inst, plan, Disruption(0, 2, 4), time_limit=5)     # M0 down [2, 6) while job 0 op 0 runs
    after = result.schedule.by_key()
    assert result.restarted == ((0, 0),)
    assert after[0, 0].start >= 6 and after[0, 0].end - after[0, 0].start == 5     # restarted in full
    assert after[1, 0] == plan.by_key()[1, 0]                                     # M1's op had finished
    assert result.frozen == ((1, 0),)
    assert after[0, 1].start >= after[0, 0].end
    assert validate_schedule(inst, result.schedule, down=Disruption(0, 2, 4)) == []
    # job 2 (2 units) fits before job 0's restart or after it; the repair finds the makespan 13 either way
    assert result.schedule.makespan == 13 and result.right_shift.makespan == 13


def test_an_operation_started_on_another_machine_keeps_running_through_the_breakdown():
    inst = Instance("t", 2, (Job(0, (Operation(0, 0, 1, 8),)), Job(1, (Operation(1, 0, 0, 4), Operation(1, 1, 1, 1)))))
    plan = Schedule.from_ops("t", "FEASIBLE", [ScheduledOp(0, 0, 1, 0, 8), ScheduledOp(1, 0, 0, 0, 4),
                                               ScheduledOp(1, 1, 1, 8, 9)])
    result = repair(inst, plan, Disruption(0, 1, 2), time_limit=5)
    assert result.schedule.by_key()[0, 0] == plan.by_key()[0, 0]        # frozen on M1
    assert result.schedule.by_key()[1, 0].start >= 3                    # restarted on M0 after [1, 3)
    assert result.schedule.makespan == 9


def test_replanning_from_a_time_without_breakdown_moves_nothing_started():
    rng = random.Random(7)
    inst = random_instance(rng)
    plan = greedy_schedule(inst, rng)
    now = plan.makespan // 2
    result = repair(inst, plan, None, now=now, time_limit=3)
    assert result.restarted == ()
    for key, o in result.schedule.by_key().items():
        b = plan.by_key()[key]
        assert (o.start, o.end) == (b.start, b.end) if b.start < now else o.start >= now
    assert result.schedule.makespan <= result.right_shift.makespan == plan.makespan


def test_several_breakdowns_in_one_repair_are_all_respected():
    rng = random.Random(11)
    for _ in range(5):
        inst = random_instance(rng)
        plan = greedy_schedule(inst, rng)
        downs = [random_disruption(inst, plan, rng) for _ in range(2)]
        result = repair(inst, plan, downs, time_limit=3)
        assert validate_schedule(inst, result.schedule, down=downs) == []
        assert result.schedule.makespan <= result.right_shift.makespan


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), setups=st.booleans())
def test_the_greedy_dispatch_warm_start_is_feasible(seed, setups):
    from leanlearn.schedule.rightshift import dispatch

    inst = random_instance(random.Random(seed), setups)
    start = dispatch(inst)
    assert start is not None and validate_schedule(inst, start) == []


def test_repair_falls_back_to_right_shift_when_cp_sat_finds_nothing(monkeypatch):
    import leanlearn.schedule.cpsat as cpsat

    rng = random.Random(3)
    inst = random_instance(rng)
    plan = greedy_schedule(inst, rng)
    d = random_disruption(inst, plan, rng)
    monkeypatch.setattr(cpsat, "solve_problem", lambda problem, *a, **k: Schedule(inst.name, "UNKNOWN", 0, ()))
    result = repair(inst, plan, d, time_limit=1)
    assert result.schedule.extra["fallback"] == "right_shift"
    assert result.schedule.operations == result.right_shift.operations
    assert validate_schedule(inst, result.schedule, down=d) == []


def test_repair_with_forbidden_sequences_keeps_them_forbidden():
    from leanlearn.schedule.constraints import ForbiddenSequence, apply_constraints

    rng = random.Random(5)
    for _ in range(6):
        inst = apply_constraints(random_instance(rng, setups=True), [ForbiddenSequence("B", "A")])
        from leanlearn.schedule.cpsat import solve

        plan = solve(inst, time_limit=3)
        if not plan.operations:                 # the forbidden pair may leave no schedule: then nothing to repair
            assert plan.status == "INFEASIBLE"
            continue
        assert validate_schedule(inst, plan) == []
        d = random_disruption(inst, plan, rng)
        result = repair(inst, plan, d, time_limit=3)
        assert validate_schedule(inst, result.schedule, down=d) == []
        assert result.schedule.makespan <= result.right_shift.makespan


def test_tardiness_first_repair_is_no_later_in_total_than_right_shift():
    rng = random.Random(9)
    for _ in range(8):
        inst = random_instance(rng)
        plan = greedy_schedule(inst, rng)
        d = random_disruption(inst, plan, rng)
        result = repair(inst, plan, d, time_limit=3, objective=("tardiness", "makespan"))
        assert result.kpis["total_tardiness"] <= result.right_shift_kpis["total_tardiness"]
        assert result.schedule.makespan <= result.right_shift.makespan


def test_a_stability_weight_moves_no_more_operations():
    rng = random.Random(13)
    for _ in range(6):
        inst = random_instance(rng)
        plan = greedy_schedule(inst, rng)
        d = random_disruption(inst, plan, rng)
        free = repair(inst, plan, d, time_limit=3, objective=("makespan",))
        stable = repair(inst, plan, d, time_limit=3, objective=("makespan",), stability_weight=1000)
        assert stable.kpis["operations_moved"] <= free.kpis["operations_moved"]
        assert stable.schedule.makespan <= stable.right_shift.makespan
        assert validate_schedule(inst, stable.schedule, down=d) == []


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), True, "soon", [1]])
def test_a_bad_patience_is_one_clear_error(bad):
    rng = random.Random(3)
    inst = random_instance(rng)
    plan = greedy_schedule(inst, rng)
    with pytest.raises(InstanceError, match="patience"):
        repair(inst, plan, random_disruption(inst, plan, rng), time_limit=1, patience=bad)


def test_auto_patience_grows_beyond_100_operations_left():
    assert resolve_patience("auto", 50) == resolve_patience("auto", 100) == 0.25
    assert resolve_patience("auto", 150) == pytest.approx(0.25 * 1.5**4)
    assert resolve_patience(2, 500) == 2.0 and resolve_patience(None, 500) is None
