"""Feasibility of a schedule, checked in plain Python, independently of any solver.

:func:`validate_schedule` returns every problem it finds, as text (an empty list: feasible): each operation of the
instance scheduled exactly once on its own machine, its duration kept, the routing order within each job, release
dates, no two operations overlapping on one machine (and the setup time between consecutive ones kept), no forbidden
material pair directly in sequence, planned unavailability windows and down windows free, frozen operations unchanged.

An operation of zero duration occupies nothing (it never overlaps another operation or a window).

Examples
--------
>>> from leanlearn.schedule.instance import parse_standard
>>> from leanlearn.schedule.solution import Schedule, ScheduledOp
>>> inst = parse_standard("2 2\\n0 3 1 2\\n1 4 0 1\\n")
>>> ok = Schedule.from_ops("x", "FEASIBLE", [ScheduledOp(0, 0, 0, 0, 3), ScheduledOp(0, 1, 1, 4, 6),
...                                           ScheduledOp(1, 0, 1, 0, 4), ScheduledOp(1, 1, 0, 4, 5)])
>>> validate_schedule(inst, ok)
[]
>>> validate_schedule(inst, ok, down=[(1, 5, 2)])
['job 0 operation 1 on machine 1 [4, 6) runs in the down window [5, 7)']
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from leanlearn.schedule.instance import Instance
from leanlearn.schedule.solution import Schedule, ScheduledOp

__all__ = ["validate_schedule"]


def _down_windows(down: Any) -> list[tuple[int, int, int]]:
    """``(machine, start, end)`` from Disruption objects or ``(machine, start, duration)`` triples."""
    if down is None:
        return []
    if hasattr(down, "machine"):
        down = [down]
    out = []
    for d in down:
        if hasattr(d, "machine"):
            out.append((d.machine, d.start, d.start + d.duration))
        else:
            m, s, dur = d
            out.append((int(m), int(s), int(s) + int(dur)))
    return out


def _frozen_map(frozen: Any) -> dict[tuple[int, int], tuple[int, int]]:
    if frozen is None:
        return {}
    if isinstance(frozen, Schedule):
        return {(o.job, o.index): (o.start, o.end) for o in frozen.operations}
    if isinstance(frozen, Mapping):
        return {k: (v.start, v.end) if isinstance(v, ScheduledOp) else tuple(v) for k, v in frozen.items()}
    return {(o.job, o.index): (o.start, o.end) for o in frozen}


def validate_schedule(instance: Instance, schedule: Schedule, *, down: Any = None,
                      frozen: Schedule | Mapping[tuple[int, int], Any] | Iterable[ScheduledOp] | None = None,
                      max_problems: int = 50) -> list[str]:
    """Every way ``schedule`` breaks ``instance``'s constraints (at most ``max_problems``); ``[]`` when feasible.

    Parameters
    ----------
    down : Disruption, or iterable of Disruption or (machine, start, duration), optional
        Down windows ``[start, start + duration)`` in which the machine must be free (besides the instance's own
        unavailability windows).
    frozen : Schedule, mapping or iterable of ScheduledOp, optional
        Operations that must keep exactly these start and end times.
    """
    problems: list[str] = []

    def add(text: str) -> bool:
        problems.append(text)
        return len(problems) >= max_problems

    seen: dict[tuple[int, int], ScheduledOp] = {}
    for o in schedule.operations:
        key = (o.job, o.index)
        if not (0 <= o.job < len(instance.jobs)) or not (0 <= o.index < len(instance.jobs[o.job].operations)):
            if add(f"job {o.job} operation {o.index} is not in the instance"):
                return problems
            continue
        if key in seen:
            if add(f"job {o.job} operation {o.index} is scheduled more than once"):
                return problems
            continue
        seen[key] = o
        op = instance.op(o.job, o.index)
        if o.machine != op.machine:
            if add(f"job {o.job} operation {o.index} is on machine {o.machine}, its routing says {op.machine}"):
                return problems
        if o.end - o.start != op.duration:
            if add(f"job {o.job} operation {o.index} lasts {o.end - o.start} ([{o.start}, {o.end})), its duration "
                   f"is {op.duration}"):
                return problems
    for op in instance.operations:
        if (op.job, op.index) not in seen and add(f"job {op.job} operation {op.index} is missing"):
            return problems
    if schedule.operations and schedule.makespan != max(o.end for o in schedule.operations):
        if add(f"makespan says {schedule.makespan}, the operations end at {max(o.end for o in schedule.operations)}"):
            return problems

    for job in instance.jobs:
        ops = [seen.get((job.id, k)) for k in range(len(job.operations))]
        first = ops[0] if ops else None
        if first is not None and first.start < job.release:
            if add(f"job {job.id} starts at {first.start}, before its release {job.release}"):
                return problems
        for k in range(1, len(ops)):
            a, b = ops[k - 1], ops[k]
            if a is not None and b is not None and b.start < a.end:
                if add(f"job {job.id} operation {k} starts at {b.start}, before operation {k - 1} ends ({a.end})"):
                    return problems

    for m in range(instance.n_machines):
        seq = sorted((o for o in seen.values() if o.machine == m), key=lambda o: (o.start, o.end, o.job, o.index))
        busy = [o for o in seq if o.end > o.start]
        for a, b in itertools.pairwise(busy):
            if b.start < a.end:
                if add(f"machine {m}: job {a.job} operation {a.index} [{a.start}, {a.end}) overlaps job {b.job} "
                       f"operation {b.index} [{b.start}, {b.end})"):
                    return problems
        for a, b in itertools.pairwise(seq):
            setup = instance.setup(m, a.job, b.job)
            if setup and b.start < a.end + setup and b.start >= a.end:
                if add(f"machine {m}: job {b.job} operation {b.index} starts at {b.start}, before the setup of "
                       f"{setup} after job {a.job} operation {a.index} (ends {a.end}) is done"):
                    return problems
            if instance.is_forbidden(m, a.job, b.job):
                if add(f"machine {m}: job {b.job} (material {instance.material(b.job)}) directly follows job {a.job} "
                       f"(material {instance.material(a.job)}), a forbidden sequence"):
                    return problems

    windows = [(m, s, e, "unavailable window") for m, s, e in instance.unavailable]
    windows += [(m, s, e, "down window") for m, s, e in _down_windows(down)]
    for m, s, e, what in windows:
        for o in seen.values():
            if o.machine == m and o.end > o.start and o.start < e and o.end > s:
                if add(f"job {o.job} operation {o.index} on machine {m} [{o.start}, {o.end}) runs in the {what} "
                       f"[{s}, {e})"):
                    return problems

    for key, (start, end) in _frozen_map(frozen).items():
        got = seen.get(key)
        if got is not None and (got.start, got.end) != (start, end):
            if add(f"job {key[0]} operation {key[1]} is frozen at [{start}, {end}) but scheduled at "
                   f"[{got.start}, {got.end})"):
                return problems
    return problems
