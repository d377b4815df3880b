"""Right-shift repair: keep every machine's sequence and delay whatever a breakdown pushes, as little as needed.

At the disruption's start (``now``): operations that ended, or started and are not interrupted, keep their times
(frozen); an operation running on a machine when it goes down is restarted from scratch after the window; every
other operation starts at ``max(its old start, now, its job predecessor's end, its machine predecessor's end + the
setup)`` and then after any down or unavailability window it would run into. No operation moves earlier.

Examples
--------
>>> from leanlearn.schedule.instance import parse_standard
>>> from leanlearn.schedule.repair import Disruption
>>> from leanlearn.schedule.solution import Schedule, ScheduledOp
>>> inst = parse_standard("2 2\\n0 3 1 2\\n1 4 0 1\\n")
>>> plan = Schedule.from_ops("x", "OPTIMAL", [ScheduledOp(0, 0, 0, 0, 3), ScheduledOp(0, 1, 1, 4, 6),
...                                           ScheduledOp(1, 0, 1, 0, 4), ScheduledOp(1, 1, 0, 4, 5)])
>>> shifted = right_shift(inst, plan, Disruption(1, 2, 3))       # machine 1 down during [2, 5)
>>> [(o.job, o.index, o.start, o.end) for o in shifted.operations]
[(0, 0, 0, 3), (0, 1, 9, 11), (1, 0, 5, 9), (1, 1, 9, 10)]
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from leanlearn.schedule.instance import Instance, InstanceError
from leanlearn.schedule.solution import Schedule, ScheduledOp

if TYPE_CHECKING:
    from leanlearn.schedule.repair import Disruption

__all__ = ["classify", "dispatch", "push_past_windows", "right_shift"]


def _as_list(disruption: Disruption | Sequence[Disruption] | None, now: int | None = None) -> list[Disruption]:
    items: list[Disruption] = []
    if disruption is not None:
        items = [disruption] if hasattr(disruption, "machine") else list(disruption)  # type: ignore[list-item]
    if not items and now is None:
        raise InstanceError("give at least one disruption (machine, start, duration), or the time to replan from")
    if now is not None and (isinstance(now, bool) or not isinstance(now, int) or now < 0):
        raise InstanceError(f"replan time {now!r} must be a whole number >= 0")
    return items


def classify(schedule: Schedule, disruptions: Sequence[Disruption],
             now: int | None = None) -> tuple[int, set[tuple[int, int]], set[tuple[int, int]]]:
    """``(now, frozen, restarted)``: the repair's time (``now``, default the earliest disruption's start), the
    operations that keep their times (started before ``now``), and those among them that were running on a machine
    when it went down (overlapping a window of positive duration): they restart."""
    if now is None:
        now = min(d.start for d in disruptions)
    frozen: set[tuple[int, int]] = set()
    restarted: set[tuple[int, int]] = set()
    for o in schedule.operations:
        if o.start >= now:
            continue
        hit = any(d.machine == o.machine and d.duration > 0 and o.start < d.start + d.duration and o.end > d.start
                  and o.end > o.start for d in disruptions)
        (restarted if hit else frozen).add((o.job, o.index))
    return now, frozen, restarted


def push_past_windows(start: int, duration: int, windows: Iterable[tuple[int, int]]) -> int:
    """The earliest time ``>= start`` at which ``[t, t + duration)`` overlaps none of the ``(start, end)`` windows.

    >>> push_past_windows(3, 4, [(5, 8), (10, 12)])
    12
    """
    if duration <= 0:
        return start
    ordered = sorted(windows)
    moved = True
    while moved:
        moved = False
        for s, e in ordered:
            if start < e and start + duration > s:
                start, moved = e, True
    return start


def right_shift(instance: Instance, schedule: Schedule, disruption: Disruption | Sequence[Disruption] | None, *,
                now: int | None = None) -> Schedule:
    """The right-shift repair of ``schedule`` after ``disruption`` (one, several, or none with ``now`` given: then
    only operations that would start before ``now`` move to it; see the module docstring)."""
    disruptions = _as_list(disruption, now)
    now, frozen, _restarted = classify(schedule, disruptions, now)
    ops = schedule.by_key()
    missing = [(op.job, op.index) for op in instance.operations if (op.job, op.index) not in ops]
    if missing:
        raise InstanceError(f"schedule lacks job {missing[0][0]} operation {missing[0][1]}; a repair needs the "
                            "complete schedule of the instance")
    windows: dict[int, list[tuple[int, int]]] = {m: [] for m in range(instance.n_machines)}
    for m, s, e in instance.unavailable:
        windows[m].append((s, e))
    for d in disruptions:
        windows[d.machine].append((d.start, d.start + d.duration))
    # the DAG of job and machine-sequence precedences, processed in topological order
    succ: dict[tuple[int, int], list[tuple[tuple[int, int], int]]] = {k: [] for k in ops}
    indeg = dict.fromkeys(ops, 0)
    for job in instance.jobs:
        for k in range(1, len(job.operations)):
            succ[job.id, k - 1].append(((job.id, k), 0))
            indeg[job.id, k] += 1
    for m in range(instance.n_machines):
        seq = schedule.machine_sequence(m)
        for a, b in itertools.pairwise(seq):
            succ[a.job, a.index].append(((b.job, b.index), instance.setup(m, a.job, b.job)))
            indeg[b.job, b.index] += 1
    ready: dict[tuple[int, int], int] = dict.fromkeys(ops, 0)
    queue = deque(k for k, n in indeg.items() if n == 0)
    new: dict[tuple[int, int], ScheduledOp] = {}
    while queue:
        key = queue.popleft()
        o = ops[key]
        duration = instance.op(*key).duration
        if key in frozen:
            start = o.start
        else:
            release = instance.jobs[key[0]].release if key[1] == 0 else 0
            start = max(o.start, now, ready[key], release)
            start = push_past_windows(start, duration, windows[o.machine])
        new[key] = ScheduledOp(o.job, o.index, o.machine, start, start + duration)
        for nxt, gap in succ[key]:
            ready[nxt] = max(ready[nxt], start + duration + gap)
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                queue.append(nxt)
    if len(new) != len(ops):
        raise InstanceError("the schedule's machine sequences contradict its job routings (a cycle); validate it "
                            "with 'leanlearn schedule validate'")
    return Schedule.from_ops(schedule.instance_name or instance.name, "FEASIBLE", new.values(),
                             {"method": "right_shift"})


def dispatch(instance: Instance) -> Schedule | None:
    """A quick feasible schedule without a solver (a CP-SAT warm start): repeatedly start, among each job's next
    operation, the one that can start earliest (ties: the job with the most work left), after its job, its machine's
    last operation plus the setup, its release date and any unavailability window. ``None`` when forbidden
    sequences leave no operation to start.

    >>> from leanlearn.schedule.instance import parse_standard
    >>> dispatch(parse_standard("2 2\\n0 3 1 2\\n1 4 0 1\\n")).makespan
    6
    """
    windows: dict[int, list[tuple[int, int]]] = {m: [] for m in range(instance.n_machines)}
    for m, s, e in instance.unavailable:
        windows[m].append((s, e))
    nxt = [0] * len(instance.jobs)
    job_ready = [job.release for job in instance.jobs]
    left = [sum(op.duration for op in job.operations) for job in instance.jobs]
    machine_ready = [0] * instance.n_machines
    last: list[int | None] = [None] * instance.n_machines
    ops: list[ScheduledOp] = []
    total = len(instance.operations)
    while len(ops) < total:
        best: tuple[int, int, int] | None = None
        for j, job in enumerate(instance.jobs):
            if nxt[j] >= len(job.operations):
                continue
            op = job.operations[nxt[j]]
            prev = last[op.machine]
            if prev is not None and instance.is_forbidden(op.machine, prev, j):
                continue
            setup = instance.setup(op.machine, prev, j) if prev is not None else 0
            start = push_past_windows(max(job_ready[j], machine_ready[op.machine] + setup), op.duration,
                                      windows[op.machine])
            if best is None or (start, -left[j]) < (best[0], -left[best[1]]):
                best = (start, j, setup)
        if best is None:
            return None
        start, j, _ = best
        op = instance.jobs[j].operations[nxt[j]]
        ops.append(ScheduledOp(j, op.index, op.machine, start, start + op.duration))
        job_ready[j] = machine_ready[op.machine] = start + op.duration
        last[op.machine] = j
        left[j] -= op.duration
        nxt[j] += 1
    return Schedule.from_ops(instance.name, "FEASIBLE", ops, {"method": "dispatch"})
