"""Event-triggered repair: after a machine goes down, reschedule the remaining operations with CP-SAT, warm-started
from the right-shift repair and never worse than it on makespan.

The **remaining problem** at the disruption's start ``now``:

- operations that ended before ``now`` keep their times; so do operations that started before ``now`` and are not
  interrupted (frozen: fixed starts in the model);
- the operation running on the downed machine at ``now`` is restarted from scratch after the window;
- every other operation is a decision: any start ``>= now``, in routing order, off the down window
  ``[start, start + duration)`` and the instance's own unavailability windows, with the setups.

Objectives, lexicographic in the order given (default: ``bottleneck_idle``, ``tardiness``, ``makespan``), then
``moved`` (operations whose start changed against the original schedule) as the last tie-break; ``stability_weight``
adds the moved count to every stage's objective as well. Tardiness is measured against the original schedule's job
completion times unless due dates are given. The **bottleneck** is the machine with the largest remaining workload
(durations of the operations not yet started at ``now``, the restarted one included).

The model's makespan is bounded by the right-shift makespan and hinted with the right-shift schedule (hints can be
lost in CP-SAT's presolve, or-tools #3750 / #4373; the bound keeps the guarantee); if CP-SAT finds no schedule in
time, the right-shift schedule is returned (``extra["fallback"] = "right_shift"``).

Examples
--------
>>> from leanlearn.schedule.instance import parse_standard
>>> from leanlearn.schedule.cpsat import solve
>>> inst = parse_standard("3 2\\n0 3 1 2\\n1 4 0 1\\n0 2 1 2\\n")
>>> plan = solve(inst, 5)
>>> result = repair(inst, plan, Disruption(1, 2, 3), time_limit=5)
>>> result.schedule.makespan <= result.right_shift.makespan
True
"""

from __future__ import annotations

import math
import numbers
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from leanlearn.schedule.instance import Instance, InstanceError, ScheduleLimits
from leanlearn.schedule.rightshift import _as_list, classify, right_shift
from leanlearn.schedule.solution import Schedule, bottleneck_machine, kpis
from leanlearn.schedule.validate import validate_schedule

__all__ = ["Disruption", "RepairResult", "auto_patience", "remaining_problem", "repair", "resolve_patience"]

DEFAULT_OBJECTIVE = ("bottleneck_idle", "tardiness", "makespan")
#: Seconds a repair stage waits for a better solution with up to 100 operations left to schedule; beyond, it grows
#: with the fourth power of the operations left (a bigger remaining problem improves more slowly, and the issue's
#: 2 s budget is for shops up to 10 x 10: from about 250 operations on a stage runs until the time limit).
PATIENCE = 0.25
#: The exponent of that growth.
PATIENCE_POWER = 4


@dataclass(frozen=True, slots=True)
class Disruption:
    """``machine`` is down during ``[start, start + duration)``."""

    machine: int
    start: int
    duration: int

    @property
    def end(self) -> int:
        """When the machine is back."""
        return self.start + self.duration

    def to_json(self) -> dict[str, int]:
        """``{"machine", "start", "duration"}``."""
        return {"machine": self.machine, "start": self.start, "duration": self.duration}

    @classmethod
    def parse(cls, text: str, instance: Instance | None = None) -> Disruption:
        """``MACHINE:START:DURATION`` (machine by index, or by name when ``instance`` names its machines).

        >>> Disruption.parse("2:30:15")
        Disruption(machine=2, start=30, duration=15)
        """
        match = re.fullmatch(r"\s*(.+?):(\d+):(\d+)\s*", str(text))
        if not match:
            raise InstanceError(f"--down {text!r}: write MACHINE:START:DURATION with whole numbers, e.g. 2:30:15")
        name, start, duration = match.group(1), int(match.group(2)), int(match.group(3))
        if instance is not None:
            machine = instance.machine_index(name)
        elif name.isdigit():
            machine = int(name)
        else:
            raise InstanceError(f"--down {text!r}: machine {name!r} must be a number here")
        if duration < 1:
            raise InstanceError(f"--down {text!r}: the duration must be at least 1")
        return cls(machine, start, duration)


@dataclass
class RepairResult:
    """The repaired schedule, the right-shift repair beside it, and both one's KPIs."""

    schedule: Schedule
    right_shift: Schedule
    kpis: dict[str, Any]
    right_shift_kpis: dict[str, Any]
    solve_time_s: float
    disruptions: tuple[Disruption, ...] = ()
    frozen: tuple[tuple[int, int], ...] = ()
    restarted: tuple[tuple[int, int], ...] = ()
    due: dict[int, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The repaired schedule's JSON plus ``kpis``, ``right_shift`` (its KPIs), the disruptions, and which
        operations were frozen or restarted."""
        doc = self.schedule.to_json()
        doc["kpis"] = self.kpis
        doc["right_shift"] = {k: self.right_shift_kpis[k] for k in
                              ("makespan", "total_tardiness", "bottleneck_idle", "operations_moved")}
        doc["solve_time_s"] = round(self.solve_time_s, 4)
        doc["disruptions"] = [d.to_json() for d in self.disruptions]
        doc["restarted"] = [list(k) for k in self.restarted]
        doc["n_frozen"] = len(self.frozen)
        return doc


def _check(instance: Instance, schedule: Schedule, disruptions: Sequence[Disruption]) -> None:
    for d in disruptions:
        if not 0 <= d.machine < instance.n_machines:
            raise InstanceError(f"disruption on machine {d.machine}: machines are 0..{instance.n_machines - 1}")
        if d.start < 0 or d.duration < 0:
            raise InstanceError(f"disruption {d.machine}:{d.start}:{d.duration}: give start >= 0 and duration >= 0")
        limit = ScheduleLimits.from_env().max_horizon
        if d.end > limit:
            raise InstanceError(f"disruption {d.machine}:{d.start}:{d.duration} ends at {d.end:,}, past the horizon "
                                f"limit of {limit:,}; check the time unit or raise LEANLEARN_MAX_HORIZON")
    problems = validate_schedule(instance, schedule)
    if problems:
        raise InstanceError(f"the schedule to repair is not feasible for {instance.name} ({problems[0]}; "
                            f"{len(problems)} problem(s)); check it with 'leanlearn schedule validate'")


def remaining_problem(instance: Instance, schedule: Schedule,
                      disruption: Disruption | Sequence[Disruption] | None, *, now: int | None = None,
                      due: Mapping[int, int] | None = None, hint: Schedule | None = None,
                      makespan_ub: int | None = None) -> Any:
    """The :class:`~leanlearn.schedule.cpsat.Problem` of the operations left after ``disruption`` (see the module
    docstring): frozen starts fixed, the rest free from ``now`` on, the down windows blocked, due dates (default the
    original completion times), the remaining-workload bottleneck, the original schedule as the stability
    reference."""
    from leanlearn.schedule.cpsat import Problem

    disruptions = _as_list(disruption, now)
    now, frozen, _ = classify(schedule, disruptions, now)
    ops = schedule.by_key()
    free = [k for k in ops if k not in frozen]
    dues = dict(due) if due is not None else {job.id: schedule.job_end(job.id) for job in instance.jobs}
    return Problem(
        instance,
        fixed={k: ops[k].start for k in frozen},
        min_start=dict.fromkeys(free, now),
        windows=tuple((d.machine, d.start, d.end) for d in disruptions if d.duration > 0),
        due=dues,  # type: ignore[arg-type]
        bottleneck=bottleneck_machine(instance, free) if free else bottleneck_machine(instance),
        reference=schedule,
        makespan_ub=makespan_ub,
        hint=hint,
    )


def auto_patience(n_operations: int) -> float:
    """The ``"auto"`` patience (seconds) of a repair with ``n_operations`` left to schedule.

    >>> auto_patience(60), auto_patience(100), auto_patience(200)
    (0.25, 0.25, 4.0)
    """
    return PATIENCE * max(1.0, n_operations / 100) ** PATIENCE_POWER


def resolve_patience(patience: float | str | None, n_operations: int) -> float | None:
    """The seconds a solver stage waits for a better solution: ``"auto"`` is :func:`auto_patience` of the
    ``n_operations`` left to schedule, a positive finite number is itself, ``None`` is no patience (until proven
    optimal or out of time); anything else is an :class:`InstanceError`.

    >>> resolve_patience("auto", 200), resolve_patience(1, 10), resolve_patience(None, 10)
    (4.0, 1.0, None)
    """
    if patience is None:
        return None
    if isinstance(patience, str) and patience == "auto":
        return auto_patience(n_operations)
    if (isinstance(patience, bool) or not isinstance(patience, numbers.Real) or not math.isfinite(patience)
            or patience <= 0):
        raise InstanceError(f"patience {patience!r}: give a positive number of seconds, 'auto' or None")
    return float(patience)


def repair(instance: Instance, schedule: Schedule, disruption: Disruption | Sequence[Disruption] | None,
           time_limit: float = 10.0, *, now: int | None = None, objective: str | Sequence[str] = DEFAULT_OBJECTIVE,
           stability_weight: int = 0, workers: int = 2, seed: int = 0, due: Mapping[int, int] | None = None,
           warm_start: bool = True, patience: float | str | None = "auto") -> RepairResult:
    """Repair ``schedule`` after ``disruption`` (one or several) within ``time_limit`` seconds.

    Parameters
    ----------
    disruption : Disruption, sequence of Disruption, or None
        The down windows. A window of duration 0 restarts nothing. ``None`` (or ``[]``) with ``now``: replan from
        ``now`` without a breakdown (e.g. after a takt drift, with actual durations in the instance).
    now : int, optional
        The time to replan from (default: the earliest disruption's start): operations that started before it keep
        their times, except those overlapping a down window, which restart.
    objective : sequence of str
        Lexicographic order of ``bottleneck_idle``, ``tardiness``, ``makespan`` (``moved`` is appended last unless
        given).
    stability_weight : int
        Time units one moved operation costs in every stage (0: stability only breaks ties, last).
    due : mapping, optional
        Due date per job; default: the job's completion time in ``schedule``.
    warm_start : bool
        Hint with the right-shift schedule and bound the makespan by its makespan (``False``: a cold solve of the
        remaining problem, e.g. for a reference run).
    patience : float, "auto" or None
        Seconds a stage goes on without finding a better solution before it stops (``None``: until proven optimal
        or out of time). ``"auto"``: 0.25 s up to 100 operations left to schedule, and 0.25 s × (n / 100)⁴ beyond
        (1.3 s at 150, 4 s at 200, 20 s at 300) — what keeps a repair around a second on a 10 x 10 shop while a
        20 x 10 or 30 x 10 shop, whose solutions improve more slowly, uses its whole time limit to come within 2 %
        of a long solve; the limit stays a bound either way.
    """
    from leanlearn.schedule.cpsat import _objectives, solve_problem

    t0 = time.perf_counter()
    resolve_patience(patience, 0)  # a bad value fails before any work
    disruptions = _as_list(disruption, now)
    _check(instance, schedule, disruptions)
    names = _objectives(objective)
    if "moved" not in names:
        names.append("moved")
    shifted = right_shift(instance, schedule, disruptions, now=now)
    problem = remaining_problem(instance, schedule, disruptions, now=now, due=due,
                                hint=shifted if warm_start else None,
                                makespan_ub=shifted.makespan if warm_start else None)
    _, frozen, restarted = classify(schedule, disruptions, now)
    left = max(time_limit - (time.perf_counter() - t0), 0.05)
    solved = solve_problem(problem, names, left, workers=workers, seed=seed, stability_weight=stability_weight,
                           patience=resolve_patience(patience, len(problem.min_start)))
    result = solved
    if not solved.operations or validate_schedule(instance, solved, down=disruptions,
                                                  frozen={k: schedule.by_key()[k] for k in frozen}):
        result = Schedule(shifted.instance_name, "FEASIBLE", shifted.makespan, shifted.operations,
                          {**solved.extra, "fallback": "right_shift", "solver_status": solved.status})
    dues = problem.due
    args = {"due": dues, "bottleneck": problem.bottleneck, "reference": schedule}
    elapsed = time.perf_counter() - t0
    result = Schedule(result.instance_name or instance.name, result.status, result.makespan, result.operations,
                      {**result.extra, "method": "right_shift" if "fallback" in result.extra else "cp-sat repair",
                       "solve_time_s": round(elapsed, 4)})
    return RepairResult(result, shifted, kpis(result, instance, **args), kpis(shifted, instance, **args), elapsed,
                        tuple(disruptions), tuple(sorted(frozen)), tuple(sorted(restarted)), dues)
