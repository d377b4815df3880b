"""A schedule as a value: operations with their machine, start and end; JSON in and out; its KPIs.

JSON form (what ``leanlearn schedule solve --json`` prints)::

    {"makespan": 55, "status": "OPTIMAL",
     "operations": [{"job": 0, "index": 0, "machine": 2, "start": 5, "end": 6}, ...]}

Extra keys (``instance``, ``objective``, ``kpis``, ``solve_time_s``, ...) are kept beside these.

**Bottleneck.** The bottleneck of an instance is the machine with the largest workload (the sum of its operations'
durations; ties: the lowest index); in a repair, the machine with the largest *remaining* workload (operations not
started at the disruption, the restarted one included). Its **idle time** is the time it does not process between
its first start and its last end (gaps, setups and down windows count as idle).

Examples
--------
>>> s = Schedule("tiny", "OPTIMAL", 5, (ScheduledOp(0, 0, 0, 0, 3), ScheduledOp(0, 1, 1, 3, 5),
...                                      ScheduledOp(1, 0, 1, 0, 2), ScheduledOp(1, 1, 0, 3, 4)))
>>> Schedule.from_json(s.to_json()) == s
True
>>> s.job_end(1)
4
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leanlearn._util import read_json_file
from leanlearn.schedule.instance import Instance, InstanceError

__all__ = ["STATUSES", "Schedule", "ScheduledOp", "bottleneck_machine", "kpis", "read_schedule"]

STATUSES = ("OPTIMAL", "FEASIBLE", "INFEASIBLE", "UNKNOWN")


@dataclass(frozen=True, slots=True)
class ScheduledOp:
    """Operation ``index`` of job ``job`` on ``machine`` during ``[start, end)``."""

    job: int
    index: int
    machine: int
    start: int
    end: int

    def to_json(self) -> dict[str, int]:
        """``{"job", "index", "machine", "start", "end"}``."""
        return {"job": self.job, "index": self.index, "machine": self.machine, "start": self.start, "end": self.end}


@dataclass(frozen=True, slots=True)
class Schedule:
    """A (possibly empty) schedule of an instance, with the solver's status and the makespan.

    ``extra`` holds further JSON keys (objective values, KPIs, solve time) and is not compared.
    """

    instance_name: str
    status: str
    makespan: int
    operations: tuple[ScheduledOp, ...]
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def by_key(self) -> dict[tuple[int, int], ScheduledOp]:
        """``(job, index) -> ScheduledOp``."""
        return {(o.job, o.index): o for o in self.operations}

    def job_end(self, job: int) -> int:
        """When the last operation of ``job`` ends (0 when the job has none here)."""
        return max((o.end for o in self.operations if o.job == job), default=0)

    def machine_sequence(self, machine: int) -> list[ScheduledOp]:
        """The operations on ``machine`` in start order."""
        return sorted((o for o in self.operations if o.machine == machine), key=lambda o: (o.start, o.end, o.job))

    def to_json(self) -> dict[str, Any]:
        """The JSON document (see the module docstring)."""
        ops = sorted(self.operations, key=lambda o: (o.job, o.index))
        doc: dict[str, Any] = {"makespan": self.makespan, "status": self.status,
                               "operations": [o.to_json() for o in ops]}
        doc["instance"] = self.instance_name
        for key, value in self.extra.items():
            doc.setdefault(key, value)
        return doc

    def dumps(self) -> str:
        """:meth:`to_json` as text."""
        return json.dumps(self.to_json(), indent=1)

    @classmethod
    def from_json(cls, doc: Any, label: str = "schedule") -> Schedule:
        """Build from the JSON document; :class:`InstanceError` names the bad key and operation."""
        if not isinstance(doc, dict):
            raise InstanceError(f"{label}: a schedule is a JSON object with 'operations'; got {type(doc).__name__}")
        ops_raw = doc.get("operations")
        if not isinstance(ops_raw, list):
            raise InstanceError(f"{label}: key 'operations' must be a list of {{job, index, machine, start, end}}")
        ops = []
        for i, item in enumerate(ops_raw):
            if not isinstance(item, dict):
                raise InstanceError(f"{label}: operations[{i}] must be an object {{job, index, machine, start, end}}")
            values = []
            for key in ("job", "index", "machine", "start", "end"):
                value = item.get(key)
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise InstanceError(f"{label}: operations[{i}].{key} is {value!r}; it must be a whole number >= 0")
                values.append(value)
            ops.append(ScheduledOp(*values))
        makespan = doc.get("makespan", max((o.end for o in ops), default=0))
        if isinstance(makespan, bool) or not isinstance(makespan, int):
            raise InstanceError(f"{label}: key 'makespan' is {makespan!r}; it must be a whole number")
        status = doc.get("status", "FEASIBLE")
        if not isinstance(status, str):
            raise InstanceError(f"{label}: key 'status' is {status!r}; it must be text such as 'FEASIBLE'")
        name = doc.get("instance", "")
        extra = {k: v for k, v in doc.items() if k not in ("makespan", "status", "operations", "instance")}
        return cls(str(name), status, makespan, tuple(ops), extra)

    @classmethod
    def from_ops(cls, instance_name: str, status: str, ops: Iterable[ScheduledOp],
                 extra: Mapping[str, Any] | None = None) -> Schedule:
        """A schedule whose makespan is its operations' latest end."""
        ops = tuple(sorted(ops, key=lambda o: (o.job, o.index)))
        return cls(instance_name, status, max((o.end for o in ops), default=0), ops, dict(extra or {}))


def read_schedule(path: str | Path, max_bytes: int = 256 << 20) -> Schedule:
    """Read a schedule JSON file (as ``schedule solve --json`` writes it)."""
    doc = read_json_file(path, max_bytes, InstanceError, "schedule",
                         "; write one with 'leanlearn schedule solve ... --json'")
    return Schedule.from_json(doc, str(path))


def bottleneck_machine(instance: Instance, only: Iterable[tuple[int, int]] | None = None) -> int:
    """The machine with the largest workload (sum of durations) over ``only`` — ``(job, index)`` keys — or over every
    operation; ties go to the lowest index.

    >>> from leanlearn.schedule.instance import parse_standard
    >>> bottleneck_machine(parse_standard("2 2\\n0 3 1 2\\n1 4 0 1\\n"))
    1
    """
    load = [0] * instance.n_machines
    keys = only if only is not None else ((op.job, op.index) for op in instance.operations)
    for job, index in keys:
        op = instance.op(job, index)
        load[op.machine] += op.duration
    return max(range(instance.n_machines), key=lambda m: (load[m], -m))


def kpis(schedule: Schedule, instance: Instance, due: Mapping[int, int] | Sequence[int | None] | None = None,
         bottleneck: int | None = None, reference: Schedule | None = None) -> dict[str, Any]:
    """Key figures of ``schedule``.

    Parameters
    ----------
    due : mapping or sequence, optional
        Due date per job; default: the instance's own (jobs without one are never late).
    bottleneck : int, optional
        The machine whose idle time is reported; default :func:`bottleneck_machine`.
    reference : Schedule, optional
        Count ``operations_moved``: operations whose start differs from their start in ``reference``.

    Returns
    -------
    dict
        ``makespan, total_tardiness, n_late, bottleneck, bottleneck_idle, operations_moved`` (``None`` without a
        reference).
    """
    dues = _dues(instance, due)
    ends: dict[int, int] = {}
    for o in schedule.operations:
        ends[o.job] = max(ends.get(o.job, 0), o.end)
    tardiness = [max(0, ends[j] - d) for j, d in dues.items() if d is not None and j in ends]
    b = bottleneck_machine(instance) if bottleneck is None else bottleneck
    on_b = [o for o in schedule.operations if o.machine == b]
    idle = (max(o.end for o in on_b) - min(o.start for o in on_b) - sum(o.end - o.start for o in on_b)) if on_b else 0
    moved = None
    if reference is not None:
        ref = reference.by_key()
        moved = sum(1 for o in schedule.operations
                    if (o.job, o.index) not in ref or ref[o.job, o.index].start != o.start)
    return {
        "makespan": max((o.end for o in schedule.operations), default=0),
        "total_tardiness": sum(tardiness),
        "n_late": sum(1 for t in tardiness if t > 0),
        "bottleneck": b,
        "bottleneck_idle": idle,
        "operations_moved": moved,
    }


def _dues(instance: Instance, due: Mapping[int, int] | Sequence[int | None] | None) -> dict[int, int | None]:
    if due is None:
        return {job.id: job.due for job in instance.jobs}
    if isinstance(due, Mapping):
        return {int(j): d for j, d in due.items()}
    return dict(enumerate(due))
