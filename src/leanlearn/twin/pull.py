"""Predictive vs reactive kanban on the same demand: service level, WIP, finished stock and lead time.

Reactive kanban authorises production when the customer takes a part (its card returns); predictive kanban also
asks a demand forecaster (:mod:`leanlearn.twin.forecast`) at every period end how much will be taken over the
replenishment lead time and releases authorisations ahead of consumption. :func:`compare_pull` runs both on one
line spec and **the same demand** — replication *r* draws one demand trace (arrival times) and one simulation seed,
and both policies run on them (common random numbers) — so the difference between the policies is measured
pairwise, with a 95 % t-interval over replications.

KPIs (per replication, after the warm-up; names of :attr:`RunResult.kpis <leanlearn.twin.simulation>`):
``service_level`` (fill rate: share of demand served from stock at once), ``wip`` (time-average jobs in the
line), ``stock`` (time-average finished jobs waiting in the last supermarket), ``inventory`` (wip + stock),
``lead_time_mean`` (release to completion of a job) and ``throughput``.

Examples
--------
>>> from leanlearn.twin import LineSpec
>>> from leanlearn.twin.forecast import HoltWinters, step_demand
>>> spec = LineSpec.from_dict({"line": "pull", "time_unit": "h",
...     "release": {"policy": "kanban", "cards": 3, "period": 4.0, "lead_periods": 2},
...     "stations": [{"name": "S1", "cycle": {"dist": "exponential", "mean": 0.5}},
...                  {"name": "S2", "cycle": {"dist": "exponential", "mean": 0.5}}]})
>>> cmp = compare_pull(spec, step_demand(1.0, 1.5, t0=100.0), forecaster=HoltWinters(alpha=0.3),
...                    horizon=300.0, warmup=20.0, replications=3)
>>> list(cmp.table["kpi"])[:3]
['service_level', 'wip', 'stock']
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from leanlearn.errors import LeanlearnError
from leanlearn.twin.forecast import Demand, Forecaster, HoltWinters, make_forecaster
from leanlearn.twin.modifiers import paired_interval

if TYPE_CHECKING:
    import pandas as pd

    from leanlearn.twin.spec import LineSpec

__all__ = ["KPIS", "PullComparison", "PullError", "compare_pull", "plot_frontier", "pull_frontier", "with_demand"]

#: KPIs compared, in table order (those a run does not report are left out).
KPIS = ("service_level", "wip", "stock", "inventory", "lead_time_mean", "throughput")
#: Which direction is better, per KPI (for the verdict).
BETTER = {"service_level": "higher", "wip": "lower", "stock": "lower", "inventory": "lower", "lead_time_mean": "lower",
          "throughput": "higher"}


class PullError(LeanlearnError):
    """The pull experiment was given a spec or parameters it cannot run."""


def with_demand(spec: LineSpec, times: Sequence[float], signal: str, *, cards: int | dict[str, int] | None = None,
                lead_periods: int | None = None) -> LineSpec:
    """A copy of a kanban ``spec`` with customer demand at ``times``, the given signal (reactive / predictive) and,
    optionally, other cards (one number for every loop, or per station) or another forecast reach."""
    from leanlearn.twin.spec import Demand as SpecDemand

    if spec.release.policy != "kanban":
        raise PullError(f"spec {spec.line!r}: release.policy is {spec.release.policy!r}; the pull comparison needs "
                        "policy: kanban (with cards per loop)")
    changes: dict[str, Any] = {"demand": SpecDemand(times=tuple(float(t) for t in times)), "signal": signal}
    if cards is not None:
        loops = dict(spec.release.cards or {})
        if isinstance(cards, dict):
            unknown = sorted(set(cards) - set(loops))
            if unknown:
                raise PullError(f"cards: no kanban loop {unknown[0]!r:.60}; loops: {', '.join(loops)}")
            loops.update({k: _whole(v, f"cards[{k}]") for k, v in cards.items()})
        else:
            loops = dict.fromkeys(loops, _whole(cards, "cards"))
        changes["cards"] = loops
    if lead_periods is not None:
        changes["lead_periods"] = _whole(lead_periods, "lead_periods")
    return replace(spec, release=replace(spec.release, **changes))


def _whole(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise PullError(f"{name} must be a whole number >= 1, got {value!r:.40}")
    return int(value)


def _factory(forecaster: Any) -> Callable[[], Forecaster]:
    if isinstance(forecaster, str):
        return lambda: make_forecaster(forecaster)
    if isinstance(forecaster, type) or (callable(forecaster) and not hasattr(forecaster, "learn_one")):
        return forecaster
    if not (hasattr(forecaster, "learn_one") and hasattr(forecaster, "forecast")):
        raise PullError(f"forecaster must have learn_one(y) and forecast(horizon), be a factory or a name, got "
                        f"{forecaster!r:.60}")
    return lambda: copy.deepcopy(forecaster)


@dataclass(frozen=True, slots=True)
class PullComparison:
    """Reactive vs predictive kanban on the same demand.

    ``table``: one row per KPI — ``reactive`` and ``predictive`` means with their 95 % intervals
    (``reactive_low`` …), the paired difference ``diff`` = predictive − reactive with ``diff_low``/``diff_high``,
    and ``better`` (which policy the interval of the difference favours, or ``"neither"``).
    ``runs``: one row per replication and policy with every KPI.
    """

    table: pd.DataFrame
    runs: pd.DataFrame
    demand: dict[str, Any]
    forecaster: str
    horizon: float
    warmup: float
    replications: int
    cards: dict[str, dict[str, int]]

    def kpi(self, name: str) -> dict[str, Any]:
        rows = self.table[self.table["kpi"] == name]
        if rows.empty:
            raise PullError(f"no KPI {name!r} in the comparison; KPIs: {', '.join(self.table['kpi'])}")
        return dict(rows.iloc[0])

    @property
    def verdict(self) -> str:
        """The comparison in one sentence."""
        sl = self.kpi("service_level")
        parts = [f"service level {sl['predictive']:.1%} predictive vs {sl['reactive']:.1%} reactive "
                 f"(difference {sl['diff']:+.1%}, 95 % interval {sl['diff_low']:+.1%} … {sl['diff_high']:+.1%})"]
        for name in ("wip", "stock", "inventory"):
            if name in set(self.table["kpi"]):
                row = self.kpi(name)
                parts.append(f"{name} {row['predictive']:.2f} vs {row['reactive']:.2f} "
                             f"({row['diff']:+.2f}, {row['diff_low']:+.2f} … {row['diff_high']:+.2f})")
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        def clean(v: Any) -> Any:
            if isinstance(v, (float, np.floating)):
                return float(v) if math.isfinite(v) else None
            if isinstance(v, np.integer):
                return int(v)
            return v

        return {
            "demand": self.demand, "forecaster": self.forecaster, "horizon": self.horizon, "warmup": self.warmup,
            "replications": self.replications, "cards": self.cards, "verdict": self.verdict,
            "kpis": [{k: clean(v) for k, v in row.items()} for row in self.table.to_dict("records")],
        }

    def plot(self, path: str | Path | None = None) -> Any:
        """Bars with 95 % intervals per KPI, reactive vs predictive; saved to ``path`` if given. Returns the figure."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = self.table.to_dict("records")
        fig, axes = plt.subplots(1, len(rows), figsize=(3.0 * len(rows), 3.2))
        axes = np.atleast_1d(axes)
        for ax, row in zip(axes, rows, strict=True):
            means = [row["reactive"], row["predictive"]]
            errs = [[m - lo if math.isfinite(lo) else 0 for m, lo in
                     zip(means, [row["reactive_low"], row["predictive_low"]], strict=True)],
                    [hi - m if math.isfinite(hi) else 0 for m, hi in
                     zip(means, [row["reactive_high"], row["predictive_high"]], strict=True)]]
            ax.bar(["reactive", "predictive"], means, yerr=errs, capsize=4, color=["#9aa5b1", "#2b7bba"])
            ax.set_title(row["kpi"].replace("_", " "))
        fig.suptitle(f"kanban on {self.demand.get('kind', '')} demand — forecaster {self.forecaster}", fontsize=10)
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=110)
        return fig


def compare_pull(spec: LineSpec, demand: Demand, forecaster: Any = None, *, horizon: float, warmup: float = 0.0,
                 replications: int = 10, seed: int = 0, predictive_cards: int | dict[str, int] | None = None,
                 lead_periods: int | None = None, kpis: Sequence[str] = KPIS) -> PullComparison:
    """Run reactive and predictive kanban on the same demand; paired KPI differences with 95 % intervals.

    Parameters
    ----------
    spec : LineSpec
        A kanban line (``release.policy: kanban`` with ``cards``; ``period`` and ``lead_periods`` tell the
        predictive signal how often to forecast and how far ahead). Its own demand, if any, is replaced.
    demand : Demand
        The customer demand (:func:`~leanlearn.twin.forecast.step_demand`, ``seasonal_demand``, ``poisson_demand``).
    forecaster : forecaster object, factory or name, default HoltWinters(alpha=0.3)
        Copied afresh for every replication (no state leaks between replications).
    horizon, warmup : float
        Simulated time and the warm-up cut from the KPIs, in the spec's time unit.
    replications : int, default=10
    seed : int, default=0
        Replication *r* draws its demand and its simulation seed from ``SeedSequence(seed)``'s *r*-th child; both
        policies run on them.
    predictive_cards : int or dict, optional
        Cards of the predictive line (default: the spec's, as the reactive line). Predictive pull releases work
        ahead of the cards, so it is fairly compared with *fewer* cards than reactive pull needs.
    lead_periods : int, optional
        Periods of demand the predictive signal covers (default: the spec's ``release.lead_periods``).
    """
    import pandas as pd

    from leanlearn.twin.simulation import simulate

    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
        raise PullError(f"replications must be a whole number >= 1, got {replications!r}")
    if not isinstance(demand, Demand):
        raise PullError(f"demand must be a leanlearn.twin.forecast.Demand (poisson_demand, seasonal_demand, "
                        f"step_demand), got {type(demand).__name__}")
    make = _factory(forecaster if forecaster is not None else HoltWinters(alpha=0.3))
    with_demand(spec, [], "predictive", cards=predictive_cards, lead_periods=lead_periods)  # checks, before runs
    label = repr(make())
    runs: list[dict[str, Any]] = []
    for r, (times, sim) in enumerate(_draws(demand, horizon, replications, seed)):
        for signal in ("reactive", "predictive"):
            if signal == "reactive":
                line = with_demand(spec, times, signal)
            else:
                line = with_demand(spec, times, signal, cards=predictive_cards, lead_periods=lead_periods)
            result = simulate(line, horizon=horizon, warmup=warmup, replications=1, seed=sim,
                              forecaster=make() if signal == "predictive" else None)
            kp = result.replications[0].kpis
            runs.append({"replication": r, "signal": signal, "demand": len(times),
                         **{k: float(kp[k]) for k in kpis if k in kp}})
    frame = pd.DataFrame(runs)
    rows = []
    for kpi in kpis:
        if kpi not in frame.columns:
            continue
        rea = frame[frame["signal"] == "reactive"].sort_values("replication")[kpi].to_numpy(float)
        pre = frame[frame["signal"] == "predictive"].sort_values("replication")[kpi].to_numpy(float)
        r_mean, r_low, r_high = paired_interval(rea.tolist())
        p_mean, p_low, p_high = paired_interval(pre.tolist())
        d_mean, d_low, d_high = paired_interval((pre - rea).tolist())
        if math.isfinite(d_low) and (d_low > 0 or d_high < 0):
            up = d_low > 0
            better = "predictive" if up == (BETTER[kpi] == "higher") else "reactive"
        else:
            better = "neither"
        rows.append({"kpi": kpi, "reactive": r_mean, "reactive_low": r_low, "reactive_high": r_high,
                     "predictive": p_mean, "predictive_low": p_low, "predictive_high": p_high,
                     "diff": d_mean, "diff_low": d_low, "diff_high": d_high, "better": better})
    cards = {"reactive": dict(spec.release.cards or {}),
             "predictive": dict(with_demand(spec, [], "predictive", cards=predictive_cards).release.cards or {})}
    return PullComparison(pd.DataFrame(rows), frame, demand.to_json(), label, float(horizon), float(warmup),
                          replications, cards)


def _draws(demand: Demand, horizon: float, replications: int, seed: int) -> list[tuple[list[float], int]]:
    """Per replication: the demand times and the simulation seed (the same for every policy compared)."""
    out = []
    for child in np.random.SeedSequence(seed).spawn(replications):
        demand_seed, sim_seed = child.spawn(2)
        out.append((demand.times(float(horizon), demand_seed).tolist(), int(sim_seed.generate_state(1)[0])))
    return out


def pull_frontier(spec: LineSpec, demand: Demand, *, reactive_cards: Sequence[int],
                  predictive: Sequence[tuple[int, Any]], horizon: float, warmup: float = 0.0,
                  replications: int = 5, seed: int = 0) -> pd.DataFrame:
    """Service level against inventory for reactive kanban over ``reactive_cards`` and for predictive settings.

    A single pair of settings can favour either policy by its card counts; the fair comparison is the *trade-off
    curve*: which service level each policy reaches for a given inventory (WIP + finished stock). Every point runs
    on the same demand traces and simulation seeds (replication *r* is the same for all points, as in
    :func:`compare_pull`).

    Parameters
    ----------
    reactive_cards : list of int
        Cards per loop of the reactive points.
    predictive : list of (cards, forecaster)
        Cards per loop and forecaster (object, factory or name) of each predictive point.

    Returns
    -------
    DataFrame
        One row per point: ``policy``, ``cards``, ``forecaster``, ``label``, ``service_level`` (with ``_low`` /
        ``_high``), ``inventory`` (with ``_low``/``_high``), ``wip``, ``stock``, and ``reactive_at_inventory``:
        the service level of reactive kanban at the point's inventory, interpolated on the reactive curve (NaN
        outside it), so ``service_level - reactive_at_inventory`` > 0 means the point beats reactive kanban of the
        same inventory.

    Examples
    --------
    >>> from leanlearn.twin import LineSpec
    >>> from leanlearn.twin.forecast import HoltWinters, SafetyStock, poisson_demand
    >>> spec = LineSpec.from_dict({"line": "f", "time_unit": "h", "release": {"policy": "kanban", "cards": 1},
    ...     "stations": [{"name": "S1", "cycle": {"dist": "exponential", "mean": 0.5}}]})
    >>> front = pull_frontier(spec, poisson_demand(1.0), reactive_cards=[1, 2, 4],
    ...                       predictive=[(1, SafetyStock(HoltWinters(alpha=0.2), z=2.0))], horizon=200.0,
    ...                       replications=2)
    >>> front["policy"].tolist()
    ['reactive', 'reactive', 'reactive', 'predictive']
    """
    import pandas as pd

    from leanlearn.twin.simulation import simulate

    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
        raise PullError(f"replications must be a whole number >= 1, got {replications!r}")
    if not reactive_cards and not predictive:
        raise PullError("pull_frontier needs reactive_cards or predictive points")
    draws = _draws(demand, horizon, replications, seed)
    points: list[tuple[str, int, Callable[[], Forecaster] | None]] = [
        ("reactive", int(c), None) for c in reactive_cards]
    points += [("predictive", int(c), _factory(f)) for c, f in predictive]
    rows = []
    for policy, cards, make in points:
        runs = []
        for times, sim in draws:
            line = with_demand(spec, times, policy, cards=cards)
            result = simulate(line, horizon=horizon, warmup=warmup, replications=1, seed=sim,
                              forecaster=make() if make is not None else None)
            runs.append(result.replications[0].kpis)
        made = make() if make is not None else None
        z = getattr(made, "z", None)
        label = f"{cards} card{'s' if cards != 1 else ''}" + (f", z={z:g}" if isinstance(z, float) else "")
        row: dict[str, Any] = {"policy": policy, "cards": cards, "forecaster": repr(made) if made else "",
                               "label": label}
        for kpi in ("service_level", "inventory", "wip", "stock"):
            mean, low, high = paired_interval([float(k.get(kpi, math.nan)) for k in runs])
            row[kpi] = mean
            if kpi in ("service_level", "inventory"):
                row[f"{kpi}_low"], row[f"{kpi}_high"] = low, high
        rows.append(row)
    frame = pd.DataFrame(rows)
    curve = frame[frame["policy"] == "reactive"].sort_values("inventory")
    xs, ys = curve["inventory"].to_numpy(float), curve["service_level"].to_numpy(float)
    frame["reactive_at_inventory"] = [
        float(np.interp(x, xs, ys)) if len(xs) and xs[0] <= x <= xs[-1] else math.nan for x in frame["inventory"]]
    return frame


def plot_frontier(frame: pd.DataFrame, path: str | Path | None = None) -> Any:
    """Service level against inventory, one curve per policy, with 95 % intervals; saved if ``path`` is given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    for policy, colour in (("reactive", "#9aa5b1"), ("predictive", "#2b7bba")):
        part = frame[frame["policy"] == policy].sort_values("inventory")
        if part.empty:
            continue
        xerr = [part["inventory"] - part["inventory_low"], part["inventory_high"] - part["inventory"]]
        yerr = [part["service_level"] - part["service_level_low"], part["service_level_high"] - part["service_level"]]
        ax.errorbar(part["inventory"], part["service_level"], xerr=xerr, yerr=yerr, fmt="-o", color=colour,
                    capsize=2, label=policy)
        for _, row in part.iterrows():
            ax.annotate(row["label"], (row["inventory"], row["service_level"]), textcoords="offset points",
                        xytext=(4, -10), fontsize=7, color=colour)
    ax.set_xlabel("inventory (WIP + finished stock, jobs)")
    ax.set_ylabel("service level (fill rate)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
