"""The SimPy model of a line: one replication of a :class:`~leanlearn.twin.spec.LineSpec`.

How the spec becomes a simulation:

- **Jobs.** An order of ``qty`` units is released as lots (jobs) of ``batch`` units; a job follows its material's
  routing (chosen by weight) and is the unit of WIP, throughput and lead time (``throughput_units`` counts units).
- **Stations.** Each station has ``capacity`` servers pulling jobs first-in first-out from one input buffer. A
  server sets up when the material changes (``setup.matrix[from][to]``, else ``setup.default``), then processes
  the job: one cycle-time draw per unit (``per_unit: true``, a fractional quantity adds that fraction of a draw)
  or one per visit. After processing, ``scrap`` removes each unit with its probability; a job left with no
  units leaves the line. A finite ``buffer`` downstream blocks the server that holds the finished job (blocking
  after service); with a ``transfer`` delay the job in transit waits for the space instead of the server.
- **Breakdowns.** Each server fails after ``tbf`` (clock time, or busy time with ``basis: busy``) and is
  repaired after ``repair``; a failure preempts the running setup or job, which resumes (the remaining work) after
  the repair. Downtime rows are written per failure.
- **Shifts.** Outside ``hours_per_day`` hours from ``start_hour`` (days of 24 h in the spec's unit) a server
  starts no new setup or job; work already started finishes.
- **Release.** ``push``: orders arrive with ``arrivals``. ``conwip``: ``wip`` jobs are in the line at any time, a
  new one is released when one leaves. ``kanban``: each station of the route has a loop of cards; a station pulls
  a job from the upstream supermarket only with a free card, and the upstream card returns when the job is taken;
  the last supermarket is emptied by customer ``demand`` (each demand takes one job; it is served at once when
  stock is there, else waits) or, without demand, at once. ``trace``: observed releases are replayed.
- **Predictive pull.** With ``signal: predictive`` and a forecaster, at each ``period`` end the model calls
  ``forecaster.learn_one(demand of the period)`` (for reactive too), and releases extra jobs (without cards) so
  that stock + WIP − backorders covers ``sum(forecaster.forecast(lead_periods))``.

Output: canonical ``operations`` (``line, station, order_id, unit_id, material, kind, start, end, qty,
scrap_qty``; a job preempted by a failure is written as pieces, each with its share of ``qty`` so cycle times per
unit stay right) and ``downtime`` (``line, station, start, end, reason, planned``) tables, UTC timestamps from
``spec.start``, so :func:`leanlearn.lean.value_stream` runs on them unchanged.
"""

from __future__ import annotations

import math
import zlib
from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
import simpy

from leanlearn.twin.distributions import Deterministic, Distribution
from leanlearn.twin.spec import MAX_UNITS, TIME_UNITS, LineSpec, Material, SpecError, Station, max_events

__all__ = ["Forecaster", "LineModel", "RunResult", "run_once"]

_BLOCK = 512
#: Most extra authorisations one period's forecast may raise.
_MAX_SIGNALS = 100_000
_Gen = Generator[simpy.Event, Any, None]


class Forecaster(Protocol):
    """What predictive kanban needs from a demand forecaster (River-style)."""

    def learn_one(self, y: float) -> Any: ...

    def forecast(self, horizon: int) -> list[float]: ...


@dataclass(frozen=True, slots=True)
class RunResult:
    """One replication: canonical tables, the jobs, KPIs over (warmup, horizon], and the simulated event count."""

    operations: pd.DataFrame = field(repr=False)
    downtime: pd.DataFrame = field(repr=False)
    orders: pd.DataFrame = field(repr=False)
    kpis: dict[str, float]
    events: int
    horizon: float
    warmup: float
    demand: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)


def _stream_rng(seed: np.random.SeedSequence, name: str) -> np.random.Generator:
    """An independent generator for one purpose (``name``): the same name gets the same numbers in every variant
    of a spec, which makes what-if comparisons use common random numbers."""
    key = (*seed.spawn_key, zlib.crc32(name.encode("utf-8")))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed.entropy, spawn_key=key)))


class _Stream:
    """Draws of one distribution from one generator, in blocks (a numpy call per draw is slow)."""

    __slots__ = ("buf", "dist", "i", "rng")

    def __init__(self, dist: Distribution, rng: np.random.Generator) -> None:
        self.dist, self.rng = dist, rng
        self.buf: list[float] = []
        self.i = 0

    def __call__(self) -> float:
        if self.i >= len(self.buf):
            self.buf = self.dist.sample_many(self.rng, _BLOCK).tolist()
            self.i = 0
        value = self.buf[self.i]
        self.i += 1
        return value

    def total(self, units: float) -> float:
        """Time of ``units`` units: one draw per whole unit plus the fraction of one more."""
        whole = int(units)
        frac = units - whole
        out = 0.0
        if whole > 64:  # a large lot: one vectorised draw
            out = float(self.dist.sample_many(self.rng, whole).sum())
        else:
            for _ in range(whole):
                out += self()
        if frac > 1e-12:
            out += frac * self()
        return out


def _constant(dist: Distribution) -> float | None:
    return dist.value if isinstance(dist, Deterministic) else None


class _Job:
    __slots__ = ("card", "done", "extra", "id", "material", "order", "qty", "release", "route", "scrapped", "step")

    def __init__(self, id: str, order: str, material: str, qty: float, route: tuple[int, ...]) -> None:
        self.id, self.order, self.material, self.qty, self.route = id, order, material, qty, route
        self.step = 0
        self.release = math.nan
        self.done = math.nan
        self.scrapped = 0.0
        self.card = False
        self.extra = False


class _Queue:
    """A station's first-in first-out input buffer (lighter than ``simpy.Store``: a job handed to a waiting server,
    or taken from a non-empty buffer, costs no event)."""

    __slots__ = ("capacity", "env", "getters", "items", "putters")

    def __init__(self, env: simpy.Environment, capacity: float) -> None:
        self.env, self.capacity = env, capacity
        self.items: deque[_Job] = deque()
        self.getters: deque[simpy.Event] = deque()
        self.putters: deque[tuple[simpy.Event, _Job]] = deque()

    def put(self, job: _Job) -> simpy.Event | None:
        """Add ``job``; an event to wait for when the buffer is full (blocking), else None."""
        if self.getters:
            self.getters.popleft().succeed(job)
            return None
        if len(self.items) < self.capacity:
            self.items.append(job)
            return None
        event = self.env.event()
        self.putters.append((event, job))
        return event

    def get(self) -> _Job | simpy.Event:
        """The next job, or an event that brings it when the buffer is empty."""
        if self.items:
            job = self.items.popleft()
            if self.putters:
                event, waiting = self.putters.popleft()
                self.items.append(waiting)
                event.succeed()
            return job
        event = self.env.event()
        self.getters.append(event)
        return event


class _Server:
    __slots__ = ("broken", "current", "last", "proc", "repaired", "ttf", "working")

    def __init__(self) -> None:
        self.broken = False
        self.working = False
        self.repaired: simpy.Event | None = None
        self.proc: simpy.Process | None = None
        self.last: str | None = None
        self.ttf = math.inf
        self.current: tuple[float, str, _Job] | None = None


class _Node:
    """One station at run time."""

    def __init__(self, model: LineModel, index: int, station: Station) -> None:
        self.index, self.station, self.name = index, station, station.name
        env = model.env
        self.store = _Queue(env, station.buffer if station.buffer is not None else float("inf"))
        self.servers = [_Server() for _ in range(station.capacity)]
        self.cycle: dict[str, _Stream] = {}
        self.model = model
        self.setup_streams: dict[tuple[str | None, str], _Stream] = {}
        self.scrap_rng = _stream_rng(model.seed, f"scrap:{self.name}") if station.scrap else None
        if station.shifts is not None:
            per_hour = 1.0 / model.spec.hours_per_unit
            self.day = 24.0 * per_hour
            self.shift_start = station.shifts.start_hour * per_hour
            self.shift_len = station.shifts.hours_per_day * per_hour

    def cycle_stream(self, material: str) -> _Stream:
        # one stream per distinct distribution: materials without their own cycle share the station's stream (a
        # stream per material under one name would replay the same seeded draws for every material)
        key = material if material in self.station.cycle_by_material else "*"
        stream = self.cycle.get(key)
        if stream is None:
            dist = self.station.cycle_for(material)
            stream = self.cycle[key] = self.model.stream(dist, f"cycle:{self.name}:{key}")
        return stream

    def setup_time(self, previous: str | None, material: str) -> float:
        setup = self.station.setup
        if setup is None:
            return 0.0
        dist = setup.dist(previous, material)
        if dist is None:
            return 0.0
        constant = _constant(dist)
        if constant is not None:
            return constant
        key = (previous, material)
        stream = self.setup_streams.get(key)
        if stream is None:
            stream = self.setup_streams[key] = self.model.stream(dist, f"setup:{self.name}:{previous}:{material}")
        return stream()

    def wait_for_shift(self, now: float) -> float:
        """Time until the shift is open (0 when it is)."""
        if self.station.shifts is None or self.shift_len >= self.day:
            return 0.0
        phase = (now - self.shift_start) % self.day
        return 0.0 if phase < self.shift_len - 1e-12 else self.day - phase


class LineModel:
    """One replication of ``spec`` until ``horizon`` with the generators derived from ``seed``.

    Parameters
    ----------
    spec : LineSpec
    horizon : float
        Simulated time (in ``spec.time_unit``).
    seed : numpy.random.SeedSequence or int
        Independent named streams are derived from it (arrivals, each station's cycle and setup times, ...).
    forecaster : object, optional
        ``learn_one(y)`` / ``forecast(horizon)``; see the module docstring.
    limit : int, optional
        Most events (default :func:`leanlearn.twin.spec.max_events`).
    """

    def __init__(self, spec: LineSpec, horizon: float, seed: np.random.SeedSequence | int = 0, *,
                 forecaster: Forecaster | None = None, limit: int | None = None) -> None:
        if not (isinstance(horizon, (int, float)) and math.isfinite(horizon) and horizon > 0):
            raise SpecError(f"horizon must be a positive number of {spec.time_unit}, got {horizon!r}")
        self.spec, self.horizon = spec, float(horizon)
        self.seed = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self.forecaster = forecaster
        self.limit = limit if limit is not None else max_events()
        self.env = simpy.Environment()
        self.nodes = [_Node(self, i, s) for i, s in enumerate(spec.stations)]
        self.index = {n.name: n.index for n in self.nodes}
        self.materials = spec.resolved_materials()
        self.policy = spec.release.policy
        # output rows (lists: frames are built once at the end)
        self.ops: dict[str, list[Any]] = {k: [] for k in ("station", "order_id", "unit_id", "material", "kind",
                                                          "start", "end", "qty", "scrap_qty")}
        self.down: dict[str, list[Any]] = {"station": [], "start": [], "end": []}
        self.jobs: list[_Job] = []
        self.demand_t: list[float] = []
        self.demand_served: list[bool] = []
        self.stock_log: list[tuple[float, int]] = []
        self.orders_made = 0
        self.in_line = 0
        self.backlog: deque[_Job] = deque()
        self.transfer = self.stream(spec.transfer, "transfer") if spec.transfer is not None else None
        names = list(self.materials)
        shares = np.array([self.materials[m].share for m in names], dtype=float)
        self._material_names = names
        self._material_p = np.cumsum(shares / shares.sum())
        self._pick = _stream_rng(self.seed, "material")
        self._route_rng = _stream_rng(self.seed, "routing")
        self._qty: dict[str, _Stream] = {}

    # -- helpers ----------------------------------------------------------------------------------------------------
    def stream(self, dist: Distribution, name: str) -> _Stream:
        return _Stream(dist, _stream_rng(self.seed, name))

    def _record(self, node: _Node, job: _Job, kind: str, start: float, end: float, qty: float,
                scrap: float = 0.0) -> None:
        ops = self.ops
        if len(ops["end"]) >= self.limit:  # also stops a line that cycles in zero time (all times 0)
            raise self._runaway("operations")
        ops["station"].append(node.name)
        ops["order_id"].append(job.order)
        ops["unit_id"].append(job.id)
        ops["material"].append(job.material)
        ops["kind"].append(kind)
        ops["start"].append(start)
        ops["end"].append(end)
        ops["qty"].append(qty)
        ops["scrap_qty"].append(scrap)

    def _new_order(self, material: str | None = None, qty: float | None = None, order_id: str | None = None,
                   route: tuple[str, ...] | None = None) -> list[_Job]:
        """The jobs (lots) of one new order."""
        if material is None and len(self._material_names) == 1:
            material = self._material_names[0]
        elif material is None:
            u = self._pick.random()
            material = self._material_names[min(int(np.searchsorted(self._material_p, u, side="right")),
                                                len(self._material_names) - 1)]
        spec_material: Material = self.materials.get(material) or Material(material)
        if route is None:
            routings = spec_material.routings or next(iter(self.materials.values())).routings
            if len(routings) == 1:
                route = routings[0].stations
            else:
                weights = np.array([r.weight for r in routings], dtype=float)
                pick = int(np.searchsorted(np.cumsum(weights / weights.sum()), self._route_rng.random(),
                                           side="right"))
                route = routings[min(pick, len(routings) - 1)].stations
        if qty is None:
            if spec_material.qty is not None:
                stream = self._qty.get(material)
                if stream is None:
                    stream = self._qty[material] = self.stream(spec_material.qty, f"qty:{material}")
                qty = float(max(1, math.ceil(stream() - 1e-9)))
                if qty > MAX_UNITS:
                    raise SpecError(f"{self.spec.line}: materials.{material}.qty drew {qty:,.0f} units, over the "
                                    f"limit of {MAX_UNITS:,} per order; check the distribution's unit")
            else:
                qty = float(spec_material.batch or 1)
        self.orders_made += 1
        oid = order_id or f"O{self.orders_made}"
        batch = spec_material.batch
        steps = tuple(self.index[s] for s in route)
        if batch is None or qty <= batch:
            return [_Job(oid, oid, material, qty, steps)]
        lots = []
        left, k = qty, 0
        while left > 1e-9:
            k += 1
            size = min(float(batch), left)
            lots.append(_Job(f"{oid}.{k}", oid, material, size, steps))
            left -= size
        return lots

    def _enter(self, job: _Job) -> None:
        """Release ``job`` into its first station."""
        job.release = self.env.now
        self.jobs.append(job)
        self.in_line += 1
        self.nodes[job.route[0]].store.put(job)

    def _finish(self, job: _Job) -> None:
        job.done = self.env.now
        self.in_line -= 1
        if self.policy == "conwip":
            self._release_conwip(1)
        elif self.policy == "kanban" and job.qty > 0:
            self.supermarkets[-1].put(job)
            self.stock_log.append((self.env.now, 1))

    # -- processes --------------------------------------------------------------------------------------------------
    def _server(self, node: _Node, server: _Server) -> _Gen:
        env = self.env
        station = node.station
        while True:
            got = node.store.get()
            job = got if isinstance(got, _Job) else (yield got)
            wait = node.wait_for_shift(env.now)
            if wait > 0:
                yield env.timeout(wait)
            setup = node.setup_time(server.last, job.material)
            if setup > 0:
                yield from self._work(node, server, job, "setup", setup)
            server.last = job.material
            stream = node.cycle_stream(job.material)
            duration = stream.total(job.qty) if station.per_unit else stream()
            yield from self._work(node, server, job, "production", duration)
            if node.scrap_rng is not None:
                lost = float(node.scrap_rng.binomial(int(job.qty), station.scrap)) if job.qty >= 1 else 0.0
                if lost:
                    job.qty -= lost
                    job.scrapped += lost
                    self.ops["scrap_qty"][-1] = lost
            yield from self._forward(node, job)

    def _work(self, node: _Node, server: _Server, job: _Job, kind: str, duration: float) -> _Gen:
        """Setup or process for ``duration``; a failure preempts it and the rest resumes after the repair."""
        env = self.env
        remaining = duration
        qty_total = job.qty if kind == "production" else 0.0
        breakdowns = node.station.breakdowns
        busy_basis = breakdowns is not None and breakdowns.basis == "busy"
        while True:
            while server.broken:
                assert server.repaired is not None
                yield server.repaired
            start = env.now
            server.current = (start, kind, job)
            if busy_basis and server.ttf < remaining:
                yield env.timeout(server.ttf)
                remaining -= server.ttf
                self._record(node, job, kind, start, env.now, qty_total * (env.now - start) / duration)
                server.current = None
                yield from self._repair(node, server)
                server.ttf = self._tbf[node.index]()
                continue
            server.working = True
            try:
                yield env.timeout(remaining)
            except simpy.Interrupt:
                server.working = False
                server.current = None
                elapsed = env.now - start
                remaining = max(0.0, remaining - elapsed)
                if elapsed > 0:
                    self._record(node, job, kind, start, env.now, qty_total * elapsed / duration)
                continue
            server.working = False
            server.current = None
            if busy_basis:
                server.ttf -= remaining
            share = qty_total * (env.now - start) / duration if duration > 0 else qty_total
            self._record(node, job, kind, start, env.now, share)
            return

    def _repair(self, node: _Node, server: _Server) -> _Gen:
        env = self.env
        server.broken = True
        server.repaired = env.event()
        start = env.now
        yield env.timeout(self._repair_time[node.index]())
        self.down["station"].append(node.name)
        self.down["start"].append(start)
        self.down["end"].append(env.now)
        server.broken = False
        server.repaired.succeed()

    def _failures(self, node: _Node, server: _Server) -> _Gen:
        """Clock-time failures of one server."""
        env = self.env
        tbf = self._tbf[node.index]
        while True:
            yield env.timeout(tbf())
            if server.working:  # the preempted work sees the failure (server.broken) when it resumes
                assert server.proc is not None
                server.proc.interrupt("breakdown")
            yield from self._repair(node, server)

    def _forward(self, node: _Node, job: _Job) -> _Gen:
        """Send ``job`` on after ``node`` (blocking while the next buffer is full)."""
        job.step += 1
        if job.qty <= 0:  # scrapped whole: it leaves the line (under kanban its card goes back to its loop)
            if self.policy == "kanban" and not job.extra:
                self.cards[job.step - 1].put(1)
            self._finish(job)
            return
        if self.policy == "kanban" and not job.extra:
            if job.step >= len(job.route):
                self._finish(job)
            else:
                self.supermarkets[node.index].put(job)
            return
        if job.step >= len(job.route):
            self._finish(job)
            return
        target = self.nodes[job.route[job.step]]
        if self.transfer is not None:
            self.env.process(self._move(job, target, self.transfer()))
            return
        put = target.store.put(job)
        if put is not None:
            yield put

    def _move(self, job: _Job, target: _Node, delay: float) -> _Gen:
        yield self.env.timeout(delay)
        put = target.store.put(job)
        if put is not None:
            yield put

    def _release_conwip(self, n: int) -> None:
        for _ in range(n):
            if not self.backlog:
                self.backlog.extend(self._new_order())
            self._enter(self.backlog.popleft())

    def _push(self) -> _Gen:
        release = self.spec.release
        assert release.arrivals is not None
        gap = self.stream(release.arrivals, "arrivals")
        made = 0
        while release.max_orders is None or made < release.max_orders:
            yield self.env.timeout(gap())
            for job in self._new_order():
                self._enter(job)
            made += 1

    def _trace(self) -> _Gen:
        env = self.env
        for order in sorted(self.spec.release.orders, key=lambda o: o.release):
            if order.release > env.now:
                yield env.timeout(order.release - env.now)
            for job in self._new_order(order.material, order.qty, order.id, order.routing):
                self._enter(job)

    # -- kanban -----------------------------------------------------------------------------------------------------
    def _kanban_setup(self) -> None:
        env = self.env
        release = self.spec.release
        route = next(iter(self.materials.values())).routings[0].stations
        self.route = route
        cards = release.cards or {}
        self.cards = [simpy.Container(env, init=cards[s], capacity=float("inf")) for s in route]
        self.supermarkets = [simpy.Store(env) for _ in route]
        for i in range(len(route)):
            env.process(self._pull(i))
        if release.demand is None:
            env.process(self._saturated())
        else:
            env.process(self._demand())
        if self.forecaster is not None and release.demand is not None:
            env.process(self._periods())

    def _pull(self, stage: int) -> _Gen:
        """Stage ``stage`` pulls a job in whenever one of its cards is free."""
        card = self.cards[stage]
        upstream = self.supermarkets[stage - 1] if stage > 0 else None
        first = self.index[self.route[0]]
        while True:
            yield card.get(1)
            if upstream is None:
                job = self._new_order()[0]
                job.card = True
                job.route = tuple(self.index[s] for s in self.route) if job.route[0] != first else job.route
                self._enter(job)
                continue
            job = yield upstream.get()
            self.cards[stage - 1].put(1)
            self.nodes[job.route[stage]].store.put(job)

    def _take(self) -> simpy.Event:
        """A customer takes one job from the last supermarket (its card goes back when it does)."""
        get = self.supermarkets[-1].get()

        def taken(event: Any) -> None:
            self.stock_log.append((self.env.now, -1))
            if not event.value.extra:
                self.cards[-1].put(1)

        if get.triggered:
            taken(get)
        else:
            get.callbacks.append(taken)  # type: ignore[union-attr,unused-ignore]
        return get

    def _saturated(self) -> _Gen:
        while True:
            get = self._take()
            if not get.triggered:
                yield get

    def _demand(self) -> _Gen:
        env = self.env
        demand = self.spec.release.demand
        assert demand is not None
        if demand.times is not None:
            times: Iterator[float] = iter(demand.times)
        else:
            assert demand.arrivals is not None
            gap = self.stream(demand.arrivals, "demand")

            def arrivals() -> Iterator[float]:
                t = 0.0
                while True:
                    t += gap()
                    yield t

            times = arrivals()
        for t in times:
            if t >= self.horizon:
                return
            if t > env.now:
                yield env.timeout(t - env.now)
            if len(self.demand_t) >= self.limit:
                raise self._runaway("demands")
            get = self._take()
            self.demand_t.append(env.now)
            self.demand_served.append(bool(get.triggered))

    def _periods(self) -> _Gen:
        env = self.env
        release = self.spec.release
        forecaster = self.forecaster
        assert forecaster is not None
        seen = 0
        while True:
            yield env.timeout(release.period)
            count = len(self.demand_t) - seen
            seen = len(self.demand_t)
            forecaster.learn_one(float(count))
            if release.signal != "predictive":
                continue
            need = float(sum(float(v) for v in forecaster.forecast(release.lead_periods)))
            if not math.isfinite(need):  # a forecaster still warming up may say NaN: no signal this period
                continue
            last = self.supermarkets[-1]
            position = len(last.items) + self.in_line - len(last.get_queue)
            for _ in range(min(_MAX_SIGNALS, max(0, math.ceil(need - position - 1e-9)))):
                job = self._new_order()[0]
                job.extra = True
                self._enter(job)

    # -- run --------------------------------------------------------------------------------------------------------
    def run(self, warmup: float = 0.0) -> RunResult:
        """Simulate until the horizon and return the tables and KPIs over (warmup, horizon]."""
        if not (isinstance(warmup, (int, float)) and 0 <= warmup < self.horizon):
            raise SpecError(f"warmup must be a number from 0 to below the horizon ({self.horizon:g}), got {warmup!r}")
        env = self.env
        self._tbf: dict[int, _Stream] = {}
        self._repair_time: dict[int, _Stream] = {}
        for node in self.nodes:
            bd = node.station.breakdowns
            for server in node.servers:
                server.proc = env.process(self._server(node, server))
            if bd is not None:
                self._tbf[node.index] = self.stream(bd.tbf, f"tbf:{node.name}")
                self._repair_time[node.index] = self.stream(bd.repair, f"repair:{node.name}")
                for server in node.servers:
                    if bd.basis == "busy":
                        server.ttf = self._tbf[node.index]()
                    else:
                        env.process(self._failures(node, server))
        policy = self.policy
        if policy == "push":
            env.process(self._push())
        elif policy == "conwip":
            assert self.spec.release.wip is not None
            self._release_conwip(self.spec.release.wip)
        elif policy == "kanban":
            self._kanban_setup()
        else:
            env.process(self._trace())
        self._advance()
        return self._result(float(warmup))

    def _runaway(self, what: str) -> SpecError:
        return SpecError(
            f"{self.spec.line}: the simulation passed {self.limit:,} {what} by time {self.env.now:g} of the "
            f"horizon {self.horizon:g} {self.spec.time_unit} (a push line whose arrivals outpace its bottleneck "
            "grows without end; times of 0 make a line cycle without time passing); shorten the horizon, slow the "
            "arrivals, or raise LEANLEARN_TWIN_MAX_EVENTS")

    def _advance(self) -> None:
        env = self.env
        chunk = self.horizon / 64
        counter = env._eid  # the scheduler's event counter: reading it costs no event
        start = next(counter)
        while env.now < self.horizon:
            env.run(until=min(self.horizon, env.now + chunk))
            used = next(counter) - start
            if used > self.limit:
                raise self._runaway("events")
            if env.peek() == math.inf:
                break
        self.events = next(counter) - start

    def _result(self, warmup: float) -> RunResult:
        spec, horizon = self.spec, self.horizon
        span = horizon - warmup
        unit: Any = TIME_UNITS[spec.time_unit][1]
        origin = pd.Timestamp(spec.start)
        ops = self.ops
        start = np.asarray(ops["start"], dtype=float)
        end = np.asarray(ops["end"], dtype=float)
        operations = pd.DataFrame({
            "line": spec.line, "station": ops["station"], "order_id": ops["order_id"], "unit_id": ops["unit_id"],
            "material": ops["material"], "kind": ops["kind"],
            "start": origin + pd.to_timedelta(start, unit=unit), "end": origin + pd.to_timedelta(end, unit=unit),
            "qty": np.asarray(ops["qty"], dtype=float), "scrap_qty": np.asarray(ops["scrap_qty"], dtype=float)})
        if len(operations) == 0:
            operations = operations.astype({"line": str, "station": str, "order_id": str, "unit_id": str,
                                            "material": str, "kind": str})
        dstart = np.asarray(self.down["start"], dtype=float)
        dend = np.asarray(self.down["end"], dtype=float)
        downtime = pd.DataFrame({"line": spec.line, "station": pd.Series(self.down["station"], dtype=object),
                                 "start": origin + pd.to_timedelta(dstart, unit=unit),
                                 "end": origin + pd.to_timedelta(dend, unit=unit),
                                 "reason": "breakdown", "planned": False})
        jobs = self.jobs
        release = np.array([j.release for j in jobs], dtype=float)
        done = np.array([j.done for j in jobs], dtype=float)
        qty = np.array([j.qty for j in jobs], dtype=float)
        orders = pd.DataFrame({"order_id": [j.order for j in jobs], "unit_id": [j.id for j in jobs],
                               "material": [j.material for j in jobs], "qty": qty,
                               "scrapped": np.array([j.scrapped for j in jobs], dtype=float),
                               "release": release, "done": done, "lead_time": done - release})
        kpis: dict[str, float] = {}
        finished = ~np.isnan(done) & (done > warmup) & (done <= horizon)
        kpis["throughput"] = float(finished.sum()) / span
        kpis["throughput_units"] = float(qty[finished].sum()) / span
        stop = np.where(np.isnan(done), horizon, np.minimum(done, horizon))
        kpis["wip"] = float(np.clip(stop - np.maximum(release, warmup), 0, None).sum()) / span
        counted = (release >= warmup) & ~np.isnan(done) & (done <= horizon)
        lead = (done - release)[counted]
        if lead.size:
            kpis["lead_time_mean"] = float(lead.mean())
            kpis["lead_time_p50"] = float(np.percentile(lead, 50))
            kpis["lead_time_p90"] = float(np.percentile(lead, 90))
        else:
            kpis["lead_time_mean"] = kpis["lead_time_p50"] = kpis["lead_time_p90"] = math.nan
        work = np.clip(np.minimum(end, horizon) - np.maximum(start, warmup), 0, None)
        stations = np.asarray(ops["station"], dtype=object)
        extra: dict[str, float] = {}
        for node in self.nodes:
            for server in node.servers:  # work under way at the horizon counts up to it
                if server.current is not None:
                    begun = server.current[0]
                    extra[node.name] = extra.get(node.name, 0.0) + max(0.0, horizon - max(begun, warmup))
        for node in self.nodes:
            busy = float(work[stations == node.name].sum()) + extra.get(node.name, 0.0) if len(work) else 0.0
            kpis[f"utilization:{node.name}"] = busy / (span * node.station.capacity)
        if self.policy == "kanban":
            kpis["stock"] = self._stock_average(warmup)
            kpis["inventory"] = kpis["wip"] + kpis["stock"]
            if spec.release.demand is not None:
                t = np.asarray(self.demand_t, dtype=float)
                served = np.asarray(self.demand_served, dtype=bool)
                after = t > warmup
                kpis["service_level"] = float(served[after].mean()) if after.any() else math.nan
        else:
            kpis["inventory"] = kpis["wip"]
        demand = pd.DataFrame({"time": np.asarray(self.demand_t, dtype=float),
                               "served_from_stock": np.asarray(self.demand_served, dtype=bool)})
        return RunResult(operations, downtime, orders, kpis, int(self.events), horizon, warmup, demand)

    def _stock_average(self, warmup: float) -> float:
        if not self.stock_log:
            return 0.0
        times = np.array([t for t, _ in self.stock_log], dtype=float)
        level = np.cumsum([d for _, d in self.stock_log]).astype(float)
        edges = np.append(times, self.horizon)
        lo = np.clip(edges[:-1], warmup, self.horizon)
        hi = np.clip(edges[1:], warmup, self.horizon)
        return float((level * (hi - lo)).sum()) / (self.horizon - warmup)


def run_once(spec: LineSpec, horizon: float, warmup: float = 0.0, seed: np.random.SeedSequence | int = 0, *,
             forecaster: Forecaster | None = None, limit: int | None = None) -> RunResult:
    """One replication (see :class:`LineModel`).

    >>> from leanlearn.twin.spec import LineSpec
    >>> spec = LineSpec.from_dict({"line": "dd1", "release": {"policy": "push", "arrivals": 2.0},
    ...                            "stations": [{"name": "S1", "cycle": 1.0}]})
    >>> run = run_once(spec, horizon=101.5, warmup=1.5)   # arrivals at 2, 4, ..., done at 3, 5, ...
    >>> run.kpis["throughput"], run.kpis["wip"], run.kpis["lead_time_mean"], run.kpis["utilization:S1"]
    (0.5, 0.5, 1.0, 0.5)
    """
    return LineModel(spec, horizon, seed, forecaster=forecaster, limit=limit).run(warmup)

