"""The line spec: what the digital twin simulates, as frozen, validated value objects that round-trip to YAML.

A spec names the stations (cycle-time distributions, setups, breakdowns, buffers, servers, scrap, shifts), the
materials with their routings and batch sizes, and one release policy (push, CONWIP, kanban or a replay of
observed releases). Every key is checked; a mistake raises :class:`SpecError` naming the file and the key path,
e.g. ``spec.yaml: stations[1].cycle.mean: must be a positive number, got -1``.

Keys (all durations in ``time_unit``)::

    line: example                 # required: the line name written into the output tables
    time_unit: h                  # s | min | h | d (default h)
    start: 2012-01-02T00:00:00Z   # clock 0 as a timestamp (default 2000-01-01T00:00Z); output is UTC
    release:                      # exactly one policy
      policy: conwip              # push | conwip | kanban | trace
      wip: 4                      # conwip: cap on jobs in the system
      arrivals: <dist>            # push: time between order arrivals; max_orders: N (optional)
      cards: {S1: 3, S2: 3}       # kanban: cards per station loop (or one number for every loop)
      demand: {arrivals: <dist>}  # kanban: customer demand on the last supermarket (or times: [t1, t2, ...])
      signal: reactive            # kanban: reactive | predictive (needs a forecaster, see simulate())
      period: 1.0                 # kanban: length of a demand period for the forecaster
      lead_periods: 1             # kanban: periods of replenishment lead time the forecast must cover
      orders: [{id: O1, material: A, release: 0.0, qty: 10, routing: [S1, S2]}]   # trace
    materials:                    # optional; default one material 'default' routed through the stations in order
      A: {share: 0.6, routings: [{stations: [S1, S2], weight: 1.0}], qty: <dist or number>, batch: 5}
    transfer: <dist>              # optional delay between consecutive operations of a job
    stations:
      - name: S1
        capacity: 1               # parallel servers
        cycle: <dist>             # per unit (per_unit: true, default) or per visit (per_unit: false)
        cycle_by_material: {A: <dist>}
        setup: {default: <dist>, matrix: {A: {B: <dist>}}, always: false}
        breakdowns: {tbf: <dist>, repair: <dist>, basis: clock}   # basis: clock | busy
        buffer: 10                # input buffer places (>= 1; default unbounded); a full buffer blocks upstream
        scrap: 0.0                # probability that one unit is scrapped here
        shifts: {hours_per_day: 16, start_hour: 6}

Examples
--------
>>> spec = LineSpec.from_dict({"line": "demo", "release": {"policy": "conwip", "wip": 3},
...                            "stations": [{"name": "S1", "cycle": {"dist": "exponential", "mean": 1.0}}]})
>>> spec.release.wip, spec.stations[0].cycle.mean()
(3, 1.0)
>>> LineSpec.from_dict(spec.to_dict()) == spec
True
>>> LineSpec.from_dict({"line": "demo", "release": {"policy": "pull"}, "stations": [{"name": "S1", "cycle": 1}]},
...                    source="spec.yaml")
Traceback (most recent call last):
...
leanlearn.twin.spec.SpecError: spec.yaml: release.policy: is 'pull'; choose one of push, conwip, kanban, trace
"""

from __future__ import annotations

import datetime as _dt
import difflib
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leanlearn.errors import LeanlearnError
from leanlearn.twin.distributions import Distribution, from_spec

__all__ = ["MAX_EVENTS", "MAX_MATERIALS", "MAX_STATIONS", "MAX_TRACE_ORDERS", "MAX_UNITS", "POLICIES", "TIME_UNITS",
           "Breakdowns", "Demand", "LineSpec", "Material", "Release", "Routing", "Setup", "Shifts", "SpecError",
           "Station", "TraceOrder", "load_spec", "max_events"]

#: Most stations a spec may list.
MAX_STATIONS = 500
#: Most materials a spec may list.
MAX_MATERIALS = 1_000
#: Most units in one order or lot.
MAX_UNITS = 1_000_000
#: Most orders a trace release may replay.
MAX_TRACE_ORDERS = 1_000_000
#: Default most simulated events in one replication (``LEANLEARN_TWIN_MAX_EVENTS`` overrides): a horizon far too
#: long for the line's rate, or a push line whose queue grows without bound, ends in one clear error.
MAX_EVENTS = 50_000_000

POLICIES = ("push", "conwip", "kanban", "trace")
#: time unit → (its length in hours, its pandas timedelta unit).
TIME_UNITS = {"s": (1 / 3600, "s"), "min": (1 / 60, "min"), "h": (1.0, "h"), "d": (24.0, "D")}
DEFAULT_START = "2000-01-01T00:00:00+00:00"


class SpecError(LeanlearnError):
    """A line spec (YAML or mapping) is malformed: the message names the file and the key path."""


def max_events(environ: Mapping[str, str] | None = None) -> int:
    """The event limit of one replication: ``LEANLEARN_TWIN_MAX_EVENTS`` or :data:`MAX_EVENTS`.

    >>> max_events({"LEANLEARN_TWIN_MAX_EVENTS": "1000"})
    1000
    """
    env = os.environ if environ is None else environ
    raw = env.get("LEANLEARN_TWIN_MAX_EVENTS", "").strip().replace("_", "")
    if not raw:
        return MAX_EVENTS
    if not raw.isdigit() or int(raw) < 1:
        raise SpecError(f"LEANLEARN_TWIN_MAX_EVENTS={raw!r} must be a whole number >= 1, e.g. 100000000")
    return int(raw)


# -- value objects --------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Setup:
    """Sequence-dependent setup: ``matrix[from][to]`` when the material changes, else ``default``."""

    default: Distribution | None = None
    matrix: dict[str, dict[str, Distribution]] = field(default_factory=dict)
    always: bool = False

    def dist(self, previous: str | None, material: str) -> Distribution | None:
        """The setup-time distribution before a job of ``material`` after one of ``previous`` (None: none)."""
        if not self.always and (previous is None or previous == material):
            return None
        row = self.matrix.get(previous, {}) if previous is not None else {}
        return row.get(material, self.default)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.default is not None:
            out["default"] = self.default.to_dict()
        if self.matrix:
            out["matrix"] = {a: {b: d.to_dict() for b, d in row.items()} for a, row in self.matrix.items()}
        if self.always:
            out["always"] = True
        return out


@dataclass(frozen=True, slots=True)
class Breakdowns:
    """Failures: time between failures ``tbf`` (clock or busy time) and repair time ``repair``."""

    tbf: Distribution
    repair: Distribution
    basis: str = "clock"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tbf": self.tbf.to_dict(), "repair": self.repair.to_dict()}
        if self.basis != "clock":
            out["basis"] = self.basis
        return out


@dataclass(frozen=True, slots=True)
class Shifts:
    """A daily calendar: work starts only within ``hours_per_day`` hours from ``start_hour`` each day."""

    hours_per_day: float
    start_hour: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"hours_per_day": self.hours_per_day, "start_hour": self.start_hour}


@dataclass(frozen=True, slots=True)
class Station:
    """One station (work centre): servers, times, setups, failures, input buffer, scrap and calendar."""

    name: str
    cycle: Distribution
    capacity: int = 1
    per_unit: bool = True
    cycle_by_material: dict[str, Distribution] = field(default_factory=dict)
    setup: Setup | None = None
    breakdowns: Breakdowns | None = None
    buffer: int | None = None
    scrap: float = 0.0
    shifts: Shifts | None = None

    def cycle_for(self, material: str) -> Distribution:
        """The cycle-time distribution of ``material`` here."""
        return self.cycle_by_material.get(material, self.cycle)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.capacity != 1:
            out["capacity"] = self.capacity
        out["cycle"] = self.cycle.to_dict()
        if not self.per_unit:
            out["per_unit"] = False
        if self.cycle_by_material:
            out["cycle_by_material"] = {m: d.to_dict() for m, d in self.cycle_by_material.items()}
        if self.setup is not None:
            out["setup"] = self.setup.to_dict()
        if self.breakdowns is not None:
            out["breakdowns"] = self.breakdowns.to_dict()
        if self.buffer is not None:
            out["buffer"] = self.buffer
        if self.scrap:
            out["scrap"] = self.scrap
        if self.shifts is not None:
            out["shifts"] = self.shifts.to_dict()
        return out


@dataclass(frozen=True, slots=True)
class Routing:
    """One route (station names in order) a material may take, chosen with probability ∝ ``weight``."""

    stations: tuple[str, ...]
    weight: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"stations": list(self.stations), "weight": self.weight}


@dataclass(frozen=True, slots=True)
class Material:
    """A material: its share of releases, routings, order quantity ``qty`` and lot size ``batch``.

    An order has ``qty`` units (a number or a distribution, rounded up to whole units; default ``batch`` or 1) and
    is released as lots (jobs) of ``batch`` units that move through the line together; without ``batch`` the
    whole order is one lot. No ``routings`` means the stations in the order they are listed.
    """

    name: str
    share: float = 1.0
    routings: tuple[Routing, ...] = ()
    qty: Distribution | None = None
    batch: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"share": self.share}
        if self.routings:
            out["routings"] = [r.to_dict() for r in self.routings]
        if self.qty is not None:
            out["qty"] = self.qty.to_dict()
        if self.batch is not None:
            out["batch"] = self.batch
        return out


@dataclass(frozen=True, slots=True)
class TraceOrder:
    """One observed release to replay."""

    id: str
    release: float
    material: str = "default"
    qty: float = 1.0
    routing: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "material": self.material, "release": self.release, "qty": self.qty}
        if self.routing is not None:
            out["routing"] = list(self.routing)
        return out


@dataclass(frozen=True, slots=True)
class Demand:
    """Customer demand on the last kanban supermarket: inter-arrival ``arrivals`` or explicit ``times``."""

    arrivals: Distribution | None = None
    times: tuple[float, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.times is not None:
            return {"times": list(self.times)}
        assert self.arrivals is not None
        return {"arrivals": self.arrivals.to_dict()}


@dataclass(frozen=True, slots=True)
class Release:
    """The release policy and its parameters (only those of ``policy`` are set)."""

    policy: str
    wip: int | None = None
    arrivals: Distribution | None = None
    max_orders: int | None = None
    cards: dict[str, int] | None = None
    demand: Demand | None = None
    signal: str = "reactive"
    period: float = 1.0
    lead_periods: int = 1
    orders: tuple[TraceOrder, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"policy": self.policy}
        if self.policy == "conwip":
            out["wip"] = self.wip
        elif self.policy == "push":
            assert self.arrivals is not None
            out["arrivals"] = self.arrivals.to_dict()
            if self.max_orders is not None:
                out["max_orders"] = self.max_orders
        elif self.policy == "kanban":
            out["cards"] = dict(self.cards or {})
            if self.demand is not None:
                out["demand"] = self.demand.to_dict()
            if self.signal != "reactive":
                out["signal"] = self.signal
            if self.period != 1.0:
                out["period"] = self.period
            if self.lead_periods != 1:
                out["lead_periods"] = self.lead_periods
        else:
            out["orders"] = [o.to_dict() for o in self.orders]
        return out


@dataclass(frozen=True, slots=True)
class LineSpec:
    """A whole line: see the module docstring for every key."""

    line: str
    stations: tuple[Station, ...]
    release: Release
    time_unit: str = "h"
    start: str = DEFAULT_START
    materials: dict[str, Material] | None = None
    transfer: Distribution | None = None

    # -- derived ----------------------------------------------------------------------------------------------------
    def station(self, name: str) -> Station:
        """The station called ``name``."""
        for item in self.stations:
            if item.name == name:
                return item
        raise SpecError(f"no station {name!r}; stations: {', '.join(s.name for s in self.stations)}")

    @property
    def station_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stations)

    def resolved_materials(self) -> dict[str, Material]:
        """The materials with their routings filled in (default: the stations in order)."""
        flow = (Routing(self.station_names),)
        declared = self.materials or {"default": Material("default")}
        return {name: m if m.routings else Material(m.name, m.share, flow, m.qty, m.batch)
                for name, m in declared.items()}

    @property
    def hours_per_unit(self) -> float:
        return TIME_UNITS[self.time_unit][0]

    # -- serialisation ----------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data (YAML-ready); ``LineSpec.from_dict(spec.to_dict()) == spec``."""
        out: dict[str, Any] = {"line": self.line, "time_unit": self.time_unit}
        if self.start != DEFAULT_START:
            out["start"] = self.start
        out["release"] = self.release.to_dict()
        if self.materials is not None:
            out["materials"] = {name: m.to_dict() for name, m in self.materials.items()}
        if self.transfer is not None:
            out["transfer"] = self.transfer.to_dict()
        out["stations"] = [s.to_dict() for s in self.stations]
        return out

    def to_yaml(self, path: str | Path | None = None) -> str:
        """The spec as YAML text, written to ``path`` when given."""
        import yaml

        text = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=120)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_yaml(cls, path: str | Path) -> LineSpec:
        """Read and validate a spec file (safe, bounded YAML: :func:`leanlearn.yamlfile.read_yaml`)."""
        from leanlearn.yamlfile import read_yaml

        return cls.from_dict(read_yaml(path, SpecError, "line spec"), source=str(path))

    @classmethod
    def from_dict(cls, doc: Any, source: str = "spec") -> LineSpec:
        """Validate ``doc``; every problem raises :class:`SpecError` naming ``source`` and the key path."""
        return _Parser(source).spec(doc)


def load_spec(path: str | Path) -> LineSpec:
    """Read the spec file ``path`` (see :meth:`LineSpec.from_yaml`)."""
    return LineSpec.from_yaml(path)


# -- parsing --------------------------------------------------------------------------------------------------------
def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> SpecError:
        return SpecError(f"{self.source}: {path}: {message}" if path else f"{self.source}: {message}")

    def mapping(self, value: Any, path: str, allowed: Sequence[str], required: Sequence[str] = (),
                example: str = "") -> dict[str, Any]:
        if not isinstance(value, dict):
            hint = f"; e.g. {example}" if example else ""
            raise self.fail(path, f"must be a mapping, got {_shown(value)}{hint}")
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                where = f"{path}.{key}" if path else str(key)
                raise self.fail(where, f"unknown key; {hint}allowed keys: {', '.join(allowed)}")
        for key in required:
            if key not in value:
                where = f"{path}.{key}" if path else key
                raise self.fail(where, "missing" + (f"; e.g. {example}" if example else ""))
        return value

    def material_keys(self, value: Any, path: str, materials: list[str]) -> dict[str, Any]:
        """A mapping keyed by material names (an unknown one is named with the declared materials)."""
        if not isinstance(value, dict):
            raise self.fail(path, f"must be a mapping of material → value, got {_shown(value)}")
        for key in value:
            if str(key) not in materials:
                close = difflib.get_close_matches(str(key), materials, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                declared = ("" if materials != ["default"] else
                            " (declare them under materials: to key by material)")
                raise self.fail(f"{path}.{key}", f"is not a material; {hint}materials: {', '.join(materials)}"
                                                 f"{declared}")
        return value

    def number(self, value: Any, path: str, *, positive: bool = False, low: float | None = None,
               high: float | None = None) -> float:
        ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
        if ok and positive and not value > 0:
            ok = False
        if ok and low is not None and value < low:
            ok = False
        if ok and high is not None and value > high:
            ok = False
        if not ok:
            if positive:
                want = "a positive number"
            elif low is not None and high is not None:
                want = f"a number from {low:g} to {high:g}"
            elif low is not None:
                want = f"a number >= {low:g}"
            else:
                want = "a number"
            raise self.fail(path, f"must be {want}, got {_shown(value)}")
        return float(value)

    def whole(self, value: Any, path: str, low: int = 1) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.fail(path, f"must be a whole number >= {low}, got {_shown(value)}")
        return value

    def text(self, value: Any, path: str) -> str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"must be non-empty text, got {_shown(value)}")
        return value.strip()

    def dist(self, value: Any, path: str, allow_zero: bool = True) -> Distribution:
        return from_spec(value, path, source=self.source, allow_zero=allow_zero)

    def names(self, value: Any, path: str, known: Sequence[str]) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(path, f"must be a non-empty list of station names, got {_shown(value)}")
        out = []
        for i, item in enumerate(value):
            name = self.text(item, f"{path}[{i}]")
            if name not in known:
                raise self.fail(f"{path}[{i}]", f"is {name!r}, not a station; stations: {', '.join(known)}")
            out.append(name)
        return tuple(out)

    # -- parts ------------------------------------------------------------------------------------------------------
    def spec(self, doc: Any) -> LineSpec:
        if doc is None:
            raise self.fail("", "is empty; a line spec needs line, release and stations")
        top = ("line", "time_unit", "start", "release", "materials", "transfer", "stations")
        doc = self.mapping(doc, "", top, ("line", "release", "stations"),
                           "line: L1, release: {policy: conwip, wip: 4}, stations: [...]")
        line = self.text(doc["line"], "line")
        unit = doc.get("time_unit", "h")
        if unit not in TIME_UNITS:
            raise self.fail("time_unit", f"is {_shown(unit)}; choose one of {', '.join(TIME_UNITS)}")
        start = self.start(doc.get("start"))
        raw = doc["stations"]
        if not isinstance(raw, list) or not raw:
            raise self.fail("stations", f"must be a non-empty list of stations, got {_shown(raw)}")
        if len(raw) > MAX_STATIONS:
            raise self.fail("stations", f"has {len(raw):,} stations, over the limit of {MAX_STATIONS:,}; "
                                        "model a group of identical machines as one station with capacity")
        names = []
        for i, item in enumerate(raw):
            if isinstance(item, dict) and "name" in item:
                name = self.text(item["name"], f"stations[{i}].name")
                if name in names:
                    raise self.fail(f"stations[{i}].name", f"{name!r} is listed twice; station names are unique")
                names.append(name)
        materials = self.materials(doc.get("materials"), names)
        known_materials = list(materials) if materials else ["default"]
        stations = tuple(self.station(item, f"stations[{i}]", known_materials) for i, item in enumerate(raw))
        transfer = self.dist(doc["transfer"], "transfer") if doc.get("transfer") is not None else None
        release = self.release(doc["release"], names, materials)
        spec = LineSpec(line, stations, release, str(unit), start, materials, transfer)
        if release.policy == "kanban":
            self.kanban_routes(spec)
        return spec

    def start(self, value: Any) -> str:
        if value is None:
            return DEFAULT_START
        import pandas as pd

        if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
            value = _dt.datetime(value.year, value.month, value.day)
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError):
            raise self.fail("start", f"is {_shown(value)}, not a timestamp; e.g. 2012-01-02T00:00:00Z") from None
        if pd.isna(stamp):
            raise self.fail("start", "is empty; e.g. 2012-01-02T00:00:00Z")
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        return str(stamp.isoformat())

    def station(self, item: Any, path: str, materials: list[str]) -> Station:
        keys = ("name", "capacity", "cycle", "per_unit", "cycle_by_material", "setup", "breakdowns", "buffer",
                "scrap", "shifts")
        item = self.mapping(item, path, keys, ("name", "cycle"), "{name: S1, cycle: {dist: exponential, mean: 1}}")
        name = self.text(item["name"], f"{path}.name")
        capacity = self.whole(item.get("capacity", 1), f"{path}.capacity")
        cycle = self.dist(item["cycle"], f"{path}.cycle")
        per_unit = item.get("per_unit", True)
        if not isinstance(per_unit, bool):
            raise self.fail(f"{path}.per_unit", f"must be true or false, got {_shown(per_unit)}")
        by_material: dict[str, Distribution] = {}
        if item.get("cycle_by_material") is not None:
            raw = self.material_keys(item["cycle_by_material"], f"{path}.cycle_by_material", materials)
            by_material = {str(m): self.dist(d, f"{path}.cycle_by_material.{m}") for m, d in raw.items()}
        setup = self.setup(item["setup"], f"{path}.setup", materials) if item.get("setup") is not None else None
        breakdowns = None
        if item.get("breakdowns") is not None:
            raw = self.mapping(item["breakdowns"], f"{path}.breakdowns", ("tbf", "repair", "basis"),
                               ("tbf", "repair"), "{tbf: {dist: exponential, mean: 50}, repair: 2}")
            basis = raw.get("basis", "clock")
            if basis not in ("clock", "busy"):
                raise self.fail(f"{path}.breakdowns.basis", f"is {_shown(basis)}; choose one of clock, busy")
            breakdowns = Breakdowns(self.dist(raw["tbf"], f"{path}.breakdowns.tbf", allow_zero=False),
                                    self.dist(raw["repair"], f"{path}.breakdowns.repair"), str(basis))
            if not breakdowns.tbf.mean() > 0:
                raise self.fail(f"{path}.breakdowns.tbf", "must have a positive mean")
        buffer = None if item.get("buffer") is None else self.whole(item["buffer"], f"{path}.buffer", low=1)
        scrap = self.number(item.get("scrap", 0.0), f"{path}.scrap", low=0.0, high=1.0)
        if scrap >= 1:
            raise self.fail(f"{path}.scrap", "must be below 1 (every unit scrapped leaves nothing to make)")
        shifts = None
        if item.get("shifts") is not None:
            raw = self.mapping(item["shifts"], f"{path}.shifts", ("hours_per_day", "start_hour"), ("hours_per_day",),
                               "{hours_per_day: 16, start_hour: 6}")
            hours = self.number(raw["hours_per_day"], f"{path}.shifts.hours_per_day", positive=True)
            if hours > 24:
                raise self.fail(f"{path}.shifts.hours_per_day", f"must be at most 24, got {hours:g}")
            begin = self.number(raw.get("start_hour", 0.0), f"{path}.shifts.start_hour", low=0.0, high=24.0)
            shifts = Shifts(hours, begin)
        return Station(name, cycle, capacity, per_unit, by_material, setup, breakdowns, buffer, scrap, shifts)

    def setup(self, value: Any, path: str, materials: list[str]) -> Setup:
        if isinstance(value, (int, float, bool)) or (isinstance(value, dict) and "dist" in value):
            return Setup(default=self.dist(value, path))
        raw = self.mapping(value, path, ("default", "matrix", "always"), (),
                           "{default: 0.5, matrix: {A: {B: 1.0}}}")
        default = self.dist(raw["default"], f"{path}.default") if raw.get("default") is not None else None
        matrix: dict[str, dict[str, Distribution]] = {}
        if raw.get("matrix") is not None:
            rows = self.material_keys(raw["matrix"], f"{path}.matrix", materials)
            for a, row in rows.items():
                cells = self.material_keys(row, f"{path}.matrix.{a}", materials)
                matrix[str(a)] = {str(b): self.dist(d, f"{path}.matrix.{a}.{b}") for b, d in cells.items()}
        always = raw.get("always", False)
        if not isinstance(always, bool):
            raise self.fail(f"{path}.always", f"must be true or false, got {_shown(always)}")
        return Setup(default, matrix, always)

    def materials(self, value: Any, stations: list[str]) -> dict[str, Material] | None:
        if value is None:
            return None
        if not isinstance(value, dict) or not value:
            raise self.fail("materials", f"must be a mapping of material → settings, got {_shown(value)}")
        if len(value) > MAX_MATERIALS:
            raise self.fail("materials", f"has {len(value):,} materials, over the limit of {MAX_MATERIALS:,}")
        out = {}
        for name, raw in value.items():
            path = f"materials.{name}"
            raw = self.mapping(raw if raw is not None else {}, path, ("share", "routings", "qty", "batch"))
            share = self.number(raw.get("share", 1.0), f"{path}.share", positive=True)
            routings: list[Routing] = []
            if raw.get("routings") is not None:
                items = raw["routings"]
                if not isinstance(items, list) or not items:
                    raise self.fail(f"{path}.routings", f"must be a non-empty list, got {_shown(items)}")
                for j, r in enumerate(items):
                    rp = f"{path}.routings[{j}]"
                    if isinstance(r, list):
                        r = {"stations": r}
                    r = self.mapping(r, rp, ("stations", "weight"), ("stations",), "{stations: [S1, S2], weight: 1}")
                    routings.append(Routing(self.names(r["stations"], f"{rp}.stations", stations),
                                            self.number(r.get("weight", 1.0), f"{rp}.weight", positive=True)))
            qty = None
            if raw.get("qty") is not None:
                qty = self.dist(raw["qty"], f"{path}.qty", allow_zero=False)
                if not qty.mean() > 0:
                    raise self.fail(f"{path}.qty", "must have a positive mean")
            batch = None if raw.get("batch") is None else self.whole(raw["batch"], f"{path}.batch")
            if batch is not None and batch > MAX_UNITS:
                raise self.fail(f"{path}.batch", f"is {batch:,}, over the limit of {MAX_UNITS:,} units")
            out[str(name)] = Material(str(name), share, tuple(routings), qty, batch)
        return out

    def release(self, value: Any, stations: list[str], materials: dict[str, Material] | None) -> Release:
        keys = ("policy", "wip", "arrivals", "max_orders", "cards", "demand", "signal", "period", "lead_periods",
                "orders")
        raw = self.mapping(value, "release", keys, ("policy",), "{policy: conwip, wip: 4}")
        policy = raw["policy"]
        if policy not in POLICIES:
            close = difflib.get_close_matches(str(policy), POLICIES, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise self.fail("release.policy", f"is {_shown(policy)}; {hint}choose one of {', '.join(POLICIES)}")
        allowed = {"push": ("arrivals", "max_orders"), "conwip": ("wip",),
                   "kanban": ("cards", "demand", "signal", "period", "lead_periods"), "trace": ("orders",)}[policy]
        for key in raw:
            if key != "policy" and key not in allowed:
                raise self.fail(f"release.{key}", f"does not apply to policy {policy}; its keys: {', '.join(allowed)}")
        if policy == "conwip":
            if "wip" not in raw:
                raise self.fail("release.wip", "missing; conwip needs the WIP cap, e.g. {policy: conwip, wip: 4}")
            return Release("conwip", wip=self.whole(raw["wip"], "release.wip"))
        if policy == "push":
            if "arrivals" not in raw:
                raise self.fail("release.arrivals", "missing; push needs the time between arrivals, e.g. "
                                                    "{policy: push, arrivals: {dist: exponential, mean: 1.25}}")
            arrivals = self.dist(raw["arrivals"], "release.arrivals", allow_zero=False)
            if not arrivals.mean() > 0:
                raise self.fail("release.arrivals", "must have a positive mean time between arrivals")
            most = None if raw.get("max_orders") is None else self.whole(raw["max_orders"], "release.max_orders")
            return Release("push", arrivals=arrivals, max_orders=most)
        if policy == "kanban":
            if "cards" not in raw:
                raise self.fail("release.cards", "missing; kanban needs cards per loop, e.g. {S1: 3, S2: 3}")
            cards_raw = raw["cards"]
            if isinstance(cards_raw, (int, float)) and not isinstance(cards_raw, bool):
                cards = {s: self.whole(cards_raw, "release.cards") for s in stations}
            else:
                mapping = self.mapping(cards_raw, "release.cards", stations, (), "{S1: 3, S2: 3}")
                cards = {str(s): self.whole(n, f"release.cards.{s}") for s, n in mapping.items()}
            demand = None
            if raw.get("demand") is not None:
                d = self.mapping(raw["demand"], "release.demand", ("arrivals", "times"), (),
                                 "{arrivals: {dist: exponential, mean: 1.2}}")
                if ("arrivals" in d) == ("times" in d):
                    raise self.fail("release.demand", "needs exactly one of arrivals (a distribution) or times "
                                                      "(a list of demand times)")
                if "arrivals" in d:
                    arrivals = self.dist(d["arrivals"], "release.demand.arrivals", allow_zero=False)
                    if not arrivals.mean() > 0:
                        raise self.fail("release.demand.arrivals", "must have a positive mean time between demands")
                    demand = Demand(arrivals=arrivals)
                else:
                    times = d["times"]
                    if not isinstance(times, list):
                        raise self.fail("release.demand.times", f"must be a list of times, got {_shown(times)}")
                    if len(times) > MAX_TRACE_ORDERS:
                        raise self.fail("release.demand.times", f"has {len(times):,} times, over the limit of "
                                                                f"{MAX_TRACE_ORDERS:,}")
                    values = tuple(self.number(t, f"release.demand.times[{i}]", low=0.0)
                                   for i, t in enumerate(times))
                    demand = Demand(times=tuple(sorted(values)))
            signal = raw.get("signal", "reactive")
            if signal not in ("reactive", "predictive"):
                raise self.fail("release.signal", f"is {_shown(signal)}; choose one of reactive, predictive")
            if signal == "predictive" and demand is None:
                raise self.fail("release.signal", "predictive needs customer demand (release.demand) to forecast")
            period = self.number(raw.get("period", 1.0), "release.period", positive=True)
            lead = self.whole(raw.get("lead_periods", 1), "release.lead_periods")
            return Release("kanban", cards=cards, demand=demand, signal=str(signal), period=period, lead_periods=lead)
        items = raw.get("orders")
        if not isinstance(items, list) or not items:
            raise self.fail("release.orders", f"must be a non-empty list of orders, got {_shown(items)}")
        if len(items) > MAX_TRACE_ORDERS:
            raise self.fail("release.orders", f"has {len(items):,} orders, over the limit of {MAX_TRACE_ORDERS:,}; "
                                              "replay a shorter period")
        known = list(materials) if materials else None
        orders = []
        seen: set[str] = set()
        for i, o in enumerate(items):
            path = f"release.orders[{i}]"
            o = self.mapping(o, path, ("id", "material", "release", "qty", "routing"), ("id", "release"),
                             "{id: O1, material: A, release: 0.0, qty: 10}")
            oid = self.text(o["id"], f"{path}.id")
            if oid in seen:
                raise self.fail(f"{path}.id", f"{oid!r} is listed twice; order ids are unique")
            seen.add(oid)
            material = self.text(o.get("material", "default"), f"{path}.material")
            if known is not None and material not in known:
                raise self.fail(f"{path}.material", f"is {material!r}, not a material; materials: {', '.join(known)}")
            routing = None if o.get("routing") is None else self.names(o["routing"], f"{path}.routing", stations)
            qty = self.number(o.get("qty", 1.0), f"{path}.qty", positive=True)
            if qty > MAX_UNITS:
                raise self.fail(f"{path}.qty", f"is {qty:,.0f}, over the limit of {MAX_UNITS:,} units per order")
            orders.append(TraceOrder(oid, self.number(o["release"], f"{path}.release", low=0.0), material, qty,
                                     routing))
        return Release("trace", orders=tuple(orders))

    def kanban_routes(self, spec: LineSpec) -> None:
        routes = {r.stations for m in spec.resolved_materials().values() for r in m.routings}
        if len(routes) > 1:
            raise self.fail("release.cards", "kanban needs one route shared by every material (the loops are the "
                                             "stations of that route); the materials have "
                                             f"{len(routes)} different routings")
        route = next(iter(routes))
        cards = spec.release.cards or {}
        missing = [s for s in route if s not in cards]
        if missing:
            raise self.fail("release.cards", f"has no cards for station(s) {', '.join(missing)}; give every station "
                                             "of the route its cards, e.g. "
                                             f"{{{', '.join(f'{s}: 3' for s in route)}}}")
        extra = [s for s in cards if s not in route]
        if extra:
            raise self.fail("release.cards", f"station(s) {', '.join(extra)} are not on the kanban route "
                                             f"{' → '.join(route)}")
