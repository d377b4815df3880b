"""The CP-SAT job-shop model: one interval per operation, routing precedences, release dates, a no-overlap per
machine (holding the machine's unavailability and down windows as fixed intervals), sequence-dependent setups and
forbidden material sequences (only on machines where a setup or a forbidden pair applies: one order literal per pair
of operations when the setups obey the triangle inequality and nothing is forbidden — exact then, and it scales to
20 x 15 — else a circuit through the machine's operations, whose arcs say "directly before"),
frozen operations (fixed starts), lower bounds on starts (a repair's "now"), an optional makespan upper bound, and a
solution hint.

Objectives are solved **lexicographically, stage by stage**: minimise the first, bound it by the value found, then
the next, each stage hinted with the previous stage's solution, all within one total time limit. Names:
``makespan``, ``tardiness`` (total, against the due dates), ``bottleneck_idle`` (see
:mod:`leanlearn.schedule.solution`), ``moved`` (operations whose start differs from a reference schedule).

OR-Tools is imported only when a model is built.

Examples
--------
>>> from leanlearn.schedule.instance import parse_standard
>>> result = solve(parse_standard("2 2\\n0 3 1 2\\n1 4 0 1\\n"), time_limit=5)
>>> result.status, result.makespan
('OPTIMAL', 6)
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from leanlearn.errors import LeanlearnError
from leanlearn.schedule.instance import Instance
from leanlearn.schedule.solution import Schedule, ScheduledOp, bottleneck_machine

__all__ = ["OBJECTIVES", "Problem", "solve", "solve_problem"]

#: Objective names (and accepted aliases).
OBJECTIVES = {"makespan": "makespan", "tardiness": "tardiness", "total_tardiness": "tardiness",
              "bottleneck_idle": "bottleneck_idle", "moved": "moved", "operations_moved": "moved",
              "stability": "moved"}


@dataclass
class Problem:
    """What to solve: an instance plus the repair's extras (all optional).

    ``fixed``: ``(job, index) -> start`` of frozen operations; ``min_start``: lower bounds on starts; ``windows``:
    extra ``(machine, start, end)`` down windows; ``due``: due date per job (default the instance's);
    ``bottleneck``: the machine of ``bottleneck_idle`` (default :func:`bottleneck_machine`); ``reference``: the
    schedule ``moved`` counts against; ``makespan_ub``: an upper bound on the makespan; ``hint``: a schedule to warm
    start from.
    """

    instance: Instance
    fixed: dict[tuple[int, int], int] = field(default_factory=dict)
    min_start: dict[tuple[int, int], int] = field(default_factory=dict)
    windows: tuple[tuple[int, int, int], ...] = ()
    due: dict[int, int | None] | None = None
    bottleneck: int | None = None
    reference: Schedule | None = None
    makespan_ub: int | None = None
    hint: Schedule | None = None


def _objectives(objective: str | Sequence[str]) -> list[str]:
    names = [objective] if isinstance(objective, str) else list(objective)
    out = []
    for name in names:
        if name not in OBJECTIVES:
            raise LeanlearnError(f"unknown objective {name!r}; use one of makespan, tardiness, bottleneck_idle, moved")
        if OBJECTIVES[name] not in out:
            out.append(OBJECTIVES[name])
    if not out:
        raise LeanlearnError("give at least one objective (makespan, tardiness, bottleneck_idle, moved)")
    return out


class _Model:
    """The CP-SAT model of a :class:`Problem` (built once; stages add bounds and change the objective)."""

    def __init__(self, problem: Problem) -> None:
        from ortools.sat.python import cp_model

        self.cp = cp_model
        self.p = p = problem
        inst = p.instance
        m = self.model = cp_model.CpModel()
        horizon = inst.horizon()
        horizon = max([horizon] + [s + horizon for s in p.fixed.values()] + [s + horizon for s in p.min_start.values()]
                      + [e + sum(o.duration for o in inst.operations) for _, _, e in p.windows])
        if p.makespan_ub is not None:
            horizon = min(horizon, max(p.makespan_ub, 0))
        self.horizon = horizon
        self.start: dict[tuple[int, int], Any] = {}
        self.end: dict[tuple[int, int], Any] = {}
        self.interval: dict[tuple[int, int], Any] = {}
        for op in inst.operations:
            key = (op.job, op.index)
            start: Any
            end: Any
            if key in p.fixed:
                s = p.fixed[key]
                start = m.new_constant(s)
                end = m.new_constant(s + op.duration)
                interval = m.new_fixed_size_interval_var(s, op.duration, f"i{key}")
            else:
                lo = max(p.min_start.get(key, 0), inst.jobs[op.job].release if op.index == 0 else 0)
                hi = max(horizon - op.duration, lo)
                start = m.new_int_var(lo, hi, f"s{key}")
                end = start + op.duration
                interval = m.new_fixed_size_interval_var(start, op.duration, f"i{key}")
            self.start[key], self.end[key], self.interval[key] = start, end, interval
        for job in inst.jobs:
            for k in range(1, len(job.operations)):
                m.add(self.start[job.id, k] >= self.end[job.id, k - 1])
        windows = list(inst.unavailable) + list(p.windows)
        self.arcs: dict[int, dict[tuple[tuple[int, int], tuple[int, int]], Any]] = {}
        self.orders: dict[int, dict[tuple[tuple[int, int], tuple[int, int]], Any]] = {}
        self.ends_of: dict[int, dict[tuple[int, int], tuple[Any, Any]]] = {}
        for machine in range(inst.n_machines):
            keys = [(o.job, o.index) for o in inst.operations if o.machine == machine]
            blocks = [m.new_fixed_size_interval_var(s, e - s, f"w{machine}.{s}") for mm, s, e in windows
                      if mm == machine and e > s]
            m.add_no_overlap([self.interval[k] for k in keys] + blocks)
            if len(keys) > 1 and self._needs_circuit(machine, keys):
                if self._triangle(machine, keys):
                    self._pairwise(machine, keys)
                else:
                    self._circuit(machine, keys)
        # objective expressions
        self.exprs: dict[str, Any] = {}
        lasts = [self.end[job.id, len(job.operations) - 1] for job in inst.jobs]
        self.aux: list[tuple[Any, Any]] = []  # (variable, its value from a schedule): completes a hint
        mk = m.new_int_var(0, horizon, "makespan")
        self.aux.append((mk, lambda s, o: s.makespan))
        m.add_max_equality(mk, lasts)
        self.exprs["makespan"] = mk
        dues = p.due if p.due is not None else {job.id: job.due for job in inst.jobs}
        tard = []
        for job in inst.jobs:
            d = dues.get(job.id)
            if d is None:
                continue
            t = m.new_int_var(0, horizon, f"t{job.id}")
            m.add(t >= lasts[job.id] - d)
            tard.append(t)
            self.aux.append((t, lambda s, o, j=job.id, d=d: max(0, s.job_end(j) - d)))
        self.exprs["tardiness"] = sum(tard) if tard else 0
        b = bottleneck_machine(inst) if p.bottleneck is None else p.bottleneck
        self.bottleneck = b
        on_b = [(o.job, o.index) for o in inst.operations if o.machine == b]
        first, last = m.new_int_var(0, horizon, "b_first"), m.new_int_var(0, horizon, "b_last")
        m.add_min_equality(first, [self.start[k] for k in on_b])
        m.add_max_equality(last, [self.end[k] for k in on_b])
        idle = m.new_int_var(0, horizon, "b_idle")  # >= 0 known to the solver: an idle-free bottleneck is optimal
        if on_b:
            busy = sum(inst.op(*k).duration for k in on_b)
            self.aux.append((first, lambda s, o: min(o[k].start for k in on_b)))
            self.aux.append((last, lambda s, o: max(o[k].end for k in on_b)))
            self.aux.append((idle, lambda s, o: max(o[k].end for k in on_b) - min(o[k].start for k in on_b) - busy))
        m.add(idle == last - first - sum(inst.op(*k).duration for k in on_b))
        self.exprs["bottleneck_idle"] = idle
        moved: list[Any] = []
        if p.reference is not None:
            ref = p.reference.by_key()
            for key, start in self.start.items():
                r = ref.get(key)
                if key in p.fixed:
                    moved.append(int(r is None or r.start != p.fixed[key]))
                    continue
                if r is None:
                    moved.append(1)
                    continue
                flag = m.new_bool_var(f"moved{key}")
                m.add(start == r.start).only_enforce_if(~flag)
                moved.append(flag)
                self.aux.append((flag, lambda s, o, key=key, r=r.start: o[key].start != r))
        self.exprs["moved"] = sum(moved) if moved else 0
        if p.hint is not None:
            self.hint(p.hint)

    def _needs_circuit(self, machine: int, keys: list[tuple[int, int]]) -> bool:
        inst = self.p.instance
        jobs = {j for j, _ in keys}
        return any(inst.setup(machine, a, b) or inst.is_forbidden(machine, a, b) for a in jobs for b in jobs if a != b)

    def _triangle(self, machine: int, keys: list[tuple[int, int]]) -> bool:
        """Whether pairwise order literals model this machine's setups exactly: no forbidden pair, and the setups obey
        the triangle inequality ``s(a, c) <= s(a, b) + s(b, c)`` over the jobs' materials (then the gap to a
        non-adjacent successor is implied by the adjacent ones)."""
        inst = self.p.instance
        jobs = sorted({j for j, _ in keys})
        if any(inst.is_forbidden(machine, a, b) for a in jobs for b in jobs if a != b):
            return False
        by_material: dict[Any, int] = {}
        for j in jobs:
            by_material.setdefault(inst.material(j), j)
        reps = list(by_material.values())
        if len(reps) > 60:
            return False
        s = {(a, b): inst.setup(machine, a, b) for a in reps for b in reps}
        return all(s[a, c] <= s[a, b] + s[b, c] for a in reps for b in reps for c in reps)

    def _pairwise(self, machine: int, keys: list[tuple[int, int]]) -> None:
        """One order literal per pair of operations on the machine: the later one starts the setup after the other
        ends (n (n - 1) / 2 literals; scales better than a circuit)."""
        inst, m = self.p.instance, self.model
        orders = {}
        for x, a in enumerate(keys):
            for b in keys[x + 1:]:
                lit = m.new_bool_var(f"before{machine}.{a}.{b}")
                m.add(self.start[b] >= self.end[a] + inst.setup(machine, a[0], b[0])).only_enforce_if(lit)
                m.add(self.start[a] >= self.end[b] + inst.setup(machine, b[0], a[0])).only_enforce_if(~lit)
                orders[(a, b)] = lit
        self.orders[machine] = orders

    def _circuit(self, machine: int, keys: list[tuple[int, int]]) -> None:
        """Sequence the machine with a circuit through a depot (node 0): arc i -> j means j directly follows i."""
        inst, m = self.p.instance, self.model
        arcs = []
        lits: dict[tuple[int, int], Any] = {}
        self.ends_of[machine] = {}
        for i, a in enumerate(keys, start=1):
            first, last = m.new_bool_var(f"first{machine}.{a}"), m.new_bool_var(f"last{machine}.{a}")
            arcs.append((0, i, first))
            arcs.append((i, 0, last))
            self.ends_of[machine][a] = (first, last)
            for j, b in enumerate(keys, start=1):
                if i == j or inst.is_forbidden(machine, a[0], b[0]):
                    continue
                lit = m.new_bool_var(f"arc{machine}.{a}.{b}")
                setup = inst.setup(machine, a[0], b[0])
                m.add(self.start[b] >= self.end[a] + setup).only_enforce_if(lit)
                arcs.append((i, j, lit))
                lits[(i, j)] = lit
        m.add_circuit(arcs)
        self.arcs[machine] = {(keys[i - 1], keys[j - 1]): lit for (i, j), lit in lits.items()}

    def hint(self, schedule: Schedule) -> None:
        """Hint every start (and every arc of a circuit) with ``schedule``."""
        m = self.model
        m.clear_hints()
        ops = schedule.by_key()
        for key, start in self.start.items():
            if key in ops and key not in self.p.fixed:
                m.add_hint(start, ops[key].start)
        for machine, arcs in self.arcs.items():
            seq = [(o.job, o.index) for o in schedule.machine_sequence(machine)]
            follows = set(itertools.pairwise(seq))
            for pair, lit in arcs.items():
                m.add_hint(lit, pair in follows)
            for key, (first, last) in self.ends_of[machine].items():
                m.add_hint(first, bool(seq) and key == seq[0])
                m.add_hint(last, bool(seq) and key == seq[-1])
        for var, value in self.aux:
            try:
                m.add_hint(var, value(schedule, ops))
            except KeyError:  # the schedule lacks an operation: leave this one to the solver
                pass
        for machine, orders in self.orders.items():
            rank = {(o.job, o.index): r for r, o in enumerate(schedule.machine_sequence(machine))}
            for (a, b), lit in orders.items():
                if a in rank and b in rank:
                    m.add_hint(lit, rank[a] < rank[b])

    def schedule(self, solver: Any, status: str) -> Schedule:
        inst = self.p.instance
        ops = []
        for op in inst.operations:
            key = (op.job, op.index)
            s = int(solver.value(self.start[key]))
            ops.append(ScheduledOp(op.job, op.index, op.machine, s, s + op.duration))
        return Schedule.from_ops(inst.name, status, ops)


def _run(cp: Any, solver: Any, model: Any, patience: float | None) -> Any:
    """``solver.solve(model)``, stopped early when ``patience`` seconds pass without a better solution."""
    if patience is None:
        return solver.solve(model)
    import threading

    class Watch(cp.CpSolverSolutionCallback):
        def __init__(self) -> None:
            super().__init__()
            self.last: float | None = None

        def on_solution_callback(self) -> None:
            self.last = time.perf_counter()

    watch = Watch()
    done = threading.Event()

    def watcher() -> None:
        while not done.wait(0.02):
            if watch.last is not None and time.perf_counter() - watch.last > patience:
                solver.stop_search()
                return

    thread = threading.Thread(target=watcher, daemon=True)
    thread.start()
    try:
        return solver.solve(model, watch)
    finally:
        done.set()
        thread.join()


def solve_problem(problem: Problem, objective: str | Sequence[str] = ("makespan",), time_limit: float = 10.0, *,
                  workers: int = 2, seed: int = 0, stability_weight: int = 0, patience: float | None = None,
                  log: bool = False) -> Schedule:
    """Solve ``problem`` lexicographically over ``objective`` within ``time_limit`` seconds in total.

    Each stage gets an equal share of the time still left; a stage that proves its optimum early leaves its time to
    the next. When ``moved`` comes last it shares the previous stage (``last * (n_ops + 1) + moved``, exactly
    lexicographic). ``stability_weight`` (time units per moved operation, needs ``problem.reference``) adds the
    count of moved operations to every stage's objective. ``patience`` (seconds) ends a stage early when no better
    solution came for that long (``None``: each stage runs until proven optimal or out of time).

    The result's ``status`` is ``OPTIMAL`` when every stage proved its optimum, ``FEASIBLE`` when some stage ran out
    of time or patience, ``INFEASIBLE`` when the constraints admit no schedule, and ``UNKNOWN`` when no schedule was
    found in time; ``extra`` holds ``objective`` (each stage's value), ``stages`` (each stage's status) and
    ``solve_time_s``.
    """
    if time_limit <= 0:
        raise LeanlearnError(f"time limit {time_limit!r} must be a positive number of seconds")
    names = _objectives(objective)
    fold = len(names) > 1 and names[-1] == "moved" and problem.reference is not None
    if fold:  # (last, moved) in one stage: last * (n + 1) + moved is exactly lexicographic, as moved <= n
        names = names[:-1]
    t0 = time.perf_counter()
    model = _Model(problem)
    cp = model.cp
    best: Schedule | None = None
    values: dict[str, int] = {}
    stages: dict[str, str] = {}
    all_optimal = True
    for i, name in enumerate(names):
        left = time_limit - (time.perf_counter() - t0)
        if left <= 0.01:
            all_optimal = False
            break
        expr = model.exprs[name]
        goal = expr
        if stability_weight and problem.reference is not None and name != "moved":
            goal = expr + stability_weight * model.exprs["moved"]
        if fold and i == len(names) - 1:
            goal = goal * (len(problem.instance.operations) + 1) + model.exprs["moved"]
        model.model.minimize(goal)
        solver = cp.CpSolver()
        solver.parameters.max_time_in_seconds = left / (len(names) - i)
        solver.parameters.num_workers = max(1, int(workers))
        solver.parameters.random_seed = int(seed)
        solver.parameters.log_search_progress = bool(log)
        code = _run(cp, solver, model.model, patience)
        status = solver.status_name(code)
        stages[name] = status
        if code in (cp.OPTIMAL, cp.FEASIBLE):
            best = model.schedule(solver, "FEASIBLE")
            value = int(solver.value(expr)) if not isinstance(expr, int) else expr
            values[name] = value
            if code != cp.OPTIMAL:
                all_optimal = False
            if not isinstance(expr, int):
                model.model.add(expr <= value)
            if fold and i == len(names) - 1:
                values["moved"] = int(solver.value(model.exprs["moved"]))
                stages["moved"] = status
            model.hint(best)
            continue
        all_optimal = False
        if code == cp.MODEL_INVALID:  # a bug in the model, not the user's instance
            raise RuntimeError(f"CP-SAT refused the model of {problem.instance.name}: "
                               f"{model.model.validate() or 'no reason given'}")
        if code == cp.INFEASIBLE:
            if best is None:
                return _empty(problem, "INFEASIBLE", names, values, stages, t0)
        break
    if best is None:
        return _empty(problem, "UNKNOWN", names, values, stages, t0)
    final = "OPTIMAL" if all_optimal and all(name in values for name in names) else "FEASIBLE"
    return Schedule(best.instance_name, final, best.makespan, best.operations,
                    {"objective": values, "stages": stages, "solve_time_s": round(time.perf_counter() - t0, 4)})


def _empty(problem: Problem, status: str, names: list[str], values: Mapping[str, int], stages: Mapping[str, str],
           t0: float) -> Schedule:
    return Schedule(problem.instance.name, status, 0, (),
                    {"objective": dict(values), "stages": dict(stages),
                     "solve_time_s": round(time.perf_counter() - t0, 4)})


def solve(instance: Instance, time_limit: float = 10.0, *, workers: int = 2, seed: int = 0,
          hint: Schedule | None = None, objective: str | Sequence[str] = ("makespan",)) -> Schedule:
    """Schedule ``instance`` with CP-SAT within ``time_limit`` seconds (lexicographic over ``objective``).

    Warm-started from ``hint`` or else from :func:`~leanlearn.schedule.rightshift.dispatch` (a feasible greedy
    schedule); when makespan comes first, its makespan also bounds the model's. Returns a :class:`Schedule` with
    status ``OPTIMAL``, ``FEASIBLE`` (the warm start itself when CP-SAT found nothing better in time:
    ``extra["fallback"]``), ``INFEASIBLE`` (no operations) or ``UNKNOWN`` (no schedule found; no operations).
    """
    from leanlearn.schedule.rightshift import dispatch
    from leanlearn.schedule.validate import validate_schedule

    start = hint
    if start is None:
        start = dispatch(instance)
        if start is not None and validate_schedule(instance, start, max_problems=1):
            start = None
    names = _objectives(objective)
    bound = start.makespan if start is not None and names[0] == "makespan" else None
    result = solve_problem(Problem(instance, hint=start, makespan_ub=bound), names, time_limit, workers=workers,
                           seed=seed)
    if not result.operations and start is not None and result.status == "UNKNOWN":
        return Schedule(start.instance_name, "FEASIBLE", start.makespan, start.operations,
                        {**result.extra, "fallback": "hint" if hint is not None else "dispatch"})
    return result
