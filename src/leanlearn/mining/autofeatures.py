"""Candidate derived features found automatically: products, ratios and differences of numeric column pairs.

Physics often hides in a combination of two measurements (power = torque × speed, a temperature difference, wear
× load). When the user declares no derived feature, the miner screens pairs of numeric columns — of the
``max_columns`` (default 25) columns whose own best threshold is strongest, so that a wide table costs
``max_columns²`` pairs, one candidate in memory at a time:

- ``a * b`` and ``a / b`` / ``b / a`` always (a product or ratio of two measured quantities has a unit, whatever
  theirs); ``a - b`` only when the two columns share a unit (declared, or written in the column name as
  ``name [unit]``) or either unit is unknown — never a length minus a temperature;
- each candidate's best one-sided threshold is compared with the best threshold of either parent column, by the
  log of the one-sided Fisher p-value; a candidate is kept only if it beats its better parent by more than a
  Bonferroni margin over all candidates (``log(alpha / n_candidates)``);
- a pair where either unit is unknown may combine anything (a coordinate times a brightness index), so it must
  earn its place by a wider margin (:func:`pair_penalty`): ``UNKNOWN_UNIT_FACTOR`` (1,000×) stronger evidence on
  top of the Bonferroni margin, *and* a log p at least ``UNKNOWN_UNIT_GAIN`` (25 %) beyond its better parent's —
  a combination that only re-cuts one strong column with noise from the other does not pass;
- at most one candidate per pair and ``max_features`` in all, the strongest first.

Every threshold evaluated here counts as a hypothesis in the miner's multiple-testing correction — in the layer of
the two-condition rules (:mod:`leanlearn.mining.layers`), where rules on a pair feature are judged — whenever at
least one pair feature is proposed (when none is, the screening decided nothing the miner reports).

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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from leanlearn.mining.features import SortedValues, best_threshold

_UNIT = re.compile(r"\[([^\[\]]+)\]\s*$")
# A pair with an unknown unit needs this much stronger evidence than the Bonferroni margin (a factor on p) ...
UNKNOWN_UNIT_FACTOR = 1e-3
# ... and its best cut's log p must exceed its better parent's by this share.
UNKNOWN_UNIT_GAIN = 0.25


def unit_of(column: str, units: Mapping[str, str] | None = None) -> str | None:
    """Declared unit of ``column``, else the ``[unit]`` at the end of its name, else None.

    >>> unit_of("Air temperature [K]"), unit_of("rpm"), unit_of("x", {"x": "mm"})
    ('K', None, 'mm')
    """
    if units and column in units:
        return units[column]
    match = _UNIT.search(column)
    return match.group(1).strip() if match else None


def pair_penalty(unit_a: str | None, unit_b: str | None) -> tuple[float, float]:
    """``(extra log margin, relative gain)`` a pair feature of columns with these units must beat its better parent
    by: ``(0, 0)`` when both units are known, else ``(log UNKNOWN_UNIT_FACTOR, UNKNOWN_UNIT_GAIN)``.

    >>> pair_penalty("Nm", "rpm")
    (0.0, 0.0)
    >>> margin, gain = pair_penalty(None, "mm"); round(margin, 2), gain
    (-6.91, 0.25)
    """
    if unit_a is not None and unit_b is not None:
        return 0.0, 0.0
    return math.log(UNKNOWN_UNIT_FACTOR), UNKNOWN_UNIT_GAIN


@dataclass
class Proposal:
    """Outcome of :func:`propose_features`."""

    features: dict[str, str] = field(default_factory=dict)  # name -> expression
    scores: dict[str, float] = field(default_factory=dict)  # name -> log p of its best single cut
    evaluated: int = 0  # thresholds evaluated (hypotheses), parents' and pairs'
    candidates: int = 0


def _best_score(
    values: np.ndarray, outcome: np.ndarray, positives: int, min_hits: int,
    tails: dict[tuple[int, int, int, int, bool], float] | None = None,
) -> tuple[float, int]:
    """Log p of the best one-sided cut either way, and the cuts evaluated (the column is sorted once for both;
    ``tails``: Fisher tails already summed, see :func:`~leanlearn.mining.features.best_threshold`)."""
    column = SortedValues.of(np.where(np.isfinite(values), values, np.nan))
    best, evaluated = 0.0, 0
    for op in ("<", ">="):
        found = best_threshold(column, outcome, None, op, "fisher", positives, min_hits, tails=tails)
        evaluated += found.evaluated
        if found.value is not None:
            best = min(best, found.score)
    return best, evaluated


def _pair_candidates(
    a: str, b: str, va: np.ndarray, vb: np.ndarray, units: Mapping[str, str] | None
) -> Iterator[tuple[str, str, np.ndarray]]:
    """``(name, expression, values)`` of the candidates of one column pair, computed one at a time."""
    with np.errstate(all="ignore"):
        yield f"{a} * {b}", f"`{a}` * `{b}`", va * vb
        yield f"{a} / {b}", f"`{a}` / `{b}`", va / vb
        yield f"{b} / {a}", f"`{b}` / `{a}`", vb / va
        ua, ub = unit_of(a, units), unit_of(b, units)
        if ua is None or ub is None or ua == ub:
            # write differences as positive (halves first: no overflow near the float maximum)
            first, second = (a, b) if np.nanmean(va / 2 - vb / 2) >= 0 else (b, a)
            values = va - vb if first == a else vb - va
            yield f"{first} - {second}", f"`{first}` - `{second}`", values


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
    """Screen products, ratios and differences of numeric column pairs; return the ones worth mining.

    Only the ``max_columns`` numeric columns with the strongest single-cut evidence are paired (screening before
    pairing: on a wide table the pairs stay ``max_columns²``, not ``columns²``), and each candidate's values are
    computed, scored and dropped in turn, so memory stays that of one column whatever the number of pairs.
    """
    outcome = np.asarray(outcome, dtype=bool)
    positives = int(outcome.sum())
    numeric = [
        str(c) for c in X.columns
        if pd.api.types.is_numeric_dtype(X[c].dtype) and not pd.api.types.is_bool_dtype(X[c].dtype)
        and not pd.api.types.is_complex_dtype(X[c].dtype) and X[c].nunique(dropna=True) > 2
    ]
    proposal = Proposal()
    if len(numeric) < 2 or positives == 0:
        return proposal
    parent: dict[str, float] = {}
    tails: dict[tuple[int, int, int, int, bool], float] = {}  # every column is cut against the same outcome
    for c in numeric:
        parent[c], evaluated = _best_score(X[c].to_numpy(dtype=float, na_value=np.nan), outcome, positives, min_hits,
                                           tails)
        proposal.evaluated += evaluated
    if len(numeric) > max_columns:
        strongest = sorted(numeric, key=lambda c: parent[c])[:max_columns]
        numeric = [c for c in numeric if c in set(strongest)]  # keep the table's column order
    arrays = {c: X[c].to_numpy(dtype=float, na_value=np.nan) for c in numeric}

    n_candidates = sum(
        4 if (unit_of(a, units) is None or unit_of(b, units) is None or unit_of(a, units) == unit_of(b, units)) else 3
        for a, b in combinations(numeric, 2)
    )
    proposal.candidates = n_candidates
    margin = math.log(alpha / max(n_candidates, 1))
    best_per_pair: dict[str, tuple[float, str, str]] = {}
    for a, b in combinations(numeric, 2):
        key = f"{a}|{b}"
        extra, gain = pair_penalty(unit_of(a, units), unit_of(b, units))
        better_parent = min(parent[a], parent[b])
        threshold = min(better_parent + margin + extra, better_parent * (1 + gain))
        for name, expr, values in _pair_candidates(a, b, arrays[a], arrays[b], units):
            if name in X.columns:
                continue
            score, evaluated = _best_score(values, outcome, positives, min_hits, tails)
            proposal.evaluated += evaluated
            if score < threshold and score < best_per_pair.get(key, (0.0, "", ""))[0]:
                best_per_pair[key] = (score, name, expr)
    for score, name, expr in sorted(best_per_pair.values())[:max_features]:
        proposal.features[name] = expr
        proposal.scores[name] = score
    return proposal
