"""Job-shop instances: the model (jobs, routings, machines, setups, release and due dates, unavailability) and its
readers — the standard job-shop text format and leanlearn's own YAML.

**Standard format** (OR-Library, job-shop-lib): the first line that is not a comment holds ``n_jobs n_machines``;
then one line per job of ``machine duration`` pairs, machines numbered from 0. ``#`` starts a comment.

**YAML**::

    name: press-line
    time_unit: min                      # optional; every time below is an integer in this unit
    machines: [press, lathe, mill]      # names (or a count: machines: 3)
    jobs:
      - name: order-1
        material: A                     # optional; sequence-dependent setups are keyed by material
        release: 0                      # optional, default 0
        due: 120                        # optional
        operations:
          - {machine: press, duration: 10}
          - [lathe, 20]                 # short form
    setups:                             # optional changeover matrix: machine -> from material -> to material -> time
      press: {A: {B: 15}, B: {A: 5}}
      "*": {A: {C: 30}}                 # "*": every machine (a machine's own entry wins)
    unavailable:                        # optional planned downtime windows [start, end)
      - {machine: lathe, start: 50, end: 80}
    forbidden:                          # optional: material A never directly before B (on one machine or all)
      - {from: A, to: C, machine: mill}

A setup is a gap between two consecutive operations of one machine: the next one starts at least the setup time
after the previous one ends. The first operation of a machine needs no setup.

Limits (:class:`ScheduleLimits`, environment variables in brackets): jobs (``LEANLEARN_MAX_JOBS``, 10,000),
machines (``LEANLEARN_MAX_MACHINES``, 1,000), operations (``LEANLEARN_MAX_OPERATIONS``, 200,000), one time value
(``LEANLEARN_MAX_TIME``, 10⁹) and the horizon — the sum of every duration, release, setup and window end
(``LEANLEARN_MAX_HORIZON``, 10¹²); the text file's size (``LEANLEARN_MAX_INSTANCE_BYTES``, 64 MiB).

Examples
--------
>>> path = getfixture("tmp_path") / "tiny.txt"
>>> _ = path.write_text("# two jobs, two machines\\n2 2\\n0 3 1 2\\n1 4 0 1\\n")
>>> inst = read_instance(path)
>>> inst.n_machines, len(inst.jobs), inst.jobs[1].operations[0]
(2, 2, Operation(job=1, index=0, machine=1, duration=4))
>>> _ = path.write_text("2 2\\n0 3 1 2\\n1 -4 0 1\\n")
>>> read_instance(path)
Traceback (most recent call last):
...
leanlearn.schedule.instance.InstanceError: .../tiny.txt: line 3, token 2 ('-4'): a duration must be a whole number ...
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from leanlearn.errors import DataError

__all__ = [
    "Instance",
    "InstanceError",
    "Job",
    "Operation",
    "ScheduleLimits",
    "parse_standard",
    "read_instance",
]


class InstanceError(DataError):
    """A job-shop instance, schedule or disruption cannot be read or does not fit the instance."""


@dataclass(frozen=True, slots=True)
class ScheduleLimits:
    """Bounds on one instance (see the module docstring); ``ScheduleLimits.from_env()`` reads overrides."""

    max_jobs: int = 10_000
    max_machines: int = 1_000
    max_operations: int = 200_000
    max_time: int = 10**9
    max_horizon: int = 10**12
    max_instance_bytes: int = 64 << 20

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ScheduleLimits:
        """Limits with every ``LEANLEARN_MAX_<NAME>`` variable set in ``environ`` (default ``os.environ``) applied.

        >>> ScheduleLimits.from_env({"LEANLEARN_MAX_JOBS": "50"}).max_jobs
        50
        """
        env = os.environ if environ is None else environ
        values: dict[str, int] = {}
        for item in fields(cls):
            var = "LEANLEARN_" + item.name.upper()
            if var in env:
                text = env[var].strip().replace("_", "")
                if not text.isdigit() or int(text) <= 0:
                    raise InstanceError(f"environment variable {var}={env[var]!r} must be a positive whole number")
                values[item.name] = int(text)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Operation:
    """Operation ``index`` (0-based, in routing order) of job ``job``: ``duration`` time units on ``machine``."""

    job: int
    index: int
    machine: int
    duration: int


@dataclass(frozen=True, slots=True)
class Job:
    """One job: its routing (operations in order), release date, optional due date, name and material."""

    id: int
    operations: tuple[Operation, ...]
    release: int = 0
    due: int | None = None
    name: str | None = None
    material: str | None = None


SetupKey = tuple[int | None, str, str]
Window = tuple[int, int, int]
Forbidden = tuple[int | None, str, str]


@dataclass(frozen=True, slots=True)
class Instance:
    """A job shop: ``n_machines`` machines, ``jobs`` with their routings, and optional extras.

    Parameters
    ----------
    name : str
        What the instance is called (the file stem by default).
    n_machines : int
        Machines are numbered ``0 .. n_machines - 1``.
    jobs : tuple of Job
        Job ``i`` is ``jobs[i]`` (``jobs[i].id == i``).
    setups : dict or None
        ``(machine, from_material, to_material) -> time``; machine ``None`` applies to every machine (a machine's own
        entry wins). ``None``: no setups.
    machine_names : tuple of str or None
        Names of the machines, by index.
    unavailable : tuple of (machine, start, end)
        Planned windows ``[start, end)`` in which nothing runs on ``machine``.
    forbidden : tuple of (machine, from_material, to_material)
        Material ``from`` never directly before ``to`` on ``machine`` (``None``: on every machine).
    time_unit : str or None
        The unit of every time (informational).
    """

    name: str
    n_machines: int
    jobs: tuple[Job, ...]
    setups: dict[SetupKey, int] | None = None
    machine_names: tuple[str, ...] | None = None
    unavailable: tuple[Window, ...] = ()
    forbidden: tuple[Forbidden, ...] = ()
    time_unit: str | None = field(default=None)

    @property
    def operations(self) -> tuple[Operation, ...]:
        """Every operation, job by job."""
        return tuple(op for job in self.jobs for op in job.operations)

    def op(self, job: int, index: int) -> Operation:
        """Operation ``index`` of job ``job``."""
        return self.jobs[job].operations[index]

    def material(self, job: int) -> str | None:
        """The material of job ``job`` (``None`` when not given)."""
        return self.jobs[job].material

    def setup(self, machine: int, from_job: int, to_job: int) -> int:
        """Setup time on ``machine`` between an operation of ``from_job`` and one of ``to_job`` right after it.

        >>> inst = Instance("x", 1, (Job(0, (), material="A"), Job(1, (), material="B")), setups={(None, "A", "B"): 4})
        >>> inst.setup(0, 0, 1), inst.setup(0, 1, 0)
        (4, 0)
        """
        if not self.setups:
            return 0
        a, b = self.jobs[from_job].material, self.jobs[to_job].material
        if a is None or b is None:
            return 0
        own = self.setups.get((machine, a, b))
        return own if own is not None else self.setups.get((None, a, b), 0)

    def is_forbidden(self, machine: int, from_job: int, to_job: int) -> bool:
        """Whether an operation of ``to_job`` may not follow one of ``from_job`` directly on ``machine``."""
        if not self.forbidden:
            return False
        a, b = self.jobs[from_job].material, self.jobs[to_job].material
        return any(m in (None, machine) and a == fa and b == fb for m, fa, fb in self.forbidden)

    def machine_label(self, machine: int) -> str:
        """The machine's name, or ``M<index>``."""
        if self.machine_names and 0 <= machine < len(self.machine_names):
            return self.machine_names[machine]
        return f"M{machine}"

    def machine_index(self, name: str | int) -> int:
        """The index of a machine given by name or number; :class:`InstanceError` when there is none such."""
        if isinstance(name, int) or (isinstance(name, str) and name.strip().isdigit()):
            index = int(name)
            if 0 <= index < self.n_machines:
                return index
            raise InstanceError(f"{self.name}: machine {index} is out of range; machines are 0..{self.n_machines - 1}")
        if self.machine_names and name in self.machine_names:
            return self.machine_names.index(name)
        if not self.machine_names and re.fullmatch(r"[Mm]\d+", str(name).strip()):  # the label machine_label shows
            return self.machine_index(str(name).strip()[1:])
        known = ", ".join(self.machine_names) if self.machine_names else f"0..{self.n_machines - 1}"
        raise InstanceError(f"{self.name}: no machine named {name!r}; machines are {known}")

    def horizon(self) -> int:
        """An upper bound on any sensible schedule's end: releases, windows, durations and setups added up."""
        total = sum(op.duration for op in self.operations)
        last = max([job.release for job in self.jobs] + [end for _, _, end in self.unavailable] + [0])
        worst_setup = max(self.setups.values(), default=0) if self.setups else 0
        return last + total + worst_setup * len(self.operations)

    def check(self, limits: ScheduleLimits | None = None, label: str | None = None) -> Instance:
        """``self`` if it is consistent and within ``limits``; else :class:`InstanceError` saying what is wrong."""
        limits = limits or ScheduleLimits.from_env()
        where = label or self.name
        if self.n_machines < 1:
            raise InstanceError(f"{where}: needs at least one machine, has {self.n_machines}")
        _limit(where, "machines", self.n_machines, limits.max_machines, "LEANLEARN_MAX_MACHINES")
        _limit(where, "jobs", len(self.jobs), limits.max_jobs, "LEANLEARN_MAX_JOBS")
        _limit(where, "operations", len(self.operations), limits.max_operations, "LEANLEARN_MAX_OPERATIONS")
        for i, job in enumerate(self.jobs):
            if job.id != i:
                raise InstanceError(f"{where}: job at position {i} has id {job.id}; jobs are numbered 0, 1, 2, ...")
            if not job.operations:
                raise InstanceError(f"{where}: job {_job_label(job)} has no operations; give it at least one")
            for k, op in enumerate(job.operations):
                if op.job != i or op.index != k:
                    raise InstanceError(f"{where}: job {i} operation {k} is labelled job {op.job} index {op.index}")
                if not 0 <= op.machine < self.n_machines:
                    raise InstanceError(f"{where}: job {_job_label(job)} operation {k} names machine {op.machine}; "
                                        f"machines are 0..{self.n_machines - 1}")
                _time(where, f"job {_job_label(job)} operation {k} duration", op.duration, limits)
            _time(where, f"job {_job_label(job)} release", job.release, limits)
            if job.due is not None:
                _time(where, f"job {_job_label(job)} due", job.due, limits)
        for m, start, end in self.unavailable:
            if not 0 <= m < self.n_machines:
                raise InstanceError(f"{where}: unavailable window names machine {m}; machines are "
                                    f"0..{self.n_machines - 1}")
            _time(where, "unavailable start", start, limits)
            _time(where, "unavailable end", end, limits)
            if end <= start:
                raise InstanceError(f"{where}: unavailable window on machine {m} ends ({end}) before it starts "
                                    f"({start}); give start < end")
        for key, value in (self.setups or {}).items():
            _time(where, f"setup {key[1]} -> {key[2]}", value, limits)
        if self.machine_names is not None and len(self.machine_names) != self.n_machines:
            raise InstanceError(f"{where}: {len(self.machine_names)} machine names for {self.n_machines} machines")
        _limit(where, "horizon (durations, releases, setups and windows added up)", self.horizon(),
               limits.max_horizon, "LEANLEARN_MAX_HORIZON")
        return self


def _job_label(job: Job) -> str:
    return f"{job.id} ({job.name})" if job.name else str(job.id)


def _limit(where: str, what: str, value: int, limit: int, var: str) -> None:
    if value > limit:
        raise InstanceError(f"{where}: has {value:,} {what}, over the limit of {limit:,}; raise it with {var}")


def _time(where: str, what: str, value: Any, limits: ScheduleLimits) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InstanceError(f"{where}: {what} is {value!r}; times are whole numbers >= 0")
    if value > limits.max_time:
        raise InstanceError(f"{where}: {what} is {value:,}, over the limit of {limits.max_time:,} for one time value; "
                            "use a coarser time unit or raise LEANLEARN_MAX_TIME")


# -- readers --------------------------------------------------------------------------------------------------------
def read_instance(path: str | Path, *, limits: ScheduleLimits | None = None) -> Instance:
    """Read a job-shop instance: the standard text format, or leanlearn YAML for ``.yaml`` / ``.yml`` files.

    Every problem raises :class:`InstanceError` naming the file, the line and the token (text) or key (YAML), and
    how to fix it.
    """
    limits = limits or ScheduleLimits.from_env()
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        return _read_yaml(path, limits)
    if not path.exists():
        raise InstanceError(f"{path}: no such instance file; check the path (relative paths start in {Path.cwd()})")
    if path.is_dir():
        raise InstanceError(f"{path}: is a directory; name an instance file (.txt or .yaml) inside it")
    try:
        with path.open("rb") as handle:
            data = handle.read(limits.max_instance_bytes + 1)
    except OSError as exc:
        raise InstanceError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > limits.max_instance_bytes:
        raise InstanceError(f"{path}: is larger than {limits.max_instance_bytes:,} bytes; raise the limit with "
                            "LEANLEARN_MAX_INSTANCE_BYTES")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InstanceError(f"{path}: not a UTF-8 text file; an instance is text (first line: n_jobs n_machines)") \
            from None
    return parse_standard(text, name=path.stem, label=str(path), limits=limits)


_INT = re.compile(r"^[+]?\d+$")


def parse_standard(text: str, name: str = "instance", label: str | None = None,
                   limits: ScheduleLimits | None = None) -> Instance:
    """Parse the standard job-shop text format (see the module docstring).

    >>> parse_standard("1 2\\n0 5 1 7\\n").jobs[0].operations[1].duration
    7
    """
    limits = limits or ScheduleLimits.from_env()
    where = label or name
    lines = [(n, line.split("#", 1)[0].split()) for n, line in enumerate(text.splitlines(), start=1)]
    lines = [(n, tokens) for n, tokens in lines if tokens]
    if not lines:
        raise InstanceError(f"{where}: is empty; the first line holds 'n_jobs n_machines', e.g. '6 6'")
    head_no, head = lines[0]
    if len(head) != 2 or not all(_INT.match(t) for t in head):
        raise InstanceError(f"{where}: line {head_no}: the first line must be 'n_jobs n_machines' (two whole "
                            f"numbers), got {' '.join(head)[:60]!r}")
    n_jobs, n_machines = (int(t) for t in head)
    if n_jobs < 1 or n_machines < 1:
        raise InstanceError(f"{where}: line {head_no}: needs at least one job and one machine, got {n_jobs} "
                            f"{n_machines}")
    _limit(where, "jobs", n_jobs, limits.max_jobs, "LEANLEARN_MAX_JOBS")
    _limit(where, "machines", n_machines, limits.max_machines, "LEANLEARN_MAX_MACHINES")
    body = lines[1:]
    if len(body) < n_jobs:
        raise InstanceError(f"{where}: the first line announces {n_jobs} jobs but {len(body)} job line(s) follow; "
                            "give one line of 'machine duration' pairs per job")
    if len(body) > n_jobs:
        extra_no = body[n_jobs][0]
        raise InstanceError(f"{where}: line {extra_no}: more job lines than the {n_jobs} the first line announces; "
                            "fix n_jobs or remove the extra lines (Taillard-format files need converting)")
    jobs = []
    n_ops = 0
    for j, (n, tokens) in enumerate(body):
        if len(tokens) % 2:
            raise InstanceError(f"{where}: line {n}: {len(tokens)} numbers, not 'machine duration' pairs; each "
                                "operation is a machine index and a duration")
        ops = []
        for t, token in enumerate(tokens):
            if not _INT.match(token):
                kind = "machine index" if t % 2 == 0 else "duration"
                raise InstanceError(f"{where}: line {n}, token {t + 1} ({token[:30]!r}): a {kind} must be a whole "
                                    "number >= 0")
            value = int(token)
            if t % 2 == 0 and value >= n_machines:
                raise InstanceError(f"{where}: line {n}, token {t + 1} ({token[:30]!r}): machine index out of range; "
                                    f"machines are numbered 0..{n_machines - 1}")
            if t % 2 == 1 and value > limits.max_time:
                raise InstanceError(f"{where}: line {n}, token {t + 1} ({token[:30]!r}): duration over the limit of "
                                    f"{limits.max_time:,}; use a coarser unit or raise LEANLEARN_MAX_TIME")
        for k in range(len(tokens) // 2):
            ops.append(Operation(j, k, int(tokens[2 * k]), int(tokens[2 * k + 1])))
        n_ops += len(ops)
        _limit(where, "operations", n_ops, limits.max_operations, "LEANLEARN_MAX_OPERATIONS")
        jobs.append(Job(j, tuple(ops)))
    return Instance(name, n_machines, tuple(jobs)).check(limits, where)




def _read_yaml(path: Path, limits: ScheduleLimits) -> Instance:
    from leanlearn.yamlfile import Checker, read_yaml

    doc = read_yaml(path, InstanceError, "job-shop instance")
    c = Checker(str(path), InstanceError)
    c.keys(doc, ("name", "time_unit", "machines", "jobs", "setups", "unavailable", "forbidden"), "",
           "machines: [press, lathe]")
    name = c.text(doc.get("name", path.stem), "name", "name: press-line")
    unit = None if doc.get("time_unit") is None else c.text(doc["time_unit"], "time_unit", "time_unit: min")
    machines = doc.get("machines")
    names: tuple[str, ...] | None
    if isinstance(machines, int) and not isinstance(machines, bool):
        if machines < 1:
            raise c.fail("machines", f"is {machines}; give the number of machines (>= 1) or their names")
        _limit(str(path), "machines", machines, limits.max_machines, "LEANLEARN_MAX_MACHINES")
        n_machines, names = machines, None
    elif isinstance(machines, list) and machines:
        _limit(str(path), "machines", len(machines), limits.max_machines, "LEANLEARN_MAX_MACHINES")
        names = tuple(c.text(str(m) if isinstance(m, int) else m, f"machines[{i}]", "machines: [press, lathe]")
                      for i, m in enumerate(machines))
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise c.fail("machines", f"names {dup[0]!r} twice; give each machine a distinct name")
        n_machines = len(names)
    else:
        raise c.fail("machines", "must be a list of machine names or a count; e.g. machines: [press, lathe, mill]")

    def machine(value: Any, key: str) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            if 0 <= value < n_machines:
                return value
            raise c.fail(key, f"is machine {value}, out of range; machines are 0..{n_machines - 1}")
        if isinstance(value, str) and names and value in names:
            return names.index(value)
        known = ", ".join(names) if names else f"0..{n_machines - 1}"
        raise c.fail(key, f"names machine {value!r}, which is not in machines ({known})")

    def time(value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise c.fail(key, f"is {value!r}; times are whole numbers >= 0 (in time_unit)")
        if value > limits.max_time:
            raise c.fail(key, f"is {value:,}, over the limit of {limits.max_time:,}; use a coarser time_unit or "
                              "raise LEANLEARN_MAX_TIME")
        return value

    def material(value: Any, key: str) -> str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        return c.text(value, key, "material: A")

    raw_jobs = doc.get("jobs")
    if not isinstance(raw_jobs, list) or not raw_jobs:
        raise c.fail("jobs", "must be a non-empty list of jobs; e.g. jobs: [{operations: [[press, 10]]}]")
    _limit(str(path), "jobs", len(raw_jobs), limits.max_jobs, "LEANLEARN_MAX_JOBS")
    jobs = []
    n_ops = 0
    for j, raw in enumerate(raw_jobs):
        key = f"jobs[{j}]"
        c.keys(raw, ("name", "material", "release", "due", "operations"), key, "{operations: [[press, 10]]}")
        ops_raw = raw.get("operations")
        if not isinstance(ops_raw, list) or not ops_raw:
            raise c.fail(f"{key}.operations", "must be a non-empty list; e.g. operations: [[press, 10], [lathe, 5]]")
        ops = []
        for k, item in enumerate(ops_raw):
            okey = f"{key}.operations[{k}]"
            if isinstance(item, list):
                if len(item) != 2:
                    raise c.fail(okey, f"has {len(item)} items; write [machine, duration]")
                m_raw, d_raw = item
            elif isinstance(item, dict):
                c.keys(item, ("machine", "duration"), okey, "{machine: press, duration: 10}")
                if "machine" not in item or "duration" not in item:
                    raise c.fail(okey, "needs machine and duration; e.g. {machine: press, duration: 10}")
                m_raw, d_raw = item["machine"], item["duration"]
            else:
                raise c.fail(okey, "must be [machine, duration] or {machine: ..., duration: ...}")
            ops.append(Operation(j, k, machine(m_raw, f"{okey}.machine"), time(d_raw, f"{okey}.duration")))
        n_ops += len(ops)
        _limit(str(path), "operations", n_ops, limits.max_operations, "LEANLEARN_MAX_OPERATIONS")
        jobs.append(Job(
            j, tuple(ops),
            release=time(raw.get("release", 0), f"{key}.release"),
            due=None if raw.get("due") is None else time(raw["due"], f"{key}.due"),
            name=None if raw.get("name") is None else c.text(str(raw["name"]), f"{key}.name", "name: order-1"),
            material=None if raw.get("material") is None else material(raw["material"], f"{key}.material"),
        ))

    setups: dict[SetupKey, int] = {}
    raw_setups = doc.get("setups") or {}
    if not isinstance(raw_setups, dict):
        raise c.fail("setups", "must map machine -> from material -> to material -> time; e.g. "
                               "setups: {press: {A: {B: 15}}}")
    for m_name, table in raw_setups.items():
        m = None if m_name == "*" else machine(m_name, f"setups.{m_name}")
        if not isinstance(table, dict):
            raise c.fail(f"setups.{m_name}", "must map from material -> to material -> time; e.g. {A: {B: 15}}")
        for a, row in table.items():
            if not isinstance(row, dict):
                raise c.fail(f"setups.{m_name}.{a}", "must map to material -> time; e.g. {B: 15}")
            for b, value in row.items():
                setups[(m, str(a), str(b))] = time(value, f"setups.{m_name}.{a}.{b}")

    windows = []
    raw_windows = doc.get("unavailable") or []
    if not isinstance(raw_windows, list):
        raise c.fail("unavailable", "must be a list; e.g. unavailable: [{machine: lathe, start: 50, end: 80}]")
    for i, w in enumerate(raw_windows):
        key = f"unavailable[{i}]"
        c.keys(w, ("machine", "start", "end"), key, "{machine: lathe, start: 50, end: 80}")
        if not all(k in w for k in ("machine", "start", "end")):
            raise c.fail(key, "needs machine, start and end; e.g. {machine: lathe, start: 50, end: 80}")
        start, end = time(w["start"], f"{key}.start"), time(w["end"], f"{key}.end")
        if end <= start:
            raise c.fail(key, f"ends ({end}) before it starts ({start}); give start < end")
        windows.append((machine(w["machine"], f"{key}.machine"), start, end))

    forbidden = []
    raw_forbidden = doc.get("forbidden") or []
    if not isinstance(raw_forbidden, list):
        raise c.fail("forbidden", "must be a list; e.g. forbidden: [{from: A, to: B}]")
    for i, f in enumerate(raw_forbidden):
        key = f"forbidden[{i}]"
        c.keys(f, ("from", "to", "machine"), key, "{from: A, to: B, machine: press}")
        if "from" not in f or "to" not in f:
            raise c.fail(key, "needs from and to materials; e.g. {from: A, to: B}")
        m = None if f.get("machine") in (None, "*") else machine(f["machine"], f"{key}.machine")
        forbidden.append((m, material(f["from"], f"{key}.from"), material(f["to"], f"{key}.to")))

    return Instance(name, n_machines, tuple(jobs), setups or None, names, tuple(windows), tuple(forbidden),
                    unit).check(limits, str(path))


def windows_on(windows: Iterable[Window], machine: int) -> list[tuple[int, int]]:
    """The ``(start, end)`` of the windows on ``machine``, sorted."""
    return sorted((s, e) for m, s, e in windows if m == machine)
