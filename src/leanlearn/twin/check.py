"""Does the twin behave like the line? Simulated vs observed, per station and per order.

:func:`check_twin` simulates a spec (usually one :func:`leanlearn.twin.calibrate.calibrate` built) over the span of a
log and measures the twin's output tables with the very functions that measure the log
(:func:`leanlearn.twin.observed.observe`), so both sides mean the same thing. It compares

- per station: the median and p90 of the **cycle** (production minutes per visit), the **setup** and the **waiting**
  before the station, and the **utilization**; with the relative error of each and, for cycle and waiting, the
  two-sample Kolmogorov–Smirnov distance;
- per order: the **lead-time** distribution (first start to last end): KS distance, earth mover's distance (EMD,
  in hours) and a quantile table.

Each criterion passes or fails against a threshold: by default the median cycle and the median setup of every busy
station (``busy_min_visits`` observed visits; setups judged where the station had ``min_setups`` of them) within
10 %, and the lead-time KS distance at most 0.15.

Examples
--------
>>> result = check_twin("spec.yaml", "pipelines/production_4tu.yaml")  # doctest: +SKIP
>>> result.passed, round(result.lead["ks"], 3)  # doctest: +SKIP
(True, 0.09)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from leanlearn._util import json_plain
from leanlearn.errors import SchemaError
from leanlearn.twin.observed import Observed, load_tables, minutes, observe

if TYPE_CHECKING:
    from leanlearn.twin.spec import LineSpec

__all__ = ["QUANTILES", "TwinCheck", "check_twin", "median_interval"]

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
_HOURS_PER_UNIT = {"s": 1 / 3600, "min": 1 / 60, "h": 1.0, "d": 24.0}


@dataclass(frozen=True, slots=True)
class TwinCheck:
    """The comparison of a twin with its log.

    Attributes
    ----------
    stations : DataFrame
        One row per observed station: ``station, visits, busy`` and, for ``cycle``, ``setup``, ``wait``: the observed
        and simulated ``*_p50_min`` / ``*_p90_min`` (``obs_`` / ``sim_`` prefixes), ``*_p50_error`` (relative error
        of the median), ``sim_*_p50_low_min`` / ``sim_*_p50_high_min`` (a 95 % distribution-free interval of the
        simulated median from its draws: how far the twin's median moves by chance; wide where the observed times
        are sparse around their median, narrower with more replications), ``cycle_ks``, ``wait_ks``;
        ``obs_utilization``, ``sim_utilization``.
    lead : dict
        ``n_observed, n_simulated, ks, ks_pvalue, emd_h`` (EMD in hours), ``obs_p50_h, sim_p50_h``.
    quantiles : DataFrame
        Lead-time quantiles (hours): ``quantile, observed_h, simulated_h``.
    criteria : DataFrame
        One row per criterion: ``criterion, station, observed, simulated, error, threshold, passed``.
    settings : dict
        Replications, seed, horizon and thresholds of the check.
    """

    stations: pd.DataFrame = field(repr=False)
    lead: dict[str, float]
    quantiles: pd.DataFrame = field(repr=False)
    criteria: pd.DataFrame = field(repr=False)
    settings: dict[str, Any] = field(default_factory=dict)
    lead_observed_h: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    lead_simulated_h: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    @property
    def passed(self) -> bool:
        """Whether every criterion passed."""
        return bool(len(self.criteria)) and bool(self.criteria["passed"].all())

    def __repr__(self) -> str:
        failed = int((~self.criteria["passed"]).sum()) if len(self.criteria) else 0
        return (f"TwinCheck({'passed' if self.passed else 'failed'}: {len(self.criteria) - failed}/"
                f"{len(self.criteria)} criteria, lead-time KS {self.lead['ks']:.3f})")

    def to_json(self) -> dict[str, Any]:
        """The whole check as a JSON-ready document."""
        return json_plain({
            "passed": self.passed,
            "settings": self.settings,
            "lead_time": self.lead,
            "lead_time_quantiles": self.quantiles.to_dict("records"),
            "criteria": self.criteria.to_dict("records"),
            "stations": self.stations.to_dict("records"),
        })

    def plot(self, path: str | Path) -> Path:
        """Save a figure: ECDF of order lead time (observed vs simulated) and median cycle / setup per busy station."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        busy = self.stations[self.stations["busy"]]
        figure, axes = plt.subplots(1, 3, figsize=(16, 5), constrained_layout=True)
        ax = axes[0]
        for values, label in ((self.lead_observed_h, "observed"), (self.lead_simulated_h, "simulated")):
            if len(values):
                x = np.sort(values)
                ax.step(x, np.arange(1, len(x) + 1) / len(x), where="post", label=f"{label} (n={len(x)})")
        if len(self.lead_observed_h) and (self.lead_observed_h > 0).all():
            ax.set_xscale("log")
        ax.set_xlabel("order lead time (h)")
        ax.set_ylabel("share of orders")
        ax.set_title(f"Lead time: KS {self.lead['ks']:.3f}, EMD {self.lead['emd_h']:.3g} h")
        ax.legend()
        for ax, metric, title in ((axes[1], "cycle", "Median cycle per visit"), (axes[2], "setup", "Median setup")):
            rows = busy.dropna(subset=[f"obs_{metric}_p50_min"])
            y = np.arange(len(rows))
            ax.barh(y - 0.2, rows[f"obs_{metric}_p50_min"], height=0.4, label="observed")
            ax.barh(y + 0.2, rows[f"sim_{metric}_p50_min"].fillna(0), height=0.4, label="simulated")
            ax.set_yticks(y, rows["station"].tolist(), fontsize=7)
            ax.invert_yaxis()
            ax.set_xlabel("minutes")
            ax.set_title(title)
            ax.legend()
        target = Path(path)
        figure.savefig(target, dpi=110)
        plt.close(figure)
        return target


def _relative(observed: float, simulated: float) -> float:
    if not np.isfinite(observed) or not np.isfinite(simulated):
        return float("nan")
    if observed == 0:
        return 0.0 if simulated == 0 else float("inf")
    return abs(simulated - observed) / abs(observed)


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import ks_2samp

    return float(ks_2samp(a, b).statistic) if len(a) and len(b) else float("nan")


def _quantile(values: np.ndarray, q: float) -> float:
    return float(np.quantile(values, q)) if len(values) else float("nan")


def median_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Distribution-free interval of a median: the order statistics at ranks n/2 ± z·√n/2 (NaN when empty).

    >>> median_interval(np.arange(1.0, 101.0))
    (41.0, 61.0)
    """
    from scipy.stats import norm

    if not len(values):
        return float("nan"), float("nan")
    ordered = np.sort(values)
    half = norm.ppf(0.5 + level / 2) * np.sqrt(len(ordered)) / 2
    low = int(max(0, np.floor(len(ordered) / 2 - half)))
    high = int(min(len(ordered) - 1, np.ceil(len(ordered) / 2 + half)))
    return float(ordered[low]), float(ordered[high])


def _pooled(runs: list[Observed], getter: str, station: str) -> np.ndarray:
    parts = [getattr(run, getter)(station) for run in runs]
    return np.concatenate(parts) if parts else np.zeros(0)


def check_twin(spec: LineSpec | str | Path, source: Any, *, replications: int = 30, seed: int = 0,
               horizon: float | None = None, busy_min_visits: int = 30, min_setups: int = 10,
               tolerance: float = 0.10, ks_max: float = 0.15, qty: str | None = None) -> TwinCheck:
    """Simulate ``spec`` over the log's span and compare it with the log ``source``.

    Parameters
    ----------
    spec : LineSpec or path
        The twin (a spec file is read with :func:`leanlearn.twin.load_spec`).
    source : pipeline YAML path, FusionResult, mapping of tables or (operations, downtime)
        The observed log.
    replications : int, default=30
        Independent simulation runs pooled for the simulated side. A station's median from its ~50-100 visits a
        run moves by 10 % or more between seeds at 10 replications where its observed times are sparse around the
        median (see ``sim_*_p50_low_min`` / ``_high_min``); on the 4TU log 60 replications settle it.
    seed : int, default=0
        Seed of the simulation.
    horizon : float, optional
        Simulated time in the spec's unit (default: from the spec's ``start`` to the log's last timestamp for a
        trace release, else the log's span).
    busy_min_visits : int, default=30
        Observed visits a station needs to be judged (busy stations).
    min_setups : int, default=10
        Observed setups a busy station needs for its setup to be judged.
    tolerance : float, default=0.10
        Largest relative error of a median (cycle, setup) that passes.
    ks_max : float, default=0.15
        Largest lead-time KS distance that passes.
    qty : str, optional
        Quantity column of the log (default ``good_qty`` when present).
    """
    from leanlearn.twin.simulation import simulate
    from leanlearn.twin.spec import load_spec

    if isinstance(spec, str | Path):
        spec = load_spec(spec)
    for name, value in (("replications", replications), ("busy_min_visits", busy_min_visits),
                        ("min_setups", min_setups)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SchemaError(f"{name} must be a whole number of at least 1, got {value!r}")
    for name, number in (("tolerance", tolerance), ("ks_max", ks_max)):
        if isinstance(number, bool) or not isinstance(number, int | float) or not 0 < number <= 1:
            raise SchemaError(f"{name} must be a number in (0, 1], got {number!r}")
    operations, downtime = load_tables(source)
    if qty is None and "good_qty" in operations.columns:
        qty = "good_qty"
    seen = observe(operations, downtime, qty=qty)
    hours = _HOURS_PER_UNIT[spec.time_unit]
    if horizon is None:
        if spec.release.policy == "trace":
            start = pd.Timestamp(spec.start)
            start = start.tz_localize("UTC") if start.tzinfo is None else start
            horizon = float(minutes(seen.end - start)) / 60.0 / hours
        else:
            horizon = seen.span_min / 60.0 / hours
    if not horizon > 0:
        raise SchemaError(f"the simulated horizon must be positive, got {horizon!r} (does the spec's start lie after "
                          "the log's end?)")
    result = simulate(spec, horizon=horizon, replications=replications, seed=seed)
    names = seen.stations["station"].tolist()
    runs = [observe(run.operations, run.downtime, stations=names) for run in result.replications
            if len(run.operations)]
    if not runs:
        raise SchemaError("the twin produced no operations over the log's span; check the spec's release and start")

    sim_util: dict[str, list[float]] = {}
    for run in runs:
        for name, value in zip(run.stations["station"], run.stations["utilization"], strict=True):
            sim_util.setdefault(str(name), []).append(float(value))
    # the twin's span differs from the log's: utilization over the simulated horizon
    span_scale = [run.span_min / (horizon * hours * 60.0) for run in runs]
    rows = []
    for station in seen.stations.to_dict("records"):
        name = str(station["station"])
        row: dict[str, Any] = {"station": name, "visits": int(station["visits"]),
                               "busy": bool(station["visits"] >= busy_min_visits)}
        for metric, getter in (("cycle", "cycles"), ("setup", "setup_times"), ("wait", "waits")):
            obs = getattr(seen, getter)(name)
            sim = _pooled(runs, getter, name)
            row[f"obs_{metric}_n"] = len(obs)
            row[f"sim_{metric}_n"] = len(sim) / len(runs)
            for q, label in ((0.5, "p50"), (0.9, "p90")):
                row[f"obs_{metric}_{label}_min"] = _quantile(obs, q)
                row[f"sim_{metric}_{label}_min"] = _quantile(sim, q)
            row[f"{metric}_p50_error"] = _relative(row[f"obs_{metric}_p50_min"], row[f"sim_{metric}_p50_min"])
            # how far the twin's own median may move by chance (its draws, 95 %): a wide interval means the
            # observed times are sparse around the median, and more replications narrow it
            low, high = median_interval(sim)
            row[f"sim_{metric}_p50_low_min"], row[f"sim_{metric}_p50_high_min"] = low, high
            if metric != "setup":
                row[f"{metric}_ks"] = _ks(obs, sim)
        row["obs_utilization"] = float(station["utilization"])
        values = sim_util.get(name, [])
        row["sim_utilization"] = (float(np.mean([u * s for u, s in zip(values, span_scale, strict=False)]))
                                  if values else 0.0)
        rows.append(row)
    stations = pd.DataFrame(rows)

    observed_h = seen.lead_times() / 60.0
    simulated_h = np.concatenate([run.lead_times() for run in runs]) / 60.0
    from scipy.stats import ks_2samp, wasserstein_distance

    test = ks_2samp(observed_h, simulated_h)
    lead = {"n_observed": len(observed_h), "n_simulated": len(simulated_h) / len(runs),
            "ks": float(test.statistic), "ks_pvalue": float(test.pvalue),
            "emd_h": float(wasserstein_distance(observed_h, simulated_h)),
            "obs_p50_h": _quantile(observed_h, 0.5), "sim_p50_h": _quantile(simulated_h, 0.5),
            "obs_mean_h": float(observed_h.mean()), "sim_mean_h": float(simulated_h.mean())}
    quantiles = pd.DataFrame({"quantile": QUANTILES,
                              "observed_h": [_quantile(observed_h, q) for q in QUANTILES],
                              "simulated_h": [_quantile(simulated_h, q) for q in QUANTILES]})

    criteria = []
    for row in rows:
        if not row["busy"]:
            continue
        checks = [("median cycle", "cycle")]
        if row["obs_setup_n"] >= min_setups:
            checks.append(("median setup", "setup"))
        for label, metric in checks:
            error = row[f"{metric}_p50_error"]
            criteria.append({"criterion": label, "station": row["station"],
                             "observed": row[f"obs_{metric}_p50_min"], "simulated": row[f"sim_{metric}_p50_min"],
                             "error": error, "threshold": tolerance,
                             "passed": bool(np.isfinite(error) and error <= tolerance)})
    criteria.append({"criterion": "lead-time KS", "station": None, "observed": None, "simulated": None,
                     "error": lead["ks"], "threshold": ks_max, "passed": bool(lead["ks"] <= ks_max)})
    settings = {"replications": replications, "seed": seed, "horizon": horizon, "time_unit": spec.time_unit,
                "busy_min_visits": busy_min_visits, "min_setups": min_setups, "tolerance": tolerance,
                "ks_max": ks_max, "line": spec.line}
    return TwinCheck(stations=stations, lead=lead, quantiles=quantiles, criteria=pd.DataFrame(criteria),
                     settings=settings, lead_observed_h=observed_h, lead_simulated_h=simulated_h)
