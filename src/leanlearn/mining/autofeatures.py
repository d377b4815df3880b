"""Candidate derived features found automatically: products, ratios and differences of numeric column pairs.

Physics often hides in a combination of two measurements (power = torque × speed, a temperature difference, wear
× load). When the user declares no derived feature, the miner screens every pair of numeric columns:

- ``a * b`` and ``a / b`` / ``b / a`` always; ``a - b`` only when the two columns share a unit (declared, or
  written in the column name as ``name [unit]``) or either unit is unknown;
- each candidate's best one-sided threshold is compared with the best threshold of either parent column, by the
  log of the one-sided Fisher p-value; a candidate is kept only if it beats its better parent by more than a
  Bonferroni margin over all candidates (``log(alpha / n_candidates)``);
- at most one candidate per pair and ``max_features`` in all, the strongest first.

Every threshold evaluated here counts as a hypothesis in the miner's multiple-testing correction.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"torque [Nm]": rng.uniform(10, 70, 3000), "speed [rpm]": rng.uniform(1200, 2800, 3000)})
>>> y = (X["torque [Nm]"] * X["speed [rpm]"] > 120_000).to_numpy()
>>> found = propose_features(X, y)
>>> found.features
{'torque [Nm] * speed [rpm]': '`torque [Nm]` * `speed [rpm]`'}
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from leanlearn.mining.features import best_threshold

_UNIT = re.compile(r"\[([^\[\]]+)\]\s*$")


def unit_of(column: str, units: Mapping[str, str] | None = None) -> str | None:
    """Declared unit of ``column``, else the ``[unit]`` at the end of its name, else None.

    >>> unit_of("Air temperature [K]"), unit_of("rpm"), unit_of("x", {"x": "mm"})
    ('K', None, 'mm')
    """
    if units and column in units:
        return units[column]
    match = _UNIT.search(column)
    return match.group(1).strip() if match else None


@dataclass
class Proposal:
    """Outcome of :func:`propose_features`."""

    features: dict[str, str] = field(default_factory=dict)  # name -> expression
    scores: dict[str, float] = field(default_factory=dict)  # name -> log p of its best single cut
    evaluated: int = 0  # thresholds evaluated (hypotheses)
    candidates: int = 0


def _best_score(values: np.ndarray, outcome: np.ndarray, positives: int, min_hits: int) -> tuple[float, int]:
    values = np.where(np.isfinite(values), values, np.nan)
    best, evaluated = 0.0, 0
    for op in ("<", ">="):
        found = best_threshold(values, outcome, None, op, "fisher", positives, min_hits)
        evaluated += found.evaluated
        if found.value is not None:
            best = min(best, found.score)
    return best, evaluated


def propose_features(
    X: pd.DataFrame,
    outcome: np.ndarray,
    *,
    units: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    max_features: int = 4,
    max_columns: int = 25,
    min_hits: int = 5,
) -> Proposal:
    """Screen products, ratios and differences of numeric column pairs; return the ones worth mining."""
    outcome = np.asarray(outcome, dtype=bool)
    positives = int(outcome.sum())
    numeric = [
        str(c) for c in X.columns
        if pd.api.types.is_numeric_dtype(X[c].dtype) and not pd.api.types.is_bool_dtype(X[c].dtype)
        and X[c].nunique(dropna=True) > 2
    ][:max_columns]
    proposal = Proposal()
    if len(numeric) < 2 or positives == 0:
        return proposal
    arrays = {c: X[c].to_numpy(dtype=float, na_value=np.nan) for c in numeric}
    parent = {}
    for c in numeric:
        parent[c], evaluated = _best_score(arrays[c], outcome, positives, min_hits)
        proposal.evaluated += evaluated

    candidates: list[tuple[str, str, str, np.ndarray]] = []  # (pair key, name, expression, values)
    with np.errstate(all="ignore"):
        for a, b in combinations(numeric, 2):
            key = f"{a}|{b}"
            va, vb = arrays[a], arrays[b]
            candidates.append((key, f"{a} * {b}", f"`{a}` * `{b}`", va * vb))
            candidates.append((key, f"{a} / {b}", f"`{a}` / `{b}`", va / vb))
            candidates.append((key, f"{b} / {a}", f"`{b}` / `{a}`", vb / va))
            ua, ub = unit_of(a, units), unit_of(b, units)
            if ua is None or ub is None or ua == ub:
                first, second = (a, b) if np.nanmean(va - vb) >= 0 else (b, a)  # write differences as positive
                values = arrays[first] - arrays[second]
                candidates.append((key, f"{first} - {second}", f"`{first}` - `{second}`", values))
    proposal.candidates = len(candidates)
    margin = math.log(alpha / max(len(candidates), 1))
    best_per_pair: dict[str, tuple[float, str, str]] = {}
    for key, name, expr, values in candidates:
        if name in X.columns:
            continue
        score, evaluated = _best_score(values, outcome, positives, min_hits)
        proposal.evaluated += evaluated
        a, b = key.split("|")
        if score < min(parent[a], parent[b]) + margin and score < best_per_pair.get(key, (0.0, "", ""))[0]:
            best_per_pair[key] = (score, name, expr)
    for score, name, expr in sorted(best_per_pair.values())[:max_features]:
        proposal.features[name] = expr
        proposal.scores[name] = score
    return proposal
