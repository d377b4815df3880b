"""The adaptive loop: the monitor's event stream triggers a bounded-time repair, and the current schedule is kept.

A :class:`RescheduleTrigger` holds the plan (an instance and its schedule) and reads the line's events one at a time
(:meth:`RescheduleTrigger.update`, River style: it returns the trigger) or in micro-batches
(:meth:`~RescheduleTrigger.update_many`). Stations map to machines through the instance's machine names (or machine
numbers). Three kinds of event change the plan:

- **a station goes down** — ``{"event": "down", "station": "press", "time": 120}`` (or a canonical ``downtime`` row
  ``{"station", "start", "end", ...}``, whose length is then known): :func:`leanlearn.schedule.repair.repair` of the
  current schedule with the station down from ``time`` for ``expected_downtime`` (default: the mean of this
  station's downtimes seen so far, else the mean duration of its operations);
- **the station is back** — ``{"event": "up", "station": "press", "time": 150}``: when it comes back at another
  time than the repair assumed, the plan is made again from that time (earlier: work is pulled forward; later: what
  was planned on the station in the meantime moves after it);
- **takt deviation** — operation completions ``{"station", "job" (or "order_id" / "unit_id", matched to the job
  names), "end", optionally "start"}``: a completion's deviation is its lateness against the plan in planned
  durations, ``(end - planned end) / planned duration``; a station's takt deviation is the mean over its last
  ``window`` completions. Beyond ``tolerance`` either way the plan is made again from that completion on, with the
  actual times of the completed operations and — when the station's observed cycle (``end - start`` over the planned
  duration) is off by more than ``tolerance`` too — the station's remaining durations scaled by it. Within the
  tolerance nothing changes.

"Made again from time ``t``" (:meth:`~RescheduleTrigger.replan`): operations that started before ``t`` and could run
as planned keep their times (completed ones their actual times); the others — those behind a late operation, those
that met a down station — start at ``t`` or later; CP-SAT solves the remaining problem with the repair's objective
(bottleneck idle, then tardiness, then makespan, then operations moved) within ``time_limit`` seconds, hinted with
and bounded by a right-shift of the remaining operations, which is also the fallback. Due dates are the first plan's
job completion times throughout. Every schedule kept passes
:func:`~leanlearn.schedule.validate.validate_schedule`; a repair that cannot be made (bad data, no schedule in
time) keeps the current one and notes why (:attr:`~RescheduleTrigger.problems`).

Each repair is a :class:`Reschedule` (reason, event index, the repair's result), appended to
:attr:`~RescheduleTrigger.repairs` and handed to ``on_repair`` — e.g. a
:class:`leanlearn.schedule.tracking.ScheduleMetrics`, which logs it to MLflow beside the monitor's rule metrics.
Events without a station (the rules' own events) are passed over; events about a station the trigger cannot use (an
unknown station, a job it cannot find, no readable time) are counted (:attr:`~RescheduleTrigger.n_ignored`, the
reasons in :attr:`~RescheduleTrigger.problems`), never fatal.

**Hooking into the monitor.** :meth:`RescheduleTrigger.wrap` returns a stream that hands every micro-batch to the
trigger before the monitor sees it: ``run_monitor(pack, trigger.wrap(open_stream(path)), ...)`` runs the rule
monitor and the rescheduling on one stream, unchanged.

**Times.** Numbers are taken in the schedule's time unit. Dates (text or timestamps) need ``origin`` — the date of
the schedule's time 0 — and ``unit`` (default one minute): ``(date - origin) / unit``, rounded.

Examples
--------
>>> from leanlearn.schedule.instance import parse_standard
>>> from leanlearn.schedule.cpsat import solve
>>> from leanlearn.schedule.validate import validate_schedule
>>> inst = parse_standard("3 2\\n0 3 1 2\\n1 4 0 1\\n0 2 1 2\\n")
>>> plan = solve(inst, 5)
>>> trigger = RescheduleTrigger(inst, plan, time_limit=5)
>>> trigger.update({"event": "down", "station": "1", "time": 1}).n_repairs   # machine 1 down from t = 1
1
>>> trigger.repairs[-1].reason
'down'
>>> validate_schedule(trigger.current_instance, trigger.current, down=[(1, 1, trigger.repairs[-1].disruption.duration)])
[]
>>> trigger.update({"station": "M0", "job": 0, "end": plan.by_key()[0, 0].end}).n_repairs  # on time: no repair
1
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from numbers import Real
from typing import TYPE_CHECKING, Any

from leanlearn.online.base import OnlineBase
from leanlearn.schedule.instance import Instance, InstanceError, Job, Operation
from leanlearn.schedule.repair import DEFAULT_OBJECTIVE, Disruption, RepairResult, repair, resolve_patience
from leanlearn.schedule.rightshift import push_past_windows
from leanlearn.schedule.solution import Schedule, ScheduledOp, bottleneck_machine, kpis
from leanlearn.schedule.validate import validate_schedule

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Reschedule", "RescheduleTrigger", "TriggeredStream"]

_MAX_PROBLEMS = 20
_JOB_KEYS = ("job", "order_id", "unit_id", "order", "unit")
_KIND_KEYS = ("event", "kind", "state")


@dataclass(frozen=True)
class Reschedule:
    """One repair the trigger made.

    Attributes
    ----------
    reason : str
        ``down``, ``downtime`` (a complete downtime record), ``up-early``, ``up-late`` or ``takt``.
    step : int
        Index of the event that triggered it (0-based, over every event the trigger read).
    time : int
        The repair's time (schedule units): the breakdown's start or the time the plan was made again from.
    machine : int
        The station (machine index) concerned.
    result : RepairResult
        The repaired schedule, the right-shift beside it, both KPIs, the solve time.
    event : dict
        The triggering event.
    deviation : float or None
        The station's takt deviation that triggered a ``takt`` repair.
    disruption : Disruption or None
        The breakdown repaired (``down`` and ``downtime``).
    """

    reason: str
    step: int
    time: int
    machine: int
    result: RepairResult
    event: dict[str, Any] = field(default_factory=dict)
    deviation: float | None = None
    disruption: Disruption | None = None

    @property
    def schedule(self) -> Schedule:
        return self.result.schedule

    @property
    def kpis(self) -> dict[str, Any]:
        return self.result.kpis

    @property
    def right_shift_kpis(self) -> dict[str, Any]:
        return self.result.right_shift_kpis

    @property
    def solve_time_s(self) -> float:
        return self.result.solve_time_s

    def to_json(self) -> dict[str, Any]:
        """The repair's JSON (schedule, KPIs, right-shift's) with ``reason``, ``step``, ``time``, ``machine``."""
        doc = self.result.to_json()
        doc.update({"reason": self.reason, "step": self.step, "time": self.time, "machine": self.machine})
        if self.deviation is not None:
            doc["deviation"] = self.deviation
        return doc


class RescheduleTrigger(OnlineBase):
    """Repair the schedule when a station goes down or its takt drifts beyond a tolerance (see the module docstring).

    Parameters
    ----------
    instance : Instance
        The job shop planned (machine names = station names).
    schedule : Schedule
        Its current plan (feasible for ``instance``).
    tolerance : float, default=0.1
        Largest takt deviation (in planned durations) that leaves the plan alone.
    window : int, default=1
        Completions per station the takt deviation is averaged over.
    time_limit : float, default=10.0
        Seconds one repair may take (CP-SAT's limit; the right-shift fallback is always there).
    expected_downtime : int, optional
        Assumed length of a breakdown whose end is not known yet (default: see the module docstring).
    origin : datetime or str, optional
        Date of the schedule's time 0, for events with dates.
    unit : str, default="1min"
        Length of one schedule time unit, for events with dates (a pandas offset: ``"1min"``, ``"1s"``, ``"1h"``).
    objective : sequence of str, default=("bottleneck_idle", "tardiness", "makespan")
        The repair's lexicographic objective.
    stability_weight : int, default=0
        Time units one moved operation costs (see :func:`~leanlearn.schedule.repair.repair`).
    patience : float, "auto" or None, default="auto"
        A solver stage stops this many seconds after its last improvement (``None``: at the time limit or proof;
        ``"auto"``: 0.25 s up to 100 operations left, longer for bigger shops, see
        :func:`~leanlearn.schedule.repair.auto_patience`).
    workers, seed : int
        CP-SAT workers and seed.
    on_repair : callable, optional
        Called with each :class:`Reschedule`.
    station, time_key : str
        Event keys of the station and of a down / up event's time.
    """

    def __init__(self, instance: Instance, schedule: Schedule, *, tolerance: float = 0.1, window: int = 1,
                 time_limit: float = 10.0, expected_downtime: int | None = None,
                 origin: datetime | str | None = None, unit: str = "1min",
                 objective: Sequence[str] = DEFAULT_OBJECTIVE, stability_weight: int = 0,
                 patience: float | str | None = "auto", workers: int = 2, seed: int = 0,
                 on_repair: Callable[[Reschedule], Any] | None = None, station: str = "station",
                 time_key: str = "time") -> None:
        self.instance = instance
        self.schedule = schedule
        self.tolerance = tolerance
        self.window = window
        self.time_limit = time_limit
        self.expected_downtime = expected_downtime
        self.origin = origin
        self.unit = unit
        self.objective = objective
        self.stability_weight = stability_weight
        self.patience = patience
        self.workers = workers
        self.seed = seed
        self.on_repair = on_repair
        self.station = station
        self.time_key = time_key
        if not (isinstance(tolerance, int | float) and math.isfinite(tolerance) and tolerance >= 0):
            raise InstanceError(f"tolerance {tolerance!r}: give a number >= 0 (a share of the planned duration)")
        resolve_patience(patience, 0)  # a bad value is refused here, not at the first repair
        if not (isinstance(window, int) and window >= 1):
            raise InstanceError(f"window {window!r}: give a whole number of completions >= 1")
        problems = validate_schedule(instance, schedule)
        if problems:
            raise InstanceError(f"the schedule to keep is not feasible for {instance.name} ({problems[0]}); check "
                                "it with 'leanlearn schedule validate'")
        self._origin = None
        self._unit = None
        if origin is not None:
            import pandas as pd

            self._origin = _utc(pd.Timestamp(origin))
            self._unit = pd.Timedelta(unit)
        self.current_instance: Instance = instance
        self.current: Schedule = schedule
        self.due: dict[int, int] = {job.id: schedule.job_end(job.id) for job in instance.jobs}
        self.repairs: list[Reschedule] = []
        self.n_events = 0
        self.n_ignored = 0
        self.problems: deque[str] = deque(maxlen=_MAX_PROBLEMS)
        self._down: dict[int, tuple[int, int]] = {}  # machine -> (start, assumed end) while down
        self._downtimes: dict[int, list[int]] = {}  # machine -> lengths of past downtimes
        self._done: dict[tuple[int, int], tuple[int, int]] = {}  # completed operations' actual (start, end)
        self._late: dict[int, deque[tuple[float, float]]] = {}  # machine -> (deviation, cycle ratio) of completions
        self._names = {job.name: job.id for job in instance.jobs if job.name is not None}

    # -- properties ------------------------------------------------------------------------------------------------
    @property
    def n_repairs(self) -> int:
        """Repairs made so far."""
        return len(self.repairs)

    @property
    def down(self) -> dict[int, tuple[int, int]]:
        """Stations down now: machine -> (since, assumed end)."""
        return dict(self._down)

    # -- events ----------------------------------------------------------------------------------------------------
    def update(self, event: Mapping[str, Any]) -> RescheduleTrigger:
        """Read one event (see the module docstring); repair the plan if it calls for it. Returns the trigger."""
        step = self.n_events
        self.n_events += 1
        try:
            self._read(dict(event), step)
        except _Ignored as why:
            self._ignore(step, str(why))
        return self

    def update_many(self, frame: pd.DataFrame | Sequence[Mapping[str, Any]]) -> RescheduleTrigger:
        """:meth:`update` on each row of a DataFrame (or each mapping), in order. Returns the trigger."""
        rows = frame.to_dict("records") if hasattr(frame, "to_dict") else frame
        for row in rows:
            self.update({str(k): v for k, v in row.items() if not _blank(v)})
        return self

    def wrap(self, stream: Any) -> TriggeredStream:
        """A stream that feeds each micro-batch of ``stream`` to this trigger, then yields it on (to the monitor)."""
        return TriggeredStream(stream, self)

    def _ignore(self, step: int, why: str) -> None:
        self.n_ignored += 1
        self.problems.append(f"event {step}: {why}")

    def _read(self, event: dict[str, Any], step: int) -> None:
        if self.station not in event:
            return  # not about a station (a rule's event, say): not the trigger's
        machine = self._machine(event[self.station])
        kind = next((str(event[k]).strip().lower() for k in _KIND_KEYS if k in event), "")
        if kind in ("down", "breakdown", "fault", "stop"):
            self._on_down(machine, self._time(event, self.time_key, "start"), None, step, event, "down")
        elif kind in ("up", "back", "repaired", "restart", "run"):
            self._on_up(machine, self._time(event, self.time_key, "end"), step, event)
        elif any(k in event for k in _JOB_KEYS) and kind not in ("downtime",):
            self._on_completion(machine, event, step)
        elif "start" in event and "end" in event:
            start, end = self._time(event, "start"), self._time(event, "end")
            if end <= start:
                raise _Ignored(f"downtime ends ({end}) at or before it starts ({start})")
            self._on_downtime(machine, start, end, step, event)
        else:
            raise _Ignored("neither a down / up event, an operation completion (job, end) nor a downtime row "
                           "(start, end)")

    def _machine(self, value: Any) -> int:
        if isinstance(value, bool):
            raise _Ignored(f"station {value!r} is not a station")
        if isinstance(value, Real) and float(value).is_integer():
            value = int(float(value))
        text = str(value).strip()
        inst = self.current_instance
        if inst.machine_names and text in inst.machine_names:
            return inst.machine_names.index(text)
        if text.upper().startswith("M") and text[1:].isdigit():
            text = text[1:]
        if text.isdigit() and int(text) < inst.n_machines:
            return int(text)
        known = ", ".join(map(inst.machine_label, range(inst.n_machines)))
        raise _Ignored(f"station {value!r} is not in the plan ({known})")

    def _time(self, event: Mapping[str, Any], *keys: str) -> int:
        key = next((k for k in keys if k in event), None)
        if key is None:
            raise _Ignored(f"no time ({' or '.join(repr(k) for k in keys)})")
        value = event[key]
        if isinstance(value, bool):
            raise _Ignored(f"{key} {value!r} is not a time")
        if isinstance(value, Real):
            if value < 0 or (not isinstance(value, int) and not math.isfinite(value)):  # an int may exceed floats
                raise _Ignored(f"{key} {value!r} is not a time >= 0")
            return self._bounded(key, value)  # type: ignore[arg-type]  # an int or a float: compared exactly
        if self._origin is None or self._unit is None:
            raise _Ignored(f"{key} {value!r} is a date: give the trigger origin= (the date of the plan's time 0)")
        import pandas as pd

        try:
            stamp = _utc(pd.Timestamp(value))
        except (ValueError, TypeError):
            raise _Ignored(f"{key} {value!r} is not a readable time") from None
        units = (stamp - self._origin) / self._unit
        if not math.isfinite(units) or units < 0:
            raise _Ignored(f"{key} {value!r} is before the plan's origin")
        return self._bounded(key, units)

    @staticmethod
    def _bounded(key: str, value: float) -> int:
        """``value`` as schedule time units, refused past the horizon limit (no repair could be made there)."""
        from leanlearn.schedule.instance import ScheduleLimits

        limit = ScheduleLimits.from_env().max_horizon
        if value > limit:
            shown = f"{value:.3g}" if not isinstance(value, int) else f"of about 1e{int(value.bit_length() * 0.30103)}"
            raise _Ignored(f"{key} {shown} is past the horizon limit of {limit:,} time units; check the time unit "
                           "or raise LEANLEARN_MAX_HORIZON")
        return int(round(value))

    # -- downtime --------------------------------------------------------------------------------------------------
    def _expected(self, machine: int) -> int:
        if self.expected_downtime is not None:
            return max(1, int(self.expected_downtime))
        seen = self._downtimes.get(machine)
        if seen:
            return max(1, round(sum(seen) / len(seen)))
        ops = [op.duration for op in self.current_instance.operations if op.machine == machine]
        return max(1, round(sum(ops) / len(ops))) if ops else 1

    def _on_down(self, machine: int, start: int, end: int | None, step: int, event: dict[str, Any],
                 reason: str) -> None:
        if machine in self._down:
            raise _Ignored(f"station {self.current_instance.machine_label(machine)} is down already")
        duration = (end - start) if end is not None else self._expected(machine)
        disruption = Disruption(machine, start, duration)
        try:
            result = repair(self.current_instance, self.current, disruption, self.time_limit,
                            objective=self.objective, stability_weight=self.stability_weight, workers=self.workers,
                            seed=self.seed, due=self.due, patience=self.patience)
        except InstanceError as exc:
            raise _Ignored(f"cannot repair after this breakdown ({exc}); the plan is kept") from None
        self._keep(Reschedule(reason, step, start, machine, result, event, disruption=disruption),
                   self._window(machine, start, start + duration))
        if end is None:
            self._down[machine] = (start, start + duration)
        else:
            self._downtimes.setdefault(machine, []).append(duration)

    def _on_downtime(self, machine: int, start: int, end: int, step: int, event: dict[str, Any]) -> None:
        if machine in self._down and self._down[machine][0] == start:
            self._on_up(machine, end, step, event)  # the record of a breakdown already reported
            return
        self._on_down(machine, start, end, step, event, "downtime")

    def _on_up(self, machine: int, back: int, step: int, event: dict[str, Any]) -> None:
        if machine not in self._down:
            raise _Ignored(f"station {self.current_instance.machine_label(machine)} comes back but was not down")
        since, assumed = self._down.pop(machine)
        back = max(back, since + 1)
        self._downtimes.setdefault(machine, []).append(back - since)
        if back == assumed:
            return
        base = self._window(machine, since, back, replaces=(since, assumed))
        reason = "up-early" if back < assumed else "up-late"
        self._keep(*self._replan(base, back, machine, step, event, reason))

    def _window(self, machine: int, start: int, end: int, replaces: tuple[int, int] | None = None) -> Instance:
        """The current instance with the window ``[start, end)`` on ``machine`` (instead of ``replaces``)."""
        windows = [w for w in self.current_instance.unavailable if replaces is None or w != (machine, *replaces)]
        windows.append((machine, start, end))
        return replace(self.current_instance, unavailable=tuple(windows))

    # -- takt ------------------------------------------------------------------------------------------------------
    def _job(self, event: Mapping[str, Any]) -> int:
        for key in _JOB_KEYS:
            if key not in event:
                continue
            value = event[key]
            if key == "job" and isinstance(value, Real) and not isinstance(value, bool) and \
                    float(value).is_integer() and 0 <= float(value) < len(self.current_instance.jobs):
                return int(float(value))
            if str(value) in self._names:
                return self._names[str(value)]
            text = str(value).strip()
            if key == "job" and text.isdigit() and int(text) < len(self.current_instance.jobs):
                return int(text)
            raise _Ignored(f"{key} {value!r} is not a job of the plan")
        raise _Ignored("no job")

    def _on_completion(self, machine: int, event: Mapping[str, Any], step: int) -> None:
        job = self._job(event)
        end = self._time(event, "end", self.time_key)
        plan = self.current.by_key()
        todo = [op for op in self.current_instance.jobs[job].operations
                if op.machine == machine and (job, op.index) not in self._done]
        if not todo:
            raise _Ignored(f"job {job} has no open operation on station "
                           f"{self.current_instance.machine_label(machine)}")
        op = todo[0]
        planned = plan[job, op.index]
        start = self._time(event, "start") if "start" in event else planned.start
        if end < start:
            raise _Ignored(f"completion at {end} before its start {start}")
        self._done[job, op.index] = (start, end)
        planned_duration = max(1, planned.end - planned.start)
        deviation = (end - planned.end) / planned_duration
        ratio = (end - start) / planned_duration
        seen = self._late.setdefault(machine, deque(maxlen=self.window))
        seen.append((deviation, ratio))
        if len(seen) < self.window:
            return
        mean = sum(d for d, _ in seen) / len(seen)
        if abs(mean) <= self.tolerance:
            return
        cycle = sum(r for _, r in seen) / len(seen)
        seen.clear()
        scale = cycle if abs(cycle - 1) > self.tolerance and cycle > 0 else None
        self._keep(*self._replan(self.current_instance, end, machine, step, dict(event), "takt", deviation=mean,
                                 scale=scale))

    # -- replanning ------------------------------------------------------------------------------------------------
    def replan(self, now: int, *, reason: str = "replan") -> Reschedule:
        """Make the plan again from ``now`` (see the module docstring), keep it and return the repair."""
        rescheduled, instance = self._replan(self.current_instance, now, -1, self.n_events, {}, reason)
        try:
            self._keep(rescheduled, instance)
        except _Ignored as why:
            raise InstanceError(str(why)) from None
        return rescheduled

    def _actual_instance(self, base: Instance, now: int, machine: int, scale: float | None) -> Instance:
        """``base`` with the completed operations' actual durations and, with ``scale``, the operations
        of ``machine`` not started by ``now`` lengthened (or shortened) by it."""
        plan = self.current.by_key()
        jobs = []
        for job in base.jobs:
            ops = []
            for op in job.operations:
                duration = op.duration
                if (job.id, op.index) in self._done:
                    s, e = self._done[job.id, op.index]
                    duration = e - s
                elif scale is not None and op.machine == machine and plan[job.id, op.index].start >= now:
                    duration = max(1, round(op.duration * scale))
                ops.append(Operation(op.job, op.index, op.machine, duration))
            jobs.append(Job(job.id, tuple(ops), job.release, job.due, job.name, job.material))
        return replace(base, jobs=tuple(jobs))

    def _replan(self, base: Instance, now: int, machine: int, step: int, event: dict[str, Any], reason: str, *,
                deviation: float | None = None, scale: float | None = None) -> tuple[Reschedule, Instance]:
        from leanlearn.schedule.cpsat import Problem, _objectives, solve_problem

        t0 = time.perf_counter()
        inst = self._actual_instance(base, now, machine, scale)
        fixed, shifted = _shift(inst, self.current, self._done, now)
        free = [k for k in shifted.by_key() if k not in fixed]
        bottleneck = bottleneck_machine(inst, free) if free else bottleneck_machine(inst)
        names = _objectives(self.objective)
        if "moved" not in names:
            names.append("moved")
        due: dict[int, int | None] = dict(self.due)
        problem = Problem(inst, fixed=fixed, min_start=dict.fromkeys(free, now), due=due, bottleneck=bottleneck,
                          reference=self.current, makespan_ub=shifted.makespan, hint=shifted)
        left = max(self.time_limit - (time.perf_counter() - t0), 0.05)
        solved = solve_problem(problem, names, left, workers=self.workers, seed=self.seed,
                               stability_weight=self.stability_weight,
                               patience=resolve_patience(self.patience, len(free)))
        frozen_ops = {k: shifted.by_key()[k] for k in fixed}
        chosen = solved
        if not solved.operations or validate_schedule(inst, solved, frozen=frozen_ops):
            chosen = Schedule(shifted.instance_name, "FEASIBLE", shifted.makespan, shifted.operations,
                              {**solved.extra, "fallback": "right_shift", "solver_status": solved.status})
        elapsed = time.perf_counter() - t0
        chosen = Schedule(chosen.instance_name or inst.name, chosen.status, chosen.makespan, chosen.operations,
                          {**chosen.extra, "method": f"cp-sat replan ({reason})", "solve_time_s": round(elapsed, 4)})
        args: dict[str, Any] = {"due": self.due, "bottleneck": bottleneck, "reference": self.current}
        result = RepairResult(chosen, shifted, kpis(chosen, inst, **args), kpis(shifted, inst, **args), elapsed,
                              (), tuple(sorted(fixed)), (), dict(self.due))
        return Reschedule(reason, step, now, machine, result, event, deviation=deviation), inst

    def _keep(self, rescheduled: Reschedule, instance: Instance) -> None:
        """Make ``rescheduled`` (a schedule of ``instance``) the current plan — if it is feasible."""
        problems = validate_schedule(instance, rescheduled.schedule)
        if problems:  # never keep an infeasible plan
            raise _Ignored(f"the {rescheduled.reason} repair is not feasible ({problems[0]}); the plan is kept")
        self.current_instance = instance
        self.current = rescheduled.schedule
        self.repairs.append(rescheduled)
        if self.on_repair is not None:
            self.on_repair(rescheduled)


def _shift(instance: Instance, schedule: Schedule, done: Mapping[tuple[int, int], tuple[int, int]],
           now: int) -> tuple[dict[tuple[int, int], int], Schedule]:
    """Which operations keep their start at ``now`` (fixed: ``key -> start``) and a right-shift of the others.

    In the plan's start order (a topological order of job and machine precedences): an operation is fixed when it
    completed (its actual times), or started before ``now`` after its job and machine predecessors' (new) ends and
    off every unavailability window; every other one starts at ``max(now, predecessors' ends + setup, release)``,
    then past the windows of its machine.
    """
    windows: dict[int, list[tuple[int, int]]] = {}
    for m, s, e in instance.unavailable:
        windows.setdefault(m, []).append((s, e))
    job_end: dict[int, int] = {}
    machine_end: dict[int, tuple[int, int]] = {}  # machine -> (end, job) of its last operation so far
    fixed: dict[tuple[int, int], int] = {}
    ops: list[ScheduledOp] = []
    for o in sorted(schedule.operations, key=lambda o: (o.start, o.end, o.job, o.index)):
        key = (o.job, o.index)
        duration = instance.op(*key).duration
        last = machine_end.get(o.machine)
        ready = max(job_end.get(o.job, 0), (last[0] + instance.setup(o.machine, last[1], o.job)) if last else 0)
        if key in done:
            start = done[key][0]
            fixed[key] = start
        elif o.start < now and o.start >= ready and push_past_windows(o.start, duration,
                                                                       windows.get(o.machine, ())) == o.start:
            start = o.start
            fixed[key] = start
        else:
            release = instance.jobs[o.job].release if o.index == 0 else 0
            start = push_past_windows(max(now, ready, release), duration, windows.get(o.machine, ()))
        job_end[o.job] = start + duration
        machine_end[o.machine] = (start + duration, o.job)
        ops.append(ScheduledOp(o.job, o.index, o.machine, start, start + duration))
    return fixed, Schedule.from_ops(schedule.instance_name or instance.name, "FEASIBLE", ops, {"method": "right_shift"})


class TriggeredStream:
    """A stream (see :mod:`leanlearn.online.streams`) whose micro-batches go to a :class:`RescheduleTrigger` first.

    Everything else — position, seek, close, label, the counters and whatever else the monitor loop asks the stream
    for (``commit``, ``checkpoint_due``, ...) — is the wrapped stream's.
    """

    def __init__(self, stream: Any, trigger: RescheduleTrigger) -> None:
        self.stream = stream
        self.trigger = trigger

    def batches(self, size: int) -> Iterator[pd.DataFrame]:
        for frame in self.stream.batches(size):
            if len(frame):
                self.trigger.update_many(frame)
            yield frame

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class _Ignored(Exception):
    """An event the trigger cannot use (counted, with the reason)."""


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _utc(stamp: Any) -> Any:
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
