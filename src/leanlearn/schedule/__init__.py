"""Event-triggered rescheduling: job-shop instances, CP-SAT solve and repair, right-shift, feasibility checks.

OR-Tools is imported only when a model is solved (:mod:`leanlearn.schedule.cpsat`); importing this package and
reading instances stays light.

Examples
--------
>>> from leanlearn.schedule import Disruption, repair, solve
>>> from leanlearn.schedule.instance import parse_standard
>>> shop = parse_standard("3 2\\n0 3 1 2\\n1 4 0 1\\n0 2 1 2\\n")
>>> plan = solve(shop, time_limit=5)
>>> fixed = repair(shop, plan, Disruption(machine=1, start=2, duration=3), time_limit=5)
>>> fixed.schedule.makespan <= fixed.right_shift.makespan
True
"""

from __future__ import annotations

from typing import Any

from leanlearn.schedule.instance import Instance, InstanceError, Job, Operation, ScheduleLimits, read_instance
from leanlearn.schedule.repair import Disruption, RepairResult, remaining_problem, repair
from leanlearn.schedule.rightshift import right_shift
from leanlearn.schedule.solution import Schedule, ScheduledOp, bottleneck_machine, kpis, read_schedule
from leanlearn.schedule.validate import validate_schedule

__all__ = [
    "Disruption",
    "Instance",
    "InstanceError",
    "Job",
    "Operation",
    "RepairResult",
    "Schedule",
    "ScheduleLimits",
    "ScheduledOp",
    "bottleneck_machine",
    "kpis",
    "read_instance",
    "read_schedule",
    "remaining_problem",
    "repair",
    "right_shift",
    "solve",
    "validate_schedule",
]


def solve(*args: Any, **kwargs: Any) -> Schedule:
    """:func:`leanlearn.schedule.cpsat.solve` (imported on first use, with OR-Tools)."""
    from leanlearn.schedule.cpsat import solve as _solve

    return _solve(*args, **kwargs)
