"""What-if: simulate a grid of spec variants, keep the Pareto front, recommend one point with its interval.

``vary`` maps a key to the values it takes; the grid is every combination. Keys:

- ``wip``: the CONWIP level; ``kanban``: the cards of every loop; ``kanban.S1``: the cards of one loop;
- ``batch``: the lot size of every material; ``batch.A``: of one material;
- ``capacity`` / ``capacity.S1``, ``buffer`` / ``buffer.S1``, ``scrap.S1``: station settings (all or one);
- any other dotted path into the spec, e.g. ``release.arrivals.mean`` or ``stations.S2.cycle.mean``
  (``stations.<name>`` finds the station by name).

The table has one row per evaluated point: the varied keys, then per KPI its mean and ``_low`` / ``_high``
(95 % interval): ``throughput``, ``inventory``, ``avg_wip`` (the KPI ``wip``), ``lead_time_mean``,
``lead_time_p90``, ``service_level``; ``events``, ``pareto`` and ``meets_target``.

Every point runs the same replications with the same seeds (common random numbers: each purpose — arrivals,
each station's cycle times, ... — has its own stream), so differences between points are not noise between seeds.

**Front**: the points no other point beats on all of throughput (higher), inventory (WIP, plus finished stock
under kanban; lower) and mean lead time (lower). **Recommendation** with ``target_throughput``: the point of least
inventory whose *mean* throughput meets the target (ties: the higher throughput); the reason says whether the
lower end of its 95 % interval meets the target too. With ``target_service_level`` (kanban with demand) the point
must meet that as well. Without targets: the least-inventory point within 2 % of the best throughput.

**Search**: when the grid has more than ``max_grid`` points and one varied key is a level (``wip``, ``kanban``,
``kanban.*``, ``capacity*``) and a throughput target is given, each combination of the other keys is searched by
bisection on the level (throughput rises with it), evaluating O(log n) levels instead of n.

Examples
--------
>>> from leanlearn.twin.spec import LineSpec
>>> spec = LineSpec.from_dict({"line": "cw", "release": {"policy": "conwip", "wip": 1},
...     "stations": [{"name": f"S{i}", "cycle": 1.0} for i in (1, 2)]})
>>> result = whatif(spec, {"wip": [1, 2, 3]}, target_throughput=0.9, horizon=50.5, warmup=10.5)
>>> result.table[["wip", "throughput", "inventory"]].round(2).to_dict("list")
{'wip': [1, 2, 3], 'throughput': [0.5, 1.0, 1.0], 'inventory': [1.0, 2.0, 3.0]}
>>> result.recommendation["point"]
{'wip': 2}
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from leanlearn.twin.spec import LineSpec, SpecError

__all__ = ["MAX_POINTS", "WhatIfResult", "apply_vary", "parse_vary", "whatif"]

#: Most grid points one what-if may hold (each is ``replications`` simulations).
MAX_POINTS = 10_000
KPIS = ("throughput", "inventory", "wip", "lead_time_mean", "lead_time_p90", "service_level")
#: KPI → its column in the table (the KPI ``wip`` would clash with the CONWIP key ``wip``).
_COLUMN = {"wip": "avg_wip"}
_LEVELS = re.compile(r"^(wip|kanban(\.[^.]+)?|capacity(\.[^.]+)?)$")
_RANGE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*\.\.\s*(-?\d+(?:\.\d+)?)\s*(?::\s*(\d+(?:\.\d+)?))?\s*$")


def _num(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def parse_vary(text: str) -> tuple[str, list[int | float]]:
    """``"kanban=1..12"`` (a range, optional step ``1..12:2``) or ``"batch=1,5,10"`` (a list) → key and values.

    >>> parse_vary("kanban=1..4"), parse_vary("batch=1,5,10"), parse_vary("wip=2..8:3")
    (('kanban', [1, 2, 3, 4]), ('batch', [1, 5, 10]), ('wip', [2, 5, 8]))
    >>> parse_vary("kanban")
    Traceback (most recent call last):
    ...
    leanlearn.twin.spec.SpecError: --vary 'kanban': write KEY=VALUES, e.g. kanban=1..12 or batch=1,5,10
    """
    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep or not key or not values.strip():
        raise SpecError(f"--vary {text!r}: write KEY=VALUES, e.g. kanban=1..12 or batch=1,5,10")
    match = _RANGE.match(values)
    if match:
        low, high = _num(match.group(1)), _num(match.group(2))
        step = _num(match.group(3)) if match.group(3) else 1
        if high < low or not step > 0:
            raise SpecError(f"--vary {text!r}: a range LOW..HIGH needs LOW <= HIGH and a positive step")
        count = int(math.floor((high - low) / step + 1e-9)) + 1
        if count > MAX_POINTS:
            raise SpecError(f"--vary {text!r}: {count:,} values, over the limit of {MAX_POINTS:,}")
        out = [low + i * step for i in range(count)]
        return key, [int(v) if float(v).is_integer() else float(v) for v in out]
    items = []
    for part in values.split(","):
        part = part.strip()
        try:
            items.append(_num(part))
        except ValueError:
            raise SpecError(f"--vary {text!r}: {part!r} is not a number; write e.g. {key}=1,5,10 or "
                            f"{key}=1..12") from None
    return key, items


def _set(doc: dict[str, Any], path: list[str], value: Any, where: str) -> None:
    node: Any = doc
    for i, part in enumerate(path[:-1]):
        if isinstance(node, list):
            matches = [item for item in node if isinstance(item, dict) and item.get("name") == part]
            if not matches:
                raise SpecError(f"--vary {where}: no station {part!r} at {'.'.join(path[:i + 1])}")
            node = matches[0]
        elif isinstance(node, dict):
            if i == len(path) - 2 and isinstance(node.get(part), (int, float)) and path[-1] in ("mean", "value"):
                node[part] = value  # a deterministic time written as a number: its mean is the number
                return
            if part not in node:
                node[part] = {}
            if not isinstance(node[part], (dict, list)):
                raise SpecError(f"--vary {where}: {'.'.join(path[:i + 1])} is a value, not a section")
            node = node[part]
        else:
            raise SpecError(f"--vary {where}: cannot follow the path {'.'.join(path)}")
    if not isinstance(node, dict):
        raise SpecError(f"--vary {where}: cannot set {'.'.join(path)}")
    node[path[-1]] = value


def apply_vary(spec: LineSpec, key: str, value: Any) -> LineSpec:
    """``spec`` with ``key`` set to ``value`` (validated again; errors name ``--vary key=value``).

    >>> spec = LineSpec.from_dict({"line": "k", "release": {"policy": "kanban", "cards": {"S1": 1, "S2": 1}},
    ...                            "stations": [{"name": "S1", "cycle": 1}, {"name": "S2", "cycle": 1}]})
    >>> apply_vary(spec, "kanban.S2", 4).release.cards
    {'S1': 1, 'S2': 4}
    >>> apply_vary(spec, "wip", 3)
    Traceback (most recent call last):
    ...
    leanlearn.twin.spec.SpecError: --vary wip=3: wip is the CONWIP level; this spec's release policy is kanban
    """
    doc = spec.to_dict()
    where = f"{key}={value}"
    head, _, tail = key.partition(".")
    stations = doc["stations"]

    def station_items() -> list[dict[str, Any]]:
        if not tail:
            return list(stations)
        found = [s for s in stations if s["name"] == tail]
        if not found:
            raise SpecError(f"--vary {where}: no station {tail!r}; stations: {', '.join(spec.station_names)}")
        return found

    if key == "wip":
        if spec.release.policy != "conwip":
            raise SpecError(f"--vary {where}: wip is the CONWIP level; this spec's release policy is "
                            f"{spec.release.policy}")
        doc["release"]["wip"] = value
    elif head == "kanban":
        if spec.release.policy != "kanban":
            raise SpecError(f"--vary {where}: kanban sets cards; this spec's release policy is "
                            f"{spec.release.policy}")
        cards = doc["release"]["cards"]
        if tail and tail not in cards:
            raise SpecError(f"--vary {where}: no kanban loop {tail!r}; loops: {', '.join(cards)}")
        for name in ([tail] if tail else list(cards)):
            cards[name] = value
    elif head == "batch":
        materials = doc.setdefault("materials", {"default": {"share": 1.0}})
        if tail and tail not in materials:
            raise SpecError(f"--vary {where}: no material {tail!r}; materials: {', '.join(materials)}")
        for name in ([tail] if tail else list(materials)):
            materials[name]["batch"] = value
    elif head in ("capacity", "buffer", "scrap") and "." not in tail:
        for item in station_items():
            item[head] = value
    else:
        _set(doc, key.split("."), value, where)
    return LineSpec.from_dict(doc, source=f"--vary {where}")


@dataclass(frozen=True, slots=True)
class WhatIfResult:
    """The evaluated points, the front, and the recommendation."""

    table: pd.DataFrame
    pareto: pd.DataFrame
    recommendation: dict[str, Any]
    keys: tuple[str, ...]
    search: str
    target_throughput: float | None = None
    time_unit: str = "h"
    settings: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain data (NaN as null)."""
        def clean(records: list[dict[Any, Any]]) -> list[dict[str, Any]]:
            return [{k: _plain(v) for k, v in r.items()} for r in records]

        return {"vary": list(self.keys), "search": self.search, "target_throughput": self.target_throughput,
                "time_unit": self.time_unit, "settings": self.settings,
                "points": clean(self.table.to_dict("records")), "pareto": clean(self.pareto.to_dict("records")),
                "recommendation": _plain(self.recommendation)}

    def plot(self, path: str | Path) -> Path:
        """Throughput vs inventory of every point, the front as a line, the recommendation and target marked."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7, 4.5))  # the Agg canvas directly: no pyplot, no change to a notebook's backend
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        t = self.table
        ax.errorbar(t["inventory"], t["throughput"],
                    yerr=[(t["throughput"] - t["throughput_low"]).fillna(0).clip(lower=0),
                          (t["throughput_high"] - t["throughput"]).fillna(0).clip(lower=0)],
                    fmt="o", color="0.6", ms=4, label="points (95 % interval)")
        front = self.pareto.sort_values("inventory")
        ax.plot(front["inventory"], front["throughput"], "-o", color="C0", label="Pareto front")
        if self.target_throughput is not None:
            ax.axhline(self.target_throughput, color="C3", ls="--", lw=1, label="target throughput")
        chosen = self.recommendation.get("kpis")
        if chosen:
            ax.plot([chosen["inventory"]["mean"]], [chosen["throughput"]["mean"]], "*", color="C3", ms=14,
                    label="recommended")
        ax.set_xlabel("inventory (jobs: WIP + finished stock)")
        ax.set_ylabel(f"throughput (jobs / {self.time_unit})")
        ax.set_title("what-if: throughput vs inventory")
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        out = Path(path)
        fig.savefig(out, dpi=110)
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _pareto(table: pd.DataFrame) -> pd.Series:
    """True for rows no other row dominates (throughput ↑, inventory ↓, lead time ↓; NaN lead time ignored)."""
    th = table["throughput"].to_numpy()
    inv = table["inventory"].to_numpy()
    lt = table["lead_time_mean"].fillna(math.inf).to_numpy()
    keep = []
    for i in range(len(table)):
        dominated = ((th >= th[i]) & (inv <= inv[i]) & (lt <= lt[i])
                     & ((th > th[i]) | (inv < inv[i]) | (lt < lt[i]))).any()
        keep.append(not dominated)
    return pd.Series(keep, index=table.index)


def whatif(spec: LineSpec, vary: Mapping[str, Sequence[Any]], *, target_throughput: float | None = None,
           target_service_level: float | None = None, horizon: float, warmup: float = 0.0, replications: int = 1,
           seed: int = 0, search: str = "auto", max_grid: int = 50, progress: bool = False,
           on_point: Callable[[dict[str, Any]], None] | None = None) -> WhatIfResult:
    """Simulate the grid of ``vary`` (or bisect a level; see the module docstring) and recommend a point.

    Parameters
    ----------
    spec : LineSpec
    vary : mapping of key → values
    target_throughput : float, optional
        Jobs per time unit the recommendation must reach (its mean; the interval is reported).
    target_service_level : float, optional
        Share of demand served from stock at once the recommendation must reach (kanban with demand).
    horizon, warmup, replications, seed
        As :func:`leanlearn.twin.simulation`; the same for every point (common random numbers).
    search : {"auto", "grid", "bisect"}, default="auto"
        ``auto`` bisects when the grid has more than ``max_grid`` points and bisection applies.
    """
    from leanlearn.twin.simulation import simulate

    if not vary:
        raise SpecError("whatif needs at least one --vary KEY=VALUES, e.g. --vary wip=1..12")
    keys = tuple(vary)
    values = {k: list(v) for k, v in vary.items()}
    for k, v in values.items():
        if not v:
            raise SpecError(f"--vary {k}: no values")
    size = math.prod(len(v) for v in values.values())
    if size > MAX_POINTS:
        raise SpecError(f"the grid has {size:,} points, over the limit of {MAX_POINTS:,}; vary fewer values")
    if search not in ("auto", "grid", "bisect"):
        raise SpecError(f"search is {search!r}; choose one of auto, grid, bisect")
    if target_throughput is not None and not target_throughput > 0:
        raise SpecError(f"--target-throughput must be a positive number of jobs per {spec.time_unit}, "
                        f"got {target_throughput!r}")
    level = next((k for k in keys if _LEVELS.match(k)), None)
    can_bisect = level is not None and target_throughput is not None
    if search == "bisect" and not can_bisect:
        raise SpecError("search=bisect needs a level key (wip, kanban, capacity) in --vary and a "
                        "--target-throughput")
    use_bisect = search == "bisect" or (search == "auto" and can_bisect and size > max_grid)
    cache: dict[tuple[Any, ...], dict[str, Any]] = {}
    for key in keys:  # fail early on a key the spec cannot take
        apply_vary(spec, key, values[key][0])

    def evaluate(point: dict[str, Any]) -> dict[str, Any]:
        ident = tuple(point[k] for k in keys)
        if ident in cache:
            return cache[ident]
        variant = spec
        for k in keys:
            variant = apply_vary(variant, k, point[k])
        result = simulate(variant, horizon, warmup, replications, seed)
        row: dict[str, Any] = dict(point)
        for kpi in KPIS:
            if kpi in result.summary.index:
                mean, low, high = result.kpi(kpi)
            else:
                mean = low = high = math.nan
            name = _COLUMN.get(kpi, kpi)
            row[name], row[f"{name}_low"], row[f"{name}_high"] = mean, low, high
        row["events"] = result.events
        cache[ident] = row
        if on_point is not None:
            on_point(row)
        return row

    def meets(row: Mapping[Any, Any]) -> bool:
        ok = target_throughput is None or row["throughput"] >= target_throughput
        if target_service_level is not None:
            ok = ok and not math.isnan(row["service_level"]) and row["service_level"] >= target_service_level
        return bool(ok)

    others = [k for k in keys if k != level] if use_bisect else list(keys)
    combos = list(itertools.product(*(values[k] for k in others)))
    if use_bisect:
        assert level is not None
        ladder = sorted(values[level])
        for combo in combos:
            base = dict(zip(others, combo, strict=True))

            def at(i: int, base: dict[str, Any] = base) -> dict[str, Any]:
                return evaluate({**base, level: ladder[i]})

            lo, hi = 0, len(ladder) - 1
            if not meets(at(hi)) or meets(at(lo)):
                continue
            while hi - lo > 1:  # invariant: ladder[lo] fails, ladder[hi] meets
                mid = (lo + hi) // 2
                if meets(at(mid)):
                    hi = mid
                else:
                    lo = mid
    else:
        for combo in combos:
            evaluate(dict(zip(keys, combo, strict=True)))
    rows = list(cache.values())
    table = pd.DataFrame(rows)
    table = table.sort_values(list(keys), kind="stable").reset_index(drop=True)
    table["pareto"] = _pareto(table)
    table["meets_target"] = [meets(r) for r in table.to_dict("records")]
    pareto = table[table["pareto"]].sort_values("inventory", kind="stable").reset_index(drop=True)
    recommendation = _recommend(table, keys, target_throughput, target_service_level, spec.time_unit)
    settings = {"horizon": horizon, "warmup": warmup, "replications": replications, "seed": seed,
                "grid_points": size, "evaluated": len(table)}
    return WhatIfResult(table, pareto, recommendation, keys, "bisect" if use_bisect else "grid",
                        target_throughput, spec.time_unit, settings)


def _interval(row: Any, kpi: str) -> dict[str, Any]:
    return {"mean": row[kpi], "low": row[f"{kpi}_low"], "high": row[f"{kpi}_high"]}


def _recommend(table: pd.DataFrame, keys: tuple[str, ...], target: float | None, service: float | None,
               unit: str) -> dict[str, Any]:
    if target is None and service is None:
        best = table["throughput"].max()
        pool = table[table["throughput"] >= 0.98 * best]
        why = (f"no target given: the least inventory within 2 % of the best throughput ({best:.4g} jobs/{unit})")
    else:
        pool = table[table["meets_target"]]
        if pool.empty:
            best = table.sort_values("throughput", ascending=False).iloc[0]
            return {"point": {k: _plain(best[k]) for k in keys}, "kpis": _kpis(best), "meets_target": False,
                    "reason": f"no point meets the target; the highest throughput is {best['throughput']:.4g} "
                              f"jobs/{unit} — widen the --vary ranges"}
        why = ""
    chosen = pool.sort_values(["inventory", "throughput"], ascending=[True, False], kind="stable").iloc[0]
    if not why:
        parts = []
        if target is not None:
            low = chosen["throughput_low"]
            sure = ("its whole 95 % interval is above the target" if not math.isnan(low) and low >= target else
                    "the lower end of its 95 % interval is below the target: more replications would settle it"
                    if not math.isnan(low) else "one replication: no interval")
            parts.append(f"least inventory whose mean throughput {chosen['throughput']:.4g} "
                         f"[{low:.4g}, {chosen['throughput_high']:.4g}] meets the target {target:g} jobs/{unit}; "
                         f"{sure}")
        if service is not None:
            parts.append(f"service level {chosen['service_level']:.3g} >= {service:g}")
        why = "; ".join(parts)
    return {"point": {k: _plain(chosen[k]) for k in keys}, "kpis": _kpis(chosen), "meets_target": True,
            "reason": why}


def _kpis(row: Any) -> dict[str, Any]:
    return {k: {kk: _plain(vv) for kk, vv in _interval(row, _COLUMN.get(k, k)).items()} for k in KPIS}
