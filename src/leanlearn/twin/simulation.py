"""Replications of the line model: independent seeded streams, warm-up deletion, KPIs with 95 % t-intervals.

Replication ``r`` of ``simulate(..., seed=s)`` draws from ``numpy.random.SeedSequence(s).spawn(R)[r]``: the
replications are independent, and the same ``(seed, r)`` gives the same numbers to every variant of a spec (the
what-if compares points under common random numbers). KPIs count only the time after ``warmup`` (see
:class:`~leanlearn.twin.model.RunResult`); the interval of each KPI is the 95 % Student-t interval of its mean
over the replications, clipped to the KPI's range (>= 0, and <= 1 for shares); one replication: no interval,
low = high = NaN.

KPIs: ``throughput`` (jobs finished per time unit), ``throughput_units``, ``wip`` (time-average jobs in the line),
``inventory`` (wip plus finished stock for kanban), ``lead_time_mean``, ``lead_time_p50``, ``lead_time_p90``
(jobs released after the warm-up that finished), ``utilization:<station>`` (busy share of its servers, setups
included), and for kanban ``stock`` and, with demand, ``service_level`` (share of demands served from stock at
once).

Examples
--------
>>> from leanlearn.twin.spec import LineSpec
>>> spec = LineSpec.from_dict({"line": "mm1", "release": {"policy": "push",
...                            "arrivals": {"dist": "exponential", "mean": 1.25}},
...                            "stations": [{"name": "S1", "cycle": {"dist": "exponential", "mean": 1.0}}]})
>>> result = simulate(spec, horizon=2000, warmup=200, replications=3, seed=1)
>>> row = result.summary.loc["utilization:S1"]
>>> bool(0.7 < row["mean"] < 0.9), bool(row["low"] < row["mean"] < row["high"])
(True, True)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from leanlearn.twin.model import Forecaster, RunResult, run_once
from leanlearn.twin.spec import LineSpec, SpecError

__all__ = ["KPI_ORDER", "MAX_REPLICATIONS", "SimulationResult", "simulate", "summarize"]

#: Most replications of one simulate call.
MAX_REPLICATIONS = 1_000
KPI_ORDER = ("throughput", "throughput_units", "wip", "inventory", "stock", "lead_time_mean", "lead_time_p50",
             "lead_time_p90", "service_level")


def _unit(kpi: str, time_unit: str) -> str:
    if kpi.startswith("throughput"):
        return f"{'units' if kpi.endswith('units') else 'jobs'}/{time_unit}"
    if kpi in ("wip", "inventory", "stock"):
        return "jobs"
    if kpi.startswith("lead_time"):
        return time_unit
    return "share"


def summarize(runs: Sequence[RunResult], time_unit: str = "h", level: float = 0.95) -> pd.DataFrame:
    """One row per KPI (index): ``mean``, ``low``, ``high`` (t-interval at ``level``), ``sd``, ``n``, ``unit``."""
    names: list[str] = []
    for run in runs:
        names += [k for k in run.kpis if k not in names]
    order = [k for k in KPI_ORDER if k in names] + sorted(k for k in names if k not in KPI_ORDER)
    rows = []
    for name in order:
        values = np.array([run.kpis.get(name, math.nan) for run in runs], dtype=float)
        values = values[~np.isnan(values)]
        n = int(values.size)
        mean = float(values.mean()) if n else math.nan
        sd = float(values.std(ddof=1)) if n > 1 else math.nan
        if n > 1:
            from scipy.stats import t

            half = float(t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
            low, high = max(0.0, mean - half), mean + half  # every KPI is >= 0 (and a share <= 1)
            if _unit(name, time_unit) == "share":
                high = min(1.0, high)
        else:
            low = high = math.nan
        rows.append({"kpi": name, "mean": mean, "low": low, "high": high, "sd": sd, "n": n,
                     "unit": _unit(name, time_unit)})
    return pd.DataFrame(rows).set_index("kpi")


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """The replications of one spec and the summary of their KPIs."""

    spec: LineSpec = field(repr=False)
    horizon: float
    warmup: float
    seed: int
    replications: list[RunResult] = field(repr=False)
    summary: pd.DataFrame = field(repr=False)

    @property
    def events(self) -> int:
        """Simulated events over all replications."""
        return sum(r.events for r in self.replications)

    def kpi(self, name: str) -> tuple[float, float, float]:
        """``(mean, low, high)`` of KPI ``name``."""
        row: Any = self.summary.loc[name]
        return float(row["mean"]), float(row["low"]), float(row["high"])

    def to_json(self) -> dict[str, Any]:
        """Plain data: the run settings and per KPI its mean, interval and unit (NaN as null)."""
        def num(x: Any) -> float | None:
            return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)

        return {
            "line": self.spec.line, "time_unit": self.spec.time_unit, "policy": self.spec.release.policy,
            "horizon": self.horizon, "warmup": self.warmup, "replications": len(self.replications),
            "seed": self.seed, "events": self.events,
            "kpis": {name: {"mean": num(row["mean"]), "low": num(row["low"]), "high": num(row["high"]),
                            "unit": row["unit"]} for name, row in self.summary.iterrows()},
        }


def simulate(spec: LineSpec, horizon: float, warmup: float = 0.0, replications: int = 1, seed: int = 0, *,
             forecaster: Forecaster | None = None, progress: bool = False, modifiers: Any = None,
             limit: int | None = None) -> SimulationResult:
    """Run ``replications`` independent replications of ``spec`` for ``horizon`` time units each.

    Parameters
    ----------
    spec : LineSpec
    horizon, warmup : float
        Simulated time per replication and the initial part left out of the KPIs (``spec.time_unit``).
    replications : int, default=1
    seed : int, default=0
    forecaster : object, optional
        For kanban with demand: ``learn_one(y)`` / ``forecast(horizon)``; each replication gets its own deep copy.
    progress : bool, default=False
        A progress bar on stderr (rich).
    modifiers : optional
        Rule modifiers applied first with :func:`leanlearn.twin.modifiers.apply`.
    limit : int, optional
        Most events per replication (default ``LEANLEARN_TWIN_MAX_EVENTS`` or 50 million).
    """
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
        raise SpecError(f"replications must be a whole number >= 1, got {replications!r}")
    if replications > MAX_REPLICATIONS:
        raise SpecError(f"replications={replications:,} is over the limit of {MAX_REPLICATIONS:,}; a few dozen "
                        "give a tight interval")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpecError(f"seed must be a whole number >= 0, got {seed!r}")
    if modifiers is not None:
        from leanlearn.twin.modifiers import apply  # type: ignore[import-not-found,unused-ignore]

        spec = apply(spec, modifiers)
    seeds = np.random.SeedSequence(seed).spawn(replications)
    runs: list[RunResult] = []

    def one(child: np.random.SeedSequence) -> RunResult:
        own = copy.deepcopy(forecaster) if forecaster is not None else None
        return run_once(spec, horizon, warmup, child, forecaster=own, limit=limit)

    if progress:
        from rich.progress import Progress

        with Progress(transient=True, console=_stderr()) as bar:
            task = bar.add_task(f"simulating {spec.line}", total=replications)
            for child in seeds:
                runs.append(one(child))
                bar.advance(task)
    else:
        runs = [one(child) for child in seeds]
    return SimulationResult(spec, float(horizon), float(warmup), seed, runs, summarize(runs, spec.time_unit))


def _stderr() -> Any:
    from rich.console import Console

    return Console(stderr=True)
